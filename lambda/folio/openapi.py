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
    MAX_CURSOR_LENGTH,
    MAX_LIMIT,
    MAX_SEARCH_TEXT_LENGTH,
    RESPONSE_SCHEMAS,
    ROUTES,
    SEARCH_SCOPES,
    SEARCH_TEXT_PATTERN,
    TAG_PATTERN,
    FunctionGroup,
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
    503: "this environment does not run the service behind the route (search where `features.search` is off)",
}
_EXCLUSIVE_FILTERS = " and ".join(f"`{name}`" for name in EXCLUSIVE_LIST_FILTERS) + (
    " exclude each other: send at most one of them (both together: 400)."
)
_QUERY_SCHEMAS: dict[str, dict[str, Any]] = {
    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
    "cursor": {"type": "string", "maxLength": MAX_CURSOR_LENGTH},
    "tag": {"type": "string", "pattern": TAG_PATTERN},
    "type": {"type": "string", "pattern": TAG_PATTERN},
    "purge": {"type": "boolean"},
    "q": {"type": "string", "minLength": 1, "maxLength": MAX_SEARCH_TEXT_LENGTH, "pattern": SEARCH_TEXT_PATTERN},
    "scope": {"type": "string", "enum": list(SEARCH_SCOPES)},
}
_QUERY_DESCRIPTIONS = {
    "q": "Words to find in names and tags, all of them; also a quoted phrase, a prefix (tax*), "
    "either (a | b) and not (-a). Absent: every document in scope. Most recently updated first.",
    "scope": "mine (default): my documents; shared: documents shared with me; all: both. Never trashed ones.",
}


# OpenAPI links: where a response names a document, which requests about the same document
# may follow, and with which values. Clients read them as documentation; schemathesis'
# stateful tests follow them (create, then read, rename, share, trash, restore, purge).
_DOCUMENT_IN_RESPONSE = {
    "CreatedDocument": ("$response.body#/document/id", "$response.body#/document/version"),
    "Document": ("$response.body#/id", "$response.body#/version"),
    "Share": ("$response.body#/documentId", None),
}
_DOCUMENT_IN_REQUEST = ("$request.path.id", None)  # for answers without a body (204)


# The answers that carry the document's version as an ETag (what If-Match sends back).
_SENDS_ETAG = {("GET", "/documents/{id}"), ("PATCH", "/documents/{id}")}
_ETAG = {"type": "string", "pattern": '^"[0-9]+"$'}


def _operation_id(route: Route) -> str:
    return f"{route.method.lower()}{route.path.replace('/', '_').replace('{', '').replace('}', '')}"


def _links(route: Route) -> dict[str, Any]:
    if route.response == "DocumentPage":  # the next page: the same query with the cursor
        return {
            _operation_id(route): {
                "operationId": _operation_id(route),
                "parameters": {"query.cursor": "$response.body#/cursor"},
            }
        }
    if route.response in _DOCUMENT_IN_RESPONSE:
        document_id, version = _DOCUMENT_IN_RESPONSE[route.response]
    elif route.response is None and "id" in route.path_parameters:
        document_id, version = _DOCUMENT_IN_REQUEST
    else:
        return {}
    links: dict[str, Any] = {}
    for target in ROUTES:
        if "id" not in target.path_parameters:
            continue
        if route.response == "CreatedDocument" and target.group is FunctionGroup.DOWNLOAD:
            continue  # nothing to download before the upload form has been used
        parameters = {"path.id": document_id}
        if "If-Match" in target.headers and version is not None:
            parameters["header.If-Match"] = version
        if route.response == "Share" and "userId" in target.path_parameters:
            parameters["path.userId"] = "$response.body#/userId"
        links[_operation_id(target)] = {"operationId": _operation_id(target), "parameters": parameters}
    return links


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
        if name in _QUERY_DESCRIPTIONS:
            parameter["description"] = _QUERY_DESCRIPTIONS[name]
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
    if (route.method, route.path) in _SENDS_ETAG:
        success["headers"] = {"ETag": {"description": "the version, quoted", "schema": _ETAG}}
    links = _links(route)
    if links:
        success["links"] = links
    responses: dict[str, Any] = {str(route.success): success}
    for status in route.errors:
        responses[str(status)] = {
            "description": _DESCRIPTIONS[status],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    operation: dict[str, Any] = {
        "operationId": _operation_id(route),
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
