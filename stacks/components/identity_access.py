"""Optional Cognito identity pool: AWS credentials for signed-in users, scoped to their own data."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from folio import keys
from stacks import nag

# The principal tag that carries the user pool `sub` into the session.
OWNER_TAG = "owner"


class IdentityAccess(Construct):
    """An identity pool with no unauthenticated identities. The user's `sub` becomes the
    session's `owner` principal tag, and the one authenticated role can read only items
    whose partition key is `USER#<owner>` and only objects under `<owner>/`.

    L1 resources because the L2 `IdentityPool` always creates an unauthenticated role
    (unused here, but still a role that reviewers would have to audit).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        user_pool: cognito.IUserPool,
        client: cognito.IUserPoolClient,
        table: dynamodb.ITableV2,
        table_key: kms.IKey,
        bucket: s3.IBucket,
        bucket_key: kms.IKey,
        object_prefix: str,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        provider_name = f"cognito-idp.{stack.region}.amazonaws.com/{user_pool.user_pool_id}"
        self.identity_pool = cognito.CfnIdentityPool(
            self,
            "IdentityPool",
            allow_unauthenticated_identities=False,
            allow_classic_flow=False,
            cognito_identity_providers=[
                cognito.CfnIdentityPool.CognitoIdentityProviderProperty(
                    client_id=client.user_pool_client_id, provider_name=provider_name, server_side_token_check=True
                )
            ],
        )
        cognito.CfnIdentityPoolPrincipalTag(
            self,
            "OwnerTag",
            identity_pool_id=self.identity_pool.ref,
            identity_provider_name=provider_name,
            principal_tags={OWNER_TAG: "sub"},
            use_defaults=False,
        )
        self.authenticated_role = iam.Role(
            self,
            "AuthenticatedRole",
            description="Folio signed-in users: read their own rows and objects only",
            assumed_by=iam.FederatedPrincipal(
                "cognito-identity.amazonaws.com",
                conditions={
                    "StringEquals": {"cognito-identity.amazonaws.com:aud": self.identity_pool.ref},
                    "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"},
                },
                assume_role_action="sts:AssumeRoleWithWebIdentity",
            ).with_session_tags(),
        )
        own_partition = f"{keys.USER_PREFIX}{keys.KEY_SEPARATOR}${{aws:PrincipalTag/{OWNER_TAG}}}"
        policy = iam.ManagedPolicy(
            self,
            "OwnDataOnly",
            description="Read only the caller's own partition and object prefix",
            statements=[
                iam.PolicyStatement(
                    sid="ReadOwnPartition",
                    actions=["dynamodb:GetItem", "dynamodb:Query"],
                    resources=[table.table_arn],
                    conditions={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [own_partition]}},
                ),
                iam.PolicyStatement(
                    sid="ReadOwnObjects",
                    actions=["s3:GetObject"],
                    resources=[bucket.arn_for_objects(f"{object_prefix}${{aws:PrincipalTag/{OWNER_TAG}}}/*")],
                ),
                iam.PolicyStatement(
                    sid="DecryptThroughTheDataServices",
                    actions=["kms:Decrypt"],
                    resources=[table_key.key_arn, bucket_key.key_arn],
                    conditions={
                        "StringEquals": {
                            "kms:ViaService": [
                                f"dynamodb.{stack.region}.amazonaws.com",
                                f"s3.{stack.region}.amazonaws.com",
                            ]
                        }
                    },
                ),
            ],
        )
        self.authenticated_role.add_managed_policy(policy)
        self.policy = policy
        nag.acknowledge(policy, nag.IDENTITY_OWN_OBJECTS, bucket=nag.logical_id(bucket))
        cognito.CfnIdentityPoolRoleAttachment(
            self,
            "Roles",
            identity_pool_id=self.identity_pool.ref,
            roles={"authenticated": self.authenticated_role.role_arn},
        )
