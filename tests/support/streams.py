"""A table's real DynamoDB stream, read with boto3's `dynamodbstreams` client, and handed to a
stream-triggered function the way Lambda's event source mapping would.

`StreamReader` opens every shard at LATEST when it is created, so `read()` returns exactly the
records written since (the integration tests share one table for the whole session). `lambda_event`
reshapes the records as Lambda delivers them: `ApproximateCreationDateTime` as epoch seconds (boto3
parses it into a datetime), plus `eventSourceARN`.

DynamoDB Local never expires items by TTL. `as_ttl_removal` turns the real REMOVE record of a
DeleteItem into what DynamoDB's TTL process would write: the same record plus TTL's
`userIdentity` (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/time-to-live-ttl-streams.html).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

TTL_USER_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}


class StreamReader:
    """Every record the table's stream holds from the moment this reader was created."""

    def __init__(self, dynamodb: Any, streams: Any, table_name: str) -> None:
        self.streams = streams
        self.stream_arn: str = dynamodb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
        self.iterators: dict[str, str | None] = {
            shard_id: self._iterator(shard_id, "LATEST") for shard_id in self._open_shards()
        }

    def _open_shards(self) -> list[str]:
        shards: list[str] = []
        request: dict[str, Any] = {"StreamArn": self.stream_arn}
        while True:
            description = self.streams.describe_stream(**request)["StreamDescription"]
            shards += [s["ShardId"] for s in description["Shards"] if "EndingSequenceNumber" not in s.get(
                "SequenceNumberRange", {})]  # fmt: skip
            if not description.get("LastEvaluatedShardId"):
                return shards
            request["ExclusiveStartShardId"] = description["LastEvaluatedShardId"]

    def _iterator(self, shard_id: str, kind: str) -> str:
        response = self.streams.get_shard_iterator(StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType=kind)
        return str(response["ShardIterator"])

    def read(self) -> list[dict[str, Any]]:
        """The records written since the last read (or since the reader was created)."""
        for shard_id in self._open_shards():
            if shard_id not in self.iterators:  # a shard opened after this reader: all of it is new
                self.iterators[shard_id] = self._iterator(shard_id, "TRIM_HORIZON")
        records: list[dict[str, Any]] = []
        for shard_id, iterator in list(self.iterators.items()):
            while iterator is not None:
                response = self.streams.get_records(ShardIterator=iterator, Limit=1000)
                records += response["Records"]
                iterator = response.get("NextShardIterator")
                if not response["Records"]:
                    break
            self.iterators[shard_id] = iterator
        return records


def lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """One record as Lambda's event source mapping passes it to the function (JSON only)."""
    body = copy.deepcopy(record["dynamodb"])
    created = body.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        body["ApproximateCreationDateTime"] = created.timestamp()
    shaped = {**copy.deepcopy(record), "dynamodb": body, "eventSourceARN": stream_arn}
    result: dict[str, Any] = json.loads(json.dumps(shaped))  # refuses anything JSON cannot carry
    return result


def lambda_event(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": list(records)}


def as_ttl_removal(record: dict[str, Any]) -> dict[str, Any]:
    """The REMOVE record of a DeleteItem, as TTL's own deletion of that item would appear."""
    if record.get("eventName") != "REMOVE":
        raise ValueError(f"only a REMOVE record can become a TTL removal, not {record.get('eventName')}")
    return {**copy.deepcopy(record), "userIdentity": dict(TTL_USER_IDENTITY)}


def keys_of(record: dict[str, Any]) -> tuple[str, str]:
    """(PK, SK) of the item a record is about, as strings."""
    item_keys = record["dynamodb"]["Keys"]
    return item_keys["PK"]["S"], item_keys["SK"]["S"]
