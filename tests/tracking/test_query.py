"""tracking.query against a real SQLite database: exact run sets, orders, errors, payloads."""

from __future__ import annotations

import doctest
import math
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import tracking.query
import tracking.store.sql
from tracking.errors import FilterSyntaxError
from tracking.query import (
    BoolOp,
    Comparison,
    Not,
    OrderKey,
    parse_filter,
    parse_order_by,
)
from tracking.store.sql import compile_filter, compile_order_by

DDL = [
    """CREATE TABLE runs (
        run_id TEXT PRIMARY KEY, experiment_id INTEGER NOT NULL, run_name TEXT NOT NULL,
        parent_run_id TEXT, status TEXT NOT NULL, start_time INTEGER NOT NULL,
        end_time INTEGER, note TEXT NOT NULL DEFAULT '',
        lifecycle_stage TEXT NOT NULL DEFAULT 'active')""",
    """CREATE TABLE params (run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
        value_type TEXT NOT NULL DEFAULT 'str', PRIMARY KEY (run_id, key))""",
    """CREATE TABLE tags (run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
        PRIMARY KEY (run_id, key))""",
    """CREATE TABLE latest_metrics (run_id TEXT NOT NULL, key TEXT NOT NULL, value REAL,
        is_nan INTEGER NOT NULL DEFAULT 0, step INTEGER NOT NULL, timestamp INTEGER NOT NULL,
        PRIMARY KEY (run_id, key))""",
]

RUNS = [  # run_id, experiment_id, run_name, parent_run_id, status, start_time, end_time
    ("r1", 1, "alpha", None, "FINISHED", 1000, 2000),
    ("r2", 1, "beta", None, "FINISHED", 2000, 3000),
    ("r3", 1, "gamma", "r1", "FAILED", 3000, None),
    ("r4", 1, "delta", "r1", "RUNNING", 4000, None),
    ("r5", 2, "Epsilon", None, "PRUNED", 5000, 6000),
    ("r6", 2, "zeta", None, "KILLED", 6000, 7000),
    ("r7", 2, "eta_1", None, "FINISHED", 7000, 8000),
    ("r8", 2, "theta%", None, "FINISHED", 8000, 9000),
]
PARAMS = [  # run_id, key, value, value_type
    ("r1", "model", "rf", "str"),
    ("r1", "lr", "0.1", "float"),
    ("r1", "depth", "10", "int"),
    ("r2", "model", "svm", "str"),
    ("r2", "lr", "0.01", "float"),
    ("r2", "depth", "3", "int"),
    ("r2", "opt.lr", "adam", "str"),
    ("r3", "model", "RF", "str"),
    ("r3", "lr", "0.001", "float"),
    ("r4", "model", "rf", "str"),
    ("r4", "lr", "inf", "float"),
    ("r4", "depth", "9", "str"),  # logged as the string "9": text, not a number
    ("r5", "model", "mlp", "str"),
    ("r5", "lr", "nan", "float"),
    ("r5", "depth", "2", "int"),
    ("r6", "model", "r_f", "str"),
    ("r6", "lr", "1e-4", "float"),
    ("r7", "model", "rf%", "str"),
    ("r7", "lr", "0.5", "float"),
    ("r7", "depth", "2", "int"),
]
NAN = None  # how the store writes NaN: value NULL, is_nan 1
METRICS = [  # run_id, key, value
    ("r1", "acc", 0.95),
    ("r1", "loss", 0.1),
    ("r2", "acc", 0.85),
    ("r2", "loss", 0.3),
    ("r3", "acc", NAN),
    ("r3", "loss", 0.5),
    ("r4", "loss", 0.2),
    ("r5", "acc", 0.90),
    ("r6", "acc", 0.70),
    ("r6", "loss", NAN),
    ("r7", "acc", 0.99),
    ("r7", "loss", 0.05),
]
TAGS = [  # run_id, key, value
    ("r1", "team", "Vision"),
    ("r1", "my.tag key", "v2-final"),
    ("r2", "team", "vision"),
    ("r2", "my.tag key", "V2-draft"),
    ("r3", "team", "NLP"),
    ("r3", "my.tag key", "v20"),
    ("r3", "odd`key", "x"),
    ("r4", "team", "nlp"),
    ("r5", "my.tag key", "v1"),
    ("r5", "note", "a*b[c]?"),
    ("r6", "team", "vision"),
    ("r6", "note", "100%"),
    ("r7", "note", "50_50"),
    ("r8", "team", "o'brien"),
    ("r8", "note", "100x"),
]
ALL = {f"r{i}" for i in range(1, 9)}


def _fill(conn: sqlite3.Connection) -> None:
    for statement in DDL:
        conn.execute(statement)
    conn.executemany("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, '', 'active')", RUNS)
    conn.executemany("INSERT INTO params VALUES (?, ?, ?, ?)", PARAMS)
    conn.executemany("INSERT INTO tags VALUES (?, ?, ?)", TAGS)
    conn.executemany(
        "INSERT INTO latest_metrics VALUES (?, ?, ?, ?, 0, 0)",
        [(run, key, value, int(value is None)) for run, key, value in METRICS],
    )
    conn.commit()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(tmp_path / "runs.db")
    _fill(conn)
    yield conn
    conn.close()


