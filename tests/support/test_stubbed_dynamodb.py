"""The Stubber helpers produce what the write adapter reads from a cancelled transaction."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from tests.support.stubbed_dynamodb import cancelled, offline_client

CHECK = {"ConditionCheck": {"TableName": "t", "Key": {"PK": {"S": "a"}}, "ConditionExpression": "attribute_exists(PK)"}}


def test_a_cancelled_transaction_carries_one_reason_per_item() -> None:
    client = offline_client()
    with Stubber(client) as stubber:
        stubber.add_client_error("transact_write_items", **cancelled("ConditionalCheckFailed", "None"))
        with pytest.raises(ClientError) as raised:
            client.transact_write_items(TransactItems=[CHECK])

    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert [r["Code"] for r in raised.value.response["CancellationReasons"]] == ["ConditionalCheckFailed", "None"]
