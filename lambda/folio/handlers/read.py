"""GET /documents, /documents/{id}, /trash, /shared, /me/usage: reads of the caller's own data."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from folio.handlers import wiring
from folio.handlers.http import caller, create_app, ok
from folio.handlers.logs import logger
from folio.requests import ListQuery, PageQuery, document_id

app = create_app(wiring.settings().cors_origins)


@app.get("/documents")
def list_documents() -> Response[str]:
    who = caller(app)
    return ok(200, wiring.service().list(who, ListQuery.parse(app.current_event.query_string_parameters or {})))


@app.get("/documents/<doc_id>")
def get_document(doc_id: str) -> Response[str]:
    who = caller(app)
    document = wiring.service().get(who, document_id(doc_id))
    return ok(200, document, {"ETag": f'"{document["version"]}"'})


@app.get("/trash")
def list_trash() -> Response[str]:
    who = caller(app)
    return ok(200, wiring.service().trash_list(who, PageQuery.parse(app.current_event.query_string_parameters or {})))


@app.get("/shared")
def list_shared() -> Response[str]:
    who = caller(app)
    return ok(200, wiring.service().shared(who, PageQuery.parse(app.current_event.query_string_parameters or {})))


@app.get("/me/usage")
def usage() -> Response[str]:
    return ok(200, wiring.service().usage(caller(app)))


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
