"""Guards for what cdk-nag, cfn-lint and checkov do not see (see ../shared/TOOLING.md "Blind spots").

Each guard runs over every resource of every stack of every environment, and each has
a companion test that feeds it a deliberately bad template fragment, so a guard that
stops finding problems fails too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_dax as dax
from aws_cdk import aws_kms as kms
from aws_cdk import aws_opensearchservice as opensearch
from aws_cdk.assertions import Template

from stacks.config import load_config
from tests.conftest import ENVIRONMENT_NAMES, STAGES, Synthesized, all_resources
from tests.support.templates import as_list, followed

WITHOUT_DAX = [e for e in ENVIRONMENT_NAMES if not load_config(e).features.dax]
assert WITHOUT_DAX, "some environment must run without DAX, or its shape goes untested"

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
        r"^\{GetAtt\}/export/\*$",
        "DynamoDB names each PITR export of the table when the search pipeline starts it",
        only_actions=frozenset({"dynamodb:DescribeExport"}),
    ),
    WildcardGrant(
        r"^\{GetAtt\}/(export|dlq)/\*$",
        "the search pipeline's export files (named by DynamoDB) and dead letters (named by Data Prepper), "
        "each under its own prefix of the pipeline's own bucket",
        only_actions=frozenset({"s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject", "s3:PutObjectAcl"}),
    ),
    WildcardGrant(
        r"^arn:aws:es:[a-z0-9-]+:\d{12}:domain/folio-[a-z0-9]+/\*$",
        "OpenSearch authorizes HTTP calls on <domain-arn>/<path>: Folio's one domain, named HTTP verbs only",
        only_actions=frozenset({"es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost", "es:ESHttpPut"}),
    ),
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
        r"^\{GetAtt\}/(changes|errors)/\*$",
        "Firehose names each audit archive object itself (date partitions, its stream name, a random suffix): "
        "the archive bucket's two prefixes, to write objects only",
        only_actions=frozenset({"s3:PutObject", "s3:AbortMultipartUpload"}),
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


@pytest.fixture(scope="module", params=STAGES)
def stage(request: pytest.FixtureRequest, synthesized_stage: Callable[[str], Synthesized]) -> Synthesized:
    """Each environment's FolioStage and each of its regional serving stages: the guards that
    hold for any stage run over both."""
    return synthesized_stage(request.param)


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
    """Every policy document a resource carries (identity, key, bucket, vault or domain policy)."""
    properties = resource.get("Properties", {})
    for name in ("PolicyDocument", "KeyPolicy", "AccessPolicy", "AccessPolicies", "AssumeRolePolicyDocument"):
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
            # Intrinsics render alike ({GetAtt}/export/* is a table's exports or a bucket's prefix):
            # the ARN passes if any entry that matches it admits the statement's actions.
            actions = set(as_list(statement.get("Action", [])))
            grants = [g for g in WILDCARD_GRANTS if re.search(g.pattern, arn)]
            if not any(grant.admits(actions, conditions) for grant in grants):
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


def test_every_kms_key_rotates(stage: Synthesized) -> None:
    keys = [(s, i, r) for s, i, r in all_resources(stage) if r["Type"] == "AWS::KMS::Key"]

    assert keys
    for stack_id, logical_id, resource in keys:
        assert resource["Properties"].get("EnableKeyRotation") is True, f"{stack_id}/{logical_id}"


def test_no_policy_grants_a_service_wide_action(stage: Synthesized) -> None:
    for stack_id, logical_id, resource in all_resources(stage):
        assert service_wide_actions(resource) == [], f"{stack_id}/{logical_id}"


def test_no_identity_policy_allows_resource_star_outside_the_allowlist(stage: Synthesized) -> None:
    for stack_id, logical_id, resource in all_resources(stage):
        assert unscoped_actions(resource) == [], f"{stack_id}/{logical_id}"


def test_every_wildcard_arn_an_identity_policy_allows_is_listed_with_a_reason(stage: Synthesized) -> None:
    for stack_id, logical_id, resource in all_resources(stage):
        assert unlisted_wildcard_resources(resource) == [], f"{stack_id}/{logical_id}"


def test_no_role_uses_an_aws_managed_policy(stage: Synthesized) -> None:
    for stack_id, logical_id, resource in all_resources(stage):
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


# --- the table's stream readers and the audit archive (features.cdc) ------------------------

# A DynamoDB stream shard serves at most two concurrent readers: the lifecycle worker and the
# search pipeline. Anything else that wants the changes reads the Kinesis change feed.
MAX_TABLE_STREAM_READERS = 2


def refers_to(value: Any, targets: set[str], outputs: set[str]) -> bool:
    """Whether a template value names a target (a rendered `{"Fn::GetAtt": [...]}` of the
    table's stack) directly, or through `Fn::GetStackOutput` of an output that holds one."""
    if isinstance(value, dict):
        if json.dumps(value, sort_keys=True) in targets:
            return True
        if "Fn::GetStackOutput" in value:
            return value["Fn::GetStackOutput"].get("OutputName") in outputs
        return any(refers_to(v, targets, outputs) for v in value.values())
    if isinstance(value, list):
        return any(refers_to(v, targets, outputs) for v in value)
    return False


def table_stream_readers(templates: dict[str, dict[str, Any]], table_stack: str, table_id: str) -> list[str]:
    """Every event source mapping on the table's stream, and every OpenSearch Ingestion
    pipeline that names the table (a DynamoDB source reads its export and its stream)."""

    def names(*attributes: str) -> tuple[set[str], set[str]]:
        targets = {json.dumps({"Fn::GetAtt": [table_id, a]}, sort_keys=True) for a in attributes}
        outputs = {
            name
            for name, output in templates[table_stack].get("Outputs", {}).items()
            if json.dumps(output.get("Value"), sort_keys=True) in targets
        }
        return targets, outputs

    stream, stream_outputs = names("StreamArn")
    table, table_outputs = names("StreamArn", "Arn")
    readers = []
    for stack_id, template in templates.items():
        local_stream = stream if stack_id == table_stack else set()
        local_table = table if stack_id == table_stack else set()
        for logical_id, resource in template.get("Resources", {}).items():
            properties = resource.get("Properties", {})
            if resource["Type"] == "AWS::Lambda::EventSourceMapping" and refers_to(
                properties.get("EventSourceArn"), local_stream, stream_outputs
            ):
                readers.append(f"{stack_id}/{logical_id}")
            if resource["Type"] == "AWS::OSIS::Pipeline" and refers_to(properties, local_table, table_outputs):
                readers.append(f"{stack_id}/{logical_id}")
    return readers


def documents_table_id(template: dict[str, Any]) -> str:
    from folio import keys

    [table_id] = [
        i
        for i, r in template["Resources"].items()
        if r["Type"] == "AWS::DynamoDB::GlobalTable"
        and r["Properties"]["KeySchema"][0]["AttributeName"] == keys.PARTITION_KEY
    ]
    return table_id


def is_template_key(template: dict[str, Any], reference: Any) -> bool:
    """A `Ref`/`Fn::GetAtt` to a customer-managed key of this template (not an alias or AWS key)."""
    if not isinstance(reference, dict):
        return False
    target = reference.get("Ref") or (reference.get("Fn::GetAtt") or [None])[0]
    return template["Resources"].get(target, {}).get("Type") == "AWS::KMS::Key"


def archive_encryption_problems(template: dict[str, Any]) -> list[str]:
    """Every Kinesis stream, and every Firehose delivery stream's destination bucket and
    object encryption, use a customer-managed key of the template."""
    resources = template.get("Resources", {})
    problems = []
    for logical_id, resource in resources.items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Kinesis::Stream":
            encryption = properties.get("StreamEncryption", {})
            if encryption.get("EncryptionType") != "KMS" or not is_template_key(template, encryption.get("KeyId")):
                problems.append(f"{logical_id}: stream not encrypted with a customer-managed key")
        if resource["Type"] == "AWS::KinesisFirehose::DeliveryStream":
            destination = properties.get("ExtendedS3DestinationConfiguration", {})
            object_key = destination.get("EncryptionConfiguration", {}).get("KMSEncryptionConfig", {})
            if not is_template_key(template, object_key.get("AWSKMSKeyARN")):
                problems.append(f"{logical_id}: objects not encrypted with a customer-managed key")
            bucket_id = (destination.get("BucketARN", {}).get("Fn::GetAtt") or [None])[0]
            bucket = resources.get(bucket_id, {}).get("Properties", {})
            rules = bucket.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [{}])
            default = rules[0].get("ServerSideEncryptionByDefault", {})
            if default.get("SSEAlgorithm") != "aws:kms" or not is_template_key(template, default.get("KMSMasterKeyID")):
                problems.append(f"{logical_id}: destination bucket not encrypted with a customer-managed key")
    return problems


