"""Counting a DynamoDB client's requests and consumed capacity from outside, with botocore
event hooks: the runtime keeps no per-call state and asks for no capacity figures itself.

Used by tests/integration/test_access_patterns.py (one request per access pattern, no Scan)
and benchmarks/access_patterns.py (capacity next to the theoretical minimum)."""

from __future__ import annotations

import itertools
from typing import Any

from botocore import xform_name

# Operations that accept ReturnConsumedCapacity, which the recorder asks for on the client's behalf.
_REPORTS_CAPACITY = {
    "BatchGetItem", "BatchWriteItem", "DeleteItem", "GetItem", "PutItem", "Query", "Scan",
    "TransactGetItems", "TransactWriteItems", "UpdateItem",
}  # fmt: skip
_ids = itertools.count()


def capacity_units(response: dict[str, Any]) -> float:
    """The total capacity a response reports (TOTAL or INDEXES), 0 if it reports none."""
    reported = response.get("ConsumedCapacity") or []
    entries = reported if isinstance(reported, list) else [reported]
    return float(sum(entry.get("CapacityUnits", 0.0) for entry in entries))


class DynamoDBRequests:
    """Every request `client` sends while attached: (operation in snake_case, capacity units).

    `capacity` asks DynamoDB for consumed capacity ("TOTAL", or "INDEXES" for a split by
    table and index) on every operation that can report it; None leaves requests alone."""

    def __init__(self, client: Any, *, capacity: str | None = "TOTAL") -> None:
        self.client = client
        self.capacity = capacity
        self.requests: list[tuple[str, float]] = []
        self._id = f"folio-dynamodb-requests-{next(_ids)}"
        events = client.meta.events
        events.register("provide-client-params.dynamodb", self._ask_for_capacity, unique_id=self._id + "-ask")
        events.register("after-call.dynamodb", self._record, unique_id=self._id + "-record")

    @property
    def operations(self) -> list[str]:
        return [operation for operation, _ in self.requests]

    def clear(self) -> None:
        self.requests.clear()

    def detach(self) -> None:
        events = self.client.meta.events
        events.unregister("provide-client-params.dynamodb", unique_id=self._id + "-ask")
        events.unregister("after-call.dynamodb", unique_id=self._id + "-record")

    def _ask_for_capacity(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if self.capacity is not None and model.name in _REPORTS_CAPACITY:
            params.setdefault("ReturnConsumedCapacity", self.capacity)

    def _record(self, model: Any, parsed: dict[str, Any], **_: Any) -> None:
        self.requests.append((xform_name(model.name), capacity_units(parsed)))
