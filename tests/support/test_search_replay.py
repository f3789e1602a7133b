"""The replay harness applies the pipeline's rules: routing, id, action, Data Prepper's versions,
and a stale version refused and dropped."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.support.search_engine import SearchEngine
from tests.support.search_replay import MICROS, DataPrepperVersions, replay

T0 = 1_795_339_800


def record(event: str, sk: str, second: int, **attributes: Any) -> dict[str, Any]:
    keys = {"PK": {"S": "USER#u1"}, "SK": {"S": sk}}
    body: dict[str, Any] = {"Keys": keys, "ApproximateCreationDateTime": datetime.fromtimestamp(second, UTC)}
    if event != "REMOVE":
        body["NewImage"] = {**keys, "GSI1PK": {"S": "USER#u1#TYPE#pdf"}, **attributes}
    return {"eventName": event, "dynamodb": body}


def document(name: str) -> dict[str, Any]:
    return {
        "docId": {"S": "d1"},
        "owner": {"S": "u1"},
        "name": {"S": name},
        "size": {"N": "42"},
        "sharedWith": {"SS": ["u2"]},
        "status": {"S": "AVAILABLE"},
        "updatedAt": {"S": "2026-11-22T09:30:00.123Z"},
    }


def test_versions_grow_within_a_second_and_an_older_second_gets_the_bare_second() -> None:
    versions = DataPrepperVersions()

    got = [versions.version(s) for s in (T0, T0, T0 + 1, T0 + 1, T0)]

    assert got == [T0 * MICROS, T0 * MICROS + 1, (T0 + 1) * MICROS, (T0 + 1) * MICROS + 1, T0 * MICROS]


def test_documents_are_indexed_by_primary_key_with_only_mapped_fields(search_engine: SearchEngine) -> None:
    done = replay(search_engine, [record("INSERT", "DOC#d1", T0, **document("tax.pdf"))], DataPrepperVersions())

    stored = search_engine.get("USER#u1|DOC#d1")
    assert done.indexed == ["USER#u1|DOC#d1"]
    assert stored is not None and stored["_version"] == T0 * MICROS
    assert set(stored["_source"]) == {"docId", "owner", "name", "size", "sharedWith", "status", "updatedAt"}
    assert stored["_source"]["size"] == "42"  # as Data Prepper sends numbers; the long mapping coerces


def test_only_document_items_are_routed(search_engine: SearchEngine) -> None:
    records = [record("INSERT", "TAG#tax#DOC#d1", T0, docId={"S": "d1"}), record("INSERT", "SHARE#d1#u2", T0)]

    done = replay(search_engine, records, DataPrepperVersions())

    assert (done.indexed, done.not_routed) == ([], 2)


def test_modify_replaces_and_remove_deletes(search_engine: SearchEngine) -> None:
    versions = DataPrepperVersions()
    replay(search_engine, [record("INSERT", "DOC#d1", T0, **document("a.pdf"))], versions)

    replay(search_engine, [record("MODIFY", "DOC#d1", T0, **document("b.pdf"))], versions)
    renamed = search_engine.get("USER#u1|DOC#d1")
    done = replay(search_engine, [record("REMOVE", "DOC#d1", T0 + 1)], versions)

    assert renamed is not None and renamed["_source"]["name"] == "b.pdf"
    assert done.deleted == ["USER#u1|DOC#d1"]
    assert search_engine.get("USER#u1|DOC#d1") is None


def test_a_redelivered_older_record_is_refused_and_dropped(search_engine: SearchEngine) -> None:
    versions = DataPrepperVersions()
    first, second = (
        record("INSERT", "DOC#d1", T0, **document("a.pdf")),
        record("MODIFY", "DOC#d1", T0 + 1, **document("b.pdf")),
    )
    replay(search_engine, [first, second], versions)

    # The shard is read again from an older checkpoint: a new converter, the same records.
    done = replay(search_engine, [first], DataPrepperVersions())

    stored = search_engine.get("USER#u1|DOC#d1")
    assert done.stale == ["USER#u1|DOC#d1"]
    assert stored is not None and stored["_source"]["name"] == "b.pdf"
