"""S3 "Object Created" (via EventBridge): settle a PENDING document, or remove a bad object.

Safe to run twice: a document that is no longer PENDING is left alone, and deleting an
object that is already gone is not an error.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from folio.errors import NotFound
from folio.handlers import wiring
from folio.handlers.logs import logger
from folio.repository import PENDING


def settle(bucket: str, key: str) -> str:
    """What happened to the object, as a word for the log and the tests."""
    storage, repository = wiring.storage(), wiring.repository()
    if bucket != storage.bucket or not key.startswith(storage.prefix):
        return "ignored"
    parts = key[len(storage.prefix) :].split("/")
    if len(parts) != 2 or not all(parts):
        storage.delete(key)
        return "deleted:unknown-key"
    owner, doc_id = parts
    try:
        document = repository.get_document(owner, doc_id)
    except NotFound:
        storage.delete(key)
        return "deleted:no-document"
    if document["status"] != PENDING:
        return "unchanged"
    head = storage.head(key)
    if head is None:
        return "gone"
    if int(head["ContentLength"]) != int(document["size"]) or head.get("ContentType") != document["contentType"]:
        # The document goes first: if deleting the object then fails, the retried event
        # finds no document and deletes the object; the other order could strand a
        # PENDING document that holds quota.
        repository.reject_upload(document)
        storage.delete(key)
        return "deleted:mismatch"
    return "available" if repository.mark_available(document) else "unchanged"


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    detail = event.get("detail", {})
    outcome = settle(detail.get("bucket", {}).get("name", ""), detail.get("object", {}).get("key", ""))
    logger.info("upload settled", extra={"outcome": outcome})
    return {"outcome": outcome}