def run_ids(conn: sqlite3.Connection, text: str, order_by: list[str] | None = None) -> list[str]:
    where, where_params = compile_filter(parse_filter(text))
    order, order_params = compile_order_by(parse_order_by(order_by))
    sql = f"SELECT r.run_id FROM runs r WHERE {where} {order}"
    return [row[0] for row in conn.execute(sql, [*where_params, *order_params])]


def matches(conn: sqlite3.Connection, text: str) -> set[str]:
    ids = run_ids(conn, text)
    assert len(ids) == len(set(ids))
    return set(ids)


def syntax_error(text: str) -> FilterSyntaxError:
    with pytest.raises(FilterSyntaxError) as info:
        parse_filter(text)
    return info.value


def assert_intact(conn: sqlite3.Connection) -> None:
    assert conn.execute("SELECT count(*) FROM runs").fetchone() == (8,)
    assert conn.execute("SELECT count(*) FROM params").fetchone() == (len(PARAMS),)
    assert conn.execute("SELECT count(*) FROM tags").fetchone() == (len(TAGS),)


# --- the tree -----------------------------------------------------------------------------


def test_blank_filter_is_none_and_matches_everything(db: sqlite3.Connection) -> None:
    assert parse_filter("") is None
    assert parse_filter("  \t\n") is None
    assert compile_filter(None) == ("1 = 1", [])
    assert matches(db, "") == ALL


def test_and_binds_tighter_than_or() -> None:
    expr = parse_filter("params.a = 'x' OR params.b = 'y' AND metrics.c > 1")
    assert expr == BoolOp(
        "OR",
        (
            Comparison("params", "a", "=", "x", 0),
            BoolOp(
                "AND",
                (
                    Comparison("params", "b", "=", "y", 18),
                    Comparison("metrics", "c", ">", 1, 37),
                ),
            ),
        ),
    )


def test_tree_shapes() -> None:
    assert parse_filter("NOT NOT NOT params.a IS NULL") == Not(
        Comparison("params", "a", "IS NULL", None, 12)
    )
    assert parse_filter("NOT NOT params.a IS NOT NULL") == Comparison(
        "params", "a", "IS NOT NULL", None, 8
    )
    assert parse_filter("((params.a <> 'x'))") == Comparison("params", "a", "!=", "x", 2)
    assert parse_filter("attributes.status NOT IN ('A', \"B\")") == Comparison(
        "attributes", "status", "NOT IN", ("A", "B"), 0
    )


def test_literals() -> None:
    def value(literal: str) -> object:
        expr = parse_filter(f"params.p = {literal}")
        assert isinstance(expr, Comparison)
        return expr.value

    assert value("'it''s'") == "it's"
    assert value("'it\\'s'") == "it's"
    assert value('"say \\"hi\\""') == 'say "hi"'
    assert value('"a""b"') == 'a"b'
    assert value("'back\\\\slash'") == "back\\slash"
    assert value("'50\\%'") == "50\\%"  # unknown escapes stay as typed, for LIKE patterns
    assert value("''") == ""
    assert value("'o’brien'") == "o’brien"  # a curly apostrophe inside a real string is text
    assert value("42") == 42 and isinstance(value("42"), int)
    assert value("-3") == -3
    assert value("+2.5") == 2.5
    assert value(".5") == 0.5
    assert value("1e-3") == 0.001
    assert value("1E3") == 1000.0
    assert value("1" * 40) == float("1" * 40)
    assert math.isinf(value("1e999"))  # type: ignore[arg-type]


def test_identifiers() -> None:
    def ident(text: str) -> tuple[str, str]:
        expr = parse_filter(f"{text} IS NULL")
        assert isinstance(expr, Comparison)
        return expr.kind, expr.key

    assert ident("param.lr") == ("params", "lr")
    assert ident("metric.acc") == ("metrics", "acc")
    assert ident("tag.team") == ("tags", "team")
    assert ident("attribute.status") == ("attributes", "status")
    assert ident("run.end_time") == ("attributes", "end_time")
    assert ident("PARAMS.lr") == ("params", "lr")
    assert ident("params.opt.lr-max/x:1") == ("params", "opt.lr-max/x:1")
    assert ident("tags.`my.tag key`") == ("tags", "my.tag key")
    assert ident('tags."my.tag key"') == ("tags", "my.tag key")
    assert ident("tags.`odd``key`") == ("tags", "odd`key")
    assert ident("params.学习率") == ("params", "学习率")


