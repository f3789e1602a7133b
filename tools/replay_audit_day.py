"""Replay one UTC day of the audit archive (features.cdc) into a scratch table, or list it.

The archive holds what Firehose read from the table's Kinesis change stream: gzip objects
under `changes/year=YYYY/month=MM/day=DD/`, each the Kinesis records' data back to back
(Firehose adds no delimiter). Each record is DynamoDB's change JSON, as "Kinesis Data Streams
for DynamoDB" writes it (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/kds.html;
the fields, as Powertools parses them: `DynamoDBStreamToKinesisRecord`):

    {"awsRegion": "us-east-1", "eventID": "...", "eventName": "INSERT" | "MODIFY" | "REMOVE",
     "userIdentity": null, "recordFormat": "application/json", "tableName": "...",
     "dynamodb": {"ApproximateCreationDateTime": 1795910399999999, "Keys": {...},
                  "NewImage": {...}, "OldImage": {...}, "SizeBytes": 123},
     "eventSource": "aws:dynamodb"}

Firehose partitions by the time a record *arrived*, so a change made just before midnight may
sit in the next day's objects: the day is read from its own prefix and the next day's, and
kept by `ApproximateCreationDateTime` (microseconds, as Folio configures the table; older
milliseconds are recognised too). Kinesis Data Streams for DynamoDB may deliver a change
twice or out of order, so changes are de-duplicated by `eventID` and applied in creation
order, so the last change of an item wins.

Why here and not in `lambda/`: an operator runs it from a workstation with the operator's
credentials; no function ships or calls it. docs/operations.md, "Replay a day of changes".

    python -m tools.replay_audit_day --bucket <archive> --day 2026-11-29 --list
    python -m tools.replay_audit_day --bucket <archive> --day 2026-11-29 --table <scratch table>
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

CHANGES_ROOT = "changes/"
GZIP_MAGIC = b"\x1f\x8b"
# ApproximateCreationDateTime is epoch microseconds (precision MICROSECOND) or milliseconds
# (MILLISECOND). Below this a value is milliseconds: 10**14 us is 1973, 10**14 ms the year 5138.
_MICROSECONDS_FROM = 10**14
EVENT_NAMES = ("INSERT", "MODIFY", "REMOVE")


def day_prefix(day: date) -> str:
    """The archive prefix Firehose writes a UTC day under (stacks/components/audit_archive.py)."""
    return f"{CHANGES_ROOT}year={day:%Y}/month={day:%m}/day={day:%d}/"


@dataclass(frozen=True)
class Change:
    """One change of one item, in the archive's order of appearance (`position`)."""

    event_id: str
    event_name: str
    keys: dict[str, Any]
    new_image: dict[str, Any] | None
    old_image: dict[str, Any] | None
    created_us: int  # epoch microseconds
    position: tuple[str, int]  # (object key, index of the record in it)

    @property
    def created(self) -> datetime:
        return datetime.fromtimestamp(self.created_us / 1_000_000, tz=UTC)

    @property
    def item_key(self) -> str:
        return json.dumps(self.keys, sort_keys=True)


def decode_object(body: bytes) -> list[dict[str, Any]]:
    """The records of one archive object: gunzipped if gzipped, JSON objects back to back
    (newline-delimited also works)."""
    text = (gzip.decompress(body) if body.startswith(GZIP_MAGIC) else body).decode("utf-8")
    decoder = json.JSONDecoder()
    records: list[dict[str, Any]] = []
    index = 0
    while True:
        while index < len(text) and text[index].isspace():
            index += 1
        if index == len(text):
            return records
        record, index = decoder.raw_decode(text, index)
        if not isinstance(record, dict):
            raise ValueError(f"an archive record is a JSON object, not {type(record).__name__}")
        records.append(record)


def created_microseconds(value: int | float) -> int:
    return int(value) if value >= _MICROSECONDS_FROM else int(value) * 1_000


def parse_change(record: dict[str, Any], position: tuple[str, int]) -> Change:
    body = record["dynamodb"]
    if record.get("eventName") not in EVENT_NAMES:
        raise ValueError(f"{position}: eventName {record.get('eventName')!r} is none of {', '.join(EVENT_NAMES)}")
    return Change(
        event_id=str(record["eventID"]),
        event_name=record["eventName"],
        keys=body["Keys"],
        new_image=body.get("NewImage"),
        old_image=body.get("OldImage"),
        created_us=created_microseconds(body["ApproximateCreationDateTime"]),
        position=position,
    )


