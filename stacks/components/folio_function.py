"""`FolioFunction`: one Lambda function of Folio, with its own role, policy and log group, and
`FunctionRuntime`: what all functions of a stack share, which adds each of them.

Every function is built here: the API's, the upload and lifecycle workers, the Search stack's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from stacks.components.function_baseline import FUNCTION_SUBNETS

# The runtime code: one asset for every function of every stack (entry points differ).
LAMBDA_SOURCE = Path(__file__).resolve().parents[2] / "lambda"
RUNTIME = lambda_.Runtime.PYTHON_3_14
# Powertools' service name: its logs' `service` field and the `service` dimension of its metrics.
POWERTOOLS_SERVICE = "folio"
# The Powertools layer of exactly the version the tests run with (requirements-dev.txt);
# AWS publishes its ARN per Region under this public SSM parameter, resolved at deploy.
POWERTOOLS_VERSION = "3.37.0"
POWERTOOLS_LAYER_PARAMETER = f"/aws/service/powertools/python/arm64/python3.14/{POWERTOOLS_VERSION}"
ARCHITECTURE = lambda_.Architecture.ARM_64
# A route makes a few DynamoDB and S3 calls; API Gateway gives up on an integration at 29 s.
API_TIMEOUT = cdk.Duration.seconds(10)
# A worker settles one upload, or a batch of up to 25 removals, a few calls each.
WORKER_TIMEOUT = cdk.Duration.seconds(30)


def runtime_code() -> lambda_.Code:
    """The shared code asset (the same hash wherever it is used, so it is uploaded once)."""
    return lambda_.Code.from_asset(
        str(LAMBDA_SOURCE), exclude=["**/__pycache__", "**/*.pyc", "**/.mypy_cache", "**/.pytest_cache"]
    )


def powertools_layer(stack: cdk.Stack) -> lambda_.ILayerVersion:
    """The public Powertools layer of `POWERTOOLS_VERSION` in the stack's Region."""
    return lambda_.LayerVersion.from_layer_version_arn(
        stack, "Powertools", ssm.StringParameter.value_for_string_parameter(stack, POWERTOOLS_LAYER_PARAMETER)
    )


@dataclass(frozen=True)
class FunctionRuntime:
    """What every Folio function of a stack shares, whatever it does: the code asset and
    layers, size, environment, the key of its logs and environment, log retention,
    reserved concurrency, its place in the VPC, the queue its failed asynchronous
    invocations wait in, and the stack's FunctionBaselinePolicy.

    `add(...)` builds one function on it; `extended(...)` gives the runtime of functions that
    need more (an endpoint, a client layer, a security group of their own)."""

    code: lambda_.Code
    layers: Sequence[lambda_.ILayerVersion]
    memory_mb: int
    environment: Mapping[str, str]
    log_key: kms.IKey  # also encrypts the environment variables
    log_retention: logs.RetentionDays
    reserved_concurrency: int
    vpc: ec2.IVpc
    security_groups: Sequence[ec2.ISecurityGroup]
    dead_letter_queue: sqs.IQueue
    baseline_policy: iam.IManagedPolicy

    def add(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: str,
        description: str,
        timeout: cdk.Duration,
        statements: Sequence[iam.PolicyStatement],
        role_name: str | None = None,
        dead_letter_queue: sqs.IQueue | None = None,
    ) -> FolioFunction:
        """A function on this runtime whose only own permissions are `statements`.

        `dead_letter_queue` replaces the runtime's, for a function whose failed invocations
        belong with its other failures (the lifecycle worker's failed batches)."""
        runtime = self if dead_letter_queue is None else dataclasses.replace(self, dead_letter_queue=dead_letter_queue)
        return FolioFunction(
            scope,
            construct_id,
            handler=handler,
            description=description,
            timeout=timeout,
            statements=statements,
            runtime=runtime,
            role_name=role_name,
        )

    def extended(
        self,
        *,
        environment: Mapping[str, str] | None = None,
        layers: Sequence[lambda_.ILayerVersion] = (),
        security_groups: Sequence[ec2.ISecurityGroup] = (),
    ) -> FunctionRuntime:
        """This runtime with more environment variables, layers and security groups."""
        return dataclasses.replace(
            self,
            environment={**self.environment, **(environment or {})},
            layers=(*self.layers, *layers),
            security_groups=(*self.security_groups, *security_groups),
        )


class FolioFunction(Construct):
    """A python3.14/arm64 function on the shared code asset and the Powertools layer,
    with active tracing, an encrypted log group with retention, and a role of its own
    whose only permissions are `statements`, writing its own logs, and the stack's
    `FunctionBaselinePolicy` (traces, VPC interfaces, dead letters).

    `role_name` fixes the role's name, for a role another stack names before it exists.

    The role is handed to Lambda without policy updates, so CDK cannot quietly add an
    inline policy: every permission is in the two customer-managed policies.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: str,
        description: str,
        timeout: cdk.Duration,
        statements: Sequence[iam.PolicyStatement],
        runtime: FunctionRuntime,
        role_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=runtime.log_retention,
            encryption_key=runtime.log_key,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Folio {construct_id}: {description}",
            # Named only where a stack deployed earlier must name this role (CloudFormation's
            # generated names are not known before the role exists).
            role_name=role_name,
        )
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description=f"Everything Folio {construct_id} may do",
            statements=[
                iam.PolicyStatement(
                    sid="WriteOwnLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[self.log_group.log_group_arn],
                ),
                *statements,
            ],
        )
        self.role.add_managed_policy(self.policy)
        self.role.add_managed_policy(runtime.baseline_policy)
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=handler,
            code=runtime.code,
            layers=list(runtime.layers),
            memory_size=runtime.memory_mb,
            timeout=timeout,
            tracing=lambda_.Tracing.ACTIVE,
            role=self.role.without_policy_updates(),
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            environment={"POWERTOOLS_SERVICE_NAME": POWERTOOLS_SERVICE, **runtime.environment},
            reserved_concurrent_executions=runtime.reserved_concurrency,
            environment_encryption=runtime.log_key,
            dead_letter_queue_enabled=True,
            dead_letter_queue=runtime.dead_letter_queue,
            vpc=runtime.vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=FUNCTION_SUBNETS),
            security_groups=list(runtime.security_groups),
        )
