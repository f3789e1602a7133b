"""Resources that break a rule of every cdk-nag pack and an AWS Control Tower control: the
tests that prove the packs run somewhere add them there and expect each to be flagged."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.pipeline_stack import PipelineStack, support_of_other_regions
from stacks.regional_serving_stage import RegionalServingStage
from stacks.stage import FolioStage


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


def add_non_compliant_stack(stage: FolioStage | RegionalServingStage) -> None:
    """Resources that break rules of every pack: unencrypted, unlogged, untraced (in the
    environment's FolioStage and in each of its regional serving stages, in their Regions)."""
    region = stage.serving_region if isinstance(stage, RegionalServingStage) else stage.config.region
    stack = cdk.Stack(stage, "NonCompliant", env=cdk.Environment(account=stage.config.account, region=region))
    add_non_compliant_resources(stack)


def add_non_compliant_construct(scope: Construct) -> None:
    """The resources under a construct "NonCompliant" of `scope`."""
    add_non_compliant_resources(Construct(scope, "NonCompliant"))


class StageWithExtra(FolioStage):
    """A FolioStage with a non-compliant stack of its own. CDK Pipelines synthesizes a stage when
    it is added (its assembly decides the pipeline's actions), so the extra stack must exist by
    then: the pipeline is built with this class in place of FolioStage."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        config = self.config
        extra = cdk.Stack(self, "Extra", env=cdk.Environment(account=config.account, region=config.region))
        add_non_compliant_construct(extra)


def inject_after_build(stack: PipelineStack) -> None:
    """The resources in the pipeline stack and in each support stack CDK Pipelines added."""
    add_non_compliant_construct(stack)
    for support in support_of_other_regions(stack.pipeline.pipeline):
        add_non_compliant_construct(support.stack)
