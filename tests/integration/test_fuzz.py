"""Fuzzing from the OpenAPI document: at least 100 generated requests per operation
against the real handlers on DynamoDB Local and moto's S3.

Requests mix values generated from the documented schemas (what API Gateway's
validators let through) with arbitrary JSON and text (what a handler must survive if
a validator is ever misconfigured). Callers are the owner, another user, an
administrator and nobody. Every response must be below 500, have a documented status,
and match the documented schema for that status (the success schema or `Error`).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from folio import openapi
from folio.contracts import BODY_SCHEMAS, ROUTES, Route
from folio.handlers import wiring
from tests.integration.conftest import ADMINS, Api, Engines, new_user

DOCUMENT = openapi.build()
COMPONENTS = DOCUMENT["components"]
EXAMPLES_PER_OPERATION = 100

# Keywords the generator understands. A schema that uses any other keyword fails the
# test, so a new constraint in folio.contracts cannot be silently ignored here.
KNOWN_KEYWORDS = {
    "$schema", "title", "description", "type", "properties", "required", "additionalProperties",
    "minProperties", "pattern", "minLength", "maxLength", "minimum", "maximum", "items", "maxItems",
    "uniqueItems", "$ref",
}  # fmt: skip

any_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10,
)


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        resolved: dict[str, Any] = COMPONENTS["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
        return resolved
    return schema


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values that satisfy `schema`, for the JSON Schema subset folio.contracts uses."""
    schema = resolve(schema)
    unknown = set(schema) - KNOWN_KEYWORDS
    assert not unknown, f"the fuzz generator does not understand {unknown}; teach from_schema()"
    kind = schema.get("type")
    if kind == "object":
        properties = {name: from_schema(sub) for name, sub in schema.get("properties", {}).items()}
        required = set(schema.get("required", ()))
        objects = st.fixed_dictionaries(
            {k: v for k, v in properties.items() if k in required},
            optional={k: v for k, v in properties.items() if k not in required},
        )
        return objects.filter(lambda value: len(value) >= schema.get("minProperties", 0))
    if kind == "string":
        low, high = schema.get("minLength", 0), schema.get("maxLength", 300)
        if "pattern" in schema:
            strings = st.from_regex(schema["pattern"], fullmatch=True)
            return strings.filter(lambda value: low <= len(value) <= high)
        return st.text(min_size=low, max_size=high)
    if kind == "integer":
        return st.integers(min_value=schema.get("minimum", -(2**40)), max_value=schema.get("maximum", 2**40))
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(
            from_schema(schema["items"]), max_size=schema.get("maxItems", 10), unique=schema.get("uniqueItems", False)
        )
    raise AssertionError(f"the fuzz generator has no rule for type {kind!r}")


def as_text(value: Any) -> str:
    """A parameter as it arrives in a query string or header."""
    return json.dumps(value) if isinstance(value, bool) else str(value)


def operation(route: Route) -> dict[str, Any]:
    result: dict[str, Any] = DOCUMENT["paths"][route.path][route.method.lower()]
    return result


