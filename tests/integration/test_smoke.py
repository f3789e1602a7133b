"""Smoke: the engines start and a document round-trips through the real handlers."""

from __future__ import annotations

from folio import keys
from tests.integration.conftest import TABLE, Api, Engines, new_user
from tests.support.invariants import partition_items, table_violations


def test_create_then_get(api: Api) -> None:
    owner = new_user()

    created = api.call(
        "create", "POST", "/documents", sub=owner, body={"name": "a.pdf", "contentType": "application/pdf", "size": 10}
    )
    got = api.call("read", "GET", f"/documents/{created.body['document']['id']}", sub=owner)

    assert created.status == 201, created.body
    assert got.status == 200, got.body
    assert got.body["status"] == "PENDING"


def test_the_after_module_invariant_check_sees_a_link_left_by_a_purge(api: Api, engines: Engines) -> None:
    # Given a tagged document whose item is removed on its own, as a purge that forgot its
    # links would leave it
    owner = new_user()
    body = {"name": "a.pdf", "contentType": "application/pdf", "size": 10, "tags": ["kept"]}
    doc_id = api.call("create", "POST", "/documents", sub=owner, body=body).body["document"]["id"]
    document_key = {
        keys.PARTITION_KEY: {"S": keys.user_partition(owner)},
        keys.SORT_KEY: {"S": keys.document_sort_key(doc_id)},
    }
    engines.dynamodb.delete_item(TableName=TABLE, Key=document_key)

    # When the table is checked, Then the orphaned link (and the usage that still counts it) is named
    problems = table_violations(engines.dynamodb, TABLE)
    mine = [p for p in problems if keys.user_partition(owner) in p]
    assert any("names no tag of a document" in p for p in mine), mine
    assert any("usage counts" in p for p in mine), mine

    # Clean up, so the check after this module sees a consistent table again
    for item in partition_items(engines.dynamodb, TABLE, owner):
        key = {k: {"S": item[k]} for k in (keys.PARTITION_KEY, keys.SORT_KEY)}
        engines.dynamodb.delete_item(TableName=TABLE, Key=key)
