"""tools/replay_audit_day.py: archive objects in Firehose's exact layout, replayed onto DynamoDB Local.

The records are DynamoDB Local's real stream records of a session, reshaped into what Kinesis
Data Streams for DynamoDB writes (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/kds.html;
fields as Powertools' `DynamoDBStreamToKinesisRecord` parses them: `tableName`, `recordFormat`,
`ApproximateCreationDateTime` in epoch microseconds with precision MICROSECOND), then packed as
Firehose packs them (the records' data back to back, gzipped) under its date prefixes, in moto's S3.
"""

from __future__ import annotations

import base64
import copy
import gzip
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
import pytest

from tests.integration.engines import create_documents_table
from tests.support import loopback
from tools import replay_audit_day
from tools.replay_audit_day import changes_of_day, day_prefix, decode_object, main

DAY = date(2026, 11, 28)
CREDENTIALS = {**loopback.CLIENT_CREDENTIALS, "region_name": loopback.REGION}

# One record exactly as the documentation shows the format (precision MICROSECOND).
DOCUMENTED_RECORD: dict[str, Any] = {
    "awsRegion": "us-east-1",
    "eventID": "c81e728d-9d4c-4f63-8b2a-3f6d1a2b9e01",
    "eventName": "MODIFY",
    "userIdentity": None,
    "recordFormat": "application/json",
    "tableName": "FolioProd-Data-DocumentsTable",
    "dynamodb": {
        "ApproximateCreationDateTime": 1795910399999999,  # 2026-11-28T23:59:59.999999Z
        "Keys": {"PK": {"S": "USER#u1"}, "SK": {"S": "DOC#d1"}},
        "NewImage": {"PK": {"S": "USER#u1"}, "SK": {"S": "DOC#d1"}, "name": {"S": "new.pdf"}, "version": {"N": "2"}},
        "OldImage": {"PK": {"S": "USER#u1"}, "SK": {"S": "DOC#d1"}, "name": {"S": "old.pdf"}, "version": {"N": "1"}},
        "SizeBytes": 120,
    },
    "eventSource": "aws:dynamodb",
}


