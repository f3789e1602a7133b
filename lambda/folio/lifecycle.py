"""Which table stream records the lifecycle worker acts on (placeholder: the runtime branch owns this module)."""

from __future__ import annotations

from typing import Any

from folio import keys


def lifecycle_filter_patterns() -> list[dict[str, Any]]:
    """Lambda event-filter patterns: a document item leaving the table (purge or TTL)."""
    return [
        {
            "eventName": ["REMOVE"],
            "dynamodb": {"Keys": {keys.SORT_KEY: {"S": [{"prefix": keys.document_sort_key_prefix()}]}}},
        }
    ]
