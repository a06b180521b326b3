"""Alerts: rules evaluated on each batch inside its transaction, and their delivery after the run."""
