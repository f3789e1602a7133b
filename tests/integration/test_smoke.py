"""Smoke: the engines start and a document round-trips through the real handlers."""

from __future__ import annotations

from tests.integration.conftest import Api, new_user


def test_create_then_get(api: Api) -> None:
    owner = new_user()

    created = api.call(
        "create", "POST", "/documents", sub=owner, body={"name": "a.pdf", "contentType": "application/pdf", "size": 10}
    )
    got = api.call("read", "GET", f"/documents/{created.body['document']['id']}", sub=owner)

    assert created.status == 201, created.body
    assert got.status == 200, got.body
    assert got.body["status"] == "PENDING"
