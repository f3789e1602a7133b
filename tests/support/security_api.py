"""A stand-in for the OpenSearch security plugin's REST API (roles and role mappings), answering
with the status codes and bodies the plugin returns (recorded from its documentation's examples:
`GET` 200 `{"<name>": {...}}` or 404 `{"status": "NOT_FOUND", ...}`, `PUT` 201 CREATED or 200 OK,
`DELETE` 200 OK or 404). The search emulator has no security API (docs/architecture.md), so the
role-mapping logic is tested against this; it records every call for the tests to read."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

API = "/_plugins/_security/api"
# What the plugin adds to a stored entry besides what was PUT.
_ROLE_DEFAULTS = {"reserved": False, "hidden": False, "static": False, "tenant_permissions": []}
_MAPPING_DEFAULTS = {"reserved": False, "hidden": False, "hosts": [], "users": [], "and_backend_roles": []}
_INDEX_PERMISSION_DEFAULTS = {"fls": [], "masked_fields": []}


def not_found(name: str) -> dict[str, str]:
    return {"status": "NOT_FOUND", "message": f"Resource '{name}' not found."}


class RecordedSecurityApi:
    """In-memory roles and role mappings behind the plugin's paths; `calls` lists (method, path)."""

    def __init__(self) -> None:
        self.stored: dict[str, dict[str, dict[str, Any]]] = {"roles": {}, "rolesmapping": {}}
        self.calls: list[tuple[str, str]] = []
        self.fail_next: dict[tuple[str, str], tuple[int, Any]] = {}

    def request(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> tuple[int, Any]:
        self.calls.append((method, path))
        if (method, path) in self.fail_next:
            return self.fail_next.pop((method, path))
        kind, name = path.removeprefix(API + "/").split("/")
        entries = self.stored[kind]
        if method == "GET":
            return (200, {name: copy.deepcopy(entries[name])}) if name in entries else (404, not_found(name))
        if method == "PUT":
            assert body is not None
            existed = name in entries
            entries[name] = self._stored_form(kind, body)
            if existed:
                return 200, {"status": "OK", "message": f"'{name}' updated."}
            return 201, {"status": "CREATED", "message": f"'{name}' created."}
        if method == "DELETE":
            if name not in entries:
                return 404, not_found(name)
            del entries[name]
            return 200, {"status": "OK", "message": f"'{name}' deleted."}
        return 405, {"status": "METHOD_NOT_ALLOWED"}

    @staticmethod
    def _stored_form(kind: str, body: Mapping[str, Any]) -> dict[str, Any]:
        stored = copy.deepcopy(dict(body))
        if kind == "roles":
            stored = {**_ROLE_DEFAULTS, "cluster_permissions": [], **stored}
            stored["index_permissions"] = [
                {**_INDEX_PERMISSION_DEFAULTS, **p} for p in stored.get("index_permissions", [])
            ]
            return stored
        return {**_MAPPING_DEFAULTS, **stored}

    def writes(self) -> list[tuple[str, str]]:
        return [call for call in self.calls if call[0] != "GET"]
