"""Cold-start composition: settings, clients and the service, built once per container."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

import boto3

from folio.errors import ServiceUnavailable
from folio.reads import DynamoDbReads
from folio.service import DocumentService, Limits
from folio.settings import Env, Settings, SettingsError
from folio.storage import CLIENT_CONFIG, DocumentStorage
from folio.writes import DynamoDbWrites

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    from folio.ports import DocumentReads
    from folio.search_service import SearchService

# The DAX client's timeouts and retries. A node answers in about a millisecond inside the VPC;
# its defaults (60 s read timeout, 2 retries) would hold a request for minutes on a node that
# hangs, while DynamoDB, behind the circuit breaker, could answer it at once.
DAX_CONNECT_TIMEOUT_SECONDS = 1.0
DAX_READ_TIMEOUT_SECONDS = 1.0
DAX_RETRIES = 1


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


def connect_dax(endpoint: str) -> Any:
    """The DAX client: it connects, discovers the cluster's nodes and starts its health-check
    threads here, and raises if no node answers (folio.dax.DaxReads calls it lazily, behind its
    breaker). Imported here: only DAX readers load the client, and only when they first read."""
    from amazondax import AmazonDaxClient
    from botocore.config import Config

    config = Config(
        connect_timeout=DAX_CONNECT_TIMEOUT_SECONDS,
        read_timeout=DAX_READ_TIMEOUT_SECONDS,
        retries={"max_attempts": DAX_RETRIES},
    )
    return AmazonDaxClient(endpoint_url=endpoint, config=config)


@cache
def cached_reads() -> DocumentReads:
    """The reads docs/read-path.md sends through DAX: eventually consistent reads through the
    cluster where this function has one (DAX_ENDPOINT), else the consistent reads."""
    endpoint = settings().dax_endpoint
    if endpoint is None:
        return reads()
    from folio.dax import DaxReads

    table = settings().table_name
    return DaxReads(
        connect=lambda: DynamoDbReads(connect_dax(endpoint), table, consistent=False),
        # While DAX fails: the table, with the same (eventual) consistency the cache promises.
        dynamodb=DynamoDbReads(dynamodb_client(), table, consistent=False),
    )


@cache
def writes() -> DynamoDbWrites:
    return DynamoDbWrites(dynamodb_client(), settings().table_name)


@cache
def idempotency_store() -> DynamoDBPersistenceLayer:
    # Imported here: only the create function uses idempotency (about 10 ms of imports).
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    table_name = settings().idempotency_table_name
    if table_name is None:
        raise SettingsError(f"environment variable {Env.IDEMPOTENCY_TABLE_NAME} is not set (the create function's)")
    return DynamoDBPersistenceLayer(table_name=table_name, boto3_client=dynamodb_client())


@cache
def storage() -> DocumentStorage:
    config = settings()
    # Signed for the bucket's Region, which is not the function's in a regional serving stage.
    client = boto3.client("s3", region_name=config.bucket_region, config=CLIENT_CONFIG)
    return DocumentStorage(client, config.bucket_name, config.document_prefix)


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
    return DocumentService(reads(), writes(), storage(), limits, cursor_secret, cached_reads=cached_reads())


@cache
def search_service() -> SearchService:
    """The search function's service: the search port on the domain at SEARCH_ENDPOINT, signed
    with the function's own credentials (refreshed by botocore as they rotate). Imported here:
    only the search function loads the search client."""
    from folio.search import OpenSearchDocuments
    from folio.search_service import SearchService

    endpoint = settings().search_endpoint
    if endpoint is None:
        # An environment without `features.search` (the sandbox): the Search stack, which would
        # set SEARCH_ENDPOINT, is not there (docs/search.md).
        raise ServiceUnavailable("search is not available in this environment")
    session = boto3.session.Session()
    credentials = session.get_credentials()
    search = OpenSearchDocuments(
        endpoint, region=session.region_name, credentials=lambda: credentials.get_frozen_credentials()
    )
    return SearchService(search, cursor_secret, authority=reads())
