"""The role-mapping custom resource (folio.handlers.search_role_mappings) as CloudFormation runs it:
its handler invoked with CloudFormation's events, calling the domain's security API over TLS with
SigV4 (the stand-in verifies each signature, tests/support/loopback_http.py) and answering by a PUT
to the presigned response URL (recorded by the stand-in bucket). Idempotent on create, update and
delete; exactly one answer per invocation, whatever fails, before the function's timeout."""

from __future__ import annotations

import importlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from folio import search_role_mappings as rm
from folio.custom_resource import MAX_RESPONSE_BYTES, RESPONSE_RESERVE_SECONDS
from folio.handlers import search_role_mappings as resource
from tests.integration.engines import free_port
from tests.support import loopback
from tests.support.loopback_http import ReceivedPut, ResponseBucket, SecurityApiServer
from tests.support.security_api import API, RecordedSecurityApi
from tests.support.tls import LOOPBACK, TlsFiles, make_tls_files

PIPELINE = "arn:aws:iam::111111111111:role/FolioDev-Search-IngestionRole"
SEARCH = "arn:aws:iam::111111111111:role/FolioDev-Api-SearchRole"
SWEEP = "arn:aws:iam::111111111111:role/FolioDev-Search-SweepRole"
OTHER_SEARCH = "arn:aws:iam::111111111111:role/FolioDev-Api-SearchRole2"
STACK = "arn:aws:cloudformation:us-east-1:111111111111:stack/FolioDev-Search/0f1e2d3c"
LOG_STREAM = "2026/11/29/[$LATEST]0123456789abcdef"
WRITE_MAPPING = f"{API}/rolesmapping/{rm.WRITE_ROLE}"
READ_MAPPING = f"{API}/rolesmapping/{rm.READ_ROLE}"
KINDS = ("roles", "rolesmapping")


@dataclass
class FakeContext:
    """Lambda's context: the remaining time runs down with the clock from `seconds`."""

    seconds: float = 60.0
    log_stream_name: str = LOG_STREAM
    started: float = field(default_factory=time.monotonic)

    @property
    def deadline(self) -> float:
        """When Lambda would stop the function (time.monotonic())."""
        return self.started + self.seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("domain-tls"))


@pytest.fixture(autouse=True)
def function_environment(monkeypatch: pytest.MonkeyPatch, tls: TlsFiles) -> None:
    """What Lambda gives the function (its role's credentials, its Region); and the test CA
    trusted through SSL_CERT_FILE, as the real domain's certificate is through the system's."""
    for name, value in {**loopback.ENVIRONMENT, "AWS_REGION": loopback.REGION}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SSL_CERT_FILE", str(tls.ca_certificate))


@pytest.fixture
def domain(tls: TlsFiles) -> Iterator[SecurityApiServer]:
    with SecurityApiServer(RecordedSecurityApi(), tls) as server:
        yield server  # type: ignore[misc]
    assert server.refused == [], "every request the function sent must verify as SigV4 for es"


@pytest.fixture
def bucket() -> Iterator[ResponseBucket]:
    with ResponseBucket() as running:
        yield running  # type: ignore[misc]


def properties(endpoint: str, *, pipeline: str = PIPELINE, search: list[str] | None = None) -> dict[str, Any]:
    return {
        "ServiceToken": "arn:aws:lambda:us-east-1:111111111111:function:FolioDev-Search-RoleMappings",
        rm.ENDPOINT_PROPERTY: endpoint,
        rm.PIPELINE_ROLE_ARN_PROPERTY: pipeline,
        rm.SEARCH_ROLE_ARNS_PROPERTY: search if search is not None else [SEARCH],
        rm.SWEEP_ROLE_ARN_PROPERTY: SWEEP,
    }


