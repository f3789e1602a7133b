"""The lifecycle worker on real stream records (issue 8, sections 1 and 3).

Every test writes through the handlers to DynamoDB Local, reads the table's real stream with the
`dynamodbstreams` client, lets the worker's own event filter pick the records (as Lambda's event
source mapping would) and hands them to `lifecycle_worker.handler` as Lambda delivers them. The
bucket is versioned, as in the cloud, so "no object left" means no version and no delete marker.

DynamoDB Local never expires items by TTL: a TTL removal is emulated by moving the item's
`expiresAt` into the past (TTL only deletes expired items) and deleting the item alone, as TTL does,
then adding TTL's `userIdentity` to the real REMOVE record of that DeleteItem
(tests/support/streams.py, `as_ttl_removal`). A TTL delete that happened in a replica Region reaches
the home Region's stream without that identity (AWS documents this), which the same record without
the identity stands for.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from folio import keys, lifecycle
from folio.handlers import lifecycle_worker, upload_worker, wiring
from tests.integration.conftest import BUCKET, PREFIX, TABLE, Api, Engines, FakeContext, new_user
from tests.support import invariants
from tests.support.event_filter import passes
from tests.support.streams import StreamReader, as_ttl_removal, keys_of, lambda_event, lambda_record

CONTENT = b"%PDF-1.7 lifecycle\n" * 16
SECOND_VERSION = b"%PDF-1.7 lifecycle, again\n" * 16


# -- the world before ---------------------------------------------------------------------------


@pytest.fixture
def stream(engines: Engines) -> StreamReader:
    return StreamReader(engines.dynamodb, boto3.client("dynamodbstreams"), TABLE)


def object_key(owner: str, doc_id: str) -> str:
    return f"{PREFIX}{owner}/{doc_id}"


def create(api: Api, owner: str, tags: list[str], content: bytes = CONTENT) -> dict[str, Any]:
    body = {"name": "report.pdf", "contentType": "application/pdf", "size": len(content), "tags": tags}
    reply = api.call("create", "POST", "/documents", sub=owner, body=body)
    assert reply.status == 201, reply.body
    created: dict[str, Any] = reply.body
    return created


def upload(created: dict[str, Any], content: bytes = CONTENT) -> None:
    form = created["upload"]
    response = requests.post(
        form["url"], data=form["fields"], files={"file": ("report.pdf", content, "application/pdf")}, timeout=10
    )
    assert response.status_code in (200, 204), response.text


def settle(owner: str, doc_id: str) -> str:
    event = {"detail": {"bucket": {"name": BUCKET}, "object": {"key": object_key(owner, doc_id)}}}
    return str(upload_worker.handler(event, FakeContext())["outcome"])


def available_document(api: Api, owner: str, tags: list[str], grantees: tuple[str, ...] = ()) -> str:
    created = create(api, owner, tags)
    doc_id: str = created["document"]["id"]
    upload(created)
    assert settle(owner, doc_id) == "available"
    for grantee in grantees:
        reply = api.call("modify", "PUT", f"/documents/{doc_id}/shares/{grantee}", sub=owner)
        assert reply.status in (200, 201), reply.body
    return doc_id


def usage(api: Api, owner: str) -> dict[str, int]:
    reply = api.call("read", "GET", "/me/usage", sub=owner)
    assert reply.status == 200, reply.body
    return {"documents": reply.body["documents"], "bytes": reply.body["bytes"]}


def expire_by_ttl(engines: Engines, owner: str, doc_id: str) -> None:
    """What DynamoDB's TTL process does to an expired document: deletes that one item."""
    key = {"PK": {"S": keys.user_partition(owner)}, "SK": {"S": keys.document_sort_key(doc_id)}}
    engines.dynamodb.update_item(
        TableName=TABLE,
        Key=key,
        UpdateExpression="SET #ttl = :past",
        ConditionExpression="attribute_exists(#ttl)",  # only a document with an expiry can expire
        ExpressionAttributeNames={"#ttl": keys.TTL_ATTRIBUTE},
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 120)}},
    )
    engines.dynamodb.delete_item(TableName=TABLE, Key=key)


# -- the world after ----------------------------------------------------------------------------


