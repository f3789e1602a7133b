"""Cold-start composition: settings, clients and the service, built once per container."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

import boto3

from folio.reads import DynamoDbReads
from folio.service import DocumentService, Limits
from folio.settings import Settings
from folio.storage import CLIENT_CONFIG, DocumentStorage
from folio.writes import DynamoDbWrites

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer


@cache
def settings() -> Settings:
    return Settings.from_environment()


@cache
def dynamodb_client() -> Any:
    """One DynamoDB client per container, shared by the adapters and the idempotency
    store, so the service model is loaded once (it is most of a cold start's client cost)."""
    return boto3.client("dynamodb")


@cache
def reads() -> DynamoDbReads:
    """The consistent read side: reads that a write depends on."""
    return DynamoDbReads(dynamodb_client(), settings().table_name, consistent=True)


@cache
def writes() -> DynamoDbWrites:
    return DynamoDbWrites(dynamodb_client(), settings().table_name)


@cache
def idempotency_store() -> DynamoDBPersistenceLayer:
    # Imported here: only the create function uses idempotency (about 10 ms of imports).
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    return DynamoDBPersistenceLayer(table_name=settings().idempotency_table_name, boto3_client=dynamodb_client())


@cache
def storage() -> DocumentStorage:
    config = settings()
    return DocumentStorage(boto3.client("s3", config=CLIENT_CONFIG), config.bucket_name, config.document_prefix)


@cache
def cursor_secret() -> bytes:
    """The cursor HMAC key from Secrets Manager, read once per container, on first use.

    Only code that encodes or decodes a cursor calls this (the read function's list
    routes); the other functions' roles may not read the secret, so nothing may call
    it eagerly at cold start."""
    value = boto3.client("secretsmanager").get_secret_value(SecretId=settings().cursor_secret_arn)
    return str(value["SecretString"]).encode()


@cache
def service() -> DocumentService:
    config = settings()
    limits = Limits(config.quota_documents, config.quota_bytes, config.admins_group)
    return DocumentService(reads(), writes(), storage(), limits, cursor_secret)
