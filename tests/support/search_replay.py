"""DynamoDB stream records replayed into the search index with the pipeline's rules.

The zero-ETL pipeline (OpenSearch Ingestion's Data Prepper, DynamoDB source, opensearch sink)
cannot run here, so the tests apply what it would do, with the rules it is built from
(folio.search_index): only documents are routed; the `_id` is the `primary_key` metadata; INSERT
and MODIFY index, REMOVE deletes; every write carries an external version, and a stale one is
refused by the engine (409) and dropped, as the sink counts and drops a version conflict.

The version is Data Prepper's `document_version`:
org.opensearch.dataprepper.plugins.source.dynamodb.converter.StreamRecordConverter
.calculateTieBreakingVersionFromTimestamp gives a record the epoch second of its
ApproximateCreationDateTime times 1,000,000, plus how many records of that same second its converter
has already seen; a record older than the current second gets the bare second. Within one record
sequence the versions therefore grow, and a replay of an older sequence is refused.

The item becomes an event as StreamRecordConverter.convertData makes it (numbers as strings, sets
as lists), and the pipeline keeps only the fields of the strict mapping (search_index.searchable).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from folio import search_index
from tests.support.search_engine import SearchEngine, SearchEngineError

MICROS = 1_000_000
VERSION_CONFLICT = 409


class DataPrepperVersions:
    """StreamRecordConverter's tie-breaking version, for one converter (one record sequence)."""

    def __init__(self) -> None:
        self.current_second: int | None = None
        self.seen_this_second = 0

    def version(self, created: datetime | float | int) -> int:
        second = int(created.timestamp()) if isinstance(created, datetime) else int(created)
        if self.current_second is None:
            self.current_second = second
        elif second < self.current_second:
            return second * MICROS
        elif second > self.current_second:
            self.current_second, self.seen_this_second = second, 0
        else:
            self.seen_this_second += 1
        return second * MICROS + self.seen_this_second


def plain(value: dict[str, Any]) -> Any:
    """One DynamoDB-JSON attribute value as Data Prepper's convertData turns it into event data."""
    (kind, inner), *_ = value.items()
    if kind in ("S", "N", "BOOL"):
        return inner
    if kind in ("SS", "NS"):
        return list(inner)
    if kind == "L":
        return [plain(v) for v in inner]
    if kind == "M":
        return {k: plain(v) for k, v in inner.items()}
    if kind == "NULL":
        return None
    return str(inner)  # B, BS: Data Prepper writes their toString(); Folio indexes neither


def event_data(image: dict[str, Any]) -> dict[str, Any]:
    return {name: plain(value) for name, value in image.items()}


@dataclass
class Replayed:
    """What one replay did: ids indexed and deleted, stale writes dropped, records not routed."""

    indexed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    not_routed: int = 0


@dataclass
class BulkWrite:
    doc_id: str
    action: str
    version: int
    body: dict[str, Any] | None


def bulk_writes(records: Iterable[dict[str, Any]], versions: DataPrepperVersions) -> tuple[list[BulkWrite], int]:
    """The sink's writes for `records`, in order, and how many records the route dropped."""
    writes: list[BulkWrite] = []
    dropped = 0
    for record in records:
        body = record["dynamodb"]
        item_keys = event_data(body["Keys"])
        partition_key, sort_key = str(item_keys["PK"]), str(item_keys["SK"])
        version = versions.version(body["ApproximateCreationDateTime"])  # every record advances the clock
        if not search_index.is_document(sort_key):
            dropped += 1
            continue
        action = search_index.action_of(record.get("eventName"))
        document = search_index.searchable(event_data(body["NewImage"])) if action == search_index.INDEX else None
        writes.append(BulkWrite(search_index.document_id(partition_key, sort_key), action, version, document))
    return writes, dropped


def replay(engine: SearchEngine, records: Iterable[dict[str, Any]], versions: DataPrepperVersions) -> Replayed:
    """Apply `records` (as boto3's dynamodbstreams returns them, or as Lambda gets them) to the
    documents index, then refresh it. Any refusal other than a stale version raises."""
    writes, dropped = bulk_writes(records, versions)
    done = Replayed(not_routed=dropped)
    if not writes:
        return done
    lines: list[dict[str, Any]] = []
    for write in writes:
        meta = {
            "_index": search_index.INDEX_NAME,
            "_id": write.doc_id,
            "version": write.version,
            "version_type": search_index.VERSION_TYPE,
        }
        lines.append({write.action: meta})
        if write.body is not None:
            lines.append(write.body)
    for write, result in zip(writes, engine.bulk(lines), strict=True):
        status = int(result["status"])
        if status == VERSION_CONFLICT:
            done.stale.append(write.doc_id)
        elif write.action == search_index.DELETE and status in (200, 404):
            done.deleted.append(write.doc_id)
        elif status in (200, 201):
            done.indexed.append(write.doc_id)
        else:
            raise SearchEngineError(f"{write.action} {write.doc_id}: {status} {result.get('error')}")
    engine.refresh()
    return done
