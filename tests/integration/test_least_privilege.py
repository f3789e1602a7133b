"""Least privilege, checked against what the code really does.

DynamoDB Local and moto enforce no IAM, so the other integration tests cannot notice a
function whose role lacks a permission its code needs: on AWS that is a 500. Here every
route of folio.contracts.ROUTES (and the upload and lifecycle workers) runs through its own handler on
the real engines while a botocore hook records each AWS call, attributed to the function
being invoked. Each call becomes an IAM action on a resource ARN, and that ARN is
compared with the statements of *that* function's policy in the synthesized sandbox
template; a statement's string conditions are evaluated against the request (S3's
`s3:prefix` of a listing). The opposite direction (granted, never used) is reported too, and must be
empty for DynamoDB.

Calls that botocore never sends are checked as well: presigned URLs (the hook sees them
being built) and presigned POSTs (the signed policy says which bucket and key), and the
KMS calls AWS makes with the caller's credentials on its behalf (the key comes from the
encryption settings of the table, bucket or secret in the template).

Template expressions are rendered into comparable strings: a table is named by its key
schema (`<documents>`, `<idempotency>`), other resources by stack and logical id, and the
runtime names the test engines use are translated through the functions' environment
(the test's TABLE_NAME is whatever the deployed TABLE_NAME renders to).

The drive runs twice: against the sandbox (no DAX), and against dev with the reads of
stacks/read_path.py going through DAX (the fake cluster of tests/support/fake_dax.py). The fake
records every request it serves; each is attributed to the invocation that was current while it
was served, and becomes two accesses of that function: the `dax:` action on the cluster's ARN
(the function's DAX_ENDPOINT is the cluster's endpoint attribute, so the ARN is the same
cluster's `Arn` attribute, rendered as the policy's is), and the DynamoDB read the breaker
falls back to while DAX fails (folio.dax.DaxReads reads the same table or index directly with
the same operation), which the function's own DynamoDB grants must cover although a healthy
cluster never makes it (one more drive, with the cluster stopped, shows that the fallback makes
exactly those reads). Through DAX only the cluster role's permissions apply, so each request's
table or index must also be readable by the role of the cluster that served it.
"""

from __future__ import annotations

import base64
import contextvars
import dataclasses
import fnmatch
import importlib
import json
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import aws_cdk as cdk
import boto3
import pytest
import requests
import urllib3

from folio import keys
from folio.contracts import ROUTES, FunctionGroup, Route
from folio.handlers import (
    API_HANDLERS,
    LIFECYCLE_WORKER_HANDLER,
    SEARCH_SWEEP_HANDLER,
    UPLOAD_WORKER_HANDLER,
    upload_worker,
    wiring,
)
from folio.handlers import search_sweep as sweep_handler
from folio.search_index import SEARCH_PATH
from folio.search_role_mappings import documents_roles
from folio.search_sweep import BULK_PATH
from folio.settings import Env
from folio.storage import DocumentStorage
from stacks.config import load_config
from stacks.read_path import READS_THROUGH_DAX
from tests.conftest import Synthesized
from tests.integration.conftest import (
    ADMINS,
    BUCKET,
    IDEMPOTENCY_TABLE,
    PREFIX,
    REGION,
    TABLE,
    Api,
    Engines,
    FakeContext,
    Reply,
    SearchFeed,
    new_user,
    reading_through,
)
from tests.support.fake_dax import DaxRequest, FakeDax
from tests.support.templates import as_list

PARTITION = "aws"  # the template's own literal ARNs say "arn:aws:"; both sides render with it
# The services the runtime code calls; every grant of these must be exercised (DynamoDB, DAX)
# or is reported (S3, Secrets Manager). Logs, X-Ray, ENIs and the dead-letter queue are
# used by Lambda itself, not by the code, so no test run can exercise them.
CALLED_SERVICES = ("dax", "dynamodb", "es", "s3", "secretsmanager")
CONTENT = b"%PDF-1.7 least privilege\n" * 8


# -- who is calling -------------------------------------------------------------------------


@dataclass(frozen=True)
class Function:
    name: str
    handler: str  # the template's AWS::Lambda::Function Handler


FUNCTIONS = {group: Function(group.value, API_HANDLERS[group]) for group in FunctionGroup}
UPLOAD_WORKER = Function("upload-worker", UPLOAD_WORKER_HANDLER)
LIFECYCLE_WORKER = Function("lifecycle-worker", LIFECYCLE_WORKER_HANDLER)
ALL_FUNCTIONS = (*FUNCTIONS.values(), UPLOAD_WORKER, LIFECYCLE_WORKER)
# The Search stack's index sweep, where features.search: driven by its own test below.
SEARCH_SWEEP = Function("search-sweep", SEARCH_SWEEP_HANDLER)


@dataclass(frozen=True)
class Invocation:
    function: Function
    label: str  # the route or event, for the report


CURRENT: contextvars.ContextVar[Invocation | None] = contextvars.ContextVar("invocation", default=None)


# -- what is called -------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A resource as the runtime code names it (test engines' names)."""

    service: str  # dax | dynamodb | es | s3 | secretsmanager
    name: str  # DAX or search endpoint URL, table name, bucket name or secret id
    path: str = ""  # "/index/<name>" of a table, "/<key>" of an object, "/<path>" on a search domain
    # The request's condition keys that Folio's policies test, e.g. (("s3:prefix", "documents/u/d"),)
    context: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Access:
    invocation: Invocation
    operation: str  # what the code did, e.g. "TransactWriteItems/Put", "presigned GetObject"
    action: str  # the IAM action it needs
    target: Target | None  # None: an operation this test does not know how to map


TRANSACT_WRITE_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
S3_OBJECT_ACTIONS = {
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "PutObject": "s3:PutObject",
    "DeleteObject": "s3:DeleteObject",
}
S3_BUCKET_ACTIONS = {
    "ListObjectsV2": "s3:ListBucket",
    "HeadBucket": "s3:ListBucket",
    "ListObjectVersions": "s3:ListBucketVersions",
}


def dynamodb_accesses(operation: str, params: dict[str, Any]) -> Iterator[tuple[str, str, Target | None]]:
    if operation in ("TransactWriteItems", "TransactGetItems"):
        for item in params["TransactItems"]:
            ((kind, request),) = item.items()
            action = TRANSACT_WRITE_ACTIONS.get(kind, "GetItem" if kind == "Get" else kind)
            yield f"{operation}/{kind}", f"dynamodb:{action}", Target("dynamodb", request["TableName"])
    elif operation in ("BatchGetItem", "BatchWriteItem"):
        for table in params["RequestItems"]:
            yield operation, f"dynamodb:{operation}", Target("dynamodb", table)
    elif "TableName" in params:
        index = params.get("IndexName")
        path = f"/index/{index}" if index else ""
        yield operation, f"dynamodb:{operation}", Target("dynamodb", params["TableName"], path)
    else:
        yield operation, f"dynamodb:{operation}", None


def s3_accesses(operation: str, params: dict[str, Any]) -> Iterator[tuple[str, str, Target | None]]:
    if operation == "DeleteObject" and "VersionId" in params:
        # Deleting one version (not adding a delete marker) is an action of its own.
        yield f"{operation}/VersionId", "s3:DeleteObjectVersion", Target("s3", params["Bucket"], f"/{params['Key']}")
    elif operation in S3_OBJECT_ACTIONS:
        yield operation, S3_OBJECT_ACTIONS[operation], Target("s3", params["Bucket"], f"/{params['Key']}")
    elif operation in S3_BUCKET_ACTIONS:
        # A listing's Prefix is what IAM's s3:prefix condition key tests.
        context = (("s3:prefix", params["Prefix"]),) if "Prefix" in params else ()
        yield operation, S3_BUCKET_ACTIONS[operation], Target("s3", params["Bucket"], context=context)
    else:
        yield operation, f"s3:{operation}", None


def secretsmanager_accesses(operation: str, params: dict[str, Any]) -> Iterator[tuple[str, str, Target | None]]:
    target = Target("secretsmanager", params["SecretId"]) if operation == "GetSecretValue" else None
    yield operation, f"secretsmanager:{operation}", target


MAPPERS: dict[str, Callable[[str, dict[str, Any]], Iterator[tuple[str, str, Target | None]]]] = {
    "dynamodb": dynamodb_accesses,
    "s3": s3_accesses,
    "secretsmanager": secretsmanager_accesses,
}


def dax_accesses(endpoint: str, request: DaxRequest) -> Iterator[tuple[str, str, Target]]:
    """A read the DAX cluster at `endpoint` served: the `dax:` action on the cluster, and the
    DynamoDB read folio.dax.DaxReads makes instead while DAX fails (same operation, same table
    or index, straight to DynamoDB with the function's own role)."""
    assert request.action is not None and request.table is not None, f"not a data-plane request: {request}"
    yield f"DAX {request.method}", request.action, Target("dax", endpoint)
    path = f"/index/{request.index}" if request.index else ""
    yield f"fallback for DAX {request.method}", f"dynamodb:{request.method}", Target("dynamodb", request.table, path)


def signed_post_target(form: dict[str, Any]) -> Target:
    """The bucket and key a presigned POST lets its holder write, from the signed policy
    itself (S3 authorizes the upload against the signer's s3:PutObject)."""
    policy = json.loads(base64.b64decode(form["fields"]["policy"]))
    bucket, key = None, "*"  # no key condition: any key
    for condition in policy["conditions"]:
        if isinstance(condition, dict) and "bucket" in condition:
            bucket = condition["bucket"]
        elif isinstance(condition, dict) and "key" in condition:
            key = condition["key"]
        elif isinstance(condition, list) and condition[:2] == ["starts-with", "$key"]:
            key = f"{condition[2]}*"
    assert bucket is not None, f"a presigned POST without a bucket condition: {policy}"
    return Target("s3", bucket, f"/{key}")


