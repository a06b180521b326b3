"""``python -m pipeline.cli ARGS``: the ``storyline`` command."""

from pipeline.cli.main import main

raise SystemExit(main())