def invoke(
    bucket: ResponseBucket,
    request_type: str,
    props: dict[str, Any],
    *,
    physical_id: str | None = None,
    old: dict[str, Any] | None = None,
    context: FakeContext | None = None,
) -> dict[str, Any]:
    """Runs the handler as CloudFormation would and returns the one answer it PUT."""
    request_id = f"request-{len(bucket.puts)}"
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ResponseURL": bucket.url(f"{STACK.replace('/', '|')}|RoleMappings|{request_id}"),
        "StackId": STACK,
        "RequestId": request_id,
        "ResourceType": "AWS::CloudFormation::CustomResource",
        "LogicalResourceId": "RoleMappings",
        "ResourceProperties": props,
    }
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    if old is not None:
        event["OldResourceProperties"] = old
    before = len(bucket.puts)
    finished = threading.Event()

    def run() -> None:
        resource.handler(event, context or FakeContext())
        finished.set()

    # A handler that never returns fails here, not by hanging the suite.
    threading.Thread(target=run, daemon=True).start()
    assert finished.wait(30), "the handler did not return"
    new = bucket.puts[before:]
    assert len(new) == 1, f"expected exactly one response, got {len(new)}"
    answer = new[0].json()
    assert {k: answer[k] for k in ("StackId", "RequestId", "LogicalResourceId")} == {
        "StackId": STACK, "RequestId": request_id, "LogicalResourceId": "RoleMappings",
    }  # fmt: skip
    return answer


def stored_mappings(domain: SecurityApiServer) -> dict[str, list[str]]:
    return {name: entry["backend_roles"] for name, entry in domain.api.stored["rolesmapping"].items()}


def the_put(bucket: ResponseBucket) -> ReceivedPut:
    (put,) = bucket.puts
    return put


def host_of(endpoint: str) -> str:
    return endpoint.removeprefix("https://")


# -- create, update, delete ------------------------------------------------------------------------
def test_create_applies_the_three_roles_and_answers_one_physical_id_per_domain(
    domain: SecurityApiServer, bucket: ResponseBucket
) -> None:
    answer = invoke(bucket, "Create", properties(domain.endpoint))

    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert answer["PhysicalResourceId"] == f"folio-documents-roles@{host_of(domain.endpoint)}"
    assert stored_mappings(domain) == {rm.WRITE_ROLE: [PIPELINE], rm.READ_ROLE: [SEARCH], rm.SWEEP_ROLE: [SWEEP]}
    assert set(domain.api.stored["roles"]) == {rm.WRITE_ROLE, rm.READ_ROLE, rm.SWEEP_ROLE}
    assert len(answer["Data"]["Changed"]) == 6


def test_create_again_answers_success_and_writes_nothing(domain: SecurityApiServer, bucket: ResponseBucket) -> None:
    first = invoke(bucket, "Create", properties(domain.endpoint))
    domain.api.calls.clear()

    again = invoke(bucket, "Create", properties(domain.endpoint))

    assert (again["Status"], again["PhysicalResourceId"]) == ("SUCCESS", first["PhysicalResourceId"])
    assert domain.api.writes() == [] and again["Data"] == {"Changed": []}


@pytest.mark.parametrize(
    ("change", "mappings"),
    [
        (
            {"search": [SEARCH, OTHER_SEARCH]},
            {rm.WRITE_ROLE: [PIPELINE], rm.READ_ROLE: [SEARCH, OTHER_SEARCH], rm.SWEEP_ROLE: [SWEEP]},
        ),
        (
            {"pipeline": PIPELINE + "2"},
            {rm.WRITE_ROLE: [PIPELINE + "2"], rm.READ_ROLE: [SEARCH], rm.SWEEP_ROLE: [SWEEP]},
        ),
    ],
)
def test_update_rewrites_only_the_mapping_that_changed(
    domain: SecurityApiServer, bucket: ResponseBucket, change: dict[str, Any], mappings: dict[str, list[str]]
) -> None:
    created = invoke(bucket, "Create", properties(domain.endpoint))
    domain.api.calls.clear()

    answer = invoke(
        bucket, "Update", properties(domain.endpoint, **change),
        physical_id=created["PhysicalResourceId"], old=properties(domain.endpoint),
    )  # fmt: skip

    assert (answer["Status"], answer["PhysicalResourceId"]) == ("SUCCESS", created["PhysicalResourceId"])
    assert stored_mappings(domain) == mappings
    assert len(domain.api.writes()) == 1


