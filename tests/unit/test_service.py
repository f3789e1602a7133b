"""DocumentService on in-memory fakes of its ports (tests/support/fake_ports.py): the rules
between the edge and the store, in milliseconds. tests/contract keeps the fake honest."""

from __future__ import annotations

import inspect
import typing
import uuid
from typing import Any

import pytest

from folio.domain import AVAILABLE, PENDING, TRASHED
from folio.errors import (
    Conflict,
    DocumentChanged,
    Forbidden,
    InvalidCursor,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    QuotaExceeded,
)
from folio.object_keys import DOCUMENT_OBJECT_PREFIX
from folio.requests import (
    CreateDocument,
    DeleteDocument,
    ListQuery,
    PageQuery,
    ShareRequest,
    UpdateDocument,
)
from folio.service import Caller, DocumentService, Limits
from tests.support.fake_ports import InMemoryDocuments

ADMINS = "admins"


class FakeStorage:
    """DocumentStorage's presigning, without S3: what was signed for which key."""

    prefix = DOCUMENT_OBJECT_PREFIX

    def upload_form(self, key: str, content_type: str, size: int) -> dict[str, Any]:
        return {"url": "https://upload.example", "fields": {"key": key, "Content-Type": content_type,
                "size": str(size)}, "expiresIn": 300}  # fmt: skip

    def download_url(self, key: str, file_name: str) -> dict[str, Any]:
        return {"url": f"https://download.example/{key}?name={file_name}", "expiresIn": 300}


@pytest.fixture
def store() -> InMemoryDocuments:
    return InMemoryDocuments()


@pytest.fixture
def service(store: InMemoryDocuments) -> DocumentService:
    limits = Limits(quota_documents=5, quota_bytes=10_000, admins_group=ADMINS)
    return DocumentService(store, store, FakeStorage(), limits, lambda: b"cursor-secret")  # type: ignore[arg-type]


def caller(*groups: str) -> Caller:
    return Caller(user_id=str(uuid.uuid4()), groups=frozenset(groups))


def new(name: str = "a.pdf", *, size: int = 100, tags: tuple[str, ...] = (), content_type: str = "application/pdf"
        ) -> CreateDocument:  # fmt: skip
    return CreateDocument(name=name, content_type=content_type, size=size, tags=tags)


def uploaded(service: DocumentService, store: InMemoryDocuments, who: Caller, **kwargs: Any) -> dict[str, Any]:
    """A document of `who` whose upload has been settled (as the upload worker would)."""
    document = service.create_document(who, new(**kwargs))
    assert store.mark_available(store.get_document(who.user_id, document["id"]))
    return service.get(who, document["id"])


# -- create and read -------------------------------------------------------------------------------
def test_a_new_document_is_pending_with_a_form_bound_to_its_key_type_and_size(service: DocumentService) -> None:
    me = caller()

    answer = service.create(me, new(tags=("tax",)))

    document, form = answer["document"], answer["upload"]
    assert (document["status"], document["version"], document["tags"]) == (PENDING, 1, ["tax"])
    assert form["fields"] == {"key": f"documents/{me.user_id}/{document['id']}", "Content-Type": "application/pdf",
                              "size": "100"}  # fmt: skip
    assert service.get(me, document["id"]) == document
    assert service.usage(me) == {"documents": 1, "bytes": 100, "quotaDocuments": 5, "quotaBytes": 10_000}


def test_nobody_reads_another_users_document(service: DocumentService) -> None:
    document = service.create_document(caller(), new())

    with pytest.raises(NotFound):
        service.get(caller(), document["id"])


def test_the_quota_is_the_deployments(service: DocumentService) -> None:
    me = caller()
    for _ in range(5):
        service.create_document(me, new())

    with pytest.raises(QuotaExceeded):
        service.create_document(me, new())


def test_a_replayed_create_gets_a_fresh_form_only_while_the_upload_is_awaited(
    service: DocumentService, store: InMemoryDocuments
) -> None:
    me = caller()
    document = service.create_document(me, new())
    assert service.replayed_with_upload_form(me, document)["document"]["id"] == document["id"]

    store.mark_available(store.get_document(me.user_id, document["id"]))
    with pytest.raises(Conflict, match="no longer waiting"):
        service.replayed_with_upload_form(me, document)

    service.delete(me, DeleteDocument(document["id"], purge=True))
    with pytest.raises(Conflict, match="is gone"):
        service.replayed_with_upload_form(me, document)


