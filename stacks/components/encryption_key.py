"""A customer-managed KMS key with rotation, RETAIN, and a key policy without `kms:*` whose grants
are only for AWS resources."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from stacks.components.alarm_topic import alarms_of_this_account

# What the account's administrators (through IAM) may do to the key itself. Listed
# explicitly because the default key policy grants `kms:*`, which Folio's guard tests
# forbid: deleting or disabling a key is the one way to lose every table replica.
_KEY_ADMINISTRATION_ACTIONS = [
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListAliases",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:RevokeGrant",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
]

# Cryptographic use, delegated to IAM: a principal also needs an identity policy that
# names this key, so the key policy alone grants nobody access to data.
_KEY_USE_ACTIONS = [
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
]

# A grant gives its grantee lasting use of the key outside both policies. AWS services
# (DynamoDB, Lambda's environment encryption, AWS Backup) create grants for their own
# resources and say so with kms:GrantIsForAWSResource; nobody else needs one.
_GRANT_IS_FOR_AWS_RESOURCE = {"Bool": {"kms:GrantIsForAWSResource": "true"}}


def grants_only_for_aws_services() -> iam.PolicyStatement:
    """AWS Control Tower CT.KMS.PR.3, in the exact form its rule checks: whatever any other
    statement or identity policy allows, no one but an AWS service creates a grant that is not
    for an AWS resource. For Folio's keys and for the keys CDK Pipelines creates."""
    return iam.PolicyStatement(
        sid="GrantsOnlyForAwsServices",
        effect=iam.Effect.DENY,
        principals=[iam.AnyPrincipal()],
        actions=["kms:CreateGrant"],
        resources=["*"],
        conditions={"BoolIfExists": {"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"}},
    )


class EncryptionKey(Construct):
    """A symmetric customer-managed key for one purpose, with an optional fixed alias.

    A fixed alias is how another Region's stack refers to this key without a
    cross-Region reference (see docs/architecture.md, "Keys in every Region").
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        description: str,
        alias: str | None = None,
        for_log_groups: bool = False,
        service_principals: Sequence[str] = (),
        for_alarm_notifications: bool = False,
        for_pipeline_notifications: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        account_root = iam.AccountRootPrincipal()
        policy = iam.PolicyDocument(
            statements=[
                iam.PolicyStatement(
                    sid="KeyAdministrationThroughIam",
                    principals=[account_root],
                    actions=_KEY_ADMINISTRATION_ACTIONS,
                    resources=["*"],  # In a key policy "*" means this key.
                ),
                iam.PolicyStatement(
                    sid="KeyUseThroughIam",
                    principals=[account_root],
                    actions=_KEY_USE_ACTIONS,
                    resources=["*"],
                ),
                iam.PolicyStatement(
                    sid="GrantsThroughIamForAwsResources",
                    principals=[account_root],
                    actions=["kms:CreateGrant"],
                    resources=["*"],
                    conditions=_GRANT_IS_FOR_AWS_RESOURCE,
                ),
                grants_only_for_aws_services(),
            ]
        )
        if for_log_groups:
            # CloudWatch Logs encrypts with the key itself, not with the caller's
            # permissions; it may use it only for this account's log groups in this Region.
            policy.add_statements(
                iam.PolicyStatement(
                    sid="CloudWatchLogsForThisAccountsLogGroups",
                    principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                    actions=[
                        "kms:Decrypt",
                        "kms:DescribeKey",
                        "kms:Encrypt",
                        "kms:GenerateDataKey",
                        "kms:ReEncryptFrom",
                        "kms:ReEncryptTo",
                    ],
                    resources=["*"],
                    conditions={
                        "ArnLike": {
                            "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                                service="logs",
                                resource="log-group",
                                resource_name="*",
                                arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                            )
                        }
                    },
                )
            )
        if service_principals:
            # Services that write encrypted messages on this account's behalf (e.g. EventBridge
            # into an encrypted dead-letter queue), only for requests from this account.
            policy.add_statements(
                iam.PolicyStatement(
                    sid="ServicesActingForThisAccount",
                    principals=[iam.ServicePrincipal(p) for p in service_principals],
                    actions=["kms:Decrypt", "kms:GenerateDataKey"],
                    resources=["*"],
                    conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
                )
            )
        if for_alarm_notifications:
            # CloudWatch publishes alarm notifications to an encrypted topic with its own
            # service principal; it may use the key only on behalf of this account's alarms.
            policy.add_statements(
                iam.PolicyStatement(
                    sid="CloudWatchAlarmsOfThisAccount",
                    principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                    actions=["kms:Decrypt", "kms:GenerateDataKey"],
                    resources=["*"],
                    conditions=alarms_of_this_account(self),
                )
            )
        if for_pipeline_notifications:
            # AWS CodeStar Notifications publishes pipeline events to an encrypted topic with its
            # own service principal; it may use the key only through SNS in this Region (the key
            # policy AWS documents for notification rules with an encrypted topic).
            policy.add_statements(
                iam.PolicyStatement(
                    sid="CodeStarNotificationsThroughSns",
                    principals=[iam.ServicePrincipal("codestar-notifications.amazonaws.com")],
                    actions=["kms:Decrypt", "kms:GenerateDataKey"],
                    resources=["*"],
                    conditions={"StringEquals": {"kms:ViaService": f"sns.{stack.region}.amazonaws.com"}},
                )
            )
        self.key = kms.Key(
            self,
            "Key",
            description=description,
            enable_key_rotation=True,
            policy=policy,
            removal_policy=cdk.RemovalPolicy.RETAIN,
            pending_window=cdk.Duration.days(30),
        )
        if alias is not None:
            self.key.add_alias(alias)
