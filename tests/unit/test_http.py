"""folio/handlers/http.py's pieces that need no request: what counts as a control character."""

from __future__ import annotations

import unicodedata

from folio.handlers import http


def test_the_control_character_class_is_exactly_unicodes_control_category() -> None:
    # http.CONTROL_CHARACTER stands for unicodedata's Cc so that handlers need not import it.
    for code_point in range(0x110000):
        character = chr(code_point)
        is_control = unicodedata.category(character) == "Cc"
        assert (http.CONTROL_CHARACTER.search(character) is not None) == is_control, hex(code_point)