def test_update_to_another_domain_is_a_new_physical_id_and_the_old_ones_delete_cleans_it(
    domain: SecurityApiServer, bucket: ResponseBucket, tls: TlsFiles
) -> None:
    created = invoke(bucket, "Create", properties(domain.endpoint))
    with SecurityApiServer(RecordedSecurityApi(), tls) as new_domain:
        # When the endpoint changes (a replaced domain)
        updated = invoke(
            bucket, "Update", properties(new_domain.endpoint),  # type: ignore[attr-defined]
            physical_id=created["PhysicalResourceId"], old=properties(domain.endpoint),
        )  # fmt: skip
        # Then CloudFormation deletes the old physical resource with the old properties
        deleted = invoke(bucket, "Delete", properties(domain.endpoint), physical_id=created["PhysicalResourceId"])

        assert updated["Status"] == deleted["Status"] == "SUCCESS"
        assert updated["PhysicalResourceId"] == f"folio-documents-roles@{host_of(new_domain.endpoint)}"  # type: ignore[attr-defined]
        assert updated["PhysicalResourceId"] != created["PhysicalResourceId"]
        assert stored_mappings(new_domain) == {
            rm.WRITE_ROLE: [PIPELINE],
            rm.READ_ROLE: [SEARCH],
            rm.SWEEP_ROLE: [SWEEP],
        }  # type: ignore[arg-type]
        assert domain.api.stored == {"roles": {}, "rolesmapping": {}}
        assert new_domain.refused == []  # type: ignore[attr-defined]


def test_delete_removes_everything_and_a_second_delete_is_quiet(
    domain: SecurityApiServer, bucket: ResponseBucket
) -> None:
    physical_id = invoke(bucket, "Create", properties(domain.endpoint))["PhysicalResourceId"]

    first = invoke(bucket, "Delete", properties(domain.endpoint), physical_id=physical_id)
    domain.api.calls.clear()
    second = invoke(bucket, "Delete", properties(domain.endpoint), physical_id=physical_id)

    assert first["Status"] == second["Status"] == "SUCCESS"
    assert first["PhysicalResourceId"] == second["PhysicalResourceId"] == physical_id
    assert domain.api.stored == {"roles": {}, "rolesmapping": {}}
    assert {method for method, _ in domain.api.writes()} == {"DELETE"} and second["Data"] == {"Changed": []}


# -- failures --------------------------------------------------------------------------------------
def closed_endpoint() -> str:
    """A domain that is not there: nothing listens on this port."""
    return f"https://{LOOPBACK}:{free_port()}"


def test_a_failed_create_answers_a_marker_whose_delete_succeeds_even_with_the_domain_gone(
    domain: SecurityApiServer, bucket: ResponseBucket
) -> None:
    domain.answer_raw = (500, b'{"error": "security index unavailable"}')
    failed = invoke(bucket, "Create", properties(domain.endpoint))

    # The rollback's Delete, once the domain is unreachable
    rollback = invoke(bucket, "Delete", properties(closed_endpoint()), physical_id=failed["PhysicalResourceId"])

    assert failed["Status"] == "FAILED"
    assert failed["PhysicalResourceId"] == resource.CREATE_FAILED_ID
    assert rollback["Status"] == "SUCCESS" and "may be left" in rollback["Reason"]


def test_the_delete_of_a_failed_create_removes_what_it_had_applied(
    domain: SecurityApiServer, bucket: ResponseBucket
) -> None:
    domain.api.fail_next[("PUT", READ_MAPPING)] = (400, {"error": "bad backend role"})
    failed = invoke(bucket, "Create", properties(domain.endpoint))
    assert domain.api.stored["rolesmapping"] != {}

    rollback = invoke(bucket, "Delete", properties(domain.endpoint), physical_id=failed["PhysicalResourceId"])

    assert (failed["Status"], rollback["Status"]) == ("FAILED", "SUCCESS")
    assert domain.api.stored == {"roles": {}, "rolesmapping": {}}


