"""Filters and order_by trees (`tracking.query`) compiled to bound SQL, for each SQL store.

The compiled text is one boolean expression over the runs table aliased ``r`` (and an
``ORDER BY`` clause), built only from constant fragments; every key and value is a bound
parameter. A `Dialect` holds the few fragments that differ between SQLite and PostgreSQL:
the parameter mark, a param's value as a number, and case-sensitive LIKE. Both stores keep
NaN metrics as NULL (with a flag), so comparisons and NULLS LAST treat NaN alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tracking.errors import FilterSyntaxError
from tracking.query import (
    _COMPARATORS,
    ATTRIBUTES,
    MAX_NESTING,
    BoolOp,
    Comparison,
    Expr,
    Not,
    OrderKey,
    _is_number,
    _show,
    _validate,
)

__all__ = ["POSTGRES", "SQLITE", "Dialect", "compile_filter", "compile_order_by"]


def _param_number(infinity: str, cast: str) -> str:
    """A param's value as a number: only params logged as int or float; "inf" is infinite
    and "nan" is NULL (SQLite would CAST both to 0.0; PostgreSQL would make NaN sort last)."""
    return (
        "(CASE WHEN p.value_type NOT IN ('int', 'float') THEN NULL"
        f" WHEN lower(p.value) IN ('inf', '+inf', 'infinity', '+infinity') THEN {infinity}"
        f" WHEN lower(p.value) IN ('-inf', '-infinity') THEN -{infinity}"
        " WHEN lower(p.value) IN ('nan', '+nan', '-nan') THEN NULL"
        f" ELSE CAST(p.value AS {cast}) END)"
    )


@dataclass(frozen=True)
class Dialect:
    """What one SQL engine spells its own way."""

    mark: str
    """The bound-parameter placeholder."""
    param_number: str
    """A param's value as a number (see `_param_number`), over params aliased ``p``."""
    glob: bool
    """Case-sensitive LIKE as SQLite's GLOB (SQLite's LIKE ignores case)."""
    text_param: str
    """A bound text parameter in byte-order collation, with `mark` as ``{}``."""


SQLITE = Dialect(mark="?", param_number=_param_number("9e999", "REAL"), glob=True,
                 text_param="{}")
POSTGRES = Dialect(mark="%s", param_number=_param_number("'Infinity'::float8",
                                                         "double precision"),
                   glob=False, text_param='({}::text COLLATE "C")')

_KEY_TABLES = {
    "params": (
        "EXISTS (SELECT 1 FROM params p WHERE p.run_id = r.run_id AND p.key = {}", "p.value"
    ),
    "tags": ("EXISTS (SELECT 1 FROM tags t WHERE t.run_id = r.run_id AND t.key = {}", "t.value"),
    "metrics": (
        "EXISTS (SELECT 1 FROM latest_metrics m WHERE m.run_id = r.run_id AND m.key = {}",
        "m.value",
    ),
}
_MAX_TREE_DEPTH = 4 * MAX_NESTING + 10


def _bind(value: str | float | int) -> str | float | int:
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        return float(value)
    return value


def _like_parts(pattern: str) -> list[tuple[bool, str]]:
    """Split a LIKE pattern into (is_wildcard, character); backslash makes the next literal."""
    parts: list[tuple[bool, str]] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            parts.append((False, pattern[i + 1]))
            i += 2
        else:
            parts.append((c in "%_", c))
            i += 1
    return parts


def _glob_pattern(pattern: str) -> str:
    """The case-sensitive GLOB pattern equal to a LIKE pattern."""
    out = []
    for wild, c in _like_parts(pattern):
        if wild:
            out.append("*" if c == "%" else "?")
        else:
            out.append(f"[{c}]" if c in "*?[" else c)
    return "".join(out)


def _escaped_like_pattern(pattern: str) -> str:
    """The same LIKE pattern, written canonically for ``ESCAPE '\\'``."""
    return "".join(c if wild or c not in "%_\\" else "\\" + c for wild, c in _like_parts(pattern))


def _condition(column: str, comparison: Comparison, params: list, dialect: Dialect) -> str:
    """The test on one value column; appends its parameters."""
    op, value, mark = comparison.op, comparison.value, dialect.mark
    if op == "LIKE" and dialect.glob:
        params.append(_glob_pattern(str(value)))
        return f"{column} GLOB {mark}"
    if op == "LIKE":
        params.append(_escaped_like_pattern(str(value)))
        return f"{column} LIKE {dialect.text_param.format(mark)} ESCAPE '\\'"
    if op == "ILIKE":
        params.append(_escaped_like_pattern(str(value)))
        return f"lower({column}) LIKE lower({dialect.text_param.format(mark)}) ESCAPE '\\'"
    if op in ("IN", "NOT IN"):
        assert isinstance(value, tuple)
        params.extend(_bind(v) for v in value)
        marks = ", ".join(mark for _ in value)
        return f"{column} {op} ({marks})"
    assert op in _COMPARATORS and value is not None and not isinstance(value, tuple)
    params.append(_bind(value))
    return f"{column} {op} {mark}"


