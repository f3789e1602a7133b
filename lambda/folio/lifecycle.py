"""Which stream records the lifecycle worker acts on, and what a document's removal means.

One definition for both sides: the worker's code asks `removal_of(record)`, and the CDK builds the
event source mapping's filter from `lifecycle_filter_patterns()`, so Lambda delivers exactly the
records the code acts on (tests/integration/test_lifecycle_worker.py applies the filter to real
stream records and compares).

A document item leaves the table in one of two ways:
- a request deleted it (a purge, or the upload worker rejecting an object): that request released
  the document's quota in the same transaction;
- it EXPIRED (TTL: a pending upload after a day, a trashed document after 30): nothing released
  anything, so the worker does, once.

TTL's own deletions carry `userIdentity` {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
but only in the Region where TTL deleted the item: a TTL delete in a replica Region reaches the home
Region's stream as a plain REMOVE (see "Working with expired items" in the DynamoDB guide). So an
old image whose `expiresAt` had passed when the record was written counts as expired too. A purge
of a document that had expired but was not yet deleted also looks expired; the purge leaves a
quota-release marker, which makes the worker's release a no-op (DocumentWrites.release_expired_quota).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from folio import keys

REMOVE = "REMOVE"
TTL_USER_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
# A record's ApproximateCreationDateTime is rounded down: to the second, says the Streams API
# reference; to the minute in DynamoDB Local's records and in AWS's sample events. Allow for the
# coarser: an item deleted in the minute it expired may carry a time before its expiresAt.
STREAM_TIME_RESOLUTION_SECONDS = 60
# What the worker needs from the old image of a removed document.
REQUIRED_ATTRIBUTES = ("owner", keys.DOC_ID_ATTRIBUTE, "size")

_deserializer = TypeDeserializer()


class MalformedRecord(ValueError):
    """A document's REMOVE record the worker cannot act on (no old image, or an inconsistent one)."""


def lifecycle_filter_patterns() -> list[dict[str, Any]]:
    """The event source mapping's filter: a REMOVE of a document item (Lambda filter syntax).
    Tag links, shares, profiles and markers never reach the function."""
    return [
        {
            "eventName": [REMOVE],
            "dynamodb": {"Keys": {keys.SORT_KEY: {"S": [{"prefix": keys.document_sort_key_prefix()}]}}},
        }
    ]


def acts_on(record: Mapping[str, Any]) -> bool:
    """Is this a record the worker acts on? The same predicate as the filter, in code."""
    sort_key = record.get("dynamodb", {}).get("Keys", {}).get(keys.SORT_KEY, {}).get("S")
    return (
        record.get("eventName") == REMOVE
        and isinstance(sort_key, str)
        and sort_key.startswith(keys.document_sort_key_prefix())
    )


@dataclass(frozen=True)
class Removal:
    """A document that left the table: as it was (`document`), and whether it had expired."""

    document: dict[str, Any]
    expired: bool


def _expired(record: Mapping[str, Any], document: Mapping[str, Any]) -> bool:
    if record.get("userIdentity") == TTL_USER_IDENTITY:
        return True
    expires_at = document.get(keys.TTL_ATTRIBUTE)
    written_at = record["dynamodb"].get("ApproximateCreationDateTime")
    if expires_at is None or written_at is None:
        return False
    return int(expires_at) < float(written_at) + STREAM_TIME_RESOLUTION_SECONDS


def removal_of(record: Mapping[str, Any]) -> Removal | None:
    """The removal a record reports, or None for a record the worker does not act on."""
    if not acts_on(record):
        return None
    old_image = record["dynamodb"].get("OldImage")
    if not old_image:
        raise MalformedRecord("a document's REMOVE record without its old image (is the stream NEW_AND_OLD_IMAGES?)")
    document = {name: _deserializer.deserialize(value) for name, value in old_image.items()}
    missing = [a for a in REQUIRED_ATTRIBUTES if a not in document]
    if missing:
        raise MalformedRecord(f"the removed document has no {', '.join(missing)}")
    item_keys = {name: _deserializer.deserialize(value) for name, value in record["dynamodb"]["Keys"].items()}
    expected = {
        keys.PARTITION_KEY: keys.user_partition(document["owner"]),
        keys.SORT_KEY: keys.document_sort_key(document[keys.DOC_ID_ATTRIBUTE]),
    }
    if item_keys != expected:
        raise MalformedRecord("the old image does not belong to the removed item's key")
    document["size"] = int(document["size"])
    document["tags"] = list(document.get("tags", []))
    return Removal(document=document, expired=_expired(record, document))
