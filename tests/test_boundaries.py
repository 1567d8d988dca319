"""The layering rules of DESIGN.md, checked on the source: `sweeps` uses tracking's public
names only, and nothing outside `tracking/store/` talks to a database."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import tracking
import tracking.host

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = frozenset(tracking.__all__) | frozenset(tracking._SUBMODULES)
"""`tracking`'s names, and its public submodules imported on first use (`tracking.sklearn`)."""
FACTORY = {"tracking.store": frozenset({"open_store", "resolve_uri"}),
           "tracking.host": frozenset(tracking.host.__all__)}
"""Public names of tracking's submodules that sweeps may import: the store factory (and its
URI canonical form), and the API for hosts that log on others' behalf (`tracking.host`)."""

ALLOWED: frozenset[tuple[str, str]] = frozenset()
"""Known offenders, (file, what it imports): none left; keep it that way."""

SQL = re.compile(r"\b(SELECT\b.*\bFROM|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|"
                 r"DELETE\s+FROM|CREATE\s+(TABLE|INDEX)|DROP\s+TABLE|PRAGMA\s+\w+)\b",
                 re.DOTALL)
"""SQL statements as code writes them: upper-case keywords (prose says "select from")."""
DATABASE_MODULES = ("sqlite3", "psycopg", "sqlalchemy")
SQL_PAYLOADS = frozenset({"tracking/testing.py"})
"""Files whose SQL-looking strings are data: the contract suite's injection payloads."""


def sources(*folders: str) -> Iterator[tuple[str, ast.Module]]:
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text("utf-8"))


def tracking_uses(tree: ast.Module) -> Iterator[str]:
    """Every tracking name a module reaches, as a dotted path, unless it is public."""
    imports_tracking = any(isinstance(node, ast.Import) and any(
        a.name == "tracking" and a.asname is None for a in node.names) for node in ast.walk(tree))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("tracking."):
                    yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and (
                node.module == "tracking" or node.module.startswith("tracking.")):
            allowed = PUBLIC if node.module == "tracking" else FACTORY.get(node.module, ())
            for alias in node.names:
                if alias.name not in allowed:
                    yield f"{node.module}.{alias.name}"
        elif (imports_tracking and isinstance(node, ast.Attribute)
              and isinstance(node.value, ast.Name) and node.value.id == "tracking"
              and node.attr not in PUBLIC and not node.attr.startswith("__")):
            yield f"tracking.{node.attr}"


def test_sweeps_uses_only_the_public_tracking_api():
    found = {(path, name) for path, tree in sources("sweeps") for name in tracking_uses(tree)}
    assert sorted(found - ALLOWED) == []
    assert sorted(ALLOWED - found) == [], "fixed: remove these from ALLOWED"


def test_the_rule_catches_a_private_import():
    tree = ast.parse("from tracking.store.sqlite import SqliteStore\nimport tracking.query\n"
                     "from tracking import Client, query\nimport tracking\ntracking.fluent.x\n"
                     "from tracking.store import open_store\ntracking.log_metric('m', 1)\n"
                     "tracking.__file__\n")
    assert list(tracking_uses(tree)) == ["tracking.store.sqlite.SqliteStore", "tracking.query",
                                         "tracking.query", "tracking.fluent"]


def test_tracking_never_imports_sweeps():
    found = []
    for path, tree in sources("tracking"):
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{path}:{node.lineno}: {n}" for n in names if n.split(".")[0] == "sweeps"]
    assert found == []


def sql_outside_the_store(path: str, tree: ast.Module) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if SQL.search(node.value):
                yield f"{path}:{node.lineno}: SQL {node.value[:60]!r}"
            continue
        else:
            continue
        for name in names:
            if name.split(".")[0] in DATABASE_MODULES:
                yield f"{path}:{node.lineno}: imports {name}"


def test_no_sql_outside_the_store():
    found = [line for path, tree in sources("sweeps", "tracking")
             if not path.startswith("tracking/store/") and path not in SQL_PAYLOADS
             for line in sql_outside_the_store(path, tree)]
    assert found == []


def test_the_sql_check_catches_a_query_and_a_driver():
    tree = ast.parse('import sqlite3\nq = "SELECT key FROM params WHERE run_id = ?"\n'
                     'doc = "select the runs from a sweep"\n')
    assert [line.split(": ", 1)[1] for line in sql_outside_the_store("x.py", tree)] == [
        "imports sqlite3", "SQL 'SELECT key FROM params WHERE run_id = ?'"]


TAG_LITERAL = re.compile(
    r"(?:(?<![\w./])|(?<=tags\.))(sweep|trial)\.(?!(js|css|html|json|ya?ml|py|txt)\b)"
    r"[a-z_]+(?![\w(*.])")
"""A sweep or trial tag name (`sweep.role`, `tags.trial.error`), not a file like sweep.js
nor a call like trial.suggest_float(...)."""


def tag_literals(path: str, tree: ast.Module) -> Iterator[str]:
    """String constants (docstrings aside) that spell a sweep's tag names."""
    docstrings = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Expr)
                  and isinstance(node.value, ast.Constant)}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                and id(node) not in docstrings and TAG_LITERAL.search(node.value)):
            yield f"{path}:{node.lineno}: {node.value[:60]!r}"


def test_only_records_spells_how_a_sweep_is_recorded():
    found = [line for path, tree in sources("sweeps") if path != "sweeps/records.py"
             for line in tag_literals(path, tree)]
    assert found == []


def test_the_tag_check_catches_a_tag_name():
    tree = ast.parse('"""Calls trial.report(...)."""\na = "sweep.workers"\n'
                     'b = f"tags.trial.error"\nc = "tags.`sweep.role` = \'sweep\'"\n'
                     'd = "sweep.js"\ne = "sweep.yaml"\nf = "as trial.suggest_* do"\n')
    assert sorted(line.split(": ", 1)[1] for line in tag_literals("x.py", tree)) == [
        '"tags.`sweep.role` = \'sweep\'"', "'sweep.workers'", "'tags.trial.error'"]