# --- each comparator on each kind ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("params.model = 'rf'", {"r1", "r4"}),
        ("params.model != 'rf'", {"r2", "r3", "r5", "r6", "r7"}),  # r8 has no model
        ("params.model <> 'rf'", {"r2", "r3", "r5", "r6", "r7"}),
        ("params.model < 'r'", {"r3", "r5"}),  # text order: 'RF' < 'mlp' < 'r'
        ("params.model <= 'rf'", {"r1", "r3", "r4", "r5", "r6"}),
        ("params.model > 'rf'", {"r2", "r7"}),
        ("params.model >= 'svm'", {"r2"}),
        ("params.model IN ('rf', 'svm')", {"r1", "r2", "r4"}),
        ("params.model NOT IN ('rf', 'svm')", {"r3", "r5", "r6", "r7"}),
        ("params.model IS NULL", {"r8"}),
        ("params.depth IS NULL", {"r3", "r6", "r8"}),
        ("params.depth IS NOT NULL", {"r1", "r2", "r4", "r5", "r7"}),
        ("params.opt.lr = 'adam'", {"r2"}),
        ("params.depth > '5'", {"r4"}),  # quoted: text order, '10' < '5' < '9'
    ],
)
def test_params_as_text(db: sqlite3.Connection, text: str, expected: set[str]) -> None:
    assert matches(db, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # only params logged as int or float compare as numbers; 'inf' is infinite, 'nan'
        # (r5) never matches, and r4's depth "9" was logged as a string.
        ("params.lr > 0.01", {"r1", "r4", "r7"}),
        ("params.lr >= 0.01", {"r1", "r2", "r4", "r7"}),
        ("params.lr < 0.01", {"r3", "r6"}),
        ("params.lr <= 1e-3", {"r3", "r6"}),
        ("params.lr = 0.1", {"r1"}),
        ("params.lr != 0.1", {"r2", "r3", "r4", "r6", "r7"}),
        ("params.lr > 1e308", {"r4"}),
        ("params.depth > 5", {"r1"}),
        ("params.depth = 2", {"r5", "r7"}),
        ("params.depth = 2.0", {"r5", "r7"}),
        ("params.depth != 2", {"r1", "r2"}),
        ("params.depth IN (2, 10)", {"r1", "r5", "r7"}),
        ("params.depth NOT IN (2)", {"r1", "r2"}),
        ("params.lr = 'nan'", {"r5"}),  # as text it is just a string
        ("params.lr = '0.1'", {"r1"}),
    ],
)
def test_params_as_numbers(db: sqlite3.Connection, text: str, expected: set[str]) -> None:
    assert matches(db, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.acc > 0.9", {"r1", "r7"}),
        ("metrics.acc >= 0.9", {"r1", "r5", "r7"}),
        ("metrics.acc < 0.9", {"r2", "r6"}),
        ("metrics.acc <= 0.85", {"r2", "r6"}),
        ("metrics.acc = 0.85", {"r2"}),
        ("metrics.acc != 0.85", {"r1", "r5", "r6", "r7"}),  # NaN r3 and missing r4, r8 out
        ("metrics.acc <> 0.85", {"r1", "r5", "r6", "r7"}),
        ("metrics.acc IN (0.7, 0.99)", {"r6", "r7"}),
        ("metrics.acc NOT IN (0.7, 0.99)", {"r1", "r2", "r5"}),
        ("metrics.acc IS NULL", {"r4", "r8"}),  # a NaN metric is present
        ("metrics.acc IS NOT NULL", {"r1", "r2", "r3", "r5", "r6", "r7"}),
        ("metrics.loss >= 0", {"r1", "r2", "r3", "r4", "r7"}),
        ("metrics.loss > -1e999", {"r1", "r2", "r3", "r4", "r7"}),
        ("metrics.loss < 1e999", {"r1", "r2", "r3", "r4", "r7"}),
        ("metrics.loss != 0", {"r1", "r2", "r3", "r4", "r7"}),
        ("metrics.acc > +9e-1", {"r1", "r7"}),
        ("metrics.acc > .9", {"r1", "r7"}),
        ("metrics.loss < -1", set()),
        ("metrics.acc > 1", set()),
        ("metric.acc = 1", set()),
    ],
)
def test_metrics(db: sqlite3.Connection, text: str, expected: set[str]) -> None:
    assert matches(db, text) == expected