def test_the_table_stream_has_at_most_two_readers(synth: Synthesized) -> None:
    readers = table_stream_readers(synth.templates, "Data", documents_table_id(synth.templates["Data"]))

    assert any(reader.startswith("Api/LifecycleWorker") for reader in readers), readers
    assert len(readers) <= MAX_TABLE_STREAM_READERS, readers


def test_the_audit_archive_exists_exactly_where_features_cdc(synth: Synthesized) -> None:
    types = [r["Type"] for _, _, r in all_resources(synth)]

    expected = 1 if synth.config.features.cdc else 0
    assert types.count("AWS::Kinesis::Stream") == expected
    assert types.count("AWS::KinesisFirehose::DeliveryStream") == expected


def test_the_change_stream_and_the_archive_are_encrypted_with_customer_managed_keys(synth: Synthesized) -> None:
    for stack_id, template in synth.templates.items():
        assert archive_encryption_problems(template) == [], stack_id


def test_stream_reader_guard_counts_mappings_and_pipelines_on_the_table_stream_only() -> None:
    stream = {"Fn::GetAtt": ["Table", "StreamArn"]}
    templates = {
        "Data": {
            "Resources": {
                "Table": {"Type": "AWS::DynamoDB::GlobalTable", "Properties": {}},
                "Local": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {"EventSourceArn": stream}},
                "FromKinesis": {
                    "Type": "AWS::Lambda::EventSourceMapping",
                    "Properties": {"EventSourceArn": {"Fn::GetAtt": ["ChangeStream", "Arn"]}},
                },
            },
            "Outputs": {"TableStream": {"Value": stream}, "TableArn": {"Value": {"Fn::GetAtt": ["Table", "Arn"]}}},
        },
        "Api": {
            "Resources": {
                "Worker": {
                    "Type": "AWS::Lambda::EventSourceMapping",
                    "Properties": {"EventSourceArn": {"Fn::GetStackOutput": {"OutputName": "TableStream"}}},
                },
                "ThroughTableArn": {
                    "Type": "AWS::Lambda::EventSourceMapping",
                    "Properties": {"EventSourceArn": {"Fn::GetStackOutput": {"OutputName": "TableArn"}}},
                },
            }
        },
        "Search": {
            "Resources": {
                "Pipeline": {
                    "Type": "AWS::OSIS::Pipeline",
                    "Properties": {
                        "PipelineConfigurationBody": {
                            "Fn::Join": ["", ["tables: ", {"Fn::GetStackOutput": {"OutputName": "TableArn"}}]]
                        }
                    },
                }
            }
        },
    }

    assert table_stream_readers(templates, "Data", "Table") == ["Data/Local", "Api/Worker", "Search/Pipeline"]


