"""Cold-start composition: settings, clients and the service, built once per container."""

from __future__ import annotations

from functools import cache

import boto3

from folio.repository import DocumentRepository
from folio.service import DocumentService, Limits
from folio.settings import Settings
from folio.storage import CLIENT_CONFIG, DocumentStorage


@cache
def settings() -> Settings:
    return Settings.from_environment()


@cache
def repository() -> DocumentRepository:
    return DocumentRepository(boto3.client("dynamodb"), settings().table_name)


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
    limits = Limits(config.max_upload_bytes, config.quota_documents, config.quota_bytes, config.admins_group)
    return DocumentService(repository(), storage(), limits, cursor_secret)
