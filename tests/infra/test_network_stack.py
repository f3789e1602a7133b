"""The network: isolated subnets only, scoped endpoints, flow logs, every function inside."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from stacks.stage import network_availability_zones
from tests.conftest import ENVIRONMENT_NAMES, Synthesized, all_resources


@pytest.fixture(scope="module", params=ENVIRONMENT_NAMES)
def synth(request: pytest.FixtureRequest, synthesized: Callable[[str], Synthesized]) -> Synthesized:
    return synthesized(request.param)


def resources(synth: Synthesized, resource_type: str) -> dict[str, dict[str, Any]]:
    return synth.template("Network").find_resources(resource_type)


def test_no_route_to_the_internet(synth: Synthesized) -> None:
    [vpc] = resources(synth, "AWS::EC2::VPC").values()

    assert vpc["Properties"]["CidrBlock"] == synth.config.vpc_cidr
    assert resources(synth, "AWS::EC2::InternetGateway") == {}
    assert resources(synth, "AWS::EC2::NatGateway") == {}
    for subnet in resources(synth, "AWS::EC2::Subnet").values():
        assert subnet["Properties"]["MapPublicIpOnLaunch"] is False
    assert len(resources(synth, "AWS::EC2::Subnet")) == network_availability_zones(synth.config)


def test_gateway_endpoints_admit_only_folio_resources_and_actions(synth: Synthesized) -> None:
    endpoints = [e["Properties"] for e in resources(synth, "AWS::EC2::VPCEndpoint").values()]
    gateways = [e for e in endpoints if e.get("VpcEndpointType", "Gateway") == "Gateway"]

    assert len(gateways) == 2
    for endpoint in gateways:
        for statement in endpoint["PolicyDocument"]["Statement"]:
            if statement.get("Sid") == "CloudFormationResponsesOnly":
                continue  # signed by CloudFormation, not this account: the next test
            rendered = json.dumps(statement["Resource"])
            assert "*" not in json.dumps(statement["Action"])
            assert rendered.count('"arn:') + rendered.count("Fn::") >= 1
            assert statement["Condition"]["StringEquals"] == {"aws:PrincipalAccount": synth.config.account}
            assert '"*"' not in rendered


def test_the_s3_endpoint_admits_what_the_lifecycle_worker_does_and_only_under_the_documents_prefix(
    synth: Synthesized,
) -> None:
    # Given the S3 gateway endpoint's statements, action -> [(resource, condition)]
    [s3] = [
        e["Properties"]
        for e in resources(synth, "AWS::EC2::VPCEndpoint").values()
        if ".s3" in json.dumps(e["Properties"]["ServiceName"])
    ]
    admitted: dict[str, list[tuple[str, Any]]] = {}
    for statement in s3["PolicyDocument"]["Statement"]:
        for action in statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]:
            admitted.setdefault(action, []).append((statement["Resource"], statement.get("Condition")))
    bucket = f"arn:aws:s3:::{synth.stage.names.documents_bucket}"
    account = {"StringEquals": {"aws:PrincipalAccount": synth.config.account}}

    # Then: a removed document's versions can be listed and deleted through it, nothing wider
    assert admitted["s3:DeleteObjectVersion"] == [(f"{bucket}/documents/*", account)]
    assert admitted["s3:ListBucketVersions"] == [(bucket, {**account, "StringLike": {"s3:prefix": "documents/*"}})]


def test_the_s3_endpoint_admits_cloudformations_responses_only_where_a_custom_resource_answers_from_the_vpc(
    synth: Synthesized,
) -> None:
    [s3] = [
        e["Properties"]
        for e in resources(synth, "AWS::EC2::VPCEndpoint").values()
        if ".s3" in json.dumps(e["Properties"]["ServiceName"])
    ]
    responses = [s for s in s3["PolicyDocument"]["Statement"] if s.get("Sid") == "CloudFormationResponsesOnly"]
    custom_resources = [
        r
        for _, _, r in all_resources(synth)
        if r["Type"].startswith("Custom::") or r["Type"].endswith("CustomResource")
    ]

    assert len(responses) == len(custom_resources) == (1 if synth.config.features.search else 0)
    if responses:
        [statement] = responses
        # Written out, not derived with the code's rule: the bucket a ResponseURL names in the
        # environments' Regions (the Lambda guide's example: ...-response-useast1.s3-us-east-1...).
        bucket = {
            "eu-west-1": "cloudformation-custom-resource-response-euwest1",
            "eu-central-1": "cloudformation-custom-resource-response-eucentral1",
            "us-east-1": "cloudformation-custom-resource-response-useast1",
        }[synth.config.region]
        assert statement["Action"] == "s3:PutObject"
        assert statement["Resource"] == f"arn:aws:s3:::{bucket}/*"
        assert "Condition" not in statement


def test_interface_endpoints_for_what_the_functions_call_with_private_dns(synth: Synthesized) -> None:
    endpoints = [e["Properties"] for e in resources(synth, "AWS::EC2::VPCEndpoint").values()]
    interfaces = [e for e in endpoints if e.get("VpcEndpointType") == "Interface"]
    services = sorted(json.dumps(e["ServiceName"]).split(".")[-1].strip('"') for e in interfaces)

    assert services == ["secretsmanager", "xray"]
    assert all(e["PrivateDnsEnabled"] is True for e in interfaces)


def test_flow_logs_capture_all_traffic_into_an_encrypted_group(synth: Synthesized) -> None:
    [flow_log] = resources(synth, "AWS::EC2::FlowLog").values()
    [group] = resources(synth, "AWS::Logs::LogGroup").values()

    assert flow_log["Properties"]["TrafficType"] == "ALL"
    assert "KmsKeyId" in group["Properties"]


def test_function_security_group_allows_only_https_out_and_nothing_in(synth: Synthesized) -> None:
    groups = resources(synth, "AWS::EC2::SecurityGroup")
    [functions] = [
        g["Properties"] for g in groups.values() if g["Properties"]["GroupDescription"].startswith("Folio functions")
    ]

    assert "SecurityGroupIngress" not in functions
    for rule in functions["SecurityGroupEgress"]:
        assert (rule["FromPort"], rule["ToPort"], rule["IpProtocol"]) == (443, 443, "tcp")


def test_every_function_runs_in_the_isolated_subnets(synth: Synthesized) -> None:
    functions = synth.template("Api").find_resources("AWS::Lambda::Function")
    common_groups = {json.dumps(f["Properties"]["VpcConfig"]["SecurityGroupIds"][0]) for f in functions.values()}

    assert functions
    assert len(common_groups) == 1, "every function's first group is the Network stack's functions' group"
    for logical_id, function in functions.items():
        vpc_config = function["Properties"]["VpcConfig"]
        assert len(vpc_config["SubnetIds"]) == network_availability_zones(synth.config), logical_id
        # DAX readers also join the Api stack's DaxClients group (tests/infra/test_dax_cache.py), the
        # search function its SearchClients group (tests/infra/test_search_stack.py).
        own_groups = [g for g in ("DaxClients", "SearchClients") if g in json.dumps(vpc_config)]
        assert not own_groups or synth.config.features.dax or synth.config.features.search, logical_id
        assert len(vpc_config["SecurityGroupIds"]) == 1 + len(own_groups), logical_id


def test_three_azs_only_where_a_dax_cluster_of_three_or_more_nodes_needs_them(synth: Synthesized) -> None:
    config = synth.config
    zones = {s["Properties"]["AvailabilityZone"] for s in resources(synth, "AWS::EC2::Subnet").values()}

    assert len(zones) == (3 if config.features.dax and config.sizing.dax_nodes >= 3 else 2)
