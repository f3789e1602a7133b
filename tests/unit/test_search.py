"""The search edge and service on the in-memory fake (tests/support/fake_search.py), and the
adapter's query and request without an engine: the user's text reaches only the full-text
clause, the caller is always a filter, the sort never uses _score, and every request is signed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.credentials import Credentials

from folio import cursor, search
from folio.contracts import MAX_CURSOR_LENGTH, MAX_SEARCH_TEXT_LENGTH
from folio.domain import AVAILABLE
from folio.errors import InvalidCursor, InvalidInput, Throttled
from folio.requests import SearchQuery
from folio.search_service import SearchService
from folio.service import Caller
from tests.support import loopback
from tests.support.fake_search import InMemorySearch, TableOf
from tests.support.sigv4 import signature_problem

SECRET = b"s" * 32
HOSTILE = '{"query": {"match_all": {}}} owner:* OR * -status:TRASHED'


def paths_to(value: Any, needle: str, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON value where a string equals `needle`."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in paths_to(v, needle, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in paths_to(v, needle, (*path, i))]
    return [path] if value == needle else []


@pytest.mark.parametrize("scope", ["mine", "shared", "all"])
def test_the_users_text_reaches_only_the_full_text_clause(scope: str) -> None:
    body = search.query_body("u1", scope, HOSTILE, 10, None)

    assert paths_to(body, HOSTILE) == [("query", "bool", "must", 0, "simple_query_string", "query")]
    clause = body["query"]["bool"]["must"][0]["simple_query_string"]
    assert set(clause) == {"query", "fields", "flags", "default_operator"}
    assert not {"FUZZY", "NEAR", "SLOP", "ALL"} & set(clause["flags"].split("|"))


@pytest.mark.parametrize(
    ("scope", "fields"), [("mine", {"owner"}), ("shared", {"sharedWith"}), ("all", {"owner", "sharedWith"})]
)
def test_the_caller_is_always_a_filter(scope: str, fields: set[str]) -> None:
    body = search.query_body("u1", scope, None, 10, None)

    places = paths_to(body["query"]["bool"]["filter"], "u1")
    assert {p[-1] for p in places} == fields
    assert body["query"]["bool"]["must_not"] == [{"term": {"status": "TRASHED"}}]


def test_an_unknown_scope_is_refused_before_any_query() -> None:
    with pytest.raises(ValueError, match="scope"):
        search.query_body("u1", "everyone", None, 10, None)


def test_the_sort_is_total_and_not_by_score() -> None:
    body = search.query_body("u1", "mine", "tax", 10, [1, "d1"])

    assert body["sort"] == [{"updatedAt": "desc"}, {"docId": "asc"}]
    assert "_score" not in json.dumps(body["sort"])
    assert (body["search_after"], body["size"]) == ([1, "d1"], 11)
    assert "sharedWith" not in body["_source"]


class Recorder:
    """urllib3's PoolManager.request, recorded; answers an empty page (or what it is told)."""

    def __init__(self, status: int = 200, data: bytes = b'{"hits": {"hits": []}}') -> None:
        self.calls: list[dict[str, Any]] = []
        self.status, self.data = status, data

    def request(self, method: str, url: str, body: bytes, headers: dict[str, str]) -> Any:
        self.calls.append({"method": method, "url": url, "body": body, "headers": headers})
        return type("Answer", (), {"status": self.status, "data": self.data})()


def adapter_answering(status: int, data: bytes) -> search.OpenSearchDocuments:
    credentials = Credentials("AKIDEXAMPLE", "secret", "token")
    return search.OpenSearchDocuments(
        "https://vpc-folio.us-east-1.es.amazonaws.com",
        region="us-east-1",
        credentials=lambda: credentials,
        http=Recorder(status, data),  # type: ignore[arg-type]
    )


def test_before_the_pipelines_first_write_nothing_is_found() -> None:
    missing = b'{"error": {"type": "index_not_found_exception"}, "status": 404}'

    assert adapter_answering(404, missing).search("u1", "mine", None, 5) == ([], None)


@pytest.mark.parametrize(
    ("status", "raised"), [(429, Throttled), (403, search.SearchFailed), (500, search.SearchFailed)]
)
def test_a_refusal_is_throttled_or_a_failure_never_an_empty_page(status: int, raised: type[Exception]) -> None:
    with pytest.raises(raised):
        adapter_answering(status, b"{}").search("u1", "mine", None, 5)


