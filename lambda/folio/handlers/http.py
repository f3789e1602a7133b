"""The HTTP edge shared by every API function: the caller from the authorizer's claims,
the one exception-to-HTTP map, CORS, and JSON error bodies without internals."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response, content_types

from folio.contracts import CORS_ALLOW_HEADERS, CORS_EXPOSE_HEADERS, CORS_MAX_AGE_SECONDS
from folio.errors import FolioError, InvalidInput, Unauthorized, UnsupportedMediaType
from folio.handlers.logs import logger
from folio.requests import is_id
from folio.service import Caller

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.middlewares import NextMiddleware


def _cors(origins: tuple[str, ...]) -> CORSConfig:
    first, *others = origins or ("https://invalid.example",)
    return CORSConfig(
        allow_origin=first,
        extra_origins=others,
        allow_headers=list(CORS_ALLOW_HEADERS),
        expose_headers=list(CORS_EXPOSE_HEADERS),
        max_age=CORS_MAX_AGE_SECONDS,
    )


def error_body(code: str, message: str, request_id: str | None) -> str:
    return json.dumps({"error": {"code": code, "message": message, "requestId": request_id}})


def create_app(origins: tuple[str, ...]) -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(cors=_cors(origins))

    def request_id() -> str | None:
        # Also called while answering a malformed event, so it must not raise itself.
        context = app.current_event.get("requestContext")
        found = context.get("requestId") if isinstance(context, dict) else None
        return found if isinstance(found, str) else None

    @app.exception_handler(FolioError)
    def folio_error(error: FolioError) -> Response[str]:
        return Response(
            error.status, content_types.APPLICATION_JSON, error_body(error.code, error.message, request_id())
        )

    @app.exception_handler(Exception)
    def unexpected(error: Exception) -> Response[str]:
        logger.exception("unhandled error")  # the trace goes to the log, never to the caller
        return Response(
            500, content_types.APPLICATION_JSON, error_body("internal_error", "something went wrong", request_id())
        )

    app.use(middlewares=[refuse_control_characters_in_the_path])

    @app.not_found
    def not_found(_: Exception) -> Response[str]:
        return Response(404, content_types.APPLICATION_JSON, error_body("not_found", "no such route", request_id()))

    return app


# Unicode's control characters, general category Cc: C0, DEL and C1. The category is closed (no
# code point ever joins or leaves it), so a class stands for `unicodedata.category(c) == "Cc"`
# without importing unicodedata (4 ms of every cold start; tests/unit/test_http.py compares).
CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f-\x9f]")


def refuse_control_characters_in_the_path(
    app: APIGatewayRestResolver, next_middleware: NextMiddleware
) -> Response[str]:
    """Powertools matches routes with `re.match` and a pattern ending in "$", so a path
    parameter followed by a newline ("/documents/<id>%0A") matches the route with the
    newline dropped. No id contains a control character, so such a path is refused."""
    if CONTROL_CHARACTER.search(app.current_event.path):
        raise InvalidInput("the path contains control characters")
    return next_middleware(app)


def caller(app: APIGatewayRestResolver) -> Caller:
    """Who is calling, from the Cognito authorizer's claims only (never path, query or body)."""
    context = app.current_event.get("requestContext")
    authorizer = context.get("authorizer") if isinstance(context, dict) else None
    found = authorizer.get("claims") if isinstance(authorizer, dict) else None
    claims: dict[str, Any] = found if isinstance(found, dict) else {}
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise Unauthorized("sign in first")
    # A Cognito sub is a UUID. It becomes part of table keys and object keys, so anything
    # else (a forged or misrouted event) is refused before it gets near them.
    if not is_id(sub):
        raise Unauthorized("the token does not name a valid user")
    raw_groups = claims.get("cognito:groups", "")
    groups = raw_groups if isinstance(raw_groups, list) else str(raw_groups).strip("[]").replace(",", " ").split()
    return Caller(user_id=sub, groups=frozenset(groups))


# The deepest body the contract allows is an object holding a list of strings (depth 2).
# Anything much deeper is refused before any code walks it: json.dumps (the idempotency
# payload hash) and every other recursive walk would otherwise hit Python's recursion limit.
MAX_BODY_DEPTH = 8


def header(app: APIGatewayRestResolver, name: str) -> str | None:
    """A request header by name, whatever case the client (or API Gateway) used."""
    wanted = name.lower()
    for key, value in (app.current_event.headers or {}).items():
        if key.lower() == wanted and isinstance(value, str):
            return value
    return None


def _depth(value: Any) -> int:
    """How deeply `value` nests lists and objects, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_BODY_DEPTH:
            break
        stack.extend((child, level + 1) for child in children)
    return deepest


def json_body(app: APIGatewayRestResolver) -> dict[str, Any]:
    """The request body as a JSON object, checked as if API Gateway's model had not run.

    API Gateway applies a method's body model only to application/json, so a body sent
    as text/plain (or anything else) would reach the code unvalidated: such requests are
    refused with 415. A request without Content-Type is JSON, as API Gateway assumes.
    The service still checks every field, because a model is no guarantee here."""
    content_type = header(app, "Content-Type")
    if content_type and content_type.split(";", 1)[0].strip().lower() != "application/json":
        raise UnsupportedMediaType("send the body as application/json")
    try:
        body = app.current_event.json_body
    except RecursionError as error:
        raise InvalidInput(f"the body nests deeper than {MAX_BODY_DEPTH} levels") from error
    except (ValueError, TypeError) as error:
        raise InvalidInput("the body is not valid JSON") from error
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    if _depth(body) > MAX_BODY_DEPTH:
        raise InvalidInput(f"the body nests deeper than {MAX_BODY_DEPTH} levels")
    return body


def ok(status: int, body: Any, headers: dict[str, str] | None = None) -> Response[str]:
    payload = "" if body is None else json.dumps(body)
    return Response(status, content_types.APPLICATION_JSON, payload, headers=headers)


Route = Callable[..., Response[str]]