def items_of(engines: Engines, owner: str, doc_id: str) -> list[tuple[str, str]]:
    """Every item in the owner's partition that belongs to the document (links, shares, itself).
    The quota-release marker is the worker's own bookkeeping and is left out."""
    items: list[tuple[str, str]] = []
    request: dict[str, Any] = {
        "TableName": TABLE,
        "KeyConditionExpression": "PK = :pk",
        "ExpressionAttributeValues": {":pk": {"S": keys.user_partition(owner)}},
        "ConsistentRead": True,
    }
    while True:
        page = engines.dynamodb.query(**request)
        items += [
            (i["PK"]["S"], i["SK"]["S"])
            for i in page["Items"]
            if doc_id in i["SK"]["S"] and i["SK"]["S"] != keys.quota_released_sort_key(doc_id)
        ]
        if "LastEvaluatedKey" not in page:
            return items
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def shares_held_by(engines: Engines, grantee: str) -> list[str]:
    """Share items whose grantee is `grantee`, wherever they are (the base table, not GSI1: a
    trashed document's share leaves the index but not the table)."""
    found: list[str] = []
    for page in engines.dynamodb.get_paginator("scan").paginate(
        TableName=TABLE, FilterExpression="grantee = :g", ExpressionAttributeValues={":g": {"S": grantee}}
    ):
        found += [i["SK"]["S"] for i in page["Items"]]
    return found


def object_versions(engines: Engines, key: str) -> list[str]:
    return invariants.object_versions(engines.s3, BUCKET, key)


# -- the worker, as Lambda runs it --------------------------------------------------------------


