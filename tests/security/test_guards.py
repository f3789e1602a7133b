"""Guards for what cdk-nag, cfn-lint and checkov do not see (see ../shared/TOOLING.md "Blind spots").

Each guard runs over every resource of every stack of every environment, and each has
a companion test that feeds it a deliberately bad template fragment, so a guard that
stops finding problems fails too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import ENVIRONMENT_NAMES, Synthesized, all_resources

# Types that hold something a user or operator cannot recreate.
STATEFUL_TYPES = frozenset(
    {
        "AWS::DynamoDB::GlobalTable",
        "AWS::DynamoDB::Table",
        "AWS::KMS::Key",
        "AWS::Backup::BackupVault",
        "AWS::S3::Bucket",
        "AWS::Cognito::UserPool",
        "AWS::OpenSearchService::Domain",
    }
)

# Actions that cannot be scoped to a resource ARN (the service authorization reference
# lists no resource type for them, so IAM needs "*"), and so are the only ones allowed with
# Resource "*" in an identity policy. EC2's network-interface writes are not among them:
# they take the ARNs of the subnet, security group and network interface.
UNSCOPABLE_ACTIONS = frozenset(
    {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "cloudwatch:PutMetricData",
        "ec2:DescribeNetworkInterfaces",
    }
)
# What Lambda does with a function's role to place it in the VPC, less the Describe.
NETWORK_INTERFACE_WRITES = frozenset(
    {
        "ec2:CreateNetworkInterface",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
    }
)

IDENTITY_POLICY_TYPES = {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::Role"}


@dataclass(frozen=True)
class WildcardGrant:
    """A resource ARN with `*` in it that an identity policy may allow, and why."""

    pattern: str  # a regex over the rendered ARN (intrinsics rendered as {Ref}, {GetAtt}, ...)
    reason: str
    required_condition: str | None = None  # a condition key the statement must carry
    only_actions: frozenset[str] | None = None  # if set, the statement may allow nothing else

    def admits(self, actions: set[str], conditions: set[str]) -> bool:
        """Whether a statement with these actions and condition keys may use the ARN."""
        if self.required_condition and self.required_condition not in conditions:
            return False
        return self.only_actions is None or actions <= self.only_actions


# Every wildcard ARN an identity policy may allow. Anything else with `*` in it fails.
WILDCARD_GRANTS = (
    WildcardGrant(
        r"^arn:aws:s3:::[a-z0-9.-]+/documents/\*$",
        "document objects are documents/<owner>/<docId>, made per request; a function serves every "
        "user, so its scope is the prefix, and per-user isolation is the code's (isolation matrix)",
    ),
    WildcardGrant(
        r"/documents/\$\{aws:PrincipalTag/owner\}/\*$",
        "identity pool: the signed-in user's own prefix, from the principal tag mapped from `sub`",
    ),
    WildcardGrant(r"^\{GetAtt\}/backup/\*$", "AWS Backup names each recovery point of the table itself"),
    WildcardGrant(
        r"^arn:aws:ec2:[a-z0-9-]+:\d{12}:network-interface/\*$",
        "Lambda creates, re-addresses and deletes the function's network interfaces with its role; their ids "
        "exist only once created, so the account's and Region's interfaces, and creating one also needs the "
        "function's own subnet and security group ARNs",
        only_actions=NETWORK_INTERFACE_WRITES,
    ),
    WildcardGrant(
        r"^arn:aws:kms:[a-z0-9-]+:\d{12}:key/\*$",
        "the backup copy key lives in another Region's stack, so it is named by alias; the condition pins it",
        required_condition="kms:ResourceAliases",
    ),
    WildcardGrant(
        r"^arn:aws:logs:[a-z0-9-]+:\d{12}:log-group:API-Gateway-Execution-Logs_\{Ref\}/[A-Za-z0-9_]+:\*$",
        "the streams of the one execution log group API Gateway creates for Folio's API stage, named by "
        "API Gateway (the account's API Gateway logging role, where Folio manages it)",
    ),
    WildcardGrant(
        r"^arn:aws:logs:[a-z0-9-]+:\d{12}:log-group:\*$",
        "DescribeLogGroups has no resource type (IAM evaluates it on log-group::log-stream:); this "
        "account and Region is the narrowest it allows, and it reads names, never log events",
        only_actions=frozenset({"logs:DescribeLogGroups"}),
    ),
)


@pytest.fixture(scope="module", params=ENVIRONMENT_NAMES)
def synth(request: pytest.FixtureRequest, synthesized: Callable[[str], Synthesized]) -> Synthesized:
    return synthesized(request.param)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def replica_problems(resource: dict[str, Any]) -> list[str]:
    problems = []
    for replica in resource["Properties"].get("Replicas", []):
        region = replica.get("Region")
        pitr = replica.get("PointInTimeRecoverySpecification", {})
        if pitr.get("PointInTimeRecoveryEnabled") is not True:
            problems.append(f"{region}: PITR off")
        if replica.get("DeletionProtectionEnabled") is not True:
            problems.append(f"{region}: deletion protection off")
        key = replica.get("SSESpecification", {}).get("KMSMasterKeyId")
        if not key or (isinstance(key, str) and key.endswith("alias/aws/dynamodb")):
            problems.append(f"{region}: no customer-managed key")
    if resource["Properties"].get("SSESpecification", {}).get("SSEType") != "KMS":
        problems.append("table SSE is not KMS")
    return problems


def retention_problems(resource: dict[str, Any]) -> list[str]:
    return [
        f"{policy} is {resource.get(policy)!r}"
        for policy in ("DeletionPolicy", "UpdateReplacePolicy")
        if resource.get(policy) != "Retain"
    ]


def policy_documents(resource: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every policy document a resource carries (identity, key, bucket or vault policy)."""
    properties = resource.get("Properties", {})
    for name in ("PolicyDocument", "KeyPolicy", "AccessPolicy", "AssumeRolePolicyDocument"):
        if isinstance(properties.get(name), dict):
            yield properties[name]
    if resource["Type"] in ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"):  # inline policies
        for policy in properties.get("Policies", []) or []:
            yield policy["PolicyDocument"]


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return as_list(document.get("Statement", []))


