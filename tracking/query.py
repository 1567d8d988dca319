"""Search filters and order_by clauses: parsed into a small tree, compiled to bound SQL.

A filter is MLflow's ``search_runs`` language::

    params.model = 'rf' AND (metrics.acc > 0.9 OR tags.`my tag` LIKE 'v2%')

The text is tokenised and parsed into `Comparison`, `BoolOp` and `Not` nodes; the compiler
in each store (`tracking.store.sql`) turns the tree into one SQL boolean expression, built only
from constant fragments, with every key and value passed as a bound parameter. Nothing the
user typed is ever pasted into SQL.

Semantics (as in MLflow, made precise):

- A comparison on a key the run does not have is false; ``!=`` and ``NOT IN`` mean "the run
  has the key, with another value". ``X IS NULL`` means the run has no such key (for an
  attribute: the column is NULL). Every comparison is two-valued, so ``NOT`` is plain
  negation: ``NOT params.x = 'a'`` also matches runs without ``x``.
- ``params`` and ``tags`` compare as text (byte order). A param compared with a number
  (``= != < <= > >= IN NOT IN``) compares numerically, and only params logged as int or
  float take part ("inf"/"-inf" are infinite, "nan" never matches). Tags need strings.
- ``metrics`` (the latest value) compare with numbers only; NaN never satisfies a comparison,
  ``!=`` included; a NaN metric still counts as present for ``IS NULL``/``IS NOT NULL``.
- ``attributes.start_time``, ``end_time`` and ``experiment_id`` need numbers; ``run_id``,
  ``run_name``, ``status`` and ``parent_run_id`` need strings.
- MLflow's system tags (`SYSTEM_TAGS`) are read from sweepbook's own fields:
  ``tags.mlflow.runName`` is ``attributes.run_name``, ``tags.mlflow.parentRunId`` is
  ``attributes.parent_run_id``, ``tags.mlflow.user`` is ``tags.sys.user``.
- ``LIKE`` is case-sensitive, ``ILIKE`` ignores case (ASCII letters only, as SQLite's
  ``lower``). In both, ``%`` is any run of characters, ``_`` one character, and a backslash
  makes the next character literal (``'50\\\\%'`` or ``'50\\%'`` both mean "50%").

Limits, each refused with `FilterSyntaxError`: 20,000 characters, 50 nested parentheses,
500 comparisons, 1,000 values in one IN list, 20 order_by clauses.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from tracking.errors import FilterSyntaxError

__all__ = [
    "BoolOp",
    "Comparison",
    "Expr",
    "Not",
    "OrderKey",
    "parse_filter",
    "parse_order_by",
]

MAX_FILTER_LENGTH = 20_000
MAX_NESTING = 50
MAX_COMPARISONS = 500
MAX_IN_LIST = 1_000
MAX_ORDER_BY = 20

# --- the tree -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """One test: ``kind.key op value``; `position` is where the key starts in the filter.

    `op` is one of ``= != < <= > >= LIKE ILIKE IN NOT IN IS NULL IS NOT NULL``; `value` is a
    str or number, a tuple of them for IN / NOT IN, and None for IS [NOT] NULL.
    """

    kind: str
    key: str
    op: str
    value: str | float | int | tuple[str | float | int, ...] | None
    position: int = 0


@dataclass(frozen=True)
class BoolOp:
    """``AND`` or ``OR`` over two or more operands."""

    op: str
    operands: tuple[Expr, ...]


@dataclass(frozen=True)
class Not:
    """``NOT operand``."""

    operand: Expr


Expr = Comparison | BoolOp | Not


@dataclass(frozen=True)
class OrderKey:
    """One order_by clause: ``metrics.acc DESC`` -> OrderKey('metrics', 'acc', ascending=False)."""

    kind: str
    key: str
    ascending: bool = True


# --- vocabulary ---------------------------------------------------------------------------

_PREFIXES = {
    "params": "params",
    "param": "params",
    "metrics": "metrics",
    "metric": "metrics",
    "tags": "tags",
    "tag": "tags",
    "attributes": "attributes",
    "attribute": "attributes",
    "attr": "attributes",
    "run": "attributes",
}
NUMERIC_ATTRIBUTES = frozenset({"start_time", "end_time", "experiment_id"})
TEXT_ATTRIBUTES = frozenset({"run_id", "run_name", "status", "parent_run_id"})
ATTRIBUTES = NUMERIC_ATTRIBUTES | TEXT_ATTRIBUTES
"""Run attributes a filter or order_by may name; each is a column of the runs table."""
_VALID_ATTRIBUTES = ", ".join(sorted(ATTRIBUTES))
SYSTEM_TAGS: dict[str, tuple[str, str]] = {
    "mlflow.runName": ("attributes", "run_name"),
    "mlflow.parentRunId": ("attributes", "parent_run_id"),
    "mlflow.user": ("tags", "sys.user"),
    "mlflow.source.name": ("tags", "sys.entry_point"),
    "mlflow.source.git.commit": ("tags", "sys.git.commit"),
}
"""MLflow's system tags that a filter or order_by may name, each read from sweepbook's own
field: ``tags.mlflow.parentRunId = 'x'`` is ``attributes.parent_run_id = 'x'``."""

_KEYWORDS = {"AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "ILIKE", "ASC", "DESC"}
_CMP_OPS = {"=": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_COMPARATORS = frozenset(_CMP_OPS.values())
_ALL_OPS = _COMPARATORS | {"LIKE", "ILIKE", "IN", "NOT IN", "IS NULL", "IS NOT NULL"}
_UNICODE_QUOTES = "\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f\u2032\u2033\u00ab\u00bb"
_BARE_KEY_PUNCTUATION = frozenset("_-.:/")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# --- errors -------------------------------------------------------------------------------


def _show(text: str) -> str:
    """A token as the error shows it: quoted, escaped, cut to 40 characters."""
    return repr(text if len(text) <= 40 else text[:40] + "...")


def _error(where: str, message: str, position: int) -> FilterSyntaxError:
    """The error to raise; control characters are escaped so the message stays one line."""
    text = f"{where}: {message}"
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return FilterSyntaxError(text, position)


# --- tokens -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: str  # IDENT KEYWORD WORD STRING NUMBER OP ( ) , EOF
    value: object
    position: int
    text: str


def _describe(token: _Token) -> str:
    if token.kind == "EOF":
        return "end of input"
    if token.kind == "STRING":
        return f"string {_show(token.text)}"
    return _show(token.text)


def _read_quoted(text: str, start: int, where: str) -> tuple[str, int]:
    """Read a quoted run from text[start] (the quote); return (content, index after it).

    Backslash escapes ``\\'``, ``\\"``, ``\\\\`` and ``\\```; other backslashes stay as typed.
    A doubled quote stands for itself.
    """
    quote = text[start]
    out: list[str] = []
    i = start + 1
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n:
            nxt = text[i + 1]
            out.append(nxt if nxt in "'\"`\\" else c + nxt)
            i += 2
        elif c == quote:
            if i + 1 < n and text[i + 1] == quote:
                out.append(quote)
                i += 2
            else:
                return "".join(out), i + 1
        elif c == "\x00":
            raise _error(where, "NUL character '\\x00' is not allowed", i)
        else:
            out.append(c)
            i += 1
    kind = "back-quoted key" if quote == "`" else "string"
    raise _error(where, f"unterminated {kind} {_show(text[start:])}", start)


def _number(source: str) -> int | float:
    if any(ch in source for ch in ".eE") or len(source.lstrip("+-")) > 18:
        return float(source)
    return int(source)


def _tokens(text: str, where: str) -> Iterator[_Token]:
    """Yield tokens lazily, so the first error in reading order is the one reported."""
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c == "\x00":
            raise _error(where, "NUL character '\\x00' is not allowed", i)
        elif c in _UNICODE_QUOTES:
            raise _error(where, f"{_show(c)} is not a quote; use ' or \"", i)
        elif c in "(),":
            yield _Token(c, c, i, c)
            i += 1
        elif c in "=!<>":
            two = text[i : i + 2]
            op = two if two in _CMP_OPS else c
            if op not in _CMP_OPS:
                raise _error(where, f"unexpected token {_show(op)}", i)
            yield _Token("OP", _CMP_OPS[op], i, op)
            i += len(op)
        elif c in "'\"":
            value, end = _read_quoted(text, i, where)
            yield _Token("STRING", value, i, text[i:end])
            i = end
        elif (m := _NUMBER.match(text, i)) is not None:
            end = m.end()
            if end < n and (text[end].isalnum() or text[end] in "_."):
                stop = end
                while stop < n and (text[stop].isalnum() or text[stop] in "_."):
                    stop += 1
                raise _error(where, f"malformed number {_show(text[i:stop])}", i)
            yield _Token("NUMBER", _number(m.group()), i, m.group())
            i = end
        elif (m := _WORD.match(text, i)) is not None:
            word = m.group()
            end = m.end()
            if end < n and text[end] == ".":
                token, i = _identifier(text, i, word, end + 1, where)
                yield token
            elif word.upper() in _KEYWORDS:
                yield _Token("KEYWORD", word.upper(), i, word)
                i = end
            else:
                yield _Token("WORD", word, i, word)
                i = end
        else:
            raise _error(where, f"unexpected token {_show(c)}", i)
    yield _Token("EOF", None, n, "")


def _identifier(text: str, start: int, prefix: str, i: int, where: str) -> tuple[_Token, int]:
    """Read ``prefix.key`` (key bare, back-quoted or double-quoted) from just after the dot.

    Returns the IDENT token and the index after it. A bare key is letters, digits and
    ``_ - . : /``; any other key needs back-quotes (``tags.`my key```) or double quotes.
    """
    kind = _PREFIXES.get(prefix.lower())
    if kind is None:
        valid = "params, metrics, tags, attributes"
        raise _error(where, f"unknown identifier prefix {_show(prefix)}; valid: {valid}", start)
    n = len(text)
    if i < n and text[i] in '`"':
        key, end = _read_quoted(text, i, where)
    else:
        end = i
        while end < n and (text[end].isalnum() or text[end] in _BARE_KEY_PUNCTUATION):
            end += 1
        key = text[i:end]
    if not key:
        raise _error(where, f"expected a key after {_show(text[start:i])}", i)
    if kind == "attributes" and key not in ATTRIBUTES:
        message = f"unknown attribute {_show(key)}; valid: {_VALID_ATTRIBUTES}"
        raise _error(where, message, start)
    if kind == "tags" and key in SYSTEM_TAGS:
        kind, key = SYSTEM_TAGS[key]
    return _Token("IDENT", (kind, key), start, text[start:end]), end


# --- parsing ------------------------------------------------------------------------------


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _validate(comparison: Comparison, where: str, value_position: int) -> None:
    """Refuse a comparison the compiler cannot give a meaning to (kind, op and value type)."""
    kind, key, op, value = comparison.kind, comparison.key, comparison.op, comparison.value
    at = comparison.position
    if kind not in ("params", "metrics", "tags", "attributes"):
        raise _error(where, f"unknown kind {_show(str(kind))}", at)
    if not isinstance(key, str) or not key:
        raise _error(where, f"expected a key after '{kind}.'", at)
    if kind == "attributes" and key not in ATTRIBUTES:
        raise _error(where, f"unknown attribute {_show(key)}; valid: {_VALID_ATTRIBUTES}", at)
    if op not in _ALL_OPS:
        raise _error(where, f"unknown operator {_show(str(op))}", at)
    name = f"{kind}.{key}"
    if op in ("IS NULL", "IS NOT NULL"):
        if value is not None:
            raise _error(where, f"{op} takes no value, got {_show(str(value))}", value_position)
        return
    if op in ("IN", "NOT IN"):
        if not isinstance(value, tuple) or not value:
            raise _error(where, f"{op} needs a non-empty list of values", value_position)
        if len(value) > MAX_IN_LIST:
            raise _error(where, f"IN list longer than {MAX_IN_LIST} values", value_position)
        values = value
    else:
        values = (value,)
    strings = all(isinstance(v, str) for v in values)
    numbers = all(_is_number(v) for v in values)
    if not (strings or numbers):
        raise _error(where, f"{op} after {name} mixes strings and numbers", value_position)
    if op in ("LIKE", "ILIKE"):
        if kind == "metrics" or key in NUMERIC_ATTRIBUTES:
            raise _error(where, f"{op} does not apply to the number {name}", value_position)
        if not strings:
            raise _error(where, f"{op} needs a quoted pattern, got {value!r}", value_position)
    elif kind == "metrics" or (kind == "attributes" and key in NUMERIC_ATTRIBUTES):
        if not numbers:
            got = _show(str(values[0]))
            raise _error(where, f"{name} compares with numbers, got string {got}", value_position)
    elif kind == "tags" or kind == "attributes":
        if not strings:
            got = _show(repr(values[0]))
            raise _error(where, f"{name} compares as text; quote the value {got}", value_position)


class _Parser:
    """Recursive descent, depth-limited by MAX_NESTING; AND binds tighter than OR."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text, "filter")
        self.token = next(self.tokens)
        self.depth = 0
        self.comparisons = 0

    def advance(self) -> _Token:
        token = self.token
        if token.kind != "EOF":
            self.token = next(self.tokens)
        return token

    def at_keyword(self, word: str) -> bool:
        return self.token.kind == "KEYWORD" and self.token.value == word

    def fail(self, message: str) -> FilterSyntaxError:
        return _error("filter", message, self.token.position)

    def parse(self) -> Expr:
        expr = self.parse_or()
        if self.token.kind != "EOF":
            raise self.fail(f"unexpected token {_describe(self.token)}; expected AND, OR or end")
        return expr

    def parse_or(self) -> Expr:
        operands = [self.parse_and()]
        while self.at_keyword("OR"):
            self.advance()
            operands.append(self.parse_and())
        return operands[0] if len(operands) == 1 else BoolOp("OR", tuple(operands))

    def parse_and(self) -> Expr:
        operands = [self.parse_not()]
        while self.at_keyword("AND"):
            self.advance()
            operands.append(self.parse_not())
        return operands[0] if len(operands) == 1 else BoolOp("AND", tuple(operands))

    def parse_not(self) -> Expr:
        negations = 0
        while self.at_keyword("NOT"):
            self.advance()
            negations += 1
        operand = self.parse_primary()
        return Not(operand) if negations % 2 else operand

    def parse_primary(self) -> Expr:
        token = self.token
        if token.kind == "(":
            if self.depth >= MAX_NESTING:
                raise self.fail(f"more than {MAX_NESTING} nested parentheses at '('")
            self.depth += 1
            self.advance()
            expr = self.parse_or()
            if self.token.kind != ")":
                opened = f"'(' at position {token.position}"
                raise self.fail(f"expected ')' to close {opened}, got {_describe(self.token)}")
            self.advance()
            self.depth -= 1
            return expr
        if token.kind == "IDENT":
            return self.parse_comparison()
        raise self.fail(f"expected a key like params.x, got {_describe(token)}")

    def parse_comparison(self) -> Comparison:
        ident = self.advance()
        self.comparisons += 1
        if self.comparisons > MAX_COMPARISONS:
            message = f"more than {MAX_COMPARISONS} comparisons at {_show(ident.text)}"
            raise _error("filter", message, ident.position)
        kind, key = ident.value  # type: ignore[misc]
        token = self.advance()
        value_position = self.token.position
        value: str | float | int | tuple[str | float | int, ...] | None
        if token.kind == "OP":
            op = str(token.value)
            value = self.parse_literal(token.text)
        elif token.kind == "KEYWORD" and token.value in ("LIKE", "ILIKE"):
            op = str(token.value)
            value = self.parse_literal(token.text)
        elif token.kind == "KEYWORD" and token.value == "IN":
            op, value = "IN", self.parse_list(token)
        elif token.kind == "KEYWORD" and token.value == "NOT":
            if not self.at_keyword("IN"):
                raise self.fail(f"expected IN after 'NOT', got {_describe(self.token)}")
            op, value = "NOT IN", self.parse_list(self.advance())
        elif token.kind == "KEYWORD" and token.value == "IS":
            op = "IS NULL"
            if self.at_keyword("NOT"):
                self.advance()
                op = "IS NOT NULL"
            if not self.at_keyword("NULL"):
                raise self.fail(f"expected NULL after '{op[:-5]}', got {_describe(self.token)}")
            self.advance()
            value = None
        else:
            message = f"expected an operator after {_show(ident.text)}, got {_describe(token)}"
            raise _error("filter", message, token.position)
        comparison = Comparison(kind, key, op, value, ident.position)
        _validate(comparison, "filter", value_position)
        return comparison

    def parse_literal(self, after: str) -> str | float | int:
        token = self.token
        if token.kind not in ("STRING", "NUMBER"):
            raise self.fail(f"expected a value after {_show(after)}, got {_describe(token)}")
        self.advance()
        return token.value  # type: ignore[return-value]

    def parse_list(self, keyword: _Token) -> tuple[str | float | int, ...]:
        if self.token.kind != "(":
            got = _describe(self.token)
            raise self.fail(f"expected '(' after {_show(keyword.text)}, got {got}")
        self.advance()
        values = [self.parse_literal("(")]
        while self.token.kind == ",":
            if len(values) >= MAX_IN_LIST:
                raise self.fail(f"IN list longer than {MAX_IN_LIST} values")
            self.advance()
            values.append(self.parse_literal(","))
        if self.token.kind != ")":
            raise self.fail(f"expected ',' or ')' in the IN list, got {_describe(self.token)}")
        self.advance()
        return tuple(values)


