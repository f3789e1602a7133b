"""The DynamoDB adapter: every access pattern of docs/data-model.md, and nothing else.

Only this module talks to the table, and only through folio.keys builders. It keeps no
per-call state: the tests and the benchmark count requests and capacity from outside,
with botocore event hooks. No method scans.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from folio import keys
from folio.contracts import MAX_SHARES
from folio.errors import (
    Conflict,
    DocumentChanged,
    InvalidCursor,
    NotFound,
    PreconditionFailed,
    QuotaExceeded,
    ShareLimitReached,
    Throttled,
)

PENDING, AVAILABLE, TRASHED = "PENDING", "AVAILABLE", "TRASHED"
# Who a document is shared with: a string set on the document (at most MAX_SHARES), kept
# by put_share/delete_share, so changes can update every share and a purge delete them
# without a Query. Never listed or returned.
SHARED_WITH = "sharedWith"
PRIMARY_KEY = (keys.PARTITION_KEY, keys.SORT_KEY)
PENDING_UPLOAD_TTL = timedelta(days=1)
# DynamoDB's answers when a request is refused for capacity (after botocore's own retries).
THROTTLING_ERRORS = frozenset({"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded"})
TRASH_TTL = timedelta(days=30)
# How long a quota-release marker outlives the release: longer than any stream record can be
# re-delivered (24 h of stream retention) or replayed from the lifecycle worker's on-failure queue
# (14 days), so a replay always finds it.
QUOTA_RELEASE_MARKER_TTL = timedelta(days=15)

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _epoch(delta: timedelta) -> int:
    return int((datetime.now(UTC) + delta).timestamp())


def _ser(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in item.items() if v is not None}


def _de(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


def doc_type_of(content_type: str) -> str:
    """A coarse type for AP5 ("my PDFs", "my images"), derived from the content type."""
    top, _, sub = content_type.partition("/")
    if top in ("image", "video", "audio", "text"):
        return top
    return sub if sub in ("pdf", "zip", "json") else "other"


def awaiting_upload(document: dict[str, Any]) -> bool:
    """Whether the document's upload is still to be settled: PENDING, or trashed while PENDING."""
    return document["status"] == PENDING or (
        document["status"] == TRASHED and document.get("statusBeforeTrash") == PENDING
    )


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    last_key: dict[str, Any] | None


LISTING = (
    "docId", "owner", "name", "contentType", "docType", "size", "status", "tags", "version", "createdAt", "updatedAt",
)  # fmt: skip