def test_archive_encryption_guard_catches_an_aws_key_and_a_bucket_without_kms() -> None:
    template = {
        "Resources": {
            "Key": {"Type": "AWS::KMS::Key"},
            "Plain": {"Type": "AWS::Kinesis::Stream", "Properties": {}},
            "AwsKey": {
                "Type": "AWS::Kinesis::Stream",
                "Properties": {"StreamEncryption": {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"}},
            },
            "Good": {
                "Type": "AWS::Kinesis::Stream",
                "Properties": {"StreamEncryption": {"EncryptionType": "KMS", "KeyId": {"Fn::GetAtt": ["Key", "Arn"]}}},
            },
            "Bucket": {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "BucketEncryption": {
                        "ServerSideEncryptionConfiguration": [
                            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                        ]
                    }
                },
            },
            "Delivery": {
                "Type": "AWS::KinesisFirehose::DeliveryStream",
                "Properties": {"ExtendedS3DestinationConfiguration": {"BucketARN": {"Fn::GetAtt": ["Bucket", "Arn"]}}},
            },
        }
    }

    assert archive_encryption_problems(template) == [
        "Plain: stream not encrypted with a customer-managed key",
        "AwsKey: stream not encrypted with a customer-managed key",
        "Delivery: objects not encrypted with a customer-managed key",
        "Delivery: destination bucket not encrypted with a customer-managed key",
    ]


# --- DAX: what no pack checks (TLS) and what Folio promises of the cluster ------------------

# What the cluster role may do: the reads Folio sends through DAX, DescribeTable (DAX keeps the
# table's metadata), and decrypting with the table key. No write; and no Scan, which no Folio
# read path uses and which would read every user's items.
DAX_ROLE_ACTIONS = frozenset(
    {"dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "kms:Decrypt"}
)
# What a reading function may send to the cluster.
DAX_CLIENT_ACTIONS = frozenset({"dax:GetItem", "dax:BatchGetItem", "dax:Query"})
DAX_TLS_PORT = 9111


def dax_clusters(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i: r for i, r in template.get("Resources", {}).items() if r["Type"] == "AWS::DAX::Cluster"}


def dax_cluster_problems(resource: dict[str, Any]) -> list[str]:
    """Both are fixed when the cluster is created: changing either later replaces the cluster."""
    properties = resource["Properties"]
    problems = []
    if properties.get("SSESpecification", {}).get("SSEEnabled") is not True:
        problems.append("server-side encryption is off")
    if properties.get("ClusterEndpointEncryptionType") != "TLS":
        problems.append("the endpoint does not require TLS")
    return problems


def dax_ingress_problems(template: dict[str, Any], cluster_id: str, readers: set[str]) -> list[str]:
    """Every way into the cluster's security groups: only TCP 9111, only from a group that only
    reading functions (handlers in `readers`) run in."""
    resources = template["Resources"]
    groups_of: dict[str, set[str]] = {}  # security group -> the handlers of the functions in it
    for r in resources.values():
        if r["Type"] == "AWS::Lambda::Function":
            for group in r["Properties"].get("VpcConfig", {}).get("SecurityGroupIds", []):
                groups_of.setdefault(json.dumps(group), set()).add(r["Properties"]["Handler"])
    reader_groups = {group for group, handlers in groups_of.items() if handlers <= readers}
    problems = []
    for group_ref in resources[cluster_id]["Properties"].get("SecurityGroupIds", []):
        group_id = group_ref["Fn::GetAtt"][0]
        rules = [dict(r, source="inline") for r in resources[group_id]["Properties"].get("SecurityGroupIngress", [])]
        rules += [
            dict(r["Properties"], source=logical_id)
            for logical_id, r in resources.items()
            if r["Type"] == "AWS::EC2::SecurityGroupIngress"
            and r["Properties"]["GroupId"] in ({"Fn::GetAtt": [group_id, "GroupId"]}, {"Ref": group_id})
        ]
        if not rules:
            problems.append(f"{group_id}: no ingress at all, so no function can reach the cluster")
        for rule in rules:
            where = f"{group_id} ({rule['source']})"
            if (str(rule.get("IpProtocol")), rule.get("FromPort"), rule.get("ToPort")) != ("tcp", 9111, 9111):
                problems.append(f"{where}: {rule.get('IpProtocol')} {rule.get('FromPort')}-{rule.get('ToPort')}")
            source = json.dumps(rule.get("SourceSecurityGroupId"))
            if source in groups_of and source not in reader_groups:
                problems.append(f"{where}: admits {source}, where {sorted(groups_of[source] - readers)} run too")
            elif source not in reader_groups:
                problems.append(f"{where}: admits {rule.get('SourceSecurityGroupId') or rule.get('CidrIp')}")
    return problems


def role_allow_statements(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    """Every Allow statement of a role: inline, attached managed policies, and policies naming it."""
    resources = template["Resources"]
    role = resources[role_id]
    found = list(identity_allow_statements(role))
    attached = {arn["Ref"] for arn in role["Properties"].get("ManagedPolicyArns", []) if "Ref" in arn}
    for logical_id, resource in resources.items():
        if resource["Type"] not in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            continue
        if logical_id in attached or {"Ref": role_id} in resource["Properties"].get("Roles", []):
            found += identity_allow_statements(resource)
    return found


def dax_role_problems(template: dict[str, Any], cluster_id: str) -> list[str]:
    role_id = template["Resources"][cluster_id]["Properties"]["IAMRoleARN"]["Fn::GetAtt"][0]
    problems = []
    for statement in role_allow_statements(template, role_id):
        actions = as_list(statement.get("Action", [])) + as_list(statement.get("NotAction", []))
        problems += [f"may {a}" for a in actions if a not in DAX_ROLE_ACTIONS]
        problems += [f"on {r}" for r in map(rendered, as_list(statement.get("Resource", []))) if "*" in r]
        if "NotResource" in statement:
            problems.append("uses NotResource")
    return problems


def dax_grants(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(function handler, or role id if no function uses the role; statement) for every Allow
    statement of a role that names a `dax:` action."""
    resources = template.get("Resources", {})
    handler_of_role = {
        r["Properties"]["Role"]["Fn::GetAtt"][0]: r["Properties"].get("Handler")
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::Function"
    }
    return [
        (handler_of_role.get(role_id) or role_id, statement)
        for role_id, role in resources.items()
        if role["Type"] == "AWS::IAM::Role"
        for statement in role_allow_statements(template, role_id)
        if any(str(a).lower().startswith("dax:") for a in as_list(statement.get("Action", [])))
    ]


def dax_permission_problems(template: dict[str, Any], reader_handlers: set[str]) -> list[str]:
    """Who may call DAX, what, on which resource: reading functions only, read actions only,
    on a cluster of this template only."""
    clusters = {json.dumps({"Fn::GetAtt": [cluster_id, "Arn"]}) for cluster_id in dax_clusters(template)}
    problems = []
    for who, statement in dax_grants(template):
        actions = as_list(statement["Action"])
        if who not in reader_handlers:
            problems.append(f"{who} is no DAX reader but may {actions}")
        problems += [f"{who} may {a}" for a in actions if a not in DAX_CLIENT_ACTIONS]
        problems += [
            f"{who} may call DAX on {rendered(r)}"
            for r in as_list(statement.get("Resource", []))
            if json.dumps(r) not in clusters
        ]
    return problems


def reader_handlers() -> set[str]:
    from folio.handlers import API_HANDLERS
    from stacks.read_path import READS_THROUGH_DAX

    return {API_HANDLERS[group] for group in READS_THROUGH_DAX}


def test_every_dax_cluster_requires_tls_and_encrypts_at_rest(stage: Synthesized) -> None:
    clusters = [(s, i, r) for s, i, r in all_resources(stage) if r["Type"] == "AWS::DAX::Cluster"]

    assert bool(clusters) == stage.config.features.dax
    for stack_id, logical_id, resource in clusters:
        assert dax_cluster_problems(resource) == [], f"{stack_id}/{logical_id}"


def test_every_dax_cluster_admits_only_tls_from_the_reading_functions(stage: Synthesized) -> None:
    for stack_id, template in stage.templates.items():
        for cluster_id in dax_clusters(template):
            assert dax_ingress_problems(template, cluster_id, reader_handlers()) == [], f"{stack_id}/{cluster_id}"


def test_every_dax_cluster_role_only_reads_named_resources(stage: Synthesized) -> None:
    for stack_id, template in stage.templates.items():
        for cluster_id in dax_clusters(template):
            assert dax_role_problems(template, cluster_id) == [], f"{stack_id}/{cluster_id}"


def test_only_the_reading_functions_may_call_dax_and_only_on_the_cluster(stage: Synthesized) -> None:
    readers = reader_handlers()
    callers = set()

    for stack_id, template in stage.templates.items():
        assert dax_permission_problems(template, readers) == [], stack_id
        callers |= {who for who, _ in dax_grants(template)}

    assert callers == (readers if stage.config.features.dax else set()), "each reader may call DAX where it runs"


@pytest.mark.parametrize("environment", WITHOUT_DAX)
def test_without_features_dax_there_is_no_dax_anything(
    environment: str, synthesized: Callable[[str], Synthesized]
) -> None:
    synth = synthesized(environment)
    everything = json.dumps(synth.templates)

    assert [r["Type"] for _, _, r in all_resources(synth) if r["Type"].startswith("AWS::DAX::")] == []
    assert '"dax:' not in everything.lower()
    assert "dax.amazonaws.com" not in everything


def synthesized_cluster(**properties: Any) -> dict[str, Any]:
    """A DAX cluster as aws-cdk-lib synthesizes it, with some properties set."""
    app = cdk.App()
    stack = cdk.Stack(app, "Cache")
    dax.CfnCluster(
        stack,
        "Cluster",
        iam_role_arn="arn:aws:iam::123456789012:role/dax",
        node_type="dax.t3.small",
        replication_factor=1,
        **properties,
    )
    [resource] = Template.from_stack(stack).find_resources("AWS::DAX::Cluster").values()
    return resource


def test_dax_guard_catches_a_cluster_without_tls_or_encryption_at_rest() -> None:
    hardened = synthesized_cluster(
        sse_specification=dax.CfnCluster.SSESpecificationProperty(sse_enabled=True),
        cluster_endpoint_encryption_type="TLS",
    )
    switched_off = synthesized_cluster(
        sse_specification=dax.CfnCluster.SSESpecificationProperty(sse_enabled=False),
        cluster_endpoint_encryption_type="NONE",
    )
    left_to_defaults = synthesized_cluster()

    assert dax_cluster_problems(hardened) == []
    both = ["server-side encryption is off", "the endpoint does not require TLS"]
    assert dax_cluster_problems(switched_off) == both
    assert dax_cluster_problems(left_to_defaults) == both


def dax_fragment() -> dict[str, Any]:
    """A template with a cluster, its security group, its role, and two functions: one that
    reads through DAX and one that does not."""

    def function(role: str, handler: str, *groups: str) -> dict[str, Any]:
        return {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Handler": handler,
                "Role": {"Fn::GetAtt": [role, "Arn"]},
                "VpcConfig": {"SecurityGroupIds": [{"Ref": g} for g in groups], "SubnetIds": ["subnet-1"]},
            },
        }

    def tls_ingress(group: Any, source: Any) -> dict[str, Any]:
        """A rule admitting DAX's TLS port (9111) into `group` from `source`."""
        port = {"IpProtocol": "tcp", "FromPort": 9111, "ToPort": 9111}
        return {"Type": "AWS::EC2::SecurityGroupIngress",
                "Properties": {"GroupId": group, **port, "SourceSecurityGroupId": source}}  # fmt: skip

    def policy(statements: list[dict[str, Any]]) -> dict[str, Any]:
        return {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"PolicyDocument": {"Statement": statements}}}

    def role(policy_id: str) -> dict[str, Any]:
        return {"Type": "AWS::IAM::Role", "Properties": {"ManagedPolicyArns": [{"Ref": policy_id}]}}

    cluster_arn = {"Fn::GetAtt": ["Cluster", "Arn"]}
    return {
        "Resources": {
            "Cluster": {
                "Type": "AWS::DAX::Cluster",
                "Properties": {
                    "IAMRoleARN": {"Fn::GetAtt": ["DaxRole", "Arn"]},
                    "SecurityGroupIds": [{"Fn::GetAtt": ["DaxGroup", "GroupId"]}],
                },
            },
            "DaxGroup": {
                "Type": "AWS::EC2::SecurityGroup",
                "Properties": {
                    "SecurityGroupIngress": [
                        {"IpProtocol": "tcp", "FromPort": 8111, "ToPort": 8111, "CidrIp": "0.0.0.0/0"}
                    ]
                },
            },
            "FromFunctions": tls_ingress({"Fn::GetAtt": ["DaxGroup", "GroupId"]}, {"Ref": "FunctionsGroupId"}),
            "FromReaders": tls_ingress({"Fn::GetAtt": ["DaxGroup", "GroupId"]}, {"Ref": "ReadersGroupId"}),
            "FromElsewhere": tls_ingress({"Ref": "DaxGroup"}, "sg-somebody-else"),
            "DaxRole": role("DaxPolicy"),
            "DaxPolicy": policy(
                [
                    {"Effect": "Allow", "Action": "dynamodb:DescribeTable", "Resource": "arn:aws:dynamodb:::table/t"},
                    {
                        "Effect": "Allow",
                        "Action": ["dynamodb:Query", "dynamodb:PutItem", "dynamodb:Scan"],
                        "Resource": "arn:aws:dynamodb:::table/t/index/*",
                    },
                ]
            ),
            "Reader": function("ReaderRole", "reader.handler", "FunctionsGroupId", "ReadersGroupId"),
            "ReaderRole": role("ReaderPolicy"),
            "ReaderPolicy": policy(
                [
                    {"Effect": "Allow", "Action": "dax:Query", "Resource": cluster_arn},
                    {"Effect": "Allow", "Action": ["dax:GetItem", "dax:PutItem"], "Resource": "*"},
                ]
            ),
            "Writer": function("WriterRole", "writer.handler", "FunctionsGroupId"),
            "WriterRole": role("WriterPolicy"),
            "WriterPolicy": policy([{"Effect": "Allow", "Action": "dax:Query", "Resource": cluster_arn}]),
        }
    }


def test_dax_ingress_guard_catches_another_port_and_another_source() -> None:
    assert dax_ingress_problems(dax_fragment(), "Cluster", {"reader.handler"}) == [
        "DaxGroup (inline): tcp 8111-8111",
        "DaxGroup (inline): admits 0.0.0.0/0",
        """DaxGroup (FromFunctions): admits {"Ref": "FunctionsGroupId"}, where ['writer.handler'] run too""",
        "DaxGroup (FromElsewhere): admits sg-somebody-else",
    ]


def test_dax_role_guard_catches_writes_scans_and_wildcards() -> None:
    assert dax_role_problems(dax_fragment(), "Cluster") == [
        "may dynamodb:PutItem",
        "may dynamodb:Scan",
        "on arn:aws:dynamodb:::table/t/index/*",
    ]


def test_dax_permission_guard_catches_a_non_reader_a_write_and_another_resource() -> None:
    assert dax_permission_problems(dax_fragment(), {"reader.handler"}) == [
        "reader.handler may dax:PutItem",
        "reader.handler may call DAX on *",
        "writer.handler is no DAX reader but may ['dax:Query']",
    ]


# --- OpenSearch: what no pack checks (fine-grained access, audit logs, the TLS policy) -------

# The strongest policy aws-cdk-lib offers (TLS 1.2 and later, forward-secret ciphers only),
# written out here rather than imported, so that the guard does not move with the code.
STRONGEST_TLS_POLICY = "Policy-Min-TLS-1-2-PFS-2023-10"
REQUIRED_DOMAIN_LOGS = ("AUDIT_LOGS", "ES_APPLICATION_LOGS")


def opensearch_domains(synth: Synthesized) -> list[tuple[str, str, dict[str, Any]]]:
    return [(s, i, r) for s, i, r in all_resources(synth) if r["Type"] == "AWS::OpenSearchService::Domain"]


def names_an_account(principal: Any) -> bool:
    """`arn:...:iam::<account>:root` (or a bare account id), written out or joined from tokens."""
    text = json.dumps(principal)
    return ':root"' in text or bool(re.fullmatch(r'"\d{12}"', text))


def names_a_role_by_condition(statement: dict[str, Any]) -> bool:
    """A condition `aws:PrincipalArn` equal to one role's ARN (a role the policy cannot name yet)."""
    arns = statement.get("Condition", {}).get("ArnEquals", {}).get("aws:PrincipalArn")
    return arns is not None and len(as_list(arns)) == 1 and ":role/" in json.dumps(arns)


def access_policy_problems(policy: Any) -> list[str]:
    """An access policy must exist and name each principal: no `*`, no NotPrincipal, and no whole
    account unless a condition narrows it to one role."""
    if not isinstance(policy, dict) or not policy.get("Statement"):
        return ["no access policy naming Folio's roles"]
    problems = []
    for statement in as_list(policy["Statement"]):
        sid = statement.get("Sid", "?")
        if statement.get("Effect") != "Allow":
            continue
        if "NotPrincipal" in statement:
            problems.append(f"{sid}: NotPrincipal admits everyone else")
        principal = statement.get("Principal")
        named = principal.get("AWS") if isinstance(principal, dict) else None
        if principal == "*" or named is None or set(principal) != {"AWS"} or "*" in as_list(named):
            problems.append(f"{sid}: admits {json.dumps(principal)}, not named roles")
        elif any(names_an_account(p) for p in as_list(named)) and not names_a_role_by_condition(statement):
            problems.append(f"{sid}: admits a whole account, not a role named in aws:PrincipalArn")
    return problems


def opensearch_domain_problems(resource: dict[str, Any]) -> list[str]:
    properties = resource["Properties"]
    problems = []
    vpc = properties.get("VPCOptions", {})
    if not vpc.get("SubnetIds") or not vpc.get("SecurityGroupIds"):
        problems.append("not in the VPC")
    security = properties.get("AdvancedSecurityOptions", {})
    if security.get("Enabled") is not True:
        problems.append("fine-grained access control is off")
    elif security.get("InternalUserDatabaseEnabled") is not False or set(security.get("MasterUserOptions", {})) != {
        "MasterUserARN"
    }:
        problems.append("the master user is not an IAM role (internal user database)")
    if security.get("AnonymousAuthEnabled") is True:
        problems.append("anonymous access is on")
    published = properties.get("LogPublishingOptions", {})
    for log in REQUIRED_DOMAIN_LOGS:
        option = published.get(log, {})
        if option.get("Enabled") is not True or not option.get("CloudWatchLogsLogGroupArn"):
            problems.append(f"{log} are not published")
    endpoint = properties.get("DomainEndpointOptions", {})
    if endpoint.get("EnforceHTTPS") is not True:
        problems.append("HTTPS is not enforced")
    if endpoint.get("TLSSecurityPolicy") != STRONGEST_TLS_POLICY:
        problems.append(f"TLS policy {endpoint.get('TLSSecurityPolicy')}, not {STRONGEST_TLS_POLICY}")
    at_rest = properties.get("EncryptionAtRestOptions", {})
    if at_rest.get("Enabled") is not True:
        problems.append("not encrypted at rest")
    elif not isinstance(at_rest.get("KmsKeyId"), dict):  # absent: an AWS-owned key; a string: not Folio's key
        problems.append("not encrypted with a customer-managed key of this app")
    if properties.get("NodeToNodeEncryptionOptions", {}).get("Enabled") is not True:
        problems.append("node-to-node encryption is off")
    return problems + access_policy_problems(properties.get("AccessPolicies"))


def test_every_search_environment_has_one_domain(synth: Synthesized) -> None:
    """The guards below would pass vacuously where no domain exists."""
    assert len(opensearch_domains(synth)) == (1 if synth.config.features.search else 0)


def test_every_opensearch_domain_is_private_fine_grained_audited_and_encrypted(synth: Synthesized) -> None:
    for stack_id, logical_id, resource in opensearch_domains(synth):
        assert opensearch_domain_problems(resource) == [], f"{stack_id}/{logical_id}"


def synthesized_domain(**properties: Any) -> dict[str, Any]:
    """An OpenSearch domain as aws-cdk-lib synthesizes it, with some properties set."""
    app = cdk.App()
    stack = cdk.Stack(app, "Search")
    kms.CfnKey(stack, "DomainKey", enable_key_rotation=True)  # what hardened_domain_properties() names
    opensearch.CfnDomain(stack, "Domain", engine_version="OpenSearch_3.7", **properties)
    [resource] = Template.from_stack(stack).find_resources("AWS::OpenSearchService::Domain").values()
    return resource


def hardened_domain_properties() -> dict[str, Any]:
    log_group = opensearch.CfnDomain.LogPublishingOptionProperty(
        cloud_watch_logs_log_group_arn="arn:aws:logs:eu-west-1:111111111111:log-group:x", enabled=True
    )
    return {
        "vpc_options": opensearch.CfnDomain.VPCOptionsProperty(
            subnet_ids=["subnet-0123456789abcdef0"], security_group_ids=["sg-0123456789abcdef0"]
        ),
        "advanced_security_options": opensearch.CfnDomain.AdvancedSecurityOptionsInputProperty(
            enabled=True,
            internal_user_database_enabled=False,
            master_user_options=opensearch.CfnDomain.MasterUserOptionsProperty(
                master_user_arn="arn:aws:iam::111111111111:role/master"
            ),
        ),
        "log_publishing_options": {log: log_group for log in REQUIRED_DOMAIN_LOGS},
        "domain_endpoint_options": opensearch.CfnDomain.DomainEndpointOptionsProperty(
            enforce_https=True, tls_security_policy=STRONGEST_TLS_POLICY
        ),
        "encryption_at_rest_options": opensearch.CfnDomain.EncryptionAtRestOptionsProperty(
            enabled=True, kms_key_id=cdk.Fn.ref("DomainKey")
        ),
        "node_to_node_encryption_options": opensearch.CfnDomain.NodeToNodeEncryptionOptionsProperty(enabled=True),
        "access_policies": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "MasterRole",
                    "Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::111111111111:role/master"},
                    "Action": "es:ESHttpGet",
                    "Resource": "arn:aws:es:eu-west-1:111111111111:domain/folio-dev/*",
                }
            ],
        },
    }


