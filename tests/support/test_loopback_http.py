"""The loopback stand-ins of tests/support/loopback_http.py: the security API serves only requests
signed for `es` in the loopback Region, over TLS that a client must verify; the response bucket
records each PUT as it arrived."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.support import loopback
from tests.support.loopback_http import ResponseBucket, SecurityApiServer
from tests.support.security_api import API, RecordedSecurityApi
from tests.support.tls import TlsFiles, make_tls_files

ROLE = f"{API}/roles/r"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("security-api-tls"))


@pytest.fixture
def server(tls: TlsFiles) -> Iterator[SecurityApiServer]:
    with SecurityApiServer(RecordedSecurityApi(), tls) as running:
        yield running  # type: ignore[misc]


def call(server: SecurityApiServer, ca: Path, method: str, *, region: str = loopback.REGION) -> int:
    url = server.endpoint + ROLE
    body = b'{"cluster_permissions": []}' if method == "PUT" else None
    request = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": "application/json"})
    credentials = Credentials(loopback.ACCESS_KEY_ID, loopback.SECRET_ACCESS_KEY, loopback.SESSION_TOKEN)
    SigV4Auth(credentials, "es", region).add_auth(request)
    http = urllib3.PoolManager(ca_certs=str(ca))
    return http.request(method, url, body=body, headers=dict(request.headers.items()), retries=False).status


def test_a_signed_request_reaches_the_recorded_api(server: SecurityApiServer, tls: TlsFiles) -> None:
    assert [call(server, tls.ca_certificate, m) for m in ("GET", "PUT", "GET")] == [404, 201, 200]
    assert server.api.calls == [("GET", ROLE), ("PUT", ROLE), ("GET", ROLE)]
    assert server.refused == []


def test_a_request_signed_for_another_region_is_refused_before_the_api(
    server: SecurityApiServer, tls: TlsFiles
) -> None:
    assert call(server, tls.ca_certificate, "PUT", region="eu-west-1") == 403
    assert server.api.calls == []
    assert len(server.refused) == 1 and "is not for es in us-east-1" in server.refused[0]


def test_a_client_that_does_not_trust_the_ca_cannot_connect(server: SecurityApiServer) -> None:
    with pytest.raises(urllib3.exceptions.SSLError):
        urllib3.PoolManager().request("GET", server.endpoint + ROLE, retries=False)


def test_the_bucket_records_each_put_as_sent() -> None:
    with ResponseBucket() as bucket:
        url = bucket.url("stack|resource|request")  # type: ignore[attr-defined]
        answer = urllib3.PoolManager().request("PUT", url, body=b'{"Status": "SUCCESS"}', headers={"X-Check": "1"})

    (put,) = bucket.puts
    assert answer.status == 200
    assert put.path.endswith("?X-Amz-Expires=7200&" + ResponseBucket.SIGNATURE)
    assert (put.header("x-check"), put.json()) == ("1", {"Status": "SUCCESS"})
