"""The offline Lambda event-filter matcher (tests/support/event_filter.py), on the examples of
Lambda's filtering documentation for DynamoDB records and on what it must refuse to guess."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.event_filter import UnsupportedFilter, matches, passes

REMOVE_OF_A_DOCUMENT: dict[str, Any] = {
    "eventName": "REMOVE",
    "dynamodb": {"Keys": {"PK": {"S": "USER#u1"}, "SK": {"S": "DOC#01ABC"}}, "SequenceNumber": "100"},
    "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
}
ON_DOCUMENT_REMOVE = {"eventName": ["REMOVE"], "dynamodb": {"Keys": {"SK": {"S": [{"prefix": "DOC#"}]}}}}


def test_equality_and_prefix_on_nested_keys() -> None:
    assert matches(ON_DOCUMENT_REMOVE, REMOVE_OF_A_DOCUMENT)


@pytest.mark.parametrize(
    "change",
    [
        {"eventName": "MODIFY"},
        {"eventName": "INSERT"},
        {"dynamodb": {"Keys": {"PK": {"S": "USER#u1"}, "SK": {"S": "TAG#a#DOC#01ABC"}}}},
        {"dynamodb": {"Keys": {"PK": {"S": "USER#u1"}, "SK": {"S": "XDOC#01ABC"}}}},
        {"dynamodb": {"Keys": {"PK": {"S": "USER#u1"}}}},  # no sort key at all
        {"dynamodb": {"Keys": {"PK": {"S": "USER#u1"}, "SK": {"N": "1"}}}},  # another type
    ],
)
def test_a_record_that_differs_in_one_field_does_not_match(change: dict[str, Any]) -> None:
    assert not matches(ON_DOCUMENT_REMOVE, {**REMOVE_OF_A_DOCUMENT, **change})


def test_exists_anything_but_and_numbers() -> None:
    record = {"a": 5, "b": "x", "c": ["p", "q"]}

    assert matches({"a": [5.0], "b": [{"anything-but": ["y"]}], "d": [{"exists": False}]}, record)
    assert matches({"c": ["q"]}, record)  # any element of a list
    assert not matches({"b": [{"anything-but": "x"}]}, record)
    assert not matches({"a": [{"exists": False}]}, record)
    assert not matches({"a": ["5"]}, record)  # a string is not a number
    assert matches({"dynamodb": [{"exists": True}]}, {"dynamodb": {"k": 1}})


def test_any_pattern_of_several_passes_a_record() -> None:
    assert passes([{"eventName": ["INSERT"]}, ON_DOCUMENT_REMOVE], REMOVE_OF_A_DOCUMENT)
    assert not passes([{"eventName": ["INSERT"]}], REMOVE_OF_A_DOCUMENT)


@pytest.mark.parametrize(
    "pattern",
    [
        {"eventName": [{"suffix": "VE"}]},
        {"eventName": [{"numeric": [">", 1]}]},
        {"eventName": "REMOVE"},  # a bare value is not a pattern
        {"eventName": []},
        {"eventName": [{"prefix": "RE", "exists": True}]},
    ],
)
def test_syntax_it_does_not_implement_is_refused_not_guessed(pattern: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedFilter):
        matches(pattern, REMOVE_OF_A_DOCUMENT)


def test_no_filters_at_all_is_refused() -> None:
    with pytest.raises(UnsupportedFilter):
        passes([], REMOVE_OF_A_DOCUMENT)
