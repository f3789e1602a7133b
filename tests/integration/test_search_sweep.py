"""The search index's sweep (folio.search_sweep) on the running engines: entries of documents
the table no longer has (here: purges whose REMOVE the pipeline dropped) are deleted, across
pages; entries of live and trashed documents stay; a second run deletes nothing."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from typing import Any

import pytest

from folio import keys, search_index, search_sweep
from folio.handlers import search_sweep as sweep_handler
from tests.integration.conftest import Api, FakeContext, SearchFeed, new_user


def create(api: Api, owner: str, name: str) -> str:
    body = {"name": name, "contentType": "application/pdf", "size": 5, "tags": ["sweep"]}
    reply = api.call("create", "POST", "/documents", sub=owner, body=body)
    assert reply.status == 201, reply.body
    doc_id: str = reply.body["document"]["id"]
    return doc_id


def index_id(owner: str, doc_id: str) -> str:
    return search_index.document_id(keys.user_partition(owner), keys.document_sort_key(doc_id))


def run_sweep() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    printed = io.StringIO()
    with redirect_stdout(printed):
        report = sweep_handler.handler({}, FakeContext())
    return report, [json.loads(line) for line in printed.getvalue().splitlines() if line.startswith("{")]


def drop_what_the_pipeline_has_not_read(search_feed: SearchFeed) -> None:
    """The pipeline loses these records (a version tie, its dead letters): the index never hears."""
    search_feed.stream.read()


@pytest.mark.parametrize("page_size", [search_sweep.PAGE_SIZE, 2])
def test_a_purge_the_pipeline_dropped_leaves_the_index_at_the_next_sweep(
    api: Api, search_feed: SearchFeed, monkeypatch: pytest.MonkeyPatch, page_size: int
) -> None:
    # Given an owner's documents, indexed: three to purge, one to keep, one in the trash
    monkeypatch.setattr(search_sweep, "PAGE_SIZE", page_size)
    owner = new_user()
    purged = [create(api, owner, f"gone {n}.pdf") for n in range(3)]
    kept, trashed = create(api, owner, "kept.pdf"), create(api, owner, "trashed.pdf")
    search_feed.catch_up()
    assert api.call("modify", "DELETE", f"/documents/{trashed}", sub=owner).status == 204
    search_feed.catch_up()
    # ... and the purges' REMOVEs lost on the way to the index
    for doc_id in purged:
        assert api.call("modify", "DELETE", f"/documents/{doc_id}", sub=owner, query={"purge": "true"}).status == 204
    drop_what_the_pipeline_has_not_read(search_feed)
    assert all(search_feed.engine.get(index_id(owner, d)) is not None for d in purged)

    # When the sweep runs
    report, lines = run_sweep()
    search_feed.engine.refresh()

    # Then the purged documents' entries are gone; the live and the trashed documents' stay
    assert [search_feed.engine.get(index_id(owner, d)) for d in purged] == [None, None, None]
    assert search_feed.engine.get(index_id(owner, kept)) is not None
    assert search_feed.engine.get(index_id(owner, trashed)) is not None
    assert report["complete"] is True and report["deleted"] >= 3 and report["scanned"] >= 5
    [swept] = [line for line in lines if line["message"] == "swept"]
    assert swept["SearchSweepDeleted"] == report["deleted"] and swept["SearchSweepIncomplete"] == 0
    assert {m["Name"] for m in swept["_aws"]["CloudWatchMetrics"][0]["Metrics"]} == {
        "SearchSweepDeleted",
        "SearchSweepIncomplete",
    }

    # And a second run finds nothing more to delete
    again, _ = run_sweep()
    assert again["deleted"] == 0 and again["complete"] is True


def test_without_its_variables_the_sweep_names_the_one_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEARCH_ENDPOINT")

    with pytest.raises(RuntimeError, match=r"^SEARCH_ENDPOINT is not set"):
        sweep_handler.handler({}, FakeContext())
