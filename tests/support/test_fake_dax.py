"""The fake DAX server (tests/support/fake_dax.py) with the real, unmodified `amazondax` client.

Every read is checked against DynamoDB Local's own answer to the same request: what the client
returns through the fake must be what DynamoDB returns directly, so the fake cannot invent
results. The failure tests pin down how the client behaves when its node goes away, hangs or
comes back, which the runtime's circuit breaker is built on (docs/dax-client.md).

What such a fake cannot prove, so nothing here is evidence of it: DAX's item and query caches
(staleness after writes that bypass DAX, TTLs, negative caching), IAM evaluation of the `dax:`
actions (the SigV4 signature is verified, the policy is not), replicas and failover (one leader
node), DAX's own throttling, and the client on Python 3.14. The fake's module docstring has the
full list.
"""

from __future__ import annotations

import importlib.metadata
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from amazondax import AmazonDaxClient, CborSExprGenerator
from amazondax.Cluster import Cluster
from amazondax.DaxCborDecoder import DaxCborDecoder
from amazondax.DaxError import DaxClientError, DaxServiceError, DaxValidationError
from botocore.exceptions import ClientError

from folio import keys
from tests.conftest import PROJECT_ROOT
from tests.integration.engines import create_documents_table, free_port
from tests.support import loopback
from tests.support.fake_dax import (
    DaxRequest,
    FakeDax,
    _Names,
    _read_expression,
    _render,
    dynamodb_client,
    open_client,
)
from tests.support.tls import TlsFiles, make_tls_files

OWNER = "USER#fake-dax-owner"
OTHER = "USER#fake-dax-other"
TYPE_PARTITION = "OWNER#fake-dax-owner#TYPE#invoice"
DOCUMENTS = 7  # odd, so a page size of 2 leaves a short last page
TRASHED = 3  # the document whose status is "trashed", hidden by the filter
HEALTH_CHECK_INTERVAL = 0.5  # seconds; the client's own is 5


# -- engines -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dynamodb(dynamodb_endpoint: str) -> Any:
    return dynamodb_client(dynamodb_endpoint)


@pytest.fixture(scope="module")
def table(dynamodb: Any) -> str:
    """Folio's documents table (keys and indexes from folio.keys), filled with two owners' items."""
    name = f"fake-dax-{uuid.uuid4().hex[:8]}"
    create_documents_table(dynamodb, name)
    for number in range(DOCUMENTS):
        dynamodb.put_item(TableName=name, Item=document(OWNER, number))
    dynamodb.put_item(TableName=name, Item=document(OTHER, 0))
    return name


def document(owner: str, number: int) -> dict[str, Any]:
    return {
        keys.PARTITION_KEY: {"S": owner},
        keys.SORT_KEY: {"S": f"DOC#{number:03d}"},
        keys.GSI1_PARTITION_KEY: {"S": TYPE_PARTITION if owner == OWNER else f"{owner}#TYPE#invoice"},
        keys.GSI1_SORT_KEY: {"S": f"UPDATED#{number:03d}"},
        "name": {"S": f"report {number}.pdf"},
        "status": {"S": "trashed" if number == TRASHED else "active"},
        "size": {"N": str(1000 + number)},
        "tags": {"SS": ["finance", f"q{number % 4 + 1}"]},
        "history": {"L": [{"M": {"at": {"S": "2026-11-29"}, "by": {"S": owner}}}, {"BOOL": number % 2 == 0}]},
        "blob": {"B": bytes([number % 256, 0, 255])},
        "note": {"NULL": True},
    }


def key_of(owner: str, number: int) -> dict[str, Any]:
    return {keys.PARTITION_KEY: {"S": owner}, keys.SORT_KEY: {"S": f"DOC#{number:03d}"}}


@pytest.fixture(scope="module")
def server(dynamodb: Any) -> Iterator[FakeDax]:
    """One server for the read tests; the failure tests start their own (the `fake_dax` fixture)."""
    with FakeDax(dynamodb) as fake:
        yield fake


