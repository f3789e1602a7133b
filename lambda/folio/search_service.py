"""What the search does for a caller: the caller's id from the token is the only identity the
search port is given, and a cursor continues only the search (caller, text, scope) it came from."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from folio import cursor
from folio.domain import SHARED_WITH, TRASHED, public
from folio.errors import InvalidCursor
from folio.requests import SearchQuery, is_id

if TYPE_CHECKING:
    from folio.ports import DocumentAuthority, DocumentSearch
    from folio.service import Caller


def _after(key: dict[str, Any]) -> list[Any]:
    """The sort values a cursor carries: (updatedAt in epoch milliseconds, document id)."""
    after = key.get("after")
    if (
        not isinstance(after, list)
        or len(after) != 2
        or isinstance(after[0], bool)
        or not isinstance(after[0], int)
        or not is_id(after[1])
    ):
        raise InvalidCursor("the cursor is not one this API issued")
    return after


def visible(document: dict[str, Any] | None, caller: str, scope: str) -> bool:
    """Whether the table says `caller` may see `document` in `scope` now."""
    if document is None or document.get("status") == TRASHED:
        return False
    mine = document.get("owner") == caller
    shared = caller in set(document.get(SHARED_WITH) or ())
    return {"mine": mine, "shared": shared}.get(scope, mine or shared)


class SearchService:
    def __init__(
        self, search: DocumentSearch, cursor_secret: Callable[[], bytes], authority: DocumentAuthority
    ) -> None:
        """`cursor_secret` is read only when a cursor is encoded or decoded. `authority` is the
        table: a hit is shown only if the table, read strongly, still lets the caller see it
        (the index trails the table, and can lose a change: docs/search.md)."""
        self.index = search
        self.cursor_secret = cursor_secret
        self.authority = authority

    def search(self, caller: Caller, query: SearchQuery) -> dict[str, Any]:
        who, binding = caller.user_id, query.cursor_binding()
        after = None
        if query.cursor is not None:
            after = _after(cursor.decode(query.cursor, caller=who, query=binding, secret=self.cursor_secret()))
        page = self.index.search(who, query.scope, query.text, query.limit, after)
        current = self.authority.current_documents([(item["owner"], item["docId"]) for item in page.items])
        shown = [item for item in page.items if visible(current.get((item["owner"], item["docId"])), who, query.scope)]
        body: dict[str, Any] = {
            "items": [{**public(item), "owner": item["owner"], "highlights": item["highlights"]} for item in shown]
        }
        if page.after is not None:
            body["cursor"] = cursor.encode(
                {"after": page.after}, caller=who, query=binding, secret=self.cursor_secret()
            )
        return body
