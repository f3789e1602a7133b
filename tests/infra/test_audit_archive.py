"""The audit archive (features.cdc): the table's Kinesis change feed, Firehose, and the archive bucket."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from folio import keys
from stacks.components import audit_archive
from stacks.config import load_config
from tests.conftest import ENVIRONMENT_NAMES, Synthesized

WITH_ARCHIVE = [e for e in ENVIRONMENT_NAMES if load_config(e).features.cdc]
WITHOUT_ARCHIVE = [e for e in ENVIRONMENT_NAMES if not load_config(e).features.cdc]


@pytest.fixture(scope="module")
def prod(synthesized: Callable[[str], Synthesized]) -> Synthesized:
    return synthesized("prod")


def data(synth: Synthesized) -> dict[str, Any]:
    resources: dict[str, Any] = synth.templates["Data"]["Resources"]
    return resources


def only(synth: Synthesized, resource_type: str) -> tuple[str, dict[str, Any]]:
    found = [(i, r) for i, r in data(synth).items() if r["Type"] == resource_type]
    assert len(found) == 1, f"{len(found)} {resource_type}"
    return found[0]


def documents_table(synth: Synthesized) -> dict[str, Any]:
    [table] = [
        r
        for r in data(synth).values()
        if r["Type"] == "AWS::DynamoDB::GlobalTable"
        and r["Properties"]["KeySchema"][0]["AttributeName"] == keys.PARTITION_KEY
    ]
    return table


def get_att(logical_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def delivery(synth: Synthesized) -> dict[str, Any]:
    properties: dict[str, Any] = only(synth, "AWS::KinesisFirehose::DeliveryStream")[1]["Properties"]
    return properties


def archive_bucket_id(synth: Synthesized) -> str:
    bucket_arn = delivery(synth)["ExtendedS3DestinationConfiguration"]["BucketARN"]
    logical_id: str = bucket_arn["Fn::GetAtt"][0]
    return logical_id


def test_the_home_replica_streams_every_change_to_the_encrypted_kinesis_stream(prod: Synthesized) -> None:
    stream_id, stream = only(prod, "AWS::Kinesis::Stream")
    replicas = {r["Region"]: r for r in documents_table(prod)["Properties"]["Replicas"]}

    assert replicas[prod.config.region]["KinesisStreamSpecification"] == {
        "StreamArn": get_att(stream_id),
        "ApproximateCreationDateTimePrecision": "MICROSECOND",
    }
    assert [r for r in prod.config.replica_regions if "KinesisStreamSpecification" in replicas[r]] == []
    properties = stream["Properties"]
    assert properties["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert properties["RetentionPeriodHours"] == prod.config.audit.stream_retention_hours
    key = properties["StreamEncryption"]
    assert key["EncryptionType"] == "KMS"
    assert data(prod)[key["KeyId"]["Fn::GetAtt"][0]]["Type"] == "AWS::KMS::Key"
    assert stream["DeletionPolicy"] == "Retain"


def test_firehose_reads_the_kinesis_stream_never_the_table_stream(prod: Synthesized) -> None:
    stream_id, _ = only(prod, "AWS::Kinesis::Stream")
    properties = delivery(prod)

    assert properties["DeliveryStreamType"] == "KinesisStreamAsSource"
    assert properties["KinesisStreamSourceConfiguration"]["KinesisStreamARN"] == get_att(stream_id)
    assert "StreamArn" not in json.dumps(properties), "Firehose must not read the table's own stream"


def test_firehose_writes_gzipped_changes_by_utc_day_and_errors_apart(prod: Synthesized) -> None:
    destination = delivery(prod)["ExtendedS3DestinationConfiguration"]

    assert destination["Prefix"] == "changes/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/"
    assert destination["ErrorOutputPrefix"].startswith("errors/!{firehose:error-output-type}/")
    assert destination["CustomTimeZone"] == "UTC"
    assert destination["CompressionFormat"] == "GZIP"
    assert destination["BufferingHints"] == {"IntervalInSeconds": 900, "SizeInMBs": 128}
    bucket = data(prod)[archive_bucket_id(prod)]["Properties"]
    sse = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert destination["EncryptionConfiguration"]["KMSEncryptionConfig"]["AWSKMSKeyARN"] == sse["KMSMasterKeyID"]


def test_firehose_logs_delivery_errors_to_an_encrypted_log_group_of_its_own(prod: Synthesized) -> None:
    logging = delivery(prod)["ExtendedS3DestinationConfiguration"]["CloudWatchLoggingOptions"]
    group = data(prod)[logging["LogGroupName"]["Ref"]]
    stream = data(prod)[logging["LogStreamName"]["Ref"]]

    assert logging["Enabled"] is True
    assert data(prod)[group["Properties"]["KmsKeyId"]["Fn::GetAtt"][0]]["Type"] == "AWS::KMS::Key"
    assert group["Properties"]["RetentionInDays"] >= 365
    assert stream["Properties"]["LogGroupName"] == {"Ref": logging["LogGroupName"]["Ref"]}


def test_archive_bucket_is_private_encrypted_locked_logged_and_retained(prod: Synthesized) -> None:
    bucket_id = archive_bucket_id(prod)
    bucket = data(prod)[bucket_id]
    properties = bucket["Properties"]
    audit = prod.config.audit

    sse = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    by_default = sse["ServerSideEncryptionByDefault"]
    assert by_default["SSEAlgorithm"] == "aws:kms"
    assert data(prod)[by_default["KMSMasterKeyID"]["Fn::GetAtt"][0]]["Type"] == "AWS::KMS::Key"
    assert sse["BucketKeyEnabled"] is True
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert all(properties["PublicAccessBlockConfiguration"].values())
    assert properties["ObjectLockConfiguration"]["Rule"]["DefaultRetention"] == {
        "Days": audit.archive_retention_days,
        "Mode": "GOVERNANCE",
    }
    access_logs = properties["LoggingConfiguration"]
    assert access_logs["LogFilePrefix"] == audit_archive.ACCESS_LOG_PREFIX
    assert data(prod)[access_logs["DestinationBucketName"]["Ref"]]["Type"] == "AWS::S3::Bucket"
    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain")
    [policy] = [
        r
        for r in data(prod).values()
        if r["Type"] == "AWS::S3::BucketPolicy" and r["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    denials = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert {"Bool": {"aws:SecureTransport": "false"}} in [s["Condition"] for s in denials]


def test_archive_goes_cold_then_expires_after_the_configured_days(prod: Synthesized) -> None:
    rules = {r["Id"]: r for r in data(prod)[archive_bucket_id(prod)]["Properties"]["LifecycleConfiguration"]["Rules"]}
    audit = prod.config.audit

    lifecycle = rules["ColdAfterTransitionExpireAfterRetention"]
    assert lifecycle["Transitions"] == [
        {"StorageClass": "GLACIER_IR", "TransitionInDays": audit.archive_transition_days}
    ]
    assert lifecycle["ExpirationInDays"] == audit.archive_retention_days
    assert "Prefix" not in lifecycle and "Filter" not in lifecycle, "the whole archive, errors included"
    assert rules["RemoveExpiredDeleteMarkers"]["ExpiredObjectDeleteMarker"] is True


def test_firehose_role_may_do_exactly_its_documented_work(prod: Synthesized) -> None:
    properties = delivery(prod)
    role_id = properties["ExtendedS3DestinationConfiguration"]["RoleARN"]["Fn::GetAtt"][0]
    role = data(prod)[role_id]["Properties"]
    stream_id, stream = only(prod, "AWS::Kinesis::Stream")
    bucket_id = archive_bucket_id(prod)

    assert properties["KinesisStreamSourceConfiguration"]["RoleARN"] == get_att(role_id)
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "firehose.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": prod.config.account}}
    assert "Policies" not in role
    [policy_ref] = role["ManagedPolicyArns"]
    statements = {s["Sid"]: s for s in data(prod)[policy_ref["Ref"]]["Properties"]["PolicyDocument"]["Statement"]}

    def objects(prefix: str) -> dict[str, Any]:
        return {"Fn::Join": ["", [get_att(bucket_id), f"/{prefix}/*"]]}

    actions = {
        sid: sorted(s["Action"]) if isinstance(s["Action"], list) else [s["Action"]] for sid, s in statements.items()
    }
    assert actions == {
        "ReadChangeStream": sorted(audit_archive.STREAM_READ_ACTIONS),
        "DecryptChangeStream": ["kms:Decrypt"],
        "FindArchiveBucket": sorted(audit_archive.BUCKET_ACTIONS),
        "WriteArchiveObjects": ["s3:AbortMultipartUpload", "s3:PutObject"],
        "EncryptArchiveObjects": ["kms:Decrypt", "kms:GenerateDataKey"],
        "LogDeliveryErrors": ["logs:PutLogEvents"],
    }
    assert statements["ReadChangeStream"]["Resource"] == get_att(stream_id)
    assert statements["DecryptChangeStream"]["Resource"] == stream["Properties"]["StreamEncryption"]["KeyId"]
    assert statements["DecryptChangeStream"]["Condition"]["StringEquals"]["kms:EncryptionContext:aws:kinesis:arn"] == (
        get_att(stream_id)
    )
    assert statements["FindArchiveBucket"]["Resource"] == get_att(bucket_id)
    assert statements["WriteArchiveObjects"]["Resource"] == [objects("changes"), objects("errors")]
    assert statements["EncryptArchiveObjects"]["Condition"]["StringEquals"] == {
        "kms:ViaService": f"s3.{prod.config.region}.amazonaws.com",
        "kms:EncryptionContext:aws:s3:arn": get_att(bucket_id),
    }
    assert all(s["Effect"] == "Allow" and "*" not in json.dumps(s.get("Action")) for s in statements.values())


@pytest.mark.parametrize("environment", WITHOUT_ARCHIVE)
def test_without_features_cdc_there_is_no_change_feed_and_no_archive(
    environment: str, synthesized: Callable[[str], Synthesized]
) -> None:
    synth = synthesized(environment)
    everything = json.dumps(synth.templates)

    assert "AWS::Kinesis::Stream" not in everything
    assert "AWS::KinesisFirehose::DeliveryStream" not in everything
    assert "KinesisStreamSpecification" not in everything


def test_the_archive_runs_where_the_config_says() -> None:
    assert WITH_ARCHIVE == ["prod"]
    assert WITHOUT_ARCHIVE == ["sandbox", "dev"]
