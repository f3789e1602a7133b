"""The HTTP edge shared by every API function: the caller from the authorizer's claims,
the one exception-to-HTTP map, CORS, and JSON error bodies without internals."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response, content_types

from folio.errors import FolioError, InvalidInput, Unauthorized
from folio.handlers.logs import logger
from folio.service import Caller


def _cors(origins: tuple[str, ...]) -> CORSConfig:
    first, *others = origins or ("https://invalid.example",)
    return CORSConfig(
        allow_origin=first,
        extra_origins=others,
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "If-Match"],
        expose_headers=["ETag"],
        max_age=3600,
    )


def error_body(code: str, message: str, request_id: str | None) -> str:
    return json.dumps({"error": {"code": code, "message": message, "requestId": request_id}})


def create_app(origins: tuple[str, ...]) -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(cors=_cors(origins))

    def request_id() -> str | None:
        context = app.current_event.request_context
        return context.request_id if context else None

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

    @app.not_found
    def not_found(_: Exception) -> Response[str]:
        return Response(404, content_types.APPLICATION_JSON, error_body("not_found", "no such route", request_id()))

    return app


def caller(app: APIGatewayRestResolver) -> Caller:
    """Who is calling, from the Cognito authorizer's claims only (never path, query or body)."""
    context = app.current_event.request_context
    claims: dict[str, Any] = (context.authorizer.claims or {}) if context and context.authorizer else {}
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise Unauthorized("sign in first")
    raw_groups = claims.get("cognito:groups", "")
    groups = raw_groups if isinstance(raw_groups, list) else str(raw_groups).strip("[]").replace(",", " ").split()
    return Caller(user_id=sub, groups=frozenset(groups))


def json_body(app: APIGatewayRestResolver) -> dict[str, Any]:
    try:
        body = app.current_event.json_body
    except (ValueError, TypeError) as error:
        raise InvalidInput("the body is not valid JSON") from error
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    return body


def ok(status: int, body: Any, headers: dict[str, str] | None = None) -> Response[str]:
    payload = "" if body is None else json.dumps(body)
    return Response(status, content_types.APPLICATION_JSON, payload, headers=headers)


Route = Callable[..., Response[str]]
