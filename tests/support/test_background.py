"""The background lane (tests/support/background.py): jobs run one at a time in order, and a job
that cannot start, runs too long or is cut off by the end of the session fails whoever awaits it."""

from __future__ import annotations

import itertools
import os
import sys
import time
from collections.abc import Iterator

import pytest

from tests.support.background import NICENESS, BackgroundJobError, BackgroundLane

# Prints when it started and ended (CLOCK_MONOTONIC is one clock for every process).
TIMED_SLEEP = "import sys, time; s = time.monotonic(); time.sleep(float(sys.argv[1])); print(s, time.monotonic())"


@pytest.fixture
def lane() -> Iterator[BackgroundLane]:
    lane = BackgroundLane()
    yield lane
    lane.close()


def python(code: str, *arguments: str) -> list[str]:
    return [sys.executable, "-c", code, *arguments]


def test_a_job_gives_its_exit_code_and_output(lane: BackgroundLane) -> None:
    job = lane.run("a job", python("import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"), timeout=60)

    finished = job.result()

    assert (finished.returncode, finished.stdout, finished.stderr) == (3, "out\n", "err\n")


def test_jobs_run_one_at_a_time_in_the_order_submitted(lane: BackgroundLane) -> None:
    jobs = [lane.run(f"sleep {n}", python(TIMED_SLEEP, "0.3"), timeout=60) for n in range(3)]

    spans = [tuple(map(float, job.result().stdout.split())) for job in jobs]

    for (_, first_end), (second_start, _) in itertools.pairwise(spans):
        assert second_start >= first_end


def test_jobs_run_at_a_lower_priority_than_the_session(lane: BackgroundLane) -> None:
    here = os.getpriority(os.PRIO_PROCESS, 0)
    # The child asks after a pause: the lane lowers its priority just after starting it.
    job = lane.run(
        "nice", python("import os, time; time.sleep(0.5); print(os.getpriority(os.PRIO_PROCESS, 0))"), timeout=60
    )

    assert int(job.result().stdout) == min(here + NICENESS, 19)


def test_a_command_that_cannot_start_fails_the_waiting_test(lane: BackgroundLane) -> None:
    job = lane.run("a missing tool", ["/nonexistent/tool"], timeout=60)

    with pytest.raises(BackgroundJobError, match="a missing tool: could not start"):
        job.result()


def test_a_job_past_its_timeout_is_killed_and_fails_the_waiting_test(lane: BackgroundLane) -> None:
    started = time.monotonic()
    job = lane.run("a hung tool", python("import time; time.sleep(60)"), timeout=0.5)
    after = lane.run("the next job", python("print('ran')"), timeout=60)

    with pytest.raises(BackgroundJobError, match="a hung tool: killed after"):
        job.result()
    assert after.result().stdout == "ran\n"  # the lane goes on
    assert time.monotonic() - started < 30


def test_closing_the_lane_kills_the_running_job_and_cancels_the_queued_ones() -> None:
    lane = BackgroundLane()
    running = lane.run("a long job", python("import time; print('started', flush=True); time.sleep(60)"), timeout=120)
    queued = lane.run("a queued job", python("print('ran')"), timeout=60)
    time.sleep(0.5)  # the first job has started

    started = time.monotonic()
    lane.close()

    for job in (running, queued):
        with pytest.raises(BackgroundJobError):
            job.result()
    assert time.monotonic() - started < 30
    with pytest.raises(BackgroundJobError, match="closed"):
        lane.run("too late", python("print('ran')"), timeout=60)