def changes_of_day(objects: Iterable[tuple[str, bytes]], day: date) -> list[Change]:
    """The day's changes from (key, body) archive objects: once each, in creation order."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    end = start + timedelta(days=1)
    seen: dict[str, Change] = {}
    for key, body in objects:
        for index, record in enumerate(decode_object(body)):
            change = parse_change(record, (key, index))
            if start <= change.created < end and change.event_id not in seen:
                seen[change.event_id] = change
    return sorted(seen.values(), key=lambda c: (c.created_us, c.position))


def archive_objects(s3: Any, bucket: str, day: date) -> Iterator[tuple[str, bytes]]:
    """(key, body) of every object under the day's prefix and the next day's, in key order."""
    paginator = s3.get_paginator("list_objects_v2")
    for prefix in (day_prefix(day), day_prefix(day + timedelta(days=1))):
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for entry in page.get("Contents", []):
                yield entry["Key"], s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read()


def to_request(value: dict[str, Any]) -> dict[str, Any]:
    """An attribute map from the archive's JSON to boto3's low-level form: binary values are
    base64 text in the JSON and bytes in boto3."""

    def attribute(typed: dict[str, Any]) -> dict[str, Any]:
        ((kind, inner),) = typed.items()
        if kind == "B":
            return {"B": base64.b64decode(inner)}
        if kind == "BS":
            return {"BS": [base64.b64decode(v) for v in inner]}
        if kind == "M":
            return {"M": to_request(inner)}
        if kind == "L":
            return {"L": [attribute(v) for v in inner]}
        return {kind: inner}

    return {name: attribute(typed) for name, typed in value.items()}


def apply(dynamodb: Any, table: str, changes: Sequence[Change]) -> dict[str, int]:
    """Apply the changes in order: INSERT and MODIFY put the new image (Kinesis Data Streams
    for DynamoDB always carries whole images), REMOVE deletes the key. Counts by event."""
    counts = dict.fromkeys(EVENT_NAMES, 0)
    for change in changes:
        if change.event_name == "REMOVE":
            dynamodb.delete_item(TableName=table, Key=to_request(change.keys))
        else:
            if change.new_image is None:
                raise ValueError(f"{change.position}: {change.event_name} without NewImage")
            dynamodb.put_item(TableName=table, Item=to_request(change.new_image))
        counts[change.event_name] += 1
    return counts


def summary_line(change: Change) -> str:
    """One change as a JSON line, for `--list`."""
    return json.dumps(
        {
            "created": change.created.isoformat(),
            "event": change.event_name,
            "keys": change.keys,
            "eventID": change.event_id,
            "object": change.position[0],
        },
        sort_keys=True,
    )


def main(argv: Sequence[str] | None = None, *, s3: Any = None, dynamodb: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--bucket", required=True, help="the audit archive bucket")
    parser.add_argument("--day", required=True, type=date.fromisoformat, help="the UTC day, YYYY-MM-DD")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--table", help="a scratch table (same key schema) to apply the day's changes to")
    target.add_argument("--list", action="store_true", help="print the day's changes as JSON lines")
    parser.add_argument(
        "--into-a-table-with-items",
        action="store_true",
        help="replay even though --table already holds items (never the live table: a replay there "
        "would bring purged documents back and overwrite current items with old images)",
    )
    arguments = parser.parse_args(argv)

    if s3 is None or (dynamodb is None and arguments.table):
        import boto3

        s3 = s3 or boto3.client("s3")
        dynamodb = dynamodb or boto3.client("dynamodb")
    changes = changes_of_day(archive_objects(s3, arguments.bucket, arguments.day), arguments.day)
    if arguments.list:
        for change in changes:
            print(summary_line(change))
        return 0
    if not arguments.into_a_table_with_items and dynamodb.scan(TableName=arguments.table, Limit=1).get("Items"):
        print(
            f"replay_audit_day: {arguments.table} already holds items; a replay goes into an empty scratch "
            "table (docs/operations.md, 'Replay a day of changes'). To add to it anyway, pass "
            "--into-a-table-with-items.",
            file=sys.stderr,
        )
        return 2
    counts = apply(dynamodb, arguments.table, changes)
    print(json.dumps({"day": arguments.day.isoformat(), "table": arguments.table, **counts}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
