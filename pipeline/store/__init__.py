"""The store: DuckDB as the record of truth, and every line of SQL Storyline runs.

``db`` is the ``Store``: a connection (``connection``: locking, schema, transactions) with the runs
(``runs``), the reads of clustering (``candidates``) and the writes of a batch (``writes``);
``schema`` is the DDL and the analyst views; ``search`` the full-text index; ``export`` the table
export; ``integrity`` the invariants a reader can check; ``snapshot`` the analysts' copy of the file;
``lake`` the DuckLake the store is published to. No module outside this package runs SQL
(``tests/test_import_structure.py`` checks it); the store imports only the models, errors and settings,
never a pipeline stage.
"""

from pipeline.store.db import Store
from pipeline.store.keys import stored_vector, term_key

__all__ = ["Store", "stored_vector", "term_key"]
