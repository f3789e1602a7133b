"""The service's ports: two onto the documents' store, split where a cache would cut it, and the
search index.

`DocumentReads` (AP2-AP8 and usage) may be served by a cache in front of DynamoDB;
`DocumentWrites` always goes to the table. Adapters: folio.reads.DynamoDbReads and
folio.writes.DynamoDbWrites; in-memory fakes for tests in tests/support/fake_ports.py. The
same contract tests (tests/contract) run against both, so a fake cannot drift from the engine.

Documents travel as dicts of the item's attributes (folio.domain.LISTING and the rest); a
write takes the document *as read* and is conditioned on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from folio.domain import Page, SearchPage


class DocumentReads(Protocol):
    """Reads of one partition, or of what a share grants. Cursors (`start`) are the `last_key`
    of a page of the same query; one from another partition raises InvalidCursor."""

    def get_document(self, owner: str, doc_id: str) -> dict[str, Any]:
        """AP2: one document of `owner`, in any status. Raises NotFound."""
        ...

    def list_documents(self, owner: str, limit: int, start: dict[str, Any] | None = None) -> Page:
        """AP3: `owner`'s documents that are not trashed, newest first."""
        ...

    def list_by_tag(self, owner: str, tag: str, limit: int, start: dict[str, Any] | None = None) -> Page:
        """AP4: `owner`'s documents with `tag`, not trashed, newest first."""
        ...

    def list_by_type(self, owner: str, doc_type: str, limit: int, start: dict[str, Any] | None = None) -> Page:
        """AP5: `owner`'s documents of `doc_type` (folio.domain.doc_type_of), not trashed,
        most recently updated first."""
        ...

    def list_shared_with(self, grantee: str, limit: int, start: dict[str, Any] | None = None) -> Page:
        """AP6: AVAILABLE documents shared with `grantee`, newest first (eventually consistent)."""
        ...

    def list_trash(self, owner: str, limit: int, start: dict[str, Any] | None = None) -> Page:
        """AP7: `owner`'s trashed documents, most recently trashed first."""
        ...

    def recent_uploads(self, limit: int) -> list[dict[str, Any]]:
        """AP8: the newest AVAILABLE documents of every user, newest first (admins only:
        the service checks)."""
        ...

    def find_share(self, grantee: str, doc_id: str) -> dict[str, Any] | None:
        """The share of `doc_id` with `grantee` (with the owner), or None. Eventually
        consistent: the document's grantee set decides."""
        ...

    def usage(self, owner: str) -> dict[str, int]:
        """{"documents": n, "bytes": n} that `owner`'s documents hold against the quota."""
        ...


class DocumentWrites(Protocol):
    """Writes, each all or nothing. Refused for capacity: Throttled."""

    def create_document(self, document: dict[str, Any], *, max_documents: int, max_bytes: int) -> dict[str, Any]:
        """AP1: a PENDING document with its tag links, reserving its quota. Raises
        QuotaExceeded (nothing written) or Conflict (a lost race). Returns the item."""
        ...

    def mark_available(self, document: dict[str, Any]) -> bool:
        """Settle an upload of `document` as read: PENDING -> AVAILABLE; trashed while
        PENDING stays trashed and is restored AVAILABLE. False if it is no longer as read or
        was not awaiting its upload; a lost race raises Conflict."""
        ...

    def reject_upload(self, document: dict[str, Any]) -> bool:
        """Remove a document whose object did not match, releasing its quota. False if it is
        no longer as read or was not awaiting its upload; a lost race raises Conflict."""
        ...

    def update_document(
        self, document: dict[str, Any], *, expected_version: int, name: str | None, tags: list[str] | None
    ) -> dict[str, Any]:
        """AP9: rename and/or retag. PreconditionFailed when the version is not
        `expected_version`; Conflict when a share raced it. Returns the new document."""
        ...

    def trash(self, document: dict[str, Any]) -> dict[str, Any]:
        """Move to the trash. Conflict if already trashed or changed since read."""
        ...

    def restore(self, document: dict[str, Any]) -> dict[str, Any]:
        """Back from the trash, in its status before. Conflict if not trashed or changed."""
        ...

    def purge(self, document: dict[str, Any]) -> None:
        """Delete the document, its links and shares, and release its quota once. Conflict if
        it changed since read."""
        ...

    def delete_leftovers(self, document: dict[str, Any]) -> None:
        """Delete the tag links and shares of a document that has left the table (idempotent)."""
        ...

    def release_expired_quota(self, document: dict[str, Any]) -> bool:
        """Release an expired document's quota exactly once: True now, False if it already was."""
        ...

    def put_share(self, document: dict[str, Any], grantee: str) -> dict[str, Any]:
        """AP6: share an AVAILABLE document as read (again: the existing share, unchanged).
        Conflict if not AVAILABLE, ShareLimitReached at MAX_SHARES, DocumentChanged if the
        document changed since read (read again and decide again)."""
        ...

    def delete_share(self, owner: str, doc_id: str, grantee: str) -> None:
        """Stop sharing; a share that does not exist is already stopped."""
        ...


class DocumentSearch(Protocol):
    """Full-text search of the documents index, which the zero-ETL pipeline feeds from the table's
    stream: seconds behind the table. Adapter: folio.search.OpenSearchDocuments; fake:
    tests/support/fake_search.py; both run tests/contract/test_document_search.py."""

    def search(
        self, caller: str, scope: str, text: str | None, limit: int, after: list[Any] | None = None
    ) -> SearchPage:
        """Documents whose owner is `caller` (scope "mine"), whose grantee set holds `caller`
        ("shared"), or either ("all"); never TRASHED ones; whose name or tags hold every word of
        `text` (None: all of them); most recently updated first, ties by id. At most `limit`
        items, each the indexed document (never its grantee set) with "highlights": the name,
        HTML-escaped, matches inside <em></em> (empty when only a tag matched). `after`: the
        previous page's `after`, for the same caller, scope and text."""
        ...


class DocumentAuthority(Protocol):
    """The table's word on documents a search engine found: the index trails the table, and a
    change can be lost on the way (docs/search.md, "Known gap"), so the table decides."""

    def current_documents(self, documents: Sequence[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """(owner, docId) -> the document's `owner`, `docId`, `status` and grantees as they are
        now (strongly consistent), for those of `documents` that still exist."""
        ...
