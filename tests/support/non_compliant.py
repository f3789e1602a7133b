"""Resources that break a rule of every cdk-nag pack and an AWS Control Tower control: the
tests that prove the packs run somewhere add them there and expect each to be flagged."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct


def add_non_compliant_resources(scope: Construct) -> None:
    """Unencrypted, unlogged, untraced resources, and a key whose policy lets anyone of the
    account create grants (CT.KMS.PR.3), under `scope`."""
    account = cdk.Stack.of(scope).account
    s3.CfnBucket(scope, "PlainBucket")
    sqs.CfnQueue(scope, "PlainQueue")
    kms.CfnKey(
        scope,
        "PlainKey",
        enable_key_rotation=True,
        key_policy={
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": ["kms:Decrypt", "kms:CreateGrant"],
                    "Resource": "*",
                }
            ],
        },
    )
    lambda_.Function(
        scope,
        "PlainFunction",
        runtime=lambda_.Runtime.PYTHON_3_9,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return None\n"),
    )
