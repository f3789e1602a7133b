"""The search engine the runtime tests run on: PyPI's `osmem-server` (pinned in
requirements-dev.txt), an in-memory OpenSearch-compatible server on loopback, started once per
session like DynamoDB Local, with the documents index template applied.

`SearchEngine` is a small JSON-over-HTTP client for the test machinery (the replay, resets, the
emulator's gap tests). The runtime's own adapter (folio.search) signs its requests; the tests
reach it through `search_endpoint`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import urllib3

from folio import search_index


class SearchEngineError(RuntimeError):
    """An answer the test machinery did not expect."""


class SearchEngine:
    """JSON requests to an OpenSearch-compatible endpoint; `request` returns (status, body)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.http = urllib3.PoolManager()

    def request(self, method: str, path: str, body: Any = None, *, ndjson: bool = False) -> tuple[int, Any]:
        if body is None:
            payload = None
        elif ndjson:
            payload = "".join(json.dumps(line) + "\n" for line in body).encode()
        else:
            payload = json.dumps(body).encode()
        content_type = "application/x-ndjson" if ndjson else "application/json"
        response = self.http.request(method, self.url + path, body=payload, headers={"Content-Type": content_type})
        text = response.data.decode() if response.data else ""
        return response.status, json.loads(text) if text else None

    def ok(self, method: str, path: str, body: Any = None, *, ndjson: bool = False) -> Any:
        status, answer = self.request(method, path, body, ndjson=ndjson)
        if status >= 300:
            raise SearchEngineError(f"{method} {path}: {status} {answer}")
        return answer

    def bulk(self, lines: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """POST _bulk; each item's result ({"status": ..., ...}) in order."""
        answer = self.ok("POST", "/_bulk", list(lines), ndjson=True)
        return [next(iter(item.values())) for item in answer["items"]]

    def apply_template(self) -> None:
        self.ok("PUT", f"/_index_template/{search_index.TEMPLATE_NAME}", search_index.index_template())

    def recreate_index(self) -> None:
        """An empty documents index, created from the template (as the pipeline's first write does)."""
        status, _ = self.request("DELETE", f"/{search_index.INDEX_NAME}")
        if status not in (200, 404):
            raise SearchEngineError(f"DELETE /{search_index.INDEX_NAME}: {status}")
        self.ok("PUT", f"/{search_index.INDEX_NAME}")

    def refresh(self) -> None:
        """What the real engine does by itself within its refresh interval (1 s)."""
        self.ok("POST", f"/{search_index.INDEX_NAME}/_refresh")

    def get(self, doc_id: str) -> dict[str, Any] | None:
        status, answer = self.request("GET", f"/{search_index.INDEX_NAME}/_doc/{_quote(doc_id)}")
        if status == 404:
            return None
        if status != 200:
            raise SearchEngineError(f"GET {doc_id}: {status} {answer}")
        return dict(answer)


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")