def delivered(stream: StreamReader, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records Lambda would deliver: reshaped, and only those the worker's filter passes."""
    shaped = [lambda_record(r, stream.stream_arn) for r in records]
    return [r for r in shaped if passes(lifecycle.lifecycle_filter_patterns(), r)]


def document_removal(stream: StreamReader, records: list[dict[str, Any]], owner: str, doc_id: str) -> dict[str, Any]:
    wanted = (keys.user_partition(owner), keys.document_sort_key(doc_id))
    (record,) = [r for r in records if r["eventName"] == "REMOVE" and keys_of(r) == wanted]
    return lambda_record(record, stream.stream_arn)


def run_worker(records: list[dict[str, Any]]) -> dict[str, Any]:
    response: dict[str, Any] = lifecycle_worker.handler(lambda_event(records), FakeContext())
    return response


NO_FAILURES: dict[str, Any] = {"batchItemFailures": []}


# -- (a) purge ---------------------------------------------------------------------------------


def test_a_purge_leaves_no_object_version_link_or_share(api: Api, engines: Engines, stream: StreamReader) -> None:
    owner, grantee = new_user(), new_user()
    doc_id = available_document(api, owner, ["alpha", "beta"], grantees=(grantee,))
    engines.s3.put_object(Bucket=BUCKET, Key=object_key(owner, doc_id), Body=SECOND_VERSION)  # a second version
    assert len(object_versions(engines, object_key(owner, doc_id))) == 2

    purged = api.call("modify", "DELETE", f"/documents/{doc_id}", sub=owner, query={"purge": "true"})
    response = run_worker(delivered(stream, stream.read()))

    assert purged.status == 204, purged.body
    assert response == NO_FAILURES
    assert object_versions(engines, object_key(owner, doc_id)) == []
    assert items_of(engines, owner, doc_id) == []
    assert shares_held_by(engines, grantee) == []
    assert api.call("read", "GET", "/shared", sub=grantee).body["items"] == []
    assert usage(api, owner) == {"documents": 0, "bytes": 0}  # released by the purge, not again by the worker


# -- (b) TTL -----------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["pending", "trashed"])
def test_a_ttl_expired_document_leaves_nothing_and_gives_back_exactly_its_quota(
    api: Api, engines: Engines, stream: StreamReader, state: str
) -> None:
    owner, grantee = new_user(), new_user()
    kept = available_document(api, owner, ["alpha"])
    before = usage(api, owner)
    if state == "pending":  # the object arrived, but the document never settled
        created = create(api, owner, ["alpha", "beta"], SECOND_VERSION)
        doc_id = created["document"]["id"]
        upload(created, SECOND_VERSION)
    else:
        doc_id = available_document(api, owner, ["alpha", "beta"], grantees=(grantee,))
        assert api.call("modify", "DELETE", f"/documents/{doc_id}", sub=owner).status == 204
    held = usage(api, owner)

    expire_by_ttl(engines, owner, doc_id)
    records = stream.read()
    removal = as_ttl_removal(document_removal(stream, records, owner, doc_id))
    response = run_worker([removal])

    assert held["documents"] == before["documents"] + 1 and held["bytes"] > before["bytes"]
    assert response == NO_FAILURES
    assert usage(api, owner) == before
    assert items_of(engines, owner, doc_id) == []
    assert object_versions(engines, object_key(owner, doc_id)) == []
    assert shares_held_by(engines, grantee) == []
    assert api.call("read", "GET", "/documents", sub=owner, query={"tag": "beta"}).body["items"] == []
    assert items_of(engines, owner, kept) != [] and object_versions(engines, object_key(owner, kept)) != []


def test_a_ttl_delete_replicated_from_another_region_is_recognised_by_its_expiry(
    api: Api, engines: Engines, stream: StreamReader
) -> None:
    owner = new_user()
    doc_id = available_document(api, owner, ["alpha"])
    assert api.call("modify", "DELETE", f"/documents/{doc_id}", sub=owner).status == 204

    expire_by_ttl(engines, owner, doc_id)
    removal = document_removal(stream, stream.read(), owner, doc_id)  # no TTL identity
    response = run_worker([removal])

    assert "userIdentity" not in removal
    assert response == NO_FAILURES
    assert usage(api, owner) == {"documents": 0, "bytes": 0}
    assert items_of(engines, owner, doc_id) == []


def test_a_rejected_upload_is_cleaned_up_without_releasing_its_quota_twice(
    api: Api, engines: Engines, stream: StreamReader
) -> None:
    owner = new_user()
    created = create(api, owner, ["alpha"])
    doc_id = created["document"]["id"]
    engines.s3.put_object(Bucket=BUCKET, Key=object_key(owner, doc_id), Body=CONTENT + b"!")  # the wrong size

    assert settle(owner, doc_id) == "deleted:mismatch"
    assert object_versions(engines, object_key(owner, doc_id)) == []  # the upload worker deletes every version
    response = run_worker(delivered(stream, stream.read()))

    assert response == NO_FAILURES
    assert usage(api, owner) == {"documents": 0, "bytes": 0}
    assert object_versions(engines, object_key(owner, doc_id)) == []
    assert items_of(engines, owner, doc_id) == []


# -- (c) replay --------------------------------------------------------------------------------


def test_a_replayed_batch_changes_nothing_and_releases_quota_once(
    api: Api, engines: Engines, stream: StreamReader
) -> None:
    owner, grantee = new_user(), new_user()
    kept = available_document(api, owner, ["alpha"])
    expired = [available_document(api, owner, ["alpha", "beta"], grantees=(grantee,)) for _ in range(2)]
    purged = available_document(api, owner, ["beta"], grantees=(grantee,))
    for doc_id in expired:
        assert api.call("modify", "DELETE", f"/documents/{doc_id}", sub=owner).status == 204
        expire_by_ttl(engines, owner, doc_id)
    assert api.call("modify", "DELETE", f"/documents/{purged}", sub=owner, query={"purge": "true"}).status == 204
    records = stream.read()
    batch = [as_ttl_removal(document_removal(stream, records, owner, d)) for d in expired]
    batch.append(document_removal(stream, records, owner, purged))

    first = run_worker(batch)
    after_first = (usage(api, owner), [items_of(engines, owner, d) for d in (kept, *expired, purged)])
    second = run_worker(batch)
    after_second = (usage(api, owner), [items_of(engines, owner, d) for d in (kept, *expired, purged)])

    assert first == second == NO_FAILURES
    assert after_first == after_second
    assert after_second[0] == {"documents": 1, "bytes": len(CONTENT)}  # only `kept` holds quota
    assert all(object_versions(engines, object_key(owner, d)) == [] for d in (*expired, purged))
    assert shares_held_by(engines, grantee) == []


def test_a_purge_of_an_expired_document_still_releases_its_quota_once(
    api: Api, engines: Engines, stream: StreamReader
) -> None:
    """TTL deletes within days of expiry: a user may purge an expired document first. The purge
    releases the quota; its removal looks expired to the worker, which must not release again."""
    owner = new_user()
    doc_id = available_document(api, owner, ["alpha"])
    assert api.call("modify", "DELETE", f"/documents/{doc_id}", sub=owner).status == 204
    engines.dynamodb.update_item(
        TableName=TABLE,
        Key={"PK": {"S": keys.user_partition(owner)}, "SK": {"S": keys.document_sort_key(doc_id)}},
        UpdateExpression="SET #ttl = :past",
        ExpressionAttributeNames={"#ttl": keys.TTL_ATTRIBUTE},
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 120)}},
    )

    assert api.call("modify", "DELETE", f"/documents/{doc_id}", sub=owner, query={"purge": "true"}).status == 204
    response = run_worker(delivered(stream, stream.read()))

    assert response == NO_FAILURES
    assert usage(api, owner) == {"documents": 0, "bytes": 0}


