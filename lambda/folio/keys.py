"""The table's key schema and the only code that knows the key formats.

One table holds every entity (single-table design). This module names every key
attribute and index, says what each index projects, and builds every key value.
The CDK data stack reads the attribute and index names from here, so infra and
runtime cannot drift; handlers and repositories never format a key themselves.

Index design (see docs/data-model.md for the access patterns):
- GSI1 is overloaded: documents by owner and type, newest update first (AP5), and
  shares by grantee (AP6, an inverted index). Overloading needs generic string
  attributes (`GSI1PK`/`GSI1SK`), so its keys stay composite strings.
- GSI2 is the write-sharded "recent uploads" feed (AP8). It uses native
  multi-attribute keys: the partition is the numeric `recentShard`, the sort is the
  tuple (`createdAt`, `docId`), which orders by time and stays unique without
  concatenating strings.
- GSI3 is the sparse trash (AP7): partition `owner`, sort `trashedAt`. Only a
  trashed document carries `trashedAt`, so only trashed documents are indexed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

PARTITION_KEY = "PK"
SORT_KEY = "SK"
TTL_ATTRIBUTE = "expiresAt"

# GSI1 (overloaded, string keys)
GSI1_PARTITION_KEY = "GSI1PK"
GSI1_SORT_KEY = "GSI1SK"
# GSI2 (multi-attribute keys)
RECENT_SHARD_ATTRIBUTE = "recentShard"
CREATED_AT_ATTRIBUTE = "createdAt"
DOC_ID_ATTRIBUTE = "docId"
# GSI3 (sparse, multi-attribute keys)
OWNER_ATTRIBUTE = "owner"
TRASHED_AT_ATTRIBUTE = "trashedAt"

# AP8 spreads writes over this many GSI2 partitions; readers query every shard.
RECENT_SHARD_COUNT = 8

KEY_SEPARATOR = "#"


class AttributeKind(Enum):
    """DynamoDB scalar types used by key attributes."""

    STRING = "S"
    NUMBER = "N"


class Projection(Enum):
    """How much of an item an index copies."""

    KEYS_ONLY = "KEYS_ONLY"
    INCLUDE = "INCLUDE"
    ALL = "ALL"


@dataclass(frozen=True)
class KeyAttribute:
    """One attribute of a (possibly multi-attribute) key."""

    name: str
    kind: AttributeKind


@dataclass(frozen=True)
class IndexSchema:
    """A global secondary index: its keys, in order, and its projection."""

    name: str
    partition_keys: tuple[KeyAttribute, ...]
    sort_keys: tuple[KeyAttribute, ...]
    projection: Projection
    non_key_attributes: tuple[str, ...] = ()


# What a list page shows for a document or a share, so a list is one Query with no
# follow-up reads (AP3-AP7). Full items (AP2) come from the base table.
LISTING_ATTRIBUTES: tuple[str, ...] = (
    DOC_ID_ATTRIBUTE,
    OWNER_ATTRIBUTE,
    "name",
    "contentType",
    "docType",
    "size",
    "status",
    "tags",
    "version",
    CREATED_AT_ATTRIBUTE,
    "updatedAt",
    "grantee",
    "sharedAt",
)

# The admin feed (AP8) shows who uploaded what and how large: no tags, no version.
RECENT_FEED_ATTRIBUTES: tuple[str, ...] = (OWNER_ATTRIBUTE, "name", "contentType", "size", "status")

GSI1 = IndexSchema(
    name="GSI1",
    partition_keys=(KeyAttribute(GSI1_PARTITION_KEY, AttributeKind.STRING),),
    sort_keys=(KeyAttribute(GSI1_SORT_KEY, AttributeKind.STRING),),
    projection=Projection.INCLUDE,
    non_key_attributes=LISTING_ATTRIBUTES,
)
GSI2 = IndexSchema(
    name="GSI2",
    partition_keys=(KeyAttribute(RECENT_SHARD_ATTRIBUTE, AttributeKind.NUMBER),),
    sort_keys=(
        KeyAttribute(CREATED_AT_ATTRIBUTE, AttributeKind.STRING),
        KeyAttribute(DOC_ID_ATTRIBUTE, AttributeKind.STRING),
    ),
    projection=Projection.INCLUDE,
    non_key_attributes=RECENT_FEED_ATTRIBUTES,
)
GSI3 = IndexSchema(
    name="GSI3",
    partition_keys=(KeyAttribute(OWNER_ATTRIBUTE, AttributeKind.STRING),),
    sort_keys=(KeyAttribute(TRASHED_AT_ATTRIBUTE, AttributeKind.STRING),),
    projection=Projection.INCLUDE,
    # The trash lists documents only (no share attributes), plus when each one expires.
    non_key_attributes=(
        *(a for a in LISTING_ATTRIBUTES if a not in (OWNER_ATTRIBUTE, "grantee", "sharedAt")),
        TTL_ATTRIBUTE,
    ),
)
GLOBAL_SECONDARY_INDEXES: tuple[IndexSchema, ...] = (GSI1, GSI2, GSI3)

# Prefixes: the only place the key formats are spelled.
USER_PREFIX = "USER"
DOCUMENT_PREFIX = "DOC"
TAG_PREFIX = "TAG"
SHARE_PREFIX = "SHARE"
SHARED_PREFIX = "SHARED"
TYPE_PREFIX = "TYPE"
UPDATED_PREFIX = "UPDATED"
PROFILE_SORT_KEY = "PROFILE"
# A document whose quota has been given back leaves this marker behind for a while, so that
# releasing it again (a replayed stream record) is refused. Not a document: never "DOC#...".
RELEASED_PREFIX = "RELEASED"


class InvalidKeyPart(ValueError):
    """A value that would break the key format (empty, or containing the separator)."""


def _part(label: str, value: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidKeyPart(f"{label} must be a non-empty string")
    if KEY_SEPARATOR in value:
        raise InvalidKeyPart(f"{label} must not contain '{KEY_SEPARATOR}'")
    return value


def _join(*parts: str) -> str:
    return KEY_SEPARATOR.join(parts)


def user_partition(owner: str) -> str:
    """PK of everything a user owns: documents, tag links, shares, usage."""
    return _join(USER_PREFIX, _part("owner", owner))


def document_sort_key(doc_id: str) -> str:
    return _join(DOCUMENT_PREFIX, _part("doc_id", doc_id))


def document_sort_key_prefix() -> str:
    """begins_with() prefix for AP3 (my documents, newest first: ids are time-ordered)."""
    return DOCUMENT_PREFIX + KEY_SEPARATOR


def tag_link_sort_key(tag: str, doc_id: str) -> str:
    return _join(TAG_PREFIX, _part("tag", tag), DOCUMENT_PREFIX, _part("doc_id", doc_id))


def tag_link_sort_key_prefix(tag: str) -> str:
    """begins_with() prefix for AP4 (my documents with tag T)."""
    return _join(TAG_PREFIX, _part("tag", tag)) + KEY_SEPARATOR


def share_sort_key(doc_id: str, grantee: str) -> str:
    return _join(SHARE_PREFIX, _part("doc_id", doc_id), _part("grantee", grantee))


def quota_released_sort_key(doc_id: str) -> str:
    """SK of the marker that says the quota of `doc_id` was released (in the owner's partition)."""
    return _join(RELEASED_PREFIX, _part("doc_id", doc_id))


def profile_sort_key() -> str:
    return PROFILE_SORT_KEY


def owner_type_partition(owner: str, doc_type: str) -> str:
    """GSI1PK of a document: AP5 lists one owner's documents of one type."""
    return _join(USER_PREFIX, _part("owner", owner), TYPE_PREFIX, _part("doc_type", doc_type))


def updated_sort_key(updated_at: str, doc_id: str) -> str:
    """GSI1SK of a document: newest update first when read backwards."""
    return _join(UPDATED_PREFIX, _part("updated_at", updated_at), _part("doc_id", doc_id))


def grantee_partition(grantee: str) -> str:
    """GSI1PK of a share: the inverted index behind "shared with me" (AP6)."""
    return user_partition(grantee)


def shared_doc_sort_key(doc_id: str) -> str:
    """GSI1SK of a share: ids are time-ordered, so "shared with me" lists newest documents
    first, and the grantee finds one share by document id with a single Query."""
    return _join(SHARED_PREFIX, _part("doc_id", doc_id))


def shared_sort_key_prefix() -> str:
    return SHARED_PREFIX + KEY_SEPARATOR


def recent_shard(doc_id: str) -> int:
    """The GSI2 shard of a document: stable for an id, spread evenly over the shards."""
    _part("doc_id", doc_id)
    # A stable hash (not Python's salted hash()) so every process agrees.
    total = 0
    for char in doc_id:
        total = (total * 31 + ord(char)) % 1_000_003
    return total % RECENT_SHARD_COUNT
