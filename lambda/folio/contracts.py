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

    @property
    def path_parameters(self) -> tuple[str, ...]:
        return tuple(part[1:-1] for part in self.path.split("/") if part.startswith("{"))


TAG_PATTERN = "^[a-z0-9-]{1,32}$"
ID_PATTERN = "^[0-9A-Za-z_-]{1,64}$"
MAX_TAGS = 10
MAX_NAME_LENGTH = 255
MAX_CONTENT_TYPE_LENGTH = 127

_NAME = {"type": "string", "minLength": 1, "maxLength": MAX_NAME_LENGTH, "pattern": "^[^\\u0000-\\u001f/\\\\]+$"}
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
                "pattern": "^[a-z0-9][a-z0-9.+-]*/[a-z0-9][a-z0-9.+-]*$",
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

ROUTES: tuple[Route, ...] = (
    Route("POST", "/documents", FunctionGroup.CREATE, "Create a document and get an upload form (AP1)",
          body="CreateDocument", headers=("Idempotency-Key",)),
    Route("GET", "/documents", FunctionGroup.READ, "List my documents, newest first (AP3/AP4/AP5)",
          query=("tag", "type", "limit", "cursor")),
    Route("GET", "/documents/{id}", FunctionGroup.READ, "Get one of my documents (AP2)"),
    Route("PATCH", "/documents/{id}", FunctionGroup.MODIFY, "Rename or retag a document (AP9)",
          body="UpdateDocument", headers=("If-Match",)),
    Route("DELETE", "/documents/{id}", FunctionGroup.MODIFY, "Move a document to the trash, or purge it",
          query=("purge",)),
    Route("POST", "/documents/{id}/restore", FunctionGroup.MODIFY, "Restore a document from the trash"),
    Route("GET", "/documents/{id}/download", FunctionGroup.DOWNLOAD, "Get a short-lived download URL"),
    Route("PUT", "/documents/{id}/shares/{userId}", FunctionGroup.MODIFY, "Share a document with a user"),
    Route("DELETE", "/documents/{id}/shares/{userId}", FunctionGroup.MODIFY, "Stop sharing a document"),
    Route("GET", "/trash", FunctionGroup.READ, "List my trash (AP7)", query=("limit", "cursor")),
    Route("GET", "/shared", FunctionGroup.READ, "List documents shared with me (AP6)", query=("limit", "cursor")),
    Route("GET", "/me/usage", FunctionGroup.READ, "My document count, bytes and quota"),
    Route("GET", "/admin/recent", FunctionGroup.ADMIN, "Recent uploads across users (AP8)",
          query=("limit",), admins_only=True),
)  # fmt: skip


def routes_of(group: FunctionGroup) -> tuple[Route, ...]:
    return tuple(route for route in ROUTES if route.group is group)
