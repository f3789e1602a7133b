"""The SigV4 check of the loopback servers (tests/support/sigv4.py): it accepts AWS's own test
vector and a request botocore signed, and refuses each thing a wrong signer could get wrong."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.support import loopback
from tests.support.sigv4 import signature_problem

# aws-sig-v4-test-suite, "get-vanilla": GET / on example.amazonaws.com, service "service".
VECTOR_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
VECTOR_HEADERS = {
    "Host": "example.amazonaws.com",
    "X-Amz-Date": "20150830T123600Z",
    "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
}
VECTOR_TIME = datetime.datetime(2015, 8, 30, 12, 36, tzinfo=datetime.UTC)
URL = "https://127.0.0.1:8443/_plugins/_security/api/roles/r"
BODY = b'{"cluster_permissions": []}'
KEYS = {loopback.ACCESS_KEY_ID: loopback.SECRET_ACCESS_KEY}


def test_the_aws_test_suite_vector_verifies() -> None:
    problem = signature_problem(
        "GET", "https://example.amazonaws.com/", VECTOR_HEADERS, b"",
        secret_keys={"AKIDEXAMPLE": VECTOR_SECRET}, region="us-east-1", service="service", now=VECTOR_TIME,
    )  # fmt: skip

    assert problem is None


def signed(method: str = "PUT", url: str = URL, body: bytes = BODY, **scope: Any) -> dict[str, str]:
    credentials = Credentials(loopback.ACCESS_KEY_ID, scope.pop("secret", loopback.SECRET_ACCESS_KEY), "token")
    request = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(credentials, scope.get("service", "es"), scope.get("region", loopback.REGION)).add_auth(request)
    return {"Host": "127.0.0.1:8443", **dict(request.headers.items())}


def check(headers: dict[str, str], method: str = "PUT", url: str = URL, body: bytes = BODY) -> str | None:
    return signature_problem(method, url, headers, body, secret_keys=KEYS, region=loopback.REGION, service="es")


def test_a_request_botocore_signed_for_es_verifies() -> None:
    assert check(signed()) is None


# Each case signs when it runs, not when the module is collected: the check refuses an
# X-Amz-Date far from now, and a full session runs this minutes after collection.
@pytest.mark.parametrize(
    ("headers", "arrived", "problem"),
    [
        (lambda: signed(service="s3"), {}, "is not for es"),
        (lambda: signed(region="eu-west-1"), {}, "is not for es in us-east-1"),
        (lambda: signed(secret="other"), {}, "does not match"),
        (signed, {"body": b'{"cluster_permissions": ["*"]}'}, "does not match"),
        (signed, {"url": URL.replace("/r", "/all_access")}, "does not match"),
        (signed, {"method": "DELETE"}, "does not match"),
        (lambda: {**signed(), "Host": "127.0.0.1:9443"}, {}, "does not match"),
        (lambda: {k: v for k, v in signed().items() if k != "Authorization"}, {}, "no SigV4"),
        (lambda: {**signed(), "X-Amz-Date": "20150830T123600Z"}, {}, "X-Amz-Date"),
    ],
)
def test_what_a_wrong_signer_gets_wrong_is_refused(
    headers: Callable[[], dict[str, str]], arrived: dict[str, Any], problem: str
) -> None:
    found = check(headers(), **arrived)

    assert found is not None and problem in found
