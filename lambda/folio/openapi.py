"""The OpenAPI 3.0 document of the REST API, generated from folio.contracts.

`make openapi` writes it to docs/openapi.json; tests/unit/test_openapi.py fails when
the file and the code disagree, so a change to the API shows up in review as a diff.
"""

from __future__ import annotations

import json
from typing import Any

from folio.contracts import (
    BODY_SCHEMAS,
    EXCLUSIVE_LIST_FILTERS,
    HEADERS,
    ID_PATTERN,
    RESPONSE_SCHEMAS,
    ROUTES,
    TAG_PATTERN,
    Route,
)

_DESCRIPTIONS = {
    400: "invalid input (body, parameter or cursor)",
    401: "no or invalid token",
    403: "signed in, but not allowed",
    404: "no such document for this caller",
    409: "conflicts with the current state, or another request changed the document at the same time",
    412: "If-Match does not match the current version",
    413: "larger than the upload limit",
    415: "the body is not declared as application/json",
    422: "well-formed but not acceptable (quota exceeded, idempotency payload mismatch)",
    428: "If-Match is required",
    429: "throttled",
}
_EXCLUSIVE_FILTERS = " and ".join(f"`{name}`" for name in EXCLUSIVE_LIST_FILTERS) + (
    " exclude each other: send at most one of them (both together: 400)."
)
_QUERY_SCHEMAS: dict[str, dict[str, Any]] = {
    "limit": {"type": "integer", "minimum": 1, "maximum": 100},
    "cursor": {"type": "string", "maxLength": 2048},
    "tag": {"type": "string", "pattern": TAG_PATTERN},
    "type": {"type": "string", "pattern": TAG_PATTERN},
    "purge": {"type": "boolean"},
}


def _request_schema(name: str) -> dict[str, Any]:
    return {k: v for k, v in BODY_SCHEMAS[name].items() if k not in ("$schema", "title")}


def _operation(route: Route) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "pattern": ID_PATTERN}}
        for name in route.path_parameters
    ]
    exclusive = set(EXCLUSIVE_LIST_FILTERS) <= set(route.query)
    for name in route.query:
        parameter = {"name": name, "in": "query", "required": False, "schema": _QUERY_SCHEMAS[name]}
        if exclusive and name in EXCLUSIVE_LIST_FILTERS:
            parameter["description"] = _EXCLUSIVE_FILTERS
        parameters.append(parameter)
    parameters += [
        {
            "name": name,
            "in": "header",
            "required": HEADERS[name].required,
            "description": HEADERS[name].description,
            "schema": {"type": "string", "pattern": HEADERS[name].pattern},
        }
        for name in route.headers
    ]
    success: dict[str, Any] = {"description": "success"}
    if route.response:
        success["content"] = {"application/json": {"schema": {"$ref": f"#/components/schemas/{route.response}"}}}
    responses: dict[str, Any] = {str(route.success): success}
    for status in route.errors:
        responses[str(status)] = {
            "description": _DESCRIPTIONS[status],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    operation: dict[str, Any] = {
        "operationId": f"{route.method.lower()}{route.path.replace('/', '_').replace('{', '').replace('}', '')}",
        "summary": route.summary,
        "tags": [route.group.value],
        "parameters": parameters,
        "responses": responses,
        "security": [{"cognito": []}],
    }
    if route.body:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{route.body}"}}},
        }
    if route.admins_only:
        operation["description"] = "Only members of the `admins` user-pool group."
    if exclusive:
        operation["description"] = _EXCLUSIVE_FILTERS
    return operation


def build() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    schemas = {**{name: _request_schema(name) for name in BODY_SCHEMAS}, **RESPONSE_SCHEMAS}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Folio documents API", "version": "1.0.0"},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "cognito": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "a Cognito user-pool id token",
                }
            },
        },
    }


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(render(), end="")
