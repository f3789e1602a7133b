"""What the pipeline's own steps may do in the environments it delivers, beyond what CDK
Pipelines grants them: the smoke test manages a test user in the test environment's user pool,
and the publication step writes the home values into each replica Region of production.

The pipeline runs in an account of its own, so each step's role may only assume the
environment's delivery role (`assume_delivery_role`), which the environment's FolioStage
creates with the statements of `delivery` (stacks/components/delivery_role.py).

A table of facts beside the stacks that wire it (tests/unit/test_project.py keeps statements
out of `*_stack.py`); tests/infra/test_pipeline_stack.py reads the synthesized result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import constructs
import jsii
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import pipelines
from constructs import Construct

from stacks.config import FolioConfig
from stacks.names import EnvironmentNames

# What tools/smoke_test.py does with the test environment's user pool: create a user for the
# run, give it a password, sign it in, and delete it afterwards.
SMOKE_TEST_COGNITO_ACTIONS = (
    "cognito-idp:AdminCreateUser",
    "cognito-idp:AdminDeleteUser",
    "cognito-idp:AdminInitiateAuth",
    "cognito-idp:AdminSetUserPassword",
)

# What aws-cdk-lib's asset-publishing role (pipelines/lib/private/asset-singleton-role.js) may do
# to every CodeBuild project of the account. With `use_pipeline_role_for_actions` the pipeline's
# role starts and watches the asset builds; the asset role needs none of it. A build started
# with a buildspec override runs any command as its project's role (SelfMutation's may deploy
# through the toolchain's bootstrap roles, the smoke test's and the publication's assume a
# delivery role), so an asset build that could start one could act as any of them.
BUILD_CONTROL_ACTIONS = frozenset({"codebuild:BatchGetBuilds", "codebuild:StartBuild", "codebuild:StopBuild"})


def without_build_control(document: dict[str, Any]) -> dict[str, Any]:
    """A rendered policy document less BUILD_CONTROL_ACTIONS allowed on `*`."""
    statements = []
    for statement in document["Statement"]:
        if statement.get("Resource") == "*" and statement["Effect"] == "Allow":
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            kept = [a for a in actions if a not in BUILD_CONTROL_ACTIONS]
            if not kept:
                continue
            statement = {**statement, "Action": kept if len(kept) > 1 else kept[0]}
        statements.append(statement)
    return {**document, "Statement": statements}


@jsii.implements(constructs.IValidation)
class _UnchangedSince:
    """Fails the synth if a policy gained statements after its document was written out."""

    def __init__(self, policy: iam.Policy, written: dict[str, Any]) -> None:
        self.policy = policy
        self.written = written

    def validate(self) -> list[str]:
        now = without_build_control(cdk.Stack.of(self.policy).resolve(self.policy.document))
        if now != self.written:
            return [f"{self.policy.node.path} changed after withhold_build_control_from_asset_roles(): call it last"]
        return []


def withhold_build_control_from_asset_roles(pipeline: pipelines.CodePipeline) -> list[iam.Role]:
    """Take BUILD_CONTROL_ACTIONS on `*` out of the default policy of each asset-publishing role
    of `pipeline`. The role's own `add_to_principal_policy` cannot (it drops a statement whose
    actions are the ones it grants) and a Python producer cannot filter at synth (jsii does not
    pass it the resolve context): the document is written out here, after `build_pipeline()`,
    and a validation fails the synth if the policy changes afterwards. Returns the roles."""
    assets = pipeline.node.try_find_child("Assets")
    roles = [] if assets is None else [c for c in assets.node.children if isinstance(c, iam.Role)]
    for role in roles:
        default_policy = role.node.find_child("DefaultPolicy")
        assert isinstance(default_policy, iam.Policy), f"{role.node.path} has no default policy"
        resource = default_policy.node.default_child
        assert isinstance(resource, iam.CfnPolicy)
        written = without_build_control(cdk.Stack.of(role).resolve(default_policy.document))
        resource.policy_document = written
        default_policy.node.add_validation(_UnchangedSince(default_policy, written))
    return roles


def project_role(project: codebuild.IProject) -> iam.IRole:
    """The role a pipeline's CodeBuild project runs as (CDK Pipelines always gives one)."""
    assert project.role is not None, f"{project.node.path} has no role"
    return project.role


