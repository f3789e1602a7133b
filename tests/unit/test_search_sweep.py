"""The sweep's logic on an in-memory index: what it deletes, what it leaves, when it stops."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from folio import search_sweep
from folio.search_sweep import OpenSearchIndexEntries, SweepFailed, bulk_delete_body, sweep


class MemoryIndex:
    """IndexEntries over a dict of entry id -> source, paged in docId order like the engine."""

    def __init__(self, sources: dict[str, dict[str, Any]]) -> None:
        self.sources = dict(sources)
        self.pages = 0

    def page(self, after: list[Any] | None) -> list[dict[str, Any]]:
        self.pages += 1
        ordered = sorted(self.sources.items(), key=lambda item: str(item[1].get("docId", "")))
        hits = [
            {"_id": entry_id, "_source": source, "sort": [source.get("docId", "")]}
            for entry_id, source in ordered
            if after is None or str(source.get("docId", "")) > after[0]
        ]
        return hits[: search_sweep.PAGE_SIZE]

    def delete(self, entry_ids: Sequence[str]) -> int:
        for entry_id in entry_ids:
            del self.sources[entry_id]
        return len(entry_ids)


def entry(owner: str, doc_id: str) -> tuple[str, dict[str, Any]]:
    return f"USER#{owner}|DOC#{doc_id}", {"owner": owner, "docId": doc_id}


def test_it_deletes_exactly_the_entries_whose_document_the_table_lacks_across_pages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(search_sweep, "PAGE_SIZE", 3)
    entries = dict(entry("u", f"D{n:02}") for n in range(10))
    table = {("u", f"D{n:02}") for n in range(10) if n % 3}  # D00, D03, D06, D09 are gone
    index = MemoryIndex(entries)

    report = sweep(index, lambda keys: {k: {} for k in keys if k in table}, lambda: 60.0)

    assert sorted(s["docId"] for s in index.sources.values()) == sorted(d for _, d in table)
    assert (report.scanned, report.deleted, report.complete) == (10, 4, True)
    assert index.pages == 4


@pytest.mark.parametrize(
    ("entry_id", "source"),
    [
        ("odd", {"name": "no owner"}),  # no key, no fields
        ("USER#a#b|DOC#D9", {"owner": "a#b", "docId": "D9"}),  # a value the key format refuses
        ("USER#|DOC#D9", {"owner": "", "docId": "D9"}),
        ("USER#u|DOC#D9", {"owner": "v", "docId": "D9"}),  # fields that disagree with the key
        ("USER#u|TAG#x", {"owner": "u", "docId": "D9"}),  # not a document's key
    ],
)
def test_an_entry_that_is_not_its_documents_key_is_counted_and_left_alone(
    entry_id: str, source: dict[str, Any]
) -> None:
    # Given a malformed entry among good ones, and a table that has none of them
    index = MemoryIndex({entry_id: source, **dict([entry("u", "D1")])})

    # When the sweep runs: it must not stop (every later run would stop on the same page)
    report = sweep(index, lambda keys: {}, lambda: 60.0)

    # Then the malformed entry is counted and kept, the others swept as usual
    assert entry_id in index.sources and report.unreadable == 1
    assert report.deleted == 1 and report.complete


def test_a_run_out_of_time_stops_between_pages_and_says_it_is_incomplete(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_sweep, "PAGE_SIZE", 2)
    index = MemoryIndex(dict(entry("u", f"D{n}") for n in range(6)))
    clock = iter([60.0, 60.0, 1.0])

    report = sweep(index, lambda keys: {}, lambda: next(clock))

    assert (report.complete, report.scanned, report.deleted, index.pages) == (False, 4, 4, 2)


class Answers:
    """A urllib3 stand-in answering each request with the next (status, body)."""

    def __init__(self, *answers: tuple[int, Any]) -> None:
        self.answers = list(answers)
        self.sent: list[tuple[str, str, bytes]] = []

    def request(self, method: str, url: str, *, body: bytes, **_: Any) -> Any:
        self.sent.append((method, url, body))
        status, answer = self.answers.pop(0)
        return type("Response", (), {"status": status, "data": json.dumps(answer).encode()})()


def domain(http: Answers) -> OpenSearchIndexEntries:
    from botocore.credentials import Credentials

    credentials = Credentials("AKIDEXAMPLE", "secret").get_frozen_credentials()
    return OpenSearchIndexEntries(
        "https://search.example", region="eu-west-1", credentials=lambda: credentials, seconds_left=lambda: 30.0,
        http=http,  # type: ignore[arg-type]
    )  # fmt: skip


def test_a_bulk_delete_is_one_line_per_entry_and_a_refused_item_fails_the_run() -> None:
    assert bulk_delete_body(["a|b", 'c"d']).splitlines() == [
        b'{"delete": {"_index": "documents", "_id": "a|b"}}',
        b'{"delete": {"_index": "documents", "_id": "c\\"d"}}',
    ]
    gone = {"items": [{"delete": {"status": 200}}, {"delete": {"status": 404}}]}
    assert domain(Answers((200, gone))).delete(["x", "y"]) == 1
    refused = {"errors": True, "items": [{"delete": {"status": 200}}, {"delete": {"status": 403, "error": "no"}}]}
    with pytest.raises(SweepFailed, match="1 of 2 deletes refused"):
        domain(Answers((200, refused))).delete(["x", "y"])


def test_no_index_yet_is_an_empty_page_and_any_other_refusal_fails_the_run() -> None:
    missing = {"error": {"type": "index_not_found_exception"}}
    assert domain(Answers((404, missing))).page(None) == []
    with pytest.raises(SweepFailed, match="HTTP 403"):
        domain(Answers((403, {"message": "no permission"}))).page(None)
