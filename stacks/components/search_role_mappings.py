"""`SearchRoleMappings`: the custom resource that maps Folio's IAM roles to roles inside OpenSearch
(fine-grained access control): the ingestion pipeline writes the `documents` index, the search
function reads it, and nothing else is mapped.

Its function is the domain's master user: its own role is the domain's `MasterUserARN`, so it
needs no `sts:AssumeRole` (the isolated subnets have no STS endpoint), and no person or other
function holds the master user. The domain's access policy lets that role reach the security
plugin's REST API and nothing else, so it cannot read a document. docs/search.md, "Who may do what
inside OpenSearch".
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from folio.search_role_mappings import API as SECURITY_API
from folio.search_role_mappings import (
    ENDPOINT_PROPERTY,
    PIPELINE_ROLE_ARN_PROPERTY,
    READ_ROLE,
    RESOURCE_HANDLER,
    SEARCH_ROLE_ARNS_PROPERTY,
    WRITE_ROLE,
)
from stacks import nag
from stacks.components.api_function import ApiFunction, FunctionRuntime, runtime_code
from stacks.components.function_baseline import FunctionBaselinePolicy
from stacks.components.search_domain import HTTPS_PORT, SearchDomain

# A run reads and writes at most eight entries of the security API; CloudFormation waits an hour,
# the handler answers before this runs out.
ROLE_MAPPINGS_TIMEOUT = cdk.Duration.seconds(60)
ROLE_MAPPINGS_MEMORY_MB = 256
# What the function does on the security API: read an entry, put it, delete it.
SECURITY_API_ACTIONS = ("es:ESHttpDelete", "es:ESHttpGet", "es:ESHttpPut")
# The security API's entries it manages, each by name: the two roles and their mappings.
MANAGED_PATHS = tuple(
    f"{SECURITY_API.lstrip('/')}/{kind}/{role}"
    for role in (WRITE_ROLE, READ_ROLE)
    for kind in ("roles", "rolesmapping")
)
LOG_RETENTION = logs.RetentionDays.ONE_YEAR
DEAD_LETTER_RETENTION = cdk.Duration.days(14)


class SearchRoleMappingsFunction(Construct):
    """The function (and its role, the domain's master user), built before the domain that names
    it; `SearchRoleMappings` adds the custom resource once the domain exists."""

    def __init__(self, scope: Construct, construct_id: str, *, vpc: ec2.IVpc, key: kms.IKey, log_key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="Folio search role mappings: HTTPS out to the search domain and to CloudFormation responses",
            allow_all_outbound=False,
        )
        # Isolated subnets route nowhere but the VPC and its endpoints: this reaches the domain
        # (which admits this group) and S3's gateway endpoint, whose policy admits CloudFormation's
        # response bucket (stacks/network_stack.py).
        self.security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(HTTPS_PORT), "HTTPS to the domain and the S3 gateway endpoint"
        )
        dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=DEAD_LETTER_RETENTION,
            redrive_allow_policy=sqs.RedriveAllowPolicy(redrive_permission=sqs.RedrivePermission.ALLOW_ALL),
        )
        for finding in nag.DEAD_LETTER_QUEUE_FINDINGS:
            nag.acknowledge(dead_letters, finding)
        baseline = FunctionBaselinePolicy(
            self,
            "Baseline",
            vpc=vpc,
            security_group=self.security_group,
            dead_letter_queue=dead_letters,
            dead_letter_key=key,
        )
        self.function = ApiFunction(
            self,
            "Function",
            handler=RESOURCE_HANDLER,
            description="Folio search: map the pipeline's and the search function's roles inside OpenSearch",
            timeout=ROLE_MAPPINGS_TIMEOUT,
            statements=[],
            dead_letter_queue=dead_letters,
            runtime=FunctionRuntime(
                code=runtime_code(),
                layers=(),
                memory_mb=ROLE_MAPPINGS_MEMORY_MB,
                environment={},
                log_key=log_key,
                log_retention=LOG_RETENTION,
                reserved_concurrency=1,  # one stack operation at a time
                vpc=vpc,
                security_groups=(self.security_group,),
                baseline_policy=baseline.policy,
            ),
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
        domain: SearchDomain,
        pipeline_role_arn: str,
        search_role_arns: Sequence[str],
    ) -> None:
        super().__init__(scope, construct_id)
        function.reach(domain.domain_arn)
        domain.admit_network(function.security_group, "HTTPS to OpenSearch from the role-mapping function")
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
            },
            # A response lost on the way (the function timed out before answering) fails the
            # stack operation after this, not after CloudFormation's default hour.
            service_timeout=cdk.Duration.minutes(5),
        )
        # The function's permissions and network must be in place before CloudFormation calls it.
        self.resource.node.add_dependency(function)