# -- lists -----------------------------------------------------------------------------------------
def test_lists_page_newest_first_with_cursors_bound_to_the_caller(service: DocumentService) -> None:
    me = caller()
    made = [service.create_document(me, new(f"{n}.pdf", tags=("tax",)))["id"] for n in range(3)]

    first = service.list(me, ListQuery(tag=None, doc_type=None, limit=2, cursor=None))
    rest = service.list(me, ListQuery(tag=None, doc_type=None, limit=2, cursor=first["cursor"]))

    # Ids are time-ordered (ULIDs): newest first is highest id first, also within one millisecond.
    assert [d["id"] for d in first["items"] + rest["items"]] == sorted(made, reverse=True)
    assert "cursor" not in rest
    with pytest.raises(InvalidCursor):
        service.list(caller(), ListQuery(tag=None, doc_type=None, limit=2, cursor=first["cursor"]))
    with pytest.raises(InvalidCursor):  # bound to the query too
        service.list(me, ListQuery(tag="tax", doc_type=None, limit=2, cursor=first["cursor"]))


def test_lists_filter_by_tag_or_by_type(service: DocumentService) -> None:
    me = caller()
    pdf = service.create_document(me, new(tags=("tax",)))
    image = service.create_document(me, new("a.png", content_type="image/png"))

    by_tag = service.list(me, ListQuery(tag="tax", doc_type=None, limit=10, cursor=None))
    by_type = service.list(me, ListQuery(tag=None, doc_type="image", limit=10, cursor=None))

    assert [d["id"] for d in by_tag["items"]] == [pdf["id"]]
    assert [d["id"] for d in by_type["items"]] == [image["id"]]


# -- changes ---------------------------------------------------------------------------------------
def test_an_update_needs_the_version_the_caller_read(service: DocumentService, store: InMemoryDocuments) -> None:
    me = caller()
    document = uploaded(service, store, me)

    renamed = service.update(me, UpdateDocument(document["id"], document["version"], "b.pdf", ("new",)))

    assert (renamed["name"], renamed["tags"], renamed["version"]) == ("b.pdf", ["new"], document["version"] + 1)
    with pytest.raises(PreconditionFailed):
        service.update(me, UpdateDocument(document["id"], document["version"], "c.pdf", None))


def test_a_trashed_document_cannot_be_updated_but_can_be_restored(
    service: DocumentService, store: InMemoryDocuments
) -> None:
    me = caller()
    document = uploaded(service, store, me)

    service.delete(me, DeleteDocument(document["id"], purge=False))

    assert [d["id"] for d in service.trash_list(me, PageQuery(10, None))["items"]] == [document["id"]]
    assert service.get(me, document["id"])["status"] == TRASHED
    with pytest.raises(NotFound):
        service.update(me, UpdateDocument(document["id"], document["version"] + 1, "b.pdf", None))
    assert service.restore(me, document["id"])["status"] == AVAILABLE
    with pytest.raises(Conflict):
        service.restore(me, document["id"])


def test_a_purge_gives_the_quota_back(service: DocumentService, store: InMemoryDocuments) -> None:
    me = caller()
    document = uploaded(service, store, me, size=700)

    service.delete(me, DeleteDocument(document["id"], purge=True))

    with pytest.raises(NotFound):
        service.get(me, document["id"])
    assert service.usage(me)["bytes"] == 0


# -- sharing and downloads -------------------------------------------------------------------------
def test_a_grantee_lists_and_downloads_a_shared_document_until_unshared(
    service: DocumentService, store: InMemoryDocuments
) -> None:
    owner, grantee, stranger = caller(), caller(), caller()
    document = uploaded(service, store, owner)

    answer = service.share(owner, ShareRequest.to_share(owner.user_id, document["id"], grantee.user_id))

    assert answer["userId"] == grantee.user_id
    assert [d["id"] for d in service.shared(grantee, PageQuery(10, None))["items"]] == [document["id"]]
    assert service.download(grantee, document["id"])["url"].endswith("?name=a.pdf")
    with pytest.raises(NotFound):
        service.download(stranger, document["id"])

    service.unshare(owner, ShareRequest.to_unshare(document["id"], grantee.user_id))
    assert service.shared(grantee, PageQuery(10, None))["items"] == []
    with pytest.raises(NotFound):
        service.download(grantee, document["id"])


