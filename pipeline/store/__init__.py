"""The store: DuckDB as the record of truth, and every line of SQL Storyline runs.

``db`` opens the database (locking, schema, runs) and reads and writes what clustering decided;
``schema`` is the DDL and the analyst views; ``search`` the full-text index; ``export`` the table
export; ``integrity`` the invariants a reader can check; ``snapshot`` the analysts' copy of the file;
``lake`` the DuckLake the store is published to. No module outside this package runs SQL
(``tests/test_import_structure.py`` checks it); the store imports only the models, errors and settings,
never a pipeline stage.
"""

from pipeline.store.db import Store, stored_vector, term_key

__all__ = ["Store", "stored_vector", "term_key"]
