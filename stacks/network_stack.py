"""The network of an environment's home Region: private subnets only, and endpoints.

Functions run in isolated subnets (no NAT, no internet gateway). They reach DynamoDB
and S3 through gateway endpoints whose policies allow only Folio's table and bucket,
and Secrets Manager and X-Ray through interface endpoints. Flow logs record every
connection attempt.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from stacks import nag
from stacks.components.encryption_key import EncryptionKey

# Two AZs: enough for Lambda's high availability; interface endpoints cost per AZ. A DAX
# cluster of three or more nodes needs a third (stacks/stage.py, network_availability_zones).
DEFAULT_AVAILABILITY_ZONES = 2
FLOW_LOG_RETENTION = logs.RetentionDays.ONE_YEAR

# What Folio's code calls through the gateway endpoints (and nothing else may pass);
# tests/integration/test_least_privilege.py drives every call through these statements.
DYNAMODB_ACTIONS = [
    "dynamodb:BatchGetItem",  # the search function checks each page's hits against the table
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
]
# A regional serving stage only reads (its API is read-only): its functions' GetItem and Query,
# and DescribeTable for its DAX cluster, which keeps the table's metadata.
READ_ONLY_DYNAMODB_ACTIONS = ["dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:Query"]
S3_ACTIONS = ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:GetObject", "s3:PutObject"]
# The lifecycle worker lists a removed document's object versions, under the documents prefix only.
S3_LISTING_ACTIONS = ["s3:ListBucketVersions"]


def cloudformation_response_bucket(region: str) -> str:
    """Where CloudFormation's presigned ResponseURL points, e.g. eu-west-1 ->
    cloudformation-custom-resource-response-euwest1 (the AWS CloudFormation and Lambda guides)."""
    if cdk.Token.is_unresolved(region):
        raise ValueError("the Network stack needs a concrete Region to admit CloudFormation's response bucket")
    return f"cloudformation-custom-resource-response-{region.replace('-', '')}"


class NetworkStack(cdk.Stack):
    """VPC (isolated subnets in two or three AZs), gateway endpoints for DynamoDB and S3 scoped
    to Folio's resources, interface endpoints for Secrets Manager and X-Ray, flow logs,
    and the security group every function uses. `custom_resource_responses`: the S3 endpoint
    also lets a custom resource's function answer CloudFormation (where `features.search`).

    Without `documents_bucket_arn` (a regional serving stage: the bucket is in the home Region,
    which a gateway endpoint cannot reach, and presigning a download calls nothing) there is no
    S3 endpoint."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cidr: str,
        availability_zones: int = DEFAULT_AVAILABILITY_ZONES,
        table_arns: list[str],
        dynamodb_actions: list[str] = DYNAMODB_ACTIONS,
        documents_bucket_arn: str | None,
        document_prefix: str,
        custom_resource_responses: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(cidr),
            max_azs=availability_zones,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="Isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24)
            ],
            # Closing the default group needs CDK's custom resource (a Lambda with an AWS
            # managed policy); nothing in Folio uses the default group (acknowledged).
            restrict_default_security_group=False,
        )
        for finding in nag.DEFAULT_SECURITY_GROUP_UNUSED:
            nag.acknowledge(self.vpc, finding)
        self._flow_logs()

        isolated = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        self.functions_security_group = ec2.SecurityGroup(
            self,
            "Functions",
            vpc=self.vpc,
            description="Folio functions: HTTPS out to the VPC endpoints only",
            allow_all_outbound=False,
        )
        dynamodb_endpoint = self.vpc.add_gateway_endpoint(
            "DynamoDb", service=ec2.GatewayVpcEndpointAwsService.DYNAMODB, subnets=[isolated]
        )
        dynamodb_endpoint.add_to_policy(
            iam.PolicyStatement(
                sid="FolioTablesOnly",
                principals=[iam.AnyPrincipal()],
                actions=dynamodb_actions,
                resources=table_arns,
                conditions={"StringEquals": {"aws:PrincipalAccount": self.account}},
            )
        )
        if documents_bucket_arn is not None:
            self._s3_endpoint(isolated, documents_bucket_arn, document_prefix, custom_resource_responses)
        elif custom_resource_responses:
            raise ValueError("custom resources answer CloudFormation through the S3 endpoint, which needs the bucket")
        # Isolated subnets route nowhere but the endpoints, so HTTPS "anywhere" reaches
        # only the gateway endpoints (whose prefix lists differ by Region) and the VPC.
        self.functions_security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to the gateway endpoints (no other route exists)"
        )

        endpoints_security_group = ec2.SecurityGroup(
            self,
            "Endpoints",
            vpc=self.vpc,
            description="Folio interface endpoints: HTTPS in from Folio functions",
            allow_all_outbound=False,
        )
        endpoints_security_group.add_ingress_rule(
            self.functions_security_group, ec2.Port.tcp(443), "HTTPS from Folio functions"
        )
        for name, service in (
            ("SecretsManager", ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER),
            ("XRay", ec2.InterfaceVpcEndpointAwsService.XRAY),
        ):
            self.vpc.add_interface_endpoint(
                name,
                service=service,
                subnets=isolated,
                security_groups=[endpoints_security_group],
                private_dns_enabled=True,
                open=False,
            )

    def _s3_endpoint(
        self,
        isolated: ec2.SubnetSelection,
        documents_bucket_arn: str,
        document_prefix: str,
        custom_resource_responses: bool,
    ) -> None:
        """The S3 gateway endpoint, whose policy admits Folio's documents and nothing else."""
        s3_endpoint = self.vpc.add_gateway_endpoint(
            "S3", service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[isolated]
        )
        s3_endpoint.add_to_policy(
            iam.PolicyStatement(
                sid="FolioDocumentsOnly",
                principals=[iam.AnyPrincipal()],
                actions=S3_ACTIONS,
                resources=[f"{documents_bucket_arn}/{document_prefix}*"],
                conditions={"StringEquals": {"aws:PrincipalAccount": self.account}},
            )
        )
        s3_endpoint.add_to_policy(
            iam.PolicyStatement(
                sid="FolioDocumentVersionsOnly",
                principals=[iam.AnyPrincipal()],
                actions=S3_LISTING_ACTIONS,
                resources=[documents_bucket_arn],
                conditions={
                    "StringEquals": {"aws:PrincipalAccount": self.account},
                    "StringLike": {"s3:prefix": f"{document_prefix}*"},
                },
            )
        )
        if custom_resource_responses:
            # A custom resource's function in these subnets (the search role mappings) answers
            # CloudFormation by a PUT to a presigned URL in CloudFormation's own bucket for this
            # Region. The URL is signed by CloudFormation, not by a principal of this account, so
            # no account condition can hold; only that bucket's objects, and only PutObject.
            s3_endpoint.add_to_policy(
                iam.PolicyStatement(
                    sid="CloudFormationResponsesOnly",
                    principals=[iam.AnyPrincipal()],
                    actions=["s3:PutObject"],
                    resources=[f"arn:aws:s3:::{cloudformation_response_bucket(self.region)}/*"],
                )
            )

    def _flow_logs(self) -> None:
        key = EncryptionKey(
            self, "FlowLogsKey", description="Folio: encrypts the VPC flow logs", for_log_groups=True
        ).key
        group = logs.LogGroup(
            self, "FlowLogs", encryption_key=key, retention=FLOW_LOG_RETENTION, removal_policy=cdk.RemovalPolicy.RETAIN
        )
        role = iam.Role(
            self,
            "FlowLogsRole",
            assumed_by=iam.ServicePrincipal("vpc-flow-logs.amazonaws.com"),
            description="VPC flow logs: write Folio's flow log group",
        )
        role.add_managed_policy(
            iam.ManagedPolicy(
                self,
                "FlowLogsPolicy",
                description="Write only Folio's flow log group",
                statements=[
                    iam.PolicyStatement(
                        actions=["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
                        resources=[group.log_group_arn],
                    )
                ],
            )
        )
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(group, role.without_policy_updates()),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
