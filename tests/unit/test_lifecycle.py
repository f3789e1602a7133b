"""What a removal record means (folio.lifecycle) and the write adapter's side of the lifecycle worker,
without an engine: records built here, DynamoDB's answers from botocore's Stubber."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer
from botocore.stub import Stubber

from folio import keys, lifecycle
from folio.contracts import MAX_SHARES, MAX_TAGS
from folio.domain import AVAILABLE, SHARED_WITH
from folio.errors import Conflict
from folio.writes import DynamoDbWrites
from tests.support.stubbed_dynamodb import cancelled, offline_client

NOW = 1_800_000_000  # the record's ApproximateCreationDateTime
DOCUMENT: dict[str, Any] = {
    "PK": keys.user_partition("user-1"),
    "SK": keys.document_sort_key("01ABC"),
    "docId": "01ABC",
    "owner": "user-1",
    "size": 42,
    "tags": ["x", "y"],
    "status": AVAILABLE,
    "version": 3,
}
_serializer = TypeSerializer()


def removal_record(document: dict[str, Any] = DOCUMENT, **fields: Any) -> dict[str, Any]:
    image = {k: _serializer.serialize(v) for k, v in document.items()}
    return {
        "eventName": "REMOVE",
        "dynamodb": {
            "ApproximateCreationDateTime": NOW,
            "Keys": {"PK": image["PK"], "SK": image["SK"]},
            "OldImage": image,
            "SequenceNumber": "1",
        },
        **fields,
    }


# -- folio.lifecycle ------------------------------------------------------------------------------


def test_a_removal_carries_the_document_as_it_was() -> None:
    removal = lifecycle.removal_of(removal_record({**DOCUMENT, SHARED_WITH: {"u2"}}))

    assert removal is not None and not removal.expired
    assert removal.document["size"] == 42 and isinstance(removal.document["size"], int)
    assert removal.document["tags"] == ["x", "y"] and removal.document[SHARED_WITH] == {"u2"}


@pytest.mark.parametrize(
    ("expires_at", "identity", "expired"),
    [
        (None, None, False),  # an AVAILABLE document has no expiry: a request removed it
        (NOW + 86_400, None, False),  # a rejected upload: a day before it would have expired
        (NOW - 1, None, True),  # TTL in a replica Region: no identity, but expired
        (NOW + 59, None, True),  # the record's time is rounded down to the minute
        (NOW + 60, None, False),
        (None, lifecycle.TTL_USER_IDENTITY, True),  # TTL in this Region says so
    ],
)
def test_expired_means_ttl_said_so_or_the_expiry_had_passed(
    expires_at: int | None, identity: dict[str, str] | None, expired: bool
) -> None:
    document = dict(DOCUMENT) if expires_at is None else {**DOCUMENT, keys.TTL_ATTRIBUTE: expires_at}
    record = removal_record(document, **({"userIdentity": identity} if identity else {}))

    removal = lifecycle.removal_of(record)

    assert removal is not None and removal.expired is expired


def test_another_identity_is_not_ttl() -> None:
    record = removal_record(userIdentity={"type": "Service", "principalId": "someone.amazonaws.com"})

    removal = lifecycle.removal_of(record)

    assert removal is not None and not removal.expired


@pytest.mark.parametrize(
    "record",
    [
        {**removal_record(), "eventName": "MODIFY"},
        {**removal_record(), "eventName": "INSERT"},
        removal_record({**DOCUMENT, "SK": keys.tag_link_sort_key("x", "01ABC")}),
        removal_record({**DOCUMENT, "SK": keys.quota_released_sort_key("01ABC")}),
        removal_record({**DOCUMENT, "SK": keys.profile_sort_key()}),
    ],
)
def test_records_of_other_changes_or_items_are_not_acted_on(record: dict[str, Any]) -> None:
    assert not lifecycle.acts_on(record)
    assert lifecycle.removal_of(record) is None


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({**removal_record(), "dynamodb": {**removal_record()["dynamodb"], "OldImage": {}}}, "without its old image"),
        (removal_record({k: v for k, v in DOCUMENT.items() if k != "size"}), "no size"),
        (removal_record({**DOCUMENT, "owner": "user-2"}), "does not belong"),
    ],
)
def test_a_document_removal_it_cannot_act_on_fails_loudly(record: dict[str, Any], message: str) -> None:
    with pytest.raises(lifecycle.MalformedRecord, match=message):
        lifecycle.removal_of(record)


def test_the_filter_is_a_remove_of_a_document_sort_key() -> None:
    (pattern,) = lifecycle.lifecycle_filter_patterns()

    assert pattern == {"eventName": ["REMOVE"], "dynamodb": {"Keys": {"SK": {"S": [{"prefix": "DOC#"}]}}}}


# -- the write adapter -------------------------------------------------------------------------------


@pytest.fixture
def stubbed() -> Iterator[tuple[DynamoDbWrites, Stubber, list[dict[str, Any]]]]:
    client = offline_client()
    sent: list[dict[str, Any]] = []
    client.meta.events.register("provide-client-params.dynamodb.*", lambda params, **_: sent.append(params))
    with Stubber(client) as stubber:
        yield DynamoDbWrites(client, "folio-documents"), stubber, sent
        stubber.assert_no_pending_responses()


def test_a_purge_of_the_largest_document_fits_one_transaction_and_marks_its_release(
    stubbed: tuple[DynamoDbWrites, Stubber, list[dict[str, Any]]],
) -> None:
    writes, stubber, sent = stubbed
    largest = {
        **DOCUMENT,
        "tags": [f"t{i}" for i in range(MAX_TAGS)],
        SHARED_WITH: {f"u{i}" for i in range(MAX_SHARES)},
    }
    stubber.add_response("transact_write_items", {})

    writes.purge(largest)

    (request,) = sent
    items = request["TransactItems"]
    markers = [i for i in items if "Put" in i and i["Put"]["Item"]["SK"]["S"] == keys.quota_released_sort_key("01ABC")]
    assert len(items) == 3 + MAX_TAGS + MAX_SHARES <= 100
    assert len(markers) == 1 and markers[0]["Put"]["ConditionExpression"] == "attribute_not_exists(#pk)"
    assert keys.TTL_ATTRIBUTE in markers[0]["Put"]["Item"]


def test_an_expired_quota_is_released_with_its_marker(
    stubbed: tuple[DynamoDbWrites, Stubber, list[dict[str, Any]]],
) -> None:
    writes, stubber, sent = stubbed
    stubber.add_response("transact_write_items", {})

    assert writes.release_expired_quota(DOCUMENT) is True
    (request,) = sent
    marker, profile = request["TransactItems"]
    assert marker["Put"]["Item"]["SK"]["S"] == keys.quota_released_sort_key("01ABC")
    assert profile["Update"]["Key"]["SK"]["S"] == keys.profile_sort_key()


def test_a_quota_released_before_is_not_released_again(
    stubbed: tuple[DynamoDbWrites, Stubber, list[dict[str, Any]]],
) -> None:
    writes, stubber, _ = stubbed
    stubber.add_client_error("transact_write_items", **cancelled("ConditionalCheckFailed", "None"))

    assert writes.release_expired_quota(DOCUMENT) is False


def test_a_release_that_loses_a_race_raises_so_the_record_is_retried(
    stubbed: tuple[DynamoDbWrites, Stubber, list[dict[str, Any]]],
) -> None:
    writes, stubber, _ = stubbed
    stubber.add_client_error("transact_write_items", **cancelled("None", "TransactionConflict"))

    with pytest.raises(Conflict):
        writes.release_expired_quota(DOCUMENT)


def test_leftovers_are_deleted_one_by_one_by_key(
    stubbed: tuple[DynamoDbWrites, Stubber, list[dict[str, Any]]],
) -> None:
    writes, stubber, sent = stubbed
    document = {**DOCUMENT, SHARED_WITH: {"u2"}}
    for _ in range(3):
        stubber.add_response("delete_item", {})

    writes.delete_leftovers(document)

    assert [r["Key"]["SK"]["S"] for r in sent] == [
        keys.tag_link_sort_key("x", "01ABC"),
        keys.tag_link_sort_key("y", "01ABC"),
        keys.share_sort_key("01ABC", "u2"),
    ]
    assert all("ConditionExpression" not in r for r in sent)