def test_nan_never_satisfies_a_comparison(db: sqlite3.Connection) -> None:
    for op in ("=", "!=", "<", "<=", ">", ">="):
        for bound in ("0", "-1e999", "1e999"):
            assert "r3" not in matches(db, f"metrics.acc {op} {bound}")
            assert "r6" not in matches(db, f"metrics.loss {op} {bound}")
            assert "r5" not in matches(db, f"params.lr {op} {bound}")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tags.team = 'vision'", {"r2", "r6"}),
        ("tags.team != 'vision'", {"r1", "r3", "r4", "r8"}),
        ("tags.team < 'a'", {"r1", "r3"}),  # upper case sorts first
        ("tags.team >= 'v'", {"r2", "r6"}),
        ("tags.team IN ('NLP', 'nlp')", {"r3", "r4"}),
        ("tags.team NOT IN ('NLP', 'nlp')", {"r1", "r2", "r6", "r8"}),
        ("tags.team IS NULL", {"r5", "r7"}),
        ("tags.team IS NOT NULL", ALL - {"r5", "r7"}),
        ("tags.`my.tag key` = 'v1'", {"r5"}),
        ('tags."my.tag key" = "v1"', {"r5"}),
        ("tags.`odd``key` = 'x'", {"r3"}),
        ('tags.team = "o\'brien"', {"r8"}),
        ("tags.team = 'o\\'brien'", {"r8"}),
        ("tags.team = 'o''brien'", {"r8"}),
        ("tags.team = 'o’brien'", set()),
    ],
)
def test_tags(db: sqlite3.Connection, text: str, expected: set[str]) -> None:
    assert matches(db, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("attributes.status = 'FINISHED'", {"r1", "r2", "r7", "r8"}),
        ("attributes.status = 'finished'", set()),
        ("attributes.status != 'FINISHED'", {"r3", "r4", "r5", "r6"}),
        ("attributes.status IN ('FINISHED', 'PRUNED')", {"r1", "r2", "r5", "r7", "r8"}),
        ("attributes.status NOT IN ('FINISHED', 'PRUNED')", {"r3", "r4", "r6"}),
        ("attributes.start_time > 5000", {"r6", "r7", "r8"}),
        ("attributes.start_time >= 5000", {"r5", "r6", "r7", "r8"}),
        ("attributes.start_time < 2000", {"r1"}),
        ("attributes.start_time <= 2000", {"r1", "r2"}),
        ("attributes.start_time = 3000", {"r3"}),
        ("attributes.end_time < 5000", {"r1", "r2"}),
        ("attributes.end_time != 2000", {"r2", "r5", "r6", "r7", "r8"}),  # NULL is no value
        ("attributes.end_time IS NULL", {"r3", "r4"}),
        ("attributes.end_time IS NOT NULL", ALL - {"r3", "r4"}),
        ("attributes.end_time IN (2000, 9000)", {"r1", "r8"}),
        ("attributes.parent_run_id = 'r1'", {"r3", "r4"}),
        ("attributes.parent_run_id != 'r1'", set()),
        ("attributes.parent_run_id IS NULL", ALL - {"r3", "r4"}),
        ("attributes.experiment_id = 2", {"r5", "r6", "r7", "r8"}),
        ("attributes.run_id = 'r3'", {"r3"}),
        ("attributes.run_name >= 'theta'", {"r6", "r8"}),
        ("run.status = 'FAILED'", {"r3"}),
        ("attribute.run_name = 'alpha'", {"r1"}),
    ],
)
def test_attributes(db: sqlite3.Connection, text: str, expected: set[str]) -> None:
    assert matches(db, text) == expected


# --- LIKE and ILIKE -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tags.team LIKE 'vis%'", {"r2", "r6"}),  # case-sensitive, unlike SQLite's LIKE
        ("tags.team ILIKE 'vis%'", {"r1", "r2", "r6"}),
        ("tags.team LIKE 'VISION'", set()),
        ("tags.team ILIKE 'VISION'", {"r1", "r2", "r6"}),
        ("tags.`my.tag key` LIKE 'v2%'", {"r1", "r3"}),
        ("tags.`my.tag key` ILIKE 'v2%'", {"r1", "r2", "r3"}),
        ("tags.`my.tag key` LIKE 'v_'", {"r5"}),
        ("tags.`my.tag key` LIKE 'v__'", {"r3"}),
        ("tags.note LIKE '100%'", {"r6", "r8"}),
        ("tags.note LIKE '100\\%'", {"r6"}),  # backslash makes % literal
        ("tags.note ILIKE '100\\%'", {"r6"}),
        ("tags.note LIKE '50\\_50'", {"r7"}),
        ("tags.note ILIKE '50\\_50'", {"r7"}),
        ("tags.note LIKE '50_50'", {"r7"}),
        ("tags.note LIKE 'a*b[c]?'", {"r5"}),  # GLOB's own wildcards are plain text
        ("tags.note LIKE 'a*%'", {"r5"}),
        ("tags.note LIKE '*'", set()),
        ("tags.note LIKE '?'", set()),
        ("tags.note LIKE '%[c]%'", {"r5"}),
        ("tags.note ILIKE '%[C]%'", {"r5"}),
        ("tags.note LIKE '%'", {"r5", "r6", "r7", "r8"}),
        ("tags.team LIKE 'o''%'", {"r8"}),
        ("params.model LIKE 'rf'", {"r1", "r4"}),
        ("params.model ILIKE 'rf'", {"r1", "r3", "r4"}),
        ("params.model LIKE 'rf\\%'", {"r7"}),
        ("params.model LIKE 'rf%'", {"r1", "r4", "r7"}),
        ("params.model LIKE 'r_f'", {"r6"}),
        ("params.model LIKE 'r\\_f'", {"r6"}),
        ("params.model LIKE 'r\\\\_f'", {"r6"}),  # the string is r\_f: same as above
        ("params.model LIKE 'r\\\\\\\\_f'", set()),  # r\\_f: a literal backslash, then _
        ("params.lr LIKE '0.0%'", {"r2", "r3"}),
        ("attributes.run_name LIKE 'e%'", {"r7"}),
        ("attributes.run_name ILIKE 'e%'", {"r5", "r7"}),
        ("attributes.run_name LIKE 'theta\\%'", {"r8"}),
        ("attributes.run_name LIKE '%\\_%'", {"r7"}),
        ("attributes.parent_run_id LIKE '%'", {"r3", "r4"}),
        ("tags.team like 'v%'", {"r2", "r6"}),
    ],
)
def test_like(db: sqlite3.Connection, text: str, expected: set[str]) -> None:
    assert matches(db, text) == expected