def parse_filter(text: str) -> Expr | None:
    """Parse a search filter into a tree; None for an empty or blank filter.

    >>> parse_filter("params.model = 'rf' and metrics.acc > 0.9")
    BoolOp(op='AND', operands=(Comparison(kind='params', key='model', op='=', value='rf', \
position=0), Comparison(kind='metrics', key='acc', op='>', value=0.9, position=24)))

    Raises FilterSyntaxError, with the 0-based position of the offending token.
    """
    if not isinstance(text, str):
        raise FilterSyntaxError(f"filter: expected a string, got {type(text).__name__}")
    if len(text) > MAX_FILTER_LENGTH:
        message = f"filter: longer than {MAX_FILTER_LENGTH} characters ({len(text)})"
        raise FilterSyntaxError(message, MAX_FILTER_LENGTH)
    if not text.strip():
        return None
    return _Parser(text).parse()


# --- order_by -----------------------------------------------------------------------------


def parse_order_by(clauses: Sequence[str] | str | None) -> list[OrderKey]:
    """Parse order_by clauses such as ``["metrics.acc DESC", "params.`my lr` ASC"]``.

    Each clause is one key, optionally followed by ASC (the default) or DESC. A single
    string is taken as one clause.

    >>> parse_order_by(["metrics.acc DESC"])
    [OrderKey(kind='metrics', key='acc', ascending=False)]
    """
    if clauses is None:
        return []
    if isinstance(clauses, str):
        clauses = [clauses]
    if len(clauses) > MAX_ORDER_BY:
        raise FilterSyntaxError(f"order_by: more than {MAX_ORDER_BY} clauses ({len(clauses)})")
    keys = []
    for clause in clauses:
        if not isinstance(clause, str):
            raise FilterSyntaxError(f"order_by: expected a string, got {_show(repr(clause))}")
        where = f"order_by {_show(clause)}"
        if len(clause) > MAX_FILTER_LENGTH:
            raise _error(where, f"longer than {MAX_FILTER_LENGTH} characters", MAX_FILTER_LENGTH)
        tokens = _tokens(clause, where)
        ident = next(tokens)
        if ident.kind != "IDENT":
            raise _error(
                where, f"expected a key like metrics.acc, got {_describe(ident)}", ident.position
            )
        direction = next(tokens)
        ascending = True
        if direction.kind == "KEYWORD" and direction.value in ("ASC", "DESC"):
            ascending = direction.value == "ASC"
            direction = next(tokens)
        if direction.kind != "EOF":
            message = f"unexpected token {_describe(direction)}; expected ASC, DESC or end"
            raise _error(where, message, direction.position)
        kind, key = ident.value  # type: ignore[misc]
        keys.append(OrderKey(kind, key, ascending))
    return keys