@pytest.fixture(scope="module")
def dax(server: FakeDax) -> Iterator[AmazonDaxClient]:
    client = open_client(server.endpoint_url)
    yield client
    client.close()


def without_metadata(response: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


# -- packaging -----------------------------------------------------------------------------------
DAX_CLIENT_PINS = PROJECT_ROOT / "layers" / "dax-client" / "requirements.txt"


def pins() -> dict[str, str]:
    lines = DAX_CLIENT_PINS.read_text().splitlines()
    return dict(line.split("#")[0].strip().split("==") for line in lines if "==" in line.split("#")[0])


def test_the_client_under_test_is_the_one_the_functions_get() -> None:
    pinned = pins()

    assert "-r layers/dax-client/requirements.txt" in (PROJECT_ROOT / "requirements-dev.txt").read_text()
    for package in ("amazon-dax-client", "antlr4-python3-runtime", "six"):
        assert package in pinned, f"{package} is not pinned in {DAX_CLIENT_PINS}"
        assert importlib.metadata.version(package) == pinned[package], f"{package} differs from its pin"


def test_the_makefile_builds_the_client_with_the_pinned_setuptools() -> None:
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    build_pins = (PROJECT_ROOT / "requirements-build.txt").read_text()

    assert "setuptools==" in build_pins
    assert "-r requirements-build.txt" in makefile
    assert "--no-build-isolation" in makefile  # the wheel is built with that setuptools, not the newest


# -- reads: the client's answer through the fake is DynamoDB's answer -------------------------------
def test_get_item_returns_what_dynamodb_holds(dax: AmazonDaxClient, dynamodb: Any, table: str) -> None:
    direct = dynamodb.get_item(TableName=table, Key=key_of(OWNER, 1))

    through_dax = dax.get_item(TableName=table, Key=key_of(OWNER, 1))

    assert without_metadata(through_dax) == without_metadata(direct)
    assert through_dax["Item"]["blob"] == {"B": bytes([1, 0, 255])}


def test_get_item_of_a_missing_key_returns_no_item(dax: AmazonDaxClient, table: str) -> None:
    assert "Item" not in dax.get_item(TableName=table, Key=key_of(OWNER, 999))


def test_get_item_with_a_projection(dax: AmazonDaxClient, dynamodb: Any, table: str) -> None:
    request = {
        "TableName": table,
        "Key": key_of(OWNER, 2),
        "ProjectionExpression": "#name, history[1], history[0].#by, #missing",
        "ExpressionAttributeNames": {"#name": "name", "#by": "by", "#missing": "missing"},
    }

    assert without_metadata(dax.get_item(**request)) == without_metadata(dynamodb.get_item(**request))


def test_batch_get_item_returns_what_dynamodb_holds(dax: AmazonDaxClient, dynamodb: Any, table: str) -> None:
    request = {table: {"Keys": [key_of(OWNER, 0), key_of(OWNER, 4), key_of(OTHER, 0), key_of(OWNER, 999)]}}

    through_dax = dax.batch_get_item(RequestItems=request)
    direct = dynamodb.batch_get_item(RequestItems=request)

    def by_key(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(items, key=lambda i: (i[keys.PARTITION_KEY]["S"], i[keys.SORT_KEY]["S"]))

    assert by_key(through_dax["Responses"][table]) == by_key(direct["Responses"][table])
    assert len(through_dax["Responses"][table]) == 3
    assert through_dax["UnprocessedKeys"] == {}


def test_batch_get_item_with_a_projection(dax: AmazonDaxClient, dynamodb: Any, table: str) -> None:
    request = {table: {"Keys": [key_of(OWNER, 5), key_of(OWNER, 6)], "ProjectionExpression": "size, tags"}}

    through_dax = dax.batch_get_item(RequestItems=request)["Responses"][table]

    assert sorted(through_dax, key=str) == sorted(
        dynamodb.batch_get_item(RequestItems=request)["Responses"][table], key=str
    )


NAMES = {"#pk": keys.PARTITION_KEY, "#sk": keys.SORT_KEY, "#status": "status"}
INDEX_NAMES = {"#pk": keys.GSI1_PARTITION_KEY, "#sk": keys.GSI1_SORT_KEY, "#status": "status"}
# The key conditions and filter Folio's repository sends (lambda/folio/repository.py).
QUERIES = {
    "partition": {
        "KeyConditionExpression": "#pk = :pk",
        "ExpressionAttributeNames": {"#pk": keys.PARTITION_KEY},
        "ExpressionAttributeValues": {":pk": {"S": OWNER}},
    },
    "begins_with_and_filter": {
        "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :prefix)",
        "FilterExpression": "#status <> :trashed",
        "ExpressionAttributeNames": NAMES,
        "ExpressionAttributeValues": {":pk": {"S": OWNER}, ":prefix": {"S": "DOC#"}, ":trashed": {"S": "trashed"}},
    },
    "exact_sort_key": {
        "KeyConditionExpression": "#pk = :pk AND #sk = :sk",
        "ExpressionAttributeNames": {"#pk": keys.PARTITION_KEY, "#sk": keys.SORT_KEY},
        "ExpressionAttributeValues": {":pk": {"S": OWNER}, ":sk": {"S": "DOC#004"}},
    },
    "index_with_filter": {
        "IndexName": keys.GSI1.name,
        "KeyConditionExpression": "#pk = :pk",
        "FilterExpression": "#status <> :trashed",
        "ExpressionAttributeNames": {"#pk": keys.GSI1_PARTITION_KEY, "#status": "status"},
        "ExpressionAttributeValues": {":pk": {"S": TYPE_PARTITION}, ":trashed": {"S": "trashed"}},
    },
    "index_exact_sort_key": {
        "IndexName": keys.GSI1.name,
        "KeyConditionExpression": "#pk = :pk AND #sk = :sk",
        "ExpressionAttributeNames": {"#pk": keys.GSI1_PARTITION_KEY, "#sk": keys.GSI1_SORT_KEY},
        "ExpressionAttributeValues": {":pk": {"S": TYPE_PARTITION}, ":sk": {"S": "UPDATED#002"}},
    },
    "projection": {
        "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :prefix)",
        "ProjectionExpression": "#sk, #name, tags, history[0].#by",
        "ExpressionAttributeNames": {"#pk": keys.PARTITION_KEY, "#sk": keys.SORT_KEY, "#name": "name", "#by": "by"},
        "ExpressionAttributeValues": {":pk": {"S": OWNER}, ":prefix": {"S": "DOC#00"}},
    },
}


@pytest.mark.parametrize("forward", [True, False], ids=["forward", "newest_first"])
@pytest.mark.parametrize("shape", list(QUERIES))
def test_query_returns_what_dynamodb_returns(
    dax: AmazonDaxClient, dynamodb: Any, table: str, shape: str, forward: bool
) -> None:
    request = {"TableName": table, "ScanIndexForward": forward, **QUERIES[shape]}

    through_dax = without_metadata(dax.query(**request))

    assert through_dax == without_metadata(dynamodb.query(**request))
    assert through_dax["Count"] > 0


@pytest.mark.parametrize("shape", ["begins_with_and_filter", "index_with_filter"])
def test_query_pages_round_trip_the_last_evaluated_key(
    dax: AmazonDaxClient, dynamodb: Any, table: str, shape: str
) -> None:
    request = {"TableName": table, "ScanIndexForward": False, "Limit": 2, **QUERIES[shape]}
    pages: list[dict[str, Any]] = []
    start: dict[str, Any] | None = None
    while not pages or start is not None:
        page = dax.query(**request, **({"ExclusiveStartKey": start} if start else {}))
        direct = dynamodb.query(**request, **({"ExclusiveStartKey": start} if start else {}))
        assert without_metadata(page) == without_metadata(direct)
        pages.append(page)
        start = page.get("LastEvaluatedKey")

    everything = dynamodb.query(TableName=table, ScanIndexForward=False, **QUERIES[shape])["Items"]
    assert [i for p in pages for i in p["Items"]] == everything
    assert len(pages) == DOCUMENTS // 2 + 1  # Limit counts items read, before the filter drops the trashed one


def test_a_query_on_gsi2_with_a_number_partition_and_two_sort_attributes(
    dax: AmazonDaxClient, dynamodb: Any, table: str
) -> None:
    # GSI2 (the admin feed) has a multi-attribute sort key; its LastEvaluatedKey has four attributes.
    item = {**document(OWNER, 50), keys.RECENT_SHARD_ATTRIBUTE: {"N": "3"}, "createdAt": {"S": "2026-11-29T10:00"}}
    item["docId"] = {"S": "01FAKEDAX"}
    dynamodb.put_item(TableName=table, Item=item)
    dynamodb.put_item(TableName=table, Item={**item, keys.SORT_KEY: {"S": "DOC#051"}, "docId": {"S": "01FAKEDAY"}})
    request = {
        "TableName": table,
        "IndexName": keys.GSI2.name,
        "KeyConditionExpression": "#shard = :shard",
        "ExpressionAttributeNames": {"#shard": keys.RECENT_SHARD_ATTRIBUTE},
        "ExpressionAttributeValues": {":shard": {"N": "3"}},
        "Limit": 1,
        "ScanIndexForward": False,
    }

    first = dax.query(**request)
    second = dax.query(**request, ExclusiveStartKey=first["LastEvaluatedKey"])

    assert without_metadata(first) == without_metadata(dynamodb.query(**request))
    assert [first["Items"][0]["docId"], second["Items"][0]["docId"]] == [{"S": "01FAKEDAY"}, {"S": "01FAKEDAX"}]


def test_a_count_query(dax: AmazonDaxClient, dynamodb: Any, table: str) -> None:
    request = {"TableName": table, "Select": "COUNT", **QUERIES["begins_with_and_filter"]}

    assert without_metadata(dax.query(**request)) == without_metadata(dynamodb.query(**request))


def test_a_client_built_from_the_environment_as_the_runtime_builds_it(
    fake_dax: FakeDax, table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Lambda gives the role's credentials (with a session token) and the Region in the environment.
    for name, value in {**loopback.ENVIRONMENT, "AWS_DEFAULT_REGION": loopback.REGION}.items():
        monkeypatch.setenv(name, value)

    with AmazonDaxClient(endpoint_url=fake_dax.endpoint_url) as client:
        assert "Item" in client.get_item(TableName=table, Key=key_of(OWNER, 1))


# -- what the fake records -------------------------------------------------------------------------
def test_each_read_is_recorded_with_its_iam_action_table_and_partition(
    server: FakeDax, dax: AmazonDaxClient, table: str
) -> None:
    server.clear()

    dax.get_item(TableName=table, Key=key_of(OWNER, 1))
    dax.batch_get_item(RequestItems={table: {"Keys": [key_of(OWNER, 1), key_of(OTHER, 0)]}})
    dax.query(TableName=table, **QUERIES["index_with_filter"])

    signed_by = {"access_key_id": loopback.ACCESS_KEY_ID}  # the key id of the connection's SigV4 signature
    assert server.data_requests() == [
        DaxRequest("GetItem", "dax:GetItem", table, keys=(key_of(OWNER, 1),), partitions=(OWNER,), **signed_by),
        DaxRequest(
            "BatchGetItem",
            "dax:BatchGetItem",
            table,
            keys=(key_of(OWNER, 1), key_of(OTHER, 0)),
            partitions=(OWNER, OTHER),
            **signed_by,
        ),
        DaxRequest("Query", "dax:Query", table, index=keys.GSI1.name, partitions=(TYPE_PARTITION,), **signed_by),
    ]
    assert server.actions() == {"dax:GetItem", "dax:BatchGetItem", "dax:Query"}


def test_the_recorded_request_is_what_went_to_dynamodb(server: FakeDax, dax: AmazonDaxClient, table: str) -> None:
    server.clear()

    dax.query(TableName=table, Limit=2, ScanIndexForward=False, **QUERIES["begins_with_and_filter"])

    (query,) = server.data_requests()
    assert query.parameters == {
        "TableName": table,
        "KeyConditionExpression": "#n0 = :k0 AND begins_with(#n1, :k1)",
        "FilterExpression": "#n2 <> :f0",
        "ExpressionAttributeNames": {"#n0": keys.PARTITION_KEY, "#n1": keys.SORT_KEY, "#n2": "status"},
        "ExpressionAttributeValues": {":k0": {"S": OWNER}, ":k1": {"S": "DOC#"}, ":f0": {"S": "trashed"}},
        "Limit": 2,
        "ScanIndexForward": False,
    }


# -- the client's S-expressions, decoded -----------------------------------------------------------
@pytest.mark.parametrize(
    ("expression", "rendered"),
    [
        ("#a = :x AND begins_with(#b, :y)", "#n0 = :v0 AND begins_with(#n1, :v1)"),
        ("NOT (#a < :x OR #b >= :y)", "NOT (#n0 < :v0 OR #n1 >= :v1)"),
        ("#a BETWEEN :x AND :y", "#n0 BETWEEN :v0 AND :v1"),
        ("#a IN (:x, :y) AND attribute_exists(#b.c[2])", "#n0 IN (:v0, :v1) AND attribute_exists(#n1.#n2[2])"),
        ("size(#a) > :x OR contains(#b, :y)", "size(#n0) > :v0 OR contains(#n1, :v1)"),
        ("attribute_not_exists(#a) AND attribute_type(#b, :x) AND #a <= :y", None),
    ],
)
def test_filter_expressions_decode_back_to_dynamodb_syntax(expression: str, rendered: str | None) -> None:
    names = {n: n[1:] for n in ("#a", "#b") if n in expression}
    values = {v: a for v, a in ((":x", {"S": "x"}), (":y", {"N": "2"})) if v in expression}
    encoded = CborSExprGenerator.encode_expressions(None, None, expression, None, None, names, values).Filter
    decoder = DaxCborDecoder(lambda buffer, n: -1)
    decoder.buffer += _cbor_bytes(encoded)

    tree, decoded_values = _read_expression(decoder)
    text = _render(tree, placeholders := _Names(), "v", top=True)

    if rendered is not None:
        assert text == rendered
    assert sorted(placeholders.placeholders) == sorted([*names.values(), *(["c"] if ".c" in expression else [])])
    assert decoded_values == [values[v] for v in (":x", ":y") if v in expression]


def _cbor_bytes(data: bytes) -> bytes:
    """`data` as one CBOR byte string, as the expression travels inside a request."""
    from amazondax.CborEncoder import CborEncoder

    return CborEncoder().append_binary(data).as_bytes()


# -- errors ----------------------------------------------------------------------------------------
def test_a_validation_exception_reaches_the_caller_as_a_client_error(
    server: FakeDax, dax: AmazonDaxClient, table: str
) -> None:
    server.clear()

    with pytest.raises(ClientError) as raised:  # a key condition on an attribute that is not a key
        dax.query(
            TableName=table,
            KeyConditionExpression="#status = :s",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":s": {"S": "active"}},
        )

    assert isinstance(raised.value, DaxServiceError)
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    # The client retries any error whose code path starts with 4, a ValidationException too:
    # DEFAULT_RETRIES = 2, so DAX (here DynamoDB Local) saw the same request three times.
    assert [r.method for r in server.data_requests()] == ["Query"] * 3


def test_throttling_is_retried_by_the_client_then_surfaces_with_dynamodbs_code(
    server: FakeDax, dax: AmazonDaxClient, table: str
) -> None:
    server.inject_errors("ThrottlingException", times=1)
    assert "Item" in dax.get_item(TableName=table, Key=key_of(OWNER, 1))  # one retry hid it

    server.inject_errors("ThrottlingException", times=3)
    with pytest.raises(ClientError) as raised:
        dax.get_item(TableName=table, Key=key_of(OWNER, 1))

    assert raised.value.response["Error"]["Code"] == "ThrottlingException"


# DynamoDB's code -> the code the DAX client puts in error.response["Error"]["Code"]. Two differ
# from boto3's: a caller that matches boto3's names (RequestLimitExceeded, InternalServerError) misses them.
CLIENT_CODES = {
    "ThrottlingException": "ThrottlingException",
    "ProvisionedThroughputExceededException": "ProvisionedThroughputExceededException",
    "RequestLimitExceeded": "RequestLimitExceededException",
    "InternalServerError": "InternalServerErrorException",
    "ResourceNotFoundException": "ResourceNotFoundException",
    "AccessDeniedException": "AccessDeniedException",
}


@pytest.mark.parametrize(("dynamodb_code", "client_code"), CLIENT_CODES.items(), ids=list(CLIENT_CODES))
def test_dynamodb_errors_reach_the_caller_as_client_errors_with_the_clients_code(
    fake_dax: FakeDax, table: str, dynamodb_code: str, client_code: str
) -> None:
    fake_dax.inject_errors(dynamodb_code, times=3)  # the first attempt and the client's two retries

    with open_client(fake_dax.endpoint_url) as client, pytest.raises(ClientError) as raised:
        client.get_item(TableName=table, Key=key_of(OWNER, 1))

    assert isinstance(raised.value, DaxServiceError)
    assert raised.value.response["Error"]["Code"] == client_code
    assert len(fake_dax.data_requests()) == 3


def test_writes_are_not_served(dax: AmazonDaxClient, table: str) -> None:
    with pytest.raises(ClientError, match="does not serve"):
        dax.put_item(TableName=table, Item=document(OWNER, 900))


def test_a_wrong_secret_fails_the_signature_check_at_construction(server: FakeDax) -> None:
    with pytest.raises(DaxServiceError) as raised:
        open_client(server.endpoint_url, aws_secret_access_key="not-the-secret").close()

    assert raised.value.response["Error"]["Code"] == "UnrecognizedClientException"
    assert raised.value.auth_error


# -- a node that goes away, hangs, comes back -----------------------------------------------------
def test_construction_against_a_dead_port_raises_no_route() -> None:
    with pytest.raises(DaxClientError) as raised:
        open_client(f"dax://127.0.0.1:{free_port()}")

    assert raised.value.response["Error"]["Code"] == "NoRouteException"
    assert isinstance(raised.value, ClientError)


def test_a_stopped_node_fails_reads_with_a_raw_socket_error_and_a_restart_heals_at_once(
    fake_dax: FakeDax, table: str
) -> None:
    client = open_client(fake_dax.endpoint_url)
    try:
        client.get_item(TableName=table, Key=key_of(OWNER, 1))
        port = fake_dax.port
        fake_dax.stop()
        failures = [_failure(lambda: client.get_item(TableName=table, Key=key_of(OWNER, 1))) for _ in range(6)]

        fake_dax.start()
        assert fake_dax.port == port
        with open_client(fake_dax.endpoint_url) as new:
            assert "Item" in new.get_item(TableName=table, Key=key_of(OWNER, 1))
        # Read failures on a leader node do not take it out of the routes (only a replica's
        # do, after five in a row): until a health check drops it, the old client keeps trying it.
        recovered = _eventually(lambda: client.get_item(TableName=table, Key=key_of(OWNER, 1)), within=12.0)
    finally:
        client.close()

    # The refused connection comes out raw: an OSError, not a ClientError.
    assert all(isinstance(f, ConnectionRefusedError) for f in failures), failures
    assert not any(isinstance(f, ClientError) for f in failures)
    assert "Item" in recovered


def test_a_node_down_past_a_health_check_fails_reads_with_no_route_until_one_finds_it_again(
    fake_dax: FakeDax, table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The client runs its health check every 5 s (a class constant; no option sets it), which made
    # this test wait 5-10 s. The same check runs sooner here: what it does on a dead or revived
    # node is unchanged (three attempts, then the route goes; a passing check brings it back).
    monkeypatch.setattr(Cluster, "HEALTH_CHECK_INTERVAL", HEALTH_CHECK_INTERVAL)
    client = open_client(fake_dax.endpoint_url)
    try:
        fake_dax.stop()
        no_route = _eventually(lambda: _no_route(client, table), within=12.0)

        fake_dax.start()
        recovered = _eventually(lambda: client.get_item(TableName=table, Key=key_of(OWNER, 1)), within=12.0)
    finally:
        client.close()

    assert isinstance(no_route, DaxClientError)
    assert no_route.response["Error"]["Code"] == "NoRouteException"
    assert "Item" in recovered


def _no_route(client: AmazonDaxClient, table: str) -> DaxClientError | None:
    failure = _failure(lambda: client.get_item(TableName=table, Key=key_of(OWNER, 1)))
    return failure if isinstance(failure, DaxClientError) else None


def test_restart_comes_back_on_the_same_port(fake_dax: FakeDax, table: str) -> None:
    port = fake_dax.port

    fake_dax.restart()

    assert (fake_dax.port, fake_dax.running) == (port, True)
    with open_client(fake_dax.endpoint_url) as client:
        assert "Item" in client.get_item(TableName=table, Key=key_of(OWNER, 1))


def test_a_hung_node_makes_reads_and_construction_time_out(fake_dax: FakeDax, table: str) -> None:
    client = open_client(fake_dax.endpoint_url, read_timeout=0.3)
    try:
        fake_dax.hang()
        with pytest.raises(TimeoutError):  # a bare socket timeout, not a ClientError
            client.get_item(TableName=table, Key=key_of(OWNER, 1))
        with pytest.raises(DaxClientError, match="Failed to configure cluster endpoints"):
            open_client(fake_dax.endpoint_url, read_timeout=0.3)
    finally:
        fake_dax.resume()
        client.close()


def test_close_ends_the_clients_background_threads(fake_dax: FakeDax) -> None:
    before = _periodic_tasks()
    client = open_client(fake_dax.endpoint_url)
    started = _periodic_tasks() - before

    client.close()

    assert {t.name for t in started} == {"PeriodicTask-_bootstrap_async", "PeriodicTask-_check_all"}
    assert _eventually(lambda: not any(t.is_alive() for t in started) or None, within=2.0)


def _periodic_tasks() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("PeriodicTask-")}


def _failure(call: Any) -> Exception:
    try:
        call()
    except Exception as error:
        return error
    raise AssertionError("the call succeeded")


def _eventually(call: Any, *, within: float) -> Any:
    deadline = time.monotonic() + within
    while True:
        try:
            result = call()
            if result is not None:
                return result
        except (OSError, ClientError):
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {within} s")
        time.sleep(0.1)


# -- daxs:// with a throwaway CA ------------------------------------------------------------------
@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("fake-dax-tls"))


@pytest.fixture
def tls_server(dynamodb: Any, tls_files: TlsFiles) -> Iterator[FakeDax]:
    with FakeDax(dynamodb, tls=tls_files) as fake:
        yield fake


def test_daxs_with_the_ca_trusted_reads_through_tls(
    tls_server: FakeDax, tls_files: TlsFiles, table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The client builds ssl.create_default_context(), which reads SSL_CERT_FILE: the test trusts
    # its CA for this test only, without touching the machine's trust store.
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files.ca_certificate))

    with open_client(tls_server.endpoint_url) as client:
        item = client.get_item(TableName=table, Key=key_of(OWNER, 1))

    assert tls_server.endpoint_url.startswith("daxs://")
    assert item["Item"]["name"] == {"S": "report 1.pdf"}


