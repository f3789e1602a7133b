"""What Folio does for a caller: the rules between the HTTP edge and the adapters.

Identity comes only from the authorizer's claims (`Caller`); every read is of the
caller's own partition, or of a document shared with the caller through a share item.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from folio import cursor
from folio.domain import AVAILABLE, PENDING, SHARED_WITH, TRASHED, Page, awaiting_upload, doc_type_of, now_iso, public
from folio.errors import (
    Conflict,
    DocumentChanged,
    Forbidden,
    NotFound,
)
from folio.ids import new_id
from folio.object_keys import object_key
from folio.requests import (
    CreateDocument,
    DeleteDocument,
    ListQuery,
    PageQuery,
    ShareRequest,
    UpdateDocument,
    valid_id,
)
from folio.storage import DocumentStorage

if TYPE_CHECKING:  # the ports are types only: not imported (nor compiled) at a cold start
    from folio.ports import DocumentReads, DocumentWrites

SHARE_ATTEMPTS = 3
# One page of a listing: (page size, where to continue) -> Page.
PageFetch = Callable[[int, dict[str, Any] | None], Page]


@dataclass(frozen=True)
class Caller:
    user_id: str
    groups: frozenset[str]


@dataclass(frozen=True)
class Limits:
    """The deployment's limits that the service applies (the upload size is the edge's:
    folio.requests.CreateDocument.parse)."""

    quota_documents: int
    quota_bytes: int
    admins_group: str


class DocumentService:
    def __init__(
        self,
        reads: DocumentReads,
        writes: DocumentWrites,
        storage: DocumentStorage,
        limits: Limits,
        cursor_secret: Callable[[], bytes],
        *,
        cached_reads: DocumentReads | None = None,
    ) -> None:
        """`cursor_secret` is called only when a cursor is encoded or decoded: reading the
        secret is a permission of the paging (read) function alone, not of every function.

        `reads` are the reads a write or an authorization depends on: always consistent.
        `cached_reads` (by default `reads`) serve the hot, read-mostly paths of
        docs/read-path.md, which may be up to one cache TTL stale: the documents shared with
        the caller, the share that locates a shared document's owner for a download, and the
        admin feed (stacks/read_path.py grants exactly these through DAX)."""
        self.reads = reads
        self.writes = writes
        self.cached_reads = reads if cached_reads is None else cached_reads
        self.storage = storage
        self.limits = limits
        self.cursor_secret = cursor_secret

    # -- create ---------------------------------------------------------------------------
    def create(self, caller: Caller, request: CreateDocument) -> dict[str, Any]:
        """A PENDING document and a form to upload its content."""
        return self.with_upload_form(caller, self.create_document(caller, request))

    def create_document(self, caller: Caller, request: CreateDocument) -> dict[str, Any]:
        """A PENDING document (the API's view), with its quota reserved."""
        doc_id, created = new_id(), now_iso()
        document = {
            "docId": doc_id,
            "owner": caller.user_id,
            "name": request.name,
            "contentType": request.content_type,
            "docType": doc_type_of(request.content_type),
            "size": request.size,
            "status": PENDING,
            "tags": list(request.tags),
            "version": 1,
            "createdAt": created,
            "updatedAt": created,
        }
        item = self.writes.create_document(
            document, max_documents=self.limits.quota_documents, max_bytes=self.limits.quota_bytes
        )
        return public(item)

    def with_upload_form(self, caller: Caller, document: dict[str, Any]) -> dict[str, Any]:
        """A create's answer: `document` (the caller's, as create_document returned it) and
        an upload form signed now, bound to its key and to the content type and size its
        quota was reserved for. Signed on every answer, replays included: a form lives
        300 s, a replayable answer an hour."""
        key = object_key(self.storage.prefix, caller.user_id, document["id"])
        return {
            "document": document,
            "upload": self.storage.upload_form(key, document["contentType"], document["size"]),
        }

    def replayed_with_upload_form(self, caller: Caller, document: dict[str, Any]) -> dict[str, Any]:
        """A replayed create's answer: the document as it is now with a fresh form, only while
        it still awaits its upload. A form for a purged document would let bytes land after
        the purge (and after the lifecycle worker); one for an uploaded document would let its
        owner replace the content of an AVAILABLE, perhaps shared, document without a new
        version. Either way the replay is a 409."""
        try:
            current = self.reads.get_document(caller.user_id, valid_id(document["id"], "the document id"))
        except NotFound:
            raise Conflict("the document this request created is gone; send a new Idempotency-Key") from None
        if not awaiting_upload(current):
            raise Conflict("the document this request created is no longer waiting for its upload")
        return self.with_upload_form(caller, public(current))

    # -- reads ----------------------------------------------------------------------------
    def get(self, caller: Caller, doc_id: str) -> dict[str, Any]:
        return public(self.reads.get_document(caller.user_id, doc_id))

    def _page(self, caller: Caller, query: str, limit: int, token: str | None, fetch: PageFetch) -> dict[str, Any]:
        start = cursor.decode(token, caller=caller.user_id, query=query, secret=self.cursor_secret()) if token else None
        page = fetch(limit, start)
        result: dict[str, Any] = {"items": [public(i) for i in page.items]}
        if page.last_key:
            result["cursor"] = cursor.encode(
                page.last_key, caller=caller.user_id, query=query, secret=self.cursor_secret()
            )
        return result

    def list(self, caller: Caller, query: ListQuery) -> dict[str, Any]:
        me, tag, doc_type = caller.user_id, query.tag, query.doc_type
        if tag is not None:
            return self._page(
                caller, f"tag:{tag}", query.limit, query.cursor, lambda n, s: self.reads.list_by_tag(me, tag, n, s)
            )
        if doc_type is not None:
            return self._page(
                caller, f"type:{doc_type}", query.limit, query.cursor,
                lambda n, s: self.reads.list_by_type(me, doc_type, n, s),
            )  # fmt: skip
        return self._page(caller, "all", query.limit, query.cursor, lambda n, s: self.reads.list_documents(me, n, s))

    def trash_list(self, caller: Caller, query: PageQuery) -> dict[str, Any]:
        return self._page(
            caller, "trash", query.limit, query.cursor, lambda n, s: self.reads.list_trash(caller.user_id, n, s)
        )

    def shared(self, caller: Caller, query: PageQuery) -> dict[str, Any]:
        return self._page(
            caller,
            "shared",
            query.limit,
            query.cursor,
            lambda n, s: self.cached_reads.list_shared_with(caller.user_id, n, s),
        )

    def usage(self, caller: Caller) -> dict[str, int]:
        used = self.reads.usage(caller.user_id)
        return {**used, "quotaDocuments": self.limits.quota_documents, "quotaBytes": self.limits.quota_bytes}

    def require_admin(self, caller: Caller) -> None:
        if self.limits.admins_group not in caller.groups:
            raise Forbidden("only administrators may read the recent-uploads feed")

    def recent(self, caller: Caller, limit: int) -> dict[str, Any]:
        self.require_admin(caller)
        items = self.cached_reads.recent_uploads(limit)
        return {"items": [{**{k: i.get(k) for k in ("owner", "name", "contentType", "status")}, "id": i["docId"],
                           "size": int(i["size"]), "createdAt": i["createdAt"]} for i in items]}  # fmt: skip

    # -- changes --------------------------------------------------------------------------
    def update(self, caller: Caller, request: UpdateDocument) -> dict[str, Any]:
        document = self.reads.get_document(caller.user_id, request.doc_id)
        if document["status"] == TRASHED:
            raise NotFound("no such document")
        tags = None if request.tags is None else list(request.tags)
        return public(
            self.writes.update_document(
                document, expected_version=request.expected_version, name=request.name, tags=tags
            )
        )

    def delete(self, caller: Caller, request: DeleteDocument) -> None:
        document = self.reads.get_document(caller.user_id, request.doc_id)
        if request.purge:
            self.writes.purge(document)
        else:
            self.writes.trash(document)

    def restore(self, caller: Caller, doc_id: str) -> dict[str, Any]:
        return public(self.writes.restore(self.reads.get_document(caller.user_id, doc_id)))

    def share(self, caller: Caller, request: ShareRequest) -> dict[str, Any]:
        share = self._share_as_it_is_now(caller.user_id, request.doc_id, request.grantee)
        return {"documentId": request.doc_id, "userId": request.grantee, "sharedAt": share["sharedAt"]}

    def _share_as_it_is_now(self, owner: str, doc_id: str, grantee: str) -> dict[str, Any]:
        """A share names no version (no If-Match), so a rename, retag or another share that
        lands between the read and the write is not the caller's conflict: read again and
        share the document as it is now. Only a document that keeps changing is a 409."""
        for _ in range(SHARE_ATTEMPTS - 1):
            try:
                return self.writes.put_share(self.reads.get_document(owner, doc_id), grantee)
            except DocumentChanged:
                continue
        return self.writes.put_share(self.reads.get_document(owner, doc_id), grantee)

    def unshare(self, caller: Caller, request: ShareRequest) -> None:
        self.reads.get_document(caller.user_id, request.doc_id)
        self.writes.delete_share(caller.user_id, request.doc_id, request.grantee)

    def download(self, caller: Caller, doc_id: str) -> dict[str, Any]:
        try:
            # Consistent, never cached: a download is authorized on the document as it is now,
            # so a purge or a trash ends the owner's downloads at once (a cached AVAILABLE
            # item would sign a URL for an object the lifecycle worker has yet to delete).
            document = self.reads.get_document(caller.user_id, doc_id)
        except NotFound:
            # The share only locates the owner: GSI1 (and a cache in front of it) may still
            # list it just after an unshare. The strongly read document's grantee set decides.
            share = self.cached_reads.find_share(caller.user_id, doc_id)
            if share is None:
                raise
            document = self.reads.get_document(share["owner"], doc_id)
            if caller.user_id not in document.get(SHARED_WITH, set()):
                raise
        if document["status"] != AVAILABLE:
            raise NotFound("the document has no downloadable content")
        key = object_key(self.storage.prefix, document["owner"], doc_id)
        return self.storage.download_url(key, document["name"])
