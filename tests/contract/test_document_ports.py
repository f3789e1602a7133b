"""The ports' contract (folio.ports), run against the in-memory fake and against the DynamoDB
adapters on DynamoDB Local: a fake that drifts from the engine fails here, by name.

Each test owns fresh users, so the two implementations need no cleaning between tests. Only
what the ports promise is compared: document attributes, order, errors; never key attributes.
"""

from __future__ import annotations

import itertools
import time
import uuid
from typing import Any

import pytest

from folio.contracts import MAX_SHARES
from folio.domain import AVAILABLE, PENDING, SHARED_WITH, TRASHED, Page, doc_type_of, now_iso
from folio.errors import (
    Conflict,
    DocumentChanged,
    InvalidCursor,
    NotFound,
    PreconditionFailed,
    QuotaExceeded,
    ShareLimitReached,
)
from folio.ids import new_id
from tests.contract.conftest import Ports

QUOTA = {"max_documents": 100, "max_bytes": 100_000}
_clock = itertools.count(int(time.time() * 1000))


def user() -> str:
    return str(uuid.uuid4())


def document(owner: str, *, size: int = 100, tags: tuple[str, ...] = (), content_type: str = "application/pdf",
             name: str = "a.pdf") -> dict[str, Any]:  # fmt: skip
    """A PENDING document as the service builds one; ids strictly newer than the previous one's."""
    created = now_iso()
    return {
        "docId": new_id(next(_clock)), "owner": owner, "name": name, "contentType": content_type,
        "docType": doc_type_of(content_type), "size": size, "status": PENDING, "tags": list(tags),
        "version": 1, "createdAt": created, "updatedAt": created,
    }  # fmt: skip


def created(ports: Ports, owner: str, **kwargs: Any) -> dict[str, Any]:
    new = document(owner, **kwargs)
    ports.writes.create_document(new, **QUOTA)
    return ports.reads.get_document(owner, new["docId"])


def available(ports: Ports, owner: str, **kwargs: Any) -> dict[str, Any]:
    pending = created(ports, owner, **kwargs)
    assert ports.writes.mark_available(pending) is True
    return ports.reads.get_document(owner, pending["docId"])


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [i["docId"] for i in items]


def every_page(fetch: Any, limit: int) -> list[dict[str, Any]]:
    """All items of a listing, page by page (a page may be short while more follow)."""
    items, start = [], None
    for _ in range(100):
        page: Page = fetch(limit, start)
        items += page.items
        if page.last_key is None:
            return items
        start = page.last_key
    raise AssertionError("the listing never ended")


# -- AP1 / AP2 / usage ----------------------------------------------------------------------------
def test_a_created_document_is_pending_readable_by_its_owner_and_counted(ports: Ports) -> None:
    owner = user()
    new = document(owner, size=300, tags=("tax",))

    ports.writes.create_document(new, **QUOTA)

    read = ports.reads.get_document(owner, new["docId"])
    assert {k: read[k] for k in new} == new
    assert ports.reads.usage(owner) == {"documents": 1, "bytes": 300}
    with pytest.raises(NotFound):
        ports.reads.get_document(user(), new["docId"])


def test_usage_of_a_user_without_documents_is_zero(ports: Ports) -> None:
    assert ports.reads.usage(user()) == {"documents": 0, "bytes": 0}


def test_over_the_byte_quota_nothing_is_written(ports: Ports) -> None:
    owner = user()
    created(ports, owner, size=60_000)
    too_big = document(owner, size=50_000)

    with pytest.raises(QuotaExceeded, match="would exceed"):
        ports.writes.create_document(too_big, **QUOTA)
    with pytest.raises(QuotaExceeded, match="larger than your storage quota"):
        ports.writes.create_document(document(owner, size=100_001), **QUOTA)

    assert ports.reads.usage(owner) == {"documents": 1, "bytes": 60_000}
    with pytest.raises(NotFound):
        ports.reads.get_document(owner, too_big["docId"])


def test_the_document_count_quota(ports: Ports) -> None:
    owner = user()
    for _ in range(2):
        ports.writes.create_document(document(owner), max_documents=2, max_bytes=100_000)

    with pytest.raises(QuotaExceeded):
        ports.writes.create_document(document(owner), max_documents=2, max_bytes=100_000)


def test_the_same_id_twice_is_a_conflict(ports: Ports) -> None:
    owner = user()
    new = document(owner)
    ports.writes.create_document(new, **QUOTA)

    with pytest.raises(Conflict):
        ports.writes.create_document(new, **QUOTA)
    assert ports.reads.usage(owner) == {"documents": 1, "bytes": 100}


