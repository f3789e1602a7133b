"""The API's promises through the real handlers: errors, cursors, idempotency, isolation, races."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import pytest

from folio.contracts import MAX_SHARES, MAX_TAGS, ROUTES
from folio.errors import Conflict
from tests.integration.conftest import ADMINS, Api, Engines, SearchFeed, new_user


def create(api: Api, owner: str, **body: Any) -> dict[str, Any]:
    payload = {"name": "a.pdf", "contentType": "application/pdf", "size": 10, **body}
    reply = api.call("create", "POST", "/documents", sub=owner, body=payload)
    assert reply.status == 201, reply.body
    document: dict[str, Any] = reply.body["document"]
    return document


def available(api: Api, engines: Engines, owner: str, **body: Any) -> dict[str, Any]:
    """A document that finished uploading (the worker's transition, without S3)."""
    from folio.handlers import wiring

    document = create(api, owner, **body)
    wiring.writes().mark_available(wiring.reads().get_document(owner, document["id"]))
    return document


# -- errors -------------------------------------------------------------------------------


def test_no_claims_is_401_with_a_json_error(api: Api) -> None:
    reply = api.call("read", "GET", "/documents", sub=None)

    assert reply.status == 401
    assert reply.body["error"]["code"] == "unauthorized"
    assert set(reply.body["error"]) == {"code", "message", "requestId"}


@pytest.mark.parametrize(
    ("body", "raw", "status", "code"),
    [
        (None, "{not json", 400, "invalid_input"),
        ({"name": "a", "contentType": "application/pdf", "size": 1, "owner": "x"}, None, 400, "invalid_input"),
        ({"name": "a/b", "contentType": "application/pdf", "size": 1}, None, 400, "invalid_input"),
        ({"name": "a", "contentType": "pdf", "size": 1}, None, 400, "invalid_input"),
        ({"name": "a", "contentType": "application/pdf", "size": 0}, None, 400, "invalid_input"),
        ({"name": "a", "contentType": "application/pdf", "size": 1, "tags": ["Bad Tag"]}, None, 400, "invalid_input"),
        ({"name": "a", "contentType": "application/pdf", "size": 11 * 1024 * 1024}, None, 413, "too_large"),
    ],
)
def test_bad_create_requests_get_the_right_status(api: Api, body: Any, raw: str | None, status: int, code: str) -> None:
    reply = api.call("create", "POST", "/documents", sub=new_user(), body=body, raw_body=raw)

    assert (reply.status, reply.body["error"]["code"]) == (status, code)


def test_quota_exceeded_is_422(api: Api) -> None:
    owner = new_user()
    for _ in range(25):  # QUOTA_DOCUMENTS in the test environment
        create(api, owner)

    reply = api.call(
        "create", "POST", "/documents", sub=owner, body={"name": "x", "contentType": "text/plain", "size": 1}
    )

    assert (reply.status, reply.body["error"]["code"]) == (422, "quota_exceeded")


def test_patch_needs_if_match_and_the_current_version(api: Api) -> None:
    owner = new_user()
    document = create(api, owner)
    path = f"/documents/{document['id']}"

    missing = api.call("modify", "PATCH", path, sub=owner, body={"name": "b.pdf"})
    stale = api.call("modify", "PATCH", path, sub=owner, body={"name": "b.pdf"}, headers={"If-Match": '"7"'})
    fresh = api.call("modify", "PATCH", path, sub=owner, body={"name": "b.pdf"}, headers={"If-Match": '"1"'})

    assert (missing.status, missing.body["error"]["code"]) == (428, "if_match_required")
    assert (stale.status, stale.body["error"]["code"]) == (412, "version_mismatch")
    assert fresh.status == 200 and fresh.body["name"] == "b.pdf" and fresh.headers["ETag"] == '"2"'


def test_restore_of_a_document_not_in_the_trash_is_409(api: Api) -> None:
    owner = new_user()
    document = create(api, owner)

    reply = api.call("modify", "POST", f"/documents/{document['id']}/restore", sub=owner)

    assert (reply.status, reply.body["error"]["code"]) == (409, "conflict")


def test_trash_restore_purge_through_the_api(api: Api) -> None:
    owner = new_user()
    document = create(api, owner)
    path = f"/documents/{document['id']}"

    assert api.call("modify", "DELETE", path, sub=owner).status == 204
    assert [d["id"] for d in api.call("read", "GET", "/trash", sub=owner).body["items"]] == [document["id"]]
    assert api.call("modify", "POST", f"{path}/restore", sub=owner).status == 200
    assert api.call("modify", "DELETE", path, sub=owner, query={"purge": "true"}).status == 204
    assert api.call("read", "GET", path, sub=owner).status == 404
    assert api.call("read", "GET", "/me/usage", sub=owner).body["documents"] == 0


def test_errors_never_leak_internals(api: Api) -> None:
    reply = api.call("read", "GET", "/documents/has%20space", sub=new_user())
    text = json.dumps(reply.body)

    assert reply.status in (400, 404)
    for secret in ("folio-documents", "USER#", "DOC#", "Traceback", "botocore"):
        assert secret not in text


# -- cursors ------------------------------------------------------------------------------


def test_paging_with_cursors_and_refusing_foreign_or_tampered_ones(api: Api) -> None:
    owner, other = new_user(), new_user()
    ids = [create(api, owner)["id"] for _ in range(5)]
    create(api, other)

    seen, token = [], None
    while True:
        query = {"limit": "2", **({"cursor": token} if token else {})}
        page = api.call("read", "GET", "/documents", sub=owner, query=query)
        seen += [d["id"] for d in page.body["items"]]
        token = page.body.get("cursor")
        if not token:
            break
    first = api.call("read", "GET", "/documents", sub=owner, query={"limit": "2"}).body["cursor"]
    body, mac = first.split(".")
    tampered = ("A" if body[0] != "A" else "B") + body[1:] + "." + mac

    assert seen == sorted(ids, reverse=True)
    for bad, who, query in (
        (first, other, {}),  # another user's cursor
        (tampered, owner, {}),  # a changed cursor
        (first, owner, {"tag": "x"}),  # a cursor from another query
        ("garbage", owner, {}),
    ):
        reply = api.call("read", "GET", "/documents", sub=who, query={"cursor": bad, **query})
        assert (reply.status, reply.body["error"]["code"]) == (400, "invalid_cursor")


# -- idempotency --------------------------------------------------------------------------


def test_same_idempotency_key_and_payload_gives_the_same_response_and_one_document(api: Api) -> None:
    owner, key = new_user(), uuid.uuid4().hex
    body = {"name": "once.pdf", "contentType": "application/pdf", "size": 5}

    first = api.call("create", "POST", "/documents", sub=owner, body=body, headers={"Idempotency-Key": key})
    again = api.call("create", "POST", "/documents", sub=owner, body=body, headers={"Idempotency-Key": key})
    changed = api.call(
        "create", "POST", "/documents", sub=owner, body={**body, "size": 6}, headers={"Idempotency-Key": key}
    )
    someone_else = api.call("create", "POST", "/documents", sub=new_user(), body=body, headers={"Idempotency-Key": key})

    assert first.status == again.status == 201
    assert first.body["document"] == again.body["document"]
    assert api.call("read", "GET", "/me/usage", sub=owner).body["documents"] == 1
    assert (changed.status, changed.body["error"]["code"]) == (422, "idempotency_key_reused")
    assert someone_else.status == 201 and someone_else.body["document"]["id"] != first.body["document"]["id"]


# -- concurrency --------------------------------------------------------------------------


def race(api: Api, owner: str, document_id: str, version: int, names: tuple[str, str]) -> list[int]:
    """Two PATCHes with the same If-Match, released at the same instant; their statuses."""
    statuses: list[int] = []
    barrier = threading.Barrier(len(names))

    def patch(name: str) -> None:
        barrier.wait()
        reply = api.call(
            "modify", "PATCH", f"/documents/{document_id}", sub=owner,
            body={"name": name}, headers={"If-Match": f'"{version}"'},
        )  # fmt: skip
        statuses.append(reply.status)

    threads = [threading.Thread(target=patch, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(statuses)


def test_two_conflicting_patches_exactly_one_wins_in_50_trials(api: Api) -> None:
    owner = new_user()
    document = create(api, owner)
    outcomes = []
    for trial in range(50):
        version = api.call("read", "GET", f"/documents/{document['id']}", sub=owner).body["version"]
        outcomes.append(race(api, owner, document["id"], version, (f"left-{trial}.pdf", f"right-{trial}.pdf")))

    assert outcomes == [[200, 412]] * 50
    assert api.call("read", "GET", f"/documents/{document['id']}", sub=owner).body["version"] == 51


# -- isolation ----------------------------------------------------------------------------

ROLES = ("owner", "other", "grantee", "admin", "anonymous")
# status per role, in ROLES order, for each route
EXPECTED: dict[tuple[str, str], tuple[int, ...]] = {
    ("POST", "/documents"): (201, 201, 201, 201, 401),
    ("GET", "/documents"): (200, 200, 200, 200, 401),
    ("GET", "/documents/{id}"): (200, 404, 404, 404, 401),
    ("PATCH", "/documents/{id}"): (200, 404, 404, 404, 401),
    ("DELETE", "/documents/{id}"): (204, 404, 404, 404, 401),
    ("POST", "/documents/{id}/restore"): (409, 404, 404, 404, 401),
    ("GET", "/documents/{id}/download"): (200, 404, 200, 404, 401),
    ("PUT", "/documents/{id}/shares/{userId}"): (200, 404, 404, 404, 401),
    ("DELETE", "/documents/{id}/shares/{userId}"): (204, 404, 404, 404, 401),
    ("GET", "/trash"): (200, 200, 200, 200, 401),
    ("GET", "/shared"): (200, 200, 200, 200, 401),
    ("GET", "/me/usage"): (200, 200, 200, 200, 401),
    ("GET", "/admin/recent"): (403, 403, 403, 200, 401),
    ("GET", "/search"): (200, 200, 200, 200, 401),
}
GROUP = {(r.method, r.path): r.group.value for r in ROUTES}


def test_the_matrix_covers_every_route() -> None:
    assert set(EXPECTED) == {(r.method, r.path) for r in ROUTES}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", sorted(EXPECTED), ids=lambda r: f"{r[0]} {r[1]}")
def test_isolation(
    api: Api, engines: Engines, search_feed: SearchFeed, route: tuple[str, str], role: str, read_path: str
) -> None:
    # read_path "dax": the hot reads go through the DAX client, where only the code isolates.
    owner, grantee, other, admin, third = (new_user() for _ in range(5))
    document = available(api, engines, owner)
    api.call("modify", "PUT", f"/documents/{document['id']}/shares/{grantee}", sub=owner)
    callers = {
        "owner": (owner, ()),
        "other": (other, ()),
        "grantee": (grantee, ()),
        "admin": (admin, (ADMINS,)),
        "anonymous": (None, ()),
    }
    sub, groups = callers[role]
    method, template = route
    path = template.replace("{id}", document["id"]).replace("{userId}", third)
    extra: dict[str, Any] = {}
    if method == "POST" and template == "/documents":
        extra["body"] = {"name": "n.pdf", "contentType": "application/pdf", "size": 3}
    if method == "PATCH":
        extra.update(body={"name": "renamed.pdf"}, headers={"If-Match": f'"{document["version"] + 1}"'})
    if template == "/search":  # what the pipeline would have indexed by now; every scope at once
        search_feed.catch_up()
        extra["query"] = {"scope": "all"}

    reply = api.call(GROUP[route], method, path, sub=sub, groups=groups, **extra)

    assert reply.status == EXPECTED[route][ROLES.index(role)], reply.body
    sees_everyone_by_design = role == "admin" and template == "/admin/recent"
    if role not in ("owner", "grantee") and not sees_everyone_by_design and reply.status < 300 and reply.body:
        assert document["id"] not in json.dumps(reply.body), "a non-owner saw the owner's document"
    if (role in ("owner", "grantee") and template == "/search") or (role == "grantee" and template == "/shared"):
        assert [d["id"] for d in reply.body["items"]] == [document["id"]]


@pytest.mark.parametrize("limit", ["²", "٣", "0", "101", "1e2", "9" * 5000])
def test_a_limit_that_is_not_a_plain_number_in_range_is_400(api: Api, limit: str) -> None:
    reply = api.call("read", "GET", "/documents", sub=new_user(), query={"limit": limit})

    assert (reply.status, reply.body["error"]["code"]) == (400, "invalid_input")


@pytest.mark.parametrize("version", ['"²"', "٣", "9" * 5000])
def test_an_if_match_that_is_not_a_plain_number_is_400(api: Api, version: str) -> None:
    owner = new_user()
    document = create(api, owner)

    reply = api.call(
        "modify", "PATCH", f"/documents/{document['id']}", sub=owner, body={"name": "b"}, headers={"If-Match": version}
    )

    assert (reply.status, reply.body["error"]["code"]) == (400, "invalid_input")


def test_throttling_is_a_429_with_a_json_error(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from folio.errors import Throttled
    from folio.handlers import wiring

    def refuse(*_: Any, **__: Any) -> Any:
        raise Throttled("too many requests right now; try again shortly")

    monkeypatch.setattr(wiring.reads(), "usage", refuse)
    reply = api.call("read", "GET", "/me/usage", sub=new_user())

    assert reply.status == 429
    assert reply.body["error"]["code"] == "throttled"


# -- shares and purge ---------------------------------------------------------------------


def share(api: Api, owner: str, document_id: str, grantee: str) -> Any:
    return api.call("modify", "PUT", f"/documents/{document_id}/shares/{grantee}", sub=owner)


def test_a_document_is_shared_with_at_most_max_shares_users(api: Api, engines: Engines) -> None:
    owner = new_user()
    document = available(api, engines, owner)
    grantees = [new_user() for _ in range(MAX_SHARES + 1)]

    first = [share(api, owner, document["id"], g).status for g in grantees[:MAX_SHARES]]
    over = share(api, owner, document["id"], grantees[-1])
    stopped = api.call("modify", "DELETE", f"/documents/{document['id']}/shares/{grantees[0]}", sub=owner)
    after_stopping = share(api, owner, document["id"], grantees[-1])

    assert first == [200] * MAX_SHARES
    assert (over.status, over.body["error"]["code"]) == (422, "share_limit_reached")
    assert stopped.status == 204
    assert after_stopping.status == 200


def test_sharing_again_changes_nothing_and_takes_no_second_slot(api: Api, engines: Engines) -> None:
    owner, grantee = new_user(), new_user()
    document = available(api, engines, owner)

    first = share(api, owner, document["id"], grantee)
    again = [share(api, owner, document["id"], grantee) for _ in range(MAX_SHARES)]
    others = [share(api, owner, document["id"], new_user()).status for _ in range(MAX_SHARES - 1)]

    assert first.status == 200
    assert {(r.status, r.body["sharedAt"]) for r in again} == {(200, first.body["sharedAt"])}
    assert others == [200] * (MAX_SHARES - 1)


def test_stopping_a_share_that_does_not_exist_is_a_204_and_frees_nothing(api: Api, engines: Engines) -> None:
    owner = new_user()
    document = available(api, engines, owner)
    grantees = [new_user() for _ in range(MAX_SHARES)]
    for grantee in grantees:
        share(api, owner, document["id"], grantee)

    stopped = api.call("modify", "DELETE", f"/documents/{document['id']}/shares/{new_user()}", sub=owner)
    over = share(api, owner, document["id"], new_user())

    assert stopped.status == 204
    assert over.status == 422


def test_purging_a_fully_tagged_fully_shared_document_removes_everything(api: Api, engines: Engines) -> None:
    owner = new_user()
    tags = [f"t{n}" for n in range(MAX_TAGS)]
    document = available(api, engines, owner, tags=tags)
    grantees = [new_user() for _ in range(MAX_SHARES)]
    for grantee in grantees:
        assert share(api, owner, document["id"], grantee).status == 200

    purged = api.call("modify", "DELETE", f"/documents/{document['id']}", sub=owner, query={"purge": "true"})

    assert purged.status == 204
    assert api.call("read", "GET", "/documents", sub=owner, query={"tag": "t0"}).body["items"] == []
    assert all(api.call("read", "GET", "/shared", sub=g).body["items"] == [] for g in grantees)
    assert api.call("read", "GET", "/me/usage", sub=owner).body["documents"] == 0


def test_a_grantee_sees_renames_and_retags_of_a_shared_document(api: Api, engines: Engines) -> None:
    owner, grantee = new_user(), new_user()
    document = available(api, engines, owner)
    share(api, owner, document["id"], grantee)
    version = api.call("read", "GET", f"/documents/{document['id']}", sub=owner).body["version"]

    renamed = api.call(
        "modify", "PATCH", f"/documents/{document['id']}", sub=owner, body={"name": "renamed.pdf", "tags": ["q3"]},
        headers={"If-Match": f'"{version}"'},
    )  # fmt: skip
    [listed] = api.call("read", "GET", "/shared", sub=grantee).body["items"]

    assert renamed.status == 200
    assert (listed["name"], listed["tags"], listed["version"]) == ("renamed.pdf", ["q3"], renamed.body["version"])


def test_a_trashed_document_leaves_its_grantees_lists_and_comes_back_on_restore(api: Api, engines: Engines) -> None:
    owner, grantee = new_user(), new_user()
    document = available(api, engines, owner)
    share(api, owner, document["id"], grantee)

    api.call("modify", "DELETE", f"/documents/{document['id']}", sub=owner)
    while_trashed = api.call("read", "GET", "/shared", sub=grantee).body["items"]
    download_while_trashed = api.call("download", "GET", f"/documents/{document['id']}/download", sub=grantee)
    api.call("modify", "POST", f"/documents/{document['id']}/restore", sub=owner)
    after_restore = api.call("read", "GET", "/shared", sub=grantee).body["items"]

    assert while_trashed == []
    assert download_while_trashed.status == 404
    assert [(d["id"], d["status"]) for d in after_restore] == [(document["id"], "AVAILABLE")]


def test_a_purge_that_raced_a_new_share_is_refused_not_left_with_an_orphan(api: Api, engines: Engines) -> None:
    from folio.handlers import wiring

    owner, early, late = new_user(), new_user(), new_user()
    document = available(api, engines, owner)
    share(api, owner, document["id"], early)
    read_before_the_share = wiring.reads().get_document(owner, document["id"])
    share(api, owner, document["id"], late)

    with pytest.raises(Conflict):
        wiring.writes().purge(read_before_the_share)

    assert [d["id"] for d in api.call("read", "GET", "/shared", sub=late).body["items"]] == [document["id"]]


def test_a_patch_that_raced_a_share_is_a_409_not_a_version_mismatch(
    api: Api, engines: Engines, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a PATCH whose read happened before a share landed (the version is unchanged,
    # the grantee set is not)
    from folio.handlers import wiring
    from folio.writes import DynamoDbWrites

    owner, grantee = new_user(), new_user()
    document = available(api, engines, owner)
    version = api.call("read", "GET", f"/documents/{document['id']}", sub=owner).body["version"]
    original = DynamoDbWrites.update_document

    def share_lands_first(self: DynamoDbWrites, *args: Any, **kwargs: Any) -> Any:
        assert share(api, owner, document["id"], grantee).status == 200
        return original(self, *args, **kwargs)

    monkeypatch.setattr(DynamoDbWrites, "update_document", share_lands_first)

    # When it writes
    reply = api.call(
        "modify", "PATCH", f"/documents/{document['id']}", sub=owner,
        headers={"If-Match": f'"{version}"'}, body={"name": "b.pdf"},
    )  # fmt: skip

    # Then it is told to retry (409), not that its version is stale (412): the version still matches
    assert (reply.status, reply.body["error"]["code"]) == (409, "conflict")
    assert wiring.reads().get_document(owner, document["id"])["version"] == version