@dataclass(frozen=True)
class ServedByDax:
    """A read the DAX cluster served during an invocation, as the fake recorded it."""

    invocation: Invocation
    endpoint: str
    request: DaxRequest


@dataclass
class Recording:
    dax: FakeDax | None = None  # the cluster the functions read through, if any
    accesses: list[Access] = field(default_factory=list)
    served_by_dax: list[ServedByDax] = field(default_factory=list)
    # The functions' environment during the drive: test value of each variable, for the renderer.
    environment: dict[str, str] = field(default_factory=dict)
    presigned_posts: int = 0  # seen being built by botocore
    read_posts: int = 0  # whose signed policy this test read
    routes: set[tuple[str, str]] = field(default_factory=set)
    worker_outcomes: set[str] = field(default_factory=set)
    removals: set[str] = field(default_factory=set)  # the lifecycle worker's records, by kind

    def hook(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        """botocore's provide-client-params: every API call, and every presigned request
        being built (context["is_presign_request"]), before anything is sent."""
        invocation = CURRENT.get()
        if invocation is None:
            return  # the test's own set-up calls
        service, operation = model.service_model.service_name, model.name
        presigned = bool(context.get("is_presign_request"))
        if presigned and service == "s3" and operation == "CreateBucket":
            self.presigned_posts += 1  # a POST policy; upload_form's wrapper reads its key
            return
        unmapped = [(operation, f"{service}:{operation}", None)]
        for what, action, target in MAPPERS[service](operation, params) if service in MAPPERS else unmapped:
            self.accesses.append(Access(invocation, f"presigned {what}" if presigned else what, action, target))

    def read_post(self, form: dict[str, Any]) -> None:
        invocation = CURRENT.get()
        assert invocation is not None, "a presigned POST outside any invocation"
        self.read_posts += 1
        self.accesses.append(Access(invocation, "presigned POST", "s3:PutObject", signed_post_target(form)))

    @contextmanager
    def invocation(self, function: Function, label: str) -> Iterator[None]:
        # Any request may land on a fresh container: drop wiring's cached settings, clients
        # and secret, so cold-start calls are made (and attributed) on every invocation.
        for value in vars(wiring).values():
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()
        invocation = Invocation(function, label)
        token = CURRENT.set(invocation)
        # Invocations run one after another, so what the cluster served meanwhile (the
        # admin feed's shards from a thread pool included) was served for this one.
        already_served = 0 if self.dax is None else len(self.dax.data_requests())
        try:
            yield
        finally:
            CURRENT.reset(token)
            if self.dax is not None:
                for request in self.dax.data_requests()[already_served:]:
                    self.served_by_dax.append(ServedByDax(invocation, self.dax.endpoint_url, request))
                    for what, action, target in dax_accesses(self.dax.endpoint_url, request):
                        self.accesses.append(Access(invocation, what, action, target))

    def of(self, function: Function) -> list[Access]:
        return [a for a in self.accesses if a.invocation.function == function]

    def search_request(self, method: str, url: str) -> None:
        """An HTTP request to the search engine (SEARCH_ENDPOINT) from inside an invocation: an
        OpenSearch Service domain authorizes it as es:ESHttp<Method> on the domain's ARN + path."""
        invocation = CURRENT.get()
        endpoint = os.environ.get(Env.SEARCH_ENDPOINT, "").rstrip("/")
        if invocation is None or not endpoint or not url.startswith(endpoint + "/"):
            return  # the test's own feed and checks
        path = url.removeprefix(endpoint).split("?", 1)[0]
        action = f"es:ESHttp{method.capitalize()}"
        self.accesses.append(Access(invocation, f"{method} {path}", action, Target("es", endpoint, path)))


# -- driving every route ----------------------------------------------------------------------


def route_of(method: str, path: str) -> Route:
    for route in ROUTES:
        pattern = re.sub(r"\{[^}]+\}", "[^/]+", route.path)
        if route.method == method and re.fullmatch(pattern, path):
            return route
    raise AssertionError(f"{method} {path} is no route of folio.contracts.ROUTES")


@dataclass
class Driver:
    api: Api
    engines: Engines
    recording: Recording
    search_feed: SearchFeed

    def call(self, group: FunctionGroup, method: str, path: str, *, expect: int | None = None, **event: Any) -> Reply:
        route = route_of(method, path)
        assert route.group is group, f"{method} {route.path} belongs to {route.group}, not {group}"
        assert f"{self.api.modules[group.value].__name__}.handler" == FUNCTIONS[group].handler
        label = f"{method} {route.path}" + (f"?{'&'.join(event['query'])}" if event.get("query") else "")
        with self.recording.invocation(FUNCTIONS[group], label):
            reply = self.api.call(group.value, method, path, **event)
        assert reply.status == (expect or route.success), f"{label}: {reply.status} {reply.body}"
        self.recording.routes.add((route.method, route.path))
        return reply

    def create(self, owner: str, *, size: int = len(CONTENT), **headers: str) -> dict[str, Any]:
        body = {"name": "report.pdf", "contentType": "application/pdf", "size": size, "tags": ["alpha", "beta"]}
        reply = self.call(FunctionGroup.CREATE, "POST", "/documents", sub=owner, body=body, headers=headers)
        created: dict[str, Any] = reply.body
        return created

    def settle(self, key: str) -> str:
        event = {
            "source": "aws.s3",
            "detail-type": "Object Created",
            "detail": {"bucket": {"name": BUCKET}, "object": {"key": key, "size": 0}},
        }
        with self.recording.invocation(UPLOAD_WORKER, "Object Created"):
            outcome = str(upload_worker.handler(event, FakeContext())["outcome"])
        self.recording.worker_outcomes.add(outcome)
        return outcome

    def document_item(self, owner: str, doc_id: str) -> dict[str, Any]:
        """The document's item as the stream's OldImage carries it (read by the test itself)."""
        key = {
            keys.PARTITION_KEY: {"S": keys.user_partition(owner)},
            keys.SORT_KEY: {"S": keys.document_sort_key(doc_id)},
        }
        item: dict[str, Any] = self.engines.dynamodb.get_item(TableName=TABLE, Key=key)["Item"]
        return item

    def remove(self, old_image: dict[str, Any], kind: str) -> None:
        """Hand the lifecycle worker the stream record of the item's removal, as Lambda's
        mapping delivers it; `kind` "ttl" marks it as TTL's own deletion."""
        handler = importlib.import_module(LIFECYCLE_WORKER_HANDLER.rsplit(".", 1)[0]).handler
        record: dict[str, Any] = {
            "eventID": uuid.uuid4().hex,
            "eventName": "REMOVE",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": REGION,
            "dynamodb": {
                "ApproximateCreationDateTime": time.time(),
                "Keys": {k: old_image[k] for k in (keys.PARTITION_KEY, keys.SORT_KEY)},
                "OldImage": old_image,
                "SequenceNumber": str(len(self.recording.removals) + 1).zfill(21),
                "SizeBytes": 512,
                "StreamViewType": "NEW_AND_OLD_IMAGES",
            },
            "eventSourceARN": f"arn:aws:dynamodb:{REGION}:123456789012:table/{TABLE}/stream/2026-11-29T00:00:00.000",
        }
        if kind == "ttl":
            record["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
        with self.recording.invocation(LIFECYCLE_WORKER, f"REMOVE ({kind})"):
            response = handler({"Records": [record]}, FakeContext())
        assert response == {"batchItemFailures": []}, f"the lifecycle worker failed the {kind} removal: {response}"
        self.recording.removals.add(kind)


def drive_every_route(driver: Driver) -> None:
    """Every route on its success path, plus the upload worker's two outcomes, plus one keyed
    create that fails (Powertools then deletes its idempotency record), plus the lifecycle
    worker's two kinds of removal (a purge's, and TTL's of a pending upload)."""
    read, modify = FunctionGroup.READ, FunctionGroup.MODIFY
    owner, grantee, admin = new_user(), new_user(), new_user()

    first = driver.create(owner)
    keyed = driver.create(owner, **{"Idempotency-Key": "least-privilege-1"})
    replayed = driver.create(owner, **{"Idempotency-Key": "least-privilege-1"})
    assert replayed["document"]["id"] == keyed["document"]["id"]
    too_large = 10**12
    driver.call(
        FunctionGroup.CREATE,
        "POST",
        "/documents",
        expect=413,
        sub=owner,
        body={"name": "huge.pdf", "contentType": "application/pdf", "size": too_large},
        headers={"Idempotency-Key": "least-privilege-2"},
    )

    doc_id = first["document"]["id"]
    form = first["upload"]
    uploaded = requests.post(form["url"], data=form["fields"], files={"file": ("r.pdf", CONTENT)}, timeout=10)
    assert uploaded.status_code in (200, 204), uploaded.text
    assert driver.settle(f"{PREFIX}{owner}/{doc_id}") == "available"
    mismatch_key = f"{PREFIX}{owner}/{keyed['document']['id']}"
    driver.engines.s3.put_object(Bucket=BUCKET, Key=mismatch_key, Body=CONTENT + b"!", ContentType="application/pdf")
    assert driver.settle(mismatch_key) == "deleted:mismatch"
    driver.create(owner)  # a second live document, so the first page has a cursor
    driver.search_feed.catch_up()  # what the pipeline would have indexed by now
    found = driver.call(FunctionGroup.SEARCH, "GET", "/search", sub=owner, query={"limit": "1"})
    assert "cursor" in found.body, found.body
    driver.call(FunctionGroup.SEARCH, "GET", "/search", sub=owner, query={"limit": "1", "cursor": found.body["cursor"]})

    page = driver.call(read, "GET", "/documents", sub=owner, query={"limit": "1"})
    assert "cursor" in page.body, page.body
    driver.call(read, "GET", "/documents", sub=owner, query={"limit": "1", "cursor": page.body["cursor"]})
    driver.call(read, "GET", "/documents", sub=owner, query={"tag": "alpha"})
    driver.call(read, "GET", "/documents", sub=owner, query={"type": "pdf"})
    version = driver.call(read, "GET", f"/documents/{doc_id}", sub=owner).body["version"]
    driver.call(
        modify,
        "PATCH",
        f"/documents/{doc_id}",
        sub=owner,
        headers={"If-Match": f'"{version}"'},
        body={"name": "renamed.pdf", "tags": ["alpha", "gamma"]},
    )
    driver.call(modify, "PUT", f"/documents/{doc_id}/shares/{grantee}", sub=owner)
    driver.call(read, "GET", "/shared", sub=grantee)
    driver.call(FunctionGroup.DOWNLOAD, "GET", f"/documents/{doc_id}/download", sub=grantee)
    driver.call(FunctionGroup.DOWNLOAD, "GET", f"/documents/{doc_id}/download", sub=owner)
    driver.call(modify, "DELETE", f"/documents/{doc_id}/shares/{grantee}", sub=owner)
    driver.call(modify, "DELETE", f"/documents/{doc_id}", sub=owner)
    driver.call(read, "GET", "/trash", sub=owner)
    driver.call(modify, "POST", f"/documents/{doc_id}/restore", sub=owner)
    driver.call(modify, "PUT", f"/documents/{doc_id}/shares/{grantee}", sub=owner)  # purge deletes shares too
    purged = driver.document_item(owner, doc_id)
    driver.call(modify, "DELETE", f"/documents/{doc_id}", sub=owner, query={"purge": "true"})
    driver.remove(purged, "purge")  # the object's versions go; the items went with the purge
    # A pending upload that expires: TTL deletes the item alone, the worker the rest and its quota.
    expiring = driver.create(owner)["document"]["id"]
    expired = driver.document_item(owner, expiring)
    driver.engines.dynamodb.delete_item(
        TableName=TABLE, Key={k: expired[k] for k in (keys.PARTITION_KEY, keys.SORT_KEY)}
    )
    driver.remove(expired, "ttl")
    driver.call(read, "GET", "/me/usage", sub=owner)
    driver.call(FunctionGroup.ADMIN, "GET", "/admin/recent", sub=admin, groups=(ADMINS,))


# -- the deployment, rendered ------------------------------------------------------------------


def wildcard(pattern: str, *, action: bool = False) -> re.Pattern[str]:
    """IAM's wildcards: `*` any run of characters, `?` one character; nothing else is special.
    Actions compare case-insensitively, resources exactly."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.IGNORECASE if action else 0)


# The condition operators this test can evaluate; a statement with any other never grants here.
STRING_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda pattern, value: pattern == value,
    "StringLike": lambda pattern, value: wildcard(pattern).fullmatch(value) is not None,
    "ArnEquals": lambda pattern, value: pattern == value,
}


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()  # (operator, key, values)

    def matches(self, action: str, resource: str) -> bool:
        return any(wildcard(a, action=True).fullmatch(action) for a in self.actions) and any(
            wildcard(r).fullmatch(resource) for r in self.resources
        )

    def holds(self, context: tuple[tuple[str, str], ...]) -> bool:
        """Every condition is met by the request's context. A key the request does not carry,
        or an operator this test cannot evaluate, fails the condition (as IAM fails a missing key)."""
        request = dict(context)
        return all(
            operator in STRING_OPERATORS
            and key in request
            and any(STRING_OPERATORS[operator](value, request[key]) for value in values)
            for operator, key, values in self.conditions
        )


class Deployment:
    """The synthesized stage, with CloudFormation expressions rendered into strings.
    `environment` is what the functions ran with here (the test engines' names)."""

    def __init__(self, synth: Synthesized, idempotency_key: str, environment: dict[str, str]) -> None:
        self.templates = synth.templates
        self.idempotency_key = idempotency_key
        self.environment = environment
        stacks = [s for s in synth.stage.node.children if isinstance(s, cdk.Stack)]
        self.stack_ids = {stack.stack_name: stack.node.id for stack in stacks}
        self.env = {stack.node.id: (stack.region, stack.account) for stack in stacks}
        for region, account in self.env.values():
            assert not cdk.Token.is_unresolved(region) and not cdk.Token.is_unresolved(account)

    # rendering
    def render(self, stack: str, value: Any) -> str:
        if isinstance(value, str):
            return value
        assert isinstance(value, dict) and len(value) == 1, f"cannot render {value!r}"
        ((function, argument),) = value.items()
        if function == "Ref":
            return self._ref(stack, argument)
        if function == "Fn::GetAtt":
            logical, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            return self._get_att(stack, logical, attribute)
        if function == "Fn::Join":
            separator, parts = argument
            return str(separator).join(self.render(stack, part) for part in parts)
        if function == "Fn::GetStackOutput":
            source = self.stack_ids[argument["StackName"]]
            return self.render(source, self.templates[source]["Outputs"][argument["OutputName"]]["Value"])
        if function == "Fn::ImportValue":
            name = self.render(stack, argument)
            for source, template in self.templates.items():
                for output in template.get("Outputs", {}).values():
                    if "Export" in output and self.render(source, output["Export"]["Name"]) == name:
                        return self.render(source, output["Value"])
            raise AssertionError(f"no stack exports {name}")
        if function == "Fn::Sub" and isinstance(argument, str):
            return re.sub(r"\$\{([^}!]+)\}", lambda m: self._sub(stack, m.group(1)), argument)
        raise AssertionError(f"the renderer does not know {function}: {value!r}")

    def _sub(self, stack: str, name: str) -> str:
        if "." in name:
            logical, attribute = name.split(".", 1)
            return self._get_att(stack, logical, attribute)
        return self._ref(stack, name)

    def _resource(self, stack: str, logical: str) -> dict[str, Any]:
        resource: dict[str, Any] = self.templates[stack]["Resources"][logical]
        return resource

    def _symbol(self, stack: str, logical: str) -> str:
        """A table by what it holds (its key schema); anything else by where it is defined."""
        resource = self._resource(stack, logical)
        if resource["Type"] in ("AWS::DynamoDB::GlobalTable", "AWS::DynamoDB::Table"):
            schema = [(k["AttributeName"], k["KeyType"]) for k in resource["Properties"]["KeySchema"]]
            if schema == [(keys.PARTITION_KEY, "HASH"), (keys.SORT_KEY, "RANGE")]:
                return "<documents>"
            if schema == [(self.idempotency_key, "HASH")]:
                return "<idempotency>"
            raise AssertionError(f"a table this test does not know: {schema}")
        return f"<{stack}/{logical}>"

    def _ref(self, stack: str, name: str) -> str:
        region, account = self.env[stack]
        pseudo = {
            "AWS::Partition": PARTITION,
            "AWS::Region": region,
            "AWS::AccountId": account,
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        kind = self._resource(stack, name)["Type"]
        if kind == "AWS::SecretsManager::Secret":
            return f"arn:{PARTITION}:secretsmanager:{region}:{account}:secret:{self._symbol(stack, name)}"
        if kind == "AWS::S3::Bucket" and "BucketName" in self._resource(stack, name)["Properties"]:
            return self.render(stack, self._resource(stack, name)["Properties"]["BucketName"])
        return self._symbol(stack, name)

    def _get_att(self, stack: str, logical: str, attribute: str) -> str:
        region, account = self.env[stack]
        kind = self._resource(stack, logical)["Type"]
        if attribute == "Arn" and kind in ("AWS::DynamoDB::GlobalTable", "AWS::DynamoDB::Table"):
            return f"arn:{PARTITION}:dynamodb:{region}:{account}:table/{self._symbol(stack, logical)}"
        if attribute == "StreamArn" and kind in ("AWS::DynamoDB::GlobalTable", "AWS::DynamoDB::Table"):
            # The stream of the stack's own Region (a global table has one per replica).
            return f"arn:{PARTITION}:dynamodb:{region}:{account}:table/{self._symbol(stack, logical)}/stream/<label>"
        if attribute == "Arn" and kind == "AWS::KMS::Key":
            return f"arn:{PARTITION}:kms:{region}:{account}:key/{self._symbol(stack, logical)}"
        if attribute == "Arn" and kind == "AWS::S3::Bucket":
            return f"arn:{PARTITION}:s3:::{self._ref(stack, logical)}"
        if attribute == "Arn" and kind == "AWS::DAX::Cluster":
            return f"arn:{PARTITION}:dax:{region}:{account}:cache/{self._symbol(stack, logical)}"
        return f"{self._symbol(stack, logical)}.{attribute}"

    # functions and their policies
    def function(self, handler: str) -> tuple[str, dict[str, Any]]:
        found = [
            (stack, function)
            for stack, function in self._resources("AWS::Lambda::Function")
            if function["Properties"].get("Handler") == handler
        ]
        assert len(found) == 1, f"{len(found)} functions run {handler}"
        return found[0]

    def statements(self, handler: str) -> list[Statement]:
        """Every statement of every policy on the function's role (managed or inline)."""
        stack, function = self.function(handler)
        return self._role_statements(stack, function["Properties"]["Role"]["Fn::GetAtt"][0])

    def cluster_statements(self, cluster_arn: str) -> list[Statement]:
        """Every statement on the role of the DAX cluster with this ARN: what it may do when a
        client's read reaches DynamoDB through it."""
        for stack, cluster in self._resources("AWS::DAX::Cluster"):
            if self._get_att(stack, cluster["logical"], "Arn") == cluster_arn:
                return self._role_statements(stack, cluster["Properties"]["IAMRoleARN"]["Fn::GetAtt"][0])
        raise AssertionError(f"no DAX cluster of the deployment is {cluster_arn}")

    def clusters(self) -> list[str]:
        """The ARN of every DAX cluster of the deployment."""
        return [self._get_att(stack, c["logical"], "Arn") for stack, c in self._resources("AWS::DAX::Cluster")]

    def _role_statements(self, stack: str, role: str) -> list[Statement]:
        resources = self.templates[stack]["Resources"]
        documents = [
            resources[ref["Ref"]]["Properties"]["PolicyDocument"]
            for ref in resources[role]["Properties"].get("ManagedPolicyArns", [])
        ]
        documents += [p["PolicyDocument"] for p in resources[role]["Properties"].get("Policies", [])]
        documents += [
            r["Properties"]["PolicyDocument"]
            for r in resources.values()
            if r["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
            and {"Ref": role} in r["Properties"].get("Roles", [])
        ]
        statements = []
        for document in documents:
            for raw in document["Statement"]:
                assert "NotAction" not in raw and "NotResource" not in raw, f"cannot evaluate {raw}"
                actions, targets = raw["Action"], raw["Resource"]
                actions = actions if isinstance(actions, list) else [actions]
                targets = targets if isinstance(targets, list) else [targets]
                rendered = tuple(self.render(stack, t) for t in targets)
                conditions = tuple(
                    (
                        operator,
                        key,
                        tuple(self.render(stack, v) for v in (values if isinstance(values, list) else [values])),
                    )
                    for operator, tests in raw.get("Condition", {}).items()
                    for key, values in tests.items()
                )
                statements.append(Statement(raw["Effect"], tuple(actions), rendered, conditions))
        return statements

    def endpoint_statements(self, service: str) -> list[Statement]:
        """The policy statements of the VPC's gateway endpoint for `service` (dynamodb, s3)."""
        found = []
        for stack, endpoint in self._resources("AWS::EC2::VPCEndpoint"):
            properties = endpoint["Properties"]
            if properties.get("VpcEndpointType", "Gateway") != "Gateway":
                continue
            if not self.render(stack, properties["ServiceName"]).endswith(f".{service}"):
                continue
            for raw in properties["PolicyDocument"]["Statement"]:
                found.append(
                    Statement(
                        raw["Effect"],
                        tuple(as_list(raw["Action"])),
                        tuple(self.render(stack, r) for r in as_list(raw["Resource"])),
                        tuple(
                            (operator, key, tuple(self.render(stack, v) for v in as_list(values)))
                            for operator, tests in raw.get("Condition", {}).items()
                            for key, values in tests.items()
                        ),
                    )
                )
        assert found, f"no gateway endpoint for {service}"
        return found

    def role_arn(self, handler: str) -> str:
        """The function's role's ARN as another statement names it: by its fixed name, or (a role
        named by CloudFormation) as the same symbol its Fn::GetAtt renders to."""
        stack, function = self.function(handler)
        _, account = self.env[stack]
        logical = function["Properties"]["Role"]["Fn::GetAtt"][0]
        role = self._resource(stack, logical)["Properties"]
        if "RoleName" not in role:
            return self.render(stack, {"Fn::GetAtt": [logical, "Arn"]})
        return f"arn:{PARTITION}:iam::{account}:role/{self.render(stack, role['RoleName'])}"

    def access_policy_admits(self, principal_arn: str, action: str, resource: str) -> bool:
        """Whether the access policy of the search domain that owns `resource` allows the role
        `principal_arn` this call: named as the principal, or under its account's principal with
        the role in `aws:PrincipalArn`."""
        for stack, domain in self._resources("AWS::OpenSearchService::Domain"):
            region, account = self.env[stack]
            domain_arn = f"arn:{PARTITION}:es:{region}:{account}:domain/{domain['Properties']['DomainName']}"
            if not resource.startswith(domain_arn + "/"):
                continue
            for raw in domain["Properties"]["AccessPolicies"]["Statement"]:
                principals = [self.render(stack, p) for p in as_list(raw["Principal"]["AWS"])]
                statement = Statement(
                    raw["Effect"],
                    tuple(as_list(raw["Action"])),
                    tuple(self.render(stack, r) for r in as_list(raw["Resource"])),
                    tuple(
                        (operator, key, tuple(self.render(stack, v) for v in as_list(values)))
                        for operator, tests in raw.get("Condition", {}).items()
                        for key, values in tests.items()
                    ),
                )
                named = principal_arn in principals or f"arn:{PARTITION}:iam::{account}:root" in principals
                if (
                    raw["Effect"] == "Allow"
                    and named
                    and statement.matches(action, resource)
                    and statement.holds((("aws:PrincipalArn", principal_arn),))
                ):
                    return True
        return False

    def names(self, handler: str) -> dict[str, str]:
        """Test-engine value -> deployed value, for every environment variable of the function."""
        stack, function = self.function(handler)
        variables = function["Properties"]["Environment"]["Variables"]
        names: dict[str, str] = {}
        for variable, value in variables.items():
            if variable in self.environment:
                deployed = self.render(stack, value)
                assert names.setdefault(self.environment[variable], deployed) == deployed, f"{variable} is ambiguous"
        return names

    def cluster_arn(self, handler: str, endpoint: str) -> str | None:
        """The ARN of the DAX cluster whose endpoint the function was given as `endpoint`, or
        None if no environment variable of the function names it."""
        stack, function = self.function(handler)
        for variable, value in function["Properties"]["Environment"]["Variables"].items():
            if self.environment.get(variable) != endpoint:
                continue
            logical, attribute = value["Fn::GetAtt"] if isinstance(value, dict) and "Fn::GetAtt" in value else ("", "")
            if (
                attribute != "ClusterDiscoveryEndpointURL"
                or self._resource(stack, logical)["Type"] != "AWS::DAX::Cluster"
            ):
                raise AssertionError(f"{variable} of {handler} is no DAX cluster's endpoint: {value!r}")
            return self.render(stack, {"Fn::GetAtt": [logical, "Arn"]})
        return None

    def domain_arn(self, handler: str, endpoint: str) -> str | None:
        """The ARN of the search domain whose endpoint the function was given as `endpoint`
        ("https://" + the domain's DomainEndpoint), or None if no variable of the function names it."""
        stack, function = self.function(handler)
        for variable, value in function["Properties"]["Environment"]["Variables"].items():
            if self.environment.get(variable) != endpoint:
                continue
            rendered = self.render(stack, value)
            found = re.fullmatch(r"https://<([^/]+)/([^>]+)>\.DomainEndpoint", rendered)
            if found is None or self._resource(*found.groups())["Type"] != "AWS::OpenSearchService::Domain":
                raise AssertionError(f"{variable} of {handler} is no search domain's endpoint: {rendered!r}")
            domain_stack, logical = found.groups()
            region, account = self.env[domain_stack]
            name = self._resource(domain_stack, logical)["Properties"]["DomainName"]
            return f"arn:{PARTITION}:es:{region}:{account}:domain/{name}"
        return None

    def arn(self, handler: str, target: Target) -> str | None:
        """The target's ARN in the deployment, or None if no environment variable names it."""
        if target.service == "dax":
            return self.cluster_arn(handler, target.name)
        if target.service == "es":
            domain = self.domain_arn(handler, target.name)
            return None if domain is None else f"{domain}{target.path}"
        stack, _ = self.function(handler)
        region, account = self.env[stack]
        deployed = self.names(handler).get(target.name)
        if deployed is None:
            return None
        if target.service == "dynamodb":
            return f"arn:{PARTITION}:dynamodb:{region}:{account}:table/{deployed}{target.path}"
        if target.service == "s3":
            return f"arn:{PARTITION}:s3:::{deployed}{target.path}"
        return deployed  # a secret's id is its ARN

    def event_sources(self, handler: str) -> list[tuple[str, str | None, str | None]]:
        """(source ARN, on-failure destination ARN, that destination's key ARN) of every event
        source mapping that invokes the function. Lambda's poller reads the source and writes
        the destination with the function's role, so no run of the code can exercise those."""
        stack, function = self.function(handler)
        found = []
        for _, mapping in self._resources("AWS::Lambda::EventSourceMapping"):
            properties = mapping["Properties"]
            if properties["FunctionName"] != {"Ref": function["logical"]}:
                continue
            destination = properties.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
            key = None
            if destination is not None:
                queue = self._resource(stack, destination["Fn::GetAtt"][0])["Properties"]
                key = self.render(stack, queue["KmsMasterKeyId"]) if "KmsMasterKeyId" in queue else None
            found.append(
                (
                    self.render(stack, properties["EventSourceArn"]),
                    None if destination is None else self.render(stack, destination),
                    key,
                )
            )
        return found

    # encryption: which key AWS uses with the caller's credentials
    def _resources(self, *kinds: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for stack, template in self.templates.items():
            for logical, resource in template.get("Resources", {}).items():
                if resource["Type"] in kinds:
                    yield stack, {"logical": logical, **resource}

    def key_of(self, handler: str, target: Target) -> str | None:
        """The customer-managed key that encrypts the target, or None (AWS-owned or managed)."""
        arn = self.arn(handler, target)
        if target.service == "dynamodb":
            for stack, table in self._resources("AWS::DynamoDB::GlobalTable", "AWS::DynamoDB::Table"):
                if arn is not None and arn.startswith(self._get_att(stack, table["logical"], "Arn")):
                    sse = table["Properties"].get("SSESpecification", {})
                    for replica in table["Properties"].get("Replicas", []):
                        if self.render(stack, replica.get("Region", {"Ref": "AWS::Region"})) == self.env[stack][0]:
                            sse = replica.get("SSESpecification", sse)
                    key = sse.get("KMSMasterKeyId")
                    return None if key is None else self.render(stack, key)
        if target.service == "s3":
            for stack, bucket in self._resources("AWS::S3::Bucket"):
                if self._ref(stack, bucket["logical"]) == self.names(handler).get(target.name):
                    rules = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
                    default = rules[0]["ServerSideEncryptionByDefault"]
                    key = default.get("KMSMasterKeyID") if default["SSEAlgorithm"].startswith("aws:kms") else None
                    return None if key is None else self.render(stack, key)
        if target.service == "secretsmanager":
            for stack, secret in self._resources("AWS::SecretsManager::Secret"):
                if self._ref(stack, secret["logical"]) == arn:
                    key = secret["Properties"].get("KmsKeyId")
                    return None if key is None else self.render(stack, key)
        raise AssertionError(f"no resource of the deployment is {target}")


def implicit_kms_action(access: Access) -> str | None:
    """The KMS call AWS makes with the caller's credentials for this access, if any. A lower
    bound, as documented: DynamoDB decrypts the table key for a request on a table with a
    customer-managed key, Secrets Manager decrypts the secret, S3 needs GenerateDataKey to
    write and Decrypt to read an SSE-KMS object (HeadObject and DeleteObject need neither)."""
    assert access.target is not None
    if access.target.service in ("dynamodb", "secretsmanager"):
        return "kms:Decrypt"
    if access.action == "s3:PutObject":
        return "kms:GenerateDataKey"
    if access.operation in ("GetObject", "presigned GetObject"):
        return "kms:Decrypt"
    return None


# Granted but never exercised, on purpose: (function, action, resource as the code names it).
# What Lambda's poller does with the function's role for a DynamoDB stream mapping (the
# Lambda developer guide's list for DynamoDB event sources, and SQS on-failure destinations).
STREAM_POLLER_ACTIONS = (
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
)
FAILURE_DESTINATION_ACTIONS = ("sqs:SendMessage",)
ENCRYPTED_DESTINATION_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")

UNEXERCISED_ON_PURPOSE: tuple[tuple[Function, str, Target], ...] = (
    # Powertools reads the idempotency record with GetItem only when a failed conditional
    # put does not return the old item (ReturnValuesOnConditionCheckFailure); DynamoDB and
    # DynamoDB Local always return it, so no test can reach the fallback.
    (FUNCTIONS[FunctionGroup.CREATE], "dynamodb:GetItem", Target("dynamodb", IDEMPOTENCY_TABLE)),
)


@dataclass(frozen=True)
class Finding:
    function: Function
    action: str
    resource: str
    why: str

    def __str__(self) -> str:
        return f"function {self.function.name} calls {self.action} on {self.resource} ({self.why})"


@dataclass
class Verdict:
    denied: list[Finding]
    kms_denied: list[Finding]
    unexercised: list[tuple[Function, str, str]]

    def report(self) -> str:
        lines = [f"{f}, which its policy does not allow" for f in self.denied + self.kms_denied]
        lines += [
            "Granted, but no recorded call used it (for KMS: beyond the documented lower bound of "
            "implicit_kms_action; Lambda itself also uses the log key for the environment and the "
            "dead-letter queue):"
        ]
        lines += [f"  function {f.name}: {a} on {r}" for f, a, r in self.unexercised]
        return "\n".join(lines)


def unique(findings: list[Finding]) -> list[Finding]:
    """One finding per (function, action, resource): the first call that needed it."""
    first: dict[tuple[Function, str, str], Finding] = {}
    for finding in findings:
        first.setdefault((finding.function, finding.action, finding.resource), finding)
    return list(first.values())


def allowed(statements: list[Statement], action: str, resource: str, context: tuple[tuple[str, str], ...] = ()) -> bool:
    if any(s.effect == "Deny" and s.matches(action, resource) for s in statements):
        return False
    return any(s.effect == "Allow" and s.matches(action, resource) and s.holds(context) for s in statements)


def searches_nothing_there(deployment: Deployment, function: Function, access: Access) -> bool:
    """A search call in an environment without a domain: the function there has no
    SEARCH_ENDPOINT and answers 503 without calling anything (tests/integration/test_search.py),
    so its calls to the test engine are not this deployment's."""
    _, deployed = deployment.function(function.handler)
    return (
        access.target is not None
        and access.target.service == "es"
        and Env.SEARCH_ENDPOINT not in deployed["Properties"]["Environment"]["Variables"]
    )


def judge(deployment: Deployment, recording: Recording) -> Verdict:
    denied: list[Finding] = []
    kms_denied: list[Finding] = []
    unexercised: list[tuple[Function, str, str]] = []
    for function in ALL_FUNCTIONS:
        statements = deployment.statements(function.handler)
        used: set[tuple[str, str]] = set()
        needed_kms: set[tuple[str, str, str]] = set()
        for access in recording.of(function):
            why = f"{access.operation} in {access.invocation.label}"
            arn = None if access.target is None else deployment.arn(function.handler, access.target)
            if arn is None and searches_nothing_there(deployment, function, access):
                continue
            if arn is None:
                denied.append(Finding(function, access.action, str(access.target), f"unmapped: {why}"))
                continue
            used.add((access.action, arn))
            if not allowed(statements, access.action, arn, access.target.context if access.target else ()):
                denied.append(Finding(function, access.action, arn, why))
            kms = implicit_kms_action(access)
            key = None if kms is None else deployment.key_of(function.handler, access.target)
            if kms is not None and key is not None:
                needed_kms.add((kms, key, why))
        for action, key, why in sorted(needed_kms):
            used.add((action, key))
            if not allowed(statements, action, key):
                kms_denied.append(Finding(function, action, key, f"implicit, for {why}"))
        for statement in statements:
            if statement.effect != "Allow":
                continue
            for action in statement.actions:
                if action.split(":")[0] not in (*CALLED_SERVICES, "kms"):
                    continue
                for resource in statement.resources:
                    if not any(
                        wildcard(action, action=True).fullmatch(a) and wildcard(resource).fullmatch(r) for a, r in used
                    ):
                        unexercised.append((function, action, resource))
    return Verdict(unique(denied), unique(kms_denied), unexercised)


@dataclass
class ClusterVerdict:
    """The DAX clusters' side: what each cluster's role had to do for the reads it served."""

    denied: list[str]
    unexercised: list[str]


def judge_clusters(deployment: Deployment, recording: Recording) -> ClusterVerdict:
    """Each read a cluster served is made on DynamoDB with the cluster's role, not the caller's:
    the role must allow the read on the table or index, DescribeTable on the table (DAX keeps
    its key schema; the fake's defineKeySchema), and decrypting with the table's key. Every
    DynamoDB and KMS grant of a cluster's role must be used by some read it served."""
    needed: dict[str, dict[tuple[str, str], str]] = {arn: {} for arn in deployment.clusters()}
    for served in recording.served_by_dax:
        handler, request = served.invocation.function.handler, served.request
        why = f"{served.invocation.function.name}'s {request.method} in {served.invocation.label}"
        cluster = deployment.arn(handler, Target("dax", served.endpoint))
        table = deployment.arn(handler, Target("dynamodb", str(request.table)))
        path = f"/index/{request.index}" if request.index else ""
        assert cluster in needed and table is not None, f"{why}: cluster {cluster}, table {request.table}"
        key = deployment.key_of(handler, Target("dynamodb", str(request.table)))
        for action, resource in (
            (f"dynamodb:{request.method}", f"{table}{path}"),
            ("dynamodb:DescribeTable", table),
            *((("kms:Decrypt", key),) if key is not None else ()),
        ):
            needed[cluster].setdefault((action, resource), why)
    denied: list[str] = []
    unexercised: list[str] = []
    for cluster, uses in needed.items():
        statements = deployment.cluster_statements(cluster)
        denied += [
            f"cluster {cluster} reads {action} on {resource} for {why}, which its role does not allow"
            for (action, resource), why in uses.items()
            if not allowed(statements, action, resource)
        ]
        unexercised += [
            f"cluster {cluster}'s role is granted {action} on {resource}, which no read it served used"
            for statement in statements
            if statement.effect == "Allow"
            for action in statement.actions
            if action.split(":")[0] in ("dynamodb", "kms")
            for resource in statement.resources
            if not any(wildcard(action, action=True).fullmatch(a) and wildcard(resource).fullmatch(r) for a, r in uses)
        ]
    return ClusterVerdict(denied, unexercised)


# -- fixtures -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One drive of every route: the environment whose template judges its calls, and whether
    the functions read through DAX there (as dev and prod do; the sandbox has no cluster)."""

    environment: str
    dax: bool


SANDBOX = pytest.param(Run("sandbox", dax=False), id="sandbox")
DEV_WITH_DAX = pytest.param(Run("dev", dax=True), id="dev-with-dax")


@pytest.fixture(scope="module", params=[SANDBOX, DEV_WITH_DAX])
def run(request: pytest.FixtureRequest) -> Run:
    """Each test that depends on the drive runs for both; a test about DAX alone takes
    `@pytest.mark.parametrize("run", [DEV_WITH_DAX], indirect=True)` (the same drive)."""
    value: Run = request.param
    return value


@pytest.fixture(scope="module")
def recording(
    run: Run, api: Api, engines: Engines, search_feed: SearchFeed, request: pytest.FixtureRequest
) -> Recording:
    """Given every route and both upload outcomes driven through their own functions,
    with every AWS call the code makes recorded and attributed (and, with DAX, every
    read the cluster served)."""
    if not run.dax:
        return record_the_drive(Recording(), api, engines, search_feed)
    cluster: FakeDax = request.getfixturevalue("dax_cluster")
    with reading_through(cluster):  # closes the DAX clients and unsets DAX_ENDPOINT after the drive
        return record_the_drive(Recording(dax=cluster), api, engines, search_feed)


def record_the_drive(
    recording: Recording,
    api: Api,
    engines: Engines,
    search_feed: SearchFeed,
    drive: Callable[[Driver], None] = drive_every_route,
) -> Recording:
    recording.environment = dict(os.environ)
    if boto3.DEFAULT_SESSION is None:
        boto3.setup_default_session()
    session = boto3.DEFAULT_SESSION
    # wiring's clients (the idempotency store's included) come from the default session,
    # created per invocation (see Recording.invocation); module-level clients, if any, too.
    emitters = [session.events] + [
        value.client.meta.events
        for module in (*api.modules.values(), upload_worker, sweep_handler)
        for value in vars(module).values()
        if hasattr(getattr(value, "client", None), "meta")
    ]
    upload_form = DocumentStorage.upload_form

    def read_upload_form(self: DocumentStorage, key: str, content_type: str, size: int) -> dict[str, Any]:
        form = upload_form(self, key, content_type, size)
        recording.read_post(form)
        return form

    def submit_in_context(self: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        # One request at a time per container: threads a request starts (the admin feed
        # queries its shards in parallel) act for the same function.
        return submit(self, contextvars.copy_context().run, fn, *args, **kwargs)

    submit = ThreadPoolExecutor.submit
    http_request = urllib3.PoolManager.request

    def recorded_http_request(self: urllib3.PoolManager, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        recording.search_request(method, url)
        return http_request(self, method, url, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DocumentStorage, "upload_form", read_upload_form)
        patch.setattr(urllib3.PoolManager, "request", recorded_http_request)
        patch.setattr(ThreadPoolExecutor, "submit", submit_in_context)
        for emitter in emitters:
            emitter.register("provide-client-params", recording.hook, unique_id="least-privilege")
        try:
            drive(Driver(api, engines, recording, search_feed))
        finally:
            for emitter in emitters:
                emitter.unregister("provide-client-params", unique_id="least-privilege")
            for value in vars(wiring).values():  # later tests get clients without the hook
                if callable(getattr(value, "cache_clear", None)):
                    value.cache_clear()
    return recording


@pytest.fixture(scope="module")
def deployment(run: Run, synthesized: Callable[[str], Synthesized], recording: Recording) -> Deployment:
    return Deployment(synthesized(run.environment), wiring.idempotency_store().key_attr, recording.environment)


@pytest.fixture(scope="module")
def verdict(deployment: Deployment, recording: Recording) -> Verdict:
    verdict = judge(deployment, recording)
    print(verdict.report())  # the unexercised grants are information: `pytest -rP` shows them
    return verdict


@pytest.fixture(scope="module")
def cluster_verdict(deployment: Deployment, recording: Recording) -> ClusterVerdict:
    return judge_clusters(deployment, recording)


# -- the tests ----------------------------------------------------------------------------------


def test_every_route_and_function_was_driven_and_recorded(recording: Recording) -> None:
    # Then: nothing is vacuous: every route ran, every function made calls the hook saw
    assert recording.routes == {(r.method, r.path) for r in ROUTES}
    assert recording.worker_outcomes == {"available", "deleted:mismatch"}
    assert recording.removals == {"purge", "ttl"}
    silent = [f.name for f in ALL_FUNCTIONS if not recording.of(f)]
    assert not silent, f"no AWS call was recorded for {silent}: the hook is not reaching their clients"
    assert recording.presigned_posts == recording.read_posts > 0


def test_the_renderer_maps_the_test_engines_onto_the_deployment(
    run: Run, deployment: Deployment, synthesized: Callable[[str], Synthesized]
) -> None:
    # Given the create function's environment in the template
    names = deployment.names(FUNCTIONS[FunctionGroup.CREATE].handler)

    # Then: the engines' tables and bucket are the deployed ones, named by what they are
    assert names[TABLE] == "<documents>"
    assert names[IDEMPOTENCY_TABLE] == "<idempotency>"
    assert names[BUCKET] == synthesized(run.environment).stage.names.documents_bucket


def test_every_call_is_allowed_by_its_own_functions_policy(verdict: Verdict) -> None:
    # Then
    assert not verdict.denied, "\n" + "\n".join(f"{f}, which its policy does not allow" for f in verdict.denied)


def test_the_search_functions_calls_are_judged_where_a_domain_serves_it(
    run: Run, recording: Recording, deployment: Deployment
) -> None:
    # Given the search function's calls to the engine
    search = FUNCTIONS[FunctionGroup.SEARCH]
    calls = [a for a in recording.of(search) if a.target is not None and a.target.service == "es"]
    assert calls, "the drive recorded no call to the search engine: the recording misses the search client"

    # Then: where the environment has a domain, each maps onto it (and the verdict judged it);
    # where it has none, no statement of the function names the es service at all
    has_domain = not searches_nothing_there(deployment, search, calls[0])
    assert has_domain == load_config(run.environment).features.search
    if has_domain:
        assert all(deployment.arn(search.handler, a.target) for a in calls if a.target is not None)
    else:
        assert not [s for s in deployment.statements(search.handler) if any(a.startswith("es:") for a in s.actions)]


@pytest.mark.parametrize("run", [DEV_WITH_DAX], indirect=True)
def test_the_search_domains_access_policy_admits_each_call_of_the_search_function(
    recording: Recording, deployment: Deployment
) -> None:
    # Given the search function's calls to the engine, on dev's domain
    search = FUNCTIONS[FunctionGroup.SEARCH]
    role = deployment.role_arn(search.handler)
    calls = [
        (a, deployment.arn(search.handler, a.target))
        for a in recording.of(search)
        if a.target and a.target.service == "es"
    ]
    assert calls

    # Then: the domain's access policy lets that role make each of them
    refused = [
        f"{a.action} on {arn}"
        for a, arn in calls
        if arn is None or not deployment.access_policy_admits(role, a.action, arn)
    ]
    assert not refused, f"the domain's access policy refuses {role}: {refused}"
    # ... and only those: not another path, not another method
    _, other = calls[0]
    assert other is not None
    assert not deployment.access_policy_admits(role, "es:ESHttpGet", other)
    assert not deployment.access_policy_admits(role, "es:ESHttpPost", other.replace("/_search", "/_doc/1"))


# The action fine-grained access control checks for each call the search function makes
# (OpenSearch's REST handlers); a call missing here fails the test below until it is added.
FGAC_ACTIONS = {("es:ESHttpPost", f"/{SEARCH_PATH}"): "indices:data/read/search"}


@pytest.mark.parametrize("run", [DEV_WITH_DAX], indirect=True)
def test_the_search_functions_mapped_role_inside_opensearch_allows_each_of_its_calls(recording: Recording) -> None:
    # Given the role the custom resource maps the search function to, on the documents index
    [read] = [
        r
        for r in documents_roles(pipeline_role_arn="p", search_role_arns=["s"], sweep_role_arn="w")
        if r.backend_roles == ("s",)
    ]
    calls = {
        (a.action, a.target.path)
        for a in recording.of(FUNCTIONS[FunctionGroup.SEARCH])
        if a.target and a.target.service == "es"
    }
    assert calls

    # Then: each call is an action that role allows (and nothing it does not need: no write)
    unknown = calls - set(FGAC_ACTIONS)
    assert not unknown, f"add the fine-grained action of {unknown} to FGAC_ACTIONS"
    for call in calls:
        action = FGAC_ACTIONS[call]
        assert any(fnmatch.fnmatchcase(action, allowed) for allowed in read.allowed_actions), (
            call,
            read.allowed_actions,
        )
    assert read.index_patterns == (SEARCH_PATH.split("/")[0],)
    assert not any(a.startswith(("indices:data/write", "crud", "write", "indices:admin")) for a in read.allowed_actions)


def test_every_call_a_function_makes_from_the_vpc_passes_its_gateway_endpoint(
    recording: Recording, deployment: Deployment
) -> None:
    """A function in the isolated subnets reaches DynamoDB and S3 only through the gateway
    endpoints, whose policies admit Folio's actions on Folio's resources: a call the function's
    role allows but the endpoint does not is refused in AWS, with no other route. (A presigned
    URL is used by the client, from outside the VPC: not through the endpoint.)"""
    refused = []
    for function in ALL_FUNCTIONS:
        stack, _ = deployment.function(function.handler)
        _, account = deployment.env[stack]
        for access in recording.of(function):
            target = access.target
            if target is None or target.service not in ("dynamodb", "s3") or access.operation.startswith("presigned"):
                continue
            arn = deployment.arn(function.handler, target)
            context = (*target.context, ("aws:PrincipalAccount", account))
            if arn is None or not allowed(deployment.endpoint_statements(target.service), access.action, arn, context):
                refused.append(
                    f"{function.name}: {access.action} on {arn} ({access.operation} in {access.invocation.label})"
                )

    assert not refused, "the gateway endpoint refuses:\n" + "\n".join(sorted(set(refused)))


def sweep_a_dropped_purge(driver: Driver) -> None:
    """A purge whose REMOVE the pipeline lost, then one scheduled run of the index sweep."""
    owner = new_user()
    doc_id = driver.create(owner)["document"]["id"]
    driver.search_feed.catch_up()
    driver.call(FunctionGroup.MODIFY, "DELETE", f"/documents/{doc_id}", expect=204, sub=owner, query={"purge": "true"})
    driver.search_feed.stream.read()  # lost on the way to the index
    sweep_handler.dynamodb_client.cache_clear()  # a fresh container: its client is made under the hook
    with driver.recording.invocation(SEARCH_SWEEP, "scheduled sweep"):
        report = sweep_handler.handler({}, FakeContext())
    assert report["deleted"] >= 1, report


@pytest.mark.parametrize("run", [DEV_WITH_DAX], indirect=True)
def test_the_index_sweep_calls_only_what_its_role_and_the_domain_allow_and_uses_every_grant(
    deployment: Deployment, api: Api, engines: Engines, search_feed: SearchFeed
) -> None:
    # Given one sweep that deleted a stale entry, every call recorded
    recording = record_the_drive(Recording(), api, engines, search_feed, drive=sweep_a_dropped_purge)
    calls = recording.of(SEARCH_SWEEP)
    statements = deployment.statements(SEARCH_SWEEP.handler)
    role = deployment.role_arn(SEARCH_SWEEP.handler)

    # Then each is allowed by its own policy, and each call on the domain by the access policy
    judged = [(a, deployment.arn(SEARCH_SWEEP.handler, a.target)) for a in calls if a.target is not None]
    assert {a.action for a, _ in judged} == {"dynamodb:BatchGetItem", "es:ESHttpPost"}, calls
    denied = [f"{a.action} on {arn}" for a, arn in judged if arn is None or not allowed(statements, a.action, arn)]
    assert not denied, denied
    refused = [
        f"{a.action} on {arn}"
        for a, arn in judged
        if a.action.startswith("es:") and (arn is None or not deployment.access_policy_admits(role, a.action, arn))
    ]
    assert not refused, refused
    # ... and every es: and dynamodb: grant of its role was used
    used = {(a.action, arn) for a, arn in judged}
    unused = [
        (action, resource)
        for statement in statements
        for action in statement.actions
        if action.split(":")[0] in ("es", "dynamodb")
        for resource in statement.resources
        if (action, resource) not in used
    ]
    assert not unused, unused
    # ... and the role the custom resource maps it to inside OpenSearch allows each call: a _bulk
    # is checked as a cluster action first, then each of its items (deletes) on the index
    [sweep_role] = [
        r
        for r in documents_roles(pipeline_role_arn="p", search_role_arns=["s"], sweep_role_arn="w")
        if r.backend_roles == ("w",)
    ]
    needs = {
        f"/{SEARCH_PATH}": [("index", "indices:data/read/search")],
        f"/{BULK_PATH}": [("cluster", "indices:data/write/bulk"), ("index", "indices:data/write/delete")],
    }
    for access, _ in judged:
        if access.target is None or access.target.service != "es":
            continue
        assert access.target.path in needs, f"add the fine-grained actions of {access.target.path}"
        for level, action in needs[access.target.path]:
            granted = sweep_role.cluster_permissions if level == "cluster" else sweep_role.allowed_actions
            assert any(fnmatch.fnmatchcase(action, g) for g in granted), (access.target.path, level, action)


def test_every_key_aws_uses_for_a_call_is_allowed(verdict: Verdict) -> None:
    # Then: the KMS calls DynamoDB, S3 and Secrets Manager make with the function's credentials
    assert not verdict.kms_denied, "\n" + "\n".join(f"{f}, which its policy does not allow" for f in verdict.kms_denied)


def test_no_dynamodb_permission_is_granted_without_being_used(verdict: Verdict, deployment: Deployment) -> None:
    # Given the grants left unused on purpose, each with its reason, and the grants Lambda's
    # poller uses to read a function's stream (checked by the test after this one)
    excused = {(f, a, deployment.arn(f.handler, target)) for f, a, target in UNEXERCISED_ON_PURPOSE}
    polled = {
        (f, a, source)
        for f in ALL_FUNCTIONS
        for source, _, _ in deployment.event_sources(f.handler)
        for a in STREAM_POLLER_ACTIONS
    }

    # When
    unused = [u for u in verdict.unexercised if u[1].startswith("dynamodb:")]

    # Then: no other DynamoDB grant is unused, and each excuse still excuses a real grant
    unexcused = [
        f"function {f.name} is granted {a} on {r}, which no call used"
        for f, a, r in unused
        if (f, a, r) not in excused | polled
    ]
    assert not unexcused, "\n" + "\n".join(unexcused)
    assert excused <= set(unused), f"stale entries in UNEXERCISED_ON_PURPOSE: {excused - set(unused)}"


# -- reading through DAX --------------------------------------------------------------------------


def dax_statements(deployment: Deployment) -> dict[Function, list[Statement]]:
    """Each function's statements that grant any `dax:` action."""
    return {
        function: [s for s in deployment.statements(function.handler) if any(a.startswith("dax:") for a in s.actions)]
        for function in ALL_FUNCTIONS
    }


def test_no_dax_permission_is_granted_without_being_used(run: Run, verdict: Verdict, deployment: Deployment) -> None:
    # Given the functions that hold any dax: grant: the readers of stacks/read_path.py where
    # the environment has a cluster, no function where it has none
    granted = {f for f, statements in dax_statements(deployment).items() if statements}
    assert granted == ({FUNCTIONS[g] for g in READS_THROUGH_DAX} if run.dax else set())

    # Then: each dax: action is sent by its function, to the cluster it is granted on
    unused = [f"function {f.name} is granted {a} on {r}, which no read used" for f, a, r in verdict.unexercised]
    assert not [u for u in unused if " dax:" in u], "\n" + "\n".join(u for u in unused if " dax:" in u)


@pytest.mark.parametrize("run", [DEV_WITH_DAX], indirect=True)
def test_the_reads_of_the_read_path_went_through_dax(recording: Recording, deployment: Deployment) -> None:
    # Given the reads the cluster served, by function, action and index
    served = {
        (s.invocation.function, s.request.action, s.request.table, s.request.index) for s in recording.served_by_dax
    }

    # Then: exactly the reads stacks/read_path.py sends through DAX, on the documents table...
    assert served == {
        (FUNCTIONS[group], read.dax_action, TABLE, read.index.name if read.index else None)
        for group, reads in READS_THROUGH_DAX.items()
        for read in reads
    }
    # ...and each function's endpoint renders to the one cluster of the deployment, by its ARN
    [cluster] = deployment.clusters()
    assert cluster.startswith(f"arn:{PARTITION}:dax:") and ":cache/" in cluster, cluster
    for group in READS_THROUGH_DAX:
        endpoint = recording.environment[Env.DAX_ENDPOINT]
        assert deployment.arn(FUNCTIONS[group].handler, Target("dax", endpoint)) == cluster


@pytest.mark.parametrize("run", [DEV_WITH_DAX], indirect=True)
def test_the_clusters_role_may_read_what_its_clients_asked_it_for(
    recording: Recording, cluster_verdict: ClusterVerdict
) -> None:
    # Given reads the cluster served (through DAX, only the cluster role's permissions apply)
    assert recording.served_by_dax

    # Then: its role may make each of them on DynamoDB, describe the table and use its key
    assert not cluster_verdict.denied, "\n" + "\n".join(cluster_verdict.denied)


@pytest.mark.parametrize("run", [DEV_WITH_DAX], indirect=True)
def test_the_clusters_role_is_granted_no_read_its_clients_did_not_ask_for(cluster_verdict: ClusterVerdict) -> None:
    # Then
    assert not cluster_verdict.unexercised, "\n" + "\n".join(cluster_verdict.unexercised)


@pytest.mark.parametrize("run", [DEV_WITH_DAX], indirect=True)
def test_with_the_cluster_down_the_readers_read_directly_what_dax_served(
    recording: Recording,
    deployment: Deployment,
    api: Api,
    engines: Engines,
    search_feed: SearchFeed,
    dax_cluster: FakeDax,
) -> None:
    # Given the fallback reads the judge derived from what the cluster served (never sent)
    derived = {
        (a.invocation.function, a.action, a.target) for a in recording.accesses if a.operation.startswith("fallback")
    }
    assert derived

    # When every route runs again while the cluster is down (the breaker falls back to DynamoDB)
    with reading_through(dax_cluster, fallbacks_expected=True):
        dax_cluster.stop()
        try:
            down = record_the_drive(Recording(dax=dax_cluster), api, engines, search_feed)
        finally:
            dax_cluster.start()

    # Then: nothing went through DAX, the readers made those very reads on DynamoDB, and their
    # own policies allow every call they made
    assert not down.served_by_dax
    assert derived <= {(a.invocation.function, a.action, a.target) for a in down.accesses}
    denied = judge(deployment, down).denied
    assert not denied, "\n" + "\n".join(f"{f}, which its policy does not allow" for f in denied)


# -- the DAX checks can fail ---------------------------------------------------------------------


def without(statements: list[Statement], action: str, resource: str = "*") -> list[Statement]:
    """The statements with `action` no longer granted on resources matching `resource` (a
    statement left with no action or no resource is dropped)."""
    edited = []
    for statement in statements:
        if action not in statement.actions:
            edited.append(statement)
            continue
        kept = tuple(r for r in statement.resources if not wildcard(resource).fullmatch(r))
        if kept:
            edited.append(dataclasses.replace(statement, resources=kept))
        actions = tuple(a for a in statement.actions if a != action)
        if actions:
            edited.append(dataclasses.replace(statement, actions=actions))
    return edited


def edit_functions(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, edit: Callable[[list[Statement]], list[Statement]]
) -> None:
    statements = deployment.statements
    monkeypatch.setattr(deployment, "statements", lambda handler: edit(statements(handler)))


@pytest.mark.parametrize("run", [DEV_WITH_DAX], indirect=True)
def test_a_dax_read_the_functions_policy_does_not_grant_is_denied(
    deployment: Deployment, recording: Recording, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given dev's policies without dax:Query
    edit_functions(deployment, monkeypatch, lambda statements: without(statements, "dax:Query"))

    # When
    verdict = judge(deployment, recording)

    # Then: every function that queries through DAX is denied, on the cluster, and nothing else is
    [cluster] = deployment.clusters()
    queriers = {FUNCTIONS[g] for g, reads in READS_THROUGH_DAX.items() if any(r.operation == "Query" for r in reads)}
    assert {(f.function, f.action, f.resource) for f in verdict.denied} == {(f, "dax:Query", cluster) for f in queriers}


@pytest.mark.parametrize("run", [DEV_WITH_DAX], indirect=True)
def test_a_dax_grant_on_another_cluster_is_denied(
    deployment: Deployment, recording: Recording, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given dev's dax: grants on the ARN of some other cluster of the same account
    [cluster] = deployment.clusters()
    other = cluster.rsplit("/", 1)[0] + "/another-cluster"

    def elsewhere(statements: list[Statement]) -> list[Statement]:
        return [
            dataclasses.replace(s, resources=tuple(other if r == cluster else r for r in s.resources))
            if any(a.startswith("dax:") for a in s.actions)
            else s
            for s in statements
        ]

    edit_functions(deployment, monkeypatch, elsewhere)

    # When
    verdict = judge(deployment, recording)

    # Then: every read through DAX is denied, and the grants on the other cluster go unused
    expected = {(FUNCTIONS[g], r.dax_action, cluster) for g, reads in READS_THROUGH_DAX.items() for r in reads}
    assert {(f.function, f.action, f.resource) for f in verdict.denied} == expected
    assert {(f, a, r) for f, a, r in verdict.unexercised if a.startswith("dax:")} == {
        (f, a, other) for f, a, _ in expected
    }


@pytest.mark.parametrize("run", [DEV_WITH_DAX], indirect=True)
def test_a_dax_action_granted_but_never_sent_is_reported(
    deployment: Deployment, recording: Recording, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given dev's policies, with dax:BatchGetItem added to every dax: grant (no Folio read sends it)
    def broader(statements: list[Statement]) -> list[Statement]:
        return [
            dataclasses.replace(s, actions=(*s.actions, "dax:BatchGetItem"))
            if any(a.startswith("dax:") for a in s.actions)
            else s
            for s in statements
        ]

    edit_functions(deployment, monkeypatch, broader)

    # When
    verdict = judge(deployment, recording)

    # Then
    [cluster] = deployment.clusters()
    assert {(f, a, r) for f, a, r in verdict.unexercised if a.startswith("dax:")} == {
        (FUNCTIONS[g], "dax:BatchGetItem", cluster) for g in READS_THROUGH_DAX
    }


@pytest.mark.parametrize("run", [DEV_WITH_DAX], indirect=True)
def test_a_fallback_read_the_functions_own_policy_does_not_grant_is_denied(
    deployment: Deployment, recording: Recording, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given dev's policies without the admin function's direct Query of the recent feed's index
    admin = FUNCTIONS[FunctionGroup.ADMIN]
    feed = str(deployment.arn(admin.handler, Target("dynamodb", TABLE, f"/index/{keys.GSI2.name}")))
    statements = deployment.statements

    def edit(handler: str) -> list[Statement]:
        return without(statements(handler), "dynamodb:Query", feed) if handler == admin.handler else statements(handler)

    monkeypatch.setattr(deployment, "statements", edit)

    # When
    verdict = judge(deployment, recording)

    # Then: the feed's reads through DAX are fine, but the breaker's fallback to the index is denied
    assert {(f.function, f.action, f.resource) for f in verdict.denied} == {(admin, "dynamodb:Query", feed)}
    assert all(f.why.startswith("fallback for DAX Query") for f in verdict.denied), verdict.denied


@pytest.mark.parametrize("run", [DEV_WITH_DAX], indirect=True)
def test_a_read_the_clusters_role_may_not_make_is_denied(
    deployment: Deployment, recording: Recording, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the cluster's role without Query on the recent feed's index, nor DescribeTable
    admin = FUNCTIONS[FunctionGroup.ADMIN]
    table = str(deployment.arn(admin.handler, Target("dynamodb", TABLE)))
    feed = f"{table}/index/{keys.GSI2.name}"
    statements = deployment.cluster_statements

    def edit(cluster: str) -> list[Statement]:
        return without(without(statements(cluster), "dynamodb:Query", feed), "dynamodb:DescribeTable")

    monkeypatch.setattr(deployment, "cluster_statements", edit)

    # When
    verdict = judge_clusters(deployment, recording)

    # Then: the admin feed's reads, and every read's table description, are denied
    denied = "\n".join(verdict.denied)
    assert len(verdict.denied) == 2, denied
    assert f"dynamodb:Query on {feed} for admin's Query" in denied
    assert f"dynamodb:DescribeTable on {table} for" in denied


# -- the judge itself: conditions and S3 versions ---------------------------------------------


def test_a_grant_with_a_condition_allows_only_requests_that_meet_it() -> None:
    # Given the lifecycle worker's kind of grant: list versions, only under the documents prefix
    bucket = "arn:aws:s3:::folio-documents-test"
    grant = Statement("Allow", ("s3:ListBucketVersions",), (bucket,), (("StringLike", "s3:prefix", ("documents/*",)),))

    # Then: a listing under the prefix is allowed; elsewhere, or with no prefix at all, it is not
    assert allowed([grant], "s3:ListBucketVersions", bucket, (("s3:prefix", "documents/u/d"),))
    assert not allowed([grant], "s3:ListBucketVersions", bucket, (("s3:prefix", "other/u/d"),))
    assert not allowed([grant], "s3:ListBucketVersions", bucket)
    # ...and an operator this test cannot evaluate never grants
    unknown = Statement("Allow", ("s3:ListBucketVersions",), (bucket,), (("ArnLike", "aws:SourceArn", ("*",)),))
    assert not allowed([unknown], "s3:ListBucketVersions", bucket, (("aws:SourceArn", "x"),))


def test_versions_are_listed_and_deleted_with_actions_of_their_own() -> None:
    # When the worker's two S3 calls are mapped
    [listing] = s3_accesses("ListObjectVersions", {"Bucket": BUCKET, "Prefix": f"{PREFIX}u/d"})
    [deletion] = s3_accesses("DeleteObject", {"Bucket": BUCKET, "Key": f"{PREFIX}u/d", "VersionId": "v1"})
    [plain] = s3_accesses("DeleteObject", {"Bucket": BUCKET, "Key": f"{PREFIX}u/d"})

    # Then
    assert listing[1:] == ("s3:ListBucketVersions", Target("s3", BUCKET, context=(("s3:prefix", f"{PREFIX}u/d"),)))
    assert deletion[1:] == ("s3:DeleteObjectVersion", Target("s3", BUCKET, f"/{PREFIX}u/d"))
    assert plain[1] == "s3:DeleteObject"


def test_lambda_may_read_each_mapped_stream_and_describe_failures_with_the_functions_role(
    deployment: Deployment,
) -> None:
    # Given every event source mapping of every function (the lifecycle worker's, at least)
    mapped = {f: deployment.event_sources(f.handler) for f in ALL_FUNCTIONS}
    assert mapped[LIFECYCLE_WORKER], "the lifecycle worker has no event source mapping"

    for function, sources in mapped.items():
        statements = deployment.statements(function.handler)
        for source, destination, destination_key in sources:
            # Then: the poller reads the stream, and decrypts it with the table's key...
            table_key = deployment.key_of(function.handler, Target("dynamodb", TABLE))
            table = deployment.arn(function.handler, Target("dynamodb", TABLE))
            assert source == f"{table}/stream/<label>", (
                f"{function.name} reads {source}, not the documents table's stream"
            )
            for action in STREAM_POLLER_ACTIONS:
                assert allowed(statements, action, source), f"{function.name}: {action} on {source}"
            assert table_key is not None and allowed(statements, "kms:Decrypt", table_key), function.name
            # ...and describes a batch it gave up on in the failure queue, encrypting it
            assert destination is not None, f"{function.name}: a mapping without an on-failure destination"
            for action in FAILURE_DESTINATION_ACTIONS:
                assert allowed(statements, action, destination), f"{function.name}: {action} on {destination}"
            for action in ENCRYPTED_DESTINATION_ACTIONS if destination_key else ():
                assert allowed(statements, action, str(destination_key)), f"{function.name}: {action}"
