"""docs/openapi.json is generated from the code and kept in step with it."""

from __future__ import annotations

import json
import re
from typing import Any

from openapi_spec_validator import validate

from folio import openapi
from folio.contracts import ROUTES
from tests.conftest import PROJECT_ROOT

CHECKED_IN = PROJECT_ROOT / "docs" / "openapi.json"


def test_checked_in_openapi_matches_the_code() -> None:
    assert CHECKED_IN.read_text() == openapi.render(), "run `make openapi` and commit docs/openapi.json"


def test_openapi_is_a_valid_openapi_3_document() -> None:
    validate(json.loads(openapi.render()))


def test_every_route_is_documented_with_auth_and_an_error_schema() -> None:
    document = openapi.build()

    for route in ROUTES:
        operation = document["paths"][route.path][route.method.lower()]
        assert operation["security"] == [{"cognito": []}]
        assert str(route.success) in operation["responses"]
        assert operation["responses"]["401"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"
        }


def operation(path: str, method: str) -> dict[str, Any]:
    result: dict[str, Any] = openapi.build()["paths"][path][method]
    return result


def header(path: str, method: str, name: str) -> dict[str, Any]:
    (found,) = [p for p in operation(path, method)["parameters"] if p["in"] == "header" and p["name"] == name]
    return found


def test_if_match_is_published_as_required_and_as_a_version() -> None:
    # The gateway's model keeps it optional; the handler answers 428 without it, 400 for a non-version.
    if_match = header("/documents/{id}", "patch", "If-Match")

    assert if_match["required"] is True
    assert re.fullmatch(if_match["schema"]["pattern"], '"12"')
    assert re.fullmatch(if_match["schema"]["pattern"], "12")
    for not_a_version in ("", "abc", '"1', 'W/"1"', "1.5", "²"):
        assert not re.fullmatch(if_match["schema"]["pattern"], not_a_version), not_a_version


def test_an_empty_idempotency_key_is_outside_the_published_schema() -> None:
    key = header("/documents", "post", "Idempotency-Key")

    assert not re.fullmatch(key["schema"]["pattern"], "")
    assert re.fullmatch(key["schema"]["pattern"], "x" * 128)
    assert not re.fullmatch(key["schema"]["pattern"], "x" * 129)


def test_tag_and_type_say_that_they_exclude_each_other() -> None:
    listing = operation("/documents", "get")
    filters = {p["name"]: p for p in listing["parameters"] if p["name"] in ("tag", "type")}

    assert "exclude each other" in listing["description"]
    assert all("exclude each other" in p["description"] for p in filters.values())


def test_statuses_the_handlers_never_or_always_give_are_published_as_such() -> None:
    # download never answers 409 (a non-available document is a 404); a lost transaction
    # race on PATCH or on share deletion is a 409 (tests/integration/test_contract_statuses.py).
    assert "409" not in operation("/documents/{id}/download", "get")["responses"]
    assert "409" in operation("/documents/{id}", "patch")["responses"]
    assert "409" in operation("/documents/{id}/shares/{userId}", "delete")["responses"]
    for path, method in (("/documents", "post"), ("/documents/{id}", "patch")):
        assert "415" in operation(path, method)["responses"]
