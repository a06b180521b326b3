"""The DuckLake the store is published to: ``publish`` (copying what changed), ``upkeep`` (compaction and
the agreement check with the database) and ``search`` (a local replica of the lake, indexed for search)."""
