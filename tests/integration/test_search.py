"""Search end to end: a document created, renamed, shared, trashed and purged through the API (the
real handlers on DynamoDB Local) reaches the search engine only through the table's stream,
replayed with the zero-ETL pipeline's rules (the `search_feed` fixture), and is found, changed and
gone in search in that order, for its owner and its grantee, never for anyone else."""

from __future__ import annotations

from typing import Any

import pytest

from folio import keys, search_index
from folio.settings import Env
from tests.integration.conftest import Api, SearchFeed, fresh_containers, new_user
from tests.support.search_replay import DataPrepperVersions, replay


def found(api: Api, who: str, text: str, scope: str = "all") -> list[dict[str, Any]]:
    reply = api.call("search", "GET", "/search", sub=who, query={"q": text, "scope": scope})
    assert reply.status == 200, reply.body
    items: list[dict[str, Any]] = reply.body["items"]
    return items


def make_available(owner: str, doc_id: str) -> None:
    """The upload worker's transition (an upload arrived), without S3."""
    from folio.handlers import wiring

    wiring.writes().mark_available(wiring.reads().get_document(owner, doc_id))


def test_a_documents_life_is_found_changed_and_gone_in_search(api: Api, search_feed: SearchFeed) -> None:
    owner, grantee, stranger = new_user(), new_user(), new_user()
    body = {"name": "Quarterly tax report.pdf", "contentType": "application/pdf", "size": 5, "tags": ["tax"]}
    created = api.call("create", "POST", "/documents", sub=owner, body=body)
    doc_id = created.body["document"]["id"]
    index_id = search_index.document_id(keys.user_partition(owner), keys.document_sort_key(doc_id))
    make_available(owner, doc_id)

    # Created: found by its owner, by name and by tag, with the match highlighted; nobody else.
    search_feed.catch_up()
    (hit,) = found(api, owner, "quarterly", scope="mine")
    assert (hit["id"], hit["status"], hit["owner"]) == (doc_id, "AVAILABLE", owner)
    assert hit["highlights"] == ["<em>Quarterly</em> tax report.pdf"]
    assert [h["id"] for h in found(api, owner, "tax")] == [doc_id]
    assert found(api, grantee, "quarterly") == found(api, stranger, "quarterly") == []

    # Renamed: the old name is gone, the new one found, at the new version.
    reply = api.call(
        "modify", "PATCH", f"/documents/{doc_id}", sub=owner,
        body={"name": "Annual budget.pdf"}, headers={"If-Match": '"2"'},
    )  # fmt: skip
    assert reply.status == 200, reply.body
    search_feed.catch_up()
    assert found(api, owner, "quarterly") == []
    (renamed,) = found(api, owner, "budget")
    assert (renamed["name"], renamed["version"]) == ("Annual budget.pdf", reply.body["version"])

    # Shared: the grantee finds it among what is shared, not among their own; the stranger never.
    assert api.call("modify", "PUT", f"/documents/{doc_id}/shares/{grantee}", sub=owner).status == 200
    search_feed.catch_up()
    assert [h["id"] for h in found(api, grantee, "budget", scope="shared")] == [doc_id]
    assert [h["id"] for h in found(api, grantee, "budget", scope="all")] == [doc_id]
    assert found(api, grantee, "budget", scope="mine") == []
    assert found(api, stranger, "budget") == []
    assert "sharedWith" not in found(api, owner, "budget")[0]

    # Trashed: gone for both, though still in the index.
    assert api.call("modify", "DELETE", f"/documents/{doc_id}", sub=owner).status == 204
    search_feed.catch_up()
    assert found(api, owner, "budget") == found(api, grantee, "budget") == []
    assert search_feed.engine.get(index_id) is not None

    # Purged: deleted from the index.
    purge = api.call("modify", "DELETE", f"/documents/{doc_id}", sub=owner, query={"purge": "true"})
    assert purge.status == 204, purge.body
    assert index_id in search_feed.catch_up().deleted
    assert search_feed.engine.get(index_id) is None

    # The whole session re-delivered from the start (a shard read again): every write is stale, while
    # the engine still remembers the delete's version. OpenSearch forgets it after index.gc_deletes
    # (60 s); the emulator never does (tests/support/test_osmem_gaps.py, gap 4). After that window a
    # re-delivered INSERT would re-create the document until its REMOVE comes again (docs/search.md).
    again = replay(search_feed.engine, search_feed.records, DataPrepperVersions())
    assert index_id in again.stale and index_id not in again.indexed
    assert search_feed.engine.get(index_id) is None


