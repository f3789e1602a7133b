"""The repository is cached per warm container and shared by every request it serves, so it
must hold no state that grows with its calls (an earlier version kept a request log that
did, for the life of the container)."""

from __future__ import annotations

import copy

from botocore.stub import Stubber

from folio.repository import DocumentRepository
from tests.support.stubbed_dynamodb import offline_client

KEY = {"PK": {"S": "USER#u1"}, "SK": {"S": "PROFILE"}}


def test_a_repository_holds_nothing_but_its_client_and_table_name() -> None:
    repository = DocumentRepository(offline_client(), "folio-documents")

    assert set(vars(repository)) == {"client", "table"}


def test_two_hundred_calls_leave_the_repository_exactly_as_it_was() -> None:
    # Given a repository, and a deep copy of everything it holds except the client
    client = offline_client()
    repository = DocumentRepository(client, "folio-documents")
    before = copy.deepcopy({k: v for k, v in vars(repository).items() if k != "client"})

    # When it serves 200 requests
    with Stubber(client) as stubber:
        for _ in range(200):
            stubber.add_response("get_item", {"Item": {"documentCount": {"N": "1"}, "byteCount": {"N": "2"}}})
        for _ in range(200):
            assert repository.usage("u1") == {"documents": 1, "bytes": 2}

    # Then nothing it holds has changed or grown, and it asked DynamoDB for no capacity figures
    assert {k: v for k, v in vars(repository).items() if k != "client"} == before
    assert set(vars(repository)) == {"client", "table"}


def test_the_repository_asks_for_no_consumed_capacity() -> None:
    client = offline_client()
    with Stubber(client) as stubber:
        # The Stubber fails the call if any parameter differs from these: no ReturnConsumedCapacity.
        stubber.add_response("get_item", {}, {"TableName": "folio-documents", "Key": KEY})
        DocumentRepository(client, "folio-documents").usage("u1")
