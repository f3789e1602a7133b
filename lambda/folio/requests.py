"""The edge's parsers: raw path, query, header and body values in, small typed requests out.

Handlers parse what a request carries into these small immutable records and the service
takes them, never raw dicts. Every rule comes from folio.contracts, compiled here once; each refusal
is the error (and message) the integration tests pin (tests/integration/test_hostile_input.py,
test_contract_statuses.py, test_fuzz.py), checked in the order the API has always checked them.
Stdlib only: a validation library would cost every cold start. The records are
`typing.NamedTuple`s, not frozen dataclasses: as immutable and as typed, and a sixth of the
import cost (a frozen dataclass execs five generated methods at import; six of them added about
3 ms to every handler's cold import, which the create handler, at its 1.5x-of-boto3 budget, cannot
spare).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from folio.contracts import (
    CONTENT_TYPE_PATTERN,
    DEFAULT_LIMIT,
    DEFAULT_SEARCH_SCOPE,
    ID_PATTERN,
    IDEMPOTENCY_KEY_PATTERN,
    IF_MATCH_PATTERN,
    MAX_CONTENT_TYPE_LENGTH,
    MAX_LIMIT,
    MAX_NAME_LENGTH,
    MAX_SEARCH_TEXT_LENGTH,
    MAX_TAGS,
    NAME_CODE_POINTS_PATTERN,
    NAME_RULE,
    SEARCH_SCOPES,
    SEARCH_TEXT_PATTERN,
    TAG_PATTERN,
)
from folio.errors import InvalidInput, PayloadTooLarge, PreconditionRequired

# Every pattern is applied with fullmatch: with match, "$" also matches before a final "\n".
_TAG = re.compile(TAG_PATTERN)
_CONTENT_TYPE = re.compile(CONTENT_TYPE_PATTERN)
_ID = re.compile(ID_PATTERN)
_NAME = re.compile(NAME_CODE_POINTS_PATTERN)
_IF_MATCH = re.compile(IF_MATCH_PATTERN)
_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)
_SEARCH_TEXT = re.compile(SEARCH_TEXT_PATTERN)
# ASCII digits only: str.isdigit() also accepts "²", which int() then refuses.
_WHOLE_NUMBER = re.compile(r"[0-9]{1,9}")


def is_id(value: Any) -> bool:
    """Whether `value` is an id as the contract defines one (documents and users alike)."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def valid_id(value: Any, what: str) -> str:
    if not is_id(value):
        raise InvalidInput(f"{what} is not a valid id")
    return str(value)


def valid_tags(tags: Any) -> list[str]:
    # Each item is checked before set(): an unhashable item ({} or []) would make set() raise.
    if not isinstance(tags, list) or len(tags) > MAX_TAGS:
        raise InvalidInput(f"tags must be a list of at most {MAX_TAGS} distinct tags")
    if not all(isinstance(t, str) and _TAG.fullmatch(t) for t in tags):
        raise InvalidInput("a tag is 1-32 lowercase letters, digits or hyphens")
    if len(set(tags)) != len(tags):
        raise InvalidInput(f"tags must be a list of at most {MAX_TAGS} distinct tags")
    return list(tags)


def valid_name(name: Any) -> str:
    if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH or not _NAME.fullmatch(name):
        raise InvalidInput(f"name must be {NAME_RULE}")
    return name


def valid_content_type(content_type: Any) -> str:
    if (
        not isinstance(content_type, str)
        or len(content_type) > MAX_CONTENT_TYPE_LENGTH
        or not _CONTENT_TYPE.fullmatch(content_type)
    ):
        raise InvalidInput("contentType must be a MIME type such as application/pdf")
    return content_type


def expected_version(if_match: str) -> int:
    """The version an If-Match names: the ETag as a read returned it ("7") or bare (7)."""
    if not _IF_MATCH.fullmatch(if_match):
        raise InvalidInput('If-Match must be the document version, as the ETag returned it (e.g. "3")')
    return int(if_match.strip('"'))


def valid_idempotency_key(key: str) -> str:
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise InvalidInput("Idempotency-Key must be 1-128 visible ASCII characters")
    return key


def valid_limit(limit: Any) -> int:
    """?limit= as a page size: DEFAULT_LIMIT when absent."""
    if limit is None:
        return DEFAULT_LIMIT
    if not _WHOLE_NUMBER.fullmatch(str(limit)) or not 1 <= int(limit) <= MAX_LIMIT:
        raise InvalidInput(f"limit must be a whole number from 1 to {MAX_LIMIT}")
    return int(limit)


def document_id(value: Any) -> str:
    """A document id from the path."""
    return valid_id(value, "the document id")


