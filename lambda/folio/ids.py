"""Time-ordered document ids (ULID format): newest-first order comes free from the sort key."""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U


def new_id(now_ms: int | None = None) -> str:
    """26 characters: 48 bits of milliseconds, then 80 random bits; sorts by creation time."""
    millis = int(time.time() * 1000) if now_ms is None else now_ms
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(_ALPHABET[(value >> shift) & 31] for shift in range(125, -1, -5))
