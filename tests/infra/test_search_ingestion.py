"""The zero-ETL pipeline (stacks/components/search_ingestion.py): one OSIS pipeline per search
environment, its body a plain string of CDK tokens (Fn::Join, no Fn::Sub) that the Data Prepper
schema accepts, in the isolated subnets, logging under /aws/vendedlogs/, with a role that has
exactly the documented actions on exactly Folio's resources."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest

from stacks import search_pipeline
from stacks.components import search_ingestion as si
from tests.conftest import ENVIRONMENT_NAMES, Synthesized, all_resources
from tests.support.templates import followed

WITH_SEARCH = [e for e in ENVIRONMENT_NAMES if e != "sandbox"]
INTRINSIC = re.compile(r"^\{\"(Ref|Fn::GetAtt|Fn::GetStackOutput|Fn::ImportValue)\"")


@pytest.fixture(scope="module", params=WITH_SEARCH)
def synth(request: pytest.FixtureRequest, synthesized: Callable[[str], Synthesized]) -> Synthesized:
    return synthesized(request.param)


def only(resources: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    assert len(resources) == 1, list(resources)
    return next(iter(resources.items()))


def search_resources(synth: Synthesized, resource_type: str) -> dict[str, dict[str, Any]]:
    return synth.template("Search").find_resources(resource_type)


def pipeline(synth: Synthesized) -> dict[str, Any]:
    return only(search_resources(synth, "AWS::OSIS::Pipeline"))[1]["Properties"]


def body_parts(synth: Synthesized) -> list[Any]:
    body = pipeline(synth)["PipelineConfigurationBody"]
    assert set(body) == {"Fn::Join"}, "the body is a plain string with tokens: Fn::Join, never Fn::Sub"
    separator, parts = body["Fn::Join"]
    assert separator == ""
    return list(parts)


def body_with_placeholders(synth: Synthesized) -> dict[str, Any]:
    """The body as OSIS would read it, each intrinsic replaced by a plausible value of its kind."""
    placeholders = {
        "Arn": "arn:aws:iam::123456789012:role/placeholder-role",
        "DomainEndpoint": "vpc-folio-placeholder.eu-west-1.es.amazonaws.com",
    }
    text = ""
    for part in body_parts(synth):
        if isinstance(part, str):
            text += part
        elif "Ref" in part:
            text += "placeholder-bucket"
        elif "Fn::GetAtt" in part:
            logical_id, attribute = part["Fn::GetAtt"]
            value = placeholders[attribute]
            if logical_id.startswith("ExportKey"):
                value = "arn:aws:kms:eu-west-1:123456789012:key/placeholder"
            text += value
        else:  # the table ARN, from the Data stack
            text += "arn:aws:dynamodb:eu-west-1:123456789012:table/placeholder"
    result: dict[str, Any] = json.loads(text)
    return result


def test_sandbox_has_no_pipeline(synthesized: Callable[[str], Synthesized]) -> None:
    synth = synthesized("sandbox")

    assert not any(r["Type"] == "AWS::OSIS::Pipeline" for _, _, r in all_resources(synth))


def test_the_body_is_a_join_whose_tokens_are_intrinsics_and_whose_expressions_stay_literal(synth: Synthesized) -> None:
    parts = body_parts(synth)
    literal = "".join(p for p in parts if isinstance(p, str))
    tokens = [json.dumps(p) for p in parts if not isinstance(p, str)]

    assert "${Token[" not in literal and "Fn::Sub" not in json.dumps(pipeline(synth))
    assert all(INTRINSIC.match(t) for t in tokens), tokens
    for kind in ("Ref", "Fn::GetAtt"):
        assert any(t.startswith(f'{{"{kind}"') for t in tokens)
    for metadata in ("primary_key", "opensearch_action", "document_version"):
        assert f'${{getMetadata(\\"{metadata}\\")}}' in literal


def test_the_synthesized_body_matches_the_data_prepper_schema(synth: Synthesized) -> None:
    body = body_with_placeholders(synth)

    jsonschema.Draft202012Validator(search_pipeline.schema()).validate(body)
    sink = body[search_pipeline.SUB_PIPELINE]["sink"][0]["opensearch"]
    assert (sink["index"], sink["document_version_type"], sink["dlq"]["s3"]["key_path_prefix"]) == (
        "documents",
        "external",
        si.DLQ_PREFIX,
    )


def test_the_body_names_the_table_the_export_key_the_role_and_the_domain(synth: Synthesized) -> None:
    tokens = [p for p in body_parts(synth) if not isinstance(p, str)]
    role_id, _ = only(
        {
            k: v
            for k, v in search_resources(synth, "AWS::IAM::Role").items()
            if "osis-pipelines" in json.dumps(v["Properties"]["AssumeRolePolicyDocument"])
        }
    )
    bucket_id, _ = only(
        {
            k: v
            for k, v in search_resources(synth, "AWS::S3::Bucket").items()
            if "aws:kms" in json.dumps(v["Properties"].get("BucketEncryption"))
        }
    )

    assert {"Fn::GetAtt": [role_id, "Arn"]} in tokens
    assert {"Ref": bucket_id} in tokens
    assert any(t.get("Fn::GetAtt", [""])[0].startswith("ExportKey") for t in tokens)
    assert any("DomainEndpoint" in json.dumps(t) for t in tokens)
    assert any("Fn::GetStackOutput" in t and "Table" in json.dumps(t) for t in tokens)


def test_capacity_name_vpc_and_logs(synth: Synthesized) -> None:
    props = pipeline(synth)
    config = synth.config

    assert (props["MinUnits"], props["MaxUnits"]) == (config.search.min_ocus, config.search.max_ocus)
    assert props["PipelineName"] == synth.stage.names.search_pipeline
    assert len(props["VpcOptions"]["SubnetIds"]) >= 1
    assert "EncryptionAtRestOptions" not in props and "BufferOptions" not in props  # no persistent buffer
    assert props["LogPublishingOptions"]["IsLoggingEnabled"] is True
    log_ref = props["LogPublishingOptions"]["CloudWatchLogDestination"]["LogGroup"]["Ref"]
    group = search_resources(synth, "AWS::Logs::LogGroup")[log_ref]
    assert group["Properties"]["LogGroupName"].startswith("/aws/vendedlogs/")
    assert "KmsKeyId" in group["Properties"] and group["Properties"]["RetentionInDays"] >= 365
    assert group["DeletionPolicy"] == "Retain"


def test_the_pipeline_subnets_are_the_isolated_ones(synth: Synthesized) -> None:
    network = synth.template("Network").to_json()
    isolated = {
        logical_id
        for logical_id, r in network["Resources"].items()
        if r["Type"] == "AWS::EC2::Subnet"
        and any(t["Key"] == "aws-cdk:subnet-type" and t["Value"] == "Isolated" for t in r["Properties"]["Tags"])
    }
    subnets = json.dumps(pipeline(synth)["VpcOptions"]["SubnetIds"])

    assert isolated and all(subnet_id in subnets for subnet_id in isolated)


def test_the_security_group_reaches_only_the_domain_on_443(synth: Synthesized) -> None:
    group_ref = pipeline(synth)["VpcOptions"]["SecurityGroupIds"][0]["Fn::GetAtt"][0]
    group = search_resources(synth, "AWS::EC2::SecurityGroup")[group_ref]["Properties"]
    egress = [
        r["Properties"]
        for r in search_resources(synth, "AWS::EC2::SecurityGroupEgress").values()
        if r["Properties"]["GroupId"].get("Fn::GetAtt", [""])[0] == group_ref
    ]
    ingress = [
        r["Properties"]
        for r in search_resources(synth, "AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"].get("SourceSecurityGroupId", {}).get("Fn::GetAtt", [""])[0] == group_ref
    ]

    # No inline egress but CDK's "nothing" (aws-cdk-lib drops it once a rule exists, as for the DAX readers' group).
    assert all(rule.get("CidrIp") == "255.255.255.255/32" for rule in group.get("SecurityGroupEgress", []))
    assert [(r["FromPort"], r["ToPort"], r["DestinationSecurityGroupId"]["Fn::GetAtt"][0]) for r in egress] == [
        (443, 443, ingress[0]["GroupId"]["Fn::GetAtt"][0])
    ]
    assert ingress[0]["GroupId"]["Fn::GetAtt"][0].startswith("SearchSecurityGroup")


def statements_by_sid(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in document["Statement"]}


def actions(statement: dict[str, Any]) -> list[str]:
    value = statement["Action"]
    return sorted(value if isinstance(value, list) else [value])


def test_the_role_trusts_osis_for_this_account_and_pipeline_only(synth: Synthesized) -> None:
    role = next(
        r
        for r in search_resources(synth, "AWS::IAM::Role").values()
        if "osis-pipelines" in json.dumps(r["Properties"]["AssumeRolePolicyDocument"])
    )
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]

    assert trust["Principal"] == {"Service": si.OSIS_SERVICE}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": synth.config.account}
    assert trust["Condition"]["ArnLike"]["aws:SourceArn"].endswith(f":pipeline/{synth.stage.names.search_pipeline}")
    assert len(role["Properties"]["ManagedPolicyArns"]) == 2
    assert "Policies" not in role["Properties"]


def test_the_table_side_policy_has_exactly_the_documented_actions_on_the_table(synth: Synthesized) -> None:
    data = synth.template("Data").to_json()["Resources"]
    (policy,) = [
        r
        for r in data.values()
        if r["Type"] == "AWS::IAM::ManagedPolicy" and "search ingestion" in r["Properties"].get("Description", "")
    ]
    table_id = next(k for k, r in data.items() if r["Type"] == "AWS::DynamoDB::GlobalTable")
    key_id = next(k for k in data if k.startswith("TableKey") and data[k]["Type"] == "AWS::KMS::Key")
    found = statements_by_sid(policy["Properties"]["PolicyDocument"])

    assert set(found) == {"RunExport", "CheckExport", "ReadStream", "TableKey"}
    assert actions(found["RunExport"]) == sorted(si.EXPORT_ACTIONS)
    assert found["RunExport"]["Resource"] == {"Fn::GetAtt": [table_id, "Arn"]}
    assert actions(found["CheckExport"]) == ["dynamodb:DescribeExport"]
    assert found["CheckExport"]["Resource"] == {"Fn::Join": ["", [{"Fn::GetAtt": [table_id, "Arn"]}, "/export/*"]]}
    assert actions(found["ReadStream"]) == sorted(si.STREAM_ACTIONS)
    assert found["ReadStream"]["Resource"] == {"Fn::GetAtt": [table_id, "StreamArn"]}
    assert (actions(found["TableKey"]), found["TableKey"]["Resource"]) == (
        ["kms:Decrypt"],
        {"Fn::GetAtt": [key_id, "Arn"]},
    )
    table = data[table_id]["Properties"]
    assert table["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert all(r["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] for r in table["Replicas"]), (
        "a DynamoDB source exports from PITR"
    )


def test_the_search_side_policy_names_the_prefixes_the_export_key_and_the_domain(synth: Synthesized) -> None:
    (policy,) = [
        r
        for r in search_resources(synth, "AWS::IAM::ManagedPolicy").values()
        if "search ingestion" in r["Properties"].get("Description", "")
    ]
    found = statements_by_sid(policy["Properties"]["PolicyDocument"])
    bucket_id = next(k for k in search_resources(synth, "AWS::S3::Bucket") if k.startswith("IngestionExports"))
    domain_arn = f"arn:aws:es:{synth.config.region}:{synth.config.account}:domain/{synth.stage.names.search_domain}"

    assert set(found) == {"ExportObjects", "DeadLetterObjects", "ExportKey", "DescribeDomain", "WriteDocuments"}
    assert actions(found["ExportObjects"]) == sorted(si.EXPORT_OBJECT_ACTIONS)
    assert found["ExportObjects"]["Resource"] == {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/export/*"]]}
    assert actions(found["DeadLetterObjects"]) == ["s3:PutObject"]
    assert found["DeadLetterObjects"]["Resource"] == {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/dlq/*"]]}
    assert actions(found["ExportKey"]) == ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
    assert found["ExportKey"]["Resource"]["Fn::GetAtt"][0].startswith("ExportKey")
    assert (actions(found["DescribeDomain"]), found["DescribeDomain"]["Resource"]) == (
        ["es:DescribeDomain"],
        domain_arn,
    )
    assert (actions(found["WriteDocuments"]), found["WriteDocuments"]["Resource"]) == (
        sorted(si.SINK_HTTP_ACTIONS),
        f"{domain_arn}/*",
    )


def test_the_domain_admits_the_pipeline_role(synth: Synthesized) -> None:
    _, domain = only(search_resources(synth, "AWS::OpenSearchService::Domain"))
    found = statements_by_sid(domain["Properties"]["AccessPolicies"])

    assert found["IngestionPipeline"]["Principal"]["AWS"]["Fn::GetAtt"][0].startswith("IngestionRole")
    assert actions(found["IngestionPipeline"]) == sorted(si.SINK_HTTP_ACTIONS)


def test_the_export_bucket_is_private_tls_only_cmk_encrypted_logged_expiring_and_retained(synth: Synthesized) -> None:
    buckets = search_resources(synth, "AWS::S3::Bucket")
    bucket_id = next(k for k in buckets if k.startswith("IngestionExports"))
    bucket = buckets[bucket_id]
    props = bucket["Properties"]
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    lifecycle = {r["Id"]: r for r in props["LifecycleConfiguration"]["Rules"]}
    policy = next(
        r["Properties"]["PolicyDocument"]
        for r in search_resources(synth, "AWS::S3::BucketPolicy").values()
        if r["Properties"]["Bucket"] == {"Ref": bucket_id}
    )

    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]["Fn::GetAtt"][0].startswith("ExportKey")
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy["Statement"]
    )
    assert (lifecycle["ExpireExports"]["Prefix"], lifecycle["ExpireExports"]["ExpirationInDays"]) == ("export/", 7)
    assert (lifecycle["ExpireDeadLetters"]["Prefix"], lifecycle["ExpireDeadLetters"]["ExpirationInDays"]) == (
        "dlq/",
        30,
    )
    assert props["BucketName"] == synth.stage.names.search_exports_bucket
    logging = props["LoggingConfiguration"]
    assert logging["LogFilePrefix"] == "search-exports/"
    _, destination = followed(synth, logging["DestinationBucketName"])
    assert destination["Ref"].startswith("StoreAccessLogs")
    assert bucket["DeletionPolicy"] == "Retain"


def test_the_access_log_bucket_admits_the_export_buckets_logs_by_name(synth: Synthesized) -> None:
    data = synth.template("Data").to_json()["Resources"]
    policies = [
        r["Properties"]["PolicyDocument"]
        for r in data.values()
        if r["Type"] == "AWS::S3::BucketPolicy" and r["Properties"]["Bucket"]["Ref"].startswith("StoreAccessLogs")
    ]
    (statement,) = [s for p in policies for s in p["Statement"] if s.get("Sid") == "AccessLogsOfSearchExports"]
    name = synth.stage.names.search_exports_bucket

    assert statement["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert statement["Action"] == "s3:PutObject"
    assert statement["Resource"]["Fn::Join"][1][-1] == "/search-exports/*"
    assert statement["Condition"]["ArnLike"]["aws:SourceArn"] == f"arn:aws:s3:::{name}"
    assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == synth.config.account
