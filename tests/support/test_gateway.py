"""The in-process API Gateway (tests/support/gateway.py) maps requests to proxy events and
replies to responses faithfully, and refuses what the real gateway refuses."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from werkzeug.test import Client

from folio.contracts import ROUTES, FunctionGroup
from tests.support.gateway import GATEWAY_URL, STAGE, ApiGateway, Identity, gateway_session
from tests.support.loopback_http import GatewayServer

OWNER = Identity("owner-sub")
ADMIN = Identity("admin-sub", ("admins",))
TOKENS = {"owner-token": OWNER, "admin-token": ADMIN}
VALID_BODIES = {
    "CreateDocument": {"name": "a.pdf", "contentType": "application/pdf", "size": 1},
    "UpdateDocument": {"name": "a.pdf"},
}


class RecordingFunction:
    """A Lambda handler that records its event and answers with a fixed proxy response."""

    def __init__(self, reply: dict[str, Any] | None = None, error: Exception | None = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.reply = reply or {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "{}"}
        self.error = error

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.events.append(event)
        if self.error is not None:
            raise self.error
        return self.reply


def gateway_with(function: RecordingFunction, *, apply_body_models: bool = True) -> requests.Session:
    handlers = {group.value: function for group in FunctionGroup}
    return gateway_session(ApiGateway(handlers, TOKENS, apply_body_models=apply_body_models))


def test_a_request_becomes_the_proxy_event_of_its_route() -> None:
    # Given: a gateway in front of a function that records its events
    function = RecordingFunction()
    session = gateway_with(function)

    # When: an authorized PATCH with a path parameter, a query string, headers and a JSON body
    session.patch(
        f"{GATEWAY_URL}/documents/doc%2D1?purge=true&tag=a%0A",
        headers={"Authorization": "admin-token", "If-Match": '"3"'},
        json={"name": "n.pdf"},
    )

    # Then: the function gets the event API Gateway would build
    (event,) = function.events
    assert event["httpMethod"] == "PATCH"
    assert event["resource"] == "/documents/{id}"
    assert event["path"] == "/documents/doc-1"
    assert event["pathParameters"] == {"id": "doc-1"}
    assert event["queryStringParameters"] == {"purge": "true", "tag": "a\n"}
    assert event["multiValueQueryStringParameters"] == {"purge": ["true"], "tag": ["a\n"]}
    assert event["headers"]["If-Match"] == '"3"'
    assert json.loads(event["body"]) == {"name": "n.pdf"}
    assert event["requestContext"]["authorizer"]["claims"] == {"sub": "admin-sub", "cognito:groups": "admins"}


def test_the_wsgi_front_builds_the_same_event() -> None:
    # Given: one gateway, driven as schemathesis drives it (WSGI) and by hand (requests)
    function = RecordingFunction()
    gateway = ApiGateway({group.value: function for group in FunctionGroup}, TOKENS)
    headers = {"Authorization": "admin-token", "If-Match": '"3"', "Content-Type": "application/json"}
    body = json.dumps({"name": "n.pdf"})

    # When: the same request arrives both ways
    gateway_session(gateway).patch(f"{GATEWAY_URL}/documents/doc%2D1?tag=a%0A&tag=b", headers=headers, data=body)
    response = Client(gateway).patch(f"{STAGE}/documents/doc%2D1?tag=a%0A&tag=b", headers=headers, data=body)

    # Then: the function sees the same request, and the WSGI response carries the reply
    by_requests, by_wsgi = function.events
    for field in ("httpMethod", "resource", "path", "pathParameters", "queryStringParameters", "body"):
        assert by_wsgi[field] == by_requests[field], field
    assert by_wsgi["multiValueQueryStringParameters"] == {"tag": ["a\n", "b"]}
    assert by_wsgi["headers"]["If-Match"] == '"3"'
    assert by_wsgi["headers"]["Content-Type"] == "application/json"
    assert by_wsgi["requestContext"]["authorizer"] == by_requests["requestContext"]["authorizer"]
    assert response.status_code == 200
    assert response.get_data() == b"{}"


def test_every_route_reaches_its_own_function() -> None:
    functions = {group: RecordingFunction() for group in FunctionGroup}
    session = gateway_session(ApiGateway({g.value: f for g, f in functions.items()}, TOKENS))

    for route in ROUTES:
        path = route.path.replace("{id}", "d1").replace("{userId}", "u1")
        body = VALID_BODIES.get(route.body or "")
        session.request(route.method, GATEWAY_URL + path, json=body, headers={"Authorization": "owner-token"})

        assert functions[route.group].events[-1]["resource"] == route.path
        assert functions[route.group].events[-1]["httpMethod"] == route.method


@pytest.mark.parametrize("authorization", ["owner-token", "Bearer owner-token"])
def test_a_known_token_becomes_its_users_claims(authorization: str) -> None:
    function = RecordingFunction()

    gateway_with(function).get(f"{GATEWAY_URL}/documents", headers={"Authorization": authorization})

    assert function.events[0]["requestContext"]["authorizer"]["claims"] == {"sub": "owner-sub", "cognito:groups": ""}


def test_the_reply_becomes_the_http_response() -> None:
    reply = {
        "statusCode": 201,
        "headers": {"Content-Type": "application/json", "ETag": '"1"'},
        "multiValueHeaders": {"Vary": ["Origin"]},
        "body": '{"ok": true}',
    }
    session = gateway_with(RecordingFunction(reply))

    response = session.get(f"{GATEWAY_URL}/me/usage", headers={"Authorization": "owner-token"})

    assert response.status_code == 201
    assert response.json() == {"ok": True}
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Vary"] == "Origin"
    assert response.raw.headers.getlist("Content-Type") == ["application/json"]


@pytest.mark.parametrize("authorization", [None, "", "someone-else", "Bearer someone-else", "owner-token "])
def test_a_missing_or_unknown_token_is_401_before_the_function(authorization: str | None) -> None:
    function = RecordingFunction()
    session = gateway_with(function)
    headers = {} if authorization is None else {"Authorization": authorization}

    response = session.get(f"{GATEWAY_URL}/documents", headers=headers)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"
    assert function.events == []


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/nowhere"), ("TRACE", "/documents"), ("GET", "/documents//download"), ("GET", "/")]
)
def test_an_unknown_resource_or_method_is_403_missing_authentication_token(method: str, path: str) -> None:
    function = RecordingFunction()

    response = gateway_with(function).request(method, GATEWAY_URL + path, headers={"Authorization": "owner-token"})

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "MISSING_AUTHENTICATION_TOKEN"
    assert function.events == []


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        json.dumps({"name": "a.pdf", "contentType": "application/pdf"}),  # size missing
        json.dumps({"name": "a.pdf", "contentType": "application/pdf", "size": 1, "extra": 1}),
        json.dumps({"name": "a.pdf", "contentType": "application/pdf", "size": 1, "tags": ["alpha\n"]}),
        "[" * 50_000 + "]" * 50_000,
    ],
)
def test_the_body_model_refuses_invalid_json_bodies_before_the_function(body: str) -> None:
    function = RecordingFunction()

    response = gateway_with(function).post(
        f"{GATEWAY_URL}/documents",
        data=body,
        headers={"Authorization": "owner-token", "Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BAD_REQUEST_BODY"
    assert function.events == []


def test_a_valid_json_body_reaches_the_function_unchanged() -> None:
    function = RecordingFunction()
    body = json.dumps({"name": "a.pdf", "contentType": "application/pdf", "size": 1, "tags": ["alpha"]})

    gateway_with(function).post(f"{GATEWAY_URL}/documents", data=body, headers={"Authorization": "owner-token"})

    assert function.events[0]["body"] == body


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_other_content_types_reach_the_function_unvalidated(content_type: str) -> None:
    # As on AWS: the model is declared for application/json only
    function = RecordingFunction()

    gateway_with(function).post(
        f"{GATEWAY_URL}/documents", data="[[]]", headers={"Authorization": "owner-token", "Content-Type": content_type}
    )

    assert function.events[0]["body"] == "[[]]"
    assert function.events[0]["headers"]["Content-Type"] == content_type


def test_without_body_models_json_bodies_reach_the_function_unvalidated() -> None:
    function = RecordingFunction()

    gateway_with(function, apply_body_models=False).post(
        f"{GATEWAY_URL}/documents", json={"tags": [{}]}, headers={"Authorization": "owner-token"}
    )

    assert json.loads(function.events[0]["body"]) == {"tags": [{}]}


def test_a_function_error_is_502_without_details() -> None:
    session = gateway_with(RecordingFunction(error=RecursionError("deep")))

    response = session.get(f"{GATEWAY_URL}/me/usage", headers={"Authorization": "owner-token"})

    assert response.status_code == 502
    assert "deep" not in response.text


def test_an_authorizer_decides_whose_claims_reach_the_function() -> None:
    # Given: a gateway whose authorizer verifies tokens itself (as the Cognito one does)
    function = RecordingFunction()
    verified = {"signed-token": {"sub": "signed-sub", "email": "a@example.com", "cognito:groups": ""}}
    gateway = ApiGateway({g.value: function for g in FunctionGroup}, {}, authorizer=verified.get)
    session = gateway_session(gateway)

    # When: one request carries a token the authorizer accepts, one a token it refuses
    accepted = session.get(f"{GATEWAY_URL}/documents", headers={"Authorization": "signed-token"})
    refused = session.get(f"{GATEWAY_URL}/documents", headers={"Authorization": "owner-token"})

    # Then: the accepted token's claims, all of them, reach the function; the other is a 401
    assert accepted.status_code == 200
    assert refused.status_code == 401
    (event,) = function.events
    assert event["requestContext"]["authorizer"]["claims"] == verified["signed-token"]


def test_the_loopback_http_front_serves_the_gateway_over_real_http() -> None:
    # Given: the gateway behind an HTTP server on 127.0.0.1
    function = RecordingFunction({"statusCode": 201, "headers": {"ETag": '"1"'}, "body": '{"id": "d"}'})
    gateway = ApiGateway({g.value: function for g in FunctionGroup}, TOKENS)

    with GatewayServer(gateway) as server:
        # When: a client that knows nothing of the gateway sends requests to its URL
        created = requests.post(
            f"{server.api_url}documents?purge=true",
            headers={"Authorization": "owner-token"},
            json=VALID_BODIES["CreateDocument"],
            timeout=5,
        )
        anonymous = requests.get(f"{server.api_url}documents", timeout=5)

    # Then: the same event, status, headers and body as in process
    assert server.api_url.startswith("http://127.0.0.1:") and server.api_url.endswith(f"{STAGE}/")
    assert (created.status_code, created.headers["ETag"], created.json()) == (201, '"1"', {"id": "d"})
    assert anonymous.status_code == 401
    (event,) = function.events
    assert event["path"] == "/documents"
    assert event["queryStringParameters"] == {"purge": "true"}
    assert json.loads(event["body"]) == VALID_BODIES["CreateDocument"]
