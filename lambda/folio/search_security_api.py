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
from collections.abc import Callable, Mapping
from typing import Any

import urllib3

from folio.custom_resource import NoAnswer, call_within
from folio.signed_http import signed_headers

MAX_TEXT_BODY = 500


class SecurityApiUnreachable(RuntimeError):
    """A call got no answer from the domain in the time the invocation had."""


class SignedSecurityApi:
    """`request(method, path, body)` against `endpoint` ("https://host"): (status, the body parsed
    as JSON; its text, cut, when it is not JSON; None when empty)."""

    def __init__(
        self,
        endpoint: str,
        *,
        region: str,
        credentials: Callable[[], Any],
        seconds_left: Callable[[], float],
        http: urllib3.PoolManager,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.region = region
        self.credentials = credentials
        self.seconds_left = seconds_left
        self.http = http

    def request(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> tuple[int, Any]:
        url = self.endpoint + path
        payload = None if body is None else json.dumps(body).encode()

        def headers() -> dict[str, str]:  # signed per attempt: a signature carries its time
            return signed_headers(method, url, payload, region=self.region, credentials=self.credentials())

        try:
            response = call_within(
                self.http, method, url, body=payload, headers=headers, seconds_left=self.seconds_left
            )
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
