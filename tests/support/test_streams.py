"""The stream test machinery's pure parts (tests/support/streams.py). `StreamReader` itself needs
DynamoDB Local: tests/integration/test_lifecycle_worker.py finds exactly one REMOVE per document
through it, which fails if it misses or repeats a record."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.streams import TTL_USER_IDENTITY, as_ttl_removal, keys_of, lambda_record

ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026-11-29T00:00:00.000"
BOTO3_RECORD: dict[str, Any] = {
    "eventID": "e1",
    "eventName": "REMOVE",
    "eventSource": "aws:dynamodb",
    "dynamodb": {
        "ApproximateCreationDateTime": datetime(2026, 11, 29, 14, 36, tzinfo=UTC),
        "Keys": {"PK": {"S": "USER#u1"}, "SK": {"S": "DOC#01ABC"}},
        "OldImage": {"PK": {"S": "USER#u1"}, "SK": {"S": "DOC#01ABC"}, "size": {"N": "3"}},
        "SequenceNumber": "000000000000000000002",
    },
}


def test_a_record_is_shaped_as_lambda_delivers_it() -> None:
    shaped = lambda_record(BOTO3_RECORD, ARN)

    assert shaped["eventSourceARN"] == ARN
    assert shaped["dynamodb"]["ApproximateCreationDateTime"] == datetime(2026, 11, 29, 14, 36, tzinfo=UTC).timestamp()
    assert shaped["dynamodb"]["OldImage"] == BOTO3_RECORD["dynamodb"]["OldImage"]
    assert isinstance(BOTO3_RECORD["dynamodb"]["ApproximateCreationDateTime"], datetime)  # the input is untouched


def test_what_json_cannot_carry_is_refused() -> None:
    record = copy.deepcopy(BOTO3_RECORD)
    record["dynamodb"]["OldImage"]["blob"] = {"B": b"\x00"}

    with pytest.raises(TypeError):
        lambda_record(record, ARN)


def test_a_ttl_removal_is_the_same_record_with_ttls_identity() -> None:
    shaped = lambda_record(BOTO3_RECORD, ARN)

    removal = as_ttl_removal(shaped)

    assert removal == {**shaped, "userIdentity": TTL_USER_IDENTITY}
    assert "userIdentity" not in shaped


def test_only_a_remove_can_become_a_ttl_removal() -> None:
    with pytest.raises(ValueError, match="MODIFY"):
        as_ttl_removal({**BOTO3_RECORD, "eventName": "MODIFY"})


def test_keys_of_a_record() -> None:
    assert keys_of(BOTO3_RECORD) == ("USER#u1", "DOC#01ABC")
