"""The library's import graph: no cycles (deferred and type-only imports included), the library
below the CLI never imports Prefect or the flows built on it, and storage is a boundary: no module
outside ``pipeline/store/`` runs SQL, and the store imports no pipeline stage.

Read from the source with ``ast``, so an import inside a function (a cycle hidden from Python's
import machinery) counts like any other.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
from pathlib import Path

from conftest import ROOT

PACKAGES = ("pipeline", "flows")
# The command line sits above the flows (it can run an ingest as a Prefect flow, and `serve`): it is the
# one part of the package allowed to import them.
CLI = "pipeline.cli"
STORE = "pipeline.store"
# What the store may import of the library: the records it reads and writes, errors, settings, and
# word-level helpers. Never a stage (sources, extract, fingerprint, cluster, alerts, run, storypage).
STORE_MAY_IMPORT = ("pipeline.store", "pipeline.models", "pipeline.errors", "pipeline.settings", "pipeline.words")
# Calls that run SQL on a DuckDB connection or cursor, and the store's own internals (store/connection.py).
SQL_CALLS = {"execute", "executemany", "sql"}
STORE_INTERNALS = {"_con", "_query", "_table", "_insert_columns"}
# A string that starts like a SQL statement (upper case, as the code base writes SQL; prose is not matched).
SQL_TEXT = re.compile(
    r"\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|WITH|ALTER|COPY|ATTACH|DETACH|DROP|PRAGMA|CHECKPOINT|DESCRIBE)\b"
)
# Modules outside the store allowed to run SQL, each with the reason why. None needs to.
SQL_ALLOWED: dict[str, str] = {}


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name: str, path: Path) -> set[str]:
    """Every module this one imports, anywhere in its body (absolute names)."""
    package = name if path.stem == "__init__" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = f"{package}.{node.module}" if node.level and node.module else package if node.level else node.module
            out.add(base)
            out |= {f"{base}.{alias.name}" for alias in node.names}
    return out


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: {m for m in imports(name, path) if m in found and m != name} for name, path in found.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    assert cycles(graph()) == []


def test_the_checker_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_library_never_imports_prefect_or_the_flows() -> None:
    found = modules()
    offenders = {
        name: sorted(m for m in imports(name, path) if m.split(".")[0] in {"prefect", "flows", "prefect_dask"})
        for name, path in found.items()
        if name.startswith("pipeline") and not (name == CLI or name.startswith(CLI + "."))
    }
    assert {name: bad for name, bad in offenders.items() if bad} == {}


def in_store(name: str) -> bool:
    return name == STORE or name.startswith(STORE + ".")


def sql_uses(source: str) -> list[str]:
    """Where a module runs SQL or reaches into the store's internals, as 'line: what'."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SQL_CALLS:
            found.append(f"{node.lineno}: .{node.func.attr}(...)")
        elif isinstance(node, ast.Attribute) and node.attr in STORE_INTERNALS:
            found.append(f"{node.lineno}: .{node.attr}")
        # (the literal parts of an f-string are string constants too: walked like any other)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL_TEXT.match(node.value):
            found.append(f"{node.lineno}: SQL text {node.value.split()[0]} ...")
    return sorted(found, key=lambda f: int(f.split(":")[0]))


def test_no_module_outside_the_store_runs_sql() -> None:
    offenders = {
        name: uses
        for name, path in modules().items()
        if not in_store(name) and name not in SQL_ALLOWED and (uses := sql_uses(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}


def test_the_sql_checker_finds_sql() -> None:
    source = (
        "def f(store, con, table):\n"
        "    con.execute(query)\n"
        "    rows = store._query(query)\n"
        "    x = f'  INSERT INTO {table} VALUES (1)'\n"
        "    cursor = con.cursor()\n"
        "    y = 'DELETE FROM runs'\n"
        "    return con.sql(text)\n"
    )
    assert [f.split(":")[0] for f in sql_uses(source)] == ["2", "3", "4", "6", "7"]
    prose = '"""With or without a database, selected stories are updated."""\nx = "Select a story"\n'
    assert sql_uses(prose) == []


def test_the_store_imports_no_stage() -> None:
    found = modules()
    offenders = {
        name: sorted(m for m in imports(name, path) if m in found and not m.startswith(STORE_MAY_IMPORT))
        for name, path in found.items()
        if in_store(name)
    }
    assert {name: bad for name, bad in offenders.items() if bad} == {}


def test_bench_scripts_import_only_what_exists() -> None:
    """The suite never runs the benches: their imports from the library are resolved here instead."""
    missing = []
    for path in sorted((ROOT / "bench").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in PACKAGES):
                continue
            module = importlib.import_module(node.module)
            for alias in node.names:
                if not hasattr(module, alias.name) and importlib.util.find_spec(f"{node.module}.{alias.name}") is None:
                    missing.append(f"{path.name}: from {node.module} import {alias.name}")
    assert missing == []


def test_the_import_contracts_hold() -> None:
    """pyproject.toml's [tool.importlinter] contracts: the layers, and Prefect kept out of the library."""
    from importlinter.cli import lint_imports

    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True) == 0