def test_daxs_refuses_a_certificate_it_cannot_verify(tls_server: FakeDax) -> None:
    # The client words every certificate failure as a host name mismatch (Tube.SocketTubePool._alloc).
    with pytest.raises(DaxValidationError, match="Certificate verification failed"):
        open_client(tls_server.endpoint_url)


def test_dax_without_tls_cannot_talk_to_a_tls_node(tls_server: FakeDax) -> None:
    with pytest.raises(DaxClientError, match="Failed to configure cluster endpoints"):
        open_client(tls_server.endpoint_url.replace("daxs://", "dax://"))


def test_the_tls_files_are_a_ca_and_a_loopback_certificate_it_signed(tls_files: TlsFiles) -> None:
    from cryptography import x509

    ca = x509.load_pem_x509_certificate(tls_files.ca_certificate.read_bytes())
    server = x509.load_pem_x509_certificate(tls_files.server_certificate.read_bytes())

    server.verify_directly_issued_by(ca)
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} == {"127.0.0.1"}
    assert Path(tls_files.server_key).stat().st_size > 0


# -- the client's deprecation warnings -------------------------------------------------------------
def test_the_clients_deprecation_warnings_are_filtered_by_module_only() -> None:
    with warnings.catch_warnings(record=True) as caught:  # keeps the filters pytest applied from pyproject
        warnings.warn_explicit("utcnow", DeprecationWarning, "Tube.py", 1, module="amazondax.Tube")
        warnings.warn_explicit("ours", DeprecationWarning, "service.py", 1, module="folio.service")

    assert [str(w.message) for w in caught] == ["ours"]


