"""The Search stack: where `features.search` is on, one hardened OpenSearch domain in the VPC,
shaped by the config (dev: one node; prod: three data nodes over three AZs and three dedicated
masters); where it is off, no trace of it."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_opensearchservice as opensearch

from stacks.components.encryption_key import EncryptionKey
from stacks.components.search_domain import (
    ENGINE_VERSION,
    HTTP_ACTIONS,
    LOG_TYPES,
    TLS_POLICY,
    SearchDomain,
    SearchSizing,
)
from stacks.config import load_config
from stacks.stage import network_availability_zones, search_domain_name
from tests.conftest import ENVIRONMENT_NAMES, Synthesized, all_resources

WITH_SEARCH = [e for e in ENVIRONMENT_NAMES if e != "sandbox"]
# Strongest last. A member aws-cdk-lib adds (TLS 1.3, say) is unknown here and fails
# test_the_tls_policy_is_the_strongest_aws_cdk_lib_offers until it is ranked and chosen.
TLS_POLICIES_WEAKEST_FIRST = (
    opensearch.TLSSecurityPolicy.TLS_1_0,
    opensearch.TLSSecurityPolicy.TLS_1_2,
    opensearch.TLSSecurityPolicy.TLS_1_2_PFS,
)
TLS_POLICY_NAMES = {opensearch.TLSSecurityPolicy.TLS_1_2_PFS: "Policy-Min-TLS-1-2-PFS-2023-10"}
# CloudFormation's names of the log types OpenSearch publishes.
PUBLISHED_LOGS = {"ES_APPLICATION_LOGS", "SEARCH_SLOW_LOGS", "INDEX_SLOW_LOGS", "AUDIT_LOGS"}


@pytest.fixture(scope="module", params=ENVIRONMENT_NAMES)
def synth(request: pytest.FixtureRequest, synthesized: Callable[[str], Synthesized]) -> Synthesized:
    return synthesized(request.param)


@pytest.fixture(scope="module", params=WITH_SEARCH)
def with_search(request: pytest.FixtureRequest, synthesized: Callable[[str], Synthesized]) -> Synthesized:
    synth = synthesized(request.param)
    assert synth.config.features.search, f"{request.param} is expected to run search"
    return synth


def search(synth: Synthesized, resource_type: str) -> dict[str, dict[str, Any]]:
    return synth.template("Search").find_resources(resource_type)


def the_domain(synth: Synthesized) -> tuple[str, dict[str, Any]]:
    [(logical_id, domain)] = search(synth, "AWS::OpenSearchService::Domain").items()
    return logical_id, domain


def newest_engine_aws_cdk_lib_knows() -> str:
    versions = [
        tuple(int(part) for part in match.groups())
        for name in dir(opensearch.EngineVersion)
        if (match := re.fullmatch(r"OPENSEARCH_(\d+)_(\d+)", name))
    ]
    major, minor = max(versions)
    return f"OpenSearch_{major}.{minor}"


# -- on or off, per environment ----------------------------------------------------------------


def test_a_search_stack_exists_exactly_where_features_search_is_on(synth: Synthesized) -> None:
    domains = [r for _, _, r in all_resources(synth) if r["Type"].startswith("AWS::OpenSearchService::")]

    if synth.config.features.search:
        assert "Search" in synth.templates
        assert len(domains) == 1
    else:
        assert "Search" not in synth.templates
        assert synth.stage.search is None
        assert domains == []
        assert "es.amazonaws.com" not in json.dumps(synth.templates)


def test_sandbox_runs_without_search() -> None:
    """Otherwise the `off` branch above proves nothing."""
    assert not load_config("sandbox").features.search
    assert all(load_config(e).features.search for e in WITH_SEARCH)


def test_the_search_stack_comes_after_data_and_network(with_search: Synthesized) -> None:
    stage = with_search.stage
    assert stage.search is not None

    dependencies = {stack.node.id for stack in stage.search.dependencies}

    assert {"Data", "Network"} <= dependencies


# -- the engine and its transport ----------------------------------------------------------------


def test_the_engine_is_the_newest_aws_cdk_lib_offers(with_search: Synthesized) -> None:
    _, domain = the_domain(with_search)

    assert domain["Properties"]["EngineVersion"] == newest_engine_aws_cdk_lib_knows()
    assert ENGINE_VERSION.version == newest_engine_aws_cdk_lib_knows()
    # A version bump upgrades the domain in place instead of replacing it.
    assert domain["UpdatePolicy"] == {"EnableVersionUpgrade": True}


def test_the_tls_policy_is_the_strongest_aws_cdk_lib_offers(with_search: Synthesized) -> None:
    _, domain = the_domain(with_search)
    endpoint = domain["Properties"]["DomainEndpointOptions"]

    assert set(opensearch.TLSSecurityPolicy) == set(TLS_POLICIES_WEAKEST_FIRST), "rank the new policy"
    assert TLS_POLICIES_WEAKEST_FIRST[-1] == TLS_POLICY
    assert endpoint == {"EnforceHTTPS": True, "TLSSecurityPolicy": TLS_POLICY_NAMES[TLS_POLICY]}
    assert domain["Properties"]["NodeToNodeEncryptionOptions"] == {"Enabled": True}


# -- shape: dev one node, prod three data nodes over three AZs and three masters ----------------


def test_the_domain_takes_its_shape_from_the_config(with_search: Synthesized) -> None:
    config = with_search.config
    _, domain = the_domain(with_search)
    cluster = domain["Properties"]["ClusterConfig"]
    subnets = domain["Properties"]["VPCOptions"]["SubnetIds"]
    zones = config.search.availability_zones

    assert cluster["InstanceType"] == config.search.data_node_type
    assert cluster["InstanceCount"] == config.sizing.search_instances
    assert cluster["ZoneAwarenessEnabled"] is (zones > 1)
    assert cluster.get("ZoneAwarenessConfig", {}).get("AvailabilityZoneCount", 1) == zones
    assert cluster["DedicatedMasterEnabled"] is (config.search.dedicated_masters > 0)
    assert cluster.get("DedicatedMasterCount", 0) == config.search.dedicated_masters
    assert len(subnets) == len({json.dumps(s) for s in subnets}) == zones
    assert network_availability_zones(config) >= zones
    assert domain["Properties"]["EBSOptions"] == {
        "EBSEnabled": True,
        "VolumeSize": config.search.volume_gb,
        "VolumeType": "gp3",
    }


def test_prod_and_dev_have_the_shapes_the_issue_asks_for(synthesized: Callable[[str], Synthesized]) -> None:
    _, prod = the_domain(synthesized("prod"))
    _, dev = the_domain(synthesized("dev"))
    prod_cluster, dev_cluster = prod["Properties"]["ClusterConfig"], dev["Properties"]["ClusterConfig"]

    assert (prod_cluster["InstanceCount"], prod_cluster["ZoneAwarenessConfig"]["AvailabilityZoneCount"]) == (3, 3)
    assert (prod_cluster["DedicatedMasterCount"], prod_cluster["DedicatedMasterEnabled"]) == (3, True)
    assert (dev_cluster["InstanceCount"], dev_cluster["ZoneAwarenessEnabled"]) == (1, False)
    assert dev_cluster["DedicatedMasterEnabled"] is False


def test_the_domain_is_retained_and_named_after_its_environment(with_search: Synthesized) -> None:
    _, domain = the_domain(with_search)

    assert domain["DeletionPolicy"] == domain["UpdateReplacePolicy"] == "Retain"
    assert domain["Properties"]["DomainName"] == search_domain_name(with_search.config.name)


# -- identity and access -----------------------------------------------------------------------


def test_fine_grained_access_has_an_iam_master_role_of_its_own_and_no_user_database(with_search: Synthesized) -> None:
    _, domain = the_domain(with_search)
    security = domain["Properties"]["AdvancedSecurityOptions"]
    [(role_id, role)] = master_roles(with_search).items()

    assert security == {
        "Enabled": True,
        "InternalUserDatabaseEnabled": False,
        "MasterUserOptions": {"MasterUserARN": {"Fn::GetAtt": [role_id, "Arn"]}},
    }
    [trust] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Action"] == "sts:AssumeRole"
    # The account, i.e. only principals whose identity policy allows sts:AssumeRole on this role.
    assert trust["Principal"] == {"AWS": f"arn:aws:iam::{with_search.config.account}:root"}
    assert "Condition" not in trust
    assert "Policies" not in role["Properties"] and "ManagedPolicyArns" not in role["Properties"]


def master_roles(synth: Synthesized) -> dict[str, dict[str, Any]]:
    """The roles the account may assume (the ingestion pipeline's role is OSIS's, not the account's)."""
    return {
        role_id: role
        for role_id, role in search(synth, "AWS::IAM::Role").items()
        if "osis-pipelines" not in json.dumps(role["Properties"]["AssumeRolePolicyDocument"])
    }


def test_the_access_policy_names_the_master_role_and_the_ingestion_role_only(with_search: Synthesized) -> None:
    _, domain = the_domain(with_search)
    [(role_id, _)] = master_roles(with_search).items()
    config = with_search.config
    domain_arn = f"arn:aws:es:{config.region}:{config.account}:domain/{search_domain_name(config.name)}"

    statement, ingestion = domain["Properties"]["AccessPolicies"]["Statement"]
    assert ingestion["Sid"] == "IngestionPipeline"
    assert ingestion["Principal"]["AWS"]["Fn::GetAtt"][0].startswith("IngestionRole")

    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"AWS": {"Fn::GetAtt": [role_id, "Arn"]}}
    assert statement["Action"] == sorted(HTTP_ACTIONS)
    assert statement["Resource"] == f"{domain_arn}/*"


