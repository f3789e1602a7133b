"""GET /admin/recent: recent uploads across users, for the admins group only."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from folio.handlers import wiring
from folio.handlers.http import caller, create_app, ok
from folio.handlers.logs import logger

app = create_app(wiring.settings().cors_origins)


@app.get("/admin/recent")
def recent() -> Response[str]:
    query = app.current_event.query_string_parameters or {}
    return ok(200, wiring.service().recent(caller(app), query.get("limit")))


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
