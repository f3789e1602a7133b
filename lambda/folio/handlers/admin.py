"""GET /admin/recent: recent uploads across users, for the admins group only."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from folio.handlers import wiring
from folio.handlers.http import caller, create_app, ok
from folio.handlers.logs import logger
from folio.requests import valid_limit

app = create_app(wiring.settings().cors_origins)


@app.get("/admin/recent")
def recent() -> Response[str]:
    query = app.current_event.query_string_parameters or {}
    who, service = caller(app), wiring.service()
    service.require_admin(who)  # a 403 before the query is looked at, as the route has always answered
    return ok(200, service.recent(who, valid_limit(query.get("limit"))))


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
