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
    """Short timeouts and few retries: a page's BatchGetItem must fit the run's time budget, so
    that a slow table ends the run with its report, not with Lambda's timeout."""
    from botocore.config import Config

    return boto3.client(
        "dynamodb",
        config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"}),
    )


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
