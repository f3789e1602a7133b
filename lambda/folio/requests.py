"""The edge's parsers: raw path, query, header and body values in, validated values out.

Every rule comes from folio.contracts, compiled here once; every refusal is InvalidInput
(400) with a message the integration tests pin (tests/integration/test_hostile_input.py).
"""

from __future__ import annotations

import re
from typing import Any

from folio.contracts import (
    CONTENT_TYPE_PATTERN,
    DEFAULT_LIMIT,
    ID_PATTERN,
    IDEMPOTENCY_KEY_PATTERN,
    IF_MATCH_PATTERN,
    MAX_CONTENT_TYPE_LENGTH,
    MAX_LIMIT,
    MAX_NAME_LENGTH,
    MAX_TAGS,
    NAME_CODE_POINTS_PATTERN,
    NAME_RULE,
    TAG_PATTERN,
)
from folio.errors import InvalidInput

# Every pattern is applied with fullmatch: with match, "$" also matches before a final "\n".
_TAG = re.compile(TAG_PATTERN)
_CONTENT_TYPE = re.compile(CONTENT_TYPE_PATTERN)
_ID = re.compile(ID_PATTERN)
_NAME = re.compile(NAME_CODE_POINTS_PATTERN)
_IF_MATCH = re.compile(IF_MATCH_PATTERN)
_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)
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
