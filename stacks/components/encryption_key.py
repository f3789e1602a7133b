"""A customer-managed KMS key with rotation, RETAIN, and a key policy without `kms:*`."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

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
    "kms:CreateGrant",
]


class EncryptionKey(Construct):
    """A symmetric customer-managed key for one purpose, with an optional fixed alias.

    A fixed alias is how another Region's stack refers to this key without a
    cross-Region reference (see docs/architecture.md, "Keys in every Region").
    """

    def __init__(self, scope: Construct, construct_id: str, *, description: str, alias: str | None = None) -> None:
        super().__init__(scope, construct_id)
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
            ]
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
