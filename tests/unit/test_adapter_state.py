"""The DynamoDB adapters are cached per warm container and shared by every request they serve,
so they must hold no state that grows with their calls (an earlier version kept a request log
that did, for the life of the container). And what each read asks of DynamoDB decides whether
a cache in front of it (DAX) can serve it: DAX caches only eventually consistent reads."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from folio import keys
from folio.reads import DynamoDbReads
from folio.writes import DynamoDbWrites
from tests.support.dynamodb_requests import DynamoDBRequests
from tests.support.stubbed_dynamodb import cancelled, offline_client

TABLE = "folio-documents"
KEY = {"PK": {"S": "USER#u1"}, "SK": {"S": "PROFILE"}}
DOCUMENT_KEY = {"PK": {"S": keys.user_partition("u1")}, "SK": {"S": keys.document_sort_key("01ABC")}}
ITEM = {"docId": {"S": "01ABC"}, "owner": {"S": "u1"}, "version": {"N": "1"}}
# What one of AP8's shard queries sends besides the table's name (the Stubber matches each).
QUERY_PARAMS = (
    "IndexName", "Limit", "ScanIndexForward", "KeyConditionExpression",
    "ExpressionAttributeNames", "ExpressionAttributeValues",
)  # fmt: skip


@pytest.mark.parametrize(
    ("make", "attributes"),
    [
        (lambda client: DynamoDbReads(client, TABLE), {"client", "table", "consistent"}),
        (lambda client: DynamoDbReads(client, TABLE, consistent=False), {"client", "table", "consistent"}),
        (lambda client: DynamoDbWrites(client, TABLE), {"client", "table"}),
    ],
    ids=["reads", "eventual-reads", "writes"],
)
def test_an_adapter_holds_nothing_but_its_client_table_and_read_mode(
    make: Callable[[Any], object], attributes: set[str]
) -> None:
    assert set(vars(make(offline_client()))) == attributes


def test_two_hundred_calls_leave_the_read_adapter_exactly_as_it_was() -> None:
    # Given a read adapter, and a deep copy of everything it holds except the client
    client = offline_client()
    reads = DynamoDbReads(client, TABLE)
    before = copy.deepcopy({k: v for k, v in vars(reads).items() if k != "client"})

    # When it serves 200 requests
    with Stubber(client) as stubber:
        for _ in range(200):
            stubber.add_response("get_item", {"Item": {"documentCount": {"N": "1"}, "byteCount": {"N": "2"}}})
        for _ in range(200):
            assert reads.usage("u1") == {"documents": 1, "bytes": 2}

    # Then nothing it holds has changed or grown
    assert {k: v for k, v in vars(reads).items() if k != "client"} == before
    assert set(vars(reads)) == {"client", "table", "consistent"}


def test_the_read_adapter_asks_for_no_consumed_capacity() -> None:
    client = offline_client()
    with Stubber(client) as stubber:
        # The Stubber fails the call if any parameter differs from these: no ReturnConsumedCapacity.
        stubber.add_response("get_item", {}, {"TableName": TABLE, "Key": KEY})
        DynamoDbReads(client, TABLE).usage("u1")


def sent_requests(client: Any) -> list[tuple[str, dict[str, Any]]]:
    """Every request `client` sends from now on: (operation, parameters as sent)."""
    sent: list[tuple[str, dict[str, Any]]] = []
    client.meta.events.register(
        "provide-client-params.dynamodb.*", lambda params, model, **_: sent.append((model.name, dict(params)))
    )
    return sent


def read_every_pattern(reads: DynamoDbReads, stubber: Stubber) -> None:
    """AP2-AP8, the share lookup and usage: each one once."""
    stubber.add_response("get_item", {"Item": ITEM})
    reads.get_document("u1", "01ABC")
    for _ in range(5):
        stubber.add_response("query", {"Items": []})
    reads.list_documents("u1", 10)
    reads.list_by_tag("u1", "tax", 10)
    reads.list_by_type("u1", "pdf", 10)
    reads.list_shared_with("u1", 10)
    reads.list_trash("u1", 10)
    stubber.add_response("query", {"Items": []})
    reads.find_share("u1", "01ABC")
    stubber.add_response("get_item", {})
    reads.usage("u1")


def test_eventually_consistent_reads_never_ask_for_consistent_reads() -> None:
    # Given a read adapter for a cache in front of DynamoDB (DAX serves no consistent read)
    client = offline_client()
    sent = sent_requests(client)
    reads = DynamoDbReads(client, TABLE, consistent=False)

    # When it serves every read pattern but AP8 (whose parallel queries the Stubber cannot order)
    with Stubber(client) as stubber:
        read_every_pattern(reads, stubber)

    # Then no request carries ConsistentRead at all
    assert len(sent) == 8
    assert [operation for operation, params in sent if "ConsistentRead" in params] == []


def test_consistent_reads_ask_for_consistent_gets_and_never_on_an_index() -> None:
    client = offline_client()
    sent = sent_requests(client)
    reads = DynamoDbReads(client, TABLE)

    with Stubber(client) as stubber:
        read_every_pattern(reads, stubber)

    # The document read that a write depends on is consistent; usage and every query are not
    # (a global secondary index cannot serve a consistent read at all).
    consistent = [(operation, params.get("Key")) for operation, params in sent if params.get("ConsistentRead")]
    assert consistent == [("GetItem", DOCUMENT_KEY)]
    assert all("ConsistentRead" not in params for operation, params in sent if "IndexName" in params)


@pytest.mark.parametrize("consistent", [True, False])
def test_the_recent_feed_queries_each_shard_of_its_index_without_consistent_reads(consistent: bool) -> None:
    # AP8 runs its shard queries on threads: counted with the shared recorder (thread-safe appends).
    client = offline_client()
    sent = sent_requests(client)
    recorder = DynamoDBRequests(client, capacity=None)
    with Stubber(client) as stubber:
        for _ in range(keys.RECENT_SHARD_COUNT):
            stubber.add_response("query", {"Items": []}, {"TableName": TABLE, **{k: ANY for k in QUERY_PARAMS}})
        assert DynamoDbReads(client, TABLE, consistent=consistent).recent_uploads(5) == []
    recorder.detach()

    assert recorder.operations == ["query"] * keys.RECENT_SHARD_COUNT
    assert all(params["IndexName"] == keys.GSI2.name and "ConsistentRead" not in params for _, params in sent)


def test_a_write_that_reads_to_decide_reads_consistently() -> None:
    # Given a share whose transaction was refused because the share item already exists
    client = offline_client()
    sent = sent_requests(client)
    document = {"docId": "01ABC", "owner": "u1", "status": "AVAILABLE", "version": 2, "tags": []}
    with Stubber(client) as stubber:
        stubber.add_client_error("transact_write_items", **cancelled("None", "ConditionalCheckFailed"))
        stubber.add_response("get_item", {"Item": {"grantee": {"S": "u2"}, "sharedAt": {"S": "then"}}})

        # When the write adapter reads the existing share to return it
        share = DynamoDbWrites(client, TABLE).put_share(document, "u2")

    # Then that read is strongly consistent: it decides a write's answer
    assert share["sharedAt"] == "then"
    assert [params.get("ConsistentRead") for operation, params in sent if operation == "GetItem"] == [True]
