"""POST /documents: a PENDING document and a presigned upload form, idempotent per key.

Only the document is remembered for a replay; the upload form is signed afresh on every
answer, so a client that retries within the hour never gets a form that has expired."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from folio.dynamodb import THROTTLING_ERRORS
from folio.errors import Conflict, IdempotencyKeyReused, Throttled
from folio.handlers import wiring
from folio.handlers.http import caller, create_app, header, json_body, ok
from folio.handlers.logs import logger
from folio.requests import CreateDocument, valid_idempotency_key

app = create_app(wiring.settings().cors_origins)
CREATED_NOW = "createdNow"  # set on the request by the function the idempotency layer runs once
# A retried request (same caller, same key) within an hour gets the same document again.
idempotency = IdempotencyConfig(
    event_key_jmespath="key", payload_validation_jmespath="payload", expires_after_seconds=3600
)


def create_document_for(request: dict[str, Any]) -> dict[str, Any]:
    # Marks the request as answered by a new document, not by the idempotency record.
    request[CREATED_NOW] = True
    return wiring.service().create_document(caller(app), parsed(request["body"]))


def parsed(body: dict[str, Any]) -> CreateDocument:
    return CreateDocument.parse(body, max_upload_bytes=wiring.settings().max_upload_bytes)


def create_once(request: dict[str, Any]) -> dict[str, Any]:
    """create_document_for, once per (caller, Idempotency-Key): the document, remembered for
    an hour. The store is wiring's, made on first use with the shared DynamoDB client, not
    at import; wrapping is cheap."""
    once = idempotent_function(
        data_keyword_argument="request", config=idempotency, persistence_store=wiring.idempotency_store()
    )(create_document_for)
    result: dict[str, Any] = once(request=request)
    return result


@app.post("/documents")
def create_document() -> Response[str]:
    who = caller(app)
    body = json_body(app)
    key = header(app, "Idempotency-Key")
    if key is None:
        return ok(201, wiring.service().create(who, parsed(body)))
    valid_idempotency_key(key)
    payload = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    request = {"key": f"{who.user_id}:{key}", "payload": payload, "body": body}
    try:
        # The key is scoped to the caller: two users may use the same key independently.
        document = create_once(request=request)
    except IdempotencyValidationError as error:
        raise IdempotencyKeyReused("this Idempotency-Key was used with a different request") from error
    except IdempotencyAlreadyInProgressError as error:
        raise Conflict("a request with this Idempotency-Key is still in progress") from error
    except IdempotencyPersistenceLayerError as error:
        # Powertools wraps whatever the idempotency table answered; throttling is a 429
        # like everywhere else, and anything else stays a 500 (logged, never shown).
        if throttled(error):
            raise Throttled("too many requests right now; try again shortly") from error
        raise
    # Records stored before forms were signed per answer hold the whole answer (for an hour
    # after such a deploy).
    document = document.get("document", document)
    if request.get(CREATED_NOW):
        return ok(201, wiring.service().with_upload_form(who, document))
    # A replay: the document may have been uploaded or purged since (one GetItem).
    return ok(201, wiring.service().replayed_with_upload_form(who, document))


def throttled(error: BaseException) -> bool:
    """Whether DynamoDB's throttling is anywhere in the chain of causes."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, Throttled) or (
            isinstance(seen, ClientError) and seen.response.get("Error", {}).get("Code") in THROTTLING_ERRORS
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    idempotency.register_lambda_context(context)
    return app.resolve(event, context)
