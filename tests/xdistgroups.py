"""Which tests must share a pytest-xdist worker, and the scheduler that keeps them together.

A fixture a test module shares between its tests (module scope, or a session/class/package-scoped one
defined in the module, like the quality gate's scores or the lake tests' databases) is built once per
worker that runs one of them. So all the tests of such a module form one group, handed to one worker:
the fixture is built once per run. Tests marked ``xdist_group(name)`` form the group ``name``. Every
other test is its own unit, handed to whichever worker is free.

xdist's own ``--dist=loadgroup`` passes groups from the workers to the controller by appending
``@group`` to node ids, which pytest 9.2 no longer lets a plugin do (pytest-xdist#1386: the tests
are then spread as if ungrouped, silently). Here each worker writes its groups to a file in a folder
the controller names (``workerinput``) once its collection is final, before it reports it; the
controller's scheduler reads it when it schedules, which is after every worker reported.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from xdist.scheduler import LoadScopeScheduling


def groups_of(items: list[pytest.Item]) -> dict[str, str]:
    """node id -> group, for the tests that must run on one worker with others."""
    groups = {}
    for item in items:
        marks = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                        for m in item.iter_markers("xdist_group")})  # fmt: skip
        if marks:
            groups[item.nodeid] = "_".join(marks)
            continue
        module = getattr(item, "module", None)
        fixtures = getattr(item, "_fixtureinfo", None)
        if module is None or fixtures is None:
            continue
        if any(
            d.scope != "function" and getattr(d.func, "__module__", None) == module.__name__
            for defs in fixtures.name2fixturedefs.values()
            for d in defs
        ):
            groups[item.nodeid] = module.__name__
    return groups


def write_groups(folder: Path, worker: str, groups: dict[str, str]) -> None:
    """Write this worker's groups (renamed into place: the controller never reads half a file)."""
    scratch = folder / f".{worker}.json"
    scratch.write_text(json.dumps(groups), encoding="utf-8")
    os.replace(scratch, folder / f"{worker}.json")


class GroupScheduling(LoadScopeScheduling):
    """Load scheduling with the groups the workers wrote: a group is one unit, any other test its own unit.

    Units are handed out in collection order (``--no-loadscope-reorder``), which the workers sort.
    """

    def __init__(self, config: pytest.Config, log, folder: Path) -> None:
        super().__init__(config, log)
        self._folder = folder
        self._groups: dict[str, str] | None = None

    def _split_scope(self, nodeid: str) -> str:
        if self._groups is None:
            written = sorted(self._folder.glob("gw*.json"))
            assert written, f"no worker wrote its test groups to {self._folder}"
            self._groups = json.loads(written[0].read_text(encoding="utf-8"))  # all workers collect the same
        group = self._groups.get(nodeid)
        return f"group:{group}" if group is not None else nodeid