def microseconds(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def as_kinesis_record(stream_record: dict[str, Any], table: str, created: datetime) -> dict[str, Any]:
    """A DynamoDB Streams record (boto3's low-level form) as Kinesis Data Streams for DynamoDB
    writes it: no stream view type or sequence number, the table's name, JSON-typed binary."""
    body = copy.deepcopy(stream_record["dynamodb"])

    def to_json(image: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for name, typed in image.items():
            ((kind, value),) = typed.items()
            out[name] = {"B": base64.b64encode(value).decode()} if kind == "B" else typed
        return out

    return {
        "awsRegion": "us-east-1",
        "eventID": str(uuid.uuid4()),
        "eventName": stream_record["eventName"],
        "userIdentity": None,
        "recordFormat": "application/json",
        "tableName": table,
        "dynamodb": {
            "ApproximateCreationDateTime": microseconds(created),
            "Keys": body["Keys"],
            **{image: to_json(body[image]) for image in ("NewImage", "OldImage") if image in body},
            "SizeBytes": body["SizeBytes"],
        },
        "eventSource": "aws:dynamodb",
    }


def firehose_object(records: list[dict[str, Any]]) -> bytes:
    """What Firehose writes with GZIP compression and no processor: each record's data, back to back."""
    return gzip.compress("".join(json.dumps(r) for r in records).encode())


@pytest.fixture(scope="module")
def s3(moto_endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=moto_endpoint, **CREDENTIALS)


@pytest.fixture(scope="module")
def dynamodb(dynamodb_endpoint: str) -> Any:
    return boto3.client("dynamodb", endpoint_url=dynamodb_endpoint, **CREDENTIALS)


@pytest.fixture
def bucket(s3: Any) -> Iterator[str]:
    name = f"audit-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    yield name


def stream_records(streams: Any, dynamodb: Any, table: str) -> list[dict[str, Any]]:
    """Every record of a new table's stream, from the start (one shard on DynamoDB Local)."""
    arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
        position = iterator["ShardIterator"]
        while position:
            response = streams.get_records(ShardIterator=position)
            records += response["Records"]
            position = response.get("NextShardIterator") if response["Records"] else None
    return records


def scan(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    items = dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]
    return sorted(items, key=lambda item: (item["PK"]["S"], item["SK"]["S"]))


def test_decodes_the_documented_record_format_back_to_back_and_gzipped() -> None:
    later = {**DOCUMENTED_RECORD, "eventID": "second", "eventName": "REMOVE"}

    records = decode_object(firehose_object([DOCUMENTED_RECORD, later]))
    [modify, remove] = changes_of_day([("k", firehose_object([DOCUMENTED_RECORD, later]))], DAY)

    assert records == [DOCUMENTED_RECORD, later]
    assert decode_object(b"\n".join(json.dumps(r).encode() for r in records) + b"\n") == records
    assert (modify.event_name, modify.new_image, modify.keys) == (
        "MODIFY",
        DOCUMENTED_RECORD["dynamodb"]["NewImage"],
        {"PK": {"S": "USER#u1"}, "SK": {"S": "DOC#d1"}},
    )
    assert modify.created == datetime(2026, 11, 28, 23, 59, 59, 999999, tzinfo=UTC)
    assert remove.event_name == "REMOVE"


def test_a_day_keeps_its_own_changes_once_in_creation_order_whatever_object_holds_them() -> None:
    def record(event_id: str, created: datetime, *, millis: bool = False) -> dict[str, Any]:
        stamp = microseconds(created) // 1_000 if millis else microseconds(created)
        return {
            **DOCUMENTED_RECORD,
            "eventID": event_id,
            "dynamodb": {**DOCUMENTED_RECORD["dynamodb"], "ApproximateCreationDateTime": stamp},
        }

    midnight = datetime(2026, 11, 29, tzinfo=UTC)
    first = [record("b", midnight - timedelta(hours=2)), record("before", midnight - timedelta(days=1, seconds=1))]
    second = [record("a", midnight - timedelta(hours=3), millis=True)]
    # Arrived after midnight: the next day's first change, the day's last one, and a redelivered "b".
    third = [record("next", midnight), record("late", midnight - timedelta(microseconds=1)), first[0]]
    objects = [
        (day_prefix(DAY) + "a.gz", firehose_object(first)),
        (day_prefix(DAY) + "b.gz", firehose_object(second)),
        (day_prefix(DAY + timedelta(days=1)) + "c.gz", firehose_object(third)),
    ]

    assert [c.event_id for c in changes_of_day(objects, DAY)] == ["a", "b", "late"]


def test_a_record_of_another_kind_is_refused_by_name() -> None:
    odd = {**DOCUMENTED_RECORD, "eventName": "aws:kinesis:record"}

    with pytest.raises(ValueError, match="eventName 'aws:kinesis:record'"):
        changes_of_day([("k", firehose_object([odd]))], DAY)


def test_replaying_the_archived_day_rebuilds_the_table_as_it_was_at_midnight(
    dynamodb: Any, dynamodb_endpoint: str, s3: Any, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a session on a table, read from its real stream, and archived the way Firehose does
    source, scratch = f"audit-source-{uuid.uuid4().hex[:8]}", f"audit-scratch-{uuid.uuid4().hex[:8]}"
    create_documents_table(dynamodb, source)
    create_documents_table(dynamodb, scratch)

    def doc(owner: str, doc_id: str, **attributes: Any) -> dict[str, Any]:
        return {"PK": {"S": f"USER#{owner}"}, "SK": {"S": f"DOC#{doc_id}"}, **attributes}

    dynamodb.put_item(TableName=source, Item=doc("u1", "d1", name={"S": "draft.pdf"}, version={"N": "1"}))
    dynamodb.put_item(TableName=source, Item=doc("u1", "d2", name={"S": "scan.png"}, thumb={"B": b"\x00\xff"}))
    dynamodb.update_item(
        TableName=source,
        Key=doc("u1", "d1"),
        UpdateExpression="SET #n = :n, version = :v",
        ExpressionAttributeNames={"#n": "name"},
        ExpressionAttributeValues={":n": {"S": "final.pdf"}, ":v": {"N": "2"}},
    )
    dynamodb.delete_item(TableName=source, Key=doc("u1", "d2"))
    dynamodb.put_item(TableName=source, Item=doc("u2", "d3", name={"S": "shared.txt"}, tags={"L": [{"S": "x"}]}))
    at_midnight = scan(dynamodb, source)
    dynamodb.update_item(
        TableName=source, Key=doc("u2", "d3"), UpdateExpression="SET #n = :n",
        ExpressionAttributeNames={"#n": "name"}, ExpressionAttributeValues={":n": {"S": "tomorrow.txt"}},
    )  # fmt: skip
    records = stream_records(
        boto3.client("dynamodbstreams", endpoint_url=dynamodb_endpoint, **CREDENTIALS), dynamodb, source
    )
    assert [r["eventName"] for r in records] == ["INSERT", "INSERT", "MODIFY", "REMOVE", "INSERT", "MODIFY"]
    midnight = datetime(2026, 11, 29, tzinfo=UTC)
    created = [midnight - timedelta(hours=5 - i) for i in range(4)] + [midnight - timedelta(microseconds=1), midnight]
    kinesis = [as_kinesis_record(r, source, at) for r, at in zip(records, created, strict=True)]
    # The last change of the day arrives after midnight, together with the next day's first and a
    # redelivered duplicate of the rename; within an object, records need not be in order.
    s3.put_object(Bucket=bucket, Key=day_prefix(DAY) + "FolioProd-1-2026-11-28-20-00-00-abc.gz",
                  Body=firehose_object([kinesis[1], kinesis[0], kinesis[2]]))  # fmt: skip
    s3.put_object(Bucket=bucket, Key=day_prefix(DAY) + "FolioProd-1-2026-11-28-23-00-00-def.gz",
                  Body=firehose_object([kinesis[3]]))  # fmt: skip
    s3.put_object(Bucket=bucket, Key=day_prefix(DAY + timedelta(days=1)) + "FolioProd-1-2026-11-29-00-00-05-ghi.gz",
                  Body=firehose_object([kinesis[5], kinesis[4], kinesis[2]]))  # fmt: skip

    # When the operator lists the day, then replays it onto the empty scratch table
    assert main(["--bucket", bucket, "--day", DAY.isoformat(), "--list"], s3=s3) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert main(["--bucket", bucket, "--day", DAY.isoformat(), "--table", scratch], s3=s3, dynamodb=dynamodb) == 0

    # Then the day's five changes were applied once each, in order, and the table is as it was at midnight
    assert [(c["event"], c["keys"]["SK"]["S"]) for c in listed] == [
        ("INSERT", "DOC#d1"), ("INSERT", "DOC#d2"), ("MODIFY", "DOC#d1"), ("REMOVE", "DOC#d2"), ("INSERT", "DOC#d3"),
    ]  # fmt: skip
    assert json.loads(capsys.readouterr().err) == {
        "day": DAY.isoformat(), "table": scratch, "INSERT": 3, "MODIFY": 1, "REMOVE": 1,
    }  # fmt: skip
    assert scan(dynamodb, scratch) == at_midnight
    assert scan(dynamodb, scratch) != scan(dynamodb, source), "the next day's change is not part of the replay"


def test_a_binary_attribute_travels_as_base64_text_and_is_replayed_as_bytes() -> None:
    image = {
        "PK": {"S": "p"},
        "thumb": {"B": "AP8="},
        "nested": {"M": {"b": {"BS": ["AA=="]}, "l": {"L": [{"B": "AQ=="}]}}},
    }

    assert replay_audit_day.to_request(image) == {
        "PK": {"S": "p"},
        "thumb": {"B": b"\x00\xff"},
        "nested": {"M": {"b": {"BS": [b"\x00"]}, "l": {"L": [{"B": b"\x01"}]}}},
    }


def test_a_replay_refuses_a_table_that_already_holds_items(
    dynamodb: Any, s3: Any, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a table with items (the live table always has some)
    live = f"audit-live-{uuid.uuid4().hex[:8]}"
    create_documents_table(dynamodb, live)
    item = {"PK": {"S": "USER#u9"}, "SK": {"S": "DOC#d9"}, "name": {"S": "current.pdf"}}
    dynamodb.put_item(TableName=live, Item=item)

    # When the operator points --table at it
    code = main(["--bucket", bucket, "--day", DAY.isoformat(), "--table", live], s3=s3, dynamodb=dynamodb)

    # Then nothing is replayed, and the message says why and how to override
    assert code == 2
    assert "already holds items" in capsys.readouterr().err
    assert scan(dynamodb, live) == [item]
