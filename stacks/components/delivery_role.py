"""`DeliveryRole`: the role in an environment's account that the delivery pipeline's steps assume.

The pipeline runs in a toolchain account of its own. Its CodeBuild steps that act in an
environment (the smoke test's Cognito calls, the publication of the home values to SSM) cannot
be granted that directly: Cognito has no resource policies and SSM parameters none either, so
the environment's account must hold a role for them, and the step's own role may only assume it.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_iam as iam
from constructs import Construct


class DeliveryRole(Construct):
    """A role named `role_name`, assumable only by the roles `step_role_arns` of `pipeline_account`
    (named exactly, `ArnEquals`), allowed exactly `statements` through one customer-managed
    policy (no inline policy)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        role_name: str,
        pipeline_account: str,
        step_role_arns: Sequence[str],
        statements: Sequence[iam.PolicyStatement],
    ) -> None:
        super().__init__(scope, construct_id)
        # The account as principal and the roles' ARNs as a condition, not as principals: IAM
        # would refuse a trust policy naming a role that does not exist yet, and pin a recreated
        # role's old unique id. ArnEquals on fixed names: no other role of the account matches.
        # Each step's own role may assume this one role only.
        self.role = iam.Role(
            self,
            "Role",
            role_name=role_name,
            description="Folio: what the delivery pipeline's steps may do in this environment",
            assumed_by=iam.AccountPrincipal(pipeline_account).with_conditions(
                {"ArnEquals": {"aws:PrincipalArn": list(step_role_arns)}}
            ),
        )
        self.policy = iam.ManagedPolicy(
            self, "Policy", description="What the delivery pipeline's steps may do here", statements=list(statements)
        )
        self.role.add_managed_policy(self.policy)
