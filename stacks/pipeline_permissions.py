"""What the pipeline's own steps may call beyond what CDK Pipelines grants them: today the
smoke test, which manages a test user in the test environment's user pool.

A table of facts beside the stack that wires it (tests/unit/test_project.py keeps statements
out of `*_stack.py`); tests/infra/test_pipeline_stack.py reads the synthesized result.
"""

from __future__ import annotations

import aws_cdk as cdk
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
# FolioStage tags every resource of an environment with its name.
ENVIRONMENT_TAG = "folio:environment"


def smoke_test(environment: FolioConfig) -> list[iam.PolicyStatement]:
    """The smoke test of `environment` may manage users of that environment's user pool only.

    A user pool's id is generated, so the pool is named by the environment's account, Region
    and tag (Cognito user pools support aws:ResourceTag).
    """
    user_pools = cdk.Arn.format(
        cdk.ArnComponents(
            partition="aws",
            service="cognito-idp",
            region=environment.region,
            account=environment.account,
            resource="userpool",
            resource_name="*",
        )
    )
    return [
        iam.PolicyStatement(
            sid="SmokeTestUsers",
            actions=list(SMOKE_TEST_COGNITO_ACTIONS),
            resources=[user_pools],
            conditions={"StringEquals": {f"aws:ResourceTag/{ENVIRONMENT_TAG}": environment.name}},
        )
    ]


def publish_home_values(
    environment: FolioConfig, names: EnvironmentNames, regions: list[str]
) -> list[iam.PolicyStatement]:
    """The publication step may put exactly the home values' parameters, in each replica Region.
    It runs with the pipeline's credentials: where the environment is in another account, this
    statement alone does not reach it (docs/architecture.md, "Regional serving stages")."""
    return [
        iam.PolicyStatement(
            sid="PublishHomeValues",
            actions=["ssm:PutParameter"],
            resources=[
                f"arn:aws:ssm:{region}:{environment.account}:parameter{parameter}"
                for region in regions
                for parameter in (
                    names.home_table_name_parameter,
                    names.home_user_pool_arn_parameter,
                    names.home_bucket_key_arn_parameter,
                )
            ],
        )
    ]
