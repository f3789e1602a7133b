"""An in-memory DocumentSearch (folio.ports) for unit tests: the same filters, order, paging and
highlights as folio.search on the engine, on a deliberately small text model (words are runs of
letters and digits, lower-cased; a trailing "*" makes a word a prefix; every word must match the
name or a tag; "_" and "." separate words as the `name.words` field's analyzer does; the engine does not find "2025" in
"tax_2025.pdf", which `simple` drops and Unicode word breaking keeps whole, and the contract
tests stay out of that corner). tests/contract/test_document_search.py runs the same tests against both."""

from __future__ import annotations

import html
import re
from datetime import datetime
from typing import Any

from folio.domain import LISTING, SHARED_WITH, TRASHED, SearchPage

_WORD = re.compile(r"[^\W_]+\*?")


def _millis(timestamp: str) -> int:
    return int(datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp() * 1000)


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def _matches(word: str, token: str) -> bool:
    return token.startswith(word[:-1]) if word.endswith("*") else token == word


class InMemorySearch:
    """Documents by docId, as the pipeline would index them (the item's indexed fields)."""

    def __init__(self) -> None:
        self.documents: dict[str, dict[str, Any]] = {}

    def put(self, document: dict[str, Any]) -> None:
        self.documents[document["docId"]] = dict(document)

    def remove(self, doc_id: str) -> None:
        self.documents.pop(doc_id, None)

    def search(
        self, caller: str, scope: str, text: str | None, limit: int, after: list[Any] | None = None
    ) -> SearchPage:
        if scope not in ("mine", "shared", "all"):
            raise ValueError(f"unknown scope {scope!r}")
        words = _words(text) if text is not None else []
        found = []
        for document in self.documents.values():
            mine = document["owner"] == caller
            shared = caller in document.get(SHARED_WITH, ())
            if not {"mine": mine, "shared": shared, "all": mine or shared}[scope] or document["status"] == TRASHED:
                continue
            tokens = _words(document["name"]) + [t.lower() for t in document.get("tags", [])]
            if all(any(_matches(w, t) for t in tokens) for w in words):
                found.append(((-_millis(document["updatedAt"]), document["docId"]), document))
        found.sort(key=lambda pair: pair[0])
        if after is not None:
            found = [pair for pair in found if pair[0] > (-int(after[0]), str(after[1]))]
        items = [self._hit(document, words) for _, document in found[:limit]]
        last = found[limit - 1][0] if len(found) > limit else None
        return SearchPage(items, None if last is None else [-last[0], last[1]])

    @staticmethod
    def _hit(document: dict[str, Any], words: list[str]) -> dict[str, Any]:
        hit = {name: document[name] for name in LISTING if name in document}
        parts = re.split(r"([^\W_]+)", document["name"])
        marked = any(any(_matches(w, p.lower()) for w in words) for p in parts[1::2])
        hit["highlights"] = (
            [
                "".join(
                    f"<em>{html.escape(p)}</em>"
                    if i % 2 and any(_matches(w, p.lower()) for w in words)
                    else html.escape(p)
                    for i, p in enumerate(parts)
                )
            ]
            if marked
            else []
        )
        return hit


class TableOf:
    """A DocumentAuthority over plain documents by (owner, docId): by default the index's own
    documents (a table the index is in step with); a test changes `documents` to make them differ."""

    def __init__(self, documents: dict[tuple[str, str], dict[str, Any]]) -> None:
        self.documents = documents
        self.asked: list[list[tuple[str, str]]] = []

    @classmethod
    def in_step_with(cls, index: InMemorySearch) -> TableOf:
        return cls({(d["owner"], d["docId"]): dict(d) for d in index.documents.values()})

    def current_documents(self, documents: Any) -> dict[tuple[str, str], dict[str, Any]]:
        self.asked.append(list(documents))
        return {key: dict(self.documents[key]) for key in documents if key in self.documents}
