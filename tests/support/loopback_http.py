"""HTTP servers on 127.0.0.1 that stand in for what a function calls over HTTPS in AWS, for the
custom resource's tests (tests/integration/test_search_role_mappings_resource.py):

- `SecurityApiServer`: an OpenSearch domain's security-plugin REST API over TLS (the throwaway CA
  of tests/support/tls.py), answered by `RecordedSecurityApi` for every request whose SigV4
  signature verifies for service `es` in the loopback Region (tests/support/sigv4.py) and refused
  with 403 otherwise, as the domain's access policy would.
- `ResponseBucket`: the presigned S3 URL CloudFormation gives a custom resource to PUT its answer
  to; it records every PUT (path with query, headers as sent, body).

And one that stands in for what a client outside AWS calls, for tools/smoke_test.py's tests
(tests/integration/test_smoke_script.py):

- `GatewayServer`: the in-process API Gateway (tests/support/gateway.py) behind real HTTP, at
  `api_url` (http://127.0.0.1:<port>/v1/, as a stage's invoke URL ends in /v1/).

Each runs `http.server` in a thread on port 0 and stops when its `with` block ends.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from tests.support import loopback
from tests.support.gateway import STAGE, ApiGateway
from tests.support.security_api import API, RecordedSecurityApi
from tests.support.sigv4 import signature_problem
from tests.support.tls import LOOPBACK, TlsFiles

SERVICE = "es"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    tls: ssl.SSLContext | None = None

    def get_request(self) -> tuple[socket.socket, Any]:
        raw, address = super().get_request()
        if self.tls is None:
            return raw, address
        # The handshake happens in the request's own thread, so one client that stalls it
        # cannot block the accept loop.
        return self.tls.wrap_socket(raw, server_side=True, do_handshake_on_connect=False), address

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a client that refuses the certificate or hangs up is what some tests do."""


class _LoopbackServer:
    """Starts `handler` on 127.0.0.1:<free port> in a thread; a context manager."""

    scheme = "http"

    def __init__(self, handler: type[BaseHTTPRequestHandler], tls: TlsFiles | None = None) -> None:
        self._server = _Server((LOOPBACK, 0), handler)
        self._server.owner = self  # type: ignore[attr-defined]
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(tls.server_certificate, tls.server_key)
            self._server.tls = context
            self.scheme = "https"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{LOOPBACK}:{self._server.server_address[1]}"

    def __enter__(self) -> _LoopbackServer:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in one write (flushed after each request): two small writes would
    # wait on the client's delayed ACK, about 40 ms a request.
    wbufsize = 1 << 16

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read what the servers record."""

    def body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def answer(self, status: int, payload: object) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class SecurityApiServer(_LoopbackServer):
    """The security plugin's REST API at `endpoint` (https://127.0.0.1:<port>), backed by `api`.

    `refused` lists why each refused request was refused (a test asserts it stays empty);
    `requests` counts what arrived; while `answer_raw` is set, every signed request gets exactly
    that status and body, bypassing `api` (a domain that keeps failing); while `hanging` is set,
    a request (its TLS handshake done) gets no answer until the server stops."""

    def __init__(self, api: RecordedSecurityApi, tls: TlsFiles, secret_keys: Mapping[str, str] | None = None) -> None:
        super().__init__(_SecurityApiHandler, tls)
        self.api = api
        self.secret_keys = dict(secret_keys or {loopback.ACCESS_KEY_ID: loopback.SECRET_ACCESS_KEY})
        self.refused: list[str] = []
        self.requests = 0
        self.answer_raw: tuple[int, bytes] | None = None
        self.hanging = False
        self.stopped = threading.Event()

    @property
    def endpoint(self) -> str:
        return self.origin

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stopped.set()
        super().__exit__(kind, error, trace)


class _SecurityApiHandler(_Handler):
    def handle_any(self) -> None:
        server: SecurityApiServer = self.server.owner  # type: ignore[attr-defined]
        server.requests += 1
        body = self.body()
        if server.hanging:
            server.stopped.wait()
            self.close_connection = True
            return
        problem = signature_problem(
            self.command, server.origin + self.path, dict(self.headers.items()), body,
            secret_keys=server.secret_keys, region=loopback.REGION, service=SERVICE,
        )  # fmt: skip
        if problem is not None:
            server.refused.append(f"{self.command} {self.path}: {problem}")
            self.answer(403, {"message": problem})
            return
        if server.answer_raw is not None:
            status, raw = server.answer_raw
            self.send_response(status)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
            return
        kind, _, name = self.path.removeprefix(API + "/").partition("/")
        if not self.path.startswith(API + "/") or kind not in server.api.stored or not name or "/" in name:
            self.answer(404, {"error": f"no handler for {self.path}"})
            return
        self.answer(*server.api.request(self.command, self.path, json.loads(body) if body else None))

    do_GET = do_PUT = do_DELETE = do_POST = handle_any


@dataclass(frozen=True)
class ReceivedPut:
    """One PUT as it arrived: `path` with its query, headers as sent (name, value) in order."""

    path: str
    headers: list[tuple[str, str]]
    body: bytes
    at: float  # time.monotonic() when it arrived

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)

    def json(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


class ResponseBucket(_LoopbackServer):
    """CloudFormation's response bucket: `url(name)` is a presigned-looking URL for one object;
    every PUT is recorded in `puts`. `fail_next` answers that many PUTs with 503 first."""

    BUCKET = "cloudformation-custom-resource-response-useast1"
    SIGNATURE = "X-Amz-Signature=0123456789abcdef-not-for-any-log"

    def __init__(self) -> None:
        super().__init__(_ResponseBucketHandler)
        self.puts: list[ReceivedPut] = []
        self.fail_next = 0

    def url(self, name: str) -> str:
        return f"{self.origin}/{self.BUCKET}/{name}?X-Amz-Expires=7200&{self.SIGNATURE}"


class _ResponseBucketHandler(_Handler):
    def do_PUT(self) -> None:
        bucket: ResponseBucket = self.server.owner  # type: ignore[attr-defined]
        bucket.puts.append(ReceivedPut(self.path, list(self.headers.items()), self.body(), time.monotonic()))
        if bucket.fail_next:
            bucket.fail_next -= 1
            self.answer(503, {"error": "SlowDown"})
            return
        self.answer(200, None)


class GatewayServer(_LoopbackServer):
    """`gateway` answering HTTP on 127.0.0.1, at `api_url`."""

    def __init__(self, gateway: ApiGateway) -> None:
        super().__init__(_GatewayHandler)
        self.gateway = gateway

    @property
    def api_url(self) -> str:
        return f"{self.origin}{STAGE}/"


class _GatewayHandler(_Handler):
    def handle_any(self) -> None:
        server: GatewayServer = self.server.owner  # type: ignore[attr-defined]
        raw_path, _, raw_query = self.path.partition("?")
        reply = server.gateway.handle(self.command, raw_path, raw_query, dict(self.headers.items()), self.body())
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    do_GET = do_PUT = do_DELETE = do_POST = do_PATCH = handle_any