def test_like_ignores_sqlites_case_sensitive_pragma(db: sqlite3.Connection) -> None:
    db.execute("PRAGMA case_sensitive_like = ON")
    assert matches(db, "tags.team ILIKE 'VIS%'") == {"r1", "r2", "r6"}
    assert matches(db, "tags.team LIKE 'vis%'") == {"r2", "r6"}


# --- boolean structure --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("params.model = 'rf' AND metrics.acc > 0.9", {"r1"}),
        ("params.model = 'rf' and metrics.acc > 0.9", {"r1"}),
        ("params.model = 'svm' OR params.model = 'rf' AND metrics.acc > 0.9", {"r1", "r2"}),
        ("(params.model = 'svm' OR params.model = 'rf') AND metrics.acc > 0.9", {"r1"}),
        ("params.model = 'rf' AND metrics.acc > 0.9 OR params.model = 'svm'", {"r1", "r2"}),
        ("params.model = 'rf' AND (metrics.acc > 0.9 OR params.model = 'svm')", {"r1"}),
        (
            "(params.model = 'rf' OR params.model = 'svm') AND metrics.acc >= 0.8",
            {"r1", "r2"},
        ),
        ("NOT params.model = 'rf'", ALL - {"r1", "r4"}),  # runs without the param too
        ("NOT NOT params.model = 'rf'", {"r1", "r4"}),
        ("not (metrics.acc > 0.9 or tags.team = 'nlp')", {"r2", "r3", "r5", "r6", "r8"}),
        ("NOT attributes.end_time > 5000", {"r1", "r2", "r3", "r4"}),
        ("NOT attributes.parent_run_id = 'r1'", ALL - {"r3", "r4"}),
        ("NOT metrics.acc > 0.9 AND params.model = 'rf'", {"r4"}),
        ("params.model = 'rf' and not metrics.loss is null", {"r1", "r4"}),
        ("((((params.model = 'rf'))))", {"r1", "r4"}),
        ("params.depth IS NULL AND tags.team IS NULL", set()),
        ("params.depth IS NULL OR tags.team IS NULL", {"r3", "r5", "r6", "r7", "r8"}),
        ("params.model IS NULL OR NOT params.model IS NULL", ALL),
    ],
)
def test_boolean_structure(db: sqlite3.Connection, text: str, expected: set[str]) -> None:
    assert matches(db, text) == expected


def test_hand_built_tree_compiles(db: sqlite3.Connection) -> None:
    expr = BoolOp(
        "OR",
        (
            Comparison("tags", "team", "=", "NLP"),
            Not(Comparison("metrics", "acc", "IS NULL", None)),
        ),
    )
    where, params = compile_filter(expr)
    rows = db.execute(f"SELECT r.run_id FROM runs r WHERE {where}", params).fetchall()
    assert {row[0] for row in rows} == {"r1", "r2", "r3", "r5", "r6", "r7"}
    with pytest.raises(FilterSyntaxError, match="unknown operator 'DROP'"):
        compile_filter(Comparison("params", "x", "DROP", "y"))
    with pytest.raises(FilterSyntaxError, match="unknown attribute 'note'"):
        compile_filter(Comparison("attributes", "note", "=", "y"))
    with pytest.raises(FilterSyntaxError, match="nested deeper"):
        deep: object = Comparison("params", "x", "IS NULL", None)
        for _ in range(5000):
            deep = Not(deep)  # type: ignore[arg-type]
        compile_filter(deep)  # type: ignore[arg-type]


def test_values_are_bound_not_pasted() -> None:
    text = "params.`model name` = 'rf' AND tags.team LIKE 'v%' AND metrics.acc IN (0.5, 7)"
    where, params = compile_filter(parse_filter(text))
    assert params == ["model name", "rf", "team", "v*", "acc", 0.5, 7]
    for typed in ("model name", "rf", "team", "v%", "0.5", "7"):
        assert typed not in where


