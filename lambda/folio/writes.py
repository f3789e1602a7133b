"""The write side on DynamoDB: transactions, implementing folio.ports.DocumentWrites.

Writes always go straight to the table (never through a cache). Every write that follows a
read is conditioned on the document as read; where a write must read to tell one refusal from
another, it reads strongly consistently.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from folio import keys
from folio.contracts import MAX_SHARES
from folio.domain import (
    AVAILABLE,
    LISTING,
    PENDING_UPLOAD_TTL,
    QUOTA_RELEASE_MARKER_TTL,
    SHARED_WITH,
    TRASH_TTL,
    TRASHED,
    awaiting_upload,
    epoch_after,
    now_iso,
)
from folio.dynamodb import PRIMARY_KEY, call, get_item, item_key, serialize, transact, update
from folio.errors import (
    Conflict,
    DocumentChanged,
    NotFound,
    PreconditionFailed,
    QuotaExceeded,
    ShareLimitReached,
)

CONDITIONAL_CHECK_FAILED = "ConditionalCheckFailed"


class DynamoDbWrites:
    """Documents, tag links, shares and usage, written to the single table."""

    def __init__(self, client: Any, table_name: str) -> None:
        # Cached per container and shared by every request: it holds no per-call state.
        self.client = client
        self.table = table_name

    # -- items and transaction parts --------------------------------------------------------
    def _document_key(self, document: dict[str, Any]) -> dict[str, Any]:
        return item_key(document["owner"], keys.document_sort_key(document["docId"]))

    @staticmethod
    def _link_item(document: dict[str, Any], tag: str) -> dict[str, Any]:
        return {
            keys.PARTITION_KEY: keys.user_partition(document["owner"]),
            keys.SORT_KEY: keys.tag_link_sort_key(tag, document["docId"]),
            **{k: document.get(k) for k in LISTING},
        }

    def _put_link(self, document: dict[str, Any], tag: str) -> dict[str, Any]:
        return {"Put": {"TableName": self.table, "Item": serialize(self._link_item(document, tag))}}

    def _put_new(self, item: dict[str, Any]) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self.table,
                "Item": serialize(item),
                "ConditionExpression": "attribute_not_exists(#pk)",
                "ExpressionAttributeNames": {"#pk": keys.PARTITION_KEY},
            }
        }

    def _delete_links(self, document: dict[str, Any], tags: Iterable[str]) -> list[dict[str, Any]]:
        return [
            {
                "Delete": {
                    "TableName": self.table,
                    "Key": item_key(document["owner"], keys.tag_link_sort_key(t, document["docId"])),
                }
            }
            for t in tags
        ]

    def _delete_shares(self, document: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {
                "Delete": {
                    "TableName": self.table,
                    "Key": item_key(document["owner"], keys.share_sort_key(document["docId"], grantee)),
                }
            }
            for grantee in sorted(document.get(SHARED_WITH, ()))
        ]

    def _release_quota(self, document: dict[str, Any]) -> dict[str, Any]:
        return {
            "Update": update(
                self.table,
                item_key(document["owner"], keys.profile_sort_key()),
                add={"documentCount": -1, "byteCount": -document["size"]},
            )
        }

    def _quota_release_marker(self, document: dict[str, Any]) -> dict[str, Any]:
        """Put the marker that says this document's quota is released; refused if it already is.
        Every transaction that releases a document's quota includes it (one item, one WCU)."""
        return self._put_new(
            {
                keys.PARTITION_KEY: keys.user_partition(document["owner"]),
                keys.SORT_KEY: keys.quota_released_sort_key(document["docId"]),
                keys.TTL_ATTRIBUTE: epoch_after(QUOTA_RELEASE_MARKER_TTL),
            }
        )

    @staticmethod
    def _grantees_unchanged(document: dict[str, Any]) -> tuple[str, dict[str, str], dict[str, Any]]:
        grantees = document.get(SHARED_WITH)
        if not grantees:
            return "attribute_not_exists(#with)", {"#with": SHARED_WITH}, {}
        return "#with = :with", {"#with": SHARED_WITH}, {":with": set(grantees)}

    def _update_document(
        self,
        document: dict[str, Any],
        changes: dict[str, Any],
        *,
        remove: Iterable[str] = (),
        expect_version: int | None = None,
        expect_status: str | None = None,
        expect_grantees: bool = False,
    ) -> dict[str, Any]:
        """The document's Update, one version on; with `expect_grantees`, only if it is still
        shared with exactly the users it was read with (a share does not change the version)."""
        names: dict[str, str] = {"#version": "version"}
        values: dict[str, Any] = {}
        conditions = ["attribute_exists(#version)"]
        if expect_version is not None:
            conditions.append("#version = :expected")
            values[":expected"] = expect_version
        if expect_status is not None:
            names["#st"] = "status"
            conditions.append("#st = :status")
            values[":status"] = expect_status
        if expect_grantees:
            condition, grantee_names, grantee_values = self._grantees_unchanged(document)
            conditions.append(condition)
            names.update(grantee_names)
            values.update(grantee_values)
        return {
            "Update": update(
                self.table,
                self._document_key(document),
                assign=changes,
                add={"version": 1},
                remove=remove,
                condition=" AND ".join(conditions),
                names=names,
                values=values,
            )
        }

    def _refresh_shares(self, new: dict[str, Any]) -> list[dict[str, Any]]:
        """Keep every share's copy of the listing attributes in step with the document. A
        share of a document that is not AVAILABLE leaves its grantee's list (GSI1 is sparse)
        and comes back when the document does."""
        listed = {k: new[k] for k in LISTING if new.get(k) is not None}
        updates = []
        for grantee in sorted(new.get(SHARED_WITH, ())):
            changes = dict(listed)
            removed: list[str] = []
            if new["status"] == AVAILABLE:
                changes[keys.GSI1_PARTITION_KEY] = keys.grantee_partition(grantee)
                changes[keys.GSI1_SORT_KEY] = keys.shared_doc_sort_key(new["docId"])
            else:
                removed = [keys.GSI1_PARTITION_KEY, keys.GSI1_SORT_KEY]
            updates.append(
                {
                    "Update": update(
                        self.table,
                        item_key(new["owner"], keys.share_sort_key(new["docId"], grantee)),
                        assign=changes,
                        remove=removed,
                        condition="attribute_exists(#pk)",
                        names={"#pk": keys.PARTITION_KEY},
                    )
                }
            )
        return updates

    # -- AP1 ------------------------------------------------------------------------------
    def create_document(self, document: dict[str, Any], *, max_documents: int, max_bytes: int) -> dict[str, Any]:
        """PENDING document + tag links + quota reservation, all or nothing."""
        owner, size = document["owner"], document["size"]
        item = {
            keys.PARTITION_KEY: keys.user_partition(owner),
            keys.SORT_KEY: keys.document_sort_key(document["docId"]),
            keys.GSI1_PARTITION_KEY: keys.owner_type_partition(owner, document["docType"]),
            keys.GSI1_SORT_KEY: keys.updated_sort_key(document["updatedAt"], document["docId"]),
            keys.TTL_ATTRIBUTE: epoch_after(PENDING_UPLOAD_TTL),
            **document,
        }
        reserve = update(
            self.table,
            item_key(owner, keys.profile_sort_key()),
            add={"documentCount": 1, "byteCount": size},
            condition="(attribute_not_exists(#count) OR #count < :maxDocs) "
            "AND (attribute_not_exists(#bytes) OR #bytes <= :room)",
            names={"#count": "documentCount", "#bytes": "byteCount"},
            values={":maxDocs": max_documents, ":room": max_bytes - size},
        )
        if size > max_bytes:
            raise QuotaExceeded("the document is larger than your storage quota")
        reasons = transact(
            self.client,
            [{"Update": reserve}, self._put_new(item), *(self._put_link(item, t) for t in document["tags"])],
        )
        if reasons and reasons[0] == CONDITIONAL_CHECK_FAILED:
            raise QuotaExceeded("this upload would exceed your document or storage quota")
        if reasons:
            raise Conflict("the document could not be created; try again")
        return item

    # -- upload worker --------------------------------------------------------------------
    # Both writes are conditioned on the version the worker read, because the tag links
    # they write or delete are the tags of that version: False means the document changed
    # since (a retag, a trash, a restore, a settle by another delivery), and the worker
    # reads it again and decides again.
    def mark_available(self, document: dict[str, Any]) -> bool:
        """Settle an upload of `document` as read. PENDING -> AVAILABLE (and into the recent
        feed); a document trashed while its upload was on the way stays in the trash and
        will be restored AVAILABLE. False if the document is no longer as read, or was not
        awaiting its upload."""
        if not awaiting_upload(document):
            return False
        changes: dict[str, Any] = {"updatedAt": now_iso()}
        removed: tuple[str, ...] = ()
        if document["status"] == TRASHED:
            changes["statusBeforeTrash"] = AVAILABLE  # restore() puts it into the recent feed
        else:
            changes["status"] = AVAILABLE
            changes[keys.RECENT_SHARD_ATTRIBUTE] = keys.recent_shard(document["docId"])  # joins the recent feed
            removed = (keys.TTL_ATTRIBUTE,)
        new = {**document, **changes, "version": document["version"] + 1}
        items = [
            self._update_document(
                document,
                changes,
                remove=removed,
                expect_version=document["version"],
                expect_status=document["status"],
                expect_grantees=True,
            ),
            *(self._put_link(new, t) for t in document["tags"]),
            *self._refresh_shares(new),
        ]
        return self._settled(transact(self.client, items))

    @staticmethod
    def _settled(reasons: list[str]) -> bool:
        """True if the upload transaction ran, False if the document was not as read.
        Anything else (a conflicting transaction) raises, so the event is retried rather
        than leaving a PENDING document that holds quota."""
        if not reasons:
            return True
        if reasons[0] == CONDITIONAL_CHECK_FAILED:
            return False
        raise Conflict("the document changed while settling its upload; the event will be retried")

    def reject_upload(self, document: dict[str, Any]) -> bool:
        """Remove a document whose object did not match, with the tag links of the version
        read, and release its quota (with the release marker). False if the document is no
        longer as read. (It has never been AVAILABLE, so it has no shares: put_share refuses
        anything else.)"""
        if not awaiting_upload(document):
            return False
        items = [
            {
                "Delete": {
                    "TableName": self.table,
                    "Key": self._document_key(document),
                    "ConditionExpression": "#status = :status AND #version = :version",
                    "ExpressionAttributeNames": {"#status": "status", "#version": "version"},
                    "ExpressionAttributeValues": serialize(
                        {":status": document["status"], ":version": document["version"]}
                    ),
                }
            },
            self._release_quota(document),
            # The same marker as every other release: a rejection replayed after the
            # document's expiry and the lifecycle worker's TTL release cannot both count.
            self._quota_release_marker(document),
            *self._delete_links(document, document["tags"]),
        ]
        return self._settled(transact(self.client, items))

    # -- AP9 and friends ------------------------------------------------------------------
    def update_document(
        self, document: dict[str, Any], *, expected_version: int, name: str | None, tags: list[str] | None
    ) -> dict[str, Any]:
        """Rename and/or retag `document` (as read) if its version is still `expected_version`."""
        if document["version"] != expected_version:
            raise PreconditionFailed("the document changed since you read it")
        updated = now_iso()
        changes: dict[str, Any] = {
            "updatedAt": updated,
            keys.GSI1_SORT_KEY: keys.updated_sort_key(updated, document["docId"]),
        }
        if name is not None:
            changes["name"] = name
        if tags is not None:
            changes["tags"] = tags
        new = {**document, **changes, "version": expected_version + 1}
        old_tags, new_tags = set(document["tags"]), set(new["tags"])
        items = [
            self._update_document(document, changes, expect_version=expected_version, expect_grantees=True),
            *(self._put_link(new, t) for t in new["tags"]),
            *self._delete_links(document, old_tags - new_tags),
            *self._refresh_shares(new),
        ]
        reasons = transact(self.client, items)
        if reasons and reasons[0] == CONDITIONAL_CHECK_FAILED:
            # The condition covers the version and the grantee set: only a new version is
            # a 412; a share or unshare that landed in between is a race to retry (409).
            current = get_item(self.client, self.table, self._document_key(document), consistent=True)
            if current is None:
                raise NotFound("no such document")
            if current["version"] != expected_version:
                raise PreconditionFailed("the document changed since you read it")
        if reasons:
            raise Conflict("the document is being changed by another request; try again")
        return new

    def trash(self, document: dict[str, Any]) -> dict[str, Any]:
        if document["status"] == TRASHED:
            raise Conflict("the document is already in the trash")
        changes = {"status": TRASHED, keys.TRASHED_AT_ATTRIBUTE: now_iso(),
                   keys.TTL_ATTRIBUTE: epoch_after(TRASH_TTL), "statusBeforeTrash": document["status"]}  # fmt: skip
        new = {**document, **changes, "version": document["version"] + 1}
        items = [
            self._update_document(
                document,
                changes,
                remove=(keys.RECENT_SHARD_ATTRIBUTE,),
                expect_version=document["version"],
                expect_grantees=True,
            ),
            *(self._put_link(new, t) for t in document["tags"]),
            *self._refresh_shares(new),
        ]
        if transact(self.client, items):
            raise Conflict("the document changed while moving it to the trash; try again")
        return new

    def restore(self, document: dict[str, Any]) -> dict[str, Any]:
        if document["status"] != TRASHED:
            raise Conflict("the document is not in the trash")
        status = document.get("statusBeforeTrash", AVAILABLE)
        changes: dict[str, Any] = {"status": status}
        removed = [keys.TRASHED_AT_ATTRIBUTE, "statusBeforeTrash"]
        if status == AVAILABLE:
            removed.append(keys.TTL_ATTRIBUTE)
            changes[keys.RECENT_SHARD_ATTRIBUTE] = keys.recent_shard(document["docId"])
        new = {k: v for k, v in {**document, **changes}.items() if k not in removed}
        new["version"] = document["version"] + 1
        items = [
            self._update_document(
                document, changes, remove=removed, expect_version=document["version"], expect_grantees=True
            ),
            *(self._put_link(new, t) for t in document["tags"]),
            *self._refresh_shares(new),
        ]
        if transact(self.client, items):
            raise Conflict("the document changed while restoring it; try again")
        return new

    def purge(self, document: dict[str, Any]) -> None:
        """Delete the document, its tag links and shares, and release its quota (marking it
        released, so the lifecycle worker never releases it again). The object goes later: the
        lifecycle worker deletes every version when the document's REMOVE reaches it."""
        grantees_unchanged, grantee_names, grantee_values = self._grantees_unchanged(document)
        items = [
            {
                "Delete": {
                    "TableName": self.table,
                    "Key": self._document_key(document),
                    "ConditionExpression": f"#version = :version AND {grantees_unchanged}",
                    "ExpressionAttributeNames": {"#version": "version", **grantee_names},
                    "ExpressionAttributeValues": serialize({":version": document["version"], **grantee_values}),
                }
            },
            self._release_quota(document),
            self._quota_release_marker(document),
            *self._delete_links(document, document["tags"]),
            *self._delete_shares(document),
        ]
        if transact(self.client, items):
            raise Conflict("the document changed while purging it; try again")

    # -- lifecycle worker -----------------------------------------------------------------
    def delete_leftovers(self, document: dict[str, Any]) -> None:
        """Delete the tag links and share items of a document that has left the table, named by
        its last image. Each DeleteItem is unconditional, so deleting what a purge already deleted
        is a no-op. Nothing can write them again: every writer conditions on the document item."""
        for write in (*self._delete_links(document, document["tags"]), *self._delete_shares(document)):
            call(self.client, "delete_item", **write["Delete"])

    def release_expired_quota(self, document: dict[str, Any]) -> bool:
        """Give back the quota of a document that expired, exactly once: the release and its
        marker are one transaction, refused when the marker exists (a replay, or a purge that
        released it). True if released now, False if it had been already."""
        reasons = transact(self.client, [self._quota_release_marker(document), self._release_quota(document)])
        if not reasons:
            return True
        if reasons[0] == CONDITIONAL_CHECK_FAILED:
            return False
        raise Conflict("the owner's usage is being changed by another request; the record will be retried")

    # -- AP6 shares -----------------------------------------------------------------------
    def put_share(self, document: dict[str, Any], grantee: str) -> dict[str, Any]:
        """Share an AVAILABLE document: the grantee joins the document's `sharedWith` (at most
        MAX_SHARES, so every fan-out fits one transaction) and the share item is put, together.
        Sharing again with the same user returns the existing share and changes nothing.
        The share copies the listing attributes of `document` as read, so the write is
        conditioned on its version: DocumentChanged if a rename, retag, trash or restore
        landed in between (the caller reads again and decides again)."""
        share = {
            keys.PARTITION_KEY: keys.user_partition(document["owner"]),
            keys.SORT_KEY: keys.share_sort_key(document["docId"], grantee),
            keys.GSI1_PARTITION_KEY: keys.grantee_partition(grantee),
            keys.GSI1_SORT_KEY: keys.shared_doc_sort_key(document["docId"]),
            "grantee": grantee,
            "sharedAt": now_iso(),
            **{k: document.get(k) for k in LISTING},
        }
        join = update(
            self.table,
            self._document_key(document),
            add={SHARED_WITH: {grantee}},
            condition="#version = :version AND #status = :available AND "
            "(attribute_not_exists(#with) OR (size(#with) < :max AND NOT contains(#with, :grantee)))",
            names={"#version": "version", "#status": "status", "#with": SHARED_WITH},
            values={":version": document["version"], ":available": AVAILABLE, ":grantee": grantee, ":max": MAX_SHARES},
        )
        reasons = transact(self.client, [{"Update": join}, self._put_new(share)])
        if not reasons:
            return share
        grantees = document.get(SHARED_WITH, set())
        if reasons[0] == CONDITIONAL_CHECK_FAILED and document["status"] != AVAILABLE:
            raise Conflict("only an available document can be shared")
        if grantee in grantees or reasons[1] == CONDITIONAL_CHECK_FAILED:
            existing = get_item(self.client, self.table, serialize({k: share[k] for k in PRIMARY_KEY}), consistent=True)
            if existing is not None:
                return existing
        if reasons[0] == CONDITIONAL_CHECK_FAILED and len(grantees) >= MAX_SHARES:
            raise ShareLimitReached(f"a document can be shared with at most {MAX_SHARES} users")
        if reasons[0] == CONDITIONAL_CHECK_FAILED:
            # As read, the document passed every condition: its version, status or grantees changed since.
            raise DocumentChanged("the document changed while sharing it; try again")
        raise Conflict("the document is being changed by another request; try again")

    def delete_share(self, owner: str, doc_id: str, grantee: str) -> None:
        """Stop sharing; a share that does not exist is already stopped."""
        items = [
            {
                "Delete": {
                    "TableName": self.table,
                    "Key": item_key(owner, keys.share_sort_key(doc_id, grantee)),
                    "ConditionExpression": "attribute_exists(#pk)",
                    "ExpressionAttributeNames": {"#pk": keys.PARTITION_KEY},
                }
            },
            {
                "Update": update(
                    self.table,
                    item_key(owner, keys.document_sort_key(doc_id)),
                    delete={SHARED_WITH: {grantee}},
                    condition="contains(#with, :grantee)",
                    names={"#with": SHARED_WITH},
                    values={":grantee": grantee},
                )
            },
        ]
        reasons = transact(self.client, items)
        if reasons and reasons[0] != CONDITIONAL_CHECK_FAILED:
            raise Conflict("the document is being changed by another request; try again")