def test_every_request_is_signed_for_the_domain() -> None:
    recorder = Recorder()
    credentials = Credentials("AKIDEXAMPLE", "secret", "token")
    adapter = search.OpenSearchDocuments(
        "https://vpc-folio.us-east-1.es.amazonaws.com",
        region="us-east-1",
        credentials=lambda: credentials,
        http=recorder,  # type: ignore[arg-type]
    )

    adapter.search("u1", "mine", "tax", 5)

    (call,) = recorder.calls
    assert call["url"] == "https://vpc-folio.us-east-1.es.amazonaws.com/documents/_search"
    assert call["headers"]["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/us-east-1/es/aws4_request" in call["headers"]["Authorization"]
    assert call["headers"]["X-Amz-Security-Token"] == "token"


def test_the_signature_covers_the_method_url_host_type_and_exact_body() -> None:
    # Given the adapter's request as it would leave the function (the same signer as the
    # role-mapping adapter: folio.signed_http)
    recorder = Recorder()
    credentials = Credentials(loopback.ACCESS_KEY_ID, loopback.SECRET_ACCESS_KEY, loopback.SESSION_TOKEN)
    adapter = search.OpenSearchDocuments(
        "https://vpc-folio.us-east-1.es.amazonaws.com", region=loopback.REGION, credentials=lambda: credentials,
        http=recorder,  # type: ignore[arg-type]
    )  # fmt: skip
    adapter.search("u1", "mine", "tax", 5)
    (call,) = recorder.calls
    sent = {**call["headers"], "Host": "vpc-folio.us-east-1.es.amazonaws.com"}

    # Then it verifies as the domain checks it, and names the same headers as ever
    def problem(method: str = "POST", body: bytes = call["body"]) -> str | None:
        keys = {loopback.ACCESS_KEY_ID: loopback.SECRET_ACCESS_KEY}
        return signature_problem(method, call["url"], sent, body, secret_keys=keys, region="us-east-1", service="es")

    assert problem() is None
    assert problem(body=call["body"] + b" ") is not None and problem(method="GET") is not None
    assert "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token," in sent["Authorization"]
    assert sent["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    "query",
    [{"q": ""}, {"q": "x" * (MAX_SEARCH_TEXT_LENGTH + 1)}, {"q": "tax\n"}, {"q": "a\x00b"}, {"q": "\x85"},
     {"q": "a\ud800"}, {"scope": "everyone"}, {"scope": "MINE"}, {"limit": "0"}, {"limit": "101"}, {"limit": "²"}],
)  # fmt: skip
def test_bad_search_input_is_400(query: dict[str, str]) -> None:
    with pytest.raises(InvalidInput):
        SearchQuery.parse(query)


def test_the_defaults_are_my_documents_twenty_at_a_time() -> None:
    assert SearchQuery.parse({}) == SearchQuery(None, "mine", 20, None)


def doc(owner: str, n: int, **extra: Any) -> dict[str, Any]:
    return {
        "docId": f"d{n}",
        "owner": owner,
        "name": f"tax {n}.pdf",
        "contentType": "application/pdf",
        "docType": "pdf",
        "size": "10",  # as the pipeline indexes numbers
        "status": AVAILABLE,
        "tags": [],
        "version": "1",
        "createdAt": "2026-11-01T00:00:00.000Z",
        "updatedAt": f"2026-11-0{n}T00:00:00.000Z",
        **extra,
    }


@pytest.fixture
def service() -> SearchService:
    index = InMemorySearch()
    for n in range(1, 6):
        index.put(doc("owner", n, sharedWith=["friend"]))
    return SearchService(index, lambda: SECRET, TableOf.in_step_with(index))


OWNER, FRIEND = Caller("owner", frozenset()), Caller("friend", frozenset())


def test_pages_are_public_documents_with_owner_and_highlights(service: SearchService) -> None:
    first = service.search(OWNER, SearchQuery.parse({"q": "tax", "limit": "2"}))

    assert [item["id"] for item in first["items"]] == ["d5", "d4"]
    assert first["items"][0] == {
        "id": "d5", "name": "tax 5.pdf", "contentType": "application/pdf", "size": 10, "status": AVAILABLE,
        "tags": [], "version": 1, "createdAt": "2026-11-01T00:00:00.000Z", "updatedAt": "2026-11-05T00:00:00.000Z",
        "owner": "owner", "highlights": ["<em>tax</em> 5.pdf"],
    }  # fmt: skip
    second = service.search(OWNER, SearchQuery.parse({"q": "tax", "limit": "2", "cursor": first["cursor"]}))
    assert [item["id"] for item in second["items"]] == ["d3", "d2"]


@pytest.mark.parametrize(
    ("who", "other_query"),
    [(FRIEND, {"q": "tax"}), (OWNER, {"q": "taxes"}), (OWNER, {"q": "tax", "scope": "all"}), (OWNER, {})],
)
def test_a_cursor_continues_only_its_own_callers_search(
    service: SearchService, who: Caller, other_query: dict[str, str]
) -> None:
    first = service.search(OWNER, SearchQuery.parse({"q": "tax", "limit": "2"}))

    with pytest.raises(InvalidCursor):
        service.search(who, SearchQuery.parse({**other_query, "limit": "2", "cursor": first["cursor"]}))


def test_a_grantee_finds_shared_documents_only_in_the_shared_scopes(service: SearchService) -> None:
    mine = service.search(FRIEND, SearchQuery.parse({"q": "tax"}))
    shared = service.search(FRIEND, SearchQuery.parse({"q": "tax", "scope": "shared"}))

    assert mine["items"] == []
    assert len(shared["items"]) == 5 and {item["owner"] for item in shared["items"]} == {"owner"}


@pytest.mark.parametrize("after", ["x", [1], [True, "d1"], [1, "a b"], [1.5, "d1"], [1, "d1", 2]])
def test_a_signed_cursor_whose_position_is_not_a_sort_key_is_refused(service: SearchService, after: Any) -> None:
    # Given a cursor signed with the right key (a leaked key, or a bug) that carries no sort key
    binding = SearchQuery.parse({"q": "tax"}).cursor_binding()
    forged = cursor.encode({"after": after}, caller="owner", query=binding, secret=SECRET)

    with pytest.raises(InvalidCursor):
        service.search(OWNER, SearchQuery.parse({"q": "tax", "cursor": forged}))


def test_a_cursor_for_the_longest_text_fits_the_cursor_limit() -> None:
    # Given 200 characters that JSON escapes to 12 bytes each (a cursor over 2048 would be refused)
    text = "\U0001f600" * MAX_SEARCH_TEXT_LENGTH
    index = InMemorySearch()
    for n in range(1, 4):
        index.put(doc("owner", n, name=f"{text} {n}.pdf"))
    service = SearchService(index, lambda: SECRET, TableOf.in_step_with(index))

    first = service.search(OWNER, SearchQuery.parse({"q": text, "limit": "1"}))
    second = service.search(OWNER, SearchQuery.parse({"q": text, "limit": "1", "cursor": first["cursor"]}))

    assert len(first["cursor"]) <= MAX_CURSOR_LENGTH
    assert [i["id"] for i in first["items"] + second["items"]] == ["d3", "d2"]


@pytest.mark.parametrize(
    ("change", "who", "scope"),
    [
        ("purged", OWNER, "mine"),
        ("trashed", OWNER, "mine"),
        ("unshared", FRIEND, "shared"),
        ("unshared", FRIEND, "all"),
    ],
)
def test_a_hit_the_table_no_longer_lets_the_caller_see_is_not_shown(change: str, who: Caller, scope: str) -> None:
    # Given an index that still holds d3 as it was, and a table where it was purged, trashed or unshared
    index = InMemorySearch()
    for n in range(1, 6):
        index.put(doc("owner", n, sharedWith=["friend"]))
    table = TableOf.in_step_with(index)
    if change == "purged":
        del table.documents[("owner", "d3")]
    elif change == "trashed":
        table.documents[("owner", "d3")]["status"] = "TRASHED"
    else:
        table.documents[("owner", "d3")]["sharedWith"] = []
    service = SearchService(index, lambda: SECRET, table)

    # When the caller searches
    found = service.search(who, SearchQuery.parse({"q": "tax", "scope": scope}))

    # Then the table decides: d3 is not shown, the others are, and the table was asked once
    assert [item["id"] for item in found["items"]] == ["d5", "d4", "d2", "d1"]
    assert len(table.asked) == 1


def test_a_throttled_table_check_is_a_429_not_an_unchecked_page() -> None:
    class Throttling:
        def current_documents(self, documents: Any) -> dict[tuple[str, str], dict[str, Any]]:
            raise Throttled("too many requests right now; try again shortly")

    index = InMemorySearch()
    index.put(doc("owner", 1))
    service = SearchService(index, lambda: SECRET, Throttling())

    with pytest.raises(Throttled):
        service.search(OWNER, SearchQuery.parse({"q": "tax"}))
