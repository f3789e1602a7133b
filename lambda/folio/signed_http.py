"""SigV4 signing of one HTTP request to an OpenSearch Service domain, as the calling function's
own role: the search port (folio.search) and the role-mapping custom resource's adapter
(folio.search_security_api) both send their requests with these headers.

botocore's signer, already in the Lambda runtime, over whatever HTTP client the caller uses
(urllib3): a full OpenSearch client would add to the cold import for two kinds of request.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

SERVICE = "es"  # an OpenSearch Service domain's signing name
JSON = "application/json"


def signed_headers(method: str, url: str, body: bytes | None, *, region: str, credentials: Any) -> dict[str, str]:
    """The headers to send with (method, url, body): Content-Type (when there is a body),
    X-Amz-Date, X-Amz-Security-Token (temporary credentials) and Authorization. `credentials`
    are botocore's (frozen) credentials; the Host header is the URL's, as urllib3 sends it."""
    headers = {"Content-Type": JSON} if body is not None else {}
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    SigV4Auth(credentials, SERVICE, region).add_auth(request)
    return dict(request.headers.items())


@cache
def function_credentials() -> Any:
    """The function's role (from its environment), through botocore's usual chain; botocore
    refreshes them as they rotate. Sign with `.get_frozen_credentials()` per request."""
    import botocore.session

    found = botocore.session.get_session().get_credentials()
    if found is None:
        raise RuntimeError("the function has no AWS credentials")
    return found


class SignedDomainClient:
    """Requests to the domain at `endpoint` ("https://host"), each signed as the function's role
    (`credentials()` per attempt: a signature carries its time) and bounded by `seconds_left`
    (folio.custom_resource.call_within: retried while connections fail or the domain is busy).
    The role-mapping custom resource's security API and the index sweep both use it."""

    def __init__(
        self,
        endpoint: str,
        *,
        region: str,
        credentials: Callable[[], Any],
        seconds_left: Callable[[], float],
        http: Any,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.region = region
        self.credentials = credentials
        self.seconds_left = seconds_left
        self.http = http

    def send(self, method: str, path: str, payload: bytes | None) -> Any:
        """The response (urllib3's); raises folio.custom_resource.NoAnswer when no attempt got one."""
        from folio.custom_resource import call_within

        url = self.endpoint + path

        def headers() -> dict[str, str]:
            return signed_headers(method, url, payload, region=self.region, credentials=self.credentials())

        return call_within(self.http, method, url, body=payload, headers=headers, seconds_left=self.seconds_left)