# -- AP3 / AP4 / AP5 ------------------------------------------------------------------------------
def test_listings_are_newest_first_page_by_page_and_leave_the_trash_out(ports: Ports) -> None:
    owner = user()
    made = [created(ports, owner, tags=("tax",)) for _ in range(5)]
    ports.writes.trash(made[2])

    listed = every_page(lambda n, s: ports.reads.list_documents(owner, n, s), 2)
    tagged = every_page(lambda n, s: ports.reads.list_by_tag(owner, "tax", n, s), 2)

    expected = [d["docId"] for d in reversed(made) if d is not made[2]]
    assert ids(listed) == expected
    assert ids(tagged) == expected


def test_by_type_lists_the_most_recently_updated_first(ports: Ports) -> None:
    owner = user()
    older, newer = created(ports, owner), created(ports, owner)
    created(ports, owner, content_type="image/png")
    time.sleep(0.002)  # a later updatedAt than `newer`'s
    ports.writes.update_document(older, expected_version=older["version"], name="renamed.pdf", tags=None)

    pdfs = every_page(lambda n, s: ports.reads.list_by_type(owner, "pdf", n, s), 1)

    assert ids(pdfs) == [older["docId"], newer["docId"]]
    assert ids(ports.reads.list_by_type(owner, "image", 10).items) != []


def test_a_cursor_from_another_partition_is_refused(ports: Ports) -> None:
    owner, other = user(), user()
    for _ in range(2):
        created(ports, owner, tags=("tax",))
    foreign = ports.reads.list_documents(owner, 1).last_key
    foreign_by_type = ports.reads.list_by_type(owner, "pdf", 1).last_key
    assert foreign is not None and foreign_by_type is not None

    with pytest.raises(InvalidCursor):
        ports.reads.list_documents(other, 1, foreign)
    with pytest.raises(InvalidCursor):
        ports.reads.list_by_tag(other, "tax", 1, foreign)
    with pytest.raises(InvalidCursor):
        ports.reads.list_by_type(other, "pdf", 1, foreign_by_type)
    with pytest.raises(InvalidCursor):
        ports.reads.list_shared_with(other, 1, foreign_by_type)
    with pytest.raises(InvalidCursor):
        ports.reads.list_trash(other, 1, foreign)


# -- upload settlement ----------------------------------------------------------------------------
def test_an_upload_settles_once_and_only_as_read(ports: Ports) -> None:
    owner = user()
    pending = created(ports, owner)

    assert ports.writes.mark_available(pending) is True
    assert ports.writes.mark_available(pending) is False  # no longer as read

    now = ports.reads.get_document(owner, pending["docId"])
    assert (now["status"], now["version"]) == (AVAILABLE, 2)
    assert ports.writes.mark_available(now) is False  # not awaiting its upload
    assert ports.writes.reject_upload(now) is False


def test_an_upload_that_lands_in_the_trash_stays_there_and_restores_available(ports: Ports) -> None:
    owner = user()
    trashed = ports.writes.trash(created(ports, owner))

    assert ports.writes.mark_available(ports.reads.get_document(owner, trashed["docId"])) is True
    in_trash = ports.reads.get_document(owner, trashed["docId"])
    assert in_trash["status"] == TRASHED

    assert ports.writes.restore(in_trash)["status"] == AVAILABLE


def test_a_rejected_upload_is_gone_and_its_quota_released_once(ports: Ports) -> None:
    owner = user()
    pending = created(ports, owner, size=700)

    assert ports.writes.reject_upload(pending) is True

    with pytest.raises(NotFound):
        ports.reads.get_document(owner, pending["docId"])
    assert ports.reads.usage(owner) == {"documents": 0, "bytes": 0}
    assert ports.writes.release_expired_quota(pending) is False


def test_an_expired_documents_quota_is_released_exactly_once(ports: Ports) -> None:
    owner = user()
    pending = created(ports, owner, size=250)

    assert ports.writes.release_expired_quota(pending) is True
    assert ports.writes.release_expired_quota(pending) is False
    assert ports.reads.usage(owner) == {"documents": 0, "bytes": 0}


