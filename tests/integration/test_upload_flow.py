"""End to end: create -> HTTP POST of the presigned form to S3 -> upload worker -> AVAILABLE
-> presigned download fetched over HTTP. And what the worker does with bad objects."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from folio.handlers import upload_worker
from tests.integration.conftest import BUCKET, PREFIX, Api, Engines, FakeContext, new_user
from tests.support.invariants import object_versions

CONTENT = b"%PDF-1.7 folio test document\n" * 10


def object_created(key: str) -> dict[str, Any]:
    return {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {"bucket": {"name": BUCKET}, "object": {"key": key, "size": 0}},
    }


def create(api: Api, owner: str, *, size: int = len(CONTENT), content_type: str = "application/pdf") -> dict[str, Any]:
    reply = api.call(
        "create",
        "POST",
        "/documents",
        sub=owner,
        body={"name": "report.pdf", "contentType": content_type, "size": size},
    )
    assert reply.status == 201, reply.body
    body: dict[str, Any] = reply.body
    return body


def upload(form: dict[str, Any], content: bytes, content_type: str = "application/pdf") -> None:
    response = requests.post(
        form["url"], data=form["fields"], files={"file": ("report.pdf", content, content_type)}, timeout=10
    )
    assert response.status_code in (200, 204), response.text


def test_upload_flow_end_to_end(api: Api, engines: Engines) -> None:
    owner = new_user()
    created = create(api, owner)
    document, form = created["document"], created["upload"]

    upload(form, CONTENT)
    outcome = upload_worker.handler(object_created(f"{PREFIX}{owner}/{document['id']}"), FakeContext())
    settled = api.call("read", "GET", f"/documents/{document['id']}", sub=owner)
    link = api.call("download", "GET", f"/documents/{document['id']}/download", sub=owner)
    fetched = requests.get(link.body["url"], timeout=10)

    assert form["fields"]["key"] == f"{PREFIX}{owner}/{document['id']}"
    assert form["expiresIn"] <= 300
    assert outcome == {"outcome": "available"}
    assert settled.body["status"] == "AVAILABLE"
    assert link.status == 200 and link.body["expiresIn"] <= 300
    assert fetched.status_code == 200
    assert fetched.content == CONTENT


def test_worker_is_safe_to_run_twice(api: Api, engines: Engines) -> None:
    owner = new_user()
    created = create(api, owner)
    upload(created["upload"], CONTENT)
    key = f"{PREFIX}{owner}/{created['document']['id']}"

    first = upload_worker.handler(object_created(key), FakeContext())
    second = upload_worker.handler(object_created(key), FakeContext())

    assert (first, second) == ({"outcome": "available"}, {"outcome": "unchanged"})
    assert engines.s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"] == len(CONTENT)


def test_object_that_does_not_match_is_deleted_and_quota_released(api: Api, engines: Engines) -> None:
    owner = new_user()
    created = create(api, owner, size=len(CONTENT))
    key = f"{PREFIX}{owner}/{created['document']['id']}"
    engines.s3.put_object(Bucket=BUCKET, Key=key, Body=CONTENT + b"more", ContentType="application/pdf")

    outcome = upload_worker.handler(object_created(key), FakeContext())
    usage = api.call("read", "GET", "/me/usage", sub=owner)
    gone = api.call("read", "GET", f"/documents/{created['document']['id']}", sub=owner)

    assert outcome == {"outcome": "deleted:mismatch"}
    assert object_versions(engines.s3, BUCKET, key) == []  # every version, not just hidden
    assert usage.body["documents"] == 0 and usage.body["bytes"] == 0
    assert gone.status == 404


def test_object_without_a_document_is_deleted(engines: Engines) -> None:
    key = f"{PREFIX}{new_user()}/01NOSUCHDOCUMENT"
    engines.s3.put_object(Bucket=BUCKET, Key=key, Body=b"stray")

    outcome = upload_worker.handler(object_created(key), FakeContext())

    assert outcome == {"outcome": "deleted:no-document"}
    # Every version: a late upload for a purged document has no removal record left to
    # bring the lifecycle worker back, so this is the only place its bytes can go.
    assert object_versions(engines.s3, BUCKET, key) == []


def test_pending_document_has_nothing_to_download(api: Api) -> None:
    owner = new_user()
    created = create(api, owner)

    reply = api.call("download", "GET", f"/documents/{created['document']['id']}/download", sub=owner)

    assert reply.status == 404
    assert reply.body["error"]["code"] == "not_found"


def test_presigned_forms_are_bound_to_key_type_size_and_five_minutes(api: Api, engines: Engines) -> None:
    """moto's S3 does not enforce POST policies, so read what S3 would enforce from the
    signed policy document itself, and the expiry from the signed download URL."""
    owner = new_user()
    created = create(api, owner, size=len(CONTENT))
    document, form = created["document"], created["upload"]
    key = f"{PREFIX}{owner}/{document['id']}"
    signed_at = datetime.now(UTC)

    policy = json.loads(base64.b64decode(form["fields"]["policy"]))
    expires = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)

    assert {"x-amz-algorithm": "AWS4-HMAC-SHA256"} in policy["conditions"]  # SigV4: S3 refuses V2 with KMS
    assert {"bucket": BUCKET} in policy["conditions"]
    assert {"key": key} in policy["conditions"]
    assert {"Content-Type": "application/pdf"} in policy["conditions"]
    assert ["content-length-range", len(CONTENT), len(CONTENT)] in policy["conditions"]
    assert 0 < (expires - signed_at).total_seconds() <= 300

    upload(form, CONTENT)
    upload_worker.handler(object_created(key), FakeContext())
    link = api.call("download", "GET", f"/documents/{document['id']}/download", sub=owner)
    query = parse_qs(urlparse(link.body["url"]).query)

    assert urlparse(link.body["url"]).path.endswith(f"/{key}")
    assert 0 < int(query["X-Amz-Expires"][0]) <= 300
    assert query["response-content-disposition"] == ['attachment; filename="report.pdf"']


def test_an_upload_that_lands_in_the_trash_is_settled_and_restores_available(api: Api, engines: Engines) -> None:
    # Given a document trashed while its upload was on the way
    owner = new_user()
    created = create(api, owner)
    path = f"/documents/{created['document']['id']}"
    assert api.call("modify", "DELETE", path, sub=owner).status == 204

    # When the object lands, and the owner restores the document
    upload(created["upload"], CONTENT)
    outcome = upload_worker.handler(object_created(f"{PREFIX}{owner}{path[len('/documents') :]}"), FakeContext())
    in_trash = api.call("read", "GET", "/trash", sub=owner).body["items"]
    restored = api.call("modify", "POST", f"{path}/restore", sub=owner)
    link = api.call("download", "GET", f"{path}/download", sub=owner)
    usage = api.call("read", "GET", "/me/usage", sub=owner).body

    # Then it was settled on arrival and comes back with its content
    assert outcome == {"outcome": "available:in-trash"}
    assert [d["status"] for d in in_trash] == ["TRASHED"]
    assert (restored.status, restored.body["status"]) == (200, "AVAILABLE")
    assert link.status == 200 and requests.get(link.body["url"], timeout=10).content == CONTENT
    assert (usage["documents"], usage["bytes"]) == (1, len(CONTENT))


def test_a_bad_upload_that_lands_in_the_trash_is_deleted_and_its_quota_released(api: Api, engines: Engines) -> None:
    owner = new_user()
    created = create(api, owner)
    key = f"{PREFIX}{owner}/{created['document']['id']}"
    assert api.call("modify", "DELETE", f"/documents/{created['document']['id']}", sub=owner).status == 204
    engines.s3.put_object(Bucket=BUCKET, Key=key, Body=CONTENT + b"more", ContentType="application/pdf")

    outcome = upload_worker.handler(object_created(key), FakeContext())
    usage = api.call("read", "GET", "/me/usage", sub=owner).body

    assert outcome == {"outcome": "deleted:mismatch"}
    assert engines.s3.list_objects_v2(Bucket=BUCKET, Prefix=key).get("KeyCount", 0) == 0
    assert api.call("read", "GET", "/trash", sub=owner).body["items"] == []
    assert (usage["documents"], usage["bytes"]) == (0, 0)


def signed_policy(form: dict[str, Any]) -> dict[str, Any]:
    policy: dict[str, Any] = json.loads(base64.b64decode(form["fields"]["policy"]))
    return policy


def test_a_replayed_create_gets_a_freshly_signed_form_for_the_same_upload(api: Api, engines: Engines) -> None:
    # Given a create that was answered, and its replay (same Idempotency-Key) a moment later
    owner, key = new_user(), "replay-1"
    body = {"name": "report.pdf", "contentType": "application/pdf", "size": len(CONTENT)}
    first = api.call("create", "POST", "/documents", sub=owner, body=body, headers={"Idempotency-Key": key})
    time.sleep(1.1)  # the policy's expiry has a resolution of one second
    again = api.call("create", "POST", "/documents", sub=owner, body=body, headers={"Idempotency-Key": key})
    first_policy, again_policy = signed_policy(first.body["upload"]), signed_policy(again.body["upload"])

    # Then the replay is the same document with a form signed now, bound exactly as the first
    object_key = f"{PREFIX}{owner}/{first.body['document']['id']}"
    assert (first.status, again.status) == (201, 201)
    assert again.body["document"] == first.body["document"]
    assert again_policy["expiration"] > first_policy["expiration"]
    assert again.body["upload"]["fields"]["x-amz-signature"] != first.body["upload"]["fields"]["x-amz-signature"]
    for policy in (first_policy, again_policy):
        assert {"key": object_key} in policy["conditions"]
        assert {"Content-Type": "application/pdf"} in policy["conditions"]
        assert ["content-length-range", len(CONTENT), len(CONTENT)] in policy["conditions"]
    assert api.call("read", "GET", "/me/usage", sub=owner).body["documents"] == 1

    # And the replay's form uploads the document
    upload(again.body["upload"], CONTENT)
    assert upload_worker.handler(object_created(object_key), FakeContext()) == {"outcome": "available"}


def test_a_replay_of_a_create_answered_before_forms_were_signed_per_answer_gets_a_fresh_form(
    api: Api, engines: Engines, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an idempotency record that holds a whole earlier answer, with its form long dead
    from folio.handlers import create as create_handler

    owner = new_user()
    document = create(api, owner)["document"]
    dead = {"url": "https://expired.example", "fields": {"policy": "e30="}, "expiresIn": 300}
    monkeypatch.setattr(create_handler, "create_once", lambda request: {"document": document, "upload": dead})

    # When it is replayed
    body = {"name": "report.pdf", "contentType": "application/pdf", "size": len(CONTENT)}
    again = api.call("create", "POST", "/documents", sub=owner, body=body, headers={"Idempotency-Key": "old"})

    # Then the answer is that document with a form signed now
    assert again.status == 201 and again.body["document"] == document
    assert {"key": f"{PREFIX}{owner}/{document['id']}"} in signed_policy(again.body["upload"])["conditions"]


@pytest.mark.parametrize("since", ["purged", "uploaded"])
def test_a_replayed_create_signs_no_form_for_a_document_no_longer_awaiting_its_upload(
    api: Api, engines: Engines, since: str
) -> None:
    # Given a keyed create whose document has since been purged, or uploaded and settled
    owner, key = new_user(), f"replay-{since}"
    body = {"name": "report.pdf", "contentType": "application/pdf", "size": len(CONTENT)}
    first = api.call("create", "POST", "/documents", sub=owner, body=body, headers={"Idempotency-Key": key})
    doc_id = first.body["document"]["id"]
    if since == "purged":
        assert api.call("modify", "DELETE", f"/documents/{doc_id}", sub=owner, query={"purge": "true"}).status == 204
    else:
        upload(first.body["upload"], CONTENT)
        settled = upload_worker.handler(object_created(f"{PREFIX}{owner}/{doc_id}"), FakeContext())
        assert settled == {"outcome": "available"}

    # When the create is replayed within the idempotency record's hour
    again = api.call("create", "POST", "/documents", sub=owner, body=body, headers={"Idempotency-Key": key})

    # Then no new form: it would let bytes land after a purge, or replace an available
    # (perhaps shared) document's content without a new version
    assert (again.status, again.body["error"]["code"]) == (409, "conflict")
    assert "upload" not in again.body