# -- (d) a poison record -------------------------------------------------------------------------


def test_a_poison_record_reports_only_its_own_sequence_number(api: Api, engines: Engines, stream: StreamReader) -> None:
    owner = new_user()
    first, poisoned, last = (available_document(api, owner, ["alpha"]) for _ in range(3))
    for doc_id in (first, poisoned, last):
        assert api.call("modify", "DELETE", f"/documents/{doc_id}", sub=owner).status == 204
        expire_by_ttl(engines, owner, doc_id)
    records = stream.read()
    batch = [as_ttl_removal(document_removal(stream, records, owner, d)) for d in (first, poisoned, last)]
    intact = copy.deepcopy(batch[1])
    del batch[1]["dynamodb"]["OldImage"]  # as if the stream carried keys only: nothing to clean up with

    response = run_worker(batch)

    assert response == {"batchItemFailures": [{"itemIdentifier": batch[1]["dynamodb"]["SequenceNumber"]}]}
    assert items_of(engines, owner, first) == items_of(engines, owner, last) == []
    assert items_of(engines, owner, poisoned) != []  # its tag link waits for the retry
    assert usage(api, owner) == {"documents": 1, "bytes": len(CONTENT)}

    # And a retry that can be processed finishes it (and leaves the partition consistent for
    # the invariant check after this module)
    assert run_worker([intact]) == NO_FAILURES
    assert items_of(engines, owner, poisoned) == []
    assert usage(api, owner) == {"documents": 0, "bytes": 0}


# -- the filter ----------------------------------------------------------------------------------


def test_the_filter_passes_exactly_the_records_the_worker_acts_on(
    api: Api, engines: Engines, stream: StreamReader
) -> None:
    owner, grantee = new_user(), new_user()
    doc_id = available_document(api, owner, ["alpha", "beta"], grantees=(grantee,))
    version = api.call("read", "GET", f"/documents/{doc_id}", sub=owner).body["version"]
    api.call("modify", "PATCH", f"/documents/{doc_id}", sub=owner, headers={"If-Match": f'"{version}"'},
             body={"tags": ["beta", "gamma"]})  # fmt: skip
    api.call("modify", "DELETE", f"/documents/{doc_id}/shares/{grantee}", sub=owner)
    api.call("modify", "DELETE", f"/documents/{doc_id}", sub=owner)
    api.call("modify", "POST", f"/documents/{doc_id}/restore", sub=owner)
    api.call("modify", "DELETE", f"/documents/{doc_id}", sub=owner, query={"purge": "true"})
    marker = {"PK": {"S": keys.user_partition(owner)}, "SK": {"S": keys.quota_released_sort_key(doc_id)}}
    engines.dynamodb.delete_item(TableName=TABLE, Key=marker)  # as TTL will, 15 days later
    records = [lambda_record(r, stream.stream_arn) for r in stream.read()]
    records = [r for r in records if keys_of(r)[0] == keys.user_partition(owner)]
    document_removals = {
        r["dynamodb"]["SequenceNumber"]
        for r in records
        if r["eventName"] == "REMOVE" and keys_of(r)[1] == keys.document_sort_key(doc_id)
    }

    passed = {r["dynamodb"]["SequenceNumber"] for r in records if passes(lifecycle.lifecycle_filter_patterns(), r)}
    acted = {r["dynamodb"]["SequenceNumber"] for r in records if lifecycle.acts_on(r)}

    kinds = {(r["eventName"], keys_of(r)[1].split("#")[0]) for r in records}
    assert {("INSERT", "DOC"), ("MODIFY", "DOC"), ("REMOVE", "DOC"), ("INSERT", "TAG"), ("REMOVE", "TAG"),
            ("INSERT", "SHARE"), ("REMOVE", "SHARE"), ("INSERT", "RELEASED"), ("REMOVE", "RELEASED"),
            ("MODIFY", "PROFILE")} <= kinds  # fmt: skip
    assert len(document_removals) == 1
    assert passed == acted == document_removals


