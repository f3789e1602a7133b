"""Every access pattern on DynamoDB Local: behaviour, and one request each (never a Scan)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from folio import keys
from folio.domain import AVAILABLE, doc_type_of, now_iso
from folio.errors import InvalidCursor, NotFound, PreconditionFailed, QuotaExceeded
from tests.integration.conftest import TABLE, Engines, new_user
from tests.support.dynamodb_documents import DynamoDbDocuments
from tests.support.dynamodb_requests import DynamoDBRequests


@pytest.fixture
def sent(engines: Engines) -> Iterator[DynamoDBRequests]:
    """What the adapters below send, counted from outside (a hook on its own client)."""
    recorder = DynamoDBRequests(boto3.client("dynamodb"))
    yield recorder
    recorder.detach()


@pytest.fixture
def repo(sent: DynamoDBRequests) -> DynamoDbDocuments:
    return DynamoDbDocuments(sent.client, TABLE)


def document(
    owner: str, doc_id: str, *, size: int = 100, tags: tuple[str, ...] = (), content_type: str = "application/pdf"
) -> dict[str, Any]:
    created = now_iso()
    return {
        "docId": doc_id, "owner": owner, "name": f"{doc_id}.bin", "contentType": content_type,
        "docType": doc_type_of(content_type), "size": size, "status": "PENDING", "tags": list(tags),
        "version": 1, "createdAt": created, "updatedAt": created,
    }  # fmt: skip


def create(repo: DynamoDbDocuments, owner: str, doc_id: str, **kwargs: Any) -> dict[str, Any]:
    return repo.create_document(document(owner, doc_id, **kwargs), max_documents=100, max_bytes=10_000)


def test_ap1_creates_document_links_and_reservation_in_one_transaction(
    repo: DynamoDbDocuments, sent: DynamoDBRequests
) -> None:
    owner = new_user()
    sent.clear()

    create(repo, owner, "01A", size=300, tags=("tax", "2026"))

    assert sent.operations == ["transact_write_items"]
    assert repo.usage(owner) == {"documents": 1, "bytes": 300}
    assert [i["docId"] for i in repo.list_by_tag(owner, "tax", 10).items] == ["01A"]


def test_ap1_over_quota_writes_nothing(repo: DynamoDbDocuments) -> None:
    owner = new_user()
    repo.create_document(document(owner, "01A", size=900), max_documents=100, max_bytes=1_000)

    with pytest.raises(QuotaExceeded):
        repo.create_document(document(owner, "01B", size=200, tags=("x",)), max_documents=100, max_bytes=1_000)

    assert repo.usage(owner) == {"documents": 1, "bytes": 900}
    assert repo.list_by_tag(owner, "x", 10).items == []
    with pytest.raises(NotFound):
        repo.get_document(owner, "01B")


def test_ap1_document_count_quota(repo: DynamoDbDocuments) -> None:
    owner = new_user()
    repo.create_document(document(owner, "01A"), max_documents=1, max_bytes=10_000)

    with pytest.raises(QuotaExceeded):
        repo.create_document(document(owner, "01B"), max_documents=1, max_bytes=10_000)


def test_ap2_get_is_one_request_and_404_for_others(repo: DynamoDbDocuments, sent: DynamoDBRequests) -> None:
    owner, other = new_user(), new_user()
    create(repo, owner, "01A")
    sent.clear()

    assert repo.get_document(owner, "01A")["docId"] == "01A"
    assert sent.operations == ["get_item"]
    with pytest.raises(NotFound):
        repo.get_document(other, "01A")


def test_ap3_newest_first_and_paginated_with_one_query_per_page(
    repo: DynamoDbDocuments, sent: DynamoDBRequests
) -> None:
    owner = new_user()
    for doc_id in ("01A", "01B", "01C", "01D", "01E"):
        create(repo, owner, doc_id)
    sent.clear()

    first = repo.list_documents(owner, 2)
    second = repo.list_documents(owner, 2, first.last_key)
    third = repo.list_documents(owner, 2, second.last_key)

    assert [i["docId"] for i in first.items + second.items + third.items] == ["01E", "01D", "01C", "01B", "01A"]
    assert sent.operations == ["query", "query", "query"]


def test_a_start_key_from_another_partition_is_refused(repo: DynamoDbDocuments, sent: DynamoDBRequests) -> None:
    owner, other = new_user(), new_user()
    create(repo, other, "01A")
    create(repo, other, "01B")
    foreign = repo.list_documents(other, 1).last_key
    sent.clear()

    with pytest.raises(InvalidCursor):
        repo.list_documents(owner, 1, foreign)
    assert sent.operations == []  # refused before reading anything


def test_ap5_by_type_newest_update_first(repo: DynamoDbDocuments, sent: DynamoDBRequests) -> None:
    owner = new_user()
    create(repo, owner, "01A", content_type="image/png")
    create(repo, owner, "01B", content_type="application/pdf")
    create(repo, owner, "01C", content_type="image/jpeg")
    sent.clear()

    images = repo.list_by_type(owner, "image", 10).items

    assert [i["docId"] for i in images] == ["01C", "01A"]
    assert sent.operations == ["query"]


def test_ap9_update_with_version_keeps_tag_links_in_step(repo: DynamoDbDocuments, sent: DynamoDBRequests) -> None:
    owner = new_user()
    create(repo, owner, "01A", tags=("old", "keep"))
    current = repo.get_document(owner, "01A")
    sent.clear()

    updated = repo.update_document(current, expected_version=1, name="renamed.pdf", tags=["keep", "new"])

    assert sent.operations == ["transact_write_items"]
    assert updated["version"] == 2
    assert repo.list_by_tag(owner, "old", 10).items == []
    assert [i["name"] for i in repo.list_by_tag(owner, "new", 10).items] == ["renamed.pdf"]
    assert [i["name"] for i in repo.list_by_tag(owner, "keep", 10).items] == ["renamed.pdf"]
    with pytest.raises(PreconditionFailed):
        repo.update_document(current, expected_version=1, name="again.pdf", tags=None)


def test_ap7_trash_is_sparse_restore_and_purge(repo: DynamoDbDocuments, sent: DynamoDBRequests) -> None:
    owner = new_user()
    create(repo, owner, "01A", size=10, tags=("t",))
    create(repo, owner, "01B", size=20)
    sent.clear()

    assert repo.list_trash(owner, 10).items == []
    trashed = repo.trash(repo.get_document(owner, "01A"))
    in_trash = repo.list_trash(owner, 10).items

    assert [i["docId"] for i in in_trash] == ["01A"]
    assert in_trash[0][keys.TTL_ATTRIBUTE] > 0
    assert [i["docId"] for i in repo.list_documents(owner, 10).items] == ["01B"]
    assert repo.list_by_tag(owner, "t", 10).items == []
    restored = repo.restore(repo.get_document(owner, "01A"))
    assert restored["status"] == "PENDING" and trashed["status"] == "TRASHED"
    assert repo.list_trash(owner, 10).items == []
    repo.purge(repo.get_document(owner, "01A"))
    assert repo.usage(owner) == {"documents": 1, "bytes": 20}
    with pytest.raises(NotFound):
        repo.get_document(owner, "01A")


def test_ap6_shared_with_me_and_lookup_by_document(repo: DynamoDbDocuments, sent: DynamoDBRequests) -> None:
    owner, grantee = new_user(), new_user()
    create(repo, owner, "01A")
    assert repo.mark_available(repo.get_document(owner, "01A"))
    repo.put_share(repo.get_document(owner, "01A"), grantee)
    sent.clear()

    shared = repo.list_shared_with(grantee, 10).items
    found = repo.find_share(grantee, "01A")

    assert [(s["docId"], s["owner"]) for s in shared] == [("01A", owner)]
    assert found is not None and found["owner"] == owner
    assert sent.operations == ["query", "query"]
    assert repo.list_shared_with(owner, 10).items == []


def test_ap8_recent_uploads_one_query_per_shard_merged_newest_first(
    repo: DynamoDbDocuments, sent: DynamoDBRequests
) -> None:
    owners = [new_user() for _ in range(3)]
    ids = [f"09ZZ{n:02d}" for n in range(12)]
    for n, doc_id in enumerate(ids):
        create(repo, owners[n % 3], doc_id)
        repo.mark_available(repo.get_document(owners[n % 3], doc_id))
    sent.clear()

    recent = repo.recent_uploads(50)

    assert sent.operations == ["query"] * keys.RECENT_SHARD_COUNT
    ours = [i["docId"] for i in recent if i["docId"] in ids]
    assert ours == sorted(ids, reverse=True)
    created = [(i["createdAt"], i["docId"]) for i in recent]
    assert created == sorted(created, reverse=True)
    assert len({keys.recent_shard(d) for d in ids}) > 1, "the test ids must spread over several shards"


def test_mark_available_is_conditional_on_pending(repo: DynamoDbDocuments) -> None:
    owner = new_user()
    create(repo, owner, "01A")

    assert repo.mark_available(repo.get_document(owner, "01A")) is True
    assert repo.get_document(owner, "01A")["status"] == AVAILABLE
    assert repo.mark_available(repo.get_document(owner, "01A")) is False


def test_no_request_path_scans(repo: DynamoDbDocuments, sent: DynamoDBRequests) -> None:
    owner = new_user()
    create(repo, owner, "01A", tags=("t",))
    repo.list_documents(owner, 5)
    repo.list_by_tag(owner, "t", 5)
    repo.list_by_type(owner, "pdf", 5)
    repo.list_trash(owner, 5)
    repo.list_shared_with(owner, 5)
    repo.recent_uploads(5)

    assert "scan" not in sent.operations
    assert set(sent.operations) <= {"query", "get_item", "transact_write_items", "delete_item"}