# --- injection payloads -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "token", "position"),
    [
        ("params.x = 'a' OR 1=1 --", "'1'", 18),
        ("'; DROP TABLE runs; --", "DROP TABLE", 0),
        ("params.model = ''; DROP TABLE runs; --", "';'", 17),
        ("metrics.acc > 0; DROP TABLE runs; --", "';'", 15),
        ("params.x = '1' OR '1'='1'", "'1'", 18),
        ("' UNION SELECT * FROM runs --", "UNION SELECT", 0),
        ("params.x = 'a' UNION SELECT * FROM runs", "'UNION'", 15),
        ("params.x = 'a' -- comment", "'-'", 15),
        ("params.x = 'a' /* c */", "'/'", 15),
        ("metrics.acc; DROP TABLE runs", "';'", 11),
        ("params.x = 1; SELECT 1", "';'", 12),
        ("params.x = (SELECT 1)", "'('", 11),
        ("params.x = r.run_id", "'r'", 11),
    ],
)
def test_injection_payloads_are_refused(
    db: sqlite3.Connection, text: str, token: str, position: int
) -> None:
    error = syntax_error(text)
    assert error.position == position
    assert token in str(error)
    assert f"(at position {position})" in str(error)
    assert_intact(db)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('tags.x = "a\\" OR 1=1 --"', set()),
        ('tags.team = "a\\" OR 1=1 --"', set()),
        ("params.model = 'rf'' OR ''1''=''1'", set()),
        ("params.model = 'rf\\' OR \\'1\\'=\\'1'", set()),
        ("tags.team = '''; DROP TABLE runs; --'", set()),
        ("params.`model' OR 1=1 --` = 'rf'", set()),
        ("params.`x`` OR 1=1 --` IS NULL", ALL),
        ("params.model IN ('rf', ') OR 1=1 --')", {"r1", "r4"}),
        ("attributes.run_name LIKE '%'' OR 1=1 --'", set()),
    ],
)
def test_injection_payloads_in_literals_are_harmless(
    db: sqlite3.Connection, text: str, expected: set[str]
) -> None:
    assert matches(db, text) == expected
    assert_intact(db)


@pytest.mark.parametrize(
    ("clause", "token", "position"),
    [
        ("1; DROP TABLE runs", "'1'", 0),
        ("metrics.acc; DROP TABLE runs", "';'", 11),
        ("metrics.acc DESC; DROP TABLE runs", "';'", 16),
        ("metrics.acc DESC, params.x", "','", 16),
        ("metrics.acc SIDEWAYS", "'SIDEWAYS'", 12),
        ("metrics.acc DESC ASC", "'ASC'", 17),
        ("attributes.foo DESC", "'foo'", 0),
        ("attributes.note", "'note'", 0),
        ("(SELECT 1)", "'('", 0),
        ("", "end of input", 0),
        ("metrics.acc ‘DESC’", "'‘'", 12),
        ("metrics.acc\x00", "NUL", 11),
    ],
)
def test_bad_order_by_is_refused(
    db: sqlite3.Connection, clause: str, token: str, position: int
) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        parse_order_by(["metrics.acc", clause])
    assert info.value.position == position
    assert token in str(info.value)
    assert str(info.value).startswith("order_by ")
    assert_intact(db)


# --- order_by -----------------------------------------------------------------------------


def test_parse_order_by() -> None:
    assert parse_order_by(None) == []
    assert parse_order_by([]) == []
    assert parse_order_by("metrics.acc") == [OrderKey("metrics", "acc", True)]
    assert parse_order_by(["metrics.acc desc", "params.`my lr` ASC", "attributes.start_time"]) == [
        OrderKey("metrics", "acc", False),
        OrderKey("params", "my lr", True),
        OrderKey("attributes", "start_time", True),
    ]
    with pytest.raises(FilterSyntaxError, match="more than 20 clauses"):
        parse_order_by(["metrics.acc"] * 21)
    with pytest.raises(FilterSyntaxError, match="expected a string"):
        parse_order_by([1])  # type: ignore[list-item]


