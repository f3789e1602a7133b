"""Every write that follows a read, with a conflicting change run between the
read and the write, and the partition invariants (tests/support/invariants.py) afterwards.

The conflicting change is a real API call made from inside the write adapter's method, before
the original runs: deterministic, unlike a race of threads. It runs once; a writer that
re-reads and tries again meets no second change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from folio import keys
from folio.contracts import ROUTES
from folio.errors import Conflict
from folio.handlers import upload_worker, wiring
from folio.writes import DynamoDbWrites
from tests.integration.conftest import BUCKET, PREFIX, TABLE, Api, Engines, FakeContext, Reply, new_user
from tests.integration.test_upload_flow import CONTENT, create, object_created, upload
from tests.support.invariants import partition_items, violations


def assert_consistent(engines: Engines, *owners: str) -> None:
    for owner in owners:
        assert violations(partition_items(engines.dynamodb, TABLE, owner)) == []


def before(
    monkeypatch: pytest.MonkeyPatch, method: str, change: Callable[[dict[str, Any]], None], *, times: int = 1
) -> None:
    """Run `change(document as read)` just before each of the first `times` calls of `method` writes."""
    original = getattr(DynamoDbWrites, method)
    pending = [change] * times

    def change_lands_first(self: DynamoDbWrites, document: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        if pending:
            pending.pop()(document)
        return original(self, document, *args, **kwargs)

    monkeypatch.setattr(DynamoDbWrites, method, change_lands_first)


def patch(api: Api, owner: str, document: dict[str, Any], **body: Any) -> None:
    reply = api.call(
        "modify", "PATCH", f"/documents/{document['docId']}", sub=owner,
        body=body, headers={"If-Match": f'"{document["version"]}"'},
    )  # fmt: skip
    assert reply.status == 200, reply.body


def tagged_upload(api: Api, owner: str, tags: list[str]) -> tuple[str, str]:
    """A PENDING document with `tags` whose object has just arrived: (document id, key)."""
    reply = api.call(
        "create", "POST", "/documents", sub=owner,
        body={"name": "report.pdf", "contentType": "application/pdf", "size": len(CONTENT), "tags": tags},
    )  # fmt: skip
    assert reply.status == 201, reply.body
    upload(reply.body["upload"], CONTENT)
    doc_id = reply.body["document"]["id"]
    return doc_id, f"{PREFIX}{owner}/{doc_id}"


# -- the upload worker ------------------------------------------------------------------------


def test_a_retag_between_the_workers_read_and_its_settle_leaves_no_link_for_the_old_tag(
    api: Api, engines: Engines, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an upload the worker has read, and a retag that lands before it writes
    owner = new_user()
    doc_id, key = tagged_upload(api, owner, ["old"])
    before(monkeypatch, "mark_available", lambda read: patch(api, owner, read, tags=["new"]))

    # When the worker settles it
    outcome = upload_worker.handler(object_created(key), FakeContext())

    # Then it settled the document as it is now, not as it was read
    old = api.call("read", "GET", "/documents", sub=owner, query={"tag": "old"}).body["items"]
    new = api.call("read", "GET", "/documents", sub=owner, query={"tag": "new"}).body["items"]
    assert outcome == {"outcome": "available"}
    assert old == []
    assert [(d["id"], d["status"], d["tags"]) for d in new] == [(doc_id, "AVAILABLE", ["new"])]
    assert_consistent(engines, owner)


def test_a_retag_between_the_workers_read_and_its_reject_leaves_no_link_behind(
    api: Api, engines: Engines, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an object that does not match its document, and a retag that lands before the reject
    owner = new_user()
    created = create(api, owner, size=len(CONTENT))
    doc_id = created["document"]["id"]
    key = f"{PREFIX}{owner}/{doc_id}"
    engines.s3.put_object(Bucket=BUCKET, Key=key, Body=CONTENT + b"more", ContentType="application/pdf")
    before(monkeypatch, "reject_upload", lambda read: patch(api, owner, read, tags=["late"]))

    # When the worker rejects it
    outcome = upload_worker.handler(object_created(key), FakeContext())

    # Then the document, every link and the quota are gone, whatever the tags were
    assert outcome == {"outcome": "deleted:mismatch"}
    assert api.call("read", "GET", "/documents", sub=owner, query={"tag": "late"}).body["items"] == []
    # (what stays: the usage item, and the marker that this document's quota is released)
    remaining = {i[keys.SORT_KEY] for i in partition_items(engines.dynamodb, TABLE, owner)}
    assert remaining == {keys.profile_sort_key(), keys.quota_released_sort_key(doc_id)}
    assert_consistent(engines, owner)


def test_a_trash_between_the_workers_read_and_its_settle_settles_it_in_the_trash(
    api: Api, engines: Engines, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an upload the worker has read as PENDING, and a trash that lands before it writes
    owner = new_user()
    doc_id, key = tagged_upload(api, owner, ["t"])
    path = f"/documents/{doc_id}"
    before(monkeypatch, "mark_available", lambda _: api.call("modify", "DELETE", path, sub=owner))

    # When the worker settles it, and the owner then restores it
    outcome = upload_worker.handler(object_created(key), FakeContext())
    assert_consistent(engines, owner)
    restored = api.call("modify", "POST", f"{path}/restore", sub=owner)
    link = api.call("download", "GET", f"{path}/download", sub=owner)

    # Then it comes back AVAILABLE, with content to download
    assert outcome == {"outcome": "available:in-trash"}
    assert (restored.status, restored.body["status"]) == (200, "AVAILABLE")
    assert link.status == 200
    assert_consistent(engines, owner)


def test_a_restore_between_the_workers_read_and_its_settle_in_the_trash_settles_it_restored(
    api: Api, engines: Engines, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an upload that landed in the trash, read so by the worker, and a restore before it writes
    owner = new_user()
    doc_id, key = tagged_upload(api, owner, ["t"])
    path = f"/documents/{doc_id}"
    assert api.call("modify", "DELETE", path, sub=owner).status == 204
    before(monkeypatch, "mark_available", lambda _: api.call("modify", "POST", f"{path}/restore", sub=owner))

    # When the worker settles it
    outcome = upload_worker.handler(object_created(key), FakeContext())

    # Then it is AVAILABLE outside the trash, and in the recent feed
    document = wiring.reads().get_document(owner, doc_id)
    assert outcome == {"outcome": "available"}
    assert document["status"] == "AVAILABLE" and "recentShard" in document and "expiresAt" not in document
    assert_consistent(engines, owner)


def test_an_upload_whose_document_keeps_changing_is_left_to_the_events_retry(
    api: Api, engines: Engines, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = new_user()
    doc_id, key = tagged_upload(api, owner, ["t"])
    before(monkeypatch, "mark_available", lambda read: patch(api, owner, read, name=f"v{read['version']}"), times=99)

    with pytest.raises(Conflict):
        upload_worker.handler(object_created(key), FakeContext())

    assert wiring.reads().get_document(owner, doc_id)["status"] == "PENDING"
    assert_consistent(engines, owner)


# -- shares -----------------------------------------------------------------------------------


def available(api: Api, owner: str, tags: list[str]) -> str:
    doc_id, key = tagged_upload(api, owner, tags)
    assert upload_worker.handler(object_created(key), FakeContext()) == {"outcome": "available"}
    return doc_id


@pytest.mark.parametrize(
    "change", [{"name": "renamed.pdf"}, {"tags": ["new"]}, {"name": "both.pdf", "tags": []}], ids=str
)
def test_a_rename_or_retag_between_a_shares_read_and_its_write_reaches_the_grantee(
    api: Api, engines: Engines, monkeypatch: pytest.MonkeyPatch, change: dict[str, Any]
) -> None:
    # Given a share that read the document, and a rename or retag that lands before it writes
    owner, grantee = new_user(), new_user()
    doc_id = available(api, owner, ["old"])
    before(monkeypatch, "put_share", lambda read: patch(api, owner, read, **change))

    # When the share writes
    reply = api.call("modify", "PUT", f"/documents/{doc_id}/shares/{grantee}", sub=owner)

    # Then the grantee's copy is the document as it is now
    current = api.call("read", "GET", f"/documents/{doc_id}", sub=owner).body
    [listed] = api.call("read", "GET", "/shared", sub=grantee).body["items"]
    assert reply.status == 200, reply.body
    fields = ("name", "tags", "status", "version")
    assert {k: listed[k] for k in fields} == {k: current[k] for k in fields}
    assert_consistent(engines, owner)


def test_a_trash_between_a_shares_read_and_its_write_is_a_409_and_shares_nothing(
    api: Api, engines: Engines, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner, grantee = new_user(), new_user()
    doc_id = available(api, owner, ["t"])
    before(monkeypatch, "put_share", lambda _: api.call("modify", "DELETE", f"/documents/{doc_id}", sub=owner))

    reply = api.call("modify", "PUT", f"/documents/{doc_id}/shares/{grantee}", sub=owner)

    assert (reply.status, reply.body["error"]["code"]) == (409, "conflict")
    assert api.call("read", "GET", "/shared", sub=grantee).body["items"] == []
    assert_consistent(engines, owner)


def test_a_share_that_keeps_losing_to_renames_is_a_409_and_shares_nothing(
    api: Api, engines: Engines, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner, grantee = new_user(), new_user()
    doc_id = available(api, owner, ["t"])
    before(monkeypatch, "put_share", lambda read: patch(api, owner, read, name=f"v{read['version']}"), times=99)

    reply = api.call("modify", "PUT", f"/documents/{doc_id}/shares/{grantee}", sub=owner)

    assert (reply.status, reply.body["error"]["code"]) == (409, "conflict")
    assert api.call("read", "GET", "/shared", sub=grantee).body["items"] == []
    assert_consistent(engines, owner)


# -- rename, retag, trash, restore, purge: every conflicting change -----------------------


@dataclass(frozen=True)
class Document:
    owner: str
    doc_id: str
    key: str
    grantee: str  # the user it was shared with before the test, if it was AVAILABLE

    @property
    def path(self) -> str:
        return f"/documents/{self.doc_id}"


@dataclass(frozen=True)
class Write:
    """An API request whose service reads the document and then calls `write_method`."""

    write_method: str
    method: str
    suffix: str = ""
    query: dict[str, str] | None = None
    body: dict[str, Any] | None = None  # sent with If-Match: the version the client read

    def send(self, api: Api, document: Document, version: int) -> Reply:
        headers = {"If-Match": f'"{version}"'} if self.method == "PATCH" else None
        return api.call(
            "modify", self.method, document.path + self.suffix, sub=document.owner,
            query=self.query, body=self.body, headers=headers,
        )  # fmt: skip

    def documented(self) -> set[int]:
        template = "/documents/{id}" + self.suffix
        route = next(r for r in ROUTES if (r.method, r.path) == (self.method, template))
        return {route.success, *route.errors}


WRITES = {
    "rename": Write("update_document", "PATCH", body={"name": "renamed.pdf"}),
    "retag": Write("update_document", "PATCH", body={"tags": ["new", "a"]}),
    "trash": Write("trash", "DELETE"),
    "restore": Write("restore", "POST", "/restore"),
    "purge": Write("purge", "DELETE", query={"purge": "true"}),
}


def share(api: Api, d: Document, _: dict[str, Any]) -> bool:
    return api.call("modify", "PUT", f"{d.path}/shares/{new_user()}", sub=d.owner).status == 200


def unshare(api: Api, d: Document, _: dict[str, Any]) -> bool:
    return api.call("modify", "DELETE", f"{d.path}/shares/{d.grantee}", sub=d.owner).status == 204


def rename_and_retag(api: Api, d: Document, read: dict[str, Any]) -> bool:
    patch(api, d.owner, read, name="other.pdf", tags=["other"])  # asserts the 200
    return True


def trash(api: Api, d: Document, _: dict[str, Any]) -> bool:
    return api.call("modify", "DELETE", d.path, sub=d.owner).status == 204


def restore(api: Api, d: Document, _: dict[str, Any]) -> bool:
    return api.call("modify", "POST", f"{d.path}/restore", sub=d.owner).status == 200


def settle(api: Api, d: Document, _: dict[str, Any]) -> bool:
    return upload_worker.handler(object_created(d.key), FakeContext())["outcome"].startswith("available")


def purge(api: Api, d: Document, _: dict[str, Any]) -> bool:
    return api.call("modify", "DELETE", d.path, sub=d.owner, query={"purge": "true"}).status == 204


# Each conflicting change, made through the API (or the upload worker) with the version the
# service read; True if it changed the document.
CONFLICTS: dict[str, Callable[[Api, Document, dict[str, Any]], bool]] = {
    "share": share, "unshare": unshare, "retag": rename_and_retag, "trash": trash, "restore": restore,
    "settle": settle, "purge": purge,
}  # fmt: skip

# The state the document is in when the client reads it: AVAILABLE ones are shared with one user.
AVAILABLE_SHARED, PENDING, TRASHED_SHARED, PENDING_TRASHED = "available", "pending", "trashed", "pending-trashed"

# (write, conflicting change, starting state, status of the write, status of the client's retry
# after a fresh read). 409 and 412 say "read again and retry"; 404 that it is gone. A conflict
# that cannot happen in a state (sharing or renaming a trashed document) has no row.
CASES = [
    ("rename", "share", AVAILABLE_SHARED, 409, 200),
    ("rename", "unshare", AVAILABLE_SHARED, 409, 200),
    ("rename", "retag", AVAILABLE_SHARED, 412, 200),
    ("rename", "trash", AVAILABLE_SHARED, 412, 404),
    ("rename", "settle", PENDING, 412, 200),
    ("rename", "purge", AVAILABLE_SHARED, 404, 404),
    ("retag", "share", AVAILABLE_SHARED, 409, 200),
    ("retag", "unshare", AVAILABLE_SHARED, 409, 200),
    ("retag", "retag", AVAILABLE_SHARED, 412, 200),
    ("retag", "trash", AVAILABLE_SHARED, 412, 404),
    ("retag", "settle", PENDING, 412, 200),
    ("retag", "purge", AVAILABLE_SHARED, 404, 404),
    ("trash", "share", AVAILABLE_SHARED, 409, 204),
    ("trash", "unshare", AVAILABLE_SHARED, 409, 204),
    ("trash", "retag", AVAILABLE_SHARED, 409, 204),
    ("trash", "trash", AVAILABLE_SHARED, 409, 409),  # the retry: already in the trash
    ("trash", "settle", PENDING, 409, 204),
    ("trash", "purge", AVAILABLE_SHARED, 409, 404),
    ("restore", "unshare", TRASHED_SHARED, 409, 200),
    ("restore", "restore", TRASHED_SHARED, 409, 409),  # the retry: not in the trash
    ("restore", "settle", PENDING_TRASHED, 409, 200),
    ("restore", "purge", TRASHED_SHARED, 409, 404),
    ("purge", "share", AVAILABLE_SHARED, 409, 204),
    ("purge", "unshare", AVAILABLE_SHARED, 409, 204),
    ("purge", "retag", AVAILABLE_SHARED, 409, 204),
    ("purge", "trash", AVAILABLE_SHARED, 409, 204),
    ("purge", "restore", TRASHED_SHARED, 409, 204),
    ("purge", "settle", PENDING, 409, 204),
    ("purge", "purge", AVAILABLE_SHARED, 409, 404),
]


def document_in(api: Api, state: str) -> tuple[Document, int]:
    """A document in `state`, and the version its owner read."""
    owner, grantee = new_user(), new_user()
    doc_id, key = tagged_upload(api, owner, ["a", "b"])
    document = Document(owner, doc_id, key, grantee)
    if state in (AVAILABLE_SHARED, TRASHED_SHARED):
        assert upload_worker.handler(object_created(key), FakeContext()) == {"outcome": "available"}
        assert api.call("modify", "PUT", f"{document.path}/shares/{grantee}", sub=owner).status == 200
    if state in (TRASHED_SHARED, PENDING_TRASHED):
        assert api.call("modify", "DELETE", document.path, sub=owner).status == 204
    return document, api.call("read", "GET", document.path, sub=owner).body["version"]


@pytest.mark.parametrize(
    ("write", "conflict", "state", "status", "retry_status"), CASES, ids=[f"{w}-after-{c}" for w, c, *_ in CASES]
)
def test_a_conflicting_change_between_the_read_and_the_write(
    api: Api,
    engines: Engines,
    monkeypatch: pytest.MonkeyPatch,
    write: str,
    conflict: str,
    state: str,
    status: int,
    retry_status: int,
) -> None:
    # Given a document the service has read, and a conflicting change that lands before it writes
    document, version = document_in(api, state)
    after_the_change: list[list[dict[str, Any]]] = []

    def change(read: dict[str, Any]) -> None:
        assert CONFLICTS[conflict](api, document, read), f"the {conflict} did not happen"
        after_the_change.append(partition_items(engines.dynamodb, TABLE, document.owner))

    before(monkeypatch, WRITES[write].write_method, change)

    # When the write runs, and the client then reads again and retries
    reply = WRITES[write].send(api, document, version)
    if reply.status >= 400:
        assert partition_items(engines.dynamodb, TABLE, document.owner) == after_the_change[0], "a refusal wrote"
    assert_consistent(engines, document.owner)
    fresh = api.call("read", "GET", document.path, sub=document.owner)
    retry = WRITES[write].send(api, document, fresh.body["version"] if fresh.status == 200 else version)

    # Then the write answered with a documented status that tells the client what to do, and
    # the partition is consistent after the write and after the retry
    assert after_the_change, "the conflicting change never ran: the write did not reach the write adapter"
    assert (reply.status, retry.status) == (status, retry_status), (reply.body, retry.body)
    assert reply.status in WRITES[write].documented()
    assert_consistent(engines, document.owner)
