"""The ports' implementations the contract tests run against: the in-memory fake, and the
DynamoDB adapters on DynamoDB Local (a table of their own, made from folio.keys), reading
consistently and eventually (the shape a read cache such as DAX is given; on loopback the
engine answers both at once, so the tests prove the requests, not the staleness)."""

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
        aws_access_key_id="contract",  # DynamoDB Local accepts any key; nothing leaves loopback
        aws_secret_access_key="contract",
    )
    name = f"folio-contract-{uuid.uuid4().hex[:8]}"
    create_documents_table(client, name)
    yield client, name
    client.delete_table(TableName=name)


@pytest.fixture(params=["in-memory", "dynamodb-local", "dynamodb-local-eventual"])
def ports(request: pytest.FixtureRequest) -> Ports:
    if request.param == "in-memory":
        fake = InMemoryDocuments()
        return Ports(reads=fake, writes=fake)
    client, table = request.getfixturevalue("contract_table")
    consistent = request.param == "dynamodb-local"
    return Ports(reads=DynamoDbReads(client, table, consistent=consistent), writes=DynamoDbWrites(client, table))