def test_opensearch_guard_passes_a_hardened_domain_and_catches_one_left_to_defaults() -> None:
    assert opensearch_domain_problems(synthesized_domain(**hardened_domain_properties())) == []
    assert opensearch_domain_problems(synthesized_domain()) == [
        "not in the VPC",
        "fine-grained access control is off",
        "AUDIT_LOGS are not published",
        "ES_APPLICATION_LOGS are not published",
        "HTTPS is not enforced",
        f"TLS policy None, not {STRONGEST_TLS_POLICY}",
        "not encrypted at rest",
        "node-to-node encryption is off",
        "no access policy naming Folio's roles",
    ]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            {
                "advanced_security_options": opensearch.CfnDomain.AdvancedSecurityOptionsInputProperty(
                    enabled=True,
                    internal_user_database_enabled=True,
                    master_user_options=opensearch.CfnDomain.MasterUserOptionsProperty(
                        master_user_name="admin", master_user_password="x" * 12
                    ),
                )
            },
            "the master user is not an IAM role (internal user database)",
        ),
        ({"log_publishing_options": {}}, "AUDIT_LOGS are not published"),
        (
            {
                "domain_endpoint_options": opensearch.CfnDomain.DomainEndpointOptionsProperty(
                    enforce_https=True, tls_security_policy="Policy-Min-TLS-1-2-2019-07"
                )
            },
            f"TLS policy Policy-Min-TLS-1-2-2019-07, not {STRONGEST_TLS_POLICY}",
        ),
        (
            {"encryption_at_rest_options": opensearch.CfnDomain.EncryptionAtRestOptionsProperty(enabled=True)},
            "not encrypted with a customer-managed key of this app",
        ),
        (
            {"access_policies": {"Statement": [{"Sid": "Anyone", "Effect": "Allow", "Principal": {"AWS": "*"}}]}},
            'Anyone: admits {"AWS": "*"}, not named roles',
        ),
        (
            {"access_policies": {"Statement": [{"Sid": "Star", "Effect": "Allow", "Principal": "*"}]}},
            'Star: admits "*", not named roles',
        ),
        (
            {"access_policies": {"Statement": [{"Sid": "Svc", "Effect": "Allow", "Principal": {"Service": "x"}}]}},
            'Svc: admits {"Service": "x"}, not named roles',
        ),
        (
            {
                "access_policies": {
                    "Statement": [
                        {"Sid": "Account", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"}}
                    ]
                }
            },
            "Account: admits a whole account, not a role named in aws:PrincipalArn",
        ),
        (
            {
                "access_policies": {
                    "Statement": [
                        {
                            "Sid": "AnyUser",
                            "Effect": "Allow",
                            "Principal": {"AWS": "111111111111"},
                            "Condition": {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111111111111:user/*"}},
                        }
                    ]
                }
            },
            "AnyUser: admits a whole account, not a role named in aws:PrincipalArn",
        ),
        ({"vpc_options": None}, "not in the VPC"),
    ],
)
def test_opensearch_guard_catches_each_weakening(change: dict[str, Any], problem: str) -> None:
    properties = {**hardened_domain_properties(), **change}

    problems = opensearch_domain_problems(synthesized_domain(**{k: v for k, v in properties.items() if v is not None}))

    assert problem in problems


def test_the_service_wide_action_guard_reads_a_domains_access_policy() -> None:
    domain = synthesized_domain(
        access_policies={
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:role/r"}, "Action": "es:*"}]
        }
    )

    assert service_wide_actions(domain) == ["es:*"]


# --- OpenSearch Ingestion and the table's stream: what no pack checks ------------------------

# A DynamoDB stream shard serves at most two concurrent readers; a third needs Kinesis Data
# Streams for DynamoDB (the audit archive uses that, not the stream).
MAX_STREAM_READERS = 2
OSIS_SERVICE_PRINCIPAL = "osis-pipelines.amazonaws.com"


def literal_text(value: Any) -> str:
    """The literal parts of a string or an Fn::Join (what no intrinsic decides)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        return "".join(part for part in value["Fn::Join"][1] if isinstance(part, str))
    return ""


def reads_a_dynamodb_stream(resource: dict[str, Any], synth: Synthesized) -> bool:
    """An event source mapping on a DynamoDB stream, or an OSIS pipeline with a DynamoDB source's stream."""
    properties = resource.get("Properties", {})
    if resource["Type"] == "AWS::Lambda::EventSourceMapping":
        _, source = followed(synth, properties.get("EventSourceArn"))
        return (isinstance(source, dict) and source.get("Fn::GetAtt", [None, None])[1] == "StreamArn") or (
            ":dynamodb:" in literal_text(source) and "/stream/" in literal_text(source)
        )
    if resource["Type"] == "AWS::OSIS::Pipeline":
        body = literal_text(properties.get("PipelineConfigurationBody"))
        return '"dynamodb"' in body and '"stream"' in body
    return False


def stream_readers(synth: Synthesized) -> list[str]:
    return [
        f"{stack_id}/{logical_id}"
        for stack_id, logical_id, resource in all_resources(synth)
        if reads_a_dynamodb_stream(resource, synth)
    ]


def test_the_tables_stream_has_at_most_two_readers(synth: Synthesized) -> None:
    readers = stream_readers(synth)

    assert len(readers) <= MAX_STREAM_READERS, readers
    # The lifecycle worker always reads it; the search pipeline too where search is on.
    assert len(readers) == 1 + synth.config.features.search, readers


def test_the_stream_reader_count_sees_a_third_reader(synth: Synthesized) -> None:
    # Given a third event source mapping on the same stream, copied from the existing one
    stack_id, _, mapping = next(
        (stack, logical, r)
        for stack, logical, r in all_resources(synth)
        if r["Type"] == "AWS::Lambda::EventSourceMapping"
    )
    widened = {**synth.templates, stack_id: json.loads(json.dumps(synth.templates[stack_id]))}
    widened[stack_id]["Resources"]["ThirdReader"] = mapping
    if not synth.config.features.search:
        widened[stack_id]["Resources"]["FourthReader"] = mapping
    copy = Synthesized(synth.config, synth.stage, synth.assembly_directory, widened)

    # Then the count exceeds two
    assert len(stream_readers(copy)) > MAX_STREAM_READERS


def osis_pipeline_problems(resource: dict[str, Any], synth: Synthesized, stack_id: str) -> list[str]:
    """An OSIS pipeline outside the VPC, without logs or an S3 DLQ, with its body in Fn::Sub, or
    whose role is not OSIS's for this account and pipeline, or may act on Resource "*"."""
    properties = resource.get("Properties", {})
    problems = []
    vpc = properties.get("VpcOptions") or {}
    if not vpc.get("SubnetIds") or not vpc.get("SecurityGroupIds"):
        problems.append("not in the VPC (subnets and a security group)")
    logging = properties.get("LogPublishingOptions") or {}
    if logging.get("IsLoggingEnabled") is not True or not logging.get("CloudWatchLogDestination"):
        problems.append("logs are off")
    body = properties.get("PipelineConfigurationBody")
    if isinstance(body, dict) and "Fn::Sub" in body:
        problems.append("the body is an Fn::Sub (Data Prepper's ${...} would be substituted)")
    text = literal_text(body)
    if '"dlq":{"s3":{' not in text.replace(" ", ""):
        problems.append("no S3 dead-letter queue")
    return problems + pipeline_role_problems(properties.get("PipelineRoleArn"), synth, stack_id)


def pipeline_role_problems(role_arn: Any, synth: Synthesized, stack_id: str) -> list[str]:
    if not (isinstance(role_arn, dict) and "Fn::GetAtt" in role_arn):
        return ["no pipeline role of this app"]
    role = synth.templates[stack_id]["Resources"][role_arn["Fn::GetAtt"][0]]
    problems = []
    for trust in statements(role["Properties"]["AssumeRolePolicyDocument"]):
        conditions = {key for test in trust.get("Condition", {}).values() for key in test}
        if trust.get("Principal") != {"Service": OSIS_SERVICE_PRINCIPAL}:
            problems.append(f"trusts {trust.get('Principal')}, not OSIS alone")
        if not {"aws:SourceAccount", "aws:SourceArn"} <= conditions:
            problems.append("trust without aws:SourceAccount and aws:SourceArn")
    policies = list(role["Properties"].get("Policies", []) or [])  # inline: refused by the packs, checked anyway
    for arn in role["Properties"].get("ManagedPolicyArns", []):
        where, value = followed(synth, arn)
        if not (isinstance(value, dict) and "Ref" in value):
            problems.append(f"attaches a policy that is not this app's: {arn}")
            continue
        policies.append(synth.templates[where or stack_id]["Resources"][value["Ref"]]["Properties"])
    for policy in policies:
        for statement in statements(policy["PolicyDocument"]):
            if statement.get("Effect") == "Allow" and "*" in as_list(statement.get("Resource", [])):
                problems.append(f"{statement.get('Sid')}: Resource *")
    return problems


def osis_pipelines(synth: Synthesized) -> list[tuple[str, str, dict[str, Any]]]:
    return [(stack, logical, r) for stack, logical, r in all_resources(synth) if r["Type"] == "AWS::OSIS::Pipeline"]


def test_every_search_environment_has_one_pipeline(synth: Synthesized) -> None:
    assert len(osis_pipelines(synth)) == (1 if synth.config.features.search else 0)


def test_every_osis_pipeline_is_in_the_vpc_logged_dead_lettered_and_scoped(synth: Synthesized) -> None:
    for stack_id, logical_id, resource in osis_pipelines(synth):
        assert osis_pipeline_problems(resource, synth, stack_id) == [], f"{stack_id}/{logical_id}"


def test_osis_guard_catches_each_weakening(synthesized: Callable[[str], Synthesized]) -> None:
    synth = synthesized("dev")
    ((stack_id, logical_id, _),) = osis_pipelines(synth)

    def problems_after(edit: Callable[[dict[str, Any], dict[str, Any]], None]) -> list[str]:
        templates = json.loads(json.dumps(synth.templates))
        resource = templates[stack_id]["Resources"][logical_id]
        edit(resource, templates[stack_id]["Resources"])
        copy = Synthesized(synth.config, synth.stage, synth.assembly_directory, templates)
        return osis_pipeline_problems(resource, copy, stack_id)

    def role_of(resource: dict[str, Any], resources: dict[str, Any]) -> dict[str, Any]:
        role: dict[str, Any] = resources[resource["Properties"]["PipelineRoleArn"]["Fn::GetAtt"][0]]
        return role

    def local_policy(resource: dict[str, Any], resources: dict[str, Any]) -> dict[str, Any]:
        ref = next(a["Ref"] for a in role_of(resource, resources)["Properties"]["ManagedPolicyArns"] if "Ref" in a)
        policy: dict[str, Any] = resources[ref]["Properties"]["PolicyDocument"]
        return policy

    def drop_dlq(resource: dict[str, Any], _: dict[str, Any]) -> None:
        parts = resource["Properties"]["PipelineConfigurationBody"]["Fn::Join"][1]
        resource["Properties"]["PipelineConfigurationBody"]["Fn::Join"][1] = [
            p.replace('"dlq":{"s3":{', '"dlq_off":{"s3":{') if isinstance(p, str) else p for p in parts
        ]

    assert problems_after(lambda r, _: None) == []
    assert problems_after(lambda r, _: r["Properties"].pop("VpcOptions")) == [
        "not in the VPC (subnets and a security group)"
    ]
    assert problems_after(lambda r, _: r["Properties"]["LogPublishingOptions"].update(IsLoggingEnabled=False)) == [
        "logs are off"
    ]
    assert problems_after(drop_dlq) == ["no S3 dead-letter queue"]
    assert "the body is an Fn::Sub (Data Prepper's ${...} would be substituted)" in problems_after(
        lambda r, _: r["Properties"].update(PipelineConfigurationBody={"Fn::Sub": "x"})
    )
    assert problems_after(
        lambda r, res: local_policy(r, res)["Statement"].append(
            {"Sid": "Everything", "Effect": "Allow", "Action": "es:ESHttpGet", "Resource": "*"}
        )
    ) == ["Everything: Resource *"]
    assert problems_after(
        lambda r, res: role_of(r, res)["Properties"]["AssumeRolePolicyDocument"]["Statement"][0].pop("Condition")
    ) == ["trust without aws:SourceAccount and aws:SourceArn"]
    assert problems_after(
        lambda r, res: role_of(r, res)["Properties"]["ManagedPolicyArns"].append(
            "arn:aws:iam::aws:policy/AmazonOpenSearchIngestionFullAccess"
        )
    ) == ["attaches a policy that is not this app's: arn:aws:iam::aws:policy/AmazonOpenSearchIngestionFullAccess"]
