"""The request recorder counts what a client sends, and asks for capacity on its behalf."""

from __future__ import annotations

from typing import Any

from botocore.stub import Stubber

from tests.support.dynamodb_requests import DynamoDBRequests, capacity_units
from tests.support.stubbed_dynamodb import offline_client

KEY = {"PK": {"S": "USER#a"}, "SK": {"S": "DOC#1"}}


def test_it_records_each_operation_with_the_capacity_the_response_reports() -> None:
    client = offline_client()
    recorder = DynamoDBRequests(client)
    with Stubber(client) as stubber:
        expected: dict[str, Any] = {"TableName": "t", "Key": KEY, "ReturnConsumedCapacity": "TOTAL"}
        stubber.add_response("get_item", {"ConsumedCapacity": {"CapacityUnits": 0.5}}, expected)
        stubber.add_response("get_item", {}, expected)
        client.get_item(TableName="t", Key=KEY)
        client.get_item(TableName="t", Key=KEY)

    assert recorder.requests == [("get_item", 0.5), ("get_item", 0.0)]
    recorder.clear()
    assert recorder.operations == []


def test_a_detached_recorder_sees_and_changes_nothing() -> None:
    client = offline_client()
    recorder = DynamoDBRequests(client)
    recorder.detach()
    with Stubber(client) as stubber:
        stubber.add_response("get_item", {}, {"TableName": "t", "Key": KEY})  # no ReturnConsumedCapacity added
        client.get_item(TableName="t", Key=KEY)

    assert recorder.requests == []


def test_capacity_units_adds_up_every_entry() -> None:
    assert capacity_units({"ConsumedCapacity": [{"CapacityUnits": 2.0}, {"CapacityUnits": 1.5}]}) == 3.5
    assert capacity_units({}) == 0.0
