"""What every Folio function may do whatever its routes: traces, its place in the VPC, its
dead-letter queue. One customer-managed policy, attached to each function's own role."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks import nag

# The subnets Folio's functions run in; the VPC has no other kind.
FUNCTION_SUBNETS = ec2.SubnetType.PRIVATE_ISOLATED


class FunctionBaselinePolicy(Construct):
    """The statements all of a stack's functions share, kept in one place.

    They are the only ones with `Resource: "*"` or an interface wildcard (X-Ray and EC2
    authorize nothing narrower), so the decision, and its cdk-nag acknowledgement, is
    made once rather than once per function. Every function still has a role of its own,
    and everything that differs between functions stays in that function's own policy.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        security_group: ec2.ISecurityGroup,
        dead_letter_queue: sqs.IQueue,
        dead_letter_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        subnets = vpc.select_subnets(subnet_type=FUNCTION_SUBNETS).subnet_ids

        def ec2_arn(resource: str, name: str) -> str:
            return stack.format_arn(service="ec2", resource=resource, resource_name=name)

        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description="What every Folio function of this stack may do: traces, VPC interfaces, dead letters",
            statements=[
                iam.PolicyStatement(
                    sid="WriteTraces",  # X-Ray authorizes these only on "*"
                    actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                    resources=["*"],
                ),
                # Lambda places a function in the VPC with the function's own role: it creates,
                # re-addresses and deletes network interfaces in the functions' subnets, with their
                # security group. EC2 scopes those to the ARNs below; an interface's id exists only
                # once it is created, so interfaces are this account's and Region's.
                iam.PolicyStatement(
                    sid="FindNetworkInterfaces",  # no resource type in EC2's authorization reference
                    actions=["ec2:DescribeNetworkInterfaces"],
                    resources=["*"],
                ),
                iam.PolicyStatement(
                    sid="CreateNetworkInterfaces",
                    actions=["ec2:CreateNetworkInterface"],
                    resources=[
                        *(ec2_arn("subnet", subnet) for subnet in subnets),
                        ec2_arn("security-group", security_group.security_group_id),
                        ec2_arn("network-interface", "*"),
                    ],
                ),
                iam.PolicyStatement(
                    sid="ManageNetworkInterfaces",
                    actions=[
                        "ec2:AssignPrivateIpAddresses",
                        "ec2:DeleteNetworkInterface",
                        "ec2:UnassignPrivateIpAddresses",
                    ],
                    resources=[ec2_arn("network-interface", "*")],
                ),
                iam.PolicyStatement(
                    sid="DeadLetterFailedAsyncInvocations",
                    actions=["sqs:SendMessage"],
                    resources=[dead_letter_queue.queue_arn],
                ),
                iam.PolicyStatement(
                    sid="EncryptDeadLetters",
                    actions=["kms:Decrypt", "kms:GenerateDataKey"],
                    resources=[dead_letter_key.key_arn],
                ),
            ],
        )
        nag.acknowledge(self.policy, nag.XRAY_WRITES)
        nag.acknowledge(self.policy, nag.NETWORK_INTERFACES, region=stack.region, account=stack.account)