def test_records_it_does_not_act_on_are_ignored_even_if_delivered(
    api: Api, engines: Engines, stream: StreamReader
) -> None:
    """Defence in depth: a wider filter must not make the worker delete anything."""
    owner = new_user()
    doc_id = available_document(api, owner, ["alpha"])
    records = [lambda_record(r, stream.stream_arn) for r in stream.read()]

    outcomes = [lifecycle_worker.settle_removal(DynamoDBRecord(r)) for r in records]
    response = run_worker(records)

    assert set(outcomes) == {"ignored"}
    assert response == NO_FAILURES
    assert object_versions(engines, object_key(owner, doc_id)) != []
    assert usage(api, owner) == {"documents": 1, "bytes": len(CONTENT)}


# -- what it calls -------------------------------------------------------------------------------


@pytest.fixture
def aws_calls() -> Iterator[list[tuple[str, str, dict[str, Any]]]]:
    calls: list[tuple[str, str, dict[str, Any]]] = []

    def hook(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((model.service_model.service_name, model.name, dict(params)))

    clients = (wiring.dynamodb_client(), wiring.storage().client)
    for client in clients:
        client.meta.events.register("provide-client-params.*.*", hook)
    yield calls
    for client in clients:
        client.meta.events.unregister("provide-client-params.*.*", hook)


def test_the_worker_makes_exactly_the_calls_its_role_grants(
    api: Api, engines: Engines, stream: StreamReader, aws_calls: list[tuple[str, str, dict[str, Any]]]
) -> None:
    owner, grantee = new_user(), new_user()
    expired = available_document(api, owner, ["alpha", "beta"], grantees=(grantee,))
    purged = available_document(api, owner, ["alpha"])
    assert api.call("modify", "DELETE", f"/documents/{expired}", sub=owner).status == 204
    expire_by_ttl(engines, owner, expired)
    assert api.call("modify", "DELETE", f"/documents/{purged}", sub=owner, query={"purge": "true"}).status == 204
    records = stream.read()
    batch = [as_ttl_removal(document_removal(stream, records, owner, expired)),
             document_removal(stream, records, owner, purged)]  # fmt: skip
    aws_calls.clear()

    assert run_worker(batch) == NO_FAILURES

    made = {(service, operation) for service, operation, _ in aws_calls}
    assert made == set(lifecycle_worker.AWS_CALLS)
    for service, operation, params in aws_calls:
        if service == "dynamodb":
            tables = {i[next(iter(i))]["TableName"] for i in params.get("TransactItems", [])} or {params["TableName"]}
            assert tables == {TABLE} and "IndexName" not in params
        elif operation == "ListObjectVersions":
            assert params["Bucket"] == BUCKET and params["Prefix"] in {
                object_key(owner, expired),
                object_key(owner, purged),
            }
        else:
            assert params["Bucket"] == BUCKET and params["Key"].startswith(PREFIX) and params["VersionId"]


def test_the_runbooks_hand_made_record_removes_an_orphaned_object(api: Api, engines: Engines) -> None:
    """docs/operations.md: an object left by a document removed before the worker existed goes
    with a REMOVE record holding only the keys, owner, docId and size 0; no quota moves."""
    owner = new_user()
    available_document(api, owner, ["alpha"])
    orphan = "01ORPHANEDBEFORETHEWORKER0"
    engines.s3.put_object(Bucket=BUCKET, Key=object_key(owner, orphan), Body=CONTENT)
    engines.s3.put_object(Bucket=BUCKET, Key=object_key(owner, orphan), Body=SECOND_VERSION)
    item_keys = {"PK": {"S": keys.user_partition(owner)}, "SK": {"S": keys.document_sort_key(orphan)}}
    image = {**item_keys, "owner": {"S": owner}, "docId": {"S": orphan}, "size": {"N": "0"}}
    record = {
        "eventName": "REMOVE",
        "dynamodb": {"Keys": item_keys, "OldImage": image, "SequenceNumber": "1"},
    }

    response = run_worker([record])

    assert response == NO_FAILURES
    assert object_versions(engines, object_key(owner, orphan)) == []
    assert usage(api, owner) == {"documents": 1, "bytes": len(CONTENT)}
