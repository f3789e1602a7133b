"""The ports' implementations the contract tests run against: the in-memory fake, and the
DynamoDB adapters on DynamoDB Local (a table of their own, made from folio.keys), reading
consistently and eventually (the shape a read cache such as DAX is given; on loopback the
engine answers both at once, so the tests prove the requests, not the staleness), and the read
adapter through the unmodified DAX client (`amazondax`) to a loopback DAX server in front of the
same table (tests/support/fake_dax.py), as the DAX readers are deployed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from folio.ports import DocumentReads, DocumentWrites
from folio.reads import DynamoDbReads
from folio.writes import DynamoDbWrites
from tests.integration.engines import create_documents_table
from tests.support import loopback
from tests.support.fake_dax import FakeDax, open_client
from tests.support.fake_ports import InMemoryDocuments

REGION = "us-east-1"


@dataclass(frozen=True)
class Ports:
    reads: DocumentReads
    writes: DocumentWrites


@pytest.fixture(scope="session")
def contract_table(dynamodb_endpoint: str) -> Iterator[tuple[Any, str]]:
    """(client, table name): a documents table of the contract tests' own on DynamoDB Local."""
    client = boto3.client(
        "dynamodb",
        endpoint_url=dynamodb_endpoint,
        region_name=REGION,
        **loopback.CLIENT_CREDENTIALS,
    )
    name = f"folio-contract-{uuid.uuid4().hex[:8]}"
    create_documents_table(client, name)
    yield client, name
    client.delete_table(TableName=name)


@pytest.fixture(scope="session")
def dax_client(contract_table: tuple[Any, str]) -> Iterator[Any]:
    """The unmodified DAX client, connected to a DAX server in front of the contract table."""
    client, _ = contract_table
    with FakeDax(client) as cluster:
        dax = open_client(cluster.endpoint_url)
        yield dax
        dax.close()


@pytest.fixture(params=["in-memory", "dynamodb-local", "dynamodb-local-eventual", "through-dax"])
def ports(request: pytest.FixtureRequest) -> Ports:
    if request.param == "in-memory":
        fake = InMemoryDocuments()
        return Ports(reads=fake, writes=fake)
    client, table = request.getfixturevalue("contract_table")
    if request.param == "through-dax":
        # Writes go around DAX, as Folio's always do; reads are eventually consistent, as DAX needs.
        reads = DynamoDbReads(request.getfixturevalue("dax_client"), table, consistent=False)
        return Ports(reads=reads, writes=DynamoDbWrites(client, table))
    consistent = request.param == "dynamodb-local"
    return Ports(reads=DynamoDbReads(client, table, consistent=consistent), writes=DynamoDbWrites(client, table))
