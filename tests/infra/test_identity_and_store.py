"""Cognito (user pool, client, identity pool) and the S3 document store, asserted per environment."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import ENVIRONMENT_NAMES, Synthesized


@pytest.fixture(scope="module", params=ENVIRONMENT_NAMES)
def synth(request: pytest.FixtureRequest, synthesized: Callable[[str], Synthesized]) -> Synthesized:
    return synthesized(request.param)


def resources(synth: Synthesized, resource_type: str) -> dict[str, dict[str, Any]]:
    return synth.template("Data").find_resources(resource_type)


def only(synth: Synthesized, resource_type: str) -> dict[str, Any]:
    found = resources(synth, resource_type)
    assert len(found) == 1, f"{len(found)} {resource_type}"
    return next(iter(found.values()))


def test_user_pool_is_plus_with_enforced_threat_protection_and_strong_sign_in(synth: Synthesized) -> None:
    pool = only(synth, "AWS::Cognito::UserPool")
    properties = pool["Properties"]
    auth = synth.config.auth

    assert pool["DeletionPolicy"] == "Retain"
    assert properties["UserPoolTier"] == "PLUS"
    assert properties["UserPoolAddOns"] == {
        "AdvancedSecurityMode": "ENFORCED",
        "AdvancedSecurityAdditionalFlows": {"CustomAuthMode": "ENFORCED"},
    }
    assert properties["UsernameAttributes"] == ["email"]
    assert properties["AutoVerifiedAttributes"] == ["email"]
    assert properties["DeletionProtection"] == "ACTIVE"
    assert properties["MfaConfiguration"] == ("ON" if auth.mfa == "required" else "OPTIONAL")
    assert properties["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]
    assert properties["AccountRecoverySetting"] == {"RecoveryMechanisms": [{"Name": "verified_email", "Priority": 1}]}
    assert properties["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is (not auth.self_sign_up)
    password = properties["Policies"]["PasswordPolicy"]
    assert password["MinimumLength"] >= 12
    assert all(password[k] for k in ("RequireLowercase", "RequireUppercase", "RequireNumbers", "RequireSymbols"))


def test_prod_requires_mfa_and_closes_self_sign_up(synthesized: Callable[[str], Synthesized]) -> None:
    properties = only(synthesized("prod"), "AWS::Cognito::UserPool")["Properties"]

    assert properties["MfaConfiguration"] == "ON"
    assert properties["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True


def test_admins_group_exists(synth: Synthesized) -> None:
    synth.template("Data").has_resource_properties("AWS::Cognito::UserPoolGroup", {"GroupName": "admins"})


def clients(synth: Synthesized) -> dict[str, dict[str, Any]]:
    """The pool's app clients by construct id: the browser's (WebClient) and the smoke test's."""
    found = resources(synth, "AWS::Cognito::UserPoolClient")
    by_id = {
        logical_id.removeprefix("UsersUserPool")[:-8]: resource["Properties"] for logical_id, resource in found.items()
    }
    assert set(by_id) == {"WebClient", "SmokeTestClient"}, sorted(found)
    return by_id


