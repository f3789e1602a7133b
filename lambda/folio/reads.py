"""The read side on DynamoDB: AP2-AP8 and usage, implementing folio.ports.DocumentReads.

Only reads, so the same class can run on any client that speaks DynamoDB's read API (a DAX
client too). `consistent=False` sends no ConsistentRead at all: DAX caches only eventually
consistent reads and passes a strongly consistent one through to the table. Queries of a
global secondary index never ask for one (GSIs cannot serve it). No method scans.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from folio import keys
from folio.domain import SHARED_WITH, TRASHED, Page
from folio.dynamodb import call, check_start, deserialize, get_item, item_key, query_page, serialize
from folio.errors import NotFound, Throttled

# How often a BatchGetItem asks again for the keys DynamoDB left unprocessed.
_BATCH_ATTEMPTS = 3


class DynamoDbReads:
    """Documents, tag links, shares and usage, read from the single table."""

    def __init__(self, client: Any, table_name: str, *, consistent: bool = True) -> None:
        # Cached per container and shared by every request: it holds no per-call state
        # (tests/unit/test_adapter_state.py).
        self.client = client
        self.table = table_name
        self.consistent = consistent

    def _query(self, request: dict[str, Any], limit: int, start: dict[str, Any] | None) -> Page:
        return query_page(self.client, self.table, request, limit, start)

    # -- AP2 ------------------------------------------------------------------------------
    def get_document(self, owner: str, doc_id: str) -> dict[str, Any]:
        found = get_item(
            self.client, self.table, item_key(owner, keys.document_sort_key(doc_id)), consistent=self.consistent
        )
        if found is None:
            raise NotFound("no such document")
        return found

    # -- AP3 / AP4 / AP5 / AP6 / AP7 -------------------------------------------------------
    def list_documents(self, owner: str, limit: int, start: dict[str, Any] | None = None) -> Page:
        check_start(start, keys.PARTITION_KEY, keys.user_partition(owner))
        return self._query(
            {
                "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :prefix)",
                "FilterExpression": "#status <> :trashed",  # the trash is a small minority of a partition
                "ExpressionAttributeNames": {"#pk": keys.PARTITION_KEY, "#sk": keys.SORT_KEY, "#status": "status"},
                "ExpressionAttributeValues": serialize(
                    {":pk": keys.user_partition(owner), ":prefix": keys.document_sort_key_prefix(), ":trashed": TRASHED}
                ),
            },
            limit,
            start,
        )

    def list_by_tag(self, owner: str, tag: str, limit: int, start: dict[str, Any] | None = None) -> Page:
        check_start(start, keys.PARTITION_KEY, keys.user_partition(owner))
        return self._query(
            {
                "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :prefix)",
                "FilterExpression": "#status <> :trashed",
                "ExpressionAttributeNames": {"#pk": keys.PARTITION_KEY, "#sk": keys.SORT_KEY, "#status": "status"},
                "ExpressionAttributeValues": serialize(
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
        check_start(start, keys.GSI1_PARTITION_KEY, partition)
        return self._query(
            {
                "IndexName": keys.GSI1.name,
                "KeyConditionExpression": "#pk = :pk",
                "FilterExpression": "#status <> :trashed",
                "ExpressionAttributeNames": {"#pk": keys.GSI1_PARTITION_KEY, "#status": "status"},
                "ExpressionAttributeValues": serialize({":pk": partition, ":trashed": TRASHED}),
            },
            limit,
            start,
        )

    def list_shared_with(self, grantee: str, limit: int, start: dict[str, Any] | None = None) -> Page:
        partition = keys.grantee_partition(grantee)
        check_start(start, keys.GSI1_PARTITION_KEY, partition)
        return self._query(
            {
                "IndexName": keys.GSI1.name,
                "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :prefix)",
                "ExpressionAttributeNames": {"#pk": keys.GSI1_PARTITION_KEY, "#sk": keys.GSI1_SORT_KEY},
                "ExpressionAttributeValues": serialize({":pk": partition, ":prefix": keys.shared_sort_key_prefix()}),
            },
            limit,
            start,
        )

    def list_trash(self, owner: str, limit: int, start: dict[str, Any] | None = None) -> Page:
        check_start(start, keys.OWNER_ATTRIBUTE, owner)
        return self._query(
            {
                "IndexName": keys.GSI3.name,
                "KeyConditionExpression": "#owner = :owner",
                "ExpressionAttributeNames": {"#owner": keys.OWNER_ATTRIBUTE},
                "ExpressionAttributeValues": serialize({":owner": owner}),
            },
            limit,
            start,
        )

    # -- AP8 ------------------------------------------------------------------------------
    def recent_uploads(self, limit: int) -> list[dict[str, Any]]:
        """One Query per shard, in parallel, merged newest first."""
        # Imported here: only the admin function reads the feed (concurrent.futures is ~1 ms of imports).
        from concurrent.futures import ThreadPoolExecutor

        def shard(number: int) -> list[dict[str, Any]]:
            return self._query(
                {
                    "IndexName": keys.GSI2.name,
                    "KeyConditionExpression": "#shard = :shard",
                    "ExpressionAttributeNames": {"#shard": keys.RECENT_SHARD_ATTRIBUTE},
                    "ExpressionAttributeValues": serialize({":shard": number}),
                },
                limit,
                None,
            ).items

        with ThreadPoolExecutor(max_workers=keys.RECENT_SHARD_COUNT) as pool:
            merged = [item for items in pool.map(shard, range(keys.RECENT_SHARD_COUNT)) for item in items]
        merged.sort(key=lambda i: (i[keys.CREATED_AT_ATTRIBUTE], i[keys.DOC_ID_ATTRIBUTE]), reverse=True)
        return merged[:limit]

    # -- AP6 lookup -----------------------------------------------------------------------
    def find_share(self, grantee: str, doc_id: str) -> dict[str, Any] | None:
        """The share of `doc_id` with `grantee`, found from the grantee's side (one Query)."""
        items = self._query(
            {
                "IndexName": keys.GSI1.name,
                "KeyConditionExpression": "#pk = :pk AND #sk = :sk",
                "ExpressionAttributeNames": {"#pk": keys.GSI1_PARTITION_KEY, "#sk": keys.GSI1_SORT_KEY},
                "ExpressionAttributeValues": serialize(
                    {":pk": keys.grantee_partition(grantee), ":sk": keys.shared_doc_sort_key(doc_id)}
                ),
            },
            1,
            None,
        ).items
        return items[0] if items else None

    # -- usage ----------------------------------------------------------------------------
    def usage(self, owner: str) -> dict[str, int]:
        # Eventually consistent whatever `consistent` says: a usage figure a moment old is fine.
        item = get_item(self.client, self.table, item_key(owner, keys.profile_sort_key()), consistent=False) or {}
        return {"documents": int(item.get("documentCount", 0)), "bytes": int(item.get("byteCount", 0))}

    # -- the search's authority -----------------------------------------------------------
    def current_documents(self, documents: Sequence[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """One strongly consistent BatchGetItem (a search page is at most 100 documents), with the
        few attributes that decide visibility. Keys DynamoDB leaves unprocessed are asked again a
        few times; still unprocessed, the page is refused as throttled rather than shown unchecked."""
        if not documents:
            return {}
        keys_wanted = [item_key(owner, keys.document_sort_key(doc_id)) for owner, doc_id in dict.fromkeys(documents)]
        names = {"#o": keys.OWNER_ATTRIBUTE, "#d": keys.DOC_ID_ATTRIBUTE, "#s": "status", "#g": SHARED_WITH}
        request = {"Keys": keys_wanted, "ConsistentRead": True, "ProjectionExpression": "#o, #d, #s, #g",
                   "ExpressionAttributeNames": names}  # fmt: skip
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for _ in range(_BATCH_ATTEMPTS):
            response = call(self.client, "batch_get_item", RequestItems={self.table: request})
            for item in response.get("Responses", {}).get(self.table, []):
                document = deserialize(item)
                found[(document[keys.OWNER_ATTRIBUTE], document[keys.DOC_ID_ATTRIBUTE])] = document
            left = response.get("UnprocessedKeys", {}).get(self.table)
            if not left:
                return found
            request = left
        raise Throttled("too many requests right now; try again shortly")