def test_search_pages_through_the_api_with_a_cursor_bound_to_the_search(api: Api, search_feed: SearchFeed) -> None:
    owner = new_user()
    ids = []
    for n in range(3):
        body = {"name": f"invoice {n}.pdf", "contentType": "application/pdf", "size": 1}
        ids.append(api.call("create", "POST", "/documents", sub=owner, body=body).body["document"]["id"])
    search_feed.catch_up()

    first = api.call("search", "GET", "/search", sub=owner, query={"q": "invoice", "limit": "2"})
    second = api.call(
        "search", "GET", "/search", sub=owner, query={"q": "invoice", "limit": "2", "cursor": first.body["cursor"]}
    )
    other_text = api.call("search", "GET", "/search", sub=owner, query={"q": "bill", "cursor": first.body["cursor"]})
    other_user = api.call(
        "search", "GET", "/search", sub=new_user(), query={"q": "invoice", "cursor": first.body["cursor"]}
    )

    listed = [h["id"] for h in first.body["items"] + second.body["items"]]
    assert sorted(listed) == sorted(ids) and len(set(listed)) == 3
    assert "cursor" not in second.body
    assert (other_text.status, other_text.body["error"]["code"]) == (400, "invalid_cursor")
    assert (other_user.status, other_user.body["error"]["code"]) == (400, "invalid_cursor")


# What reaches the handler when API Gateway's model does not check it (a direct invoke, a stage
# without the validator): each is refused by the handler itself, with what is wrong.
HOSTILE_SEARCHES = [
    ({"q": "x" * 201}, "q must be"), ({"q": "a\tb"}, "q must be"), ({"q": "tax\n"}, "q must be"),
    ({"q": "   "}, "not only spaces"), ({"q": ""}, "q must be"), ({"q": "\ud800"}, "q must be"),
    ({"scope": "everyone"}, "scope must be"), ({"scope": "mine\n"}, "scope must be"),
    ({"scope": "MINE"}, "scope must be"),
    ({"limit": "0"}, "limit must be"), ({"limit": "10\n"}, "limit must be"), ({"limit": "\u0663"}, "limit must be"),
    ({"limit": "-1"}, "limit must be"),
]  # fmt: skip


@pytest.mark.parametrize(("query", "message"), HOSTILE_SEARCHES, ids=[repr(q) for q, _ in HOSTILE_SEARCHES])
def test_bad_search_input_is_a_clear_400(api: Api, query: dict[str, str], message: str) -> None:
    reply = api.call("search", "GET", "/search", sub=new_user(), query=query)

    assert (reply.status, reply.body["error"]["code"]) == (400, "invalid_input"), query
    assert message in reply.body["error"]["message"]


def test_query_syntax_in_the_text_finds_nothing_of_anyone_elses(api: Api, search_feed: SearchFeed) -> None:
    # Given a stranger's document in the index
    stranger = new_user()
    body = {"name": "secret plan.pdf", "contentType": "application/pdf", "size": 3}
    assert api.call("create", "POST", "/documents", sub=stranger, body=body).status == 201
    search_feed.catch_up()

    # When another user tries field syntax and wildcards, in every scope
    caller = new_user()
    for text in ("*", "owner:" + stranger, "secret*", "name:secret", "secret | plan"):
        for scope in ("mine", "shared", "all"):
            reply = api.call("search", "GET", "/search", sub=caller, query={"q": text, "scope": scope})
            # Then nothing of the stranger's comes back
            assert (reply.status, reply.body["items"]) == (200, []), (text, scope)


def test_without_a_search_domain_search_is_a_clear_503(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a search function with no SEARCH_ENDPOINT (an environment without features.search)
    from folio.handlers import wiring

    monkeypatch.delenv(Env.SEARCH_ENDPOINT)
    fresh_containers()
    try:
        # When a user searches
        reply = api.call("search", "GET", "/search", sub=new_user(), query={"q": "report"})
    finally:
        monkeypatch.undo()
        fresh_containers()

    # Then the answer says what is missing, and no trace leaks
    assert (reply.status, reply.body["error"]["code"]) == (503, "unavailable")
    assert "environment" in reply.body["error"]["message"]
    assert wiring.settings().search_endpoint is not None  # the other tests get their engine back