def service_wide_actions(resource: dict[str, Any]) -> list[str]:
    """`*` or `service:*` granted by an Allow. A Deny of `s3:*` (the TLS-only bucket policy)
    removes access rather than granting it, so it is not a finding."""
    found = []
    for document in policy_documents(resource):
        for statement in statements(document):
            if statement.get("Effect") != "Allow":
                continue
            for action in as_list(statement.get("Action", [])) + as_list(statement.get("NotAction", [])):
                if action == "*" or (isinstance(action, str) and action.endswith(":*")):
                    found.append(action)
    return found


def identity_allow_statements(resource: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The Allow statements of a role's or policy's permissions (not its trust policy)."""
    if resource["Type"] not in IDENTITY_POLICY_TYPES:
        return
    for document in policy_documents(resource):
        if document is resource["Properties"].get("AssumeRolePolicyDocument"):
            continue
        yield from (statement for statement in statements(document) if statement.get("Effect") == "Allow")


def unscoped_actions(resource: dict[str, Any]) -> list[str]:
    """Allowed actions on Resource "*" in identity policies, outside the allowlist."""
    found = []
    for statement in identity_allow_statements(resource):
        if "*" in as_list(statement.get("Resource", [])):
            found += [a for a in as_list(statement.get("Action", [])) if a not in UNSCOPABLE_ACTIONS]
    return found


def rendered(value: Any) -> str:
    """A resource ARN as text: joins joined, other intrinsics as {Ref}, {GetAtt}, ..."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(rendered(part) for part in parts)
    if isinstance(value, dict) and len(value) == 1:
        return "{" + next(iter(value)).removeprefix("Fn::") + "}"
    return str(value)


def unlisted_wildcard_resources(resource: dict[str, Any]) -> list[str]:
    """Allowed resource ARNs with `*` in them (other than "*" itself, which has its own
    guard) that match no WILDCARD_GRANTS entry, lack the condition the entry needs, or
    come with an action the entry does not allow."""
    found = []
    for statement in identity_allow_statements(resource):
        conditions = {key for test in statement.get("Condition", {}).values() for key in test}
        for arn in map(rendered, as_list(statement.get("Resource", []))):
            if "*" not in arn or arn == "*":
                continue
            grant = next((g for g in WILDCARD_GRANTS if re.search(g.pattern, arn)), None)
            actions = set(as_list(statement.get("Action", [])))
            if grant is None or not grant.admits(actions, conditions):
                found.append(arn)
    return found


def aws_managed_policies(resource: dict[str, Any]) -> list[str]:
    if resource["Type"] != "AWS::IAM::Role":
        return []
    arns = resource["Properties"].get("ManagedPolicyArns", [])
    return [str(arn) for arn in arns if ":iam::aws:policy/" in str(arn)]


# --- the guards over the real templates -------------------------------------------------


def test_every_global_table_replica_has_pitr_deletion_protection_and_a_customer_key(synth: Synthesized) -> None:
    tables = [(s, i, r) for s, i, r in all_resources(synth) if r["Type"] == "AWS::DynamoDB::GlobalTable"]

    assert tables, "expected a global table"
    for stack_id, logical_id, resource in tables:
        assert replica_problems(resource) == [], f"{stack_id}/{logical_id}"


def test_every_stateful_resource_is_retained(synth: Synthesized) -> None:
    stateful = [(s, i, r) for s, i, r in all_resources(synth) if r["Type"] in STATEFUL_TYPES]

    assert len(stateful) >= 3
    for stack_id, logical_id, resource in stateful:
        assert retention_problems(resource) == [], f"{stack_id}/{logical_id} ({resource['Type']})"


def test_every_kms_key_rotates(synth: Synthesized) -> None:
    keys = [(s, i, r) for s, i, r in all_resources(synth) if r["Type"] == "AWS::KMS::Key"]

    assert keys
    for stack_id, logical_id, resource in keys:
        assert resource["Properties"].get("EnableKeyRotation") is True, f"{stack_id}/{logical_id}"


def test_no_policy_grants_a_service_wide_action(synth: Synthesized) -> None:
    for stack_id, logical_id, resource in all_resources(synth):
        assert service_wide_actions(resource) == [], f"{stack_id}/{logical_id}"


def test_no_identity_policy_allows_resource_star_outside_the_allowlist(synth: Synthesized) -> None:
    for stack_id, logical_id, resource in all_resources(synth):
        assert unscoped_actions(resource) == [], f"{stack_id}/{logical_id}"


def test_every_wildcard_arn_an_identity_policy_allows_is_listed_with_a_reason(synth: Synthesized) -> None:
    for stack_id, logical_id, resource in all_resources(synth):
        assert unlisted_wildcard_resources(resource) == [], f"{stack_id}/{logical_id}"


def test_no_role_uses_an_aws_managed_policy(synth: Synthesized) -> None:
    for stack_id, logical_id, resource in all_resources(synth):
        assert aws_managed_policies(resource) == [], f"{stack_id}/{logical_id}"


# --- each guard catches what it is for ---------------------------------------------------


def test_replica_guard_catches_an_unprotected_replica() -> None:
    resource = {
        "Type": "AWS::DynamoDB::GlobalTable",
        "Properties": {
            "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS"},
            "Replicas": [
                {"Region": "us-west-2", "SSESpecification": {"KMSMasterKeyId": "alias/aws/dynamodb"}},
            ],
        },
    }

    assert replica_problems(resource) == [
        "us-west-2: PITR off",
        "us-west-2: deletion protection off",
        "us-west-2: no customer-managed key",
    ]


