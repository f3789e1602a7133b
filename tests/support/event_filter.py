"""Lambda event filtering, evaluated offline: does a record pass an event source mapping's filter?

Lambda filters stream records with EventBridge's pattern syntax before it invokes the function
(https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html). No engine here runs
that matcher, so this is a small, strict re-implementation of the part Folio uses:

- a pattern is a dict; each key must exist in the record; a dict value recurses into the record's
  dict, a list value lists alternatives for the record's scalar (or any element of its list);
- an alternative is a literal (string, number, null, matched by equality, 5 and 5.0 alike) or one of
  `{"prefix": s}`, `{"exists": bool}`, `{"anything-but": literal or [literals]}`;
- several patterns (a mapping's `Filters`) pass a record when any one does.

Any other operator raises `UnsupportedFilter` rather than being guessed: a test that silently
evaluated an unknown operator as "no match" could pass for the wrong reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

_MISSING = object()


class UnsupportedFilter(ValueError):
    """A pattern uses syntax this matcher does not implement."""


def _literal_equal(pattern: Any, value: Any) -> bool:
    if isinstance(pattern, bool) or isinstance(value, bool):
        return pattern is value
    if isinstance(pattern, int | float) and isinstance(value, int | float):
        return float(pattern) == float(value)
    return type(pattern) is type(value) and pattern == value


def _alternative_matches(alternative: Any, value: Any) -> bool:
    if not isinstance(alternative, dict):
        return value is not _MISSING and _literal_equal(alternative, value)
    if len(alternative) != 1:
        raise UnsupportedFilter(f"an operator object has exactly one key: {alternative}")
    ((operator, operand),) = alternative.items()
    if operator == "exists":
        return (value is not _MISSING) is bool(operand)
    if value is _MISSING:
        return False
    if operator == "prefix":
        if not isinstance(operand, str):
            raise UnsupportedFilter(f"prefix takes a string: {alternative}")
        return isinstance(value, str) and value.startswith(operand)
    if operator == "anything-but":
        excluded = operand if isinstance(operand, list) else [operand]
        if any(isinstance(e, dict) for e in excluded):
            raise UnsupportedFilter(f"anything-but with an operator is not implemented: {alternative}")
        return not any(_literal_equal(e, value) for e in excluded)
    raise UnsupportedFilter(f"filter operator {operator!r} is not implemented")


def _leaf_matches(alternatives: list[Any], value: Any) -> bool:
    if isinstance(value, dict):
        # A list of alternatives is compared with a scalar; against an object only "exists" can match.
        return any(isinstance(a, dict) and set(a) == {"exists"} and a["exists"] is True for a in alternatives)
    candidates = value if isinstance(value, list) else [value]
    if not candidates:
        candidates = [_MISSING]
    return any(_alternative_matches(a, c) for a in alternatives for c in candidates)


def matches(pattern: Mapping[str, Any], record: Any) -> bool:
    """Does `record` (a JSON-like dict) pass one filter pattern?"""
    if not isinstance(pattern, Mapping):
        raise UnsupportedFilter(f"a pattern is an object: {pattern!r}")
    for name, expected in pattern.items():
        value = record.get(name, _MISSING) if isinstance(record, Mapping) else _MISSING
        if isinstance(expected, Mapping):
            if not isinstance(value, Mapping) or not matches(expected, value):
                return False
        elif isinstance(expected, list):
            if not expected:
                raise UnsupportedFilter(f"an empty list of alternatives for {name!r} matches nothing")
            if not _leaf_matches(expected, value):
                return False
        else:
            raise UnsupportedFilter(f"a pattern's leaf is a list of alternatives, not {expected!r} ({name!r})")
    return True


def passes(patterns: Iterable[Mapping[str, Any]], record: Any) -> bool:
    """Does `record` pass an event source mapping whose filters are `patterns` (any one suffices)?"""
    patterns = list(patterns)
    if not patterns:
        raise UnsupportedFilter("a mapping without filters passes everything; say so explicitly")
    return any(matches(p, record) for p in patterns)
