"""`withhold_build_control_from_asset_roles` on a small CDK pipeline with one file asset: the
asset role keeps what it needs and loses build control of the account, and a statement added
to that role afterwards fails the synth instead of being silently lost."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import pipelines

from stacks.pipeline_permissions import BUILD_CONTROL_ACTIONS, withhold_build_control_from_asset_roles

ACCOUNT = "333333333333"
CONNECTION = f"arn:aws:codeconnections:us-east-1:{ACCOUNT}:connection/00000000-0000-0000-0000-000000000000"


class StageWithAnAsset(cdk.Stage):
    def __init__(self, scope: cdk.Stack, construct_id: str, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        stack = cdk.Stack(self, "Stack")
        s3_assets.Asset(stack, "Asset", path=__file__)
        cdk.CfnWaitConditionHandle(stack, "Resource")  # a template needs one resource


def built_pipeline(outdir: Path) -> tuple[cdk.App, pipelines.CodePipeline]:
    app = cdk.App(outdir=str(outdir))
    stack = cdk.Stack(app, "P", env=cdk.Environment(account=ACCOUNT, region="us-east-1"))
    source = pipelines.CodePipelineSource.connection("org/repo", "main", connection_arn=CONNECTION)
    pipeline = pipelines.CodePipeline(
        stack,
        "Pipeline",
        synth=pipelines.ShellStep("Synth", input=source, commands=["make synth"]),
        publish_assets_in_parallel=False,
        use_pipeline_role_for_actions=True,
        cross_account_keys=True,
    )
    pipeline.add_stage(StageWithAnAsset(stack, "Dev", env=cdk.Environment(account="111111111111", region="us-east-1")))
    pipeline.build_pipeline()
    return app, pipeline


def asset_role_statements(template: dict[str, Any], role: iam.Role) -> list[dict[str, Any]]:
    role_ref = cdk.Stack.of(role).resolve(role.role_name)
    return [
        statement
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Policy" and role_ref in resource["Properties"]["Roles"]
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]


def actions_of(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return set(action if isinstance(action, list) else [action])


def test_the_asset_role_loses_build_control_and_keeps_the_rest(tmp_path: Path) -> None:
    # Given a built pipeline whose asset role aws-cdk-lib grants build control of every project
    app, pipeline = built_pipeline(tmp_path)

    # When it is withheld
    (role,) = withhold_build_control_from_asset_roles(pipeline)

    # Then no statement of the role names those actions, and its other grants are still there
    statements = asset_role_statements(app.synth().get_stack_by_name("P").template, role)
    assert role.node.path == "P/Pipeline/Assets/FileRole"
    assert [s for s in statements if actions_of(s) & BUILD_CONTROL_ACTIONS] == []
    assert any("sts:AssumeRole" in actions_of(s) for s in statements)  # the file-publishing roles
    assert any("logs:PutLogEvents" in actions_of(s) for s in statements)


def test_a_statement_added_to_the_asset_role_afterwards_fails_the_synth(tmp_path: Path) -> None:
    app, pipeline = built_pipeline(tmp_path)
    (role,) = withhold_build_control_from_asset_roles(pipeline)

    role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=["arn:aws:s3:::b/*"]))

    with pytest.raises(RuntimeError, match="changed after withhold_build_control_from_asset_roles"):
        app.synth()
