"""S3 "Object Created" (via EventBridge): settle a PENDING document, or remove a bad object.

A document trashed while its upload was on the way is settled on arrival too, in the
trash: a restore then brings it back AVAILABLE (or it was rejected, and is gone).
Every write is conditioned on the version read; when another request changed the document
in between, the worker reads it again and decides again.

Safe to run twice: a document whose upload is settled is left alone, and deleting an
object that is already gone is not an error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from folio.domain import TRASHED, awaiting_upload
from folio.errors import Conflict, NotFound
from folio.handlers import wiring
from folio.handlers.logs import logger
from folio.object_keys import parse_object_key

if TYPE_CHECKING:  # types only: not imported at a cold start
    from folio.ports import DocumentReads, DocumentWrites
    from folio.storage import DocumentStorage

# Each attempt follows a change by another request (a user's retag, trash or restore); a
# document that keeps changing is left to EventBridge's retries of the event.
SETTLE_ATTEMPTS = 5


def settle(bucket: str, key: str) -> str:
    """What happened to the object, as a word for the log and the tests."""
    storage = wiring.storage()
    if bucket != storage.bucket or not key.startswith(storage.prefix):
        return "ignored"
    named = parse_object_key(storage.prefix, key)
    if named is None:
        storage.delete_every_version(key)
        return "deleted:unknown-key"
    for _ in range(SETTLE_ATTEMPTS):
        outcome = settle_as_read(storage, wiring.reads(), wiring.writes(), key, named.owner, named.doc_id)
        if outcome is not None:
            return outcome
    raise Conflict("the document kept changing while its upload was settled; the event will be retried")


def settle_as_read(
    storage: DocumentStorage, reads: DocumentReads, writes: DocumentWrites, key: str, owner: str, doc_id: str
) -> str | None:
    """Read the document and settle it; None if it changed between the read and the write."""
    try:
        document = reads.get_document(owner, doc_id)
    except NotFound:
        storage.delete_every_version(key)
        return "deleted:no-document"
    if not awaiting_upload(document):
        return "unchanged"
    head = storage.head(key)
    if head is None:
        return "gone"
    if int(head["ContentLength"]) != int(document["size"]) or head.get("ContentType") != document["contentType"]:
        # The document goes first: if deleting the object then fails, the retried event
        # finds no document and deletes the object; the other order could strand a
        # PENDING document that holds quota.
        if not writes.reject_upload(document):
            return None
        storage.delete_every_version(key)
        return "deleted:mismatch"
    if not writes.mark_available(document):
        return None
    return "available:in-trash" if document["status"] == TRASHED else "available"


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    detail = event.get("detail", {})
    outcome = settle(detail.get("bucket", {}).get("name", ""), detail.get("object", {}).get("key", ""))
    logger.info("upload settled", extra={"outcome": outcome})
    return {"outcome": outcome}