def test_retention_guard_catches_delete() -> None:
    assert retention_problems({"DeletionPolicy": "Delete"}) == [
        "DeletionPolicy is 'Delete'",
        "UpdateReplacePolicy is None",
    ]


def test_action_guards_catch_wildcards() -> None:
    policy = {
        "Type": "AWS::IAM::Policy",
        "Properties": {
            "PolicyDocument": {
                "Statement": [
                    {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "arn:aws:dynamodb:::table/x"},
                    {"Effect": "Deny", "Action": "s3:*", "Resource": "*"},
                    {"Effect": "Allow", "Action": ["s3:GetObject", "xray:PutTraceSegments"], "Resource": "*"},
                ]
            }
        },
    }
    role = {
        "Type": "AWS::IAM::Role",
        "Properties": {"ManagedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"]},
    }

    assert service_wide_actions(policy) == ["dynamodb:*"]
    assert unscoped_actions(policy) == ["s3:GetObject"]
    assert aws_managed_policies(role) == ["arn:aws:iam::aws:policy/AdministratorAccess"]


def test_resource_star_guard_refuses_network_interface_writes() -> None:
    """The managed policy AWSLambdaVPCAccessExecutionRole puts all of these on "*"; only the
    Describe needs it."""
    policy = {
        "Type": "AWS::IAM::ManagedPolicy",
        "Properties": {
            "PolicyDocument": {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": sorted(NETWORK_INTERFACE_WRITES | {"ec2:DescribeNetworkInterfaces"}),
                        "Resource": "*",
                    }
                ]
            }
        },
    }

    assert sorted(unscoped_actions(policy)) == sorted(NETWORK_INTERFACE_WRITES)


