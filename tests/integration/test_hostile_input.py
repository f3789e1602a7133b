"""Input that reaches a handler without passing API Gateway's body model, on the real handlers.

API Gateway applies a method's body model only to `application/json`; any other content
type (or a gateway whose validator is misconfigured) hands the handler the raw body. Each
case here failed with a 500, or was accepted, before the handlers were hardened
(issue #7, items 1-3 and 5). The schema-driven fuzzing in test_fuzz.py looks for the
same classes of bug; these are the named instances, so a regression names itself.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from folio.handlers import wiring
from tests.integration.conftest import Api, Engines, new_user

VALID_CREATE = {"name": "a.pdf", "contentType": "application/pdf", "size": 10}
DEEPLY_NESTED = "[" * 50_000 + "]" * 50_000
NESTED_IN_AN_OBJECT = '{"name": ' + "[" * 900 + "]" * 900 + ', "contentType": "text/plain", "size": 1}'


def created(api: Api, owner: str) -> dict[str, Any]:
    reply = api.call("create", "POST", "/documents", sub=owner, body=VALID_CREATE)
    assert reply.status == 201, reply.body
    document: dict[str, Any] = reply.body["document"]
    return document


def patch(api: Api, owner: str, document: dict[str, Any], **call: Any) -> Any:
    headers = {"If-Match": f'"{document["version"]}"', **call.pop("headers", {})}
    return api.call("modify", "PATCH", f"/documents/{document['id']}", sub=owner, headers=headers, **call)


# -- item 1: bodies the gateway did not check ---------------------------------------------


@pytest.mark.parametrize("raw", [DEEPLY_NESTED, NESTED_IN_AN_OBJECT], ids=["50000-levels", "900-levels-in-a-field"])
def test_a_deeply_nested_body_is_a_400_on_create_and_patch(api: Api, raw: str) -> None:
    owner = new_user()
    document = created(api, owner)

    replies = [
        api.call("create", "POST", "/documents", sub=owner, raw_body=raw),
        api.call("create", "POST", "/documents", sub=owner, raw_body=raw, headers={"Idempotency-Key": "k1"}),
        patch(api, owner, document, raw_body=raw),
    ]

    assert [(r.status, r.body["error"]["code"]) for r in replies] == [(400, "invalid_input")] * 3


@pytest.mark.parametrize("tags", [[{}], [["a"]], [[]], [None], ["a", {"b": 1}]], ids=repr)
def test_tags_that_are_not_strings_are_a_400_on_create_and_patch(api: Api, tags: list[Any]) -> None:
    owner = new_user()
    document = created(api, owner)

    on_create = api.call("create", "POST", "/documents", sub=owner, body={**VALID_CREATE, "tags": tags})
    on_patch = patch(api, owner, document, body={"tags": tags})

    assert (on_create.status, on_patch.status) == (400, 400)
    assert on_create.body["error"]["code"] == on_patch.body["error"]["code"] == "invalid_input"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_a_body_that_is_not_declared_json_is_a_415(api: Api, content_type: str) -> None:
    owner = new_user()
    document = created(api, owner)
    headers = {"Content-Type": content_type}

    on_create = api.call("create", "POST", "/documents", sub=owner, body=VALID_CREATE, headers=headers)
    on_patch = patch(api, owner, document, body={"name": "b.pdf"}, headers=headers)

    assert (on_create.status, on_patch.status) == (415, 415)
    assert on_create.body["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "Application/JSON", None])
def test_json_with_parameters_any_case_or_no_content_type_is_accepted(api: Api, content_type: str | None) -> None:
    # API Gateway assumes application/json when a request names no content type.
    reply = api.call(
        "create", "POST", "/documents", sub=new_user(), body=VALID_CREATE, headers={"Content-Type": content_type}
    )

    assert reply.status == 201, reply.body


# -- item 2: "$" is not end of input in Python ---------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {**VALID_CREATE, "tags": ["alpha\n"]},
        {**VALID_CREATE, "contentType": "text/plain\n"},
        {**VALID_CREATE, "contentType": "text/plain\n\n"},
    ],
    ids=["tag", "content-type", "content-type-two-newlines"],
)
def test_a_trailing_newline_is_refused_in_every_patterned_body_field(api: Api, body: dict[str, Any]) -> None:
    reply = api.call("create", "POST", "/documents", sub=new_user(), body=body)

    assert (reply.status, reply.body["error"]["code"]) == (400, "invalid_input")


@pytest.mark.parametrize("parameter", ["tag", "type"])
def test_a_trailing_newline_is_refused_in_list_filters(api: Api, parameter: str) -> None:
    reply = api.call("read", "GET", "/documents", sub=new_user(), query={parameter: "a\n"})

    assert reply.status == 400


def test_a_trailing_newline_is_refused_in_path_ids(api: Api, engines: Engines) -> None:
    # Powertools' router matches "/documents/<id>\n" to "/documents/<id>" and drops the "\n".
    owner = new_user()
    document = created(api, owner)
    doc_id = document["id"]

    replies = {
        "get": api.call("read", "GET", f"/documents/{doc_id}\n", sub=owner),
        "download": api.call("download", "GET", f"/documents/{doc_id}/download\n", sub=owner),
        "share": api.call("modify", "PUT", f"/documents/{doc_id}/shares/{new_user()}\n", sub=owner),
    }

    assert {name: reply.status for name, reply in replies.items()} == {"get": 400, "download": 400, "share": 400}


def test_a_trailing_newline_never_reaches_the_presigned_upload_policy(api: Api) -> None:
    # Given a create whose content type ends in a newline
    body = {**VALID_CREATE, "contentType": "application/pdf\n"}

    # When it is sent, Then it is refused before anything is presigned
    reply = api.call("create", "POST", "/documents", sub=new_user(), body=body)

    assert reply.status == 400
    assert "upload" not in (reply.body or {})


# -- item 3: names --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["a\x7fb", "a\x9bb", "a\x85b", "a\x00b", "a\x1bb", "a\ud800b", "a\udfffb", "invoice\u202efdp.exe",
     "a\u2066b", "a\u200fb"],
    ids=["DEL", "C1-CSI", "NEL", "NUL", "ESC", "lone-high-surrogate", "lone-low-surrogate", "RLO", "LRI", "RLM"],
)  # fmt: skip
def test_names_with_control_surrogate_or_bidi_characters_are_refused(api: Api, name: str) -> None:
    owner = new_user()
    document = created(api, owner)
    # json.dumps escapes a lone surrogate as \\ud800, which is how it arrives on the wire.
    raw = json.dumps({**VALID_CREATE, "name": name})

    on_create = api.call("create", "POST", "/documents", sub=owner, raw_body=raw)
    on_patch = patch(api, owner, document, raw_body=json.dumps({"name": name}))

    assert (on_create.status, on_patch.status) == (400, 400), (on_create.body, on_patch.body)
    assert "control" in on_create.body["error"]["message"]


@pytest.mark.parametrize("name", ["Résumé 2026.pdf", "报告.docx", "notes 😀.txt", "שלום.txt", "a.b-c_d (1).pdf"])
def test_ordinary_names_in_any_script_are_accepted(api: Api, name: str) -> None:
    reply = api.call("create", "POST", "/documents", sub=new_user(), body={**VALID_CREATE, "name": name})

    assert reply.status == 201, reply.body
    assert reply.body["document"]["name"] == name


# -- events API Gateway would not send ---------------------------------------------------


@pytest.mark.parametrize("sub", ["a#b", "x/y", "..", "USER#someone-else", "a" * 65, "a\nb"])
def test_a_subject_that_is_not_a_user_id_is_a_401_before_any_write(api: Api, sub: str) -> None:
    # Cognito subs are UUIDs; anything else would become part of table and object keys.
    reply = api.call("create", "POST", "/documents", sub=sub, body=VALID_CREATE)

    assert (reply.status, reply.body["error"]["code"]) == (401, "unauthorized")


def test_an_event_without_request_context_is_answered_not_raised(api: Api) -> None:
    from folio.handlers import read
    from tests.integration.conftest import FakeContext, api_event

    event = api_event("GET", "/me/usage", sub=new_user())
    del event["requestContext"]

    response = read.handler(event, FakeContext())

    assert response["statusCode"] == 401


def test_a_header_without_a_value_is_no_header(api: Api) -> None:
    from folio.handlers import create
    from tests.integration.conftest import FakeContext, api_event

    owner = new_user()
    event = api_event("POST", "/documents", sub=owner, body=VALID_CREATE)
    event["headers"]["Idempotency-Key"] = None
    first, second = (create.handler(dict(event), FakeContext()) for _ in range(2))

    # Two creates, not one replayed: a None value is not the key "None".
    assert first["statusCode"] == second["statusCode"] == 201
    assert json.loads(first["body"])["document"]["id"] != json.loads(second["body"])["document"]["id"]


# -- item 5: a former grantee, while the index still lists the share --------------------


def test_a_former_grantee_cannot_download_while_the_index_still_shows_the_share(
    api: Api, engines: Engines, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a document shared with a grantee, and the index's view of that share
    owner, grantee = new_user(), new_user()
    document = created(api, owner)
    reads = wiring.reads()
    wiring.writes().mark_available(reads.get_document(owner, document["id"]))
    assert api.call("modify", "PUT", f"/documents/{document['id']}/shares/{grantee}", sub=owner).status == 200
    assert api.call("download", "GET", f"/documents/{document['id']}/download", sub=grantee).status == 200
    stale_share = reads.find_share(grantee, document["id"])
    assert stale_share is not None

    # When the owner stops sharing, but GSI1 (eventually consistent) has not caught up yet
    assert api.call("modify", "DELETE", f"/documents/{document['id']}/shares/{grantee}", sub=owner).status == 204
    monkeypatch.setattr(type(reads), "find_share", lambda self, who, doc_id: stale_share)
    reply = api.call("download", "GET", f"/documents/{document['id']}/download", sub=grantee)

    # Then the strongly read document's grantee set decides: no URL
    assert (reply.status, reply.body["error"]["code"]) == (404, "not_found")
