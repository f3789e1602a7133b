"""GET /documents/{id}/download: a short-lived URL for the owner or a grantee."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from folio.handlers import wiring
from folio.handlers.http import caller, create_app, ok
from folio.handlers.logs import logger
from folio.requests import document_id

app = create_app(wiring.settings().cors_origins)


@app.get("/documents/<doc_id>/download")
def download(doc_id: str) -> Response[str]:
    who = caller(app)
    return ok(200, wiring.service().download(who, document_id(doc_id)))


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