class DocumentRepository:
    """Documents, tag links, shares and usage in the single table."""

    def __init__(self, client: Any, table_name: str) -> None:
        # Cached per container and shared by every request: it must hold no per-call state
        # (tests/unit/test_repository_state.py). Tests and the benchmark count requests and
        # capacity from outside, with botocore event hooks (tests/support/dynamodb_requests.py).
        self.client = client
        self.table = table_name

    # -- plumbing ---------------------------------------------------------------------
    def _call(self, operation: str, **request: Any) -> dict[str, Any]:
        try:
            response: dict[str, Any] = getattr(self.client, operation)(**request)
        except ClientError as error:
            if error.response["Error"]["Code"] in THROTTLING_ERRORS:
                raise Throttled("too many requests right now; try again shortly") from error
            raise
        return response

    def _transact(self, items: list[dict[str, Any]]) -> list[str]:
        """Run a transaction; on cancellation return the reason code of each item."""
        try:
            self._call("transact_write_items", TransactItems=items)
            return []
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = [r.get("Code", "None") for r in error.response.get("CancellationReasons", [])]
            if "ThrottlingError" in reasons:
                raise Throttled("too many requests right now; try again shortly") from error
            return reasons

    def _key(self, owner: str, sort_key: str) -> dict[str, Any]:
        return _ser({keys.PARTITION_KEY: keys.user_partition(owner), keys.SORT_KEY: sort_key})

    def _link_item(self, document: dict[str, Any], tag: str) -> dict[str, Any]:
        return {
            keys.PARTITION_KEY: keys.user_partition(document["owner"]),
            keys.SORT_KEY: keys.tag_link_sort_key(tag, document["docId"]),
            **{k: document.get(k) for k in LISTING},
        }

    # -- AP1 ------------------------------------------------------------------------------
    def create_document(self, document: dict[str, Any], *, max_documents: int, max_bytes: int) -> dict[str, Any]:
        """PENDING document + tag links + quota reservation, all or nothing."""
        owner, size = document["owner"], document["size"]
        item = {
            keys.PARTITION_KEY: keys.user_partition(owner),
            keys.SORT_KEY: keys.document_sort_key(document["docId"]),
            keys.GSI1_PARTITION_KEY: keys.owner_type_partition(owner, document["docType"]),
            keys.GSI1_SORT_KEY: keys.updated_sort_key(document["updatedAt"], document["docId"]),
            keys.TTL_ATTRIBUTE: _epoch(PENDING_UPLOAD_TTL),
            **document,
        }
        transaction: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": self._key(owner, keys.profile_sort_key()),
                    "UpdateExpression": "ADD documentCount :one, byteCount :size",
                    "ConditionExpression": "(attribute_not_exists(documentCount) OR documentCount < :maxDocs) "
                    "AND (attribute_not_exists(byteCount) OR byteCount <= :room)",
                    "ExpressionAttributeValues": _ser(
                        {":one": 1, ":size": size, ":maxDocs": max_documents, ":room": max_bytes - size}
                    ),
                }
            },
            {
                "Put": {
                    "TableName": self.table,
                    "Item": _ser(item),
                    "ConditionExpression": "attribute_not_exists(#pk)",
                    "ExpressionAttributeNames": {"#pk": keys.PARTITION_KEY},
                }
            },
            *({"Put": {"TableName": self.table, "Item": _ser(self._link_item(item, t))}} for t in document["tags"]),
        ]
        if size > max_bytes:
            raise QuotaExceeded("the document is larger than your storage quota")
        reasons = self._transact(transaction)
        if reasons and reasons[0] == "ConditionalCheckFailed":
            raise QuotaExceeded("this upload would exceed your document or storage quota")
        if reasons:
            raise Conflict("the document could not be created; try again")
        return item

    # -- AP2 ------------------------------------------------------------------------------
    def get_document(self, owner: str, doc_id: str) -> dict[str, Any]:
        response = self._call(
            "get_item", TableName=self.table, Key=self._key(owner, keys.document_sort_key(doc_id)), ConsistentRead=True
        )
        if "Item" not in response:
            raise NotFound("no such document")
        return _de(response["Item"])

    # -- AP3 / AP4 / AP5 / AP6 / AP7 -------------------------------------------------------
    def _query(self, request: dict[str, Any], limit: int, start: dict[str, Any] | None) -> Page:
        if start is not None:
            request["ExclusiveStartKey"] = start
        response = self._call("query", TableName=self.table, Limit=limit, ScanIndexForward=False, **request)
        return Page([_de(i) for i in response.get("Items", [])], response.get("LastEvaluatedKey"))

    @staticmethod
    def _check_start(start: dict[str, Any] | None, attribute: str, expected: str) -> None:
        """A cursor's key must lie in the partition being queried (the caller's own)."""
        if (
            start is not None
            and start.get(attribute, {}).get("S" if attribute != keys.RECENT_SHARD_ATTRIBUTE else "N") != expected
        ):
            raise InvalidCursor("the cursor belongs to another query or caller")

    def list_documents(self, owner: str, limit: int, start: dict[str, Any] | None = None) -> Page:
        self._check_start(start, keys.PARTITION_KEY, keys.user_partition(owner))
        return self._query(
            {
                "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :prefix)",
                "FilterExpression": "#status <> :trashed",  # the trash is a small minority of a partition
                "ExpressionAttributeNames": {"#pk": keys.PARTITION_KEY, "#sk": keys.SORT_KEY, "#status": "status"},
                "ExpressionAttributeValues": _ser(
                    {":pk": keys.user_partition(owner), ":prefix": keys.document_sort_key_prefix(), ":trashed": TRASHED}
                ),
            },
            limit,
            start,
        )

    def list_by_tag(self, owner: str, tag: str, limit: int, start: dict[str, Any] | None = None) -> Page:
        self._check_start(start, keys.PARTITION_KEY, keys.user_partition(owner))
        return self._query(
            {
                "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :prefix)",
                "FilterExpression": "#status <> :trashed",
                "ExpressionAttributeNames": {"#pk": keys.PARTITION_KEY, "#sk": keys.SORT_KEY, "#status": "status"},
                "ExpressionAttributeValues": _ser(
                    {
                        ":pk": keys.user_partition(owner),
                        ":prefix": keys.tag_link_sort_key_prefix(tag),
                        ":trashed": TRASHED,
                    }
                ),
            },
            limit,
            start,
        )

    def list_by_type(self, owner: str, doc_type: str, limit: int, start: dict[str, Any] | None = None) -> Page:
        partition = keys.owner_type_partition(owner, doc_type)
        self._check_start(start, keys.GSI1_PARTITION_KEY, partition)
        return self._query(
            {
                "IndexName": keys.GSI1.name,
                "KeyConditionExpression": "#pk = :pk",
                "FilterExpression": "#status <> :trashed",
                "ExpressionAttributeNames": {"#pk": keys.GSI1_PARTITION_KEY, "#status": "status"},
                "ExpressionAttributeValues": _ser({":pk": partition, ":trashed": TRASHED}),
            },
            limit,
            start,
        )

    def list_shared_with(self, grantee: str, limit: int, start: dict[str, Any] | None = None) -> Page:
        partition = keys.grantee_partition(grantee)
        self._check_start(start, keys.GSI1_PARTITION_KEY, partition)
        return self._query(
            {
                "IndexName": keys.GSI1.name,
                "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :prefix)",
                "ExpressionAttributeNames": {"#pk": keys.GSI1_PARTITION_KEY, "#sk": keys.GSI1_SORT_KEY},
                "ExpressionAttributeValues": _ser({":pk": partition, ":prefix": keys.shared_sort_key_prefix()}),
            },
            limit,
            start,
        )

    def list_trash(self, owner: str, limit: int, start: dict[str, Any] | None = None) -> Page:
        self._check_start(start, keys.OWNER_ATTRIBUTE, owner)
        return self._query(
            {
                "IndexName": keys.GSI3.name,
                "KeyConditionExpression": "#owner = :owner",
                "ExpressionAttributeNames": {"#owner": keys.OWNER_ATTRIBUTE},
                "ExpressionAttributeValues": _ser({":owner": owner}),
            },
            limit,
            start,
        )

    # -- AP8 ------------------------------------------------------------------------------
    def recent_uploads(self, limit: int) -> list[dict[str, Any]]:
        """One Query per shard, in parallel, merged newest first."""

        def shard(number: int) -> list[dict[str, Any]]:
            return self._query(
                {
                    "IndexName": keys.GSI2.name,
                    "KeyConditionExpression": "#shard = :shard",
                    "ExpressionAttributeNames": {"#shard": keys.RECENT_SHARD_ATTRIBUTE},
                    "ExpressionAttributeValues": _ser({":shard": number}),
                },
                limit,
                None,
            ).items

        with ThreadPoolExecutor(max_workers=keys.RECENT_SHARD_COUNT) as pool:
            merged = [item for items in pool.map(shard, range(keys.RECENT_SHARD_COUNT)) for item in items]
        merged.sort(key=lambda i: (i[keys.CREATED_AT_ATTRIBUTE], i[keys.DOC_ID_ATTRIBUTE]), reverse=True)
        return merged[:limit]

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
        return self._settled(self._transact(items))

    @staticmethod
    def _settled(reasons: list[str]) -> bool:
        """True if the upload transaction ran, False if the document was not as read.
        Anything else (a conflicting transaction) raises, so the event is retried rather
        than leaving a PENDING document that holds quota."""
        if not reasons:
            return True
        if reasons[0] == "ConditionalCheckFailed":
            return False
        raise Conflict("the document changed while settling its upload; the event will be retried")

    def reject_upload(self, document: dict[str, Any]) -> bool:
        """Remove a document whose object did not match, with the tag links of the version
        read, and release its quota (with the release marker). False if the document is no longer as read. (It has
        never been AVAILABLE, so it has no shares: put_share refuses anything else.)"""
        if not awaiting_upload(document):
            return False
        items = [
            {
                "Delete": {
                    "TableName": self.table,
                    "Key": self._key(document["owner"], keys.document_sort_key(document["docId"])),
                    "ConditionExpression": "#status = :status AND #version = :version",
                    "ExpressionAttributeNames": {"#status": "status", "#version": "version"},
                    "ExpressionAttributeValues": _ser({":status": document["status"], ":version": document["version"]}),
                }
            },
            self._release_quota(document),
            # The same marker as every other release: a rejection replayed after the
            # document's expiry and the lifecycle worker's TTL release cannot both count.
            self._quota_release_marker(document),
            *self._delete_links(document, document["tags"]),
        ]
        return self._settled(self._transact(items))

    # -- AP9 and friends ------------------------------------------------------------------
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
        """The document's Update; with `expect_grantees`, only if it is still shared with
        exactly the users it was read with (a share does not change the version)."""
        names = {f"#a{i}": k for i, k in enumerate(changes)}
        values = {f":v{i}": v for i, v in enumerate(changes.values())}
        expression = "SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(changes)))
        expression += ", #version = #version + :one"
        names["#version"], values[":one"] = "version", 1
        removed = list(remove)
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
        if removed:
            names.update({f"#r{i}": k for i, k in enumerate(removed)})
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(removed)))
        return {
            "Update": {
                "TableName": self.table,
                "Key": self._key(document["owner"], keys.document_sort_key(document["docId"])),
                "UpdateExpression": expression,
                "ConditionExpression": " AND ".join(conditions),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": _ser(values),
            }
        }

    @staticmethod
    def _grantees_unchanged(document: dict[str, Any]) -> tuple[str, dict[str, str], dict[str, Any]]:
        grantees = document.get(SHARED_WITH)
        if not grantees:
            return "attribute_not_exists(#with)", {"#with": SHARED_WITH}, {}
        return "#with = :with", {"#with": SHARED_WITH}, {":with": set(grantees)}

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
            names = {f"#a{i}": k for i, k in enumerate(changes)} | {f"#r{i}": k for i, k in enumerate(removed)}
            expression = "SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(changes)))
            if removed:
                expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(removed)))
            updates.append(
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": self._key(new["owner"], keys.share_sort_key(new["docId"], grantee)),
                        "UpdateExpression": expression,
                        "ConditionExpression": "attribute_exists(#pk)",
                        "ExpressionAttributeNames": {**names, "#pk": keys.PARTITION_KEY},
                        "ExpressionAttributeValues": _ser({f":v{i}": v for i, v in enumerate(changes.values())}),
                    }
                }
            )
        return updates

    def _put_link(self, document: dict[str, Any], tag: str) -> dict[str, Any]:
        return {"Put": {"TableName": self.table, "Item": _ser(self._link_item(document, tag))}}

    def _delete_links(self, document: dict[str, Any], tags: Iterable[str]) -> list[dict[str, Any]]:
        return [
            {
                "Delete": {
                    "TableName": self.table,
                    "Key": self._key(document["owner"], keys.tag_link_sort_key(t, document["docId"])),
                }
            }
            for t in tags
        ]

    def _release_quota(self, document: dict[str, Any]) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self.table,
                "Key": self._key(document["owner"], keys.profile_sort_key()),
                "UpdateExpression": "ADD documentCount :minus, byteCount :bytes",
                "ExpressionAttributeValues": _ser({":minus": -1, ":bytes": -document["size"]}),
            }
        }

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
        reasons = self._transact(items)
        if reasons and reasons[0] == "ConditionalCheckFailed":
            # The condition covers the version and the grantee set: only a new version is
            # a 412; a share or unshare that landed in between is a race to retry (409).
            current = self.get_document(document["owner"], document["docId"])
            if current["version"] != expected_version:
                raise PreconditionFailed("the document changed since you read it")
        if reasons:
            raise Conflict("the document is being changed by another request; try again")
        return new

    def trash(self, document: dict[str, Any]) -> dict[str, Any]:
        if document["status"] == TRASHED:
            raise Conflict("the document is already in the trash")
        changes = {"status": TRASHED, keys.TRASHED_AT_ATTRIBUTE: now_iso(), keys.TTL_ATTRIBUTE: _epoch(TRASH_TTL),
                   "statusBeforeTrash": document["status"]}  # fmt: skip
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
        if self._transact(items):
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
        if self._transact(items):
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
                    "Key": self._key(document["owner"], keys.document_sort_key(document["docId"])),
                    "ConditionExpression": f"#version = :version AND {grantees_unchanged}",
                    "ExpressionAttributeNames": {"#version": "version", **grantee_names},
                    "ExpressionAttributeValues": _ser({":version": document["version"], **grantee_values}),
                }
            },
            self._release_quota(document),
            self._quota_release_marker(document),
            *self._delete_links(document, document["tags"]),
            *self._delete_shares(document),
        ]
        if self._transact(items):
            raise Conflict("the document changed while purging it; try again")

    # -- lifecycle worker -----------------------------------------------------------------
    def _delete_shares(self, document: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {
                "Delete": {
                    "TableName": self.table,
                    "Key": self._key(document["owner"], keys.share_sort_key(document["docId"], grantee)),
                }
            }
            for grantee in sorted(document.get(SHARED_WITH, ()))
        ]

    def _quota_release_marker(self, document: dict[str, Any]) -> dict[str, Any]:
        """Put the marker that says this document's quota is released; refused if it already is.
        Every transaction that releases a document's quota includes it (one item, one WCU)."""
        marker = {
            keys.PARTITION_KEY: keys.user_partition(document["owner"]),
            keys.SORT_KEY: keys.quota_released_sort_key(document["docId"]),
            keys.TTL_ATTRIBUTE: _epoch(QUOTA_RELEASE_MARKER_TTL),
        }
        return {
            "Put": {
                "TableName": self.table,
                "Item": _ser(marker),
                "ConditionExpression": "attribute_not_exists(#pk)",
                "ExpressionAttributeNames": {"#pk": keys.PARTITION_KEY},
            }
        }

    def delete_leftovers(self, document: dict[str, Any]) -> None:
        """Delete the tag links and share items of a document that has left the table, named by
        its last image. Each DeleteItem is unconditional, so deleting what a purge already deleted
        is a no-op. Nothing can write them again: every writer conditions on the document item."""
        for write in (*self._delete_links(document, document["tags"]), *self._delete_shares(document)):
            self._call("delete_item", **write["Delete"])

    def release_expired_quota(self, document: dict[str, Any]) -> bool:
        """Give back the quota of a document that expired, exactly once: the release and its
        marker are one transaction, refused when the marker exists (a replay, or a purge that
        released it). True if released now, False if it had been already."""
        reasons = self._transact([self._quota_release_marker(document), self._release_quota(document)])
        if not reasons:
            return True
        if reasons[0] == "ConditionalCheckFailed":
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
        shared_at = now_iso()
        share = {
            keys.PARTITION_KEY: keys.user_partition(document["owner"]),
            keys.SORT_KEY: keys.share_sort_key(document["docId"], grantee),
            keys.GSI1_PARTITION_KEY: keys.grantee_partition(grantee),
            keys.GSI1_SORT_KEY: keys.shared_doc_sort_key(document["docId"]),
            "grantee": grantee,
            "sharedAt": shared_at,
            **{k: document.get(k) for k in LISTING},
        }
        items = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": self._key(document["owner"], keys.document_sort_key(document["docId"])),
                    "UpdateExpression": "ADD #with :grantees",
                    "ConditionExpression": "#version = :version AND #status = :available AND "
                    "(attribute_not_exists(#with) OR (size(#with) < :max AND NOT contains(#with, :grantee)))",
                    "ExpressionAttributeNames": {"#version": "version", "#status": "status", "#with": SHARED_WITH},
                    "ExpressionAttributeValues": _ser(
                        {
                            ":version": document["version"],
                            ":available": AVAILABLE,
                            ":grantees": {grantee},
                            ":grantee": grantee,
                            ":max": MAX_SHARES,
                        }
                    ),
                }
            },
            {
                "Put": {
                    "TableName": self.table,
                    "Item": _ser(share),
                    "ConditionExpression": "attribute_not_exists(#pk)",
                    "ExpressionAttributeNames": {"#pk": keys.PARTITION_KEY},
                }
            },
        ]
        reasons = self._transact(items)
        if not reasons:
            return share
        grantees = document.get(SHARED_WITH, set())
        if reasons[0] == "ConditionalCheckFailed" and document["status"] != AVAILABLE:
            raise Conflict("only an available document can be shared")
        if grantee in grantees or reasons[1] == "ConditionalCheckFailed":
            existing = self._call("get_item", TableName=self.table, Key=_ser({k: share[k] for k in PRIMARY_KEY}))
            if "Item" in existing:
                return _de(existing["Item"])
        if reasons[0] == "ConditionalCheckFailed" and len(grantees) >= MAX_SHARES:
            raise ShareLimitReached(f"a document can be shared with at most {MAX_SHARES} users")
        if reasons[0] == "ConditionalCheckFailed":
            # As read, the document passed every condition: its version, status or grantees changed since.
            raise DocumentChanged("the document changed while sharing it; try again")
        raise Conflict("the document is being changed by another request; try again")

    def delete_share(self, owner: str, doc_id: str, grantee: str) -> None:
        """Stop sharing; a share that does not exist is already stopped."""
        items = [
            {
                "Delete": {
                    "TableName": self.table,
                    "Key": self._key(owner, keys.share_sort_key(doc_id, grantee)),
                    "ConditionExpression": "attribute_exists(#pk)",
                    "ExpressionAttributeNames": {"#pk": keys.PARTITION_KEY},
                }
            },
            {
                "Update": {
                    "TableName": self.table,
                    "Key": self._key(owner, keys.document_sort_key(doc_id)),
                    "UpdateExpression": "DELETE #with :grantees",
                    "ConditionExpression": "contains(#with, :grantee)",
                    "ExpressionAttributeNames": {"#with": SHARED_WITH},
                    "ExpressionAttributeValues": _ser({":grantees": {grantee}, ":grantee": grantee}),
                }
            },
        ]
        reasons = self._transact(items)
        if reasons and reasons[0] != "ConditionalCheckFailed":
            raise Conflict("the document is being changed by another request; try again")

    def find_share(self, grantee: str, doc_id: str) -> dict[str, Any] | None:
        """The share of `doc_id` with `grantee`, found from the grantee's side (one Query)."""
        items = self._query(
            {
                "IndexName": keys.GSI1.name,
                "KeyConditionExpression": "#pk = :pk AND #sk = :sk",
                "ExpressionAttributeNames": {"#pk": keys.GSI1_PARTITION_KEY, "#sk": keys.GSI1_SORT_KEY},
                "ExpressionAttributeValues": _ser(
                    {":pk": keys.grantee_partition(grantee), ":sk": keys.shared_doc_sort_key(doc_id)}
                ),
            },
            1,
            None,
        ).items
        return items[0] if items else None

    # -- usage ----------------------------------------------------------------------------
    def usage(self, owner: str) -> dict[str, int]:
        response = self._call("get_item", TableName=self.table, Key=self._key(owner, keys.profile_sort_key()))
        item = _de(response.get("Item", {}))
        return {"documents": int(item.get("documentCount", 0)), "bytes": int(item.get("byteCount", 0))}
