"""The REST API's routes and request schemas: one table that both sides read.

The CDK `DocumentsApi` builds API Gateway resources, methods, request validators and
models from `ROUTES` and `BODY_SCHEMAS`; each handler module serves the routes of its
`FunctionGroup`. Routes are grouped by the permissions their code needs, so each group
is one Lambda function with one role.

Schemas are JSON Schema draft-04 (what API Gateway models accept): no `$ref`, closed
objects (`additionalProperties: false`), bounded strings and arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any


class FunctionGroup(Enum):
    """Routes whose code needs identical permissions share one function (and role)."""

    CREATE = "create"  # write a PENDING document + quota + tags; presign an upload
    READ = "read"  # read-only queries of the caller's own partition and shares
    MODIFY = "modify"  # rename, retag, trash, restore, purge, share
    DOWNLOAD = "download"  # read a document or share, presign a download
    ADMIN = "admin"  # the cross-user recent-uploads feed (admins group only)
    SEARCH = "search"  # full-text search of the caller's and shared documents (the search index only)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    group: FunctionGroup
    summary: str
    body: str | None = None  # a key of BODY_SCHEMAS
    query: tuple[str, ...] = ()  # optional query string parameters
    headers: tuple[str, ...] = ()  # optional headers the handler reads
    admins_only: bool = False
    success: int = 200
    response: str | None = None  # a key of RESPONSE_SCHEMAS; None means no body
    errors: tuple[int, ...] = (400, 401, 403, 404, 429)

    @property
    def path_parameters(self) -> tuple[str, ...]:
        return tuple(part[1:-1] for part in self.path.split("/") if part.startswith("{"))


# Patterns are ECMA-262, as JSON Schema and API Gateway read them: "$" is the end of input.
# Python's re.match would let "$" match before a trailing newline, so the handlers apply
# them with re.fullmatch only (tests/unit/test_contracts.py checks both).
TAG_PATTERN = "^[a-z0-9-]{1,32}$"
ID_PATTERN = "^[0-9A-Za-z_-]{1,64}$"
CONTENT_TYPE_PATTERN = "^[a-z0-9][a-z0-9.+-]*/[a-z0-9][a-z0-9.+-]*$"
# If-Match carries the version from the ETag a read returned: "7" (as sent back) or 7.
IF_MATCH_PATTERN = '^(?:"[0-9]{1,9}"|[0-9]{1,9})$'
# Visible ASCII only: the key is stored in the idempotency table and logged, so no
# control characters or text that is not encodable as UTF-8.
IDEMPOTENCY_KEY_PATTERN = "^[!-~]{1,128}$"
# Code points a document name may not contain, besides "/" and "\\":
# - C0 controls, DEL and C1 controls (0x9b is an 8-bit CSI: names reach the admin feed,
#   logs and terminals);
# - lone UTF-16 surrogates: not encodable as UTF-8, which DynamoDB requires;
# - bidirectional-text controls (marks, embeddings, overrides, isolates), which make
#   "invoice\u202efdp.exe" display as "invoiceexe.pdf";
# - invisible breaks and spaces that make look-alike names or split a line where a name
#   is shown: U+200B, U+2028/U+2029 (line and paragraph separators), U+FEFF. The joiners
#   U+200C/U+200D stay allowed: Persian, Indic scripts and emoji sequences need them.
SURROGATES = (0xD800, 0xDFFF)
NAME_FORBIDDEN_RANGES: tuple[tuple[int, int], ...] = (
    (0x0000, 0x001F),
    (0x007F, 0x009F),
    (0x061C, 0x061C),
    (0x200B, 0x200B),
    (0x200E, 0x200F),
    (0x2028, 0x202E),
    (0x2066, 0x2069),
    SURROGATES,
    (0xFEFF, 0xFEFF),
)
_FORBIDDEN_CLASS = "".join(
    f"\\u{low:04x}" + (f"-\\u{high:04x}" if high != low else "")
    for low, high in NAME_FORBIDDEN_RANGES
    if (low, high) != SURROGATES
)
# The published pattern leaves surrogates out: a class with surrogate escapes means
# different things in ECMA-262 with and without the "u" flag (without it, every emoji is a
# pair of surrogates), and Rust's regex engine (jsonschema-rs, so schemathesis) refuses to
# compile one. A lone surrogate cannot be excluded portably, so the handlers refuse it and
# the schema's description says so.
NAME_PATTERN = f"^[^/\\\\{_FORBIDDEN_CLASS}]+$"
# The rule as the handlers apply it, over code points: surrogates too.
NAME_CODE_POINTS_PATTERN = f"^[^/\\\\{_FORBIDDEN_CLASS}\\ud800-\\udfff]+$"
NAME_RULE = "1-255 characters without slashes, control characters, bidirectional-text controls or invisible separators"


@dataclass(frozen=True)
class HeaderRule:
    """A request header a handler reads, as the published contract states it. API Gateway's
    own validator only checks presence, so it treats every header as optional: the handler
    enforces these (a missing required header is 428, a malformed one 400)."""

    pattern: str
    required: bool
    description: str


HEADERS: dict[str, HeaderRule] = {
    "If-Match": HeaderRule(
        IF_MATCH_PATTERN,
        required=True,
        description='The version you read, as its ETag returned it ("3"). Missing: 428; another version: 412.',
    ),
    "Idempotency-Key": HeaderRule(
        IDEMPOTENCY_KEY_PATTERN,
        required=False,
        description="Retrying with the same key and body within an hour returns the same document, with an upload "
        "form signed anew.",
    ),
}
# Pages: ?limit= from 1 to MAX_LIMIT, DEFAULT_LIMIT when absent; a cursor is at most this long.
DEFAULT_LIMIT, MAX_LIMIT = 20, 100
MAX_CURSOR_LENGTH = 2048
# GET /search: the text (optional: without it, every document in scope, most recently updated
# first), at most this long and without control characters; which documents: the caller's own
# (the default), those shared with the caller, or both.
MAX_SEARCH_TEXT_LENGTH = 200
# Printable text with at least one character that is not a space: spaces alone are no search.
_CONTROLS = "\\u0000-\\u001f\\u007f-\\u009f"  # what a class excludes: C0, DEL, C1
SEARCH_TEXT_PATTERN = f"^[^{_CONTROLS}]*[^ {_CONTROLS}][^{_CONTROLS}]*$"
SEARCH_SCOPES = ("mine", "shared", "all")
DEFAULT_SEARCH_SCOPE = "mine"
# CORS, as both the functions (Powertools) and API Gateway (preflight, gateway errors) answer it.
CORS_ALLOW_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "If-Match")
CORS_EXPOSE_HEADERS = ("ETag",)
CORS_ALLOW_METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")
CORS_MAX_AGE_SECONDS = 3600
# GET /documents filters by one of these at a time; both together is a 400.
EXCLUSIVE_LIST_FILTERS = ("tag", "type")
MAX_TAGS = 10
# A purge removes the document, its tag links and its shares, updates the usage and puts the
# quota-release marker in one transaction, which DynamoDB caps at 100 items:
# 3 + MAX_TAGS + MAX_SHARES must fit (tests/unit/test_lifecycle.py counts what is sent).
MAX_SHARES = 25
MAX_NAME_LENGTH = 255
MAX_CONTENT_TYPE_LENGTH = 127

_NAME = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_NAME_LENGTH,
    "pattern": NAME_PATTERN,
    "description": f"{NAME_RULE}; a lone UTF-16 surrogate (not encodable as UTF-8) is refused too",
}
_TAGS = {
    "type": "array",
    "maxItems": MAX_TAGS,
    "uniqueItems": True,
    "items": {"type": "string", "pattern": TAG_PATTERN},
}

BODY_SCHEMAS: dict[str, dict[str, Any]] = {
    "CreateDocument": {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "title": "CreateDocument",
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "contentType", "size"],
        "properties": {
            "name": _NAME,
            "contentType": {
                "type": "string",
                "maxLength": MAX_CONTENT_TYPE_LENGTH,
                "pattern": CONTENT_TYPE_PATTERN,
            },
            "size": {"type": "integer", "minimum": 1},
            "tags": _TAGS,
        },
    },
    "UpdateDocument": {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "title": "UpdateDocument",
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "properties": {"name": _NAME, "tags": _TAGS},
    },
}

# Response bodies (OpenAPI 3.0 schemas; draft-04 compatible too).
# Response objects are closed (additionalProperties: false): the fuzz tests validate every
# response against them, so an internal attribute (a key, an index attribute) that leaks
# into a response fails a test.
_DOCUMENT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "name", "contentType", "size", "status", "tags", "version", "createdAt", "updatedAt"],
    "properties": {
        "id": {"type": "string", "pattern": ID_PATTERN},
        "name": {"type": "string"},
        "contentType": {"type": "string"},
        "size": {"type": "integer", "minimum": 0},
        "status": {"type": "string", "enum": ["PENDING", "AVAILABLE", "TRASHED"]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "version": {"type": "integer", "minimum": 1},
        "createdAt": {"type": "string"},
        "updatedAt": {"type": "string"},
        "owner": {"type": "string"},
    },
}
_PAGE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["items"],
    "properties": {
        "items": {"type": "array", "items": {"$ref": "#/components/schemas/Document"}},
        "cursor": {"type": "string", "description": "opaque; pass back as ?cursor= for the next page"},
    },
}
# A search hit: the document as a listing shows it, with its owner (a shared document's owner is
# someone else) and the name's matching fragments, HTML-escaped, matches inside <em></em>.
_SEARCH_HIT = {
    **_DOCUMENT,
    "required": [*_DOCUMENT["required"], "owner", "highlights"],  # type: ignore[misc]
    "properties": {
        **_DOCUMENT["properties"],  # type: ignore[dict-item]
        "highlights": {"type": "array", "items": {"type": "string"}},
    },
}
RESPONSE_SCHEMAS: dict[str, dict[str, Any]] = {
    "Document": _DOCUMENT,
    "DocumentPage": _PAGE,
    "SearchResults": {
        "type": "object",
        "additionalProperties": False,
        "required": ["items"],
        "properties": {
            "items": {"type": "array", "items": _SEARCH_HIT},
            "cursor": {"type": "string", "description": "opaque; pass back as ?cursor= with the same q and scope"},
        },
    },
    # The admin feed (AP8) is read from GSI2, which projects only what an operator needs.
    "RecentUploads": {
        "type": "object",
        "additionalProperties": False,
        "required": ["items"],
        "properties": {
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["id", "owner", "name", "contentType", "size", "status", "createdAt"],
                    "properties": {
                        "id": {"type": "string", "pattern": ID_PATTERN},
                        "owner": {"type": "string"},
                        "name": {"type": "string"},
                        "contentType": {"type": "string"},
                        "size": {"type": "integer", "minimum": 0},
                        "status": {"type": "string", "enum": ["PENDING", "AVAILABLE", "TRASHED"]},
                        "createdAt": {"type": "string"},
                    },
                },
            }
        },
    },
    "CreatedDocument": {
        "type": "object",
        "additionalProperties": False,
        "required": ["document", "upload"],
        "properties": {
            "document": {"$ref": "#/components/schemas/Document"},
            "upload": {
                "type": "object",
                "additionalProperties": False,
                "required": ["url", "fields", "expiresIn"],
                "properties": {
                    "url": {"type": "string"},
                    "fields": {"type": "object", "additionalProperties": {"type": "string"}},
                    "expiresIn": {"type": "integer", "maximum": 300},
                },
            },
        },
    },
    "Download": {
        "type": "object",
        "additionalProperties": False,
        "required": ["url", "expiresIn"],
        "properties": {"url": {"type": "string"}, "expiresIn": {"type": "integer", "maximum": 300}},
    },
    "Share": {
        "type": "object",
        "additionalProperties": False,
        "required": ["documentId", "userId", "sharedAt"],
        "properties": {"documentId": {"type": "string"}, "userId": {"type": "string"}, "sharedAt": {"type": "string"}},
    },
    "Usage": {
        "type": "object",
        "additionalProperties": False,
        "required": ["documents", "bytes", "quotaDocuments", "quotaBytes"],
        "properties": {
            "documents": {"type": "integer", "minimum": 0},
            "bytes": {"type": "integer", "minimum": 0},
            "quotaDocuments": {"type": "integer"},
            "quotaBytes": {"type": "integer"},
        },
    },
    "Error": {
        "type": "object",
        "additionalProperties": False,
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "additionalProperties": False,
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "description": "stable, machine-readable"},
                    "message": {"type": "string"},
                    "requestId": {"type": "string"},
                },
            }
        },
    },
}

ROUTES: tuple[Route, ...] = (
    Route("POST", "/documents", FunctionGroup.CREATE, "Create a document and get an upload form (AP1)",
          body="CreateDocument", headers=("Idempotency-Key",), success=201, response="CreatedDocument",
          errors=(400, 401, 409, 413, 415, 422, 429)),
    Route("GET", "/documents", FunctionGroup.READ, "List my documents, newest first (AP3/AP4/AP5)",
          query=("tag", "type", "limit", "cursor"), response="DocumentPage", errors=(400, 401, 429)),
    Route("GET", "/documents/{id}", FunctionGroup.READ, "Get one of my documents (AP2)", response="Document"),
    Route("PATCH", "/documents/{id}", FunctionGroup.MODIFY, "Rename or retag a document (AP9)",
          body="UpdateDocument", headers=("If-Match",), response="Document",
          errors=(400, 401, 404, 409, 412, 415, 428, 429)),
    Route("DELETE", "/documents/{id}", FunctionGroup.MODIFY, "Move a document to the trash, or purge it",
          query=("purge",), success=204, errors=(400, 401, 403, 404, 409, 429)),
    Route("POST", "/documents/{id}/restore", FunctionGroup.MODIFY, "Restore a document from the trash",
          response="Document", errors=(400, 401, 404, 409, 429)),
    Route("GET", "/documents/{id}/download", FunctionGroup.DOWNLOAD, "Get a short-lived download URL",
          response="Download", errors=(400, 401, 404, 429)),
    Route("PUT", "/documents/{id}/shares/{userId}", FunctionGroup.MODIFY,
          "Share a document with a user (again: no change)", response="Share",
          errors=(400, 401, 403, 404, 409, 422, 429)),
    Route("DELETE", "/documents/{id}/shares/{userId}", FunctionGroup.MODIFY, "Stop sharing a document", success=204,
          errors=(400, 401, 403, 404, 409, 429)),
    Route("GET", "/trash", FunctionGroup.READ, "List my trash (AP7)", query=("limit", "cursor"),
          response="DocumentPage", errors=(400, 401, 429)),
    Route("GET", "/shared", FunctionGroup.READ, "List documents shared with me (AP6)",
          query=("limit", "cursor"), response="DocumentPage", errors=(400, 401, 429)),
    Route("GET", "/me/usage", FunctionGroup.READ, "My document count, bytes and quota", response="Usage",
          errors=(400, 401, 429)),
    Route("GET", "/admin/recent", FunctionGroup.ADMIN, "Recent uploads across users (AP8)",
          query=("limit",), admins_only=True, response="RecentUploads", errors=(400, 401, 403, 429)),
    Route("GET", "/search", FunctionGroup.SEARCH, "Search my documents and those shared with me",
          query=("q", "scope", "limit", "cursor"), response="SearchResults", errors=(400, 401, 429, 503)),
)  # fmt: skip


def routes_of(group: FunctionGroup) -> tuple[Route, ...]:
    return tuple(route for route in ROUTES if route.group is group)
