"""The search port's contract (folio.ports.DocumentSearch), run against the in-memory fake and
against folio.search.OpenSearchDocuments on the search engine (osmem-server, the documents index
made from the template): a fake that drifts from the engine fails here, by name."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.credentials import Credentials

from folio import keys, search_index
from folio.domain import AVAILABLE, TRASHED
from folio.ports import DocumentSearch
from folio.search import OpenSearchDocuments
from tests.support import loopback
from tests.support.fake_search import InMemorySearch
from tests.support.search_engine import SearchEngine

Index = Callable[[dict[str, Any]], None]


@pytest.fixture(params=["fake", "opensearch"])
def port(request: pytest.FixtureRequest) -> Iterator[tuple[DocumentSearch, Index]]:
    """(the port, how a document gets into its index)."""
    if request.param == "fake":
        fake = InMemorySearch()
        yield fake, fake.put
        return
    engine: SearchEngine = request.getfixturevalue("search_engine")

    def index(document: dict[str, Any]) -> None:
        doc_id = search_index.document_id(
            keys.user_partition(document["owner"]), keys.document_sort_key(document["docId"])
        )
        engine.ok("PUT", f"/{search_index.INDEX_NAME}/_doc/{doc_id.replace('#', '%23').replace('|', '%7C')}", document)
        engine.refresh()

    credentials = Credentials(loopback.ACCESS_KEY_ID, loopback.SECRET_ACCESS_KEY, loopback.SESSION_TOKEN)
    yield OpenSearchDocuments(engine.url, region="us-east-1", credentials=lambda: credentials), index


def document(owner: str, name: str, updated: str, **extra: Any) -> dict[str, Any]:
    doc_id = extra.pop("docId", uuid.uuid4().hex[:12])
    return {
        "docId": doc_id,
        "owner": owner,
        "name": name,
        "contentType": "application/pdf",
        "docType": "pdf",
        "size": 10,
        "status": AVAILABLE,
        "tags": [],
        "version": 1,
        "createdAt": "2026-11-01T00:00:00.000Z",
        "updatedAt": f"2026-11-{updated}.000Z",
        **extra,
    }


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["docId"] for item in items]


def test_scopes_filter_by_the_caller_as_owner_grantee_or_either(port: tuple[DocumentSearch, Index]) -> None:
    search, index = port
    me, friend = "me", "friend"
    mine = document(me, "tax mine.pdf", "02T10:00:00")
    theirs = document(friend, "tax theirs.pdf", "03T10:00:00", sharedWith=[me])
    stranger = document("stranger", "tax stranger.pdf", "04T10:00:00")
    for d in (mine, theirs, stranger):
        index(d)

    got = {scope: ids(search.search(me, scope, "tax", 10).items) for scope in ("mine", "shared", "all")}

    assert got == {"mine": [mine["docId"]], "shared": [theirs["docId"]], "all": [theirs["docId"], mine["docId"]]}


def test_trashed_documents_never_match(port: tuple[DocumentSearch, Index]) -> None:
    search, index = port
    index(document("me", "tax.pdf", "02T10:00:00", status=TRASHED))

    assert search.search("me", "all", "tax", 10).items == []
    assert search.search("me", "all", None, 10).items == []


def test_every_word_must_match_the_name_or_a_tag(port: tuple[DocumentSearch, Index]) -> None:
    search, index = port
    both = document("me", "Tax return 2025.pdf", "02T10:00:00")
    tagged = document("me", "return.pdf", "03T10:00:00", tags=["tax"])
    neither = document("me", "holiday.jpg", "04T10:00:00")
    for d in (both, tagged, neither):
        index(d)

    assert ids(search.search("me", "mine", "tax return", 10).items) == [tagged["docId"], both["docId"]]
    assert ids(search.search("me", "mine", "holi*", 10).items) == [neither["docId"]]


def test_pages_follow_updated_desc_then_id_and_neither_skip_nor_repeat(port: tuple[DocumentSearch, Index]) -> None:
    search, index = port
    same_time = [document("me", f"tax {n}.pdf", "02T10:00:00", docId=f"d{n}") for n in range(5)]
    newest = document("me", "tax new.pdf", "05T10:00:00", docId="d9")
    for d in (*same_time, newest):
        index(d)

    seen, after, pages = [], None, 0
    while True:
        page = search.search("me", "mine", "tax", 2, after)
        seen += ids(page.items)
        pages += 1
        if page.after is None:
            break
        after = page.after

    assert seen == ["d9", "d0", "d1", "d2", "d3", "d4"]
    assert pages == 3


def test_hits_carry_the_listing_and_highlights_but_never_the_grantee_set(port: tuple[DocumentSearch, Index]) -> None:
    search, index = port
    index(document("me", "<b>tax</b> & notes.pdf", "02T10:00:00", sharedWith=["friend"]))

    (hit,) = search.search("me", "mine", "tax", 10).items
    (tag_only,) = search.search("me", "mine", None, 10).items

    assert "sharedWith" not in hit
    assert hit["owner"] == "me" and hit["name"] == "<b>tax</b> & notes.pdf"
    assert len(hit["highlights"]) == 1 and "<em>tax</em>" in hit["highlights"][0]
    assert "<b>" not in hit["highlights"][0]  # the user's name is escaped; only <em> is markup
    assert tag_only["highlights"] == []


def test_a_word_finds_a_name_that_joins_it_with_dots_or_underscores(port: tuple[DocumentSearch, Index]) -> None:
    search, index = port
    dotted = document("me", "report.pdf", "02T10:00:00")
    joined = document("me", "Müller_Steuer_2025.pdf", "03T10:00:00")
    for d in (dotted, joined):
        index(d)

    assert ids(search.search("me", "mine", "report", 10).items) == [dotted["docId"]]
    assert ids(search.search("me", "mine", "müller steuer", 10).items) == [joined["docId"]]
    (hit,) = search.search("me", "mine", "report", 10).items
    assert hit["highlights"] == ["<em>report</em>.pdf"]
