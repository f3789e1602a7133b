"""DaxReads and its circuit breaker, on stand-in readers: the routing rules alone.

The real client's code path (the unmodified `amazondax` client against a loopback DAX
server in front of DynamoDB Local) is in tests/integration/test_dax_read_path.py.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from folio.circuit_breaker import BreakerState, CircuitBreaker
from folio.dax import FALLBACK_METRIC, METRICS_NAMESPACE, DaxReads, count_fallback
from folio.errors import InvalidCursor, NotFound


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Reader:
    """Answers get_document with its own name, or raises what it is told to."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls = 0
        self.failure: BaseException | None = None

    def get_document(self, owner: str, doc_id: str) -> dict[str, Any]:
        self.calls += 1
        if self.failure is not None:
            raise self.failure
        return {"owner": owner, "docId": doc_id, "from": self.name}


class Harness:
    def __init__(self) -> None:
        self.clock = Clock()
        self.breaker = CircuitBreaker(cool_down_seconds=30, clock=self.clock)
        self.dax = Reader("dax")
        self.dynamodb = Reader("dynamodb")
        self.connects = 0
        self.connect_failure: BaseException | None = None
        self.fallbacks: list[str] = []
        self.failures: list[BaseException | None] = []
        self.reads = DaxReads(
            connect=self.connect, dynamodb=self.dynamodb, breaker=self.breaker, on_fallback=self.fell_back
        )

    def fell_back(self, operation: str, failure: BaseException | None) -> None:
        self.fallbacks.append(operation)
        self.failures.append(failure)

    def connect(self) -> Reader:
        self.connects += 1
        if self.connect_failure is not None:
            raise self.connect_failure
        return self.dax

    def read(self) -> str:
        return str(self.reads.get_document("u1", "d1")["from"])


@pytest.fixture
def harness() -> Harness:
    return Harness()


def test_reads_go_through_dax_and_connect_once(harness: Harness) -> None:
    assert [harness.read() for _ in range(3)] == ["dax", "dax", "dax"]
    assert harness.connects == 1
    assert harness.dynamodb.calls == 0
    assert harness.fallbacks == []


def test_nothing_connects_before_the_first_read(harness: Harness) -> None:
    assert harness.connects == 0


def test_a_failing_read_is_answered_by_dynamodb_and_opens_the_breaker(harness: Harness) -> None:
    harness.dax.failure = ConnectionResetError("node went away")
    assert harness.read() == "dynamodb"
    assert harness.breaker.state is BreakerState.OPEN
    # While open, DAX is not even tried: no time lost on a dead node.
    assert [harness.read() for _ in range(3)] == ["dynamodb"] * 3
    assert harness.dax.calls == 1
    assert harness.fallbacks == ["get_document"] * 4
    assert harness.failures == [harness.dax.failure, None, None, None]


def test_a_failing_construction_is_answered_by_dynamodb_and_retried_after_the_cool_down(harness: Harness) -> None:
    harness.connect_failure = OSError("no route to any DAX node")
    assert harness.read() == "dynamodb"
    assert harness.read() == "dynamodb"
    assert harness.connects == 1
    harness.clock.now += 29.9
    assert harness.read() == "dynamodb"
    assert harness.connects == 1
    harness.connect_failure = None
    harness.clock.now += 0.1
    assert harness.breaker.state is BreakerState.HALF_OPEN
    assert harness.read() == "dax"
    assert harness.connects == 2
    assert harness.breaker.state is BreakerState.CLOSED


def test_a_failed_trial_reopens_for_another_cool_down(harness: Harness) -> None:
    harness.dax.failure = TimeoutError()
    harness.read()
    harness.clock.now += 30
    assert harness.read() == "dynamodb"
    assert harness.dax.calls == 2
    assert harness.breaker.state is BreakerState.OPEN
    harness.clock.now += 29
    harness.read()
    assert harness.dax.calls == 2


@pytest.mark.parametrize("answer", [NotFound("no such document"), InvalidCursor("the cursor belongs elsewhere")])
def test_a_reads_own_answer_is_not_a_failure_of_dax(harness: Harness, answer: Exception) -> None:
    harness.dax.failure = answer
    with pytest.raises(type(answer)):
        harness.read()
    assert harness.dynamodb.calls == 0
    assert harness.breaker.state is BreakerState.CLOSED
    assert harness.fallbacks == []


def test_half_open_lets_exactly_one_trial_through() -> None:
    clock = Clock()
    breaker = CircuitBreaker(cool_down_seconds=5, clock=clock)
    breaker.failed()
    clock.now += 5
    assert breaker.allows()
    assert not breaker.allows()
    breaker.succeeded()
    assert breaker.allows() and breaker.allows()


def test_concurrent_reads_while_open_all_fall_back(harness: Harness) -> None:
    harness.dax.failure = ConnectionError()
    harness.read()
    answers: list[str] = []
    threads = [threading.Thread(target=lambda: answers.append(harness.read())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == ["dynamodb"] * 8
    assert harness.dax.calls == 1


def test_a_failing_count_never_fails_a_read_dynamodb_answers(harness: Harness) -> None:
    def broken_count(operation: str, failure: BaseException | None) -> None:
        raise RuntimeError("the metrics module is broken")

    reads = DaxReads(connect=harness.connect, dynamodb=harness.dynamodb, on_fallback=broken_count)
    harness.dax.failure = OSError("node went away")

    assert reads.get_document("u1", "d1")["from"] == "dynamodb"


def test_an_interrupted_trial_does_not_leave_the_breaker_waiting_for_it(harness: Harness) -> None:
    harness.dax.failure = OSError("node went away")
    harness.read()
    harness.clock.now += 30
    harness.dax.failure = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt):
        harness.read()
    harness.dax.failure = None
    harness.clock.now += 30
    assert harness.read() == "dax"


def test_the_breaker_refuses_a_cool_down_that_would_never_open() -> None:
    with pytest.raises(ValueError, match="cool_down_seconds"):
        CircuitBreaker(cool_down_seconds=0)


def test_a_fallback_is_one_emf_count_in_folios_namespace(capsys: pytest.CaptureFixture[str]) -> None:
    count_fallback("find_share", TimeoutError("read timed out"))
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    directive = record["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == METRICS_NAMESPACE
    assert directive["Metrics"] == [{"Name": FALLBACK_METRIC, "Unit": "Count"}]
    assert record[FALLBACK_METRIC] == [1.0]
    assert (record["operation"], record["reason"]) == ("find_share", "TimeoutError")
    count_fallback("find_share", None)
    assert json.loads(capsys.readouterr().out.strip())["reason"] == "breaker open"
