"""docs/openapi.json is generated from the code and kept in step with it."""

from __future__ import annotations

import json

from openapi_spec_validator import validate

from folio import openapi
from folio.contracts import MAX_SHARES, MAX_TAGS, ROUTES
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


def test_a_purge_of_the_largest_document_fits_one_transaction() -> None:
    # document + usage update + every tag link + every share, in one TransactWriteItems
    assert 2 + MAX_TAGS + MAX_SHARES <= 100