# -- AP9 ------------------------------------------------------------------------------------------
def test_an_update_needs_the_current_version(ports: Ports) -> None:
    owner = user()
    read = available(ports, owner, tags=("old",))

    with pytest.raises(PreconditionFailed):
        ports.writes.update_document(read, expected_version=read["version"] - 1, name="x.pdf", tags=None)
    new = ports.writes.update_document(read, expected_version=read["version"], name="b.pdf", tags=["new"])

    assert (new["name"], new["tags"], new["version"]) == ("b.pdf", ["new"], read["version"] + 1)
    assert ports.reads.get_document(owner, read["docId"])["version"] == new["version"]
    assert ids(ports.reads.list_by_tag(owner, "new", 10).items) == [read["docId"]]
    assert ports.reads.list_by_tag(owner, "old", 10).items == []
    with pytest.raises(PreconditionFailed):  # the read is stale now
        ports.writes.update_document(read, expected_version=read["version"], name="c.pdf", tags=None)


def test_an_update_raced_by_a_share_is_a_conflict_not_a_precondition(ports: Ports) -> None:
    owner = user()
    read = available(ports, owner)
    ports.writes.put_share(read, user())  # changes the grantees, not the version

    with pytest.raises(Conflict) as raised:
        ports.writes.update_document(read, expected_version=read["version"], name="b.pdf", tags=None)
    assert not isinstance(raised.value, PreconditionFailed)


# -- trash, restore, purge ------------------------------------------------------------------------
def test_trash_and_restore(ports: Ports) -> None:
    owner = user()
    first, second = available(ports, owner), available(ports, owner)

    trashed = ports.writes.trash(first)
    time.sleep(0.002)
    ports.writes.trash(second)

    assert trashed["status"] == TRASHED and trashed["version"] == first["version"] + 1
    with pytest.raises(Conflict):
        ports.writes.trash(ports.reads.get_document(owner, first["docId"]))
    with pytest.raises(Conflict):
        ports.writes.trash(first)  # as read: changed since
    assert ids(every_page(lambda n, s: ports.reads.list_trash(owner, n, s), 1)) == [second["docId"], first["docId"]]

    restored = ports.writes.restore(ports.reads.get_document(owner, first["docId"]))
    assert (restored["status"], restored["version"]) == (AVAILABLE, first["version"] + 2)
    with pytest.raises(Conflict):
        ports.writes.restore(ports.reads.get_document(owner, first["docId"]))
    assert ids(ports.reads.list_documents(owner, 10).items) == [first["docId"]]


def test_a_purge_removes_the_document_and_its_shares_and_releases_its_quota(ports: Ports) -> None:
    owner, grantee = user(), user()
    shared = available(ports, owner, size=400, tags=("tax",))
    ports.writes.put_share(shared, grantee)
    read = ports.reads.get_document(owner, shared["docId"])

    with pytest.raises(Conflict):
        ports.writes.purge(shared)  # read before the share
    ports.writes.purge(read)

    with pytest.raises(NotFound):
        ports.reads.get_document(owner, shared["docId"])
    assert ports.reads.usage(owner) == {"documents": 0, "bytes": 0}
    assert ports.reads.list_shared_with(grantee, 10).items == []
    assert ports.reads.find_share(grantee, shared["docId"]) is None
    assert ports.reads.list_by_tag(owner, "tax", 10).items == []
    assert ports.writes.release_expired_quota(read) is False
    ports.writes.delete_leftovers(read)  # nothing left: a no-op


# -- AP6 shares -----------------------------------------------------------------------------------
def test_only_an_available_document_can_be_shared(ports: Ports) -> None:
    owner = user()

    with pytest.raises(Conflict):
        ports.writes.put_share(created(ports, owner), user())


def test_sharing_again_returns_the_same_share(ports: Ports) -> None:
    owner, grantee = user(), user()
    read = available(ports, owner)

    first = ports.writes.put_share(read, grantee)
    again = ports.writes.put_share(ports.reads.get_document(owner, read["docId"]), grantee)

    assert again["sharedAt"] == first["sharedAt"] and again["grantee"] == grantee
    assert ports.reads.get_document(owner, read["docId"])[SHARED_WITH] == {grantee}
    assert ids(ports.reads.list_shared_with(grantee, 10).items) == [read["docId"]]
    found = ports.reads.find_share(grantee, read["docId"])
    assert found is not None and found["owner"] == owner


def test_a_share_of_a_document_read_before_a_rename_must_read_again(ports: Ports) -> None:
    owner = user()
    read = available(ports, owner)
    ports.writes.update_document(read, expected_version=read["version"], name="b.pdf", tags=None)

    with pytest.raises(DocumentChanged):
        ports.writes.put_share(read, user())


