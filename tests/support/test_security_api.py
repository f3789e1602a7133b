"""The security-plugin stand-in answers as the plugin does (status codes and body shapes)."""

from __future__ import annotations

from tests.support.security_api import API, RecordedSecurityApi

ROLE = f"{API}/roles/r"


def test_get_put_put_delete_delete_answer_like_the_plugin() -> None:
    api = RecordedSecurityApi()

    assert api.request("GET", ROLE) == (404, {"status": "NOT_FOUND", "message": "Resource 'r' not found."})
    assert (
        api.request("PUT", ROLE, {"index_permissions": [{"index_patterns": ["i"], "allowed_actions": ["read"]}]})[0]
        == 201
    )
    assert api.request("PUT", ROLE, {"cluster_permissions": []})[0] == 200
    status, body = api.request("GET", ROLE)
    assert status == 200 and set(body["r"]) >= {"reserved", "hidden", "static", "cluster_permissions"}
    assert api.request("DELETE", ROLE)[0] == 200
    assert api.request("DELETE", ROLE)[0] == 404
    assert [method for method, _ in api.calls] == ["GET", "PUT", "PUT", "GET", "DELETE", "DELETE"]


def test_a_stored_mapping_carries_the_fields_the_plugin_adds() -> None:
    api = RecordedSecurityApi()
    api.request("PUT", f"{API}/rolesmapping/r", {"backend_roles": ["arn:aws:iam::1:role/x"]})

    _, body = api.request("GET", f"{API}/rolesmapping/r")

    assert body["r"] == {
        "reserved": False,
        "hidden": False,
        "hosts": [],
        "users": [],
        "and_backend_roles": [],
        "backend_roles": ["arn:aws:iam::1:role/x"],
    }
