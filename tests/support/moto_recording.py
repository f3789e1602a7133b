"""moto's server in a process of its own, on a free loopback port, with moto's request recorder on:
every request it serves is appended to a file, and `calls()` reads them back as `RecordedCall`s
(method, path, and for a form-encoded call such as STS's, its parameters).

A process of its own, not `ThreadedMotoServer`: moto reads `MOTO_ENABLE_RECORDING` and
`MOTO_RECORDER_FILEPATH` once, when it is first imported, which in a test session has long
happened. Its accounts are moto's: credentials of a role assumed in account A act in account A,
so `client_in(account, ...)` gives clients that create resources there, as the account's own
bootstrap stack would have.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import urllib3

from tests.support import loopback

LOOPBACK = "127.0.0.1"
START_TIMEOUT = 20.0


@dataclass(frozen=True)
class RecordedCall:
    method: str
    path: str  # with its query
    parameters: dict[str, str] = field(default_factory=dict)  # of a form-encoded body (STS, ...)

    @property
    def action(self) -> str | None:
        return self.parameters.get("Action")

    def __str__(self) -> str:
        return f"{self.method} {self.path}" + (f" {self.parameters}" if self.parameters else "")


def form_parameters(entry: dict[str, Any]) -> dict[str, str]:
    content_type = {k.lower(): v for k, v in entry.get("headers", {}).items()}.get("content-type", "")
    if "application/x-www-form-urlencoded" not in content_type or not entry.get("body"):
        return {}
    body = base64.b64decode(entry["body"]) if entry.get("body_encoded") else entry["body"].encode()
    return {key: values[0] for key, values in parse_qs(body.decode()).items()}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


class RecordingMotoServer:
    """`with RecordingMotoServer(tmp_path) as moto:` then `moto.endpoint`, `moto.calls()`."""

    def __init__(self, directory: Path) -> None:
        self.recording = directory / "moto-recording.jsonl"
        self.log = directory / "moto-server.log"
        self.port = free_port()
        self.endpoint = f"http://{LOOPBACK}:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None
        self._http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(total=10))

    def __enter__(self) -> RecordingMotoServer:
        env = {**os.environ, "MOTO_ENABLE_RECORDING": "True", "MOTO_RECORDER_FILEPATH": str(self.recording)}
        server = Path(sys.executable).with_name("moto_server")
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(
                [str(server), "-H", LOOPBACK, "-p", str(self.port)], env=env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                self._http.request("GET", f"{self.endpoint}/moto-api/data.json")
                break
            except urllib3.exceptions.HTTPError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    self.__exit__(None, None, None)
                    raise RuntimeError(f"moto's server did not start: {self.log.read_text()[-2000:]}") from None
                time.sleep(0.05)
        self.reset()
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None

    def _recorder(self, action: str) -> bytes:
        response = self._http.request("POST", f"{self.endpoint}/moto-api/recorder/{action}", body=b"")
        if response.status != 200:
            raise RuntimeError(f"moto's recorder answered {action} with {response.status}")
        return bytes(response.data)

    def reset(self) -> None:
        """Forget every call so far (setting up buckets is not what a test asks about)."""
        self._recorder("reset-recording")

    def calls(self) -> list[RecordedCall]:
        text = self._recorder("download-recording").decode()
        calls = []
        for line in text.splitlines():
            entry = json.loads(line)
            url = urlsplit(entry["url"])
            path = url.path + (f"?{url.query}" if url.query else "")
            calls.append(RecordedCall(entry["method"], path, form_parameters(entry)))
        return calls

    def client(self, service: str, region: str = loopback.REGION, **credentials: str) -> Any:
        options = credentials or loopback.CLIENT_CREDENTIALS
        return boto3.client(service, endpoint_url=self.endpoint, region_name=region, **options)

    def client_in(self, account: str, service: str, region: str) -> Any:
        """A client acting in `account` (through a role assumed there, which moto does not check)."""
        role = f"arn:aws:iam::{account}:role/test-setup"
        credentials = self.client("sts").assume_role(RoleArn=role, RoleSessionName="test-setup")["Credentials"]
        return self.client(
            service,
            region,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )
