"""The search index's sweep: it deletes the entries of documents the table no longer has.

The pipeline deletes a document's entry when the document's REMOVE reaches it. A REMOVE it
drops (a version tie: docs/search.md, "Known gap"), one in its dead letters, or a stale record
re-delivered after `index.gc_deletes` can leave an entry behind. Search never shows one (each
page is checked against the table), but a purged document's name and tags must still leave every
store. So every `SWEEP_INTERVAL` (stacks/components/search_sweep.py) this pages through the whole
index in document-id order and deletes, in one bulk request per page, the entries whose document
a strongly consistent read of the table does not find.

Why a delete cannot lose a live document: a document's id is a ULID, never reused, and the table
is written before the pipeline indexes anything, so an entry whose document the table lacks
belongs to a document gone for good. A trashed document is still in the table: its entry stays
(search filters it) until TTL removes the item.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from folio import keys
from folio.custom_resource import NoAnswer
from folio.search_index import ID_SEPARATOR, INDEX_NAME, OWNER_FIELD, SEARCH_PATH, TIE_BREAKER_FIELD
from folio.signed_http import SignedDomainClient

# One BatchGetItem per page (its limit is 100 keys).
PAGE_SIZE = 100
BULK_PATH = f"{INDEX_NAME}/_bulk"
# A run starts another page only while it has this much time (`seconds_left`, which already
# keeps back what the handler needs to log): a page is one search, one BatchGetItem and at most
# one bulk request. An unfinished run is reported (`complete` False); the next starts over.
MIN_PAGE_SECONDS = 2.0
# A bulk delete's item statuses that mean the entry is gone (404: someone deleted it first).
GONE = (200, 404)


class SweepFailed(RuntimeError):
    """The domain refused a page or a delete: the run stops (and Lambda retries it)."""


class IndexEntries(Protocol):
    """The index as the sweep sees it: pages of entries in id order, and a bulk delete."""

    def page(self, after: list[Any] | None) -> list[dict[str, Any]]: ...

    def delete(self, entry_ids: Sequence[str]) -> int: ...


@dataclass
class SweepReport:
    scanned: int = 0
    deleted: int = 0
    unreadable: int = 0  # entries whose id is not their document's key: counted, left alone
    complete: bool = False


def page_body(after: list[Any] | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "size": PAGE_SIZE,
        "query": {"match_all": {}},
        "sort": [{TIE_BREAKER_FIELD: "asc"}],  # unique per document: pages neither skip nor repeat
        "_source": [OWNER_FIELD, TIE_BREAKER_FIELD],
    }
    if after is not None:
        body["search_after"] = after
    return body


def bulk_delete_body(entry_ids: Sequence[str]) -> bytes:
    return b"".join(json.dumps({"delete": {"_index": INDEX_NAME, "_id": i}}).encode() + b"\n" for i in entry_ids)


def document_of(hit: dict[str, Any]) -> tuple[str, str] | None:
    """The (owner, docId) of the table item an entry stands for, read from the entry's id (the
    item's key, which is also what a delete removes) and confirmed by its stored fields; None for
    an entry whose id is not a document's key or disagrees with its fields: never deleted."""
    partition, separator, sort = str(hit.get("_id", "")).partition(ID_SEPARATOR)
    source = hit.get("_source") or {}
    owner, doc_id = source.get(OWNER_FIELD), source.get(TIE_BREAKER_FIELD)
    if separator != ID_SEPARATOR or not isinstance(owner, str) or not isinstance(doc_id, str):
        return None
    try:
        key = (keys.user_partition(owner), keys.document_sort_key(doc_id))
    except keys.InvalidKeyPart:
        return None
    return (owner, doc_id) if key == (partition, sort) else None


def sweep(
    entries: IndexEntries,
    current_documents: Callable[[Sequence[tuple[str, str]]], dict[tuple[str, str], Any]],
    seconds_left: Callable[[], float],
) -> SweepReport:
    """Page through the index until its end or until less than `MIN_PAGE_SECONDS` are left."""
    report = SweepReport()
    after: list[Any] | None = None
    while seconds_left() > MIN_PAGE_SECONDS:
        hits = entries.page(after)
        documents = [document_of(hit) for hit in hits]
        existing = current_documents([d for d in documents if d is not None])
        stale = [
            hit["_id"] for hit, document in zip(hits, documents, strict=True) if document and document not in existing
        ]
        report.unreadable += documents.count(None)
        if stale:
            report.deleted += entries.delete(stale)
        report.scanned += len(hits)
        if len(hits) < PAGE_SIZE:
            report.complete = True
            break
        after = hits[-1]["sort"]
    return report


class OpenSearchIndexEntries(SignedDomainClient):
    """IndexEntries on the domain at `endpoint`, each request signed as the function's role and
    bounded by the time the invocation has left."""

    def _post(self, path: str, payload: bytes) -> tuple[int, Any]:
        try:
            response = self.send("POST", f"/{path}", payload)
        except NoAnswer as error:
            raise SweepFailed(f"POST /{path}: {error}") from error
        try:
            return response.status, json.loads(response.data)
        except ValueError:
            return response.status, response.data[:500]

    def page(self, after: list[Any] | None) -> list[dict[str, Any]]:
        status, answer = self._post(SEARCH_PATH, json.dumps(page_body(after)).encode())
        if status == 404 and "index_not_found_exception" in json.dumps(answer):
            return []  # nothing indexed yet
        if status != 200:
            raise SweepFailed(f"POST /{SEARCH_PATH}: HTTP {status}: {answer}")
        hits: list[dict[str, Any]] = answer["hits"]["hits"]
        return hits

    def delete(self, entry_ids: Sequence[str]) -> int:
        status, answer = self._post(BULK_PATH, bulk_delete_body(entry_ids))
        if status != 200 or not isinstance(answer, dict):
            raise SweepFailed(f"POST /{BULK_PATH}: HTTP {status}: {answer}")
        results = [item["delete"] for item in answer.get("items", [])]
        refused = [r for r in results if r.get("status") not in GONE]
        if refused or len(results) != len(entry_ids):
            raise SweepFailed(f"POST /{BULK_PATH}: {len(refused)} of {len(entry_ids)} deletes refused: {refused[:3]}")
        return sum(1 for r in results if r.get("status") == 200)