# -- the cache model ---------------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_with_a_cache_a_write_around_dax_is_unseen_until_the_answer_expires(dynamodb: Any, table: str) -> None:
    clock = Clock()
    key = key_of(OTHER, 0)
    with FakeDax(dynamodb, cache_seconds=5, clock=clock) as cached:
        client = open_client(cached.endpoint_url)
        try:
            before = client.get_item(TableName=table, Key=key)["Item"]["name"]
            query = {
                "TableName": table,
                "KeyConditionExpression": "#pk = :pk",
                "ExpressionAttributeNames": {"#pk": keys.PARTITION_KEY},
                "ExpressionAttributeValues": {":pk": {"S": OTHER}},
            }
            listed_before = [i["name"] for i in client.query(**query)["Items"]]
            dynamodb.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET #n = :n",
                ExpressionAttributeNames={"#n": "name"},
                ExpressionAttributeValues={":n": {"S": "renamed.pdf"}},
            )
            clock.now = 4.9
            assert client.get_item(TableName=table, Key=key)["Item"]["name"] == before
            assert [i["name"] for i in client.query(**query)["Items"]] == listed_before
            consistent = client.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]["name"]
            assert consistent == {"S": "renamed.pdf"}, "a consistent read passes through the cache"
            clock.now = 5.0
            assert client.get_item(TableName=table, Key=key)["Item"]["name"] == {"S": "renamed.pdf"}
            assert [i["name"] for i in client.query(**query)["Items"]] == [{"S": "renamed.pdf"}]
        finally:
            client.close()
            dynamodb.put_item(TableName=table, Item=document(OTHER, 0))


def test_without_a_cache_every_read_sees_the_table(dynamodb: Any, table: str, server: FakeDax, dax: Any) -> None:
    key = key_of(OTHER, 0)
    dax.get_item(TableName=table, Key=key)
    dynamodb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET #n = :n",
        ExpressionAttributeNames={"#n": "name"},
        ExpressionAttributeValues={":n": {"S": "seen at once.pdf"}},
    )
    try:
        assert dax.get_item(TableName=table, Key=key)["Item"]["name"] == {"S": "seen at once.pdf"}
    finally:
        dynamodb.put_item(TableName=table, Item=document(OTHER, 0))
