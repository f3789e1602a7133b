"""API Gateway in front of the real handlers, in process.

A WSGI application (for schemathesis) and a `requests` transport adapter mounted at
`GATEWAY_URL` (for hand-written requests); either way it does for each request what Folio's
REST API does before and after a Lambda proxy integration (stacks/components/documents_api.py):

- resource and method matching from folio.contracts.ROUTES: an unknown resource or method
  is API Gateway's 403 MISSING_AUTHENTICATION_TOKEN;
- the Cognito authorizer: an `Authorization` header that carries one of the tokens this
  gateway knows (bare, as the OpenAPI document's apiKey scheme says, or as a `Bearer` token)
  becomes that user's claims; a missing or unknown one is 401 UNAUTHORIZED, before any
  validation (authorizers run first). Given an `authorizer` (a function from the token to its
  claims, or None), the gateway asks it instead: tests/support/cognito.py's
  `CognitoAuthorizer.claims` verifies real tokens from moto's Cognito;
- the request validator: path parameters are required (they always are once the resource
  matches; query strings and headers are optional in the gateway's model, so nothing to
  check), and with `apply_body_models` the body of a request whose Content-Type is
  application/json (or missing: the gateway assumes JSON) must satisfy the route's draft-04
  model from folio.contracts.BODY_SCHEMAS, else 400 BAD_REQUEST_BODY. Bodies of other
  content types reach the function unvalidated, as they do on AWS. With
  `apply_body_models=False` no body is validated: a handler must then hold on its own;
- the proxy event (REST API format 1.0) and back: the function's `statusCode`, headers and
  body become the HTTP response; a function that raises is API Gateway's 502;
- gateway error bodies follow the DEFAULT_4XX/5XX templates: {"error": {"code", "message",
  "requestId"}}.

Patterns are matched as ECMA-262 does (what API Gateway's validator and the OpenAPI
document mean): a `$` at the end of a pattern is the end of the input, not "before a final
newline" as in Python's `re`.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import jsonschema
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from urllib3 import HTTPHeaderDict, HTTPResponse

from folio.contracts import BODY_SCHEMAS, ROUTES, Route

GATEWAY_URL = "http://folio-gateway.test/v1"
STAGE = "/v1"

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
# A token's claims as the authorizer passes them on (every value a string), or None: a 401.
Authorizer = Callable[[str], Mapping[str, str] | None]


@dataclass(frozen=True)
class Identity:
    """What the Cognito authorizer passes on for a verified id token."""

    sub: str
    groups: tuple[str, ...] = ()

    def claims(self) -> dict[str, str]:
        return {"sub": self.sub, "cognito:groups": ",".join(self.groups)}


class LambdaContext:
    function_name = "folio-gateway-test"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:folio-gateway-test"
    aws_request_id = "gateway-request"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 10_000


def _ecma_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Any:
    if not isinstance(instance, str):
        return
    ecma = re.sub(r"(?<!\\)\$$", r"\\Z", pattern)
    if not re.search(ecma, instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


GatewayValidator = jsonschema.validators.extend(jsonschema.Draft4Validator, {"pattern": _ecma_pattern})


def body_model_errors(route: Route, body: str | None) -> str | None:
    """Why API Gateway's body model refuses `body` for `route`, or None when it passes."""
    if route.body is None:
        return None
    try:
        value = json.loads(body or "")
    except (ValueError, RecursionError):
        return "Invalid request body"
    try:
        error = jsonschema.exceptions.best_match(GatewayValidator(BODY_SCHEMAS[route.body]).iter_errors(value))
    except RecursionError:
        return "Invalid request body"
    return None if error is None else "Invalid request body"


def match_route(method: str, segments: list[str]) -> tuple[Route | None, dict[str, str]]:
    """The route for a path split into decoded segments; (None, {}) when no resource or
    method matches. Literal segments win over parameters, as in API Gateway."""
    candidates = []
    for route in ROUTES:
        template = route.path.strip("/").split("/")
        if len(template) != len(segments):
            continue
        parameters: dict[str, str] = {}
        for expected, actual in zip(template, segments, strict=True):
            if expected.startswith("{"):
                if not actual:
                    break
                parameters[expected[1:-1]] = actual
            elif expected != actual:
                break
        else:
            candidates.append((len(parameters), route, parameters))
    for _, route, parameters in sorted(candidates, key=lambda c: c[0]):
        if route.method == method:
            return route, parameters
    return None, {}


@dataclass(frozen=True)
class Reply:
    status: int
    headers: HTTPHeaderDict
    body: bytes