def test_default_order_is_newest_first(db: sqlite3.Connection) -> None:
    assert compile_order_by([]) == ("ORDER BY r.start_time DESC, r.run_id", [])
    assert run_ids(db, "") == ["r8", "r7", "r6", "r5", "r4", "r3", "r2", "r1"]


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        # NaN (r3) and missing (r4, r8) come last either way, newest first among them.
        (["metrics.acc DESC"], ["r7", "r1", "r5", "r2", "r6", "r8", "r4", "r3"]),
        (["metrics.acc"], ["r6", "r2", "r5", "r1", "r7", "r8", "r4", "r3"]),
        (["metrics.acc ASC"], ["r6", "r2", "r5", "r1", "r7", "r8", "r4", "r3"]),
        # numbers first (inf is largest), then text params ('nan'), then missing.
        (["params.lr"], ["r6", "r3", "r2", "r1", "r7", "r4", "r5", "r8"]),
        (["params.lr DESC"], ["r4", "r7", "r1", "r2", "r3", "r6", "r5", "r8"]),
        # 2, 2 (tie: newest first), 3, 10 as numbers; "9" was logged as text.
        (["params.depth"], ["r7", "r5", "r2", "r1", "r4", "r8", "r6", "r3"]),
        (["tags.team"], ["r3", "r1", "r4", "r8", "r6", "r2", "r7", "r5"]),
        (["tags.`my.tag key` DESC"], ["r3", "r1", "r5", "r2", "r8", "r7", "r6", "r4"]),
        (["attributes.end_time"], ["r1", "r2", "r5", "r6", "r7", "r8", "r4", "r3"]),
        (["attributes.end_time DESC"], ["r8", "r7", "r6", "r5", "r2", "r1", "r4", "r3"]),
        (["attributes.start_time"], ["r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8"]),
        (["attributes.run_name"], ["r5", "r1", "r2", "r4", "r7", "r3", "r8", "r6"]),
        (
            ["attributes.experiment_id", "metrics.acc DESC"],
            ["r1", "r2", "r4", "r3", "r7", "r5", "r6", "r8"],
        ),
    ],
)
def test_order_by(db: sqlite3.Connection, order_by: list[str], expected: list[str]) -> None:
    assert run_ids(db, "", order_by) == expected


def test_order_by_with_filter(db: sqlite3.Connection) -> None:
    assert run_ids(db, "params.model = 'rf' OR metrics.acc > 0.8", ["metrics.acc DESC"]) == [
        "r7",
        "r1",
        "r5",
        "r2",
        "r4",
    ]


# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragment", "position"),
    [
        ("params.model = 'rf' AND", "expected a key like params.x, got end of input", 23),
        ("params.model 'rf'", "expected an operator after 'params.model'", 13),
        ("params.model = 'rf')", "unexpected token ')'", 19),
        ("params.model = 'rf' params.x = 'a'", "unexpected token 'params.x'", 20),
        ("(params.model = 'rf'", "expected ')' to close '(' at position 0", 20),
        ("()", "got ')'", 1),
        ("metrics.acc >", "expected a value after '>', got end of input", 13),
        ("metrics.acc > AND", "expected a value after '>', got 'AND'", 14),
        ("params.x = true", "expected a value after '=', got 'true'", 11),
        ("params.x == 1", "expected a value after '=', got '='", 10),
        ("params.x ! 1", "unexpected token '!'", 9),
        ("params.x IN 'a'", "expected '(' after 'IN'", 12),
        ("params.x IN ()", "expected a value after '(', got ')'", 13),
        ("params.x IN ('a' 'b')", "expected ',' or ')' in the IN list", 17),
        ("params.x IN ('a',)", "expected a value after ','", 17),
        ("params.x NOT LIKE 'a'", "expected IN after 'NOT', got 'LIKE'", 13),
        ("params.x IS 5", "expected NULL after 'IS', got '5'", 12),
        ("params.x IS NOT 'a'", "expected NULL after 'IS NOT'", 16),
        ("params.x IN (1, 'a')", "mixes strings and numbers", 12),
        ("foo.bar = 1", "unknown identifier prefix 'foo'", 0),
        ("params. = 1", "expected a key after 'params.'", 7),
        ("params.`` = 1", "expected a key after 'params.'", 7),
        ("params.`open = 1", "unterminated back-quoted key", 7),
        ("params.x = 'open", 'unterminated string "\'open"', 11),
        ('params.x = "open\\"', "unterminated string", 11),
        ("params.x = 1abc", "malformed number '1abc'", 11),
        ("params.x = 1.2.3", "malformed number '1.2.3'", 11),
        ("metrics.acc = 'high'", "metrics.acc compares with numbers, got string 'high'", 14),
        ("metrics.acc IN ('a')", "metrics.acc compares with numbers", 15),
        ("metrics.acc LIKE '1%'", "LIKE does not apply to the number metrics.acc", 17),
        ("params.x LIKE 5", "LIKE needs a quoted pattern", 14),
        ("tags.t = 5", "tags.t compares as text; quote the value '5'", 9),
        ("attributes.status = 1", "attributes.status compares as text", 20),
        ("attributes.start_time = '1000'", "attributes.start_time compares with numbers", 24),
        ("attributes.end_time ILIKE '1%'", "ILIKE does not apply to the number", 26),
        ("attributes.foo = 'x'", "unknown attribute 'foo'; valid: end_time, experiment_id", 0),
        ("params.x = ‘rf’", "'‘' is not a quote", 11),
        ("params.x = “rf”", "'“' is not a quote", 11),
        ("params.x = 'rf'\x00", "NUL character", 15),
        ("params.x = 'r\x00f'", "NUL character", 13),
        ("\x00", "NUL character", 0),
        ("params.x = 'a' ; ", "unexpected token ';'", 15),
        ("params.x = 'a' ASC", "unexpected token 'ASC'", 15),
        ("DROP", "expected a key like params.x, got 'DROP'", 0),
        ("metrics.`a\nb` = 'x'", "metrics.a\\nb compares with numbers", 16),
    ],
)
def test_errors_name_the_token_and_position(text: str, fragment: str, position: int) -> None:
    error = syntax_error(text)
    message = str(error)
    assert fragment in message
    assert message.startswith("filter: ")
    assert message.endswith(f"(at position {position})")
    assert error.position == position
    assert "\n" not in message


