"""What a route answers when DynamoDB refuses is a status its contract documents.

A lost transaction race (`TransactionConflict`) or throttling cannot be produced on cue by
DynamoDB Local, so a botocore event hook on the real client answers every
TransactWriteItems (or every call) with that refusal, and each route's well-formed request
runs through the real handler. Whatever comes back must be below 500 and listed for that
operation in the OpenAPI document: this is how an undocumented 409 on PATCH or on share
deletion is found, for every route at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from folio import openapi
from folio.contracts import ROUTES, FunctionGroup, Route
from folio.handlers import wiring
from tests.integration.conftest import ADMINS, Api, Engines, new_user

DOCUMENT = openapi.build()
VALID_BODIES = {
    "CreateDocument": {"name": "a.pdf", "contentType": "application/pdf", "size": 1},
    "UpdateDocument": {"name": "renamed.pdf"},
}


def refusal(code: str, **fields: Any) -> tuple[AWSResponse, dict[str, Any]]:
    parsed = {"Error": {"Code": code, "Message": "injected by the test"}, "ResponseMetadata": {}, **fields}
    return AWSResponse("http://dynamodb.invalid", 400, {}, None), parsed


@pytest.fixture
def refuse_transactions(engines: Engines) -> Iterator[None]:
    """Every TransactWriteItems is cancelled: each item lost a race with another writer."""
    events = wiring.dynamodb_client().meta.events
    item_counts: list[int] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        item_counts.append(len(params["TransactItems"]))

    def cancel(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        reasons = [{"Code": "TransactionConflict"}] * item_counts[-1]
        return refusal("TransactionCanceledException", CancellationReasons=reasons)

    events.register("before-parameter-build.dynamodb.TransactWriteItems", count, unique_id="test-count")
    events.register("before-call.dynamodb.TransactWriteItems", cancel, unique_id="test-cancel")
    yield
    events.unregister("before-parameter-build.dynamodb.TransactWriteItems", unique_id="test-count")
    events.unregister("before-call.dynamodb.TransactWriteItems", unique_id="test-cancel")


@pytest.fixture
def throttle_everything(engines: Engines) -> Iterator[None]:
    events = wiring.dynamodb_client().meta.events

    def throttle(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        return refusal("ThrottlingException")

    events.register("before-call.dynamodb", throttle, unique_id="test-throttle")
    yield
    events.unregister("before-call.dynamodb", unique_id="test-throttle")


def prepared(api: Api) -> dict[str, str]:
    """An owner with an AVAILABLE document shared with another user, and a trashed one."""
    owner, other, admin = new_user(), new_user(), new_user()
    ids = []
    for _ in range(2):
        reply = api.call("create", "POST", "/documents", sub=owner, body=VALID_BODIES["CreateDocument"])
        assert reply.status == 201, reply.body
        ids.append(reply.body["document"]["id"])
    uploaded, trashed = ids
    wiring.writes().mark_available(wiring.reads().get_document(owner, uploaded))
    assert api.call("modify", "PUT", f"/documents/{uploaded}/shares/{other}", sub=owner).status == 200
    assert api.call("modify", "DELETE", f"/documents/{trashed}", sub=owner).status == 204
    return {"owner": owner, "other": other, "admin": admin, "uploaded": uploaded, "trashed": trashed}


def call_well_formed(api: Api, route: Route, world: dict[str, str], *, optional_headers: bool) -> Any:
    """The route's well-formed request; with `optional_headers`, also every optional header
    it reads (an Idempotency-Key takes create through another code path and another table)."""
    document = world["trashed"] if route.path.endswith("/restore") else world["uploaded"]
    path = route.path.replace("{id}", document).replace("{userId}", world["other"])
    headers = {"If-Match": '"2"'} if "If-Match" in route.headers else {}
    if optional_headers and "Idempotency-Key" in route.headers:
        headers["Idempotency-Key"] = new_user()
    who = {"sub": world["admin"], "groups": (ADMINS,)} if route.admins_only else {"sub": world["owner"]}
    body = VALID_BODIES[route.body] if route.body else None
    return api.call(route.group.value, route.method, path, body=body, headers=headers, **who)


def documented(route: Route) -> set[int]:
    return {int(status) for status in DOCUMENT["paths"][route.path][route.method.lower()]["responses"]}


# The search reads the table only to check the hits its engine found, and here the engine finds
# none; a throttled check, and the engine's own refusals, are tests/unit/test_search.py's.
ROUTES_ON_DYNAMODB = [route for route in ROUTES if route.group is not FunctionGroup.SEARCH]
ROUTE_VARIANTS = [
    pytest.param(route, optional, id=f"{route.method} {route.path}" + (" +optional headers" if optional else ""))
    for route in ROUTES_ON_DYNAMODB
    for optional in ((False, True) if set(route.headers) - {"If-Match"} else (False,))
]


@pytest.mark.parametrize("refusal", ["refuse_transactions", "throttle_everything"])
@pytest.mark.parametrize(("route", "optional_headers"), ROUTE_VARIANTS)
def test_what_dynamodb_refuses_is_answered_with_a_documented_status(
    api: Api, route: Route, optional_headers: bool, refusal: str, request: pytest.FixtureRequest
) -> None:
    # Given the route's world, and DynamoDB refusing (a lost race on every transaction, or throttling)
    world = prepared(api)
    request.getfixturevalue(refusal)

    # When the route's well-formed request runs
    reply = call_well_formed(api, route, world, optional_headers=optional_headers)

    # Then a status the contract lists for the operation, never a 5xx; throttling is always a 429
    assert reply.status < 500, reply.body
    assert reply.status in documented(route), f"undocumented {reply.status}: {reply.body}"
    if refusal == "throttle_everything":
        assert reply.status == 429, reply.body


def test_the_injected_conflict_reaches_the_handler(api: Api, request: pytest.FixtureRequest) -> None:
    # The hook must really cancel transactions, or the race cases above pass vacuously.
    world = prepared(api)
    request.getfixturevalue("refuse_transactions")

    reply = api.call("modify", "DELETE", f"/documents/{world['uploaded']}/shares/{world['other']}", sub=world["owner"])

    assert (reply.status, reply.body["error"]["code"]) == (409, "conflict")
