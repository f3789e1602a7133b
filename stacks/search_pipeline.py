"""The Data Prepper body of Folio's zero-ETL pipeline (DynamoDB → OpenSearch), built from typed
values and serialized once.

No string templating and no `Fn::Sub`: `pipeline_body` returns a dict, `serialize` turns it
into JSON (which OpenSearch Ingestion accepts as YAML, with no line wrapping to worry about).
CDK tokens in the values (ARNs, the endpoint) stay tokens inside that one string, so CDK emits
an `Fn::Join` around them, and Data Prepper's own `${getMetadata(...)}` expressions reach the
pipeline literally. `stacks/data/data-prepper-pipeline.schema.json` is the offline check of the
subset used here (tests/unit/test_search_pipeline.py). docs/architecture.md, "The ingestion pipeline".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from folio import search_index

DATA = Path(__file__).parent / "data"
SCHEMA_FILE = DATA / "data-prepper-pipeline.schema.json"

# What the index expects is named once, in the runtime (lambda/folio/search_index.py), where the
# search tests replay DynamoDB Local's stream into the engine by the same rules:
# - only document items (sort key `DOC#<docId>`) reach the index: tag links, shares, profiles
#   and quota markers are dropped first (drop_events, with Data Prepper's startsWith over the
#   item's SK attribute: a function takes only JSON pointers and strings, DataPrepperExpression.g4);
# - the `_id` is the primary key metadata "<PK>|<SK>"; the action is index or delete per stream
#   record; the version is the record's change timestamp with external versioning, so a
#   replayed or late record never wins;
# - the mapping is strict, so only the indexed fields are kept (select_entries).
DOCUMENTS_INDEX = search_index.INDEX_NAME
NOT_A_DOCUMENT = search_index.not_a_document()
SUB_PIPELINE = "documents-pipeline"


def index_template() -> dict[str, Any]:
    """The composable index template of `documents` (a data file the search tests apply too)."""
    return search_index.index_template()


@dataclass(frozen=True)
class ExportLocation:
    """Where the initial export from PITR goes: a bucket, a prefix and the key it is written with."""

    bucket_name: str
    prefix: str
    kms_key_arn: str


@dataclass(frozen=True)
class DeadLetters:
    """Where documents OpenSearch refused go (S3 DLQ)."""

    bucket_name: str
    prefix: str


@dataclass(frozen=True)
class PipelineSpec:
    """Everything the body names: the pipeline reads `table_arn` as `role_arn` and writes to `endpoint`."""

    region: str
    role_arn: str
    table_arn: str
    export: ExportLocation
    domain_endpoint: str  # host name, without scheme
    dead_letters: DeadLetters
    index_name: str = DOCUMENTS_INDEX
    drop_condition: str = NOT_A_DOCUMENT


def pipeline_body(spec: PipelineSpec, template: dict[str, Any] | None = None) -> dict[str, Any]:
    """The pipeline as a dict: the DynamoDB source (export, then the stream), one route, one sink."""
    aws = {"sts_role_arn": spec.role_arn, "region": spec.region}
    source = {
        "dynamodb": {
            "tables": [
                {
                    "table_arn": spec.table_arn,
                    "export": {
                        "s3_bucket": spec.export.bucket_name,
                        "s3_prefix": spec.export.prefix,
                        "s3_region": spec.region,
                        "s3_sse_kms_key_id": spec.export.kms_key_arn,
                    },
                    # After the export, from where the export's point in time left off.
                    "stream": {"start_position": "LATEST"},
                }
            ],
            "aws": dict(aws),
            # Checkpoints advance only once OpenSearch (or the DLQ) has taken the records.
            "acknowledgments": True,
        }
    }
    sink = {
        "opensearch": {
            "hosts": [f"https://{spec.domain_endpoint}"],
            "aws": dict(aws),
            "index": spec.index_name,
            "index_type": "custom",
            "template_type": "index-template",
            # Data Prepper takes the template as a string holding JSON (OpenSearchSinkConfig.templateContent).
            "template_content": json.dumps(template if template is not None else index_template(), sort_keys=True),
            **{name: value for name, value in search_index.sink_settings().items() if name != "index"},
            "dlq": {
                "s3": {
                    "bucket": spec.dead_letters.bucket_name,
                    "key_path_prefix": spec.dead_letters.prefix,
                    "region": spec.region,
                    "sts_role_arn": spec.role_arn,
                }
            },
        }
    }
    # First drop every item that is not a document (while its SK is still there), then keep only
    # the fields of the strict mapping: keys, index keys, TTLs and anything added later would be
    # refused. Processors run before the sink, so one sink with no route takes what is left.
    drop_other_items = {"drop_events": {"drop_when": spec.drop_condition}}
    keep_indexed_fields = {"select_entries": {"include_keys": list(search_index.indexed_fields())}}
    return {
        "version": "2",
        SUB_PIPELINE: {"source": source, "processor": [drop_other_items, keep_indexed_fields], "sink": [sink]},
    }


def serialize(body: dict[str, Any]) -> str:
    """The one serialization: JSON (a subset of YAML), one line, so nothing is wrapped or re-quoted.

    CDK string tokens ("${Token[...]}") pass through unchanged; the values they stand for (ARNs,
    a bucket name, an endpoint) contain nothing JSON escapes, so the resolved body stays valid.
    """
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


@cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return loaded
