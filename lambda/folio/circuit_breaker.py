"""A circuit breaker for an optional dependency that has a fallback (DAX in front of DynamoDB).

Closed: calls go to the dependency. One failure opens it: while open, calls go straight to
the fallback, so a dead dependency costs no timeouts. After `cool_down` seconds it half-opens
and lets exactly one trial call through; that call's outcome closes or re-opens it.

One failure is enough because every failure is answered by the fallback anyway: opening
early costs only the cache's benefit for one cool-down, staying closed costs a timeout per
request. Thread-safe: the admin feed reads its shards from a thread pool.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import Enum


class BreakerState(Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    def __init__(self, *, cool_down_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        if cool_down_seconds <= 0:
            raise ValueError("cool_down_seconds must be positive")
        self._cool_down = cool_down_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._opened_at = 0.0
        self._trial_running = False

    @property
    def state(self) -> BreakerState:
        with self._lock:
            if self._state is BreakerState.OPEN and self._cool_down_over():
                return BreakerState.HALF_OPEN
            return self._state

    def _cool_down_over(self) -> bool:
        return self._clock() - self._opened_at >= self._cool_down

    def allows(self) -> bool:
        """Whether this call may try the dependency. In half-open, only the first caller may
        (the trial); the rest use the fallback until the trial reports back."""
        with self._lock:
            if self._state is BreakerState.CLOSED:
                return True
            if self._state is BreakerState.OPEN and self._cool_down_over():
                self._state = BreakerState.HALF_OPEN
            if self._state is BreakerState.HALF_OPEN and not self._trial_running:
                self._trial_running = True
                return True
            return False

    def succeeded(self) -> None:
        with self._lock:
            self._state = BreakerState.CLOSED
            self._trial_running = False

    def failed(self) -> None:
        with self._lock:
            self._state = BreakerState.OPEN
            self._opened_at = self._clock()
            self._trial_running = False
