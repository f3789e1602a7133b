"""GET /search: full-text search of the caller's documents and those shared with the caller."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

# The search client, imported during the function's init (not on its first request), so the cold
# import `make bench` reports includes it.
from folio import search as _search_client  # noqa: F401
from folio.handlers import wiring
from folio.handlers.http import caller, create_app, ok
from folio.handlers.logs import logger
from folio.requests import SearchQuery

app = create_app(wiring.settings().cors_origins)


@app.get("/search")
def search() -> Response[str]:
    who = caller(app)
    query = SearchQuery.parse(app.current_event.query_string_parameters or {})
    return ok(200, wiring.search_service().search(who, query))


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
