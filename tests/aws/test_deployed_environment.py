"""Checks of a deployed environment that only AWS can answer (opt-in: `make test-aws`).

Run after `cdk deploy` with credentials for the environment's account:

    FOLIO_ENV=sandbox make test-aws

They are marked `aws` and deselected by `make test` (`-m "not aws"`), so the offline
suite never pretends to have checked them. Without credentials they fail loudly rather
than skip: asking for them and not providing them is an error.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
import pytest

from stacks.config import load_config
from stacks.names import EnvironmentNames

pytestmark = pytest.mark.aws

ENVIRONMENT = os.environ.get("FOLIO_ENV", "sandbox")


@pytest.fixture(scope="module")
def config() -> Any:
    return load_config(ENVIRONMENT, cli_account=boto3.client("sts").get_caller_identity()["Account"])


def stack_resources(config: Any, stack: str, resource_type: str) -> list[str]:
    cloudformation = boto3.client("cloudformation", region_name=config.region)
    name = f"{EnvironmentNames.of(config).stage_id}-{stack}"
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
    name = EnvironmentNames.of(config).documents_bucket

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


def dax_clusters(config: Any) -> list[dict[str, Any]]:
    names = stack_resources(config, "Api", "AWS::DAX::Cluster")
    if not names:
        return []
    clusters: list[dict[str, Any]] = boto3.client("dax", region_name=config.region).describe_clusters(
        ClusterNames=names
    )["Clusters"]
    return clusters


def test_a_dax_cluster_runs_exactly_where_features_dax_is_on_encrypted_both_ways(config: Any) -> None:
    clusters = dax_clusters(config)

    assert len(clusters) == (1 if config.features.dax else 0)
    for cluster in clusters:
        assert cluster["ClusterEndpointEncryptionType"] == "TLS"
        assert cluster["SSEDescription"]["Status"] == "ENABLED"
        assert cluster["TotalNodes"] == config.sizing.dax_nodes


def test_a_deployed_reader_reads_through_dax_on_its_runtime(config: Any) -> None:
    """The one check of the DAX client on Lambda's Python 3.14 (the offline tests run 3.11):
    invoke the admin function with an administrator's claims, as API Gateway would, and
    require a 200 with no DaxFallbacks data point in the invocation's log. Where DAX is off,
    the function must have no DAX endpoint at all."""
    import base64
    import json

    from folio.dax import FALLBACK_METRIC
    from folio.settings import Env

    lambda_client = boto3.client("lambda", region_name=config.region)
    [admin] = [
        name
        for name in stack_resources(config, "Api", "AWS::Lambda::Function")
        if lambda_client.get_function_configuration(FunctionName=name)["Handler"] == "folio.handlers.admin.handler"
    ]
    variables = lambda_client.get_function_configuration(FunctionName=admin)["Environment"]["Variables"]
    assert (Env.DAX_ENDPOINT in variables) is config.features.dax
    if not config.features.dax:
        return
    event = {
        "resource": "/admin/recent", "path": "/admin/recent", "httpMethod": "GET",
        "headers": {"Content-Type": "application/json"}, "multiValueHeaders": {},
        "queryStringParameters": None, "multiValueQueryStringParameters": None, "pathParameters": None,
        "stageVariables": None, "body": None, "isBase64Encoded": False,
        "requestContext": {"requestId": "folio-aws-check", "stage": "v1", "httpMethod": "GET",
                           "resourcePath": "/admin/recent", "path": "/v1/admin/recent",
                           "authorizer": {"claims": {"sub": "00000000-0000-4000-8000-000000000000",
                                                     "cognito:groups": variables[Env.ADMINS_GROUP]}},
                           "identity": {"sourceIp": "127.0.0.1"}},
    }  # fmt: skip
    for _ in range(2):  # the first call of a fresh container builds the client; the second reads warm
        result = lambda_client.invoke(FunctionName=admin, Payload=json.dumps(event).encode(), LogType="Tail")
        response = json.loads(result["Payload"].read())
        log = base64.b64decode(result["LogResult"]).decode()
        assert response["statusCode"] == 200, response
        assert FALLBACK_METRIC not in log, log


def test_the_audit_archive_receives_the_tables_changes_where_features_cdc_is_on(config: Any) -> None:
    """The table streams to its Kinesis data stream (ACTIVE) and Firehose delivers it, both
    encrypted with keys of Folio's; nothing of it exists where the feature is off."""
    tables = stack_resources(config, "Data", "AWS::DynamoDB::GlobalTable")
    streams = stack_resources(config, "Data", "AWS::Kinesis::Stream")
    deliveries = stack_resources(config, "Data", "AWS::KinesisFirehose::DeliveryStream")

    assert len(streams) == len(deliveries) == (1 if config.features.cdc else 0)
    if not config.features.cdc:
        return
    [table] = tables
    destinations = boto3.client("dynamodb", region_name=config.region).describe_kinesis_streaming_destination(
        TableName=table
    )["KinesisDataStreamDestinations"]
    assert [d["DestinationStatus"] for d in destinations] == ["ACTIVE"], destinations
    kinesis = boto3.client("kinesis", region_name=config.region)
    summary = kinesis.describe_stream_summary(StreamName=streams[0])["StreamDescriptionSummary"]
    assert summary["EncryptionType"] == "KMS" and not summary["KeyId"].endswith("alias/aws/kinesis")
    firehose = boto3.client("firehose", region_name=config.region)
    delivery = firehose.describe_delivery_stream(DeliveryStreamName=deliveries[0])["DeliveryStreamDescription"]
    assert delivery["DeliveryStreamStatus"] == "ACTIVE"
    assert "KMSEncryptionConfig" in json.dumps(delivery["Destinations"])