def requests_for(route: Route, known_ids: list[str], version: int) -> st.SearchStrategy[dict[str, Any]]:
    parameters = operation(route).get("parameters", [])

    def documented_or_junk(parameter: dict[str, Any], junk: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(from_schema(parameter["schema"]).map(as_text), junk)

    path = st.fixed_dictionaries(
        {
            p["name"]: st.one_of(st.sampled_from(known_ids), documented_or_junk(p, st.text(min_size=1, max_size=70)))
            for p in parameters
            if p["in"] == "path"
        }
    )
    query = st.fixed_dictionaries(
        {}, optional={p["name"]: documented_or_junk(p, st.text(max_size=30)) for p in parameters if p["in"] == "query"}
    )
    printable = st.text(min_size=1, max_size=40).filter(str.isprintable)
    header_values = {p["name"]: documented_or_junk(p, printable) for p in parameters if p["in"] == "header"}
    # If-Match is always sent (its absence, 428, is tested in test_api_behaviour), often with
    # the current version of the uploaded document, quoted as an ETag or bare.
    if_match = header_values.pop("If-Match", None)
    current = st.sampled_from([f'"{version}"', str(version)])
    always = {} if if_match is None else {"If-Match": st.one_of(current, if_match)}
    headers = st.fixed_dictionaries(always, optional=header_values)
    body: st.SearchStrategy[Any] = st.none()
    if route.body:
        body = st.one_of(from_schema(COMPONENTS["schemas"][route.body]), any_json)
    return st.fixed_dictionaries(
        {
            "path": path,
            "query": query,
            "headers": headers,
            "body": body,
            # Mostly the owner, so that state-changing routes get past the ownership check.
            "who": st.sampled_from(["owner", "owner", "owner", "other", "admin", "nobody"]),
        }
    )


def check_documented(route: Route, status: int, body: Any) -> None:
    documented = operation(route)["responses"]
    assert status < 500, body
    assert str(status) in documented, f"{route.method} {route.path} returned undocumented {status}: {body}"
    content = documented[str(status)].get("content")
    if content is None:
        assert body is None, f"{status} is documented without a body, got {body}"
        return
    jsonschema.validate(body, {**content["application/json"]["schema"], "components": COMPONENTS})


def document_of(api: Api, owner: str) -> str:
    body = {"name": "f.pdf", "contentType": "application/pdf", "size": 3}
    reply = api.call("create", "POST", "/documents", sub=owner, body=body)
    assert reply.status == 201, reply.body
    return str(reply.body["document"]["id"])


# A valid body per request schema, for the one explicit example of each operation.
VALID_BODIES = {
    "CreateDocument": {"name": "fuzz.pdf", "contentType": "application/pdf", "size": 1},
    "UpdateDocument": {"name": "renamed.pdf"},
}


def valid_request(route: Route, *, uploaded: str, trashed: str, grantee: str, version: int) -> dict[str, Any]:
    """The request a well-behaved client would send, by the caller the route is for: run
    first, every time, so each operation's success path is exercised whatever is drawn."""
    ids = {"id": trashed if route.path.endswith("/restore") else uploaded, "userId": grantee}
    return {
        "path": {name: ids[name] for name in route.path_parameters},
        "query": {},
        "headers": {"If-Match": f'"{version}"'} if "If-Match" in route.headers else {},
        "body": VALID_BODIES[route.body] if route.body else None,
        "who": "admin" if route.admins_only else "owner",
    }


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_generated_requests_never_fail_and_match_the_document(api: Api, engines: Engines, route: Route) -> None:
    # Given: an owner with an uploaded document shared with another user, a trashed
    # document, and an administrator
    owner, other, admin = new_user(), new_user(), new_user()
    uploaded, trashed = (document_of(api, owner) for _ in range(2))
    repository = wiring.repository()
    repository.mark_available(repository.get_document(owner, uploaded))
    assert api.call("modify", "PUT", f"/documents/{uploaded}/shares/{other}", sub=owner).status == 200
    assert api.call("modify", "DELETE", f"/documents/{trashed}", sub=owner).status == 204
    version = api.call("read", "GET", f"/documents/{uploaded}", sub=owner).body["version"]
    callers = {"owner": {"sub": owner}, "other": {"sub": other}, "admin": {"sub": admin, "groups": (ADMINS,)}}
    statuses: Counter[int] = Counter()
    well_behaved = valid_request(route, uploaded=uploaded, trashed=trashed, grantee=other, version=version)

    @settings(
        max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(requests_for(route, [uploaded, trashed], version))
    @example(request=well_behaved)
    def fuzz(request: dict[str, Any]) -> None:
        # When: the generated request reaches the route's handler
        path = route.path
        for name, value in request["path"].items():
            path = path.replace("{" + name + "}", value)
        raw = None if request["body"] is None else json.dumps(request["body"])
        who = callers.get(request["who"], {"sub": None})
        reply = api.call(
            route.group.value, route.method, path, raw_body=raw, query=request["query"] or None,
            headers=request["headers"], **who,
        )  # fmt: skip
        statuses[reply.status] += 1
        # Then: a documented status with a documented body, never a 5xx
        check_documented(route, reply.status, reply.body)
        if request is well_behaved:  # the explicit example, not a drawn request equal to it
            assert reply.status == route.success, f"a valid request got {reply.status}: {reply.body}"

    fuzz()

    print(f"\n{route.method} {route.path}: {dict(sorted(statuses.items()))}")
    assert sum(statuses.values()) >= EXAMPLES_PER_OPERATION


@pytest.mark.parametrize("name", sorted(BODY_SCHEMAS))
@settings(max_examples=50, deadline=None, database=None)
@given(data=st.data())
def test_the_generator_draws_only_valid_bodies_from_a_schema(name: str, data: st.DataObject) -> None:
    """The documented half of the fuzz input must really be valid, or the fuzz test would
    only ever exercise the handlers' rejections."""
    value = data.draw(from_schema(COMPONENTS["schemas"][name]))

    jsonschema.validate(value, COMPONENTS["schemas"][name])


@pytest.mark.parametrize(
    ("name", "schema"),
    sorted({(p["name"], json.dumps(p["schema"])) for path in DOCUMENT["paths"].values()
            for op in path.values() for p in op.get("parameters", [])}),
)  # fmt: skip
@settings(max_examples=30, deadline=None, database=None)
@given(data=st.data())
def test_the_generator_draws_only_valid_parameters(name: str, schema: str, data: st.DataObject) -> None:
    value = data.draw(from_schema(json.loads(schema)))

    jsonschema.validate(value, json.loads(schema))
