"""The stateful fuzz test's oracle (tests/support/visibility.py) refuses every leak it names."""

from __future__ import annotations

import pytest

from tests.support.visibility import Visibility

SUBS = {"owner": "sub-owner", "other": "sub-other"}
CREATED = {"document": {"id": "d1"}}


def with_a_document() -> Visibility:
    model = Visibility()
    model.observe("owner", "POST", "/documents", {}, {}, 201, CREATED, user_ids=SUBS)
    return model


def see(model: Visibility, user: str, method: str, path: str, status: int, **query: str) -> None:
    parameters = {"id": "d1", "userId": SUBS["other"]} if "{userId}" in path else {"id": "d1"}
    model.observe(user, method, path, parameters, query, status, {}, user_ids=SUBS)


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/documents/{id}"), ("PATCH", "/documents/{id}"), ("DELETE", "/documents/{id}"),
     ("GET", "/documents/{id}/download"), ("PUT", "/documents/{id}/shares/{userId}")],
)  # fmt: skip
def test_another_user_may_get_no_2xx_about_the_owners_document(method: str, path: str) -> None:
    model = with_a_document()

    with pytest.raises(AssertionError, match="on owner's document"):
        see(model, "other", method, path, 200)


def test_another_user_may_be_refused() -> None:
    model = with_a_document()

    see(model, "other", "GET", "/documents/{id}", 404)


def test_a_grantee_may_download_until_unshared_and_nothing_else() -> None:
    model = with_a_document()
    see(model, "owner", "PUT", "/documents/{id}/shares/{userId}", 200)

    see(model, "other", "GET", "/documents/{id}/download", 200)
    with pytest.raises(AssertionError):
        see(model, "other", "GET", "/documents/{id}", 200)

    see(model, "owner", "DELETE", "/documents/{id}/shares/{userId}", 204)
    with pytest.raises(AssertionError, match="granted: False"):
        see(model, "other", "GET", "/documents/{id}/download", 200)


def test_nobody_gets_a_2xx_about_a_purged_document() -> None:
    model = with_a_document()
    see(model, "owner", "DELETE", "/documents/{id}", 204)  # to the trash: still there
    see(model, "owner", "GET", "/documents/{id}", 200)
    see(model, "owner", "DELETE", "/documents/{id}", 204, purge="true")

    with pytest.raises(AssertionError, match="purged"):
        see(model, "owner", "POST", "/documents/{id}/restore", 200)