class CreateDocument(NamedTuple):
    """POST /documents: what a new document will be."""

    name: str
    content_type: str
    size: int
    tags: tuple[str, ...]

    @classmethod
    def parse(cls, body: Any, *, max_upload_bytes: int) -> CreateDocument:
        if not isinstance(body, dict) or set(body) - {"name", "contentType", "size", "tags"}:
            raise InvalidInput("the body has unknown fields")
        name = valid_name(body.get("name"))
        content_type = valid_content_type(body.get("contentType"))
        size = body.get("size")
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise InvalidInput("size must be a positive number of bytes")
        if size > max_upload_bytes:
            raise PayloadTooLarge(f"a document may be at most {max_upload_bytes} bytes")
        return cls(name, content_type, size, tuple(valid_tags(body.get("tags", []))))


class UpdateDocument(NamedTuple):
    """PATCH /documents/{id}: a rename and/or a retag of the version the caller read."""

    doc_id: str
    expected_version: int
    name: str | None
    tags: tuple[str, ...] | None

    @classmethod
    def parse(cls, doc_id: Any, if_match: str | None, body: Any) -> UpdateDocument:
        if if_match is None:
            raise PreconditionRequired("send If-Match with the version you read")
        expected = expected_version(if_match)
        if not isinstance(body, dict) or not body or set(body) - {"name", "tags"}:
            raise InvalidInput("send a name, tags, or both")
        name = valid_name(body["name"]) if "name" in body else None
        tags = tuple(valid_tags(body["tags"])) if "tags" in body else None
        return cls(document_id(doc_id), expected, name, tags)


class ListQuery(NamedTuple):
    """GET /documents: at most one filter, a page size and where to continue."""

    tag: str | None
    doc_type: str | None
    limit: int
    cursor: str | None

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> ListQuery:
        tag, doc_type = query.get("tag"), query.get("type")
        if tag is not None and doc_type is not None:
            raise InvalidInput("filter by tag or by type, not both")
        if tag is not None:
            valid_tags([tag])
        if doc_type is not None:
            valid_tags([doc_type])
        return cls(tag, doc_type, valid_limit(query.get("limit")), query.get("cursor"))


class PageQuery(NamedTuple):
    """GET /trash, /shared: a page size and where to continue."""

    limit: int
    cursor: str | None

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> PageQuery:
        return cls(valid_limit(query.get("limit")), query.get("cursor"))


class DeleteDocument(NamedTuple):
    """DELETE /documents/{id}: to the trash, or (purge) for good."""

    doc_id: str
    purge: bool

    @classmethod
    def parse(cls, doc_id: Any, purge: Any) -> DeleteDocument:
        valid = document_id(doc_id)
        if purge not in (None, "true", "false"):
            raise InvalidInput("purge must be true or false")
        return cls(valid, purge == "true")


class ShareRequest(NamedTuple):
    """PUT or DELETE /documents/{id}/shares/{userId}: which document, with whom."""

    doc_id: str
    grantee: str

    @classmethod
    def to_share(cls, owner: str, doc_id: Any, grantee: Any) -> ShareRequest:
        valid_grantee = valid_id(grantee, "the user id")
        if valid_grantee == owner:
            raise InvalidInput("you cannot share a document with yourself")
        return cls(document_id(doc_id), valid_grantee)

    @classmethod
    def to_unshare(cls, doc_id: Any, grantee: Any) -> ShareRequest:
        return cls(document_id(doc_id), valid_id(grantee, "the user id"))


class SearchQuery(NamedTuple):
    """GET /search: the text to find (None: everything in scope), whose documents, a page size
    and where to continue. The text is only ever a full-text query's input (folio.search)."""

    text: str | None
    scope: str
    limit: int
    cursor: str | None

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> SearchQuery:
        text = query.get("q")
        # A lone surrogate is refused as in names (not UTF-8; the published pattern cannot say so).
        if text is not None and (
            len(text) > MAX_SEARCH_TEXT_LENGTH
            or not _SEARCH_TEXT.fullmatch(text)
            or any("\ud800" <= c <= "\udfff" for c in text)
        ):
            raise InvalidInput(
                f"q must be 1-{MAX_SEARCH_TEXT_LENGTH} characters without control characters, not only spaces"
            )
        scope = query.get("scope", DEFAULT_SEARCH_SCOPE)
        if scope not in SEARCH_SCOPES:
            raise InvalidInput(f"scope must be one of {', '.join(SEARCH_SCOPES)}")
        return cls(text, scope, valid_limit(query.get("limit")), query.get("cursor"))

    def cursor_binding(self) -> str:
        """What a cursor of this search is bound to (with the caller): the same scope and text.
        The text as a digest: 200 characters that JSON escapes to 12 bytes each would make the
        cursor longer than MAX_CURSOR_LENGTH, which decoding refuses."""
        text = "-" if self.text is None else hashlib.sha256(self.text.encode()).hexdigest()
        return f"search|{self.scope}|{text}"
