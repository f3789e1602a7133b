"""`SearchRoleMappings`: the custom resource that maps Folio's IAM roles to roles inside OpenSearch
(fine-grained access control): the ingestion pipeline writes the `documents` index, the search
function reads it, the index sweep reads it and deletes from it, and nothing else is mapped.

Its function is the domain's master user: its own role is the domain's `MasterUserARN`, so it
needs no `sts:AssumeRole` (the isolated subnets have no STS endpoint), and no person or other
function holds the master user. The domain's access policy lets that role reach the security
plugin's REST API and nothing else, so it cannot read a document. docs/search.md, "Who may do what
inside OpenSearch".
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from folio.search_role_mappings import API as SECURITY_API
from folio.search_role_mappings import (
    ENDPOINT_PROPERTY,
    PIPELINE_ROLE_ARN_PROPERTY,
    READ_ROLE,
    RESOURCE_HANDLER,
    SEARCH_ROLE_ARNS_PROPERTY,
    SWEEP_ROLE,
    SWEEP_ROLE_ARN_PROPERTY,
    WRITE_ROLE,
)
from stacks import nag
from stacks.components.search_domain import SearchDomain
from stacks.components.search_functions import SearchFunctions

# A run reads and writes at most twelve entries of the security API; the handler answers
# CloudFormation before this runs out.
ROLE_MAPPINGS_TIMEOUT = cdk.Duration.seconds(60)
# What the function does on the security API: read an entry, put it, delete it.
SECURITY_API_ACTIONS = ("es:ESHttpDelete", "es:ESHttpGet", "es:ESHttpPut")
# The security API's entries it manages, each by name: the three roles and their mappings.
MANAGED_PATHS = tuple(
    f"{SECURITY_API.lstrip('/')}/{kind}/{role}"
    for role in (WRITE_ROLE, READ_ROLE, SWEEP_ROLE)
    for kind in ("roles", "rolesmapping")
)


class SearchRoleMappingsFunction(Construct):
    """The function (and its role, the domain's master user), built before the domain that names
    it; `SearchRoleMappings` adds the custom resource once the domain exists."""

    def __init__(self, scope: Construct, construct_id: str, *, functions: SearchFunctions) -> None:
        super().__init__(scope, construct_id)
        self.function = functions.runtime({}).add(
            self,
            "Function",
            handler=RESOURCE_HANDLER,
            description="Folio search: map the pipeline, search and sweep roles inside OpenSearch",
            timeout=ROLE_MAPPINGS_TIMEOUT,
            statements=[],  # the domain's ARN comes later: reach()
        )
        nag.acknowledge(self.function.function, nag.FUNCTIONS_IN_VPC_ACROSS_STACKS)
        self.role = self.function.role

    def reach(self, domain_arn: str) -> None:
        """Let the function call the domain's security API (identity side; `SearchDomain` admits
        the role on the resource side)."""
        self.function.policy.add_statements(
            iam.PolicyStatement(
                sid="ManageRoleMappings",
                actions=list(SECURITY_API_ACTIONS),
                resources=[f"{domain_arn}/{path}" for path in MANAGED_PATHS],
            )
        )


class SearchRoleMappings(Construct):
    """The custom resource: on Create and Update it puts the two roles and their mappings (read
    before write, so a rerun changes nothing), on Delete it removes them."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: SearchRoleMappingsFunction,
        functions: SearchFunctions,
        domain: SearchDomain,
        pipeline_role_arn: str,
        search_role_arns: Sequence[str],
        sweep_role_arn: str,
    ) -> None:
        super().__init__(scope, construct_id)
        function.reach(domain.domain_arn)
        domain.admit(
            function.role.role_arn,
            sid="RoleMappings",
            actions=SECURITY_API_ACTIONS,
            paths=MANAGED_PATHS,
        )
        self.resource = cdk.CustomResource(
            self,
            "Resource",
            service_token=function.function.function.function_arn,
            resource_type="Custom::FolioSearchRoleMappings",
            properties={
                ENDPOINT_PROPERTY: f"https://{domain.endpoint}",
                PIPELINE_ROLE_ARN_PROPERTY: pipeline_role_arn,
                SEARCH_ROLE_ARNS_PROPERTY: list(search_role_arns),
                SWEEP_ROLE_ARN_PROPERTY: sweep_role_arn,
            },
            # A response lost on the way (the function timed out before answering) fails the
            # stack operation after this, not after CloudFormation's default hour.
            service_timeout=cdk.Duration.minutes(5),
        )
        # The function's permissions and its way to the domain (the domain's ingress rule and the
        # group's egress, children of the two groups) must be in place before CloudFormation calls
        # it, and, on a stack's deletion or a first deploy's rollback, still be there when its
        # Delete runs: CloudFormation deletes in the reverse order of these dependencies.
        self.resource.node.add_dependency(function, functions.security_group, domain.security_group)
