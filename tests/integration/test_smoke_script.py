"""tools/smoke_test.py, the pipeline's post-deploy smoke test, run offline against a deployment
made of local engines: the user pool in moto's server (built from the synthesized Data stack,
so its password policy and e-mail sign-in are the ones AWS gets), and the real handlers on
DynamoDB Local behind the in-process API Gateway with a Cognito authorizer that verifies the
pool's tokens, served over HTTP on loopback (tests/support/loopback_http.py `GatewayServer`).

The script reaches them as it reaches AWS: the API over HTTP at FOLIO_API_URL, Cognito through
boto3, pointed at moto by AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER (an endpoint variable botocore reads;
the script has no test hook).

The smoke client is the one the pipeline's stage must add next to the web client: an app
client that allows ADMIN_USER_PASSWORD_AUTH (moto does not refuse a flow a client does not
allow, so nothing here proves the deployed client allows it; tests/infra must).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sts.models import sts_backends

from folio import keys
from folio.contracts import FunctionGroup
from stacks.function_permissions import READ_ONLY_GROUPS
from tests.integration.conftest import REGION, TABLE, Api, Engines
from tests.support.cognito import CognitoAuthorizer, UserPool
from tests.support.gateway import ApiGateway, Authorizer
from tests.support.invariants import partition_items
from tests.support.loopback import ENVIRONMENT as LOOPBACK_CREDENTIALS
from tests.support.loopback_http import GatewayServer
from tools import smoke_test

SMOKE_AUTH_FLOWS = ("ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH")
PROJECT_ROOT = smoke_test.__file__.rsplit("/tools/", 1)[0]


@pytest.fixture(scope="module")
def pool(synthesized: Any, engines: Engines) -> UserPool:
    return UserPool.from_template(synthesized("sandbox"), engines.moto_endpoint)


@pytest.fixture(scope="module")
def smoke_client(pool: UserPool) -> str:
    return pool.add_client("smoke", SMOKE_AUTH_FLOWS)


@pytest.fixture(autouse=True)
def cognito_on_moto(engines: Engines, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER", engines.moto_endpoint)


@contextmanager
def deployment(
    api: Api,
    pool: UserPool,
    client_id: str,
    *,
    authorizer: Authorizer | None = None,
    broken: tuple[str, ...] = (),
) -> Iterator[tuple[dict[str, str], ApiGateway]]:
    """A deployed stage on loopback: the variables the pipeline's step would set, and its
    gateway (`events`: what reached a function). The functions in `broken` raise (a 502)."""
    handlers: dict[str, Callable[[dict[str, Any], Any], dict[str, Any]]] = {
        group: module.handler for group, module in api.modules.items()
    }
    for group in broken:
        handlers[group] = _raises
    verify = authorizer or CognitoAuthorizer(pool, clients=(pool.web_client_id, client_id)).claims
    gateway = ApiGateway(handlers, {}, authorizer=verify)
    with GatewayServer(gateway) as server:
        yield (
            {
                "FOLIO_API_URL": server.api_url,
                "FOLIO_USER_POOL_ID": pool.pool_id,
                "FOLIO_USER_POOL_CLIENT_ID": client_id,
                "AWS_REGION": REGION,
            },
            gateway,
        )


# What the read function answers for a document the replica does not have yet.
NOT_REPLICATED = {"statusCode": 404, "headers": {"Content-Type": "application/json"}, "body": '{"error": "not_found"}'}


def _raises(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise RuntimeError("a function that fails")


@contextmanager
def regional_stage(
    api: Api, pool: UserPool, clients: tuple[str, ...], *, authorizer: Authorizer | None = None, lagging_reads: int = 0
) -> Iterator[tuple[str, ApiGateway]]:
    """A regional serving stage on loopback: only the read-only groups it deploys
    (READ_ONLY_GROUPS), an authorizer of the home pool (`clients`), and a replica that answers the first
    `lagging_reads` reads of a document as before the last change reached it (404 before the
    create, 200 before the purge). Its URL and its gateway."""

    def lagging(handler: Callable[[dict[str, Any], Any], dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        reads: Counter[tuple[str, int]] = Counter()  # (document, status at home): reads so far
        replica: dict[str, dict[str, Any]] = {}  # document: what the replica last served

        def read(event: dict[str, Any], context: Any) -> dict[str, Any]:
            reply = handler(event, context)
            document = (event.get("pathParameters") or {}).get("id")
            if document is None:
                return reply
            reads[(document, reply["statusCode"])] += 1
            if reads[(document, reply["statusCode"])] <= lagging_reads:
                return replica.get(document, NOT_REPLICATED)
            replica[document] = reply
            return reply

        return read

    handlers = {group.value: api.modules[group.value].handler for group in READ_ONLY_GROUPS}
    handlers[FunctionGroup.READ.value] = lagging(handlers[FunctionGroup.READ.value])
    verify = authorizer or CognitoAuthorizer(pool, clients=clients).claims
    gateway = ApiGateway(handlers, {}, authorizer=verify)
    with GatewayServer(gateway) as server:
        yield server.api_url, gateway


@pytest.fixture
def quick_replication_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(smoke_test, "REPLICATION_POLL_SECONDS", 0.01)


def smoke_users(pool: UserPool) -> list[str]:
    return [name for name in pool.usernames() if name.startswith(smoke_test.USER_PREFIX)]


def reached(gateway: ApiGateway) -> list[tuple[str, str]]:
    """(method, resource with its query) of every request that reached a function."""
    return [
        (
            e["httpMethod"],
            e["resource"] + ("?" + "&".join(e["queryStringParameters"]) if e["queryStringParameters"] else ""),
        )
        for e in gateway.events
    ]


def test_a_healthy_deployment_passes_and_leaves_no_user_and_no_document(
    api: Api, pool: UserPool, smoke_client: str, engines: Engines, capsys: pytest.CaptureFixture[str]
) -> None:
    with deployment(api, pool, smoke_client) as (environment, gateway):
        code = smoke_test.main(environment)

    out, err = capsys.readouterr()
    assert code == 0, err
    # The round trip really happened, in order, as one signed-in user
    assert reached(gateway) == [
        ("POST", "/documents"),
        ("GET", "/documents/{id}"),
        ("DELETE", "/documents/{id}"),
        ("DELETE", "/documents/{id}?purge"),
        ("GET", "/documents/{id}"),
    ]
    [owner] = {e["requestContext"]["authorizer"]["claims"]["sub"] for e in gateway.events}
    doc_id = gateway.events[1]["pathParameters"]["id"]
    # Then the user is gone, and the document with it
    assert smoke_users(pool) == []
    document_key = keys.document_sort_key(doc_id)
    assert [i for i in partition_items(engines.dynamodb, TABLE, owner) if i[keys.SORT_KEY] == document_key] == []
    # No token in the log a pipeline keeps
    assert "eyJ" not in out + err
    assert out.count("\n") >= 6, out


def test_an_api_that_answers_without_a_token_fails_the_first_step(
    api: Api, pool: UserPool, smoke_client: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given: a stage whose methods were deployed without the authorizer: anyone is someone
    verify = CognitoAuthorizer(pool, clients=(smoke_client,)).claims

    def anyone(token: str) -> Mapping[str, str] | None:
        return verify(token) or {"sub": f"anonymous-{uuid.uuid4()}", "cognito:groups": ""}

    with deployment(api, pool, smoke_client, authorizer=anyone) as (environment, gateway):
        code = smoke_test.main(environment)

    err = capsys.readouterr().err
    assert code == 1
    assert "unauthenticated" in err and "401" in err and "answered 200" in err, err
    assert reached(gateway) == [("GET", "/documents")]  # nothing after the failed step
    assert smoke_users(pool) == []


def test_a_create_that_fails_exits_1_and_still_removes_the_user(
    api: Api, pool: UserPool, smoke_client: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with deployment(api, pool, smoke_client, broken=("create",)) as (environment, gateway):
        code = smoke_test.main(environment)

    err = capsys.readouterr().err
    assert code == 1
    assert "create a document" in err and "502" in err and "Internal server error" in err, err
    assert smoke_users(pool) == []
    assert gateway.events[-1]["httpMethod"] == "POST"  # nothing was read or deleted after it


def test_a_read_that_fails_exits_1_and_still_purges_the_document_and_removes_the_user(
    api: Api, pool: UserPool, smoke_client: str, engines: Engines, capsys: pytest.CaptureFixture[str]
) -> None:
    with deployment(api, pool, smoke_client, broken=("read",)) as (environment, gateway):
        code = smoke_test.main(environment)

    err = capsys.readouterr().err
    assert code == 1
    assert "read the document" in err and "502" in err, err
    # The read reached its (broken) function; then the clean-up purged the document
    assert reached(gateway) == [("POST", "/documents"), ("GET", "/documents/{id}"), ("DELETE", "/documents/{id}?purge")]
    [owner] = {e["requestContext"]["authorizer"]["claims"]["sub"] for e in gateway.events}
    doc_id = gateway.events[1]["pathParameters"]["id"]
    document_key = keys.document_sort_key(doc_id)
    assert [i for i in partition_items(engines.dynamodb, TABLE, owner) if i[keys.SORT_KEY] == document_key] == []
    assert smoke_users(pool) == []


def test_a_sign_in_that_fails_exits_1_and_still_removes_the_user(
    api: Api, pool: UserPool, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given: the variables name a client that does not exist in the pool (the user is created
    # before the sign-in fails)
    with deployment(api, pool, "noclientofthispool") as (environment, _):
        code = smoke_test.main(environment)

    err = capsys.readouterr().err
    assert code == 1
    assert "sign in" in err and "ResourceNotFoundException" in err, err
    assert "Traceback" not in err
    assert smoke_users(pool) == []


def test_with_a_role_to_assume_the_cognito_calls_use_the_roles_credentials(
    api: Api, pool: UserPool, smoke_client: str, engines: Engines, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given: STS on moto, which maps assumed credentials to the role's account (the pool is in
    # moto's default account)
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", engines.moto_endpoint)
    role_here = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/folio-smoke-{uuid.uuid4().hex[:8]}"
    role_elsewhere = "arn:aws:iam::111111111111:role/folio-smoke"
    assumed = sts_backends[DEFAULT_ACCOUNT_ID]["aws"].assumed_roles

    with deployment(api, pool, smoke_client) as (environment, _):
        # When: the role is in the pool's account, and then in another one
        here = smoke_test.main({**environment, "FOLIO_SMOKE_ROLE_ARN": role_here})
        elsewhere = smoke_test.main({**environment, "FOLIO_SMOKE_ROLE_ARN": role_elsewhere})

    # Then: the run passes with the role's session, and fails where that account has no such pool
    assert here == 0
    assert [r.session_name.startswith("folio-smoke-") for r in assumed if r.role_arn == role_here] == [True]
    assert elsewhere == 1
    assert smoke_users(pool) == []


def test_each_regional_stage_serves_the_document_to_the_home_token_then_loses_it_after_the_purge(
    api: Api, pool: UserPool, smoke_client: str, capsys: pytest.CaptureFixture[str], quick_replication_polls: None
) -> None:
    clients = (pool.web_client_id, smoke_client)
    with (
        deployment(api, pool, smoke_client) as (environment, home),
        regional_stage(api, pool, clients) as (first_url, first),
        regional_stage(api, pool, clients, lagging_reads=3) as (second_url, second),
    ):
        code = smoke_test.main({**environment, "FOLIO_REGIONAL_API_URLS": f"{first_url}, {second_url}"})

    out, err = capsys.readouterr()
    assert code == 0, err
    # Each regional stage: the unauthenticated call never reached a function; the read did, as
    # the user signed in at home; after the purge at home the document is gone there too
    assert reached(first) == [("GET", "/documents/{id}"), ("GET", "/documents/{id}")]
    assert reached(second) == [("GET", "/documents/{id}")] * 8  # 3 + 1 before, 3 + 1 after
    [home_user] = {e["requestContext"]["authorizer"]["claims"]["sub"] for e in home.events}
    assert {e["requestContext"]["authorizer"]["claims"]["sub"] for e in first.events + second.events} == {home_user}
    assert f"{second_url}: the replica serves the document to the home token: 200 after 4 request(s)" in out
    assert f"{second_url}: the purge reached the replica: 404 after 4 request(s)" in out
    # The regional reads come before the home Region's trash and purge
    assert [e["httpMethod"] for e in home.events] == ["POST", "GET", "DELETE", "DELETE", "GET"]
    assert smoke_users(pool) == []


def test_a_regional_stage_that_refuses_the_home_token_fails_naming_it_and_cleans_up(
    api: Api, pool: UserPool, smoke_client: str, engines: Engines, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given: a regional authorizer bound to another pool (say, a pool of its own Region)
    with (
        deployment(api, pool, smoke_client) as (environment, home),
        regional_stage(api, pool, (), authorizer=lambda token: None) as (regional_url, regional),
    ):
        code = smoke_test.main({**environment, "FOLIO_REGIONAL_API_URLS": regional_url})

    err = capsys.readouterr().err
    assert code == 1
    assert f"{regional_url}: the replica serves the document to the home token" in err and "answered 401" in err, err
    assert reached(regional) == []
    # The document was purged at home by the clean-up, and the user removed
    assert reached(home)[-1] == ("DELETE", "/documents/{id}?purge")
    [owner] = {e["requestContext"]["authorizer"]["claims"]["sub"] for e in home.events}
    document_key = keys.document_sort_key(home.events[1]["pathParameters"]["id"])
    assert [i for i in partition_items(engines.dynamodb, TABLE, owner) if i[keys.SORT_KEY] == document_key] == []
    assert smoke_users(pool) == []


def test_a_replica_that_lags_past_the_wait_fails_with_the_status_it_last_gave(
    api: Api,
    pool: UserPool,
    smoke_client: str,
    capsys: pytest.CaptureFixture[str],
    quick_replication_polls: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(smoke_test, "REPLICATION_WAIT_SECONDS", 0.2)
    clients = (pool.web_client_id, smoke_client)
    with (
        deployment(api, pool, smoke_client) as (environment, _),
        regional_stage(api, pool, clients, lagging_reads=10_000) as (regional_url, regional),
    ):
        code = smoke_test.main({**environment, "FOLIO_REGIONAL_API_URLS": regional_url})

    err = capsys.readouterr().err
    assert code == 1
    assert "the replica serves the document" in err and "answered 404, expected 200" in err, err
    assert 2 <= len(regional.events) < 10_000  # retried, then gave up at the deadline
    assert smoke_users(pool) == []


def test_a_created_document_without_an_id_fails_without_printing_the_upload_form(
    api: Api, pool: UserPool, smoke_client: str, capsys: pytest.CaptureFixture[str]
) -> None:
    form = {"url": "https://bucket.s3.amazonaws.com/", "fields": {"x-amz-signature": "presigned-signature-value"}}

    def created_without_id(event: dict[str, Any], context: Any) -> dict[str, Any]:
        body = json.dumps({"document": {}, "upload": form})
        return {"statusCode": 201, "headers": {"Content-Type": "application/json"}, "body": body}

    with deployment(api, pool, smoke_client) as (environment, gateway):
        gateway.handlers = {**gateway.handlers, "create": created_without_id}
        code = smoke_test.main(environment)

    out, err = capsys.readouterr()
    assert code == 1
    assert "answered 201 without a document id" in err, err
    assert "presigned-signature-value" not in out + err
    assert smoke_users(pool) == []


def test_a_run_stopped_with_sigterm_still_deletes_its_user(
    api: Api, pool: UserPool, smoke_client: str, engines: Engines
) -> None:
    # Given: a create that does not answer (the run is stuck in its POST when CodeBuild stops it)
    release = threading.Event()

    def hanging_create(event: dict[str, Any], context: Any) -> dict[str, Any]:
        release.wait(timeout=60)
        return api.modules["create"].handler(event, context)

    with deployment(api, pool, smoke_client) as (environment, gateway):
        gateway.handlers = {**gateway.handlers, "create": hanging_create}
        run = subprocess.Popen(
            [sys.executable, "tools/smoke_test.py"],
            cwd=PROJECT_ROOT,
            env={
                "PATH": "/usr/bin:/bin",
                **LOOPBACK_CREDENTIALS,
                **environment,
                "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER": engines.moto_endpoint,
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            while not (smoke_users(pool) and reached(gateway)) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert smoke_users(pool) and reached(gateway) == [("POST", "/documents")]
            # When: the build is stopped
            run.send_signal(signal.SIGTERM)
            _, err = run.communicate(timeout=30)
        finally:
            release.set()
            if run.poll() is None:
                run.kill()

    # Then: the step in progress fails, naming the signal, and the user is gone all the same
    assert run.returncode == 1, err
    assert "create a document" in err and "SIGTERM" in err, err
    assert "Traceback" not in err
    assert smoke_users(pool) == []


VALID_HOME_URL = "https://abc123.execute-api.eu-west-1.amazonaws.com/v1/"
VALID = {
    "FOLIO_API_URL": VALID_HOME_URL,
    "FOLIO_USER_POOL_ID": "eu-west-1_AbC123xyz",
    "FOLIO_USER_POOL_CLIENT_ID": "1h57kf5cpq17m0eml12EXAMPLE",
    "AWS_REGION": "eu-west-1",
}


@pytest.mark.parametrize("name", sorted(VALID))
def test_a_missing_variable_exits_2_naming_it(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    environment = {k: v for k, v in VALID.items() if k != name}

    code = smoke_test.main(environment)

    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and name in err, err


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FOLIO_API_URL", "abc123.execute-api.eu-west-1.amazonaws.com/v1/"),
        ("FOLIO_API_URL", "http://abc123.execute-api.eu-west-1.amazonaws.com/v1/"),
        ("FOLIO_API_URL", "https://abc123.execute-api.eu-west-1.amazonaws.com/v1/?stage=v1"),
        ("FOLIO_API_URL", "https:///v1/"),
        ("FOLIO_USER_POOL_ID", "eu-west-1-AbC123xyz"),
        ("FOLIO_USER_POOL_ID", "europe_AbC123xyz"),
        ("FOLIO_USER_POOL_CLIENT_ID", "has space"),
        ("FOLIO_USER_POOL_CLIENT_ID", " "),
        ("AWS_REGION", "Ireland"),
        ("FOLIO_SMOKE_ROLE_ARN", "folio-smoke"),
        ("FOLIO_REGIONAL_API_URLS", "https://abc.execute-api.us-west-2.amazonaws.com/v1/,ftp://elsewhere/"),
        ("FOLIO_REGIONAL_API_URLS", "http://abc123.execute-api.us-west-2.amazonaws.com/v1/"),
        ("FOLIO_REGIONAL_API_URLS", VALID_HOME_URL),
    ],
)
def test_a_malformed_variable_exits_2_naming_it(name: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = smoke_test.main({**VALID, name: value})

    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and name in err, err


def test_the_command_the_pipeline_runs_reports_bad_configuration_in_one_line() -> None:
    # As the pipeline's step runs it: `python tools/smoke_test.py`, from the repository root
    environment = {k: v for k, v in VALID.items() if k != "FOLIO_USER_POOL_ID"}

    run = subprocess.run(
        [sys.executable, "tools/smoke_test.py"],
        cwd=PROJECT_ROOT,
        env={"PATH": "/usr/bin:/bin", **environment},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "FOLIO_USER_POOL_ID" in run.stderr, run.stderr
