"""What must hold in a user's partition after any sequence of writes, whoever interleaved them.

- every tag link belongs to a document that has that tag, and every tag of a document has
  a link; each link's listing copy is the document's;
- every share item belongs to a document whose grantee set names its grantee, and every
  grantee has a share item; each share's listing copy is the document's, and it is in the
  grantee's list (GSI1 keys) exactly while the document is AVAILABLE;
- the usage item counts exactly the user's documents and their bytes.

And for the bucket, once the lifecycle worker has run: no current object without a document
(`objects_without_documents`, and `bucket_violations` on real engines).

`violations` is a pure function of the partition's items (deserialized), so it is tested
on hand-made items; `partition_items` reads them from a table, and `table_violations`
checks every user partition of a table (tests/integration/conftest.py runs it after each
test module, on DynamoDB Local).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from folio import keys
from folio.domain import AVAILABLE, LISTING, SHARED_WITH

_deserializer = TypeDeserializer()


def partition_items(client: Any, table: str, owner: str) -> list[dict[str, Any]]:
    """Every item of `owner`'s partition, strongly read."""
    items: list[dict[str, Any]] = []
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "#pk = :pk",
        "ExpressionAttributeNames": {"#pk": keys.PARTITION_KEY},
        "ExpressionAttributeValues": {":pk": {"S": keys.user_partition(owner)}},
        "ConsistentRead": True,
    }
    while True:
        response = client.query(**request)
        items += [{k: _deserializer.deserialize(v) for k, v in item.items()} for item in response.get("Items", [])]
        if "LastEvaluatedKey" not in response:
            return items
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def table_violations(client: Any, table: str) -> list[str]:
    """`violations` of every user partition in `table`, each prefixed with its partition.
    A Scan: for a test engine's table after a test module, never for production code."""
    partitions: dict[str, list[dict[str, Any]]] = {}
    request: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        response = client.scan(**request)
        for raw in response.get("Items", []):
            item = {k: _deserializer.deserialize(v) for k, v in raw.items()}
            if str(item[keys.PARTITION_KEY]).startswith(keys.USER_PREFIX + keys.KEY_SEPARATOR):
                partitions.setdefault(item[keys.PARTITION_KEY], []).append(item)
        if "LastEvaluatedKey" not in response:
            break
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    return [f"{partition}: {problem}" for partition, items in partitions.items() for problem in violations(items)]


def _listing(item: dict[str, Any]) -> dict[str, Any]:
    return {k: item.get(k) for k in LISTING}


def violations(items: list[dict[str, Any]]) -> list[str]:
    """Each invariant of the module docstring that `items` (one partition) breaks, in words."""
    documents = {i["docId"]: i for i in items if i[keys.SORT_KEY].startswith(keys.document_sort_key_prefix())}
    found: list[str] = []
    links = [i for i in items if i[keys.SORT_KEY].startswith(keys.TAG_PREFIX + keys.KEY_SEPARATOR)]
    shares = [i for i in items if i[keys.SORT_KEY].startswith(keys.SHARE_PREFIX + keys.KEY_SEPARATOR)]
    linked = {link[keys.SORT_KEY] for link in links}
    for doc_id, document in documents.items():
        for tag in document.get("tags", []):
            if keys.tag_link_sort_key(tag, doc_id) not in linked:
                found.append(f"document {doc_id} has tag {tag!r} but no link for it")
        granted = {s["grantee"] for s in shares if s["docId"] == doc_id}
        for grantee in set(document.get(SHARED_WITH, set())) - granted:
            found.append(f"document {doc_id} is shared with {grantee} but has no share item")
    for link in links:
        document = documents.get(link["docId"])
        if document is None or link[keys.SORT_KEY] not in {
            keys.tag_link_sort_key(t, link["docId"]) for t in document.get("tags", [])
        }:
            found.append(f"link {link[keys.SORT_KEY]} names no tag of a document")
        elif _listing(link) != _listing(document):
            found.append(f"link {link[keys.SORT_KEY]} copies {_listing(link)}, the document is {_listing(document)}")
    for share in shares:
        document = documents.get(share["docId"])
        if document is None or share["grantee"] not in document.get(SHARED_WITH, set()):
            found.append(f"share {share[keys.SORT_KEY]} has no document shared with its grantee")
            continue
        if _listing(share) != _listing(document):
            found.append(f"share {share[keys.SORT_KEY]} copies {_listing(share)}, the document is {_listing(document)}")
        if (keys.GSI1_PARTITION_KEY in share) != (document["status"] == AVAILABLE):
            found.append(f"share {share[keys.SORT_KEY]} is listed for its grantee while {document['status']}")
    profiles = [i for i in items if i[keys.SORT_KEY] == keys.profile_sort_key()]
    usage = (int(profiles[0].get("documentCount", 0)), int(profiles[0].get("byteCount", 0))) if profiles else (0, 0)
    actual = (len(documents), sum(int(d["size"]) for d in documents.values()))
    if usage != actual:
        found.append(f"usage counts {usage} (documents, bytes), the documents are {actual}")
    return found


def objects_without_documents(object_keys: Iterable[str], documents: set[tuple[str, str]], prefix: str) -> list[str]:
    """Each object key that is not `<prefix><owner>/<docId>` of one of `documents` (owner, docId)."""
    found = []
    for key in object_keys:
        parts = key[len(prefix) :].split("/") if key.startswith(prefix) else []
        if len(parts) != 2 or (parts[0], parts[1]) not in documents:
            found.append(f"object {key} has no document")
    return found


def bucket_violations(s3: Any, bucket: str, prefix: str, dynamodb: Any, table: str) -> list[str]:
    """`objects_without_documents` for every current object of `bucket` (a version hidden by a
    delete marker is not current) against every document item of `table`. A Scan and a full
    listing: for test engines after a test module, never for production code."""
    documents: set[tuple[str, str]] = set()
    for page in dynamodb.get_paginator("scan").paginate(
        TableName=table,
        ConsistentRead=True,
        FilterExpression="begins_with(#sk, :doc)",
        ExpressionAttributeNames={"#sk": keys.SORT_KEY},
        ExpressionAttributeValues={":doc": {"S": keys.document_sort_key_prefix()}},
    ):
        documents |= {(item["owner"]["S"], item["docId"]["S"]) for item in page["Items"]}
    object_keys = [
        entry["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for entry in page.get("Contents", [])
    ]
    return objects_without_documents(object_keys, documents, prefix)


def object_versions(s3: Any, bucket: str, key: str) -> list[str]:
    """Every version and delete marker of exactly `key`, as "Versions:<id>" / "DeleteMarkers:<id>"."""
    listed = s3.list_object_versions(Bucket=bucket, Prefix=key)
    return [
        f"{kind}:{entry['VersionId']}"
        for kind in ("Versions", "DeleteMarkers")
        for entry in listed.get(kind, [])
        if entry["Key"] == key
    ]
