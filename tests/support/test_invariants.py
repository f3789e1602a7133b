"""The partition invariants (tests/support/invariants.py) hold for a consistent partition and
name each kind of drift."""

from __future__ import annotations

from typing import Any

import pytest

from folio import keys
from folio.domain import AVAILABLE, LISTING, SHARED_WITH, TRASHED
from tests.support.invariants import objects_without_documents, violations

OWNER, GRANTEE = "owner-1", "grantee-1"


def consistent() -> list[dict[str, Any]]:
    document = {
        "docId": "d1", "owner": OWNER, "name": "a.pdf", "contentType": "application/pdf", "docType": "pdf",
        "size": 3, "status": AVAILABLE, "tags": ["x"], "version": 2, "createdAt": "t0", "updatedAt": "t1",
    }  # fmt: skip
    listing = {k: document[k] for k in LISTING}
    return [
        {keys.SORT_KEY: keys.document_sort_key("d1"), **document, SHARED_WITH: {GRANTEE}},
        {keys.SORT_KEY: keys.tag_link_sort_key("x", "d1"), **listing},
        {keys.SORT_KEY: keys.share_sort_key("d1", GRANTEE), keys.GSI1_PARTITION_KEY: "g", "grantee": GRANTEE,
         **listing},
        {keys.SORT_KEY: keys.profile_sort_key(), "documentCount": 1, "byteCount": 3},
    ]  # fmt: skip


def test_a_consistent_partition_has_no_violations() -> None:
    assert violations(consistent()) == []


def changed(index: int, **attributes: Any) -> list[dict[str, Any]]:
    items = consistent()
    items[index] = {**items[index], **attributes}
    return items


@pytest.mark.parametrize(
    ("items", "words"),
    [
        (changed(0, tags=["y"]), "has tag 'y' but no link"),
        (changed(1, version=1), "link TAG#x#DOC#d1 copies"),
        (changed(1, **{keys.SORT_KEY: keys.tag_link_sort_key("old", "d1")}), "names no tag"),
        (changed(2, name="old.pdf"), "share SHARE#d1#grantee-1 copies"),
        (changed(0, **{SHARED_WITH: {GRANTEE, "g2"}}), "shared with g2 but has no share item"),
        (changed(0, **{SHARED_WITH: set()}), "has no document shared with its grantee"),
        (changed(0, status=TRASHED), "copies"),
        (changed(3, byteCount=4), "usage counts (1, 4)"),
        (consistent()[1:], "names no tag"),
    ],
    ids=["missing-link", "stale-link", "orphan-link", "stale-share", "missing-share", "orphan-share",
         "status-drift", "usage", "no-document"],
)  # fmt: skip
def test_each_kind_of_drift_is_named(items: list[dict[str, Any]], words: str) -> None:
    assert any(words in found for found in violations(items)), violations(items)


def test_a_share_listed_for_its_grantee_while_the_document_is_trashed_is_a_violation() -> None:
    items = consistent()
    for item in items[:3]:
        item["status"] = TRASHED

    assert any("listed for its grantee while TRASHED" in found for found in violations(items))


# -- the bucket ----------------------------------------------------------------------------------

PREFIX = "documents/"


def test_an_object_with_its_document_is_no_violation() -> None:
    assert objects_without_documents([f"{PREFIX}{OWNER}/d1"], {(OWNER, "d1")}, PREFIX) == []


@pytest.mark.parametrize(
    "key",
    [
        f"{PREFIX}{OWNER}/d2",  # a document that is gone (or never was)
        f"{PREFIX}{GRANTEE}/d1",  # the same id under another owner
        f"{PREFIX}{OWNER}/d1/extra",  # not a key the API builds
        f"{PREFIX}{OWNER}",
        f"elsewhere/{OWNER}/d1",  # outside the documents prefix: not the worker's, but still no document
    ],
)
def test_an_object_without_its_document_is_named(key: str) -> None:
    assert objects_without_documents([key], {(OWNER, "d1")}, PREFIX) == [f"object {key} has no document"]
