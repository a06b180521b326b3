"""Run: one ingest run, batch by batch. Batch preparation on worker processes, clustering and writing
in the single writer, live sources, the per-source counts.
"""
