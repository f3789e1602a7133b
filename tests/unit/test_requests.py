"""The edge's typed requests (folio.requests): each refusal is the error the API has always
given, in the order it has always checked (the integration tests pin the HTTP side)."""

from __future__ import annotations

from typing import Any

import pytest

from folio.contracts import DEFAULT_LIMIT, MAX_LIMIT
from folio.errors import FolioError, InvalidInput, PayloadTooLarge, PreconditionRequired
from folio.requests import CreateDocument, DeleteDocument, ListQuery, PageQuery, ShareRequest, UpdateDocument

GOOD = {"name": "a.pdf", "contentType": "application/pdf", "size": 10, "tags": ["tax"]}


def refusal(parse: Any) -> tuple[type[FolioError], str]:
    with pytest.raises(FolioError) as raised:
        parse()
    return type(raised.value), raised.value.message


def test_a_create_parses_into_typed_values() -> None:
    assert CreateDocument.parse(GOOD, max_upload_bytes=10) == CreateDocument("a.pdf", "application/pdf", 10, ("tax",))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({**GOOD, "owner": "x"}, (InvalidInput, "the body has unknown fields")),
        ({**GOOD, "size": True}, (InvalidInput, "size must be a positive number of bytes")),
        # Too large is a 413 even when the tags are wrong too: the size is checked first.
        ({**GOOD, "size": 11, "tags": ["BAD"]}, (PayloadTooLarge, "a document may be at most 10 bytes")),
        ({**GOOD, "tags": ["a", "a"]}, (InvalidInput, "tags must be a list of at most 10 distinct tags")),
    ],
)
def test_a_create_is_refused_as_it_always_was(body: dict[str, Any], expected: tuple[type, str]) -> None:
    assert refusal(lambda: CreateDocument.parse(body, max_upload_bytes=10)) == expected


def test_an_update_without_if_match_is_a_428_whatever_else_is_wrong() -> None:
    assert refusal(lambda: UpdateDocument.parse("bad id!", None, {"owner": 1}))[0] is PreconditionRequired
    assert refusal(lambda: UpdateDocument.parse("bad id!", '"3"', {"owner": 1})) == (
        InvalidInput,
        "send a name, tags, or both",
    )
    assert UpdateDocument.parse("01ABC", '"3"', {"tags": []}) == UpdateDocument("01ABC", 3, None, ())


def test_list_queries() -> None:
    assert ListQuery.parse({}) == ListQuery(None, None, DEFAULT_LIMIT, None)
    assert ListQuery.parse({"type": "pdf", "limit": "5", "cursor": "c"}) == ListQuery(None, "pdf", 5, "c")
    assert refusal(lambda: ListQuery.parse({"tag": "a", "type": "b", "limit": "x"})) == (
        InvalidInput,
        "filter by tag or by type, not both",
    )
    assert refusal(lambda: PageQuery.parse({"limit": str(MAX_LIMIT + 1)})) == (
        InvalidInput,
        f"limit must be a whole number from 1 to {MAX_LIMIT}",
    )
    assert refusal(lambda: PageQuery.parse({"limit": "²"}))[0] is InvalidInput


def test_delete_and_share_requests() -> None:
    assert DeleteDocument.parse("01ABC", None) == DeleteDocument("01ABC", purge=False)
    assert DeleteDocument.parse("01ABC", "true") == DeleteDocument("01ABC", purge=True)
    assert refusal(lambda: DeleteDocument.parse("01ABC", "yes")) == (InvalidInput, "purge must be true or false")
    assert refusal(lambda: ShareRequest.to_share("me", "bad id!", "me")) == (
        InvalidInput,
        "you cannot share a document with yourself",
    )
    assert ShareRequest.to_unshare("01ABC", "me") == ShareRequest("01ABC", "me")
