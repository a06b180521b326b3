"""The ``storyline`` command line: the top of the package, above the library and the flows.

``main`` parses the arguments and runs a command (``pipeline.cli.main``); its helpers: ``common``
(console output shared by the commands), ``live`` (feeds, sitemaps, URL lists, ``serve``), ``sql``
(``storyline sql``'s output formats) and ``lake`` (``publish`` and the ``--lake`` option). It is the one
part of ``pipeline`` that may import the Prefect flows (``flows/``), which sit between it and the library.
"""

from pipeline.cli.main import main

__all__ = ["main"]
