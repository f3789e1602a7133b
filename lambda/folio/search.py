"""The search port on OpenSearch: one signed `_search` request per page.

The query is built here and only here (`query_body`): the caller's id is always a filter (as
owner, as grantee, or either), trashed documents never match, and the user's text reaches only a
`simple_query_string` over fixed fields, with the operators that cost (fuzzy, slop, near) turned
off; never the query DSL. The sort is (updatedAt desc, docId asc), a total order, so `search_after`
pages neither skip nor repeat; not `_score`: relevance decides what matches, not the order, which
also keeps a page's position stable while documents are re-scored (and the test engine pages
wrongly on `_score`: tests/support/test_osmem_gaps.py).

The client is botocore's SigV4 signer (shared: folio.signed_http) over urllib3, both already in
the Lambda runtime: opensearch-py would add about 50 ms to the function's cold import (`make
bench` reports both).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import urllib3

from folio.domain import LISTING, TRASHED, SearchPage
from folio.errors import Throttled
from folio.search_index import (
    FULL_TEXT_FIELDS,
    GRANTEES_FIELD,
    HIGHLIGHTED_FIELDS,
    OWNER_FIELD,
    SEARCH_PATH,
    STATUS_FIELD,
    TIE_BREAKER_FIELD,
    UPDATED_AT_FIELD,
)
from folio.signed_http import signed_headers

SORT = ({UPDATED_AT_FIELD: "desc"}, {TIE_BREAKER_FIELD: "asc"})
# simple_query_string operators a user may use; FUZZY, NEAR and SLOP (expensive expansions) are off.
QUERY_FLAGS = "AND|OR|NOT|PHRASE|PREFIX|PRECEDENCE|WHITESPACE|ESCAPE"
TIMEOUT = urllib3.Timeout(connect=1.0, read=3.0)
RETRIES = urllib3.Retry(total=1, backoff_factor=0.1, status_forcelist=(502, 503, 504), allowed_methods=None)


class SearchFailed(RuntimeError):
    """The engine refused a query (a bug or an outage: the caller gets a 500, the log the reason)."""


def scope_filter(caller: str, scope: str) -> dict[str, Any]:
    mine = {"term": {OWNER_FIELD: caller}}
    shared = {"term": {GRANTEES_FIELD: caller}}
    if scope == "mine":
        return mine
    if scope == "shared":
        return shared
    if scope == "all":
        return {"bool": {"should": [mine, shared], "minimum_should_match": 1}}
    raise ValueError(f"unknown scope {scope!r}")


def query_body(caller: str, scope: str, text: str | None, limit: int, after: list[Any] | None) -> dict[str, Any]:
    """The `_search` body of one page (one hit more than `limit`: whether another page follows)."""
    matching: dict[str, Any] = (
        {
            "simple_query_string": {
                "query": text,
                "fields": list(FULL_TEXT_FIELDS),
                "flags": QUERY_FLAGS,
                "default_operator": "and",
            }
        }
        if text is not None
        else {"match_all": {}}
    )
    body: dict[str, Any] = {
        "size": limit + 1,
        "query": {
            "bool": {
                "filter": [scope_filter(caller, scope)],
                "must": [matching],
                "must_not": [{"term": {STATUS_FIELD: TRASHED}}],
            }
        },
        "sort": list(SORT),
        "_source": list(LISTING),  # never the grantee set
        # The whole name (no fragments), HTML-escaped: a name is the user's text, shown in a page.
        "highlight": {"encoder": "html", "fields": {field: {"number_of_fragments": 0} for field in HIGHLIGHTED_FIELDS}},
    }
    if after is not None:
        body["search_after"] = after
    return body


def highlights(hit: dict[str, Any]) -> list[str]:
    found = hit.get("highlight", {})
    return next((list(found[field]) for field in HIGHLIGHTED_FIELDS if found.get(field)), [])


def page_of(answer: dict[str, Any], limit: int) -> SearchPage:
    hits = answer["hits"]["hits"]
    items = [{**hit["_source"], "highlights": highlights(hit)} for hit in hits[:limit]]
    after = list(hits[limit - 1]["sort"]) if len(hits) > limit else None
    return SearchPage(items, after)


class OpenSearchDocuments:
    """DocumentSearch on an OpenSearch domain (`endpoint`: "https://vpc-...es.amazonaws.com")."""

    def __init__(
        self,
        endpoint: str,
        *,
        region: str,
        credentials: Callable[[], Any],
        http: urllib3.PoolManager | None = None,
    ) -> None:
        self.url = f"{endpoint.rstrip('/')}/{SEARCH_PATH}"
        self.region = region
        self.credentials = credentials
        self.http = http or urllib3.PoolManager(timeout=TIMEOUT, retries=RETRIES)

    def search(
        self, caller: str, scope: str, text: str | None, limit: int, after: list[Any] | None = None
    ) -> SearchPage:
        payload = json.dumps(query_body(caller, scope, text, limit, after)).encode()
        headers = signed_headers("POST", self.url, payload, region=self.region, credentials=self.credentials())
        response = self.http.request("POST", self.url, body=payload, headers=headers)
        if response.status == 429:
            raise Throttled("the search is busy: try again")
        if response.status == 404 and b"index_not_found_exception" in response.data:
            # The pipeline creates the index with its first write: until then nothing is found.
            return SearchPage([], None)
        if response.status != 200:
            raise SearchFailed(f"search answered {response.status}: {response.data[:500]!r}")
        answer: dict[str, Any] = json.loads(response.data)
        return page_of(answer, limit)
