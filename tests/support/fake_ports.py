"""In-memory fakes of folio.ports.DocumentReads and DocumentWrites, for fast service tests.

`InMemoryDocuments` keeps documents, shares, usage and quota-release markers in dicts and
answers as the DynamoDB adapters do: the same errors for the same refusals (quota, versions,
share cap, trash), newest-first order, pages whose `last_key` has the table's key shape and is
refused for another partition. tests/contract runs the same tests against it and against the
adapters on DynamoDB Local, so it cannot drift from the engine unnoticed.

What it does not model: throttling, DynamoDB's Limit-before-filter (a page here is always
full when more items follow), eventual consistency of the indexes, TTL expiry.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

from folio import keys
from folio.contracts import MAX_SHARES
from folio.domain import (
    AVAILABLE,
    LISTING,
    SHARED_WITH,
    TRASHED,
    Page,
    awaiting_upload,
    now_iso,
)
from folio.dynamodb import check_start, serialize
from folio.errors import (
    Conflict,
    DocumentChanged,
    NotFound,
    PreconditionFailed,
    QuotaExceeded,
    ShareLimitReached,
)

# The attributes of a document item that the adapters never return as part of the document.
_TYPE_ORDER = "_typeOrder"  # GSI1SK's time: set at create and by update_document only


class InMemoryDocuments:
    """Both ports over plain dicts. Not thread-safe; one per test."""

    def __init__(self) -> None:
        self.documents: dict[tuple[str, str], dict[str, Any]] = {}
        self.shares: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.counts: dict[str, dict[str, int]] = {}
        self.released: set[tuple[str, str]] = set()

    # -- helpers --------------------------------------------------------------------------
    @staticmethod
    def _out(item: dict[str, Any]) -> dict[str, Any]:
        return copy.deepcopy({k: v for k, v in item.items() if k != _TYPE_ORDER})

    def _current(self, document: dict[str, Any]) -> dict[str, Any] | None:
        return self.documents.get((document["owner"], document["docId"]))

    @staticmethod
    def _grantees(document: dict[str, Any] | None) -> set[str]:
        return set(document.get(SHARED_WITH, ())) if document else set()

    def _as_read(self, document: dict[str, Any], *, status: bool = False) -> bool:
        """Would a write conditioned on `document` as read pass: same version, same grantees?"""
        current = self._current(document)
        return (
            current is not None
            and current["version"] == document["version"]
            and self._grantees(current) == self._grantees(document)
            and (not status or current["status"] == document["status"])
        )

    def _release(self, owner: str, doc_id: str, size: int) -> None:
        used = self.counts.setdefault(owner, {"documents": 0, "bytes": 0})
        used["documents"] -= 1
        used["bytes"] -= size
        self.released.add((owner, doc_id))

    @staticmethod
    def _page(
        items: list[dict[str, Any]],
        order: Callable[[dict[str, Any]], Any],
        key_of: Callable[[dict[str, Any]], dict[str, Any]],
        limit: int,
        start: dict[str, Any] | None,
    ) -> Page:
        """Newest first by `order`; `start` is the serialized key of the last item of a page."""
        ordered = sorted(items, key=order, reverse=True)
        if start is not None:
            after = next((n for n, item in enumerate(ordered) if serialize(key_of(item)) == start), None)
            if after is None:
                # Every key the fake hands out names an item it listed; continuing after an item
                # that has gone since is not modelled (the engine continues where it would sort).
                raise NotImplementedError("the fake continues only from a key whose item it still lists")
            ordered = ordered[after + 1 :]
        page = ordered[:limit]
        last_key = serialize(key_of(page[-1])) if len(ordered) > limit else None
        return Page(page, last_key)

    # -- reads ----------------------------------------------------------------------------
    def current_documents(self, documents: Any) -> dict[tuple[str, str], dict[str, Any]]:
        found = {key: self.documents.get(key) for key in documents}
        return {
            key: {k: copy.deepcopy(v) for k, v in document.items() if k in ("owner", "docId", "status", SHARED_WITH)}
            for key, document in found.items()
            if document is not None
        }

    def get_document(self, owner: str, doc_id: str) -> dict[str, Any]:
        found = self.documents.get((owner, doc_id))
        if found is None:
            raise NotFound("no such document")
        return self._out(found)

    def _owned(self, owner: str, keep: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        return [self._out(d) for (o, _), d in self.documents.items() if o == owner and keep(d)]

    @staticmethod
    def _document_key(item: dict[str, Any]) -> dict[str, Any]:
        return {
            keys.PARTITION_KEY: keys.user_partition(item["owner"]),
            keys.SORT_KEY: keys.document_sort_key(item["docId"]),
        }

    def list_documents(self, owner: str, limit: int, start: dict[str, Any] | None = None) -> Page:
        check_start(start, keys.PARTITION_KEY, keys.user_partition(owner))
        items = self._owned(owner, lambda d: d["status"] != TRASHED)
        return self._page(items, lambda i: i["docId"], self._document_key, limit, start)

    def list_by_tag(self, owner: str, tag: str, limit: int, start: dict[str, Any] | None = None) -> Page:
        check_start(start, keys.PARTITION_KEY, keys.user_partition(owner))
        items = [
            {k: d.get(k) for k in LISTING}
            for d in self._owned(owner, lambda d: d["status"] != TRASHED and tag in d["tags"])
        ]

        def key_of(item: dict[str, Any]) -> dict[str, Any]:
            return {
                keys.PARTITION_KEY: keys.user_partition(owner),
                keys.SORT_KEY: keys.tag_link_sort_key(tag, item["docId"]),
            }

        return self._page(items, lambda i: i["docId"], key_of, limit, start)

    def list_by_type(self, owner: str, doc_type: str, limit: int, start: dict[str, Any] | None = None) -> Page:
        partition = keys.owner_type_partition(owner, doc_type)
        check_start(start, keys.GSI1_PARTITION_KEY, partition)
        found = [
            (d[_TYPE_ORDER], d["docId"], d)
            for (o, _), d in self.documents.items()
            if o == owner and d["docType"] == doc_type and d["status"] != TRASHED
        ]
        order = {d["docId"]: (t, i) for t, i, d in found}

        def key_of(item: dict[str, Any]) -> dict[str, Any]:
            updated, doc_id = order[item["docId"]]
            return {
                **self._document_key(item),
                keys.GSI1_PARTITION_KEY: partition,
                keys.GSI1_SORT_KEY: keys.updated_sort_key(updated, doc_id),
            }

        return self._page([self._out(d) for _, _, d in found], lambda i: order[i["docId"]], key_of, limit, start)

    def _listed_share(self, share: dict[str, Any]) -> dict[str, Any] | None:
        """A share as its grantee's index shows it: with the document's listing, only while AVAILABLE."""
        document = self.documents.get((share["owner"], share["docId"]))
        if document is None or document["status"] != AVAILABLE:
            return None
        return {**{k: copy.deepcopy(document.get(k)) for k in LISTING}, "grantee": share["grantee"],
                "sharedAt": share["sharedAt"]}  # fmt: skip

    def list_shared_with(self, grantee: str, limit: int, start: dict[str, Any] | None = None) -> Page:
        partition = keys.grantee_partition(grantee)
        check_start(start, keys.GSI1_PARTITION_KEY, partition)
        listed = [self._listed_share(s) for (_, _, g), s in self.shares.items() if g == grantee]
        items = [s for s in listed if s is not None]

        def key_of(item: dict[str, Any]) -> dict[str, Any]:
            return {
                keys.PARTITION_KEY: keys.user_partition(item["owner"]),
                keys.SORT_KEY: keys.share_sort_key(item["docId"], grantee),
                keys.GSI1_PARTITION_KEY: partition,
                keys.GSI1_SORT_KEY: keys.shared_doc_sort_key(item["docId"]),
            }

        return self._page(items, lambda i: i["docId"], key_of, limit, start)

    def list_trash(self, owner: str, limit: int, start: dict[str, Any] | None = None) -> Page:
        check_start(start, keys.OWNER_ATTRIBUTE, owner)
        items = self._owned(owner, lambda d: d["status"] == TRASHED)

        def key_of(item: dict[str, Any]) -> dict[str, Any]:
            return {
                **self._document_key(item),
                keys.OWNER_ATTRIBUTE: owner,
                keys.TRASHED_AT_ATTRIBUTE: item[keys.TRASHED_AT_ATTRIBUTE],
            }

        return self._page(items, lambda i: (i[keys.TRASHED_AT_ATTRIBUTE], i["docId"]), key_of, limit, start)

    def recent_uploads(self, limit: int) -> list[dict[str, Any]]:
        feed = [
            {k: copy.deepcopy(d.get(k)) for k in (*keys.RECENT_FEED_ATTRIBUTES, "docId", "createdAt")}
            for d in self.documents.values()
            if d["status"] == AVAILABLE
        ]
        feed.sort(key=lambda i: (i["createdAt"], i["docId"]), reverse=True)
        return feed[:limit]

    def find_share(self, grantee: str, doc_id: str) -> dict[str, Any] | None:
        for (_, shared, g), share in self.shares.items():
            if g == grantee and shared == doc_id:
                return self._listed_share(share)
        return None

    def usage(self, owner: str) -> dict[str, int]:
        return dict(self.counts.get(owner, {"documents": 0, "bytes": 0}))

    # -- writes ---------------------------------------------------------------------------
    def create_document(self, document: dict[str, Any], *, max_documents: int, max_bytes: int) -> dict[str, Any]:
        owner, size = document["owner"], document["size"]
        if size > max_bytes:
            raise QuotaExceeded("the document is larger than your storage quota")
        used = self.counts.get(owner, {"documents": 0, "bytes": 0})
        if used["documents"] >= max_documents or used["bytes"] > max_bytes - size:
            raise QuotaExceeded("this upload would exceed your document or storage quota")
        if (owner, document["docId"]) in self.documents:
            raise Conflict("the document could not be created; try again")
        self.counts[owner] = {"documents": used["documents"] + 1, "bytes": used["bytes"] + size}
        stored = {**copy.deepcopy(document), _TYPE_ORDER: document["updatedAt"]}
        self.documents[(owner, document["docId"])] = stored
        return self._out(stored)

    def _write(self, document: dict[str, Any], changes: dict[str, Any], removed: Iterable[str] = ()) -> dict[str, Any]:
        current = self.documents[(document["owner"], document["docId"])]
        current.update(copy.deepcopy(changes))
        for attribute in removed:
            current.pop(attribute, None)
        current["version"] += 1
        return self._out(current)

    def mark_available(self, document: dict[str, Any]) -> bool:
        if not awaiting_upload(document) or not self._as_read(document, status=True):
            return False
        if document["status"] == TRASHED:
            self._write(document, {"updatedAt": now_iso(), "statusBeforeTrash": AVAILABLE})
        else:
            self._write(document, {"updatedAt": now_iso(), "status": AVAILABLE}, (keys.TTL_ATTRIBUTE,))
        return True

    def reject_upload(self, document: dict[str, Any]) -> bool:
        if not awaiting_upload(document) or not self._as_read(document, status=True):
            return False
        if (document["owner"], document["docId"]) in self.released:
            raise Conflict("the document changed while settling its upload; the event will be retried")
        del self.documents[(document["owner"], document["docId"])]
        self._release(document["owner"], document["docId"], document["size"])
        return True

    def update_document(
        self, document: dict[str, Any], *, expected_version: int, name: str | None, tags: list[str] | None
    ) -> dict[str, Any]:
        if document["version"] != expected_version:
            raise PreconditionFailed("the document changed since you read it")
        current = self._current(document)
        if current is None:
            raise NotFound("no such document")
        if current["version"] != expected_version:
            raise PreconditionFailed("the document changed since you read it")
        if self._grantees(current) != self._grantees(document):
            raise Conflict("the document is being changed by another request; try again")
        updated = now_iso()
        changes: dict[str, Any] = {"updatedAt": updated, _TYPE_ORDER: updated}
        if name is not None:
            changes["name"] = name
        if tags is not None:
            changes["tags"] = list(tags)
        return self._write(document, changes)

    def trash(self, document: dict[str, Any]) -> dict[str, Any]:
        if document["status"] == TRASHED:
            raise Conflict("the document is already in the trash")
        if not self._as_read(document):
            raise Conflict("the document changed while moving it to the trash; try again")
        changes = {"status": TRASHED, keys.TRASHED_AT_ATTRIBUTE: now_iso(), "statusBeforeTrash": document["status"]}
        return self._write(document, changes)

    def restore(self, document: dict[str, Any]) -> dict[str, Any]:
        if document["status"] != TRASHED:
            raise Conflict("the document is not in the trash")
        if not self._as_read(document):
            raise Conflict("the document changed while restoring it; try again")
        status = document.get("statusBeforeTrash", AVAILABLE)
        removed = [keys.TRASHED_AT_ATTRIBUTE, "statusBeforeTrash"] + (
            [keys.TTL_ATTRIBUTE] if status == AVAILABLE else []
        )
        return self._write(document, {"status": status}, removed)

    def purge(self, document: dict[str, Any]) -> None:
        owner, doc_id = document["owner"], document["docId"]
        if not self._as_read(document) or (owner, doc_id) in self.released:
            raise Conflict("the document changed while purging it; try again")
        del self.documents[(owner, doc_id)]
        self._delete_shares(owner, doc_id)
        self._release(owner, doc_id, document["size"])

    def _delete_shares(self, owner: str, doc_id: str) -> None:
        for key in [k for k in self.shares if k[:2] == (owner, doc_id)]:
            del self.shares[key]

    def delete_leftovers(self, document: dict[str, Any]) -> None:
        for grantee in self._grantees(document):
            self.shares.pop((document["owner"], document["docId"], grantee), None)

    def release_expired_quota(self, document: dict[str, Any]) -> bool:
        if (document["owner"], document["docId"]) in self.released:
            return False
        self._release(document["owner"], document["docId"], document["size"])
        return True

    def put_share(self, document: dict[str, Any], grantee: str) -> dict[str, Any]:
        owner, doc_id = document["owner"], document["docId"]
        current = self._current(document)
        with_now = self._grantees(current)
        joins = (
            current is not None
            and current["version"] == document["version"]
            and current["status"] == AVAILABLE
            and grantee not in with_now
            and len(with_now) < MAX_SHARES
        )
        exists = (owner, doc_id, grantee) in self.shares
        if joins and not exists:
            assert current is not None
            current[SHARED_WITH] = with_now | {grantee}
            share = {**{k: copy.deepcopy(document.get(k)) for k in LISTING}, "grantee": grantee, "sharedAt": now_iso()}
            self.shares[(owner, doc_id, grantee)] = share
            return copy.deepcopy(share)
        # The adapter's decisions, on the reasons DynamoDB would give (document, share).
        grantees = self._grantees(document)
        if not joins and document["status"] != AVAILABLE:
            raise Conflict("only an available document can be shared")
        if exists:  # the adapter reads the existing share back and returns it
            return copy.deepcopy(self.shares[(owner, doc_id, grantee)])
        if not joins and len(grantees) >= MAX_SHARES:
            raise ShareLimitReached(f"a document can be shared with at most {MAX_SHARES} users")
        if not joins:
            raise DocumentChanged("the document changed while sharing it; try again")
        raise Conflict("the document is being changed by another request; try again")

    def delete_share(self, owner: str, doc_id: str, grantee: str) -> None:
        if (owner, doc_id, grantee) not in self.shares:
            return
        current = self.documents.get((owner, doc_id))
        if grantee not in self._grantees(current):
            raise Conflict("the document is being changed by another request; try again")
        assert current is not None
        del self.shares[(owner, doc_id, grantee)]
        remaining = self._grantees(current) - {grantee}
        if remaining:
            current[SHARED_WITH] = remaining
        else:
            current.pop(SHARED_WITH, None)
