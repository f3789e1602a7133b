"""Checks of a deployed environment that only AWS can answer (opt-in: `make test-aws`).

Run after `cdk deploy` with credentials for the environment's account:

    FOLIO_ENV=sandbox make test-aws

They are marked `aws` and deselected by `make test` (`-m "not aws"`), so the offline
suite never pretends to have checked them. Without credentials they fail loudly rather
than skip: asking for them and not providing them is an error.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
import pytest

from stacks.config import load_config
from stacks.stage import stage_id

pytestmark = pytest.mark.aws

ENVIRONMENT = os.environ.get("FOLIO_ENV", "sandbox")


@pytest.fixture(scope="module")
def config() -> Any:
    return load_config(ENVIRONMENT, cli_account=boto3.client("sts").get_caller_identity()["Account"])


def stack_resources(config: Any, stack: str, resource_type: str) -> list[str]:
    cloudformation = boto3.client("cloudformation", region_name=config.region)
    name = f"{stage_id(config)}-{stack}"
    paginator = cloudformation.get_paginator("list_stack_resources")
    return [
        r["PhysicalResourceId"]
        for page in paginator.paginate(StackName=name)
        for r in page["StackResourceSummaries"]
        if r["ResourceType"] == resource_type
    ]


def test_every_table_replica_has_pitr_and_deletion_protection(config: Any) -> None:
    tables = stack_resources(config, "Data", "AWS::DynamoDB::GlobalTable")

    assert tables
    for table in tables:
        for region in {config.region, *config.replica_regions}:
            dynamodb = boto3.client("dynamodb", region_name=region)
            description = dynamodb.describe_table(TableName=table)["Table"]
            backups = dynamodb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
            assert description["DeletionProtectionEnabled"] is True, (table, region)
            assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
            assert description["SSEDescription"]["SSEType"] == "KMS"


def test_every_key_rotates(config: Any) -> None:
    kms = boto3.client("kms", region_name=config.region)

    for key in stack_resources(config, "Data", "AWS::KMS::Key"):
        assert kms.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"] is True


def test_web_acl_protects_the_api_stage(config: Any) -> None:
    apis = stack_resources(config, "Api", "AWS::ApiGateway::RestApi")
    waf = boto3.client("wafv2", region_name=config.region)

    [api_id] = apis
    stage_arn = f"arn:aws:apigateway:{config.region}::/restapis/{api_id}/stages/v1"
    assert waf.get_web_acl_for_resource(ResourceArn=stage_arn).get("WebACL")


def test_documents_bucket_blocks_public_access(config: Any) -> None:
    s3 = boto3.client("s3", region_name=config.region)
    name = f"folio-{config.name}-documents-{config.account}-{config.region}"

    block = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"


def test_the_accounts_api_gateway_logging_role_may_write_the_stages_access_logs(config: Any) -> None:
    """Both answers to api.manage_account_logging_role end in a role set in the account
    setting that can write the stage's access log group; with `true`, it is Folio's own."""
    [api_id] = stack_resources(config, "Api", "AWS::ApiGateway::RestApi")
    apigateway = boto3.client("apigateway", region_name=config.region)
    role_arn = apigateway.get_account().get("cloudwatchRoleArn")
    destination = apigateway.get_stage(restApiId=api_id, stageName="v1")["accessLogSettings"]["destinationArn"]
    stream = f"{destination.removesuffix(':*')}:log-stream:folio-check"

    assert role_arn, "no API Gateway CloudWatch role is set for this account and Region"
    results = boto3.client("iam").simulate_principal_policy(
        PolicySourceArn=role_arn, ActionNames=["logs:CreateLogStream", "logs:PutLogEvents"], ResourceArns=[stream]
    )["EvaluationResults"]
    assert {r["EvalActionName"]: r["EvalDecision"] for r in results} == {
        "logs:CreateLogStream": "allowed",
        "logs:PutLogEvents": "allowed",
    }
    folio_roles = stack_resources(config, "Api", "AWS::IAM::Role")
    assert (role_arn.rsplit("/", 1)[1] in folio_roles) is config.api.manage_account_logging_role
