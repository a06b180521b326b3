"""Imported once by the forkserver that preparation workers fork from (see ``parallel``).

Everything a worker needs is imported and warmed up here, once per parent process, instead of in
every worker of every run: the library, trafilatura and its lazy set-up (one small extraction),
py3langid's model (loaded on its first use) and wordfreq's tokeniser and language data.
"""

from __future__ import annotations

from pipeline.extract.article import warm_up as warm_up_extraction
from pipeline.fingerprint.fingerprints import warm_up as warm_up_fingerprints

from . import parallel  # noqa: F401  (the workers' entry points, and through them the library)

warm_up_extraction()
warm_up_fingerprints()