class ApiGateway:
    """Answers requests for GATEWAY_URL by calling the handler of each route's function.

    Two fronts share `handle`: it is a WSGI application (what schemathesis drives in process,
    `schema.app = gateway`, including the probes its checks send), and `gateway_session()`
    mounts it as a `requests` transport adapter for hand-written requests."""

    def __init__(
        self,
        handlers: Mapping[str, Handler],
        identities: Mapping[str, Identity],
        *,
        apply_body_models: bool = True,
        authorizer: Authorizer | None = None,
    ) -> None:
        self.handlers = handlers
        self.identities = dict(identities)  # token -> identity; tests may swap users per run
        self.apply_body_models = apply_body_models
        self.authorizer = authorizer
        self.events: list[dict[str, Any]] = []  # what reached a function, for tests of this gateway

    def handle(self, method: str, raw_path: str, raw_query: str, headers: dict[str, str], body: bytes | None) -> Reply:
        """`raw_path` and `raw_query` as sent (percent-encoded); `headers` as sent."""
        text = None if not body else body.decode("utf-8", errors="replace")
        if not raw_path.startswith(STAGE + "/"):
            return _gateway_error(403, "MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token")
        segments = [unquote(part) for part in raw_path[len(STAGE) + 1 :].split("/")]
        route, path_parameters = match_route(method, segments)
        if route is None:
            return _gateway_error(403, "MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token")
        by_name = CaseInsensitiveDict(headers)
        claims = self.claims((by_name.get("Authorization") or "").removeprefix("Bearer "))
        if claims is None:
            return _gateway_error(401, "UNAUTHORIZED", "Unauthorized")
        content_type = (by_name.get("Content-Type") or "application/json").split(";")[0].strip().lower()
        if self.apply_body_models and content_type == "application/json":
            refusal = body_model_errors(route, text)
            if refusal is not None:
                return _gateway_error(400, "BAD_REQUEST_BODY", refusal)
        query = parse_qsl(raw_query, keep_blank_values=True)
        path = "/" + "/".join(segments)
        event = {
            "resource": route.path,
            "path": path,
            "httpMethod": route.method,
            "headers": headers,
            "multiValueHeaders": {name: [value] for name, value in headers.items()},
            "queryStringParameters": dict(query) or None,
            "multiValueQueryStringParameters": _multi(query) or None,
            "pathParameters": path_parameters or None,
            "stageVariables": None,
            "requestContext": {
                "requestId": uuid.uuid4().hex,
                "stage": STAGE.strip("/"),
                "httpMethod": route.method,
                "resourcePath": route.path,
                "path": STAGE + path,
                "authorizer": {"claims": dict(claims)},
                "identity": {"sourceIp": "127.0.0.1"},
            },
            "body": text,
            "isBase64Encoded": False,
        }
        self.events.append(event)
        try:
            reply = self.handlers[route.group.value](event, LambdaContext())
        except Exception:  # a function error: API Gateway answers 502 and the caller learns nothing more
            return _gateway_error(502, "DEFAULT_5XX", "Internal server error")
        reply_headers = HTTPHeaderDict(reply.get("headers") or {})
        for name, values in (reply.get("multiValueHeaders") or {}).items():
            for value in values:
                if value not in reply_headers.getlist(name):
                    reply_headers.add(name, value)
        return Reply(int(reply["statusCode"]), reply_headers, (reply.get("body") or "").encode())

    def claims(self, token: str) -> Mapping[str, str] | None:
        """What the authorizer passes on for `token`, or None (a 401)."""
        if self.authorizer is not None:
            return self.authorizer(token)
        identity = self.identities.get(token)
        return None if identity is None else identity.claims()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        """WSGI: the raw (still percent-encoded) URI, headers with their usual spelling."""
        raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "")
        raw_path, _, raw_query = raw_uri.partition("?")
        headers = {
            key[5:].replace("_", "-").title(): value for key, value in environ.items() if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else None
        reply = self.handle(
            environ["REQUEST_METHOD"], raw_path, raw_query or environ.get("QUERY_STRING", ""), headers, body
        )
        start_response(f"{reply.status} {_REASONS.get(reply.status, 'Status')}", list(reply.headers.items()))
        return [reply.body]


class GatewayAdapter(BaseAdapter):
    """`requests` transport adapter: hand-written requests reach the gateway in process."""

    def __init__(self, gateway: ApiGateway) -> None:
        super().__init__()
        self.gateway = gateway

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        url = urlsplit(request.url or "")
        body = request.body.encode() if isinstance(request.body, str) else request.body
        reply = self.gateway.handle(str(request.method), url.path, url.query, dict(request.headers), body)
        raw = HTTPResponse(
            body=io.BytesIO(reply.body), headers=reply.headers, status=reply.status, version=11, preload_content=False
        )
        response = requests.Response()
        response.status_code = reply.status
        response.headers = CaseInsensitiveDict(reply.headers)
        response.raw = raw
        response.url = request.url or ""
        response.request = request
        response.reason = _REASONS.get(reply.status, "")
        response.encoding = requests.utils.get_encoding_from_headers(response.headers)
        response.connection = self
        return response

    def close(self) -> None:
        """Nothing to release: no connections."""


def _gateway_error(status: int, code: str, message: str) -> Reply:
    body = json.dumps({"error": {"code": code, "message": message, "requestId": uuid.uuid4().hex}}).encode()
    return Reply(status, HTTPHeaderDict({"Content-Type": "application/json"}), body)


_REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
            403: "Forbidden", 404: "Not Found", 409: "Conflict", 412: "Precondition Failed",
            413: "Content Too Large", 415: "Unsupported Media Type", 422: "Unprocessable Content",
            428: "Precondition Required", 429: "Too Many Requests", 502: "Bad Gateway"}  # fmt: skip


def _multi(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for name, value in pairs:
        result.setdefault(name, []).append(value)
    return result


def gateway_session(gateway: ApiGateway) -> requests.Session:
    """A session whose requests to GATEWAY_URL go to `gateway`, never to the network."""
    session = requests.Session()
    session.mount(GATEWAY_URL.rsplit("/", 1)[0] + "/", GatewayAdapter(gateway))
    return session