@pytest.mark.parametrize("request_type", ["Create", "Update", "Delete"])
def test_a_security_api_error_fails_naming_the_method_path_and_status(
    domain: SecurityApiServer, bucket: ResponseBucket, request_type: str
) -> None:
    physical_id = None if request_type == "Create" else f"folio-documents-roles@{host_of(domain.endpoint)}"
    domain.answer_raw = (500, b'{"error": "internal"}')

    answer = invoke(
        bucket, request_type, properties(domain.endpoint), physical_id=physical_id,
        old=properties(domain.endpoint) if request_type == "Update" else None,
    )  # fmt: skip

    assert answer["Status"] == "FAILED"
    method = "DELETE" if request_type == "Delete" else "GET"
    path = WRITE_MAPPING if request_type == "Delete" else f"{API}/roles/{rm.WRITE_ROLE}"
    assert f"{method} {path}" in answer["Reason"] and "HTTP 500" in answer["Reason"]
    assert answer["PhysicalResourceId"] == (physical_id or resource.CREATE_FAILED_ID)


def test_a_busy_domain_is_asked_again(domain: SecurityApiServer, bucket: ResponseBucket) -> None:
    domain.api.fail_next[("PUT", WRITE_MAPPING)] = (503, {"error": "busy"})

    answer = invoke(bucket, "Create", properties(domain.endpoint))

    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert domain.api.writes().count(("PUT", WRITE_MAPPING)) == 2


BAD_PROPERTIES = [
    ({rm.ENDPOINT_PROPERTY: None}, rm.ENDPOINT_PROPERTY, "missing"),
    ({rm.ENDPOINT_PROPERTY: ""}, rm.ENDPOINT_PROPERTY, "https://"),
    ({rm.ENDPOINT_PROPERTY: "http://{host}"}, rm.ENDPOINT_PROPERTY, "https://"),
    ({rm.ENDPOINT_PROPERTY: "https://{host}/_plugins"}, rm.ENDPOINT_PROPERTY, "no path"),
    ({rm.ENDPOINT_PROPERTY: "https://admin@{host}"}, rm.ENDPOINT_PROPERTY, "https://"),
    ({rm.ENDPOINT_PROPERTY: ["https://{host}"]}, rm.ENDPOINT_PROPERTY, "string"),
    ({rm.PIPELINE_ROLE_ARN_PROPERTY: "arn:aws:iam::111111111111:user/alice"}, rm.PIPELINE_ROLE_ARN_PROPERTY, "role"),
    ({rm.PIPELINE_ROLE_ARN_PROPERTY: "arn:aws:iam::1111:role/x"}, rm.PIPELINE_ROLE_ARN_PROPERTY, "role"),
    ({rm.PIPELINE_ROLE_ARN_PROPERTY: None}, rm.PIPELINE_ROLE_ARN_PROPERTY, "missing"),
    ({rm.SEARCH_ROLE_ARNS_PROPERTY: SEARCH}, rm.SEARCH_ROLE_ARNS_PROPERTY, "list"),
    ({rm.SEARCH_ROLE_ARNS_PROPERTY: []}, rm.SEARCH_ROLE_ARNS_PROPERTY, "empty"),
    ({rm.SEARCH_ROLE_ARNS_PROPERTY: [SEARCH, "*"]}, rm.SEARCH_ROLE_ARNS_PROPERTY, "role"),
    ({rm.SEARCH_ROLE_ARNS_PROPERTY: [SEARCH, 7]}, rm.SEARCH_ROLE_ARNS_PROPERTY, "role"),
]


