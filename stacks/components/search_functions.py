"""`SearchFunctions`: what the Search stack's own functions share (the role-mapping custom
resource's and the index sweep's): one security group the domain admits, one dead-letter queue,
one baseline policy, the shared code asset without layers.

They live in the Search stack because they must exist before the Api stack (the role mappings
come before the pipeline's first write) and because the Api stack's runtime cannot be used from
here without a reference back (a cycle).
"""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks import nag
from stacks.components.folio_function import FunctionRuntime, runtime_code
from stacks.components.function_baseline import FunctionBaselinePolicy
from stacks.components.search_domain import HTTPS_PORT, SearchDomain

MEMORY_MB = 256
LOG_RETENTION = logs.RetentionDays.ONE_YEAR
DEAD_LETTER_RETENTION = cdk.Duration.days(14)


class SearchFunctions(Construct):
    """`runtime(environment)` for a function of the Search stack; `admit_to(domain)` once."""

    def __init__(self, scope: Construct, construct_id: str, *, vpc: ec2.IVpc, key: kms.IKey, log_key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.vpc = vpc
        self.log_key = log_key
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="Folio search functions: HTTPS out to the search domain and the VPC gateway endpoints",
            allow_all_outbound=False,
        )
        # Isolated subnets route nowhere but the VPC and its endpoints: this reaches the domain
        # (which admits this group), DynamoDB's gateway endpoint (the sweep) and S3's, whose policy
        # admits CloudFormation's response bucket (the role mappings: stacks/network_stack.py).
        self.security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(HTTPS_PORT), "HTTPS to the domain and the gateway endpoints"
        )
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=DEAD_LETTER_RETENTION,
            redrive_allow_policy=sqs.RedriveAllowPolicy(redrive_permission=sqs.RedrivePermission.ALLOW_ALL),
        )
        nag.acknowledge(self.dead_letters, nag.SEARCH_FUNCTIONS_DEAD_LETTERS)
        self.baseline = FunctionBaselinePolicy(
            self,
            "Baseline",
            vpc=vpc,
            security_group=self.security_group,
            dead_letter_queue=self.dead_letters,
            dead_letter_key=key,
        )

    def runtime(self, environment: Mapping[str, str]) -> FunctionRuntime:
        return FunctionRuntime(
            code=runtime_code(),
            layers=(),  # standard library, urllib3, botocore and boto3 only
            memory_mb=MEMORY_MB,
            environment=environment,
            log_key=self.log_key,
            log_retention=LOG_RETENTION,
            reserved_concurrency=1,  # one stack operation, one sweep at a time
            vpc=self.vpc,
            security_groups=(self.security_group,),
            dead_letter_queue=self.dead_letters,
            baseline_policy=self.baseline.policy,
        )

    def admit_to(self, domain: SearchDomain) -> None:
        domain.admit_network(self.security_group, "HTTPS to OpenSearch from the Search stack's functions")
