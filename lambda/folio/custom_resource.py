"""Answering CloudFormation as a Lambda-backed custom resource, and HTTP within the time left.

CloudFormation invokes the function asynchronously and then waits, for up to an hour, for one
answer PUT to the presigned S3 URL of the event (`ResponseURL`): an invocation that never
answers holds the stack that long, and its rollback after it. So a handler answers exactly once,
whatever failed, and before the function's timeout: every HTTP call it makes gets a timeout
from the time Lambda says is left (`Budget`), less what answering takes
(`RESPONSE_RESERVE_SECONDS`). The answer's body is at most 4096 bytes (a CloudFormation limit):
the Reason is cut to fit. The URL's query is its signature: it is never logged.

Nothing here imports more than the standard library and urllib3 (in the Lambda runtime).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import urllib3

SUCCESS, FAILED = "SUCCESS", "FAILED"
MAX_RESPONSE_BYTES = 4096  # CloudFormation refuses a larger custom-resource response body
# Kept back from the work for the answer: its PUT (S3 answers in well under a second) and retries.
RESPONSE_RESERVE_SECONDS = 5.0
# Per attempt of one call; the time left caps both.
CONNECT_TIMEOUT_SECONDS = 3.0
READ_TIMEOUT_SECONDS = 10.0
ATTEMPTS = 3
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
BACKOFF_SECONDS = 0.2
# Below this, an attempt cannot complete (a TLS handshake alone takes a few round trips).
MIN_ATTEMPT_SECONDS = 0.05
MAX_REASON_CHARACTERS = 1000
MAX_CHANGED_ENTRIES = 20


class LambdaContext(Protocol):
    """What this module reads of Lambda's context object."""

    log_stream_name: str

    def get_remaining_time_in_millis(self) -> int: ...


class NoAnswer(RuntimeError):
    """A call got no HTTP answer in the time it had (refused, reset, timed out, TLS refused)."""


@dataclass(frozen=True)
class Budget:
    """The time an invocation may still spend on work: what Lambda says is left, less `reserve`."""

    context: LambdaContext
    reserve: float = RESPONSE_RESERVE_SECONDS

    def seconds_left(self) -> float:
        return self.context.get_remaining_time_in_millis() / 1000 - self.reserve


def log(message: str, **fields: Any) -> None:
    """One JSON line on stdout, which Lambda sends to the function's log stream as it is."""
    sys.stdout.write(json.dumps({"level": "INFO", "message": message, **fields}, default=str) + "\n")
    sys.stdout.flush()


def without_query(url: str) -> str:
    """The URL as it may be logged: a presigned URL's query is its signature."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def call_within(
    http: urllib3.PoolManager,
    method: str,
    url: str,
    *,
    body: bytes | None,
    headers: Callable[[], Mapping[str, str]],
    seconds_left: Callable[[], float],
) -> urllib3.BaseHTTPResponse:
    """One HTTP call, tried up to ATTEMPTS times while connections fail or the server answers a
    RETRY_STATUSES status (the last such answer is returned), each attempt with timeouts capped
    by `seconds_left()`. `headers()` is called per attempt (a signature carries its time).
    Raises NoAnswer when no attempt got an answer in time."""
    problem = "no time left before the function's timeout"
    for attempt in range(ATTEMPTS):
        left = seconds_left()
        if left < MIN_ATTEMPT_SECONDS:
            break
        timeout = urllib3.Timeout(connect=min(CONNECT_TIMEOUT_SECONDS, left), read=min(READ_TIMEOUT_SECONDS, left))
        try:
            response = http.request(
                method, url, body=body, headers=dict(headers()), timeout=timeout, retries=False, redirect=False
            )
        except urllib3.exceptions.SSLError as error:
            # A certificate that does not verify will not verify on the next attempt either.
            problem = f"{type(error).__name__}: {error}"
            break
        except urllib3.exceptions.HTTPError as error:
            problem = f"{type(error).__name__}: {error}"
        else:
            if response.status not in RETRY_STATUSES or attempt == ATTEMPTS - 1:
                return response
            problem = f"HTTP {response.status}"
        if attempt < ATTEMPTS - 1:
            time.sleep(max(0.0, min(BACKOFF_SECONDS * 2**attempt, seconds_left())))
    raise NoAnswer(f"no answer from {without_query(url)} in time ({problem})")


@dataclass(frozen=True)
class Outcome:
    """What to tell CloudFormation about one request."""

    status: str
    physical_id: str
    reason: str = ""
    changed: Sequence[str] = ()


def response_body(event: Mapping[str, Any], outcome: Outcome) -> bytes:
    """The answer's JSON, under MAX_RESPONSE_BYTES: the Reason is cut (never the ids), to the
    longest prefix that fits once escaped (a character can take 1 to 12 bytes of JSON)."""
    answer = {
        "Status": outcome.status,
        "Reason": "",
        "PhysicalResourceId": outcome.physical_id,
        "StackId": event.get("StackId", ""),
        "RequestId": event.get("RequestId", ""),
        "LogicalResourceId": event.get("LogicalResourceId", ""),
        "Data": {"Changed": list(outcome.changed[:MAX_CHANGED_ENTRIES])},
    }
    reason = outcome.reason[:MAX_REASON_CHARACTERS]

    def encoded(kept: int) -> bytes:
        answer["Reason"] = reason if kept == len(reason) else reason[:kept] + " …"
        return json.dumps(answer).encode()

    shortest, longest = 0, len(reason)
    while shortest < longest:  # the longest prefix that fits
        middle = (shortest + longest + 1) // 2
        if len(encoded(middle)) < MAX_RESPONSE_BYTES:
            shortest = middle
        else:
            longest = middle - 1
    return encoded(shortest)


def respond(http: urllib3.PoolManager, event: Mapping[str, Any], outcome: Outcome, context: LambdaContext) -> None:
    """PUT the answer to the event's ResponseURL, once; a failure to deliver it is logged (there
    is no one else to tell). The body goes with an empty Content-Type: the URL was presigned
    without one, and S3 refuses a request whose headers differ from what was signed."""
    body = response_body(event, outcome)
    url = str(event.get("ResponseURL", ""))
    fields = {"status": outcome.status, "physicalResourceId": outcome.physical_id, "responseUrl": without_query(url)}
    if not url.startswith(("https://", "http://")):
        log("response not delivered", problem="the event has no ResponseURL", **fields)
        return
    # The time Lambda says is left, less a little for the log line: the reserve is for this.
    left = Budget(context, reserve=0.25).seconds_left
    try:
        answered = call_within(
            http, "PUT", url, body=body,
            headers=lambda: {"Content-Type": "", "Content-Length": str(len(body))}, seconds_left=left,
        )  # fmt: skip
    except NoAnswer as error:
        log("response not delivered", problem=str(error), **fields)
        return
    # S3 refuses an expired URL (after two hours) or a body unlike the signed request, with 403.
    step = "responded" if answered.status == 200 else "response refused"
    log(step, httpStatus=answered.status, reason=outcome.reason[:300], **fields)
