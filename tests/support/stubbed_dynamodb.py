"""botocore Stubber helpers for the DynamoDB adapters' unit tests: the real DynamoDB client (and its
request validation) with the service's answers given by the test."""

from __future__ import annotations

from typing import Any

import boto3
from botocore import UNSIGNED
from botocore.config import Config


def offline_client() -> Any:
    """A DynamoDB client that never reaches a network: every answer comes from a Stubber.
    Unsigned, so it needs no credentials at all (not even placeholder ones)."""
    return boto3.client("dynamodb", region_name="us-east-1", config=Config(signature_version=UNSIGNED))


def cancelled(*reasons: str) -> dict[str, Any]:
    """A TransactionCanceledException with one cancellation reason per item (Stubber kwargs)."""
    return {
        "service_error_code": "TransactionCanceledException",
        "http_status_code": 400,
        "modeled_fields": {"CancellationReasons": [{"Code": reason} for reason in reasons]},
    }
