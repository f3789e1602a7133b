"""Where a document's bytes live in the bucket, named once: the key is built server-side from
the owner and the document id (never a name a user typed), and parsed back by the upload worker.

The CDK imports DOCUMENT_OBJECT_PREFIX too (stacks/data_stack.py), so the bucket policy's
prefix, the functions' IAM prefix, the EventBridge rule's filter and the code agree.
"""

from __future__ import annotations

from typing import NamedTuple

from folio.keys import InvalidKeyPart

DOCUMENT_OBJECT_PREFIX = "documents/"
_SEPARATOR = "/"


class ObjectKey(NamedTuple):
    """The owner and document an object key names."""

    owner: str
    doc_id: str


def _safe(part: str) -> bool:
    return bool(part) and _SEPARATOR not in part and part not in (".", "..")


def object_key(prefix: str, owner: str, doc_id: str) -> str:
    """<prefix><owner>/<docId>, e.g. documents/<owner>/<docId>."""
    for label, part in (("owner", owner), ("doc_id", doc_id)):
        if not _safe(part):
            raise InvalidKeyPart(f"{label} cannot be part of an object key")
    return f"{prefix}{owner}{_SEPARATOR}{doc_id}"


def parse_object_key(prefix: str, key: str) -> ObjectKey | None:
    """The owner and document of a key that object_key could have built, else None."""
    if not key.startswith(prefix):
        return None
    parts = key[len(prefix) :].split(_SEPARATOR)
    if len(parts) != 2 or not all(_safe(part) for part in parts):
        return None
    return ObjectKey(owner=parts[0], doc_id=parts[1])