def _compile_comparison(c: Comparison, params: list, dialect: Dialect) -> str:
    _validate(c, "filter", c.position)
    if c.kind == "attributes":
        column = f"r.{c.key}"
        if c.op == "IS NULL":
            return f"{column} IS NULL"
        if c.op == "IS NOT NULL":
            return f"{column} IS NOT NULL"
        return f"({column} IS NOT NULL AND {_condition(column, c, params, dialect)})"
    exists, column = _KEY_TABLES[c.kind]
    exists = exists.format(dialect.mark)
    params.append(c.key)
    if c.op == "IS NULL":
        return f"NOT {exists})"
    if c.op == "IS NOT NULL":
        return f"{exists})"
    values = c.value if isinstance(c.value, tuple) else (c.value,)
    if c.kind == "params" and c.op not in ("LIKE", "ILIKE") and _is_number(values[0]):
        column = dialect.param_number
    return f"{exists} AND {_condition(column, c, params, dialect)})"


def _compile(expr: Expr, params: list, depth: int, dialect: Dialect) -> str:
    if depth > _MAX_TREE_DEPTH:
        raise FilterSyntaxError(f"filter: expression nested deeper than {_MAX_TREE_DEPTH}")
    if isinstance(expr, Comparison):
        return _compile_comparison(expr, params, dialect)
    if isinstance(expr, Not):
        return f"NOT ({_compile(expr.operand, params, depth + 1, dialect)})"
    if isinstance(expr, BoolOp) and expr.op in ("AND", "OR") and expr.operands:
        joiner = " AND " if expr.op == "AND" else " OR "
        return "(" + joiner.join(_compile(e, params, depth + 1, dialect)
                                 for e in expr.operands) + ")"
    raise FilterSyntaxError(f"filter: not a filter node: {_show(repr(expr))}")


def compile_filter(expr: Expr | None, dialect: Dialect = SQLITE) -> tuple[str, list]:
    """Compile a parsed filter to a SQL boolean expression over runs aliased ``r``, and its
    parameters; ``('1 = 1', [])`` for no filter.

    >>> from tracking.query import parse_filter
    >>> sql, params = compile_filter(parse_filter("tags.team = 'a'"))
    >>> sql
    'EXISTS (SELECT 1 FROM tags t WHERE t.run_id = r.run_id AND t.key = ? AND t.value = ?)'
    >>> params
    ['team', 'a']
    """
    if expr is None:
        return "1 = 1", []
    params: list = []
    return _compile(expr, params, 0, dialect), params


def compile_order_by(keys: Sequence[OrderKey], dialect: Dialect = SQLITE) -> tuple[str, list]:
    """Compile order keys to an ``ORDER BY`` clause and its parameters.

    Metrics sort by their latest value; NaN and missing values come last in either
    direction. Params sort numerically among those logged as int or float, then as text
    among the others, then missing ones. Tags sort as text. The clause always ends with
    ``r.start_time DESC, r.run_id`` so the order is deterministic.

    >>> compile_order_by([])
    ('ORDER BY r.start_time DESC, r.run_id', [])
    """
    parts: list[str] = []
    params: list = []
    mark = dialect.mark
    for k in keys:
        if not isinstance(k, OrderKey):
            raise FilterSyntaxError(f"order_by: not an OrderKey: {_show(repr(k))}")
        direction = "ASC" if k.ascending else "DESC"
        if k.kind == "attributes" and k.key in ATTRIBUTES:
            parts.append(f"r.{k.key} {direction} NULLS LAST")
        elif k.kind == "metrics":
            parts.append(
                f"(SELECT m.value FROM latest_metrics m WHERE m.run_id = r.run_id AND m.key = "
                f"{mark}) {direction} NULLS LAST"
            )
            params.append(k.key)
        elif k.kind == "params":
            where = f"FROM params p WHERE p.run_id = r.run_id AND p.key = {mark}"
            parts.append(f"(SELECT {dialect.param_number} {where}) {direction} NULLS LAST")
            parts.append(f"(SELECT p.value {where}) {direction} NULLS LAST")
            params.extend([k.key, k.key])
        elif k.kind == "tags":
            parts.append(
                f"(SELECT t.value FROM tags t WHERE t.run_id = r.run_id AND t.key = {mark})"
                f" {direction} NULLS LAST"
            )
            params.append(k.key)
        else:
            raise FilterSyntaxError(f"order_by: unknown key {k.kind}.{k.key}")
    parts.extend(["r.start_time DESC", "r.run_id"])
    return "ORDER BY " + ", ".join(parts), params