def test_the_smoke_test_client_signs_in_only_with_iam_credentials(synth: Synthesized) -> None:
    client = clients(synth)["SmokeTestClient"]

    assert client["GenerateSecret"] is False
    # ADMIN_USER_PASSWORD_AUTH needs cognito-idp:AdminInitiateAuth: no browser flow, no OAuth
    assert sorted(client["ExplicitAuthFlows"]) == ["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    assert "AllowedOAuthFlows" not in client and client.get("AllowedOAuthFlowsUserPoolClient") is not True
    assert client["PreventUserExistenceErrors"] == "ENABLED"


def test_browser_client_is_public_srp_and_code_grant_only_with_short_tokens(synth: Synthesized) -> None:
    client = clients(synth)["WebClient"]
    auth = synth.config.auth

    assert client["GenerateSecret"] is False
    assert sorted(client["ExplicitAuthFlows"]) == ["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH"]
    assert client["AllowedOAuthFlows"] == ["code"]
    assert client["AllowedOAuthFlowsUserPoolClient"] is True
    assert client["CallbackURLs"] == list(auth.callback_urls)
    assert client["LogoutURLs"] == list(auth.logout_urls)
    assert client["PreventUserExistenceErrors"] == "ENABLED"
    assert client["EnableTokenRevocation"] is True
    validity = {k: client[k] for k in ("AccessTokenValidity", "IdTokenValidity", "RefreshTokenValidity")}
    units = client["TokenValidityUnits"]
    assert validity == {"AccessTokenValidity": 60, "IdTokenValidity": 60, "RefreshTokenValidity": 43200}
    assert units == {"AccessToken": "minutes", "IdToken": "minutes", "RefreshToken": "minutes"}


def test_identity_pool_exists_only_when_switched_on(synth: Synthesized) -> None:
    pools = resources(synth, "AWS::Cognito::IdentityPool")

    assert len(pools) == (1 if synth.config.features.identity_pool else 0)


def identity_policy(synth: Synthesized) -> list[dict[str, Any]]:
    policies = resources(synth, "AWS::IAM::ManagedPolicy")
    [policy] = [p for p in policies.values() if "caller's own" in p["Properties"].get("Description", "")]
    statements: list[dict[str, Any]] = policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_identity_pool_role_reads_only_the_callers_partition_and_prefix(
    environment: str, synthesized: Callable[[str], Synthesized]
) -> None:
    synth = synthesized(environment)
    pool = only(synth, "AWS::Cognito::IdentityPool")["Properties"]
    tags = only(synth, "AWS::Cognito::IdentityPoolPrincipalTag")["Properties"]
    statements = {s["Sid"]: s for s in identity_policy(synth)}

    assert pool["AllowUnauthenticatedIdentities"] is False
    assert tags["PrincipalTags"] == {"owner": "sub"}
    assert tags["UseDefaults"] is False
    assert statements["ReadOwnPartition"]["Action"] == ["dynamodb:GetItem", "dynamodb:Query"]
    assert statements["ReadOwnPartition"]["Condition"] == {
        "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["USER#${aws:PrincipalTag/owner}"]}
    }
    object_arn = json.dumps(statements["ReadOwnObjects"]["Resource"])
    assert object_arn.endswith('"/documents/${aws:PrincipalTag/owner}/*"]]}')
    assert statements["ReadOwnObjects"]["Action"] == "s3:GetObject"
    assert set(statements) == {"ReadOwnPartition", "ReadOwnObjects", "DecryptThroughTheDataServices"}


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_identity_role_trusts_only_this_pools_authenticated_identities_with_session_tags(
    environment: str, synthesized: Callable[[str], Synthesized]
) -> None:
    synth = synthesized(environment)
    roles = resources(synth, "AWS::IAM::Role")
    [role] = [r for r in roles.values() if "signed-in users" in r["Properties"].get("Description", "")]
    [trust] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]

    assert trust["Principal"] == {"Federated": "cognito-identity.amazonaws.com"}
    assert sorted(trust["Action"]) == ["sts:AssumeRoleWithWebIdentity", "sts:TagSession"]
    assert trust["Condition"]["ForAnyValue:StringLike"] == {"cognito-identity.amazonaws.com:amr": "authenticated"}
    assert "cognito-identity.amazonaws.com:aud" in trust["Condition"]["StringEquals"]


def buckets(synth: Synthesized) -> tuple[dict[str, Any], dict[str, Any]]:
    found = resources(synth, "AWS::S3::Bucket")
    # The documents bucket logs under documents/ (the audit archive, where features.cdc, under its own prefix).
    [documents] = [
        b
        for b in found.values()
        if b["Properties"].get("LoggingConfiguration", {}).get("LogFilePrefix") == "documents/"
    ]
    [logs] = [b for b in found.values() if "LoggingConfiguration" not in b["Properties"]]
    return documents, logs


def test_documents_bucket_is_private_kms_versioned_logged_and_retained(synth: Synthesized) -> None:
    documents, _ = buckets(synth)
    properties = documents["Properties"]
    [encryption] = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]

    assert documents["DeletionPolicy"] == "Retain"
    assert encryption["BucketKeyEnabled"] is True
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert "KMSMasterKeyID" in encryption["ServerSideEncryptionByDefault"]
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert properties["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert properties["LoggingConfiguration"]["LogFilePrefix"] == "documents/"


def test_documents_bucket_lifecycle_and_cors_follow_config(synth: Synthesized) -> None:
    documents, _ = buckets(synth)
    rules = {r["Id"]: r for r in documents["Properties"]["LifecycleConfiguration"]["Rules"]}
    [cors] = documents["Properties"]["CorsConfiguration"]["CorsRules"]

    assert rules["AbortIncompleteUploads"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert rules["ExpireOldVersions"]["NoncurrentVersionExpiration"] == {
        "NoncurrentDays": synth.config.documents.noncurrent_version_retention_days
    }
    assert cors["AllowedOrigins"] == list(synth.config.cors_origins)
    assert sorted(cors["AllowedMethods"]) == ["GET", "HEAD", "POST"]


def test_both_buckets_refuse_plain_http_and_tls_below_1_2(synth: Synthesized) -> None:
    policies = resources(synth, "AWS::S3::BucketPolicy")

    # The documents and access-log buckets, and the audit archive where features.cdc.
    assert len(policies) == (3 if synth.config.features.cdc else 2)
    for policy in policies.values():
        conditions = [
            s["Condition"] for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"
        ]
        assert {"Bool": {"aws:SecureTransport": "false"}} in conditions
        assert {"NumericLessThan": {"s3:TlsVersion": 1.2}} in conditions


def test_access_log_bucket_is_hardened_with_a_lifecycle(synth: Synthesized) -> None:
    _, logs = buckets(synth)
    properties = logs["Properties"]
    [rule] = properties["LifecycleConfiguration"]["Rules"]

    assert logs["DeletionPolicy"] == "Retain"
    assert properties["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert rule["ExpirationInDays"] == synth.config.documents.access_log_retention_days
    [skip] = logs["Metadata"]["checkov"]["skip"]
    assert skip["id"] == "CKV_AWS_18"
    assert "access-log bucket" in skip["comment"]
