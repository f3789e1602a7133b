"""The documents table's stream: when a document item leaves the table, what it owned leaves too.

Lambda delivers only REMOVE records of document items (the filter is
folio.lifecycle.lifecycle_filter_patterns). For each one, from the document's last image:
1. the tag links and share items that remain are deleted (after a purge there are none; after a
   TTL removal, all of them);
2. if the document expired (TTL), its quota is released, once: a marker item makes a replay a
   no-op (a purge or an upload rejection released it in its own transaction already);
3. every version and delete marker of its object is deleted (the bucket is versioned).
The table goes first, so listings and usage are right even while S3 keeps failing.

Every step is idempotent: a replayed record, or a batch retried after a partial failure, leaves
the same state. A record that fails is reported alone (partial batch response); Lambda retries
from it, then sends the batch's description to the on-failure queue (docs/operations.md).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from folio import lifecycle
from folio.handlers import wiring
from folio.handlers.logs import logger
from folio.object_keys import object_key

# Every AWS call this function makes, and nothing else (its role grants exactly these; the
# integration test records the calls of a run and compares):
# - dynamodb DeleteItem: tag links and share items (dynamodb:DeleteItem on the table);
# - dynamodb TransactWriteItems: the quota-release marker's Put and the profile's Update
#   (dynamodb:PutItem and dynamodb:UpdateItem on the table);
# - s3 ListObjectVersions with the object's key as prefix (s3:ListBucketVersions on the bucket,
#   s3:prefix under the document prefix);
# - s3 DeleteObject with a VersionId (s3:DeleteObjectVersion on the document prefix's objects).
AWS_CALLS = (
    ("dynamodb", "DeleteItem"),
    ("dynamodb", "TransactWriteItems"),
    ("s3", "ListObjectVersions"),
    ("s3", "DeleteObject"),
)

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def settle_removal(record: DynamoDBRecord) -> str:
    """What became of one record, as a word for the log and the tests. Raises to fail the record."""
    removal = lifecycle.removal_of(record.raw_event)
    if removal is None:
        return "ignored"
    writes, storage = wiring.writes(), wiring.storage()
    document = removal.document
    writes.delete_leftovers(document)
    released = removal.expired and writes.release_expired_quota(document)
    versions = storage.delete_every_version(object_key(storage.prefix, document["owner"], document["docId"]))
    logger.info(
        "document removed",
        extra={
            "docId": document["docId"],
            "expired": removal.expired,
            "quotaReleased": released,
            "objectVersionsDeleted": versions,
        },
    )
    return "released" if released else "cleaned"


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=settle_removal, processor=processor, context=context)
