"""GET /documents, /documents/{id}, /trash, /shared, /me/usage: reads of the caller's own data."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from folio.handlers import wiring
from folio.handlers.http import caller, create_app, ok
from folio.handlers.logs import logger

app = create_app(wiring.settings().cors_origins)


@app.get("/documents")
def list_documents() -> Response[str]:
    query = app.current_event.query_string_parameters or {}
    service = wiring.service()
    return ok(
        200,
        service.list(
            caller(app),
            tag=query.get("tag"),
            doc_type=query.get("type"),
            limit=query.get("limit"),
            token=query.get("cursor"),
        ),
    )


@app.get("/documents/<doc_id>")
def get_document(doc_id: str) -> Response[str]:
    document = wiring.service().get(caller(app), doc_id)
    return ok(200, document, {"ETag": f'"{document["version"]}"'})


@app.get("/trash")
def list_trash() -> Response[str]:
    query = app.current_event.query_string_parameters or {}
    return ok(200, wiring.service().trash_list(caller(app), query.get("limit"), query.get("cursor")))


@app.get("/shared")
def list_shared() -> Response[str]:
    query = app.current_event.query_string_parameters or {}
    return ok(200, wiring.service().shared(caller(app), query.get("limit"), query.get("cursor")))


@app.get("/me/usage")
def usage() -> Response[str]:
    return ok(200, wiring.service().usage(caller(app)))


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
