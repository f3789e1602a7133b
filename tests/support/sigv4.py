"""Checks a request's SigV4 signature as an AWS endpoint would, for the servers on loopback that
stand in for one (tests/support/security_api_server.py).

The canonical request and the signature are botocore's (`SigV4Auth`'s own steps, given the
request's X-Amz-Date instead of the clock), rebuilt from what arrived on the wire: the method, the
path and query, the headers the signature names (Host as sent) and the body's bytes. So a request
signed for another service, Region, key, host, path or body is refused. tests/support/test_sigv4.py
anchors it to a vector of AWS's SigV4 test suite, so a bug shared with the signer would show.
"""

from __future__ import annotations

import datetime
import hmac
import re
from collections.abc import Mapping

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/\s]+)/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)/(?P<service>[a-z0-9-]+)"
    r"/aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})"
)
TIMESTAMP = "%Y%m%dT%H%M%SZ"
# AWS refuses a request whose X-Amz-Date is further than this from its clock.
MAX_CLOCK_SKEW = datetime.timedelta(minutes=5)


def signature_problem(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    secret_keys: Mapping[str, str],
    region: str,
    service: str,
    now: datetime.datetime | None = None,
) -> str | None:
    """Why this request would be refused (None: it would not). `headers` as received (any case);
    `url` with the scheme and Host the client used."""
    received = {name.lower(): value for name, value in headers.items()}
    matched = AUTHORIZATION.fullmatch(received.get("authorization", ""))
    if matched is None:
        return "no SigV4 Authorization header"
    scope = f"{matched['date']}/{matched['region']}/{matched['service']}/aws4_request"
    if (matched["region"], matched["service"]) != (region, service):
        return f"credential scope {scope} is not for {service} in {region}"
    secret = secret_keys.get(matched["key"])
    if secret is None:
        return f"unknown access key {matched['key']}"
    signed = matched["signed"].split(";")
    if not {"host", "x-amz-date"} <= set(signed) or not set(signed) <= set(received):
        return f"SignedHeaders {matched['signed']} must name host and x-amz-date, and only headers that were sent"
    amz_date = received["x-amz-date"]
    try:
        signed_at = datetime.datetime.strptime(amz_date, TIMESTAMP).replace(tzinfo=datetime.UTC)
    except ValueError:
        return f"X-Amz-Date {amz_date!r} is not a timestamp"
    if not amz_date.startswith(matched["date"]):
        return f"X-Amz-Date {amz_date} is not on the credential scope's day {matched['date']}"
    if abs((now or datetime.datetime.now(datetime.UTC)) - signed_at) > MAX_CLOCK_SKEW:
        return f"X-Amz-Date {amz_date} is too far from now"
    request = AWSRequest(method=method, url=url, data=body, headers={name: received[name] for name in signed})
    request.context["timestamp"] = amz_date
    auth = SigV4Auth(Credentials(matched["key"], secret, received.get("x-amz-security-token")), service, region)
    expected = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
    if not hmac.compare_digest(expected, matched["signature"]):
        return "the signature does not match the request"
    return None
