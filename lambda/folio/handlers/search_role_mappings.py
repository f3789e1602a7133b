"""The role mappings inside the search domain, as a Lambda-backed CloudFormation custom resource.

CloudFormation invokes this function with Create, Update or Delete and the resource's properties
(folio.search_role_mappings: `Endpoint`, `PipelineRoleArn`, `SearchRoleArns`). The function's
own role is the domain's master user, so it calls the security plugin directly, signed as
itself (folio.search_security_api), and answers by PUT to the event's ResponseURL
(folio.custom_resource), exactly once per invocation.

- Create and Update apply the two roles and their mappings (an Update also removes roles the old
  properties had that the new ones do not); Delete removes them. Each reads before it writes, so
  a repeated or retried request changes nothing that is already right.
- The physical id is one per domain (`folio-documents-roles@<host>`): a new endpoint replaces
  the resource, and CloudFormation then deletes the old one, on the old domain.
- A Create that fails answers the physical id CREATE_FAILED_ID. Its rollback's Delete removes
  what it can and always answers SUCCESS: a Delete that failed there would leave the stack stuck
  in ROLLBACK_FAILED for a resource that never existed. Any other Delete that fails answers FAILED.
- A Delete whose properties are invalid answers SUCCESS without a call: no Create or Update
  with those properties ever wrote anything.

Only the standard library, urllib3 and botocore (all in the Lambda runtime): the function needs no
layer, and an import error here would leave CloudFormation waiting an hour for an answer.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import urllib3

from folio.custom_resource import FAILED, SUCCESS, Budget, LambdaContext, Outcome, log, respond
from folio.search_role_mappings import (
    IndexRole,
    InvalidProperties,
    ResourceProperties,
    SecurityApi,
    SecurityApiError,
    apply,
    remove,
)
from folio.search_security_api import SecurityApiUnreachable, SignedSecurityApi
from folio.signed_http import function_credentials

CREATE_FAILED_ID = "folio-documents-roles-not-created"
# What a call to the domain may raise that the answer's Reason explains by itself.
DOMAIN_ERRORS = (SecurityApiError, SecurityApiUnreachable)


@cache
def http() -> urllib3.PoolManager:
    return urllib3.PoolManager()


def security_api(endpoint: str, budget: Budget) -> SignedSecurityApi:
    return SignedSecurityApi(
        endpoint,
        region=os.environ["AWS_REGION"],
        credentials=lambda: function_credentials().get_frozen_credentials(),
        seconds_left=budget.seconds_left,
        http=http(),
    )


def changes(step: str, endpoint: str, budget: Budget, change: Callable[[SecurityApi], list[str]]) -> list[str]:
    changed = change(security_api(endpoint, budget))
    log(step, endpoint=endpoint, changed=changed)
    return changed


def create_or_update(event: Mapping[str, Any], budget: Budget, physical_id: str) -> Outcome:
    try:
        wanted = ResourceProperties.parse(event.get("ResourceProperties"))
    except InvalidProperties as error:
        return Outcome(FAILED, physical_id, str(error))
    # The roles of the old properties that the new ones no longer want are removed. The role names
    # are Folio's constants, so today that removes nothing; it is there for the day they are not.
    previous: tuple[IndexRole, ...] = ()
    if event["RequestType"] == "Update":
        try:
            old = ResourceProperties.parse(event.get("OldResourceProperties"))
        except InvalidProperties:
            old = None  # the rollback of an Update that failed on them: they were never applied
        if old is not None and old.endpoint == wanted.endpoint:  # another domain's roles go with its Delete
            previous = old.roles()
    try:
        changed = changes("applied", wanted.endpoint, budget, lambda api: apply(api, wanted.roles(), previous=previous))
    except DOMAIN_ERRORS as error:
        return Outcome(FAILED, physical_id, f"{wanted.endpoint}: {error}")
    return Outcome(SUCCESS, wanted.physical_id, changed=changed)


def delete(event: Mapping[str, Any], budget: Budget, physical_id: str) -> Outcome:
    try:
        present = ResourceProperties.parse(event.get("ResourceProperties"))
    except InvalidProperties as error:
        log("nothing to remove", problem=str(error))
        return Outcome(SUCCESS, physical_id, f"nothing to remove: {error}")
    try:
        changed = changes("removed", present.endpoint, budget, lambda api: remove(api, present.roles()))
    except DOMAIN_ERRORS as error:
        if physical_id != CREATE_FAILED_ID:
            return Outcome(FAILED, physical_id, f"{present.endpoint}: {error}")
        left = f"the failed Create's roles may be left on {present.endpoint}: {error}"
        log("left behind", problem=left)
        return Outcome(SUCCESS, physical_id, left)
    return Outcome(SUCCESS, physical_id, changed=changed)


def settle(event: Mapping[str, Any], budget: Budget) -> Outcome:
    physical_id = str(event.get("PhysicalResourceId") or CREATE_FAILED_ID)
    request_type = event.get("RequestType")
    if request_type == "Delete":
        return delete(event, budget, physical_id)
    if request_type in ("Create", "Update"):
        return create_or_update(event, budget, physical_id)
    return Outcome(FAILED, physical_id, f"RequestType {request_type!r} is not Create, Update or Delete")


def handler(event: dict[str, Any], context: LambdaContext) -> None:
    log(
        "request",
        requestType=event.get("RequestType"),
        stackId=event.get("StackId"),
        logicalResourceId=event.get("LogicalResourceId"),
        physicalResourceId=event.get("PhysicalResourceId"),
    )
    try:
        outcome = settle(event, Budget(context))
    except Exception as error:  # CloudFormation must have an answer, whatever broke
        physical_id = str(event.get("PhysicalResourceId") or CREATE_FAILED_ID)
        log("unexpected error", error=type(error).__name__, detail=str(error)[:1000], traceback=traceback.format_exc())
        settled_anyway = event.get("RequestType") == "Delete" and physical_id == CREATE_FAILED_ID
        outcome = Outcome(
            SUCCESS if settled_anyway else FAILED,
            physical_id,
            f"unexpected {type(error).__name__}: {str(error)[:300]} (log stream {context.log_stream_name})",
        )
    if outcome.status == FAILED:
        log("failed", reason=outcome.reason)
    respond(http(), event, outcome, context)
