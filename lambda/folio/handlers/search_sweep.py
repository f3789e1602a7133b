"""Scheduled (stacks/components/search_sweep.py): sweep the search index of entries whose document
the table no longer has (folio.search_sweep), then log what it did as one line that is also two
CloudWatch metrics (EMF): `SearchSweepDeleted` (entries removed) and `SearchSweepIncomplete`
(1 when the run ran out of time before the index's end).

Only the standard library, urllib3, botocore and boto3 (all in the Lambda runtime): no layer.
"""

from __future__ import annotations

import dataclasses
import os
import time
from functools import cache
from typing import Any

import boto3
import urllib3

from folio.custom_resource import Budget, LambdaContext, log
from folio.dax import METRICS_NAMESPACE
from folio.reads import DynamoDbReads
from folio.search_sweep import OpenSearchIndexEntries, sweep
from folio.settings import Env
from folio.signed_http import function_credentials

DELETED_METRIC = "SearchSweepDeleted"
INCOMPLETE_METRIC = "SearchSweepIncomplete"
# The variables the Search stack sets on this function.
VARIABLES = (Env.SEARCH_ENDPOINT, Env.TABLE_NAME)


@cache
def http() -> urllib3.PoolManager:
    return urllib3.PoolManager()


@cache
def dynamodb_client() -> Any:
    return boto3.client("dynamodb")


def variable(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set: the Search stack sets it on the sweep function")
    return value


def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    endpoint, table = (variable(name) for name in VARIABLES)
    budget = Budget(context)
    entries = OpenSearchIndexEntries(
        endpoint,
        region=variable("AWS_REGION"),
        credentials=lambda: function_credentials().get_frozen_credentials(),
        seconds_left=budget.seconds_left,
        http=http(),
    )
    report = sweep(
        entries, DynamoDbReads(dynamodb_client(), table, consistent=True).current_documents, budget.seconds_left
    )
    metrics = {DELETED_METRIC: report.deleted, INCOMPLETE_METRIC: int(not report.complete)}
    log(
        "swept",
        **dataclasses.asdict(report),
        **metrics,
        _aws={
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": METRICS_NAMESPACE,
                    "Dimensions": [[]],
                    "Metrics": [{"Name": name, "Unit": "Count"} for name in metrics],
                }
            ],
        },
    )
    return dataclasses.asdict(report)