def test_a_document_is_shared_with_at_most_max_shares_users(ports: Ports) -> None:
    owner = user()
    read = available(ports, owner)
    for _ in range(MAX_SHARES):
        ports.writes.put_share(ports.reads.get_document(owner, read["docId"]), user())

    with pytest.raises(ShareLimitReached):
        ports.writes.put_share(ports.reads.get_document(owner, read["docId"]), user())


def test_shares_follow_the_document_out_of_and_back_from_the_trash(ports: Ports) -> None:
    owner, grantee = user(), user()
    read = available(ports, owner)
    ports.writes.put_share(read, grantee)

    trashed = ports.writes.trash(ports.reads.get_document(owner, read["docId"]))
    assert ports.reads.list_shared_with(grantee, 10).items == []
    assert ports.reads.find_share(grantee, read["docId"]) is None

    ports.writes.restore(trashed)
    assert ids(ports.reads.list_shared_with(grantee, 10).items) == [read["docId"]]


def test_unsharing_removes_the_share_and_unsharing_again_is_fine(ports: Ports) -> None:
    owner, grantee = user(), user()
    read = available(ports, owner)
    ports.writes.put_share(read, grantee)

    ports.writes.delete_share(owner, read["docId"], grantee)
    ports.writes.delete_share(owner, read["docId"], grantee)

    assert ports.reads.find_share(grantee, read["docId"]) is None
    assert SHARED_WITH not in ports.reads.get_document(owner, read["docId"])


def test_a_shared_listing_carries_the_documents_new_name(ports: Ports) -> None:
    owner, grantee = user(), user()
    read = available(ports, owner)
    ports.writes.put_share(read, grantee)
    now = ports.reads.get_document(owner, read["docId"])

    ports.writes.update_document(now, expected_version=now["version"], name="renamed.pdf", tags=None)

    assert [i["name"] for i in ports.reads.list_shared_with(grantee, 10).items] == ["renamed.pdf"]


# -- AP8 ------------------------------------------------------------------------------------------
def test_the_recent_feed_lists_available_uploads_newest_first(ports: Ports) -> None:
    owner = user()
    older, newer = available(ports, owner), available(ports, owner)
    pending = created(ports, owner)
    trashed = ports.writes.trash(available(ports, owner))

    feed = ids(ports.reads.recent_uploads(100))

    assert feed.index(newer["docId"]) < feed.index(older["docId"])
    assert pending["docId"] not in feed and trashed["docId"] not in feed
    assert ports.reads.recent_uploads(1)[0]["docId"] == feed[0]


# -- the search's authority (the table's word on what a search engine found) ----------------------


@pytest.fixture(params=["in-memory", "dynamodb-local"])
def authority_ports(request: pytest.FixtureRequest) -> Ports:
    """The search asks the table strongly, so only the consistent adapter (and the fake) serve it."""
    from folio.reads import DynamoDbReads
    from folio.writes import DynamoDbWrites
    from tests.support.fake_ports import InMemoryDocuments

    if request.param == "in-memory":
        fake = InMemoryDocuments()
        return Ports(reads=fake, writes=fake)
    client, table = request.getfixturevalue("contract_table")
    return Ports(reads=DynamoDbReads(client, table, consistent=True), writes=DynamoDbWrites(client, table))


def test_the_table_says_which_found_documents_still_exist_and_how(authority_ports: Ports) -> None:
    # Given a shared document, a trashed one, a purged one, and another user's id for nothing
    ports = authority_ports
    owner, friend = user(), user()
    shared = available(ports, owner)
    ports.writes.put_share(shared, friend)
    trashed = ports.writes.trash(available(ports, owner))
    purged = available(ports, owner)
    ports.writes.purge(purged)

    # When the search asks about them all
    wanted = [(owner, shared["docId"]), (owner, trashed["docId"]), (owner, purged["docId"]), (friend, "nothing")]
    current = ports.reads.current_documents(wanted)  # type: ignore[attr-defined]

    # Then it hears about the two that exist, as they are now, and nothing else
    assert set(current) == {(owner, shared["docId"]), (owner, trashed["docId"])}
    assert current[(owner, shared["docId"])]["status"] == AVAILABLE
    assert set(current[(owner, shared["docId"])][SHARED_WITH]) == {friend}
    assert current[(owner, trashed["docId"])]["status"] == TRASHED
    assert ports.reads.current_documents([]) == {}  # type: ignore[attr-defined]