def test_the_search_domain_is_mapped_and_the_search_function_finds_through_it(config: Any) -> None:
    """Where features.search: the domain's master user is the role-mapping function's role, the
    custom resource completed, and the deployed search function answers a signed-in search with
    a 200 (a 503 would mean no endpoint, a 500 a refused call: a role mapping or access policy
    gone wrong). Nothing of it exists where the feature is off."""
    from folio.search_role_mappings import RESOURCE_HANDLER
    from folio.settings import Env

    lambda_client = boto3.client("lambda", region_name=config.region)
    [search] = [
        name
        for name in stack_resources(config, "Api", "AWS::Lambda::Function")
        if lambda_client.get_function_configuration(FunctionName=name)["Handler"] == "folio.handlers.search.handler"
    ]
    variables = lambda_client.get_function_configuration(FunctionName=search)["Environment"]["Variables"]
    assert (Env.SEARCH_ENDPOINT in variables) is config.features.search
    if not config.features.search:
        return
    domain = boto3.client("opensearch", region_name=config.region).describe_domain(
        DomainName=EnvironmentNames.of(config).search_domain
    )["DomainStatus"]
    [mapper] = [
        name
        for name in stack_resources(config, "Search", "AWS::Lambda::Function")
        if lambda_client.get_function_configuration(FunctionName=name)["Handler"] == RESOURCE_HANDLER
    ]
    mapper_role = lambda_client.get_function_configuration(FunctionName=mapper)["Role"]
    assert domain["AdvancedSecurityOptions"]["Enabled"] is True
    assert domain["AdvancedSecurityOptions"]["InternalUserDatabaseEnabled"] is False
    assert json.loads(domain["AccessPolicies"])  # a policy; its statements are the synthesized ones
    assert mapper_role.rsplit("/", 1)[1] in json.dumps(domain["AccessPolicies"])
    event = {
        "resource": "/search", "path": "/search", "httpMethod": "GET",
        "headers": {}, "multiValueHeaders": {}, "queryStringParameters": {"q": "folio"},
        "multiValueQueryStringParameters": {"q": ["folio"]}, "pathParameters": None,
        "stageVariables": None, "body": None, "isBase64Encoded": False,
        "requestContext": {"requestId": "folio-aws-check", "stage": "v1", "httpMethod": "GET",
                           "resourcePath": "/search", "path": "/v1/search",
                           "authorizer": {"claims": {"sub": "00000000-0000-4000-8000-000000000000"}},
                           "identity": {"sourceIp": "127.0.0.1"}},
    }  # fmt: skip
    result = lambda_client.invoke(FunctionName=search, Payload=json.dumps(event).encode())
    response = json.loads(result["Payload"].read())
    assert response["statusCode"] == 200, response
