"""The subset of SOQL that the local Salesforce server (`sandbox.salesforce_server`) answers.

Developer tool: parses and runs SELECT queries over in-memory records the way Salesforce does,
strictly enough that a badly quoted value fails with MALFORMED_QUERY instead of matching:

    SELECT field, Parent.field, (SELECT ... FROM ChildRelationship WHERE ... ORDER BY ... LIMIT n)
    FROM Object [WHERE cond] [ORDER BY field [ASC|DESC], ...] [LIMIT n]

Conditions: `=  !=  <  <=  >  >=  LIKE  IN (...)`, `AND`, `OR`, `NOT`, parentheses; values are
'strings' (backslash escapes as in SOQL), numbers, true/false/null and YYYY-MM-DD dates.
String comparisons ignore case, as Salesforce's do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


class SoqlError(Exception):
    """A query Salesforce would refuse: `code` is its errorCode (MALFORMED_QUERY...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


_ESCAPES = {
    "\\": "\\",
    "'": "'",
    '"': '"',
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "b": "\b",
    "f": "\f",
    "%": "\\%",
    "_": "\\_",
}  # \% and \_ stay escaped for LIKE
_TOKEN = re.compile(
    r"\s*(?:(?P<date>\d{4}-\d{2}-\d{2})(?![\d:])|(?P<number>-?\d+(?:\.\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)"
    r"|(?P<op><=|>=|!=|<>|[=<>(),])|(?P<quote>'))"
)
_KEYWORDS = {
    "SELECT",
    "FROM",
    "WHERE",
    "ORDER",
    "BY",
    "LIMIT",
    "AND",
    "OR",
    "NOT",
    "LIKE",
    "IN",
    "ASC",
    "DESC",
    "NULLS",
    "FIRST",
    "LAST",
    "TRUE",
    "FALSE",
    "NULL",
}


@dataclass
class Query:
    obj: str
    fields: list[str | Query]
    where: Any = None
    order: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    limit: int | None = None


def tokenize(text: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match:
            bad = text[pos:].strip().split()[0]
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: {bad}")
        pos = match.end()
        kind = match.lastgroup
        if kind == "quote":
            value, pos = _string(text, pos)
            tokens.append(("string", value))
        elif kind == "name" and match.group("name").upper() in _KEYWORDS:
            tokens.append(("kw", match.group("name").upper()))
        else:
            tokens.append((str(kind), match.group(str(kind))))
    return tokens


def _string(text: str, pos: int) -> tuple[str, int]:
    out = []
    while pos < len(text):
        char = text[pos]
        if char == "\\":
            nxt = text[pos + 1 : pos + 2]
            if nxt not in _ESCAPES:
                raise SoqlError("MALFORMED_QUERY", f"Invalid string literal: bad escape \\{nxt}")
            out.append(_ESCAPES[nxt])
            pos += 2
        elif char == "'":
            return "".join(out), pos + 1
        else:
            out.append(char)
            pos += 1
    raise SoqlError("MALFORMED_QUERY", "unterminated string literal")


class _Parser:
    def __init__(self, tokens: list[tuple[str, Any]]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self) -> tuple[str, Any]:
        return self.tokens[self.i] if self.i < len(self.tokens) else ("end", None)

    def take(self, kind: str, value: Any = None) -> Any:
        tok = self.peek()
        if tok[0] != kind or (value is not None and tok[1] != value):
            shown = tok[1] if tok[0] != "end" else "<EOF>"
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: {shown}")
        self.i += 1
        return tok[1]

    def accept(self, kind: str, value: Any = None) -> bool:
        tok = self.peek()
        if tok[0] == kind and (value is None or tok[1] == value):
            self.i += 1
            return True
        return False

    def query(self) -> Query:
        self.take("kw", "SELECT")
        fields: list[str | Query] = []
        while True:
            if self.accept("op", "("):
                fields.append(self.query())
                self.take("op", ")")
            else:
                fields.append(self.take("name"))
            if not self.accept("op", ","):
                break
        self.take("kw", "FROM")
        q = Query(obj=self.take("name"), fields=fields)
        if self.accept("kw", "WHERE"):
            q.where = self.condition()
        if self.accept("kw", "ORDER"):
            self.take("kw", "BY")
            while True:
                name = self.take("name")
                desc = self.accept("kw", "DESC") or (self.accept("kw", "ASC") and False)
                if self.accept("kw", "NULLS") and not self.accept("kw", "FIRST"):
                    self.take("kw", "LAST")
                q.order.append((name, desc))
                if not self.accept("op", ","):
                    break
        if self.accept("kw", "LIMIT"):
            q.limit = int(self.take("number"))
        return q

    def condition(self) -> Any:
        parts = [self.conjunction()]
        while self.accept("kw", "OR"):
            parts.append(self.conjunction())
        return ("or", parts) if len(parts) > 1 else parts[0]

    def conjunction(self) -> Any:
        parts = [self.unary()]
        while self.accept("kw", "AND"):
            parts.append(self.unary())
        return ("and", parts) if len(parts) > 1 else parts[0]

    def unary(self) -> Any:
        if self.accept("kw", "NOT"):
            return ("not", self.unary())
        if self.accept("op", "("):
            inner = self.condition()
            self.take("op", ")")
            return inner
        name = self.take("name")
        if self.accept("kw", "IN"):
            self.take("op", "(")
            values = [self.value()]
            while self.accept("op", ","):
                values.append(self.value())
            self.take("op", ")")
            return ("in", name, values)
        if self.accept("kw", "LIKE"):
            return ("like", name, self.value())
        tok = self.peek()
        if tok[0] != "op" or tok[1] not in ("=", "!=", "<>", "<", "<=", ">", ">="):
            raise SoqlError("MALFORMED_QUERY", f"unexpected token: {tok[1] or '<EOF>'}")
        self.i += 1
        return ("cmp", tok[1], name, self.value())

    def value(self) -> Any:
        kind, raw = self.peek()
        self.i += 1
        if kind in ("string", "date"):
            return raw
        if kind == "number":
            return float(raw)
        if kind == "kw" and raw in ("TRUE", "FALSE", "NULL"):
            return {"TRUE": True, "FALSE": False, "NULL": None}[raw]
        raise SoqlError("MALFORMED_QUERY", f"unexpected token: {raw or '<EOF>'}")


def parse(text: str) -> Query:
    """Parse a query, or raise SoqlError(MALFORMED_QUERY)."""
    parser = _Parser(tokenize(text))
    query = parser.query()
    if parser.peek()[0] != "end":
        raise SoqlError("MALFORMED_QUERY", f"unexpected token: {parser.peek()[1]}")
    return query


def matches(condition: Any, get: Any) -> bool:
    """Evaluate a parsed WHERE condition; `get(field)` reads a field of the record."""
    if condition is None:
        return True
    op = condition[0]
    if op == "and":
        return all(matches(c, get) for c in condition[1])
    if op == "or":
        return any(matches(c, get) for c in condition[1])
    if op == "not":
        return not matches(condition[1], get)
    if op == "in":
        value = get(condition[1])
        return any(_equal(value, v) for v in condition[2])
    if op == "like":
        value, pattern = get(condition[1]), condition[2]
        return value is not None and _like(str(pattern)).fullmatch(str(value)) is not None
    _, cmp, name, wanted = condition
    value = get(name)
    if cmp in ("=", "!=", "<>"):
        return _equal(value, wanted) == (cmp == "=")
    if value is None or wanted is None:
        return False
    a, b = _comparable(value), _comparable(wanted)
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[cmp]


def _equal(value: Any, wanted: Any) -> bool:
    if value is None or wanted is None:
        return value is None and wanted is None
    return bool(_comparable(value) == _comparable(wanted))


def _comparable(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    return str(value).casefold()


def _like(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append({"%": ".*", "_": "."}.get(pattern[i]) or re.escape(pattern[i]))
        i += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)