def test_wildcard_arn_guard_catches_unlisted_or_unconditioned_wildcards() -> None:
    bucket = "arn:aws:s3:::folio-x-documents-123456789012-us-east-1"
    policy = {
        "Type": "AWS::IAM::ManagedPolicy",
        "Properties": {
            "PolicyDocument": {
                "Statement": [
                    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{bucket}/*"},
                    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{bucket}/documents/*"},
                    {
                        "Effect": "Allow",
                        "Action": "kms:Encrypt",
                        "Resource": "arn:aws:kms:us-east-2:123456789012:key/*",
                    },
                    {
                        "Effect": "Allow",
                        "Action": "dynamodb:Query",
                        "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": ["Table", "Arn"]}, "/index/*"]]},
                    },
                    {"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::other/*"},
                    {
                        "Effect": "Allow",
                        "Action": ["logs:DescribeLogGroups", "logs:PutLogEvents"],
                        "Resource": "arn:aws:logs:us-east-1:123456789012:log-group:*",
                    },
                    {
                        "Effect": "Allow",
                        "Action": "logs:PutLogEvents",
                        "Resource": "arn:aws:logs:us-east-1:123456789012:log-group:API-Gateway-Execution-Logs_*",
                    },
                    {
                        "Effect": "Allow",
                        "Action": ["ec2:DeleteNetworkInterface", "ec2:DetachNetworkInterface"],
                        "Resource": "arn:aws:ec2:us-east-1:123456789012:network-interface/*",
                    },
                    {
                        "Effect": "Allow",
                        "Action": "ec2:DeleteNetworkInterface",
                        "Resource": "arn:aws:ec2:us-east-1:123456789012:network-interface/*",
                    },
                ]
            }
        },
    }

    assert unlisted_wildcard_resources(policy) == [
        f"{bucket}/*",
        "arn:aws:kms:us-east-2:123456789012:key/*",
        "{GetAtt}/index/*",
        "arn:aws:logs:us-east-1:123456789012:log-group:*",
        "arn:aws:logs:us-east-1:123456789012:log-group:API-Gateway-Execution-Logs_*",
        "arn:aws:ec2:us-east-1:123456789012:network-interface/*",
    ]
