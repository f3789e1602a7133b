"""PATCH/DELETE /documents/{id}, restore, and shares: changes to the caller's own documents."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from folio.handlers import wiring
from folio.handlers.http import caller, create_app, header, json_body, ok
from folio.handlers.logs import logger
from folio.requests import DeleteDocument, ShareRequest, UpdateDocument, document_id

app = create_app(wiring.settings().cors_origins)


@app.patch("/documents/<doc_id>")
def update_document(doc_id: str) -> Response[str]:
    who = caller(app)
    request = UpdateDocument.parse(doc_id, header(app, "If-Match"), json_body(app))
    document = wiring.service().update(who, request)
    return ok(200, document, {"ETag": f'"{document["version"]}"'})


@app.delete("/documents/<doc_id>")
def delete_document(doc_id: str) -> Response[str]:
    who = caller(app)
    query = app.current_event.query_string_parameters or {}
    wiring.service().delete(who, DeleteDocument.parse(doc_id, query.get("purge")))
    return ok(204, None)


@app.post("/documents/<doc_id>/restore")
def restore_document(doc_id: str) -> Response[str]:
    who = caller(app)
    return ok(200, wiring.service().restore(who, document_id(doc_id)))


@app.put("/documents/<doc_id>/shares/<user_id>")
def share_document(doc_id: str, user_id: str) -> Response[str]:
    who = caller(app)
    return ok(200, wiring.service().share(who, ShareRequest.to_share(who.user_id, doc_id, user_id)))


@app.delete("/documents/<doc_id>/shares/<user_id>")
def unshare_document(doc_id: str, user_id: str) -> Response[str]:
    who = caller(app)
    wiring.service().unshare(who, ShareRequest.to_unshare(doc_id, user_id))
    return ok(204, None)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
