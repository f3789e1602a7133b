"""DynamoDB plumbing, in one place: the codec, the map from throttling to `Throttled`,
transactions that return their cancellation reasons, pages of a Query, and the one builder
of update expressions that every update uses.

The adapters (folio.reads, folio.writes) build their requests from these and from folio.keys;
nothing here knows an access pattern. No per-call state: tests and the benchmark count
requests from outside, with botocore event hooks (tests/support/dynamodb_requests.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from folio import keys
from folio.domain import Page
from folio.errors import InvalidCursor, Throttled

# DynamoDB's answers when a request is refused for capacity (after botocore's own retries).
THROTTLING_ERRORS = frozenset({"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded"})
THROTTLED_MESSAGE = "too many requests right now; try again shortly"
PRIMARY_KEY = (keys.PARTITION_KEY, keys.SORT_KEY)

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    """Python values to DynamoDB's typed JSON; None means "no such attribute" and is left out."""
    return {k: _serializer.serialize(v) for k, v in item.items() if v is not None}


def deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


def item_key(owner: str, sort_key: str) -> dict[str, Any]:
    """The serialized primary key of an item in `owner`'s partition."""
    return serialize({keys.PARTITION_KEY: keys.user_partition(owner), keys.SORT_KEY: sort_key})


def call(client: Any, operation: str, **request: Any) -> dict[str, Any]:
    """`client.<operation>(**request)`; throttling (after botocore's retries) becomes `Throttled`."""
    try:
        response: dict[str, Any] = getattr(client, operation)(**request)
    except ClientError as error:
        if error.response["Error"]["Code"] in THROTTLING_ERRORS:
            raise Throttled(THROTTLED_MESSAGE) from error
        raise
    return response


def transact(client: Any, items: list[dict[str, Any]]) -> list[str]:
    """Run a transaction; [] if it ran, else the reason code of each item ("None" for an
    item that did not cause the cancellation). A throttled item is `Throttled`."""
    try:
        call(client, "transact_write_items", TransactItems=items)
        return []
    except ClientError as error:
        if error.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        reasons = [r.get("Code", "None") for r in error.response.get("CancellationReasons", [])]
        if "ThrottlingError" in reasons:
            raise Throttled(THROTTLED_MESSAGE) from error
        return reasons


def get_item(client: Any, table: str, key: dict[str, Any], *, consistent: bool) -> dict[str, Any] | None:
    """One item by its serialized key, or None. Only `consistent=True` sends ConsistentRead:
    a cache in front of DynamoDB (DAX) serves only eventually consistent reads."""
    request: dict[str, Any] = {"TableName": table, "Key": key}
    if consistent:
        request["ConsistentRead"] = True
    response = call(client, "get_item", **request)
    # A miss is no "Item" from boto3, and may be "Item": None from the DAX client's decoder.
    item = response.get("Item")
    return deserialize(item) if item else None


def query_page(
    client: Any, table: str, request: dict[str, Any], limit: int, start: dict[str, Any] | None = None
) -> Page:
    """One page of a Query, newest (highest sort key) first."""
    if start is not None:
        request = {**request, "ExclusiveStartKey": start}
    response = call(client, "query", TableName=table, Limit=limit, ScanIndexForward=False, **request)
    return Page([deserialize(i) for i in response.get("Items", [])], response.get("LastEvaluatedKey"))


def check_start(start: dict[str, Any] | None, attribute: str, expected: str) -> None:
    """A cursor's key must lie in the partition being queried (the caller's own): even a
    forged cursor with a valid MAC cannot page through another partition."""
    kind = "N" if attribute == keys.RECENT_SHARD_ATTRIBUTE else "S"
    if start is not None and start.get(attribute, {}).get(kind) != expected:
        raise InvalidCursor("the cursor belongs to another query or caller")


def update(
    table: str,
    key: dict[str, Any],
    *,
    assign: Mapping[str, Any] | None = None,
    add: Mapping[str, Any] | None = None,
    remove: Iterable[str] = (),
    delete: Mapping[str, Any] | None = None,
    condition: str | None = None,
    names: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An UpdateItem request (or the body of a transaction's Update): the one place that
    writes update expressions. `assign` SETs attributes, `add` ADDs to numbers and sets,
    `remove` REMOVEs attributes, `delete` DELETEs elements from sets; every attribute gets a
    placeholder. `condition` brings its own placeholders in `names` and `values`; reusing one
    of the builder's (#s0, :a1, #r0, ...) is a ValueError."""
    clauses: list[str] = []
    all_names: dict[str, str] = {}
    all_values: dict[str, Any] = {}
    for tag, verb, changes, joiner in (
        ("s", "SET", assign or {}, " = "),
        ("a", "ADD", add or {}, " "),
        ("d", "DELETE", delete or {}, " "),
    ):
        parts = []
        for number, (attribute, value) in enumerate(changes.items()):
            all_names[f"#{tag}{number}"] = attribute
            all_values[f":{tag}{number}"] = value
            parts.append(f"#{tag}{number}{joiner}:{tag}{number}")
        if parts:
            clauses.append(f"{verb} " + ", ".join(parts))
    removed = list(remove)
    if removed:
        all_names.update({f"#r{number}": attribute for number, attribute in enumerate(removed)})
        clauses.append("REMOVE " + ", ".join(f"#r{number}" for number in range(len(removed))))
    if not clauses:
        raise ValueError("an update must change something")
    clashes = (set(names or {}) & set(all_names)) | (set(values or {}) & set(all_values))
    if clashes:
        raise ValueError(f"the condition reuses the builder's placeholders {sorted(clashes)}")
    all_names.update(names or {})
    all_values.update(values or {})
    request: dict[str, Any] = {
        "TableName": table,
        "Key": key,
        "UpdateExpression": " ".join(clauses),
        "ExpressionAttributeNames": all_names,
    }
    if condition is not None:
        request["ConditionExpression"] = condition
    serialized = serialize(all_values)
    if serialized:
        request["ExpressionAttributeValues"] = serialized
    return request
