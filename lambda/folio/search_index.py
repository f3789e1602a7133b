"""The search index's facts, named once: its name, its template (a data file), and the rules by
which the zero-ETL pipeline routes the table's changes into it.

The OpenSearch Ingestion pipeline's builder emits its Data Prepper configuration from these
functions, the search function queries the index they describe, and the tests replay DynamoDB
Local's stream into the emulator with the same functions (tests/support/search_replay.py), so
what the pipeline writes, what the tests index and what the search reads cannot drift.

Data Prepper's DynamoDB source puts these on every event's metadata
(org.opensearch.dataprepper.plugins.source.dynamodb.converter.MetadataKeyAttributes and
RecordConverter): `primary_key` ("<PK>|<SK>"), `sort_key`, `opensearch_action` (index on INSERT
and MODIFY, delete on REMOVE) and `document_version` (from the record's creation time, see
StreamRecordConverter), which the sink writes as an external version, so a late or replayed
record never overwrites a newer one.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from folio.keys import SORT_KEY, document_sort_key_prefix

INDEX_NAME = "documents"
# The one path the search function calls (POST): its IAM grant and the domain's access policy name it.
SEARCH_PATH = f"{INDEX_NAME}/_search"
TEMPLATE_NAME = "folio-documents"
TEMPLATE_FILE = Path(__file__).with_name("documents_index_template.json")

# Data Prepper's metadata keys (MetadataKeyAttributes), as the pipeline's expressions read them.
PRIMARY_KEY_METADATA = "primary_key"
SORT_KEY_METADATA = "sort_key"
ACTION_METADATA = "opensearch_action"
VERSION_METADATA = "document_version"
# The sink's version_type: the index keeps the highest version it was given and refuses (409) an
# older one, which the sink counts and drops (it is not an error for the pipeline).
VERSION_TYPE = "external"
ID_SEPARATOR = "|"

INDEX, DELETE = "index", "delete"
# RecordConverter.mapStreamEventNameToBulkAction; anything else (an export record) is indexed.
_ACTIONS = {"INSERT": INDEX, "MODIFY": INDEX, "REMOVE": DELETE}

# What the search reads: the full-text fields and the fields it sorts and pages on. The name is
# analysed twice: by the standard analyzer (keeps numbers, but keeps "report.pdf" and "tax_2025"
# whole, as Unicode word breaking does) and, in `name.words`, by the built-in `simple` analyzer
# (letters only, so "report" finds "report.pdf"). Not a custom analyzer: the test engine ignores
# one when indexing (tests/support/test_osmem_gaps.py).
NAME_FIELD, NAME_WORDS_FIELD = "name", "name.words"
FULL_TEXT_FIELDS = (NAME_FIELD, NAME_WORDS_FIELD, "tags")
# The name's highlights, best first: by words where they matched, else as a whole.
HIGHLIGHTED_FIELDS = (NAME_WORDS_FIELD, NAME_FIELD)
UPDATED_AT_FIELD = "updatedAt"
TIE_BREAKER_FIELD = "docId"
OWNER_FIELD = "owner"
GRANTEES_FIELD = "sharedWith"
STATUS_FIELD = "status"


@cache
def index_template() -> dict[str, Any]:
    """The composable index template (PUT _index_template/TEMPLATE_NAME) for INDEX_NAME."""
    template: dict[str, Any] = json.loads(TEMPLATE_FILE.read_text())
    return template


def indexed_fields() -> tuple[str, ...]:
    """The item attributes the index holds, in the template's order; the mapping is strict, so
    the pipeline keeps only these (Data Prepper's `select_entries`) and drops keys, index keys,
    TTLs and anything added later."""
    return tuple(index_template()["template"]["mappings"]["properties"])


def is_document(sort_key: str) -> bool:
    """Whether an item is a document (not a tag link, share, usage or marker): only documents
    are routed to the index."""
    return sort_key.startswith(document_sort_key_prefix())


def not_a_document() -> str:
    """`not is_document` as a Data Prepper condition over the item's own sort key attribute.

    Data Prepper's grammar (DataPrepperExpression.g4) takes only JSON pointers and string
    literals as function arguments, so the condition reads the item's `SK` attribute, not the
    source's `sort_key` metadata (`getMetadata(...)` cannot be an argument of startsWith)."""
    return f'not startsWith(/{SORT_KEY}, "{document_sort_key_prefix()}")'


def document_id(partition_key: str, sort_key: str) -> str:
    """The OpenSearch `_id` of an item: Data Prepper's `primary_key` metadata."""
    return f"{partition_key}{ID_SEPARATOR}{sort_key}"


def action_of(event_name: str | None) -> str:
    """The bulk action for a stream record's eventName (an export record has none: index)."""
    return _ACTIONS.get(event_name or "", INDEX)


def metadata_expression(name: str) -> str:
    """How the sink's settings read a metadata value: `${getMetadata("...")}`."""
    return f'${{getMetadata("{name}")}}'


def sink_settings() -> dict[str, str]:
    """The opensearch sink's routing of a document: its index, id, action and version."""
    return {
        "index": INDEX_NAME,
        "document_id": metadata_expression(PRIMARY_KEY_METADATA),
        "action": metadata_expression(ACTION_METADATA),
        "document_version": metadata_expression(VERSION_METADATA),
        "document_version_type": VERSION_TYPE,
    }


def searchable(item: dict[str, Any]) -> dict[str, Any]:
    """The part of a (plain, decoded) document item the index holds."""
    return {name: item[name] for name in indexed_fields() if name in item}
