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

from aws_cdk import aws_iam as iam

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


@dataclass(frozen=True)
class Delivery:
    """How the pipeline delivers one environment: from which account and stack, and what its
    steps do there. FolioStage creates a delivery role only when given one (the pipeline's
    stages), never for a direct deploy (app.py's stage)."""

    pipeline_account: str
    pipeline_stack_name: str
    """CloudFormation names each role of the pipeline's stack `<stack name>-<logical id>-<suffix>`."""
    smoke_test: bool = False
    """The smoke test runs against this environment (its user pool)."""
    publication_regions: tuple[str, ...] = ()
    """The replica Regions into which the pipeline publishes this environment's home values."""

    @property
    def pipeline_role_arns(self) -> str:
        """The roles of the pipeline's stack, as an ArnLike pattern. The step's part of the logical
        id is not matched: CloudFormation truncates a generated name to 64 characters. Of these
        roles only the steps that need it may assume the delivery role (`assume_delivery_role`)."""
        return f"arn:aws:iam::{self.pipeline_account}:role/{self.pipeline_stack_name}-*"


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