def test_docstring_examples() -> None:
    result = doctest.testmod(tracking.query)
    assert result.attempted >= 2 and result.failed == 0
    result = doctest.testmod(tracking.store.sql)
    assert result.attempted >= 4 and result.failed == 0


def test_error_is_an_invalid_input_error() -> None:
    with pytest.raises(ValueError):
        parse_filter("params.x =")
    with pytest.raises(FilterSyntaxError):
        parse_filter(b"params.x = 'a'")  # type: ignore[arg-type]


# --- limits -------------------------------------------------------------------------------


def test_ten_thousand_nested_parentheses_fail_fast() -> None:
    started = time.perf_counter()
    for text in ("(" * 10_000 + "params.x = 'a'", "(" * 10_000, "NOT (" * 4_000):
        error = syntax_error(text)
        assert "more than 50 nested parentheses" in str(error)
    assert time.perf_counter() - started < 1.0


def test_nesting_limit_is_fifty(db: sqlite3.Connection) -> None:
    assert matches(db, "(" * 50 + "params.model = 'rf'" + ")" * 50) == {"r1", "r4"}
    deep = "params.model = 'rf'"
    for _ in range(50):
        deep = f"(NOT ({deep}) OR params.model = 'svm')"
    assert syntax_error(deep).position is not None
    error = syntax_error("(" * 51 + "params.model = 'rf'" + ")" * 51)
    assert error.position == 50


def test_many_nots_collapse() -> None:
    assert parse_filter("NOT " * 4_001 + "params.x IS NULL") == Not(
        Comparison("params", "x", "IS NULL", None, 16_004)
    )


def test_long_filters_are_refused() -> None:
    started = time.perf_counter()
    error = syntax_error("params.x = '" + "a" * 1_000_000 + "'")
    assert "longer than 20000 characters" in str(error)
    assert syntax_error("(" * 20_001).position == 20_000
    assert time.perf_counter() - started < 1.0
    with pytest.raises(FilterSyntaxError, match="longer than 20000"):
        parse_order_by(["params.`" + "a" * 20_001 + "`"])


def test_comparison_limit(db: sqlite3.Connection) -> None:
    at_limit = " OR ".join(["metrics.acc > 0.9"] * 499 + ["params.model = 'svm'"])
    assert matches(db, at_limit) == {"r1", "r2", "r7"}
    nested = " AND ".join(f"({'(' * 40}metrics.acc > 0.9{')' * 40})" for _ in range(50))
    assert matches(db, nested) == {"r1", "r7"}
    error = syntax_error(" OR ".join(["params.x IS NULL"] * 501))
    assert "more than 500 comparisons" in str(error)
    assert error.position == 500 * len("params.x IS NULL OR ")


def test_in_list_limit(db: sqlite3.Connection) -> None:
    values = ", ".join(str(i) for i in range(999))
    assert matches(db, f"params.depth IN ({values}, 10)") == {"r1", "r2", "r5", "r7"}
    error = syntax_error(f"params.depth IN ({values}, 10, 11)")
    assert "IN list longer than 1000 values" in str(error)
    with pytest.raises(FilterSyntaxError, match="IN list longer"):
        compile_filter(Comparison("params", "x", "IN", tuple(range(1001))))


def test_ten_thousand_runs_in_well_under_a_second(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "big.db")
    for statement in DDL:
        conn.execute(statement)
    n = 10_000
    conn.executemany(
        "INSERT INTO runs VALUES (?, 1, ?, NULL, 'FINISHED', ?, NULL, '', 'active')",
        [(f"run{i}", f"name{i}", i) for i in range(n)],
    )
    conn.executemany(
        "INSERT INTO params VALUES (?, 'lr', ?, 'float')",
        [(f"run{i}", str(i / n)) for i in range(n)],
    )
    conn.executemany(
        "INSERT INTO latest_metrics VALUES (?, 'acc', ?, 0, 0, 0)",
        [(f"run{i}", (i * 7919 % n) / n) for i in range(n)],
    )
    conn.commit()
    started = time.perf_counter()
    ids = run_ids(
        conn,
        "(params.lr > 0.5 OR params.lr < 0.1) AND metrics.acc >= 0.25 AND NOT params.x IS NOT NULL",
        ["metrics.acc DESC", "params.lr"],
    )
    assert time.perf_counter() - started < 1.0
    expected = [i for i in range(n) if (i > n / 2 or i < n / 10) and (i * 7919 % n) / n >= 0.25]
    assert sorted(ids) == sorted(f"run{i}" for i in expected)
    assert ids[0] == f"run{max(expected, key=lambda i: i * 7919 % n)}"
    conn.close()