@pytest.mark.parametrize("request_type", ["Create", "Update"])
@pytest.mark.parametrize(("change", "named", "what"), BAD_PROPERTIES)
def test_bad_properties_fail_naming_the_property_before_any_call(
    domain: SecurityApiServer,
    bucket: ResponseBucket,
    request_type: str,
    change: dict[str, Any],
    named: str,
    what: str,
) -> None:
    host = host_of(domain.endpoint)
    changed = {k: v.format(host=host) if isinstance(v, str) else v for k, v in change.items()}
    bad = {k: v for k, v in {**properties(domain.endpoint), **changed}.items() if v is not None}
    physical_id = None if request_type == "Create" else f"folio-documents-roles@{host}"

    answer = invoke(
        bucket, request_type, bad, physical_id=physical_id,
        old=properties(domain.endpoint) if request_type == "Update" else None,
    )  # fmt: skip

    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith(named) and what in answer["Reason"], answer["Reason"]
    assert "Traceback" not in answer["Reason"]
    assert domain.requests == 0


def test_the_delete_of_properties_that_were_never_valid_succeeds_without_a_call(
    domain: SecurityApiServer, bucket: ResponseBucket
) -> None:
    answer = invoke(
        bucket, "Delete", {**properties(domain.endpoint), rm.SEARCH_ROLE_ARNS_PROPERTY: []},
        physical_id=resource.CREATE_FAILED_ID,
    )  # fmt: skip

    assert answer["Status"] == "SUCCESS" and domain.requests == 0


def test_an_update_rolled_back_from_invalid_properties_applies_the_old_ones_again(
    domain: SecurityApiServer, bucket: ResponseBucket
) -> None:
    physical_id = invoke(bucket, "Create", properties(domain.endpoint))["PhysicalResourceId"]
    invalid = {**properties(domain.endpoint), rm.PIPELINE_ROLE_ARN_PROPERTY: "nonsense"}

    rollback = invoke(bucket, "Update", properties(domain.endpoint), physical_id=physical_id, old=invalid)

    assert rollback["Status"] == "SUCCESS", rollback["Reason"]
    assert stored_mappings(domain) == {rm.WRITE_ROLE: [PIPELINE], rm.READ_ROLE: [SEARCH], rm.SWEEP_ROLE: [SWEEP]}


@pytest.mark.parametrize("domain_state", ["unreachable", "hanging"])
def test_a_domain_that_does_not_answer_fails_before_the_function_times_out(
    domain: SecurityApiServer, bucket: ResponseBucket, domain_state: str
) -> None:
    # Given a function with one second left beyond what it keeps for its answer, and a domain
    # that is not there, or that takes requests (TLS and all) and never answers them
    context = FakeContext(seconds=RESPONSE_RESERVE_SECONDS + 1.0)
    domain.hanging = True
    endpoint = domain.endpoint if domain_state == "hanging" else closed_endpoint()

    answer = invoke(bucket, "Create", properties(endpoint), context=context)

    # Then the answer says so, and it arrived while the function was still running
    assert answer["Status"] == "FAILED"
    assert f"{API}/roles/{rm.WRITE_ROLE}" in answer["Reason"] and "no answer" in answer["Reason"]
    assert the_put(bucket).at < context.deadline


def test_an_unexpected_exception_is_still_one_failed_answer_without_a_traceback(
    domain: SecurityApiServer, bucket: ResponseBucket
) -> None:
    # Given a domain whose answer breaks the logic's assumptions (a role that is not an object)
    domain.api.fail_next[("GET", f"{API}/roles/{rm.WRITE_ROLE}")] = (200, {rm.WRITE_ROLE: "not an object"})

    answer = invoke(bucket, "Create", properties(domain.endpoint))

    assert (answer["Status"], answer["PhysicalResourceId"]) == ("FAILED", resource.CREATE_FAILED_ID)
    assert "AttributeError" in answer["Reason"] and LOG_STREAM in answer["Reason"]
    assert "Traceback" not in answer["Reason"] and 'File "' not in answer["Reason"]


