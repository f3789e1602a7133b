"""The `SecurityApi` port (folio.search_role_mappings) over HTTPS: each call to the domain's
security plugin signed with SigV4 as the function's own role (folio.signed_http), which the
domain's fine-grained access control knows as its master user.

Every call has a deadline: the custom resource must answer CloudFormation before the function
times out, so timeouts come from the time left (folio.custom_resource.call_within), and a busy
domain (429, 5xx) or a failed connection is tried again while there is time. Every call the
logic makes (GET, PUT, DELETE of one role or mapping) is idempotent, so a retry is safe.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from folio.custom_resource import NoAnswer
from folio.signed_http import SignedDomainClient

MAX_TEXT_BODY = 500


class SecurityApiUnreachable(RuntimeError):
    """A call got no answer from the domain in the time the invocation had."""


class SignedSecurityApi(SignedDomainClient):
    """`request(method, path, body)` against `endpoint` ("https://host"): (status, the body parsed
    as JSON; its text, cut, when it is not JSON; None when empty)."""

    def request(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> tuple[int, Any]:
        payload = None if body is None else json.dumps(body).encode()
        try:
            response = self.send(method, path, payload)
        except NoAnswer as error:
            raise SecurityApiUnreachable(f"{method} {path}: {error}") from error
        return response.status, parsed(response.data)


def parsed(data: bytes) -> Any:
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return data[:MAX_TEXT_BODY].decode("utf-8", "replace")
