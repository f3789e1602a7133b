"""Subprocesses that run beside the test session: the scanners (cfn-lint, checkov) and the
fresh-process synths, queued on one worker thread.

pytest runs its tests on one thread, and the machine has two cores: a job started as soon as its
input exists (at session start, or when the session's synth of a stage returns) runs on the
other core while the tests go on, and the test that needs its result waits only for what is left.
One job at a time, at a lower priority: pytest keeps one core, the lane the other.

Nothing waits forever and nothing fails quietly. Each job has a timeout (the process is killed
after it); a job that cannot start, times out or was cancelled raises from `result()`, in the test
that awaits it. `result()` itself gives up once every job queued before this one, and this one,
must have ended by their own timeouts.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Below the tests' own priority: when the machine is busier than two cores, the lane yields to the
# session (whose loopback engines answer within timeouts of a second), not the other way round.
# The processes a job starts (node for jsii, checkov's workers) inherit it.
NICENESS = 10
# Beyond the timeouts of the jobs ahead: killing a process and collecting its output.
GRACE_SECONDS = 30.0


def module_environment() -> dict[str, str]:
    """This process's environment with the paths pyproject.toml gives pytest on PYTHONPATH (the
    project, and `lambda`: the stacks read the key schema), for `python -m tests.support.<module>`."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), str(PROJECT_ROOT / "lambda")])}


class BackgroundJobError(RuntimeError):
    """A background job did not produce a result: it could not start, timed out or was cancelled."""


class BackgroundJob:
    """One queued or running subprocess; `result()` waits for it."""

    def __init__(self, description: str, future: Future[subprocess.CompletedProcess[str]], latest_end: float) -> None:
        self.description = description
        self._future = future
        self._latest_end = latest_end  # time.monotonic() by which it has ended, whatever happens

    def result(self) -> subprocess.CompletedProcess[str]:
        """The finished process (any exit code: the caller judges it). Raises BackgroundJobError
        when it did not run to its end."""
        try:
            return self._future.result(timeout=max(0.0, self._latest_end - time.monotonic()) + GRACE_SECONDS)
        except FutureTimeout as error:
            raise BackgroundJobError(f"{self.description}: no result by its deadline") from error
        except subprocess.TimeoutExpired as error:
            raise BackgroundJobError(f"{self.description}: killed after {error.timeout:.0f} s") from error
        except OSError as error:
            raise BackgroundJobError(f"{self.description}: could not start: {error}") from error
        except Exception as error:  # cancelled (the lane closed), or anything else on the worker
            raise BackgroundJobError(f"{self.description}: {error!r}") from error


class BackgroundLane:
    """Runs subprocesses one at a time, in the order submitted, on a worker thread."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="background-lane")
        self._lock = threading.Lock()
        self._running: subprocess.Popen[str] | None = None
        self._closed = False
        self._queue_ends = time.monotonic()  # by when everything submitted so far has ended

    def run(
        self,
        description: str,
        command: Sequence[str],
        *,
        timeout: float,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> BackgroundJob:
        """Queue `command`; it runs after the jobs submitted before it, and is killed after `timeout` s."""
        with self._lock:
            if self._closed:
                raise BackgroundJobError(f"{description}: the background lane is closed")
            self._queue_ends = max(self._queue_ends, time.monotonic()) + timeout + GRACE_SECONDS
            future = self._executor.submit(self._run, list(command), timeout, cwd, env)
            return BackgroundJob(description, future, self._queue_ends)

    def _run(
        self, command: list[str], timeout: float, cwd: Path | None, env: Mapping[str, str] | None
    ) -> subprocess.CompletedProcess[str]:
        with self._lock:
            if self._closed:
                raise BackgroundJobError("the background lane closed before the job started")
            process = subprocess.Popen(
                command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            self._running = process
        with contextlib.suppress(ProcessLookupError):  # it may have ended already
            os.setpriority(os.PRIO_PROCESS, process.pid, NICENESS)
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise
        finally:
            with self._lock:
                self._running = None
                closed = self._closed
        if closed:
            raise BackgroundJobError("killed: the background lane closed")
        return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)

    def close(self) -> None:
        """Cancel what has not started and kill what runs: the session is over."""
        with self._lock:
            self._closed = True
            running = self._running
        self._executor.shutdown(wait=False, cancel_futures=True)
        if running is not None:
            running.kill()
        self._executor.shutdown(wait=True)


class ModuleJob:
    """`python -m <module> <arguments>` by a new process on the lane, from the project's root with
    `module_environment()`, which prints its result as JSON on its last line."""

    def __init__(self, lane: BackgroundLane, description: str, module: str, arguments: Sequence[str], *,
                 timeout: float) -> None:  # fmt: skip
        self._job = lane.run(
            description,
            [sys.executable, "-m", module, *arguments],
            timeout=timeout,
            cwd=PROJECT_ROOT,
            env=module_environment(),
        )

    def output(self) -> dict[str, Any]:
        """The JSON it printed last; the process must have exited 0 (else its stderr's end fails)."""
        finished = self._job.result()
        assert finished.returncode == 0, finished.stderr[-4000:]
        output: dict[str, Any] = json.loads(finished.stdout.splitlines()[-1])
        return output
