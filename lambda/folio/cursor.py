"""Opaque pagination cursors, bound to the caller and the query, tamper-evident.

A cursor is base64url(JSON {key, caller, query}) + "." + base64url(HMAC-SHA256). Decoding
checks the MAC, then that the cursor was issued to this caller for this query; anything
else is `InvalidCursor` (HTTP 400). The read adapter additionally checks that the key lies
in the caller's own partition, so even a leaked secret cannot read another user's data.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from folio.contracts import MAX_CURSOR_LENGTH
from folio.errors import InvalidCursor


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(key: dict[str, Any], *, caller: str, query: str, secret: bytes) -> str:
    body = json.dumps({"k": key, "c": caller, "q": query}, separators=(",", ":"), sort_keys=True).encode()
    mac = hmac.new(secret, body, hashlib.sha256).digest()
    return f"{_b64(body)}.{_b64(mac)}"


def decode(cursor: str, *, caller: str, query: str, secret: bytes) -> dict[str, Any]:
    if not isinstance(cursor, str) or len(cursor) > MAX_CURSOR_LENGTH or cursor.count(".") != 1:
        raise InvalidCursor("the cursor is not one this API issued")
    body_text, mac_text = cursor.split(".")
    try:
        body = _unb64(body_text)
        mac = _unb64(mac_text)
    except (binascii.Error, ValueError) as error:
        raise InvalidCursor("the cursor is not one this API issued") from error
    if not hmac.compare_digest(mac, hmac.new(secret, body, hashlib.sha256).digest()):
        raise InvalidCursor("the cursor is not one this API issued")
    payload = json.loads(body)
    if payload.get("c") != caller or payload.get("q") != query or not isinstance(payload.get("k"), dict):
        raise InvalidCursor("the cursor belongs to another query or caller")
    key: dict[str, Any] = payload["k"]
    return key