@pytest.mark.parametrize(
    ("request_type", "physical_id", "status"),
    [("Create", None, "FAILED"), ("Delete", resource.CREATE_FAILED_ID, "SUCCESS")],
)
def test_a_function_without_its_region_answers_once_and_a_failed_creates_delete_still_succeeds(
    domain: SecurityApiServer,
    bucket: ResponseBucket,
    monkeypatch: pytest.MonkeyPatch,
    request_type: str,
    physical_id: str | None,
    status: str,
) -> None:
    monkeypatch.delenv("AWS_REGION")

    answer = invoke(bucket, request_type, properties(domain.endpoint), physical_id=physical_id)

    assert (answer["Status"], answer["PhysicalResourceId"]) == (status, resource.CREATE_FAILED_ID)
    assert "unexpected KeyError" in answer["Reason"] and domain.requests == 0


def test_an_enormous_error_body_keeps_the_answer_under_the_limit(
    domain: SecurityApiServer, bucket: ResponseBucket
) -> None:
    domain.answer_raw = (500, json.dumps({"error": '\U0001f600\u00e9\\"\x01' * 200_000}).encode())

    invoke(bucket, "Create", properties(domain.endpoint))

    (put,) = bucket.puts
    answer = put.json()
    assert len(put.body) < MAX_RESPONSE_BYTES == 4096
    assert answer["Status"] == "FAILED" and "HTTP 500" in answer["Reason"]


def test_a_domain_whose_certificate_cannot_be_verified_is_not_called(
    domain: SecurityApiServer, bucket: ResponseBucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE")

    answer = invoke(bucket, "Create", properties(domain.endpoint))

    assert answer["Status"] == "FAILED" and "certificate" in answer["Reason"].lower()
    assert domain.api.calls == []


# -- the answer ------------------------------------------------------------------------------------
def test_the_answer_is_a_put_with_an_empty_content_type_and_its_length(
    domain: SecurityApiServer, bucket: ResponseBucket
) -> None:
    invoke(bucket, "Create", properties(domain.endpoint))

    put = the_put(bucket)
    assert put.path.endswith("&" + ResponseBucket.SIGNATURE)
    assert put.header("Content-Type") == ""
    assert put.header("Content-Length") == str(len(put.body))
    names = [name.lower() for name, _ in put.headers]
    assert names.count("content-type") == names.count("content-length") == 1
    assert set(put.json()) == {
        "Status", "Reason", "PhysicalResourceId", "StackId", "RequestId", "LogicalResourceId", "Data",
    }  # fmt: skip


def test_an_answer_the_bucket_refuses_once_is_sent_again(domain: SecurityApiServer, bucket: ResponseBucket) -> None:
    bucket.fail_next = 1

    resource.handler(
        {
            "RequestType": "Create", "ResponseURL": bucket.url("retry"), "StackId": STACK, "RequestId": "r",
            "LogicalResourceId": "RoleMappings", "ResourceProperties": properties(domain.endpoint),
        },
        FakeContext(),
    )  # fmt: skip

    assert [put.json()["Status"] for put in bucket.puts] == ["SUCCESS", "SUCCESS"]


def test_each_step_is_one_json_line_without_the_urls_signature(
    domain: SecurityApiServer, bucket: ResponseBucket, capsys: pytest.CaptureFixture[str]
) -> None:
    invoke(bucket, "Create", properties(domain.endpoint))

    out = capsys.readouterr().out
    lines = [json.loads(line) for line in out.splitlines()]
    assert ResponseBucket.SIGNATURE not in out and "X-Amz-Signature" not in out
    assert [line["message"] for line in lines] == ["request", "applied", "responded"]
    assert lines[1]["changed"] == [
        f"{kind}/{role}" for role in (rm.WRITE_ROLE, rm.READ_ROLE, rm.SWEEP_ROLE) for kind in KINDS
    ]
    assert lines[2]["status"] == "SUCCESS" and lines[2]["httpStatus"] == 200


def test_the_handler_path_the_stack_uses_names_this_handler() -> None:
    module, _, name = rm.RESOURCE_HANDLER.rpartition(".")

    assert getattr(importlib.import_module(module), name) is resource.handler
