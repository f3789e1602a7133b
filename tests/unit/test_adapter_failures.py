"""How the DynamoDB adapters turn DynamoDB's refusals into domain errors.

DynamoDB Local never throttles and cannot be made to lose a transaction race on cue, so
these cases use botocore's Stubber: the real client and request validation, with the
service's answer given by the test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.stub import Stubber

from folio.domain import PENDING
from folio.errors import Conflict, Throttled
from tests.support.dynamodb_documents import DynamoDbDocuments
from tests.support.stubbed_dynamodb import cancelled, offline_client

DOCUMENT = {
    "docId": "01ABC",
    "owner": "user-1",
    "name": "a.pdf",
    "contentType": "application/pdf",
    "docType": "pdf",
    "size": 3,
    "status": PENDING,
    "tags": ["x"],
    "version": 1,
    "createdAt": "2026-11-22T00:00:00.000Z",
    "updatedAt": "2026-11-22T00:00:00.000Z",
}


@pytest.fixture
def stubbed() -> Iterator[tuple[DynamoDbDocuments, Stubber]]:
    client = offline_client()
    with Stubber(client) as stubber:
        yield DynamoDbDocuments(client, "folio-documents"), stubber
        stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    "code", ["ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded"]
)
def test_throttling_becomes_throttled(stubbed: tuple[DynamoDbDocuments, Stubber], code: str) -> None:
    adapters, stubber = stubbed
    stubber.add_client_error("get_item", service_error_code=code, http_status_code=400)

    with pytest.raises(Throttled):
        adapters.get_document("user-1", "01ABC")


def test_a_throttled_transaction_item_becomes_throttled(stubbed: tuple[DynamoDbDocuments, Stubber]) -> None:
    adapters, stubber = stubbed
    stubber.add_client_error("transact_write_items", **cancelled("None", "ThrottlingError"))

    with pytest.raises(Throttled):
        adapters.mark_available(DOCUMENT)


def test_settling_an_upload_that_is_no_longer_pending_is_a_quiet_no(
    stubbed: tuple[DynamoDbDocuments, Stubber],
) -> None:
    adapters, stubber = stubbed
    stubber.add_client_error("transact_write_items", **cancelled("ConditionalCheckFailed", "None"))

    assert adapters.mark_available(DOCUMENT) is False


@pytest.mark.parametrize("settle", ["mark_available", "reject_upload"])
def test_a_lost_race_while_settling_raises_so_the_event_is_retried(
    stubbed: tuple[DynamoDbDocuments, Stubber], settle: str
) -> None:
    adapters, stubber = stubbed
    stubber.add_client_error("transact_write_items", **cancelled("TransactionConflict", "None"))

    with pytest.raises(Conflict):
        getattr(adapters, settle)(DOCUMENT)


def test_other_errors_are_not_disguised(stubbed: tuple[DynamoDbDocuments, Stubber]) -> None:
    adapters, stubber = stubbed
    stubber.add_client_error("get_item", service_error_code="ResourceNotFoundException", http_status_code=400)

    with pytest.raises(Exception, match="ResourceNotFoundException"):
        adapters.get_document("user-1", "01ABC")