def test_no_custom_resource_or_function_comes_with_the_domain_or_the_pipeline(with_search: Synthesized) -> None:
    """aws-cdk-lib's `access_policies` and its log resource policy would each add one."""
    types = {r["Type"] for r in with_search.templates["Search"]["Resources"].values()}

    assert not any(t.startswith("Custom::") or t == "AWS::Lambda::Function" for t in types), types


def synthesized_domain(*, admit: Callable[[SearchDomain], None]) -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "S", env=cdk.Environment(account="123456789012", region="eu-west-1"))
    isolated = ec2.SubnetConfiguration(name="i", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
    vpc = ec2.Vpc(stack, "Vpc", subnet_configuration=[isolated])

    domain = SearchDomain(
        stack,
        "Search",
        domain_name="folio-test",
        vpc=vpc,
        key=EncryptionKey(stack, "K", description="k").key,
        log_key=EncryptionKey(stack, "L", description="l", for_log_groups=True).key,
        sizing=SearchSizing(
            data_node_type="t3.medium.search",
            data_nodes=1,
            availability_zones=1,
            dedicated_masters=0,
            master_node_type="m7g.large.search",
            volume_gb=10,
        ),
    )
    admit(domain)


def test_admitting_refuses_a_wildcard_principal_and_actions_beyond_http() -> None:
    with pytest.raises(ValueError, match="never '\\*'"):
        synthesized_domain(admit=lambda d: d.admit("*", sid="Anyone"))
    with pytest.raises(ValueError, match="es:ESHttp"):
        synthesized_domain(admit=lambda d: d.admit("arn:aws:iam::123456789012:role/x", sid="X", actions=["es:*"]))
    synthesized_domain(admit=lambda d: d.admit("arn:aws:iam::123456789012:role/x", sid="X", actions=["es:ESHttpGet"]))


# -- network -----------------------------------------------------------------------------------


def test_the_domain_is_reached_on_443_from_the_pipeline_only_and_sends_nothing(
    with_search: Synthesized,
) -> None:
    _, domain = the_domain(with_search)
    [group_ref] = domain["Properties"]["VPCOptions"]["SecurityGroupIds"]
    group_id = group_ref["Fn::GetAtt"][0]
    group = search(with_search, "AWS::EC2::SecurityGroup")[group_id]["Properties"]
    ingress = [
        r["Properties"]
        for r in search(with_search, "AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["GroupId"] == {"Fn::GetAtt": [group_id, "GroupId"]}
    ]
    egress_to_domain = [
        r["Properties"]
        for r in search(with_search, "AWS::EC2::SecurityGroupEgress").values()
        if r["Properties"].get("DestinationSecurityGroupId") == {"Fn::GetAtt": [group_id, "GroupId"]}
    ]

    # The ingestion pipeline's group, from the same stack (tests/infra/test_search_ingestion.py).
    pipeline_groups = {
        json.dumps(sg)
        for p in search(with_search, "AWS::OSIS::Pipeline").values()
        for sg in p["Properties"]["VpcOptions"]["SecurityGroupIds"]
    }

    # Only the pipeline's group gets in; no function's (the search function is not wired yet, and
    # the functions' common group holds every function).
    assert "SecurityGroupIngress" not in group
    assert [(r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in ingress] == [("tcp", 443, 443)]
    assert {json.dumps(r["SourceSecurityGroupId"]) for r in ingress} == pipeline_groups
    # No egress: aws-cdk-lib's placeholder rule that matches no traffic.
    assert [e["CidrIp"] for e in group["SecurityGroupEgress"]] == ["255.255.255.255/32"]
    # Only the pipeline's group may send 443 to the domain.
    assert [(e["FromPort"], json.dumps(e["GroupId"])) for e in egress_to_domain] == [
        (443, group) for group in pipeline_groups
    ]


# -- keys and logs -----------------------------------------------------------------------------


def test_indices_are_encrypted_with_a_rotating_key_of_the_search_stack(with_search: Synthesized) -> None:
    _, domain = the_domain(with_search)
    at_rest = domain["Properties"]["EncryptionAtRestOptions"]
    keys = search(with_search, "AWS::KMS::Key")

    assert at_rest["Enabled"] is True
    assert keys[at_rest["KmsKeyId"]["Ref"]]["Properties"]["EnableKeyRotation"] is True


def test_every_log_type_goes_to_an_encrypted_retained_log_group(with_search: Synthesized) -> None:
    _, domain = the_domain(with_search)
    published = domain["Properties"]["LogPublishingOptions"]
    groups = search(with_search, "AWS::Logs::LogGroup")
    keys = search(with_search, "AWS::KMS::Key")

    assert set(published) == PUBLISHED_LOGS
    assert len(LOG_TYPES) == len(PUBLISHED_LOGS)
    targets = set()
    for option in published.values():
        assert option["Enabled"] is True
        group_id = option["CloudWatchLogsLogGroupArn"]["Fn::GetAtt"][0]
        group = groups[group_id]
        assert group["Properties"]["KmsKeyId"]["Fn::GetAtt"][0] in keys
        assert group["Properties"]["RetentionInDays"] == 365
        assert group["DeletionPolicy"] == "Retain"
        targets.add(group_id)
    assert len(targets) == len(PUBLISHED_LOGS), "each log type has a group of its own"


def test_only_this_domain_may_write_only_its_log_groups(with_search: Synthesized) -> None:
    _, domain = the_domain(with_search)
    [(policy_id, _)] = search(with_search, "AWS::Logs::ResourcePolicy").items()
    stack = with_search.stage.search
    assert stack is not None
    # The template holds the document as a JSON string joined with tokens: read it resolved.
    log_delivery = stack.domain.node.find_child("LogDelivery")
    assert isinstance(log_delivery, logs.ResourcePolicy)
    [statement] = stack.resolve(log_delivery.document)["Statement"]
    config = with_search.config
    log_groups = {
        o["CloudWatchLogsLogGroupArn"]["Fn::GetAtt"][0] for o in domain["Properties"]["LogPublishingOptions"].values()
    }

    assert statement["Principal"] == {"Service": "es.amazonaws.com"}
    assert sorted(statement["Action"]) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert {r["Fn::GetAtt"][0] for r in statement["Resource"]} == log_groups
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": config.account},
        "ArnLike": {
            "aws:SourceArn": f"arn:aws:es:{config.region}:{config.account}:domain/{search_domain_name(config.name)}"
        },
    }
    assert policy_id in domain["DependsOn"], "OpenSearch checks the policy when the domain is created"


def test_the_vpc_has_as_many_zones_as_the_domain_spreads_over() -> None:
    """Even without DAX, whose three nodes are what gives prod three AZs today."""
    prod = load_config("prod")
    without_dax = dataclasses.replace(prod, features=dataclasses.replace(prod.features, dax=False))

    assert network_availability_zones(without_dax) == prod.search.availability_zones == 3
