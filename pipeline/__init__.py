"""Storyline: streaming news ingestion and deduplication, one record per story.

The pipeline in data-flow order, a package per stage: ``sources`` -> ``extract`` -> ``fingerprint`` ->
``cluster`` -> ``store`` -> ``alerts`` (rules fired with each batch; ``alerts.notify`` delivers them after
the run); ``run`` runs them batch by batch. Below the command line this package never imports Prefect:
the flows in ``flows/`` are thin wrappers around ``prepare_batch`` and ``store_batch``.
"""

from pipeline.errors import (
    ConfigError,
    DeliveryError,
    NothingIngestedError,
    ParameterMismatchError,
    StoreBusyError,
    StoreError,
    StorylineError,
)
from pipeline.extract.article import extract
from pipeline.models import Article, Assignment, Fingerprint, IngestReport, RawDocument, Rejection
from pipeline.run.ingest import ingest_paths, store_batch
from pipeline.run.prepare import prepare_batch
from pipeline.settings import Settings
from pipeline.sources.files import read_paths
from pipeline.store import Store

__all__ = [
    "Article",
    "Assignment",
    "ConfigError",
    "DeliveryError",
    "Fingerprint",
    "IngestReport",
    "NothingIngestedError",
    "ParameterMismatchError",
    "RawDocument",
    "Rejection",
    "Settings",
    "Store",
    "StoreBusyError",
    "StoreError",
    "StorylineError",
    "extract",
    "ingest_paths",
    "prepare_batch",
    "read_paths",
    "store_batch",
]
