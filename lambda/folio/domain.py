"""The domain's own words: a document's statuses and type, the clock, how long things live,
and the public view of a document. No AWS here: the ports, the adapters and the service all
speak these words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

PENDING, AVAILABLE, TRASHED = "PENDING", "AVAILABLE", "TRASHED"
STATUSES = (PENDING, AVAILABLE, TRASHED)
# Who a document is shared with: a set on the document (at most contracts.MAX_SHARES), kept by
# put_share/delete_share, so changes can update every share and a purge delete them without a
# Query. Never listed or returned.
SHARED_WITH = "sharedWith"
# What a listing shows of a document; tag links and shares carry a copy of these.
LISTING = (
    "docId", "owner", "name", "contentType", "docType", "size", "status", "tags", "version", "createdAt", "updatedAt",
)  # fmt: skip

# A PENDING document whose upload never arrives expires after a day.
PENDING_UPLOAD_TTL = timedelta(days=1)
# A trashed document is purged by expiry after 30 days.
TRASH_TTL = timedelta(days=30)
# How long a quota-release marker outlives the release: longer than any stream record can be
# re-delivered (24 h of stream retention) or replayed from the lifecycle worker's on-failure queue
# (14 days), so a replay always finds it.
QUOTA_RELEASE_MARKER_TTL = timedelta(days=15)


def now_iso() -> str:
    """Now, in UTC, to the millisecond: "2026-11-22T09:30:00.123Z" (sorts as it reads)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def epoch_after(delta: timedelta) -> int:
    """Seconds since the epoch, `delta` from now: an expiry time as DynamoDB's TTL reads it."""
    return int((datetime.now(UTC) + delta).timestamp())


def doc_type_of(content_type: str) -> str:
    """A coarse type for AP5 ("my PDFs", "my images"), derived from the content type."""
    top, _, sub = content_type.partition("/")
    if top in ("image", "video", "audio", "text"):
        return top
    return sub if sub in ("pdf", "zip", "json") else "other"


def awaiting_upload(document: dict[str, Any]) -> bool:
    """Whether the document's upload is still to be settled: PENDING, or trashed while PENDING."""
    return document["status"] == PENDING or (
        document["status"] == TRASHED and document.get("statusBeforeTrash") == PENDING
    )


class Page(NamedTuple):
    """One page of a listing, newest first; `last_key` continues it (None: the last page)."""

    items: list[dict[str, Any]]
    last_key: dict[str, Any] | None


class SearchPage(NamedTuple):
    """One page of search hits, most recently updated first; `after` continues it (None: the last)."""

    items: list[dict[str, Any]]
    after: list[Any] | None


def public(item: dict[str, Any]) -> dict[str, Any]:
    """The API's view of a document: no keys, no internal attributes."""
    view = {
        "id": item["docId"],
        "name": item["name"],
        "contentType": item["contentType"],
        "size": int(item["size"]),
        "status": item["status"],
        "tags": list(item.get("tags", [])),
        "version": int(item["version"]),
        "createdAt": item["createdAt"],
        "updatedAt": item["updatedAt"],
    }
    if "owner" in item:
        view["owner"] = item["owner"]
    return view
