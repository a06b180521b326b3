"""The store: DuckDB as the record of truth, and every line of SQL Storyline runs.

``db`` is the ``Store``: a connection (``connection``: locking, schema, transactions) with the runs
(``runs``), the reads of clustering (``candidates``) and the writes of a batch (``writes``); ``keys``
is how terms and ids are keyed. Beside it, functions taking a ``Store`` serve one stage or command
each: ``alerts`` (rules and delivery), ``fetchstate`` (live sources), ``reports`` (the story page, the
CLI's listings, run events, evaluation), ``usersql`` (``storyline sql``). ``schema`` is the DDL and
the analyst views; ``search`` the full-text index; ``export`` the table export; ``integrity`` the
invariants a reader can check; ``readcopy`` the analysts' copy of the file (the ``snapshot``
setting); ``lake`` the DuckLake the store is published to. No module outside this package runs
SQL, and the store imports only the models, errors, settings and words, never a pipeline stage
(``tests/test_import_structure.py``).
The stages decide (the canonical member: ``pipeline.cluster.canonical``); the store writes.
"""

from pipeline.store.db import Store
from pipeline.store.keys import stored_vector, term_key

__all__ = ["Store", "stored_vector", "term_key"]
