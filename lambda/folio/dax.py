"""Reads through DAX while it answers, and from DynamoDB while it does not.

`DaxReads` is the read port of the hot, read-mostly paths (docs/read-path.md says which).
It builds its DAX reader lazily, on the first read that needs it, because the DAX client
connects and starts threads in its constructor and raises when no node answers: a
container whose cluster is down must still start and serve. Construction and every read
sit behind one circuit breaker; while it is open, reads go straight to DynamoDB and each
such read is counted (the `DaxFallbacks` metric, EMF). Nothing here ever fails a read that
DynamoDB can answer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from folio.circuit_breaker import CircuitBreaker
from folio.errors import InvalidCursor, NotFound

if TYPE_CHECKING:
    from folio.domain import Page
    from folio.ports import DocumentReads

# A read's own answer, not a failure of DAX: passed to the caller as DynamoDB would.
_ANSWERS = (NotFound, InvalidCursor)
METRICS_NAMESPACE = "Folio"
FALLBACK_METRIC = "DaxFallbacks"
# How long reads skip DAX after it failed, before one read tries it again.
COOL_DOWN_SECONDS = 30.0

T = TypeVar("T")
_log = logging.getLogger(__name__)


def count_fallback(operation: str, failure: BaseException | None) -> None:
    """One `DaxFallbacks` data point, written as EMF to the function's log, with the read
    and why it skipped DAX (the failure's type, or the open breaker) as searchable fields."""
    # Imported here: only a fallback pays for the metrics module (about 40 ms).
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    with single_metric(name=FALLBACK_METRIC, unit=MetricUnit.Count, value=1, namespace=METRICS_NAMESPACE) as metric:
        metric.add_metadata("operation", operation)
        metric.add_metadata("reason", "breaker open" if failure is None else type(failure).__name__)


class DaxReads:
    """A DocumentReads over two others: `connect()` builds the one that reads through DAX,
    `dynamodb` is the one that reads the table. Same answers, same errors."""

    def __init__(
        self,
        *,
        connect: Callable[[], DocumentReads],
        dynamodb: DocumentReads,
        breaker: CircuitBreaker | None = None,
        on_fallback: Callable[[str, BaseException | None], None] | None = None,
    ) -> None:
        self._connect = connect
        self._dynamodb = dynamodb
        self._breaker = breaker or CircuitBreaker(cool_down_seconds=COOL_DOWN_SECONDS)
        self._on_fallback = count_fallback if on_fallback is None else on_fallback
        self._through_dax: DocumentReads | None = None
        self._connecting = threading.Lock()

    def _dax(self) -> DocumentReads:
        with self._connecting:
            if self._through_dax is None:
                self._through_dax = self._connect()
            return self._through_dax

    def _read(self, operation: str, read: Callable[[DocumentReads], T]) -> T:
        failure: BaseException | None = None
        if self._breaker.allows():
            try:
                answer = read(self._dax())
            except _ANSWERS:
                self._breaker.succeeded()
                raise
            except Exception as error:  # any failure of DAX, even a bug, is answered by DynamoDB
                self._breaker.failed()
                failure = error
            except BaseException:
                # Not ours to answer (the runtime is stopping): but never leave a half-open
                # breaker waiting for a trial that will not report back.
                self._breaker.failed()
                raise
            else:
                self._breaker.succeeded()
                return answer
        self._count_fallback(operation, failure)
        return read(self._dynamodb)

    def _count_fallback(self, operation: str, failure: BaseException | None) -> None:
        try:
            self._on_fallback(operation, failure)
        except Exception:  # counting is not worth a request that DynamoDB can answer
            _log.warning("could not count a DAX fallback of %s", operation, exc_info=True)

    # -- the read port ---------------------------------------------------------------------
    def get_document(self, owner: str, doc_id: str) -> dict[str, Any]:
        return self._read("get_document", lambda r: r.get_document(owner, doc_id))

    def list_documents(self, owner: str, limit: int, start: dict[str, Any] | None = None) -> Page:
        return self._read("list_documents", lambda r: r.list_documents(owner, limit, start))

    def list_by_tag(self, owner: str, tag: str, limit: int, start: dict[str, Any] | None = None) -> Page:
        return self._read("list_by_tag", lambda r: r.list_by_tag(owner, tag, limit, start))

    def list_by_type(self, owner: str, doc_type: str, limit: int, start: dict[str, Any] | None = None) -> Page:
        return self._read("list_by_type", lambda r: r.list_by_type(owner, doc_type, limit, start))

    def list_shared_with(self, grantee: str, limit: int, start: dict[str, Any] | None = None) -> Page:
        return self._read("list_shared_with", lambda r: r.list_shared_with(grantee, limit, start))

    def list_trash(self, owner: str, limit: int, start: dict[str, Any] | None = None) -> Page:
        return self._read("list_trash", lambda r: r.list_trash(owner, limit, start))

    def recent_uploads(self, limit: int) -> list[dict[str, Any]]:
        return self._read("recent_uploads", lambda r: r.recent_uploads(limit))

    def find_share(self, grantee: str, doc_id: str) -> dict[str, Any] | None:
        return self._read("find_share", lambda r: r.find_share(grantee, doc_id))

    def usage(self, owner: str) -> dict[str, int]:
        return self._read("usage", lambda r: r.usage(owner))
