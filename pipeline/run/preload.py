"""Imported once by the forkserver that preparation workers fork from (see ``parallel``).

Everything a worker needs is imported and warmed up here, once per parent process, instead of in
every worker of every run: the library, trafilatura and its lazy set-up (one small extraction), and
py3langid's model (loaded on its first use).
"""

from __future__ import annotations

from pipeline.extract.article import warm_up

from . import parallel  # noqa: F401  (the workers' entry points, and through them the library)

warm_up()