def test_a_former_grantee_is_refused_even_while_the_index_lags(
    service: DocumentService, store: InMemoryDocuments, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner, grantee = caller(), caller()
    document = uploaded(service, store, owner)
    service.share(owner, ShareRequest.to_share(owner.user_id, document["id"], grantee.user_id))
    stale = store.find_share(grantee.user_id, document["id"])
    service.unshare(owner, ShareRequest.to_unshare(document["id"], grantee.user_id))

    monkeypatch.setattr(store, "find_share", lambda who, doc_id: stale)  # GSI1 has not caught up

    with pytest.raises(NotFound):
        service.download(grantee, document["id"])


def test_only_uploaded_content_can_be_downloaded(service: DocumentService) -> None:
    me = caller()
    document = service.create_document(me, new())

    with pytest.raises(NotFound, match="no downloadable content"):
        service.download(me, document["id"])


def test_a_share_that_races_a_rename_shares_the_document_as_it_is_now(
    service: DocumentService, store: InMemoryDocuments, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner, grantee = caller(), caller()
    document = uploaded(service, store, owner)
    put_share = store.put_share
    attempts: list[int] = []

    def renamed_first(read: dict[str, Any], who: str) -> dict[str, Any]:
        if not attempts:
            current = store.get_document(owner.user_id, document["id"])
            store.update_document(current, expected_version=current["version"], name="renamed.pdf", tags=None)
        attempts.append(1)
        return put_share(read, who)

    monkeypatch.setattr(store, "put_share", renamed_first)

    service.share(owner, ShareRequest.to_share(owner.user_id, document["id"], grantee.user_id))

    assert len(attempts) == 2
    assert [d["name"] for d in service.shared(grantee, PageQuery(10, None))["items"]] == ["renamed.pdf"]


def test_a_document_that_keeps_changing_is_a_conflict_to_retry(
    service: DocumentService, store: InMemoryDocuments, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = caller()
    document = uploaded(service, store, owner)

    def always_changed(read: dict[str, Any], who: str) -> dict[str, Any]:
        raise DocumentChanged("the document changed while sharing it; try again")

    monkeypatch.setattr(store, "put_share", always_changed)

    with pytest.raises(Conflict):
        service.share(owner, ShareRequest.to_share(owner.user_id, document["id"], caller().user_id))


def test_nobody_shares_with_themselves() -> None:
    me = caller()

    with pytest.raises(InvalidInput, match="yourself"):
        ShareRequest.to_share(me.user_id, "01ABC", me.user_id)


# -- the admin feed --------------------------------------------------------------------------------
def test_only_admins_read_the_recent_uploads(service: DocumentService, store: InMemoryDocuments) -> None:
    owner = caller()
    document = uploaded(service, store, owner)

    feed = service.recent(caller(ADMINS), 10)["items"]

    assert [(i["id"], i["owner"]) for i in feed] == [(document["id"], owner.user_id)]
    with pytest.raises(Forbidden):
        service.recent(owner, 10)


# -- the service's own signature -------------------------------------------------------------------
TYPED = {"Caller", "str", "int", "CreateDocument", "UpdateDocument", "ListQuery", "PageQuery", "DeleteDocument",
         "ShareRequest"}  # fmt: skip
# The create answer is built from the API's view of a document (a create's, or the one the
# idempotency layer kept), not from a request.
API_VIEWS = {("with_upload_form", "document"), ("replayed_with_upload_form", "document")}


def test_the_service_takes_typed_requests_never_raw_input() -> None:
    untyped = []
    for name, method in inspect.getmembers(DocumentService, inspect.isfunction):
        if name.startswith("_"):
            continue
        hints = typing.get_type_hints(method)
        for parameter in list(inspect.signature(method).parameters)[1:]:
            annotation = hints[parameter]
            label = getattr(annotation, "__name__", str(annotation))
            if label not in TYPED and (name, parameter) not in API_VIEWS:
                untyped.append(f"{name}({parameter}: {label})")

    assert untyped == []