@dataclass(frozen=True)
class Delivery:
    """How the pipeline delivers one environment: from which account, and what its steps do
    there. FolioStage creates a delivery role only when given one (the pipeline's stages), never
    for a direct deploy (app.py's stage)."""

    pipeline_account: str
    smoke_test: bool = False
    """The smoke test runs against this environment (its user pool)."""
    publication_regions: tuple[str, ...] = ()
    """The replica Regions into which the pipeline publishes this environment's home values."""

    def step_role_arns(self, names: EnvironmentNames) -> list[str]:
        """The roles of exactly the steps that act in the environment (`step_role`'s fixed names
        in the pipeline's account), which its delivery role trusts and no other."""
        step_roles = [
            *([names.smoke_test_role] if self.smoke_test else []),
            *([names.publication_role] if self.publication_regions else []),
        ]
        return [f"arn:aws:iam::{self.pipeline_account}:role/{name}" for name in step_roles]


STEP_ROLES_ID = "StepRoles"


def step_roles(pipeline_stack: cdk.Stack) -> Construct:
    """Where `step_role` puts the roles of `pipeline_stack`'s steps."""
    existing = pipeline_stack.node.try_find_child(STEP_ROLES_ID)
    if existing is None:
        return Construct(pipeline_stack, STEP_ROLES_ID)
    assert isinstance(existing, Construct)
    return existing


def step_role(stage: cdk.Stage, role_name: str) -> iam.Role:
    """The role of a pipeline step that acts in `stage`'s environment (a CodeBuildStep's `role`),
    named `role_name` (EnvironmentNames.smoke_test_role, .publication_role), in the stack that
    delivers `stage`. The name is fixed so that the environment's delivery role can trust this
    one role by its ARN (`Delivery.step_role_arns`); CDK Pipelines adds the step's grants to it."""
    pipeline_stack = stage.node.scope
    assert isinstance(pipeline_stack, cdk.Stack), f"{stage.node.path} is not delivered by a pipeline stack"
    return iam.Role(
        step_roles(pipeline_stack),
        "".join(part.capitalize() for part in role_name.split("-")),  # FolioDevSmokeTest
        role_name=role_name,
        description=f"Folio: a pipeline step that acts in {stage.node.id} through its delivery role",
        assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"),
    )


def delivery_role_arn(environment: FolioConfig, names: EnvironmentNames) -> str:
    """The ARN of `environment`'s delivery role, from its fixed name (no reference across accounts)."""
    return f"arn:aws:iam::{environment.account}:role/{names.delivery_role}"


def assume_delivery_role(environment: FolioConfig, names: EnvironmentNames) -> list[iam.PolicyStatement]:
    """A step's own role may assume `environment`'s delivery role, and nothing else there."""
    return [
        iam.PolicyStatement(
            sid="AssumeDeliveryRole", actions=["sts:AssumeRole"], resources=[delivery_role_arn(environment, names)]
        )
    ]


def delivery(
    delivered: Delivery, environment: FolioConfig, names: EnvironmentNames, *, user_pool_arn: str
) -> list[iam.PolicyStatement]:
    """What the delivery role of `environment` may do: manage users of its own user pool where
    the smoke test runs, put exactly the home values' parameters in each Region it publishes to."""
    statements = []
    if delivered.smoke_test:
        statements.append(
            iam.PolicyStatement(
                sid="SmokeTestUsers", actions=list(SMOKE_TEST_COGNITO_ACTIONS), resources=[user_pool_arn]
            )
        )
    if delivered.publication_regions:
        statements.append(
            iam.PolicyStatement(
                sid="PublishHomeValues",
                actions=["ssm:PutParameter"],
                resources=[
                    f"arn:aws:ssm:{region}:{environment.account}:parameter{parameter}"
                    for region in delivered.publication_regions
                    for parameter in names.published_parameters
                ],
            )
        )
    return statements
