"""Fuzzing with schemathesis from the OpenAPI document (folio.openapi), against the real
handlers on DynamoDB Local and moto, behind an in-process API Gateway (tests/support/gateway.py).

- Through the gateway: every operation, positive and negative data; bodies that fail the
  gateway's model never reach a function, as on AWS.
- Bypassing the gateway's model: the operations with a body, negative data, bodies reach the
  handler unvalidated (as any non-JSON Content-Type does on AWS): the handlers alone must
  refuse them with a documented 4xx.
- Stateful: schemathesis follows the document's links (create, then read, rename, share,
  trash, restore, purge the same document) as an owner and another user, and an oracle of who
  owns, who was granted and what was purged (tests/support/visibility.py) says who may get a 2xx.
- With DAX on and off (the `read_path` fixture): the fuzzing through the gateway and the
  stateful sequences run twice, the second time with the hot reads of docs/read-path.md going
  through the unmodified DAX client to a loopback DAX server (tests/support/fake_dax.py).
- Explicit cases: one well-behaved request per operation gets its documented success, and the
  malformed inputs an outside review found (issue 7, items 1-3) get a 4xx, never a 5xx.

All 14 of schemathesis' built-in checks run on each response: not_a_server_error,
status_code_conformance, content_type_conformance, response_schema_conformance,
response_headers_conformance (ETag), positive_data_acceptance, negative_data_rejection,
missing_required_header, unsupported_method (API Gateway answers an undeclared method with
403, which the check accepts), allow_header_conformance, ignored_auth (it re-sends without a
token and with a wrong one), use_after_free, ensure_resource_availability and
object_level_authorization (inert: it needs schemathesis' own multi-identity auth; TwoUsers
does that job). The stateful test turns off use_after_free and ignored_auth (see config()).
Where the document says something only in prose, keep_failure() says which refusals are right.

FOLIO_FUZZ_EXAMPLES sets examples per operation (default 25) and state machine runs; `make fuzz`
runs with more.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import rule
from schemathesis import Case, Config, HookContext, Response
from schemathesis.core import NOT_SET
from schemathesis.core.failures import Failure
from schemathesis.core.parameters import ParameterLocation
from schemathesis.openapi.checks import EnsureResourceAvailability, RejectedPositiveData

from folio import openapi
from folio.contracts import EXCLUSIVE_LIST_FILTERS, ID_PATTERN, ROUTES, Route
from tests.integration.conftest import ADMINS, Api, new_user
from tests.support.gateway import GATEWAY_URL, ApiGateway, Identity, gateway_session
from tests.support.visibility import Visibility

EXAMPLES = int(os.environ.get("FOLIO_FUZZ_EXAMPLES", "25"))
STATEFUL_RUNS = 2 * EXAMPLES

# Schema-valid data may still be refused for what the schema cannot say: an id that names no
# document (404), a state that forbids the change (409), a stale version (412), a size over the
# upload limit (413), a full quota or a reused idempotency key (422). A 400 or 428 for
# schema-valid data means the published contract says less than the handlers enforce.
POSITIVE_DATA_MAY_GET = ["2xx", "401", "403", "404", "409", "412", "413", "422", "429"]
# A missing required header (If-Match) is 428 Precondition Required (RFC 6585), the status made for it.
MISSING_HEADER_MAY_GET = ["400", "401", "403", "406", "415", "422", "428"]
# Schema-violating data must be refused with a 4xx, as schemathesis expects by default, or
# with a 413 when the handler looks at the size first.
NEGATIVE_DATA_MAY_GET = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]


def config(*, mode: str, examples: int, stateful: bool = False) -> Config:
    checks: dict[str, Any] = {
        "positive_data_acceptance": {"expected-statuses": POSITIVE_DATA_MAY_GET},
        "negative_data_rejection": {"expected-statuses": NEGATIVE_DATA_MAY_GET},
        "missing_required_header": {"expected-statuses": MISSING_HEADER_MAY_GET},
    }
    if stateful:
        # DELETE without ?purge=true moves a document to the trash, where GET still finds it:
        # TwoUsers checks what a purge must do instead. Missing and wrong tokens are the
        # stateless tests' part (every operation, each run), not worth a probe per step here.
        checks |= {"use_after_free": {"enabled": False}, "ignored_auth": {"enabled": False}}
    return Config.from_dict(
        {
            "base-url": GATEWAY_URL,
            "generation": {"mode": mode, "max-examples": examples, "database": "none"},
            "checks": checks,
        }
    )


# Identities the gateway's Cognito authorizer knows, by name; `sign_in_fresh_users` replaces them.
USERS: dict[str, Identity] = {}


def token(name: str) -> str:
    return f"{name}-token"


def sign_in_fresh_users(*gateways: ApiGateway) -> None:
    """New users (so quotas and documents start empty): an owner, another user, an admin."""
    USERS.update(owner=Identity(new_user()), other=Identity(new_user()), admin=Identity(new_user(), (ADMINS,)))
    for gateway in gateways:
        gateway.identities = {token(name): identity for name, identity in USERS.items()}


class CallerToken:
    """The id token a client sends: the admin's for the admin feed, the owner's elsewhere."""

    def get(self, case: Case, context: Any) -> str:
        return token("admin" if case.path == "/admin/recent" else "owner")

    def set(self, case: Case, data: str, context: Any) -> None:
        case.headers["Authorization"] = data


_ID = re.compile(ID_PATTERN)


def share_with_a_known_user(context: HookContext, path_parameters: dict[str, Any] | None) -> st.SearchStrategy[Any]:
    """A generated grantee is a stranger; often share with the owner or the other user instead."""
    grantee = (path_parameters or {}).get("userId")
    if not isinstance(grantee, str) or not _ID.fullmatch(grantee) or "other" not in USERS:
        return st.just(path_parameters)
    users = [{**path_parameters, "userId": USERS[name].sub} for name in ("other", "owner")]
    return st.sampled_from([path_parameters, *users])


def error_code(response: Response) -> str | None:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return None


# Who created each document in the stateful test, by document id: the token its creator sent.
CREATED_WITH: dict[str, str] = {}


def keep_failure(context: HookContext, failure: Failure, case: Case, response: Response) -> bool:
    """Every failure stands, except where the document says more than schemathesis reads:
    - a cursor is opaque: one this API never issued is a 400 `invalid_cursor` (the schema says "a string");
    - `tag` and `type` exclude each other, and nobody may share with themselves, which the
      document can only say in prose;
    - a document created by one user is, rightly, not found by another (schemathesis'
      ensure_resource_availability knows one caller only; TwoUsers checks who may see what)."""
    if isinstance(failure, EnsureResourceAvailability):
        creator = CREATED_WITH.get(str(case.path_parameters.get("id")))
        return creator is None or creator == response.request.headers.get("Authorization")
    if not isinstance(failure, RejectedPositiveData) or response.status_code != 400:
        return True
    code = error_code(response)
    if code == "invalid_cursor" and "cursor" in case.query:
        return False
    if code == "invalid_input" and set(EXCLUSIVE_LIST_FILTERS) <= set(case.query):
        return False
    caller = gateway_identity(response)
    return not (code == "invalid_input" and caller is not None and case.path_parameters.get("userId") == caller.sub)


def gateway_identity(response: Response) -> Identity | None:
    return next((i for n, i in USERS.items() if token(n) == response.request.headers.get("Authorization")), None)


def load(gateway: ApiGateway, *, mode: str, examples: int = EXAMPLES, stateful: bool = False) -> Any:
    schema = schemathesis.openapi.from_dict(
        openapi.build(), config=config(mode=mode, examples=examples, stateful=stateful)
    )
    schema.app = gateway  # every request, and every probe a check sends, goes to this gateway
    schema.auth(refresh_interval=None)(CallerToken)
    schema.hook("flatmap_path_parameters")(share_with_a_known_user)
    schema.hook("filter_failure")(keep_failure)
    return schema


def only_the_body_is_invalid(context: HookContext, case: Case) -> bool:
    """Past the model, what matters is the body: a case whose parameters are invalid too would
    be refused for those before the handler ever looks at the body."""
    meta = case.meta
    return meta is None or (
        meta.is_negative_at(ParameterLocation.BODY)
        and not any(meta.is_negative_at(where) for where in (ParameterLocation.PATH, ParameterLocation.QUERY,
                                                              ParameterLocation.HEADER))
    )  # fmt: skip


def a_current_version(context: HookContext, headers: dict[str, Any] | None) -> dict[str, Any] | None:
    """If-Match is read before the body: send a version, so that the body is what gets judged."""
    if context.operation is not None and context.operation.method.upper() == "PATCH":
        return {**(headers or {}), "If-Match": '"1"'}
    return headers


GATEWAY = ApiGateway({}, {})
MODEL_BYPASSED = ApiGateway({}, {}, apply_body_models=False)
through_the_gateway = load(GATEWAY, mode="all")
# Two operations, and most drawn cases are filtered out (only_the_body_is_invalid): more examples.
bypassing_the_model = load(MODEL_BYPASSED, mode="negative", examples=4 * EXAMPLES).include(
    name=[f"{route.method} {route.path}" for route in ROUTES if route.body]
)
bypassing_the_model.hook("filter_case")(only_the_body_is_invalid)
bypassing_the_model.hook("map_headers")(a_current_version)
in_sequences = load(GATEWAY, mode="positive", stateful=True)


@pytest.fixture(scope="module", autouse=True)
def gateways(api: Api) -> Iterator[None]:
    handlers = {group: module.handler for group, module in api.modules.items()}
    for gateway in (GATEWAY, MODEL_BYPASSED):
        gateway.handlers = handlers
    sign_in_fresh_users(GATEWAY, MODEL_BYPASSED)
    yield


@pytest.fixture
def fresh_users() -> None:
    sign_in_fresh_users(GATEWAY, MODEL_BYPASSED)


@through_the_gateway.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_through_the_gateway(case: Case, read_path: str) -> None:
    # read_path "dax": the hot reads through the DAX client (docs/read-path.md).
    case.call_and_validate()


@bypassing_the_model.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck))
def test_bodies_that_bypass_the_gateway_model(case: Case) -> None:
    case.call_and_validate()


class TwoUsers(in_sequences.as_state_machine()):  # type: ignore[misc]
    """Sequences on the same documents by the owner and another user; tests/support/visibility.py
    says who may get a 2xx about which document."""

    def setup(self) -> None:
        sign_in_fresh_users(GATEWAY, MODEL_BYPASSED)
        self.acting = "owner"
        self.visibility = Visibility()

    @rule(name=st.sampled_from(["owner", "other"]))
    def sign_in_as(self, name: str) -> None:
        self.acting = name

    def before_call(self, case: Case) -> None:
        # A link's value is JSON (`$response.body#/version` is a number); a header is text.
        for name, value in list(case.headers.items()):
            if not isinstance(value, str):
                case.headers[name] = json.dumps(value)

    def get_call_kwargs(self, case: Case) -> dict[str, Any]:
        return {"headers": {"Authorization": token(self.acting)}}

    def after_call(self, response: Response, case: Case) -> None:
        super().after_call(response, case)
        created = case.method == "POST" and case.path == "/documents" and response.status_code == 201
        body = response.json() if created else None
        self.visibility.observe(
            self.acting, case.method, case.path, case.path_parameters, case.query, response.status_code, body,
            user_ids={name: identity.sub for name, identity in USERS.items()},
        )  # fmt: skip
        if created:
            CREATED_WITH[body["document"]["id"]] = token(self.acting)
            self.upload(body["document"]["id"])

    def upload(self, document: str) -> None:
        """What the upload worker does once the file is in the bucket (uploads go to S3, not
        through this API), so that downloads have something to find."""
        from folio.handlers import wiring

        wiring.writes().mark_available(
            wiring.reads().get_document(GATEWAY.identities[token(self.acting)].sub, document)
        )


def test_stateful_sequences_across_two_users(read_path: str) -> None:
    # read_path "dax": who may see what must not change when the hot reads go through DAX.
    TwoUsers.run(
        settings=settings(
            max_examples=STATEFUL_RUNS,
            stateful_step_count=20,
            # The steps depend on the API's answers (links) and fresh users per run: a
            # replay is not the same run, so report the first failure as it happened.
            phases=[Phase.explicit, Phase.generate],
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )


# -- explicit cases -----------------------------------------------------------------------

WELL_BEHAVED_BODIES = {
    "CreateDocument": {"name": "fuzz.pdf", "contentType": "application/pdf", "size": 1},
    "UpdateDocument": {"name": "renamed.pdf"},
}


def create_document(session: Any, name: str = "owner") -> dict[str, Any]:
    body = {"name": "f.pdf", "contentType": "application/pdf", "size": 3}
    reply = session.post(f"{GATEWAY_URL}/documents", json=body, headers={"Authorization": token(name)})
    assert reply.status_code == 201, reply.text
    document: dict[str, Any] = reply.json()["document"]
    return document


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_a_well_behaved_request_gets_the_documented_success(fresh_users: None, route: Route) -> None:
    # Given: the owner's uploaded document shared with the other user, and a trashed one
    from folio.handlers import wiring

    session = gateway_session(GATEWAY)
    uploaded, trashed = create_document(session), create_document(session)
    wiring.writes().mark_available(wiring.reads().get_document(USERS["owner"].sub, uploaded["id"]))
    owner = {"Authorization": token("owner")}
    shared = session.put(f"{GATEWAY_URL}/documents/{uploaded['id']}/shares/{USERS['other'].sub}", headers=owner)
    assert shared.status_code == 200
    assert session.delete(f"{GATEWAY_URL}/documents/{trashed['id']}", headers=owner).status_code == 204
    version = session.get(f"{GATEWAY_URL}/documents/{uploaded['id']}", headers=owner).json()["version"]
    operation = through_the_gateway[route.path][route.method]
    ids = {"id": trashed["id"] if route.path.endswith("/restore") else uploaded["id"], "userId": USERS["other"].sub}

    # When: the request a well-behaved client would send
    case = operation.Case(
        path_parameters={name: ids[name] for name in route.path_parameters},
        headers={"If-Match": f'"{version}"'} if "If-Match" in route.headers else {},
        body=WELL_BEHAVED_BODIES[route.body] if route.body else NOT_SET,
        media_type="application/json" if route.body else None,
    )
    caller = {"Authorization": token("admin" if route.admins_only else "owner")}
    response = case.call(headers=caller)

    # Then: the documented success, conforming to the document in every respect schemathesis checks
    assert response.status_code == route.success, response.text
    case.validate_response(response, headers=caller)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# What the review sent (issue 7, items 1-3): deep nesting, unhashable tags, a trailing newline
# where `$` ends the pattern, characters a name must not have.
MALFORMED_BODIES = {
    "50,000 levels of nesting": nested(50_000),
    "a tag that is an object": json.dumps({"tags": [{}]}),
    "a tag that is a list": json.dumps({"tags": [["a"]]}),
    "a tag with a trailing newline": json.dumps({"tags": ["alpha\n"]}),
    "a name with DEL": json.dumps({"name": "a\x7fb.pdf"}),
    "a name with C1 CSI": json.dumps({"name": "a\x9b31mb.pdf"}),
    "a name with NEL": json.dumps({"name": "a\x85b.pdf"}),
    "a name with a lone surrogate": json.dumps({"name": "a\ud800b.pdf"}),
    "a name with a bidi override": json.dumps({"name": "invoice\u202efdp.exe"}),
}
CREATE_ONLY = {
    "a content type with a trailing newline": {"contentType": "text/plain\n"},
}
# A body sent as text/plain passes the real gateway unvalidated; the other way sends JSON past
# a gateway whose model is not applied. Either way only the handler stands in between.
WAYS_PAST_THE_MODEL = {"text/plain through the gateway": (GATEWAY, "text/plain"),
                       "JSON without the model": (MODEL_BYPASSED, "application/json")}  # fmt: skip


def as_create(body: str) -> str:
    """A malformed field inside an otherwise valid create body (the nesting stays as it is)."""
    try:
        fields = json.loads(body)
    except RecursionError:
        return body
    return json.dumps({"name": "f.pdf", "contentType": "application/pdf", "size": 1, **fields})


def assert_refused(response: Any) -> None:
    assert 400 <= response.status_code < 500, f"{response.status_code}: {response.text}"
    assert set(response.json()) == {"error"}, response.text


@pytest.mark.parametrize("way", WAYS_PAST_THE_MODEL)
@pytest.mark.parametrize(
    "body",
    [*MALFORMED_BODIES, *CREATE_ONLY],
)
def test_malformed_create_bodies_are_refused_by_the_handler(fresh_users: None, way: str, body: str) -> None:
    gateway, content_type = WAYS_PAST_THE_MODEL[way]
    sent = as_create(MALFORMED_BODIES[body]) if body in MALFORMED_BODIES else as_create(json.dumps(CREATE_ONLY[body]))

    response = gateway_session(gateway).post(
        f"{GATEWAY_URL}/documents",
        data=sent.encode("utf-8", errors="surrogatepass"),
        headers={"Authorization": token("owner"), "Content-Type": content_type},
    )

    assert_refused(response)


@pytest.mark.parametrize("way", WAYS_PAST_THE_MODEL)
@pytest.mark.parametrize("body", MALFORMED_BODIES)
def test_malformed_update_bodies_are_refused_by_the_handler(fresh_users: None, way: str, body: str) -> None:
    gateway, content_type = WAYS_PAST_THE_MODEL[way]
    session = gateway_session(gateway)
    document = create_document(session)

    response = session.patch(
        f"{GATEWAY_URL}/documents/{document['id']}",
        data=MALFORMED_BODIES[body].encode("utf-8", errors="surrogatepass"),
        headers={"Authorization": token("owner"), "Content-Type": content_type, "If-Match": '"1"'},
    )

    assert_refused(response)


@pytest.mark.parametrize("query", ["tag=a%0A", "type=pdf%0A"])
def test_a_filter_with_a_trailing_newline_is_refused(query: str) -> None:
    response = gateway_session(GATEWAY).get(
        f"{GATEWAY_URL}/documents?{query}", headers={"Authorization": token("owner")}
    )

    assert response.status_code == 400, response.text
