"""The custom-resource answer (folio.custom_resource) without a network: whatever the Reason holds,
the body stays under CloudFormation's 4096 bytes, keeps every id whole, and cuts only the Reason."""

from __future__ import annotations

import json

import pytest

from folio.custom_resource import FAILED, MAX_RESPONSE_BYTES, Outcome, response_body, without_query

EVENT = {
    "StackId": f"arn:aws:cloudformation:us-east-1:111111111111:stack/{'S' * 128}/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
    "RequestId": "5d478078-13e9-baf0-464a-7ef285ecc786",
    "LogicalResourceId": "L" * 255,
}


@pytest.mark.parametrize(
    "unit",
    ["x", "\u00e9", "\U0001f600", '"', "\\", "\x01", "</script>"],
    ids=["ascii", "latin", "astral", "quote", "backslash", "control", "markup"],
)
def test_the_body_stays_under_the_limit_whatever_the_reason_holds(unit: str) -> None:
    reason = "DELETE /_plugins/_security/api/roles/r: HTTP 500: " + unit * 50_000
    outcome = Outcome(FAILED, "folio-documents-roles@" + "h" * 253, reason, ["roles/r"] * 100)

    body = response_body(EVENT, outcome)

    answer = json.loads(body)
    assert len(body) < MAX_RESPONSE_BYTES
    assert reason.startswith(answer["Reason"].removesuffix(" …")) and len(answer["Reason"]) > 100
    assert {k: answer[k] for k in EVENT} == EVENT and answer["PhysicalResourceId"] == outcome.physical_id


def test_a_short_reason_is_sent_whole() -> None:
    answer = json.loads(response_body(EVENT, Outcome(FAILED, "p", "Endpoint is missing")))

    assert answer["Reason"] == "Endpoint is missing" and answer["Data"] == {"Changed": []}


def test_a_presigned_url_is_logged_without_its_signature() -> None:
    url = "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/a%7Cb?X-Amz-Signature=abc&X-Amz-Credential=AKIA"

    assert without_query(url) == "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/a%7Cb"
