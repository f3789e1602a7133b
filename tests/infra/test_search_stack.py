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
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_opensearchservice as opensearch

from folio.search_index import SEARCH_PATH
from stacks.components.encryption_key import EncryptionKey
from stacks.components.search_domain import (
    ENGINE_VERSION,
    LOG_TYPES,
    TLS_POLICY,
    SearchDomain,
    SearchSizing,
)
from stacks.config import load_config
from stacks.stage import network_availability_zones
from tests.conftest import ENVIRONMENT_NAMES, Synthesized, all_resources

WITH_SEARCH = [e for e in ENVIRONMENT_NAMES if e != "sandbox"]
SEARCH_HANDLER = "folio.handlers.search.handler"
ROLE_MAPPINGS_HANDLER = "folio.handlers.search_role_mappings.handler"
SWEEP_HANDLER = "folio.handlers.search_sweep.handler"
IAM_ROLE_NAME_LIMIT = 64
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
    assert domain["Properties"]["DomainName"] == with_search.stage.names.search_domain


# -- identity and access -----------------------------------------------------------------------


def test_the_sweep_runs_every_six_hours_with_exactly_its_two_calls_and_the_tables_batch_read(
    with_search: Synthesized,
) -> None:
    resources = with_search.templates["Search"]["Resources"]
    [function] = [
        r
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"]["Handler"] == SWEEP_HANDLER
    ]
    role = resources[function["Properties"]["Role"]["Fn::GetAtt"][0]]
    own_policy = next(
        resources[ref["Ref"]]["Properties"]["PolicyDocument"]["Statement"]
        for ref in role["Properties"]["ManagedPolicyArns"]
        if "WriteOwnLogs" in json.dumps(resources[ref["Ref"]]["Properties"]["PolicyDocument"])
    )
    [schedule] = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Events::Rule"]
    config = with_search.config
    domain_arn = f"arn:aws:es:{config.region}:{config.account}:domain/{with_search.stage.names.search_domain}"

    assert schedule["ScheduleExpression"] == "rate(6 hours)"
    assert "DeadLetterConfig" in schedule["Targets"][0]
    statements = {s["Sid"]: s for s in own_policy}
    assert set(statements) == {
        "WriteOwnLogs",
        "PageAndDeleteIndexEntries",
        "CheckEntriesAgainstTheTable",
        "DecryptTableReads",
    }
    assert statements["PageAndDeleteIndexEntries"]["Action"] == "es:ESHttpPost"
    assert sorted(statements["PageAndDeleteIndexEntries"]["Resource"]) == [
        f"{domain_arn}/documents/_bulk",
        f"{domain_arn}/documents/_search",
    ]
    assert statements["CheckEntriesAgainstTheTable"]["Action"] == "dynamodb:BatchGetItem"
    assert set(function["Properties"]["Environment"]["Variables"]) >= {"SEARCH_ENDPOINT", "TABLE_NAME"}


def role_mappings_role(synth: Synthesized) -> tuple[str, dict[str, Any]]:
    functions = search(synth, "AWS::Lambda::Function")
    [function] = [f for f in functions.values() if f["Properties"]["Handler"] == ROLE_MAPPINGS_HANDLER]
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    return role_id, search(synth, "AWS::IAM::Role")[role_id]


def test_the_master_user_is_the_role_mapping_functions_role_and_no_one_can_assume_it(with_search: Synthesized) -> None:
    _, domain = the_domain(with_search)
    security = domain["Properties"]["AdvancedSecurityOptions"]
    role_id, role = role_mappings_role(with_search)

    assert security == {
        "Enabled": True,
        "InternalUserDatabaseEnabled": False,
        "MasterUserOptions": {"MasterUserARN": {"Fn::GetAtt": [role_id, "Arn"]}},
    }
    [trust] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    # No role of the stack trusts the account (a person could otherwise become the master user).
    for other in search(with_search, "AWS::IAM::Role").values():
        assert ":root" not in json.dumps(other["Properties"]["AssumeRolePolicyDocument"])


def test_the_master_users_own_policy_reaches_only_the_six_security_api_entries_it_manages(
    with_search: Synthesized,
) -> None:
    role_id, role = role_mappings_role(with_search)
    config = with_search.config
    domain_arn = f"arn:aws:es:{config.region}:{config.account}:domain/{with_search.stage.names.search_domain}"
    policies = search(with_search, "AWS::IAM::ManagedPolicy")
    es_statements = [
        statement
        for ref in role["Properties"]["ManagedPolicyArns"]
        for statement in policies[ref["Ref"]]["Properties"]["PolicyDocument"]["Statement"]
        if "es:" in json.dumps(statement["Action"])
    ]

    [statement] = es_statements
    assert statement["Action"] == ["es:ESHttpDelete", "es:ESHttpGet", "es:ESHttpPut"]
    assert sorted(statement["Resource"]) == sorted(
        f"{domain_arn}/_plugins/_security/api/{kind}/{name}"
        for name in ("folio_documents_write", "folio_documents_read", "folio_documents_sweep")
        for kind in ("roles", "rolesmapping")
    )
    assert role_id


def test_the_access_policy_names_the_four_roles_each_for_what_it_does(with_search: Synthesized) -> None:
    _, domain = the_domain(with_search)
    role_id, _ = role_mappings_role(with_search)
    config = with_search.config
    domain_arn = f"arn:aws:es:{config.region}:{config.account}:domain/{with_search.stage.names.search_domain}"

    statements = {s["Sid"]: s for s in domain["Properties"]["AccessPolicies"]["Statement"]}
    assert set(statements) == {"RoleMappings", "IngestionPipeline", "SearchFunction", "IndexSweep"}

    sweep = statements["IndexSweep"]
    assert sweep["Principal"]["AWS"]["Fn::GetAtt"][0].startswith("SweepFunction")
    assert sweep["Action"] == "es:ESHttpPost"
    assert sorted(sweep["Resource"]) == [f"{domain_arn}/documents/_bulk", f"{domain_arn}/documents/_search"]

    ingestion = statements["IngestionPipeline"]
    assert ingestion["Principal"]["AWS"]["Fn::GetAtt"][0].startswith("IngestionRole")

    mappings = statements["RoleMappings"]
    assert mappings["Principal"] == {"AWS": {"Fn::GetAtt": [role_id, "Arn"]}}
    assert mappings["Action"] == ["es:ESHttpDelete", "es:ESHttpGet", "es:ESHttpPut"]
    assert all(r.startswith(f"{domain_arn}/_plugins/_security/api/") for r in mappings["Resource"])

    search_function = statements["SearchFunction"]
    assert search_function["Action"] == "es:ESHttpPost"
    assert search_function["Resource"] == f"{domain_arn}/{SEARCH_PATH}"
    # Under this account's principal, with the role in the condition: it does not exist yet.
    assert json.dumps(search_function["Principal"]).count(":root") == 1
    assert list(search_function["Condition"]) == ["ArnEquals"]


def test_the_custom_resource_maps_the_pipeline_the_search_function_and_the_sweep_and_both_wait_for_it(
    with_search: Synthesized,
) -> None:
    resources = with_search.templates["Search"]["Resources"]
    [(mapping_id, mapping)] = [(i, r) for i, r in resources.items() if r["Type"] == "Custom::FolioSearchRoleMappings"]
    [(pipeline_id, pipeline)] = [(i, r) for i, r in resources.items() if r["Type"] == "AWS::OSIS::Pipeline"]
    properties = mapping["Properties"]
    role = the_search_functions_role(with_search)
    account = with_search.config.account

    assert properties["PipelineRoleArn"]["Fn::GetAtt"][0].startswith("IngestionRole")
    assert [rendered_arn(a, account) for a in properties["SearchRoleArns"]] == [
        f"arn:aws:iam::{account}:role/{role['Properties']['RoleName']}"
    ]
    assert properties["SweepRoleArn"]["Fn::GetAtt"][0].startswith("SweepFunction")
    assert properties["Endpoint"]["Fn::Join"][1][0] == "https://"
    assert mapping_id in pipeline["DependsOn"]
    [schedule] = [r for r in resources.values() if r["Type"] == "AWS::Events::Rule"]
    assert mapping_id in schedule["DependsOn"]
    assert mapping["DeletionPolicy"] == "Delete"  # removing the stack removes the mappings it made
    assert pipeline_id != mapping_id


def test_the_custom_resource_keeps_its_way_to_the_domain_until_its_delete_has_run(with_search: Synthesized) -> None:
    """CloudFormation deletes a resource only after everything that depends on it. Every rule that
    lets the role-mapping function reach the domain must be among the custom resource's
    dependencies, or a stack's deletion (or a first deploy's rollback) removes the rule first and
    the Delete cannot connect: DELETE_FAILED, ROLLBACK_FAILED."""
    resources = with_search.templates["Search"]["Resources"]
    [(mapping_id, mapping)] = [(i, r) for i, r in resources.items() if r["Type"] == "Custom::FolioSearchRoleMappings"]
    [function] = [
        r
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"]["Handler"] == ROLE_MAPPINGS_HANDLER
    ]
    [group] = [g["Fn::GetAtt"][0] for g in function["Properties"]["VpcConfig"]["SecurityGroupIds"]]
    rules = [
        rule_id
        for rule_id, rule in resources.items()
        if rule["Type"] in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress")
        and group in json.dumps(rule["Properties"])
    ]

    assert rules, "no rule admits the role-mapping function's group to the domain"
    missing = [rule for rule in rules if rule not in mapping.get("DependsOn", [])]
    assert not missing, f"{mapping_id} does not wait for {missing}"


def the_search_functions_role(synth: Synthesized) -> dict[str, Any]:
    api = synth.templates["Api"]["Resources"]
    [function] = [
        r for r in api.values() if r["Type"] == "AWS::Lambda::Function" and r["Properties"]["Handler"] == SEARCH_HANDLER
    ]
    role: dict[str, Any] = api[function["Properties"]["Role"]["Fn::GetAtt"][0]]
    return role


def rendered_arn(value: Any, account: str) -> str:
    """An ARN the template builds with Fn::Join over the partition, as a string."""
    if isinstance(value, str):
        return value
    separator, parts = value["Fn::Join"]
    return separator.join("aws" if part == {"Ref": "AWS::Partition"} else part for part in parts)


def test_the_role_the_domain_admits_by_name_is_the_search_functions_role(with_search: Synthesized) -> None:
    """The Search stack names the Api stack's role before it exists; the two must agree."""
    _, domain = the_domain(with_search)
    [admitted] = [s for s in domain["Properties"]["AccessPolicies"]["Statement"] if s["Sid"] == "SearchFunction"]
    role = the_search_functions_role(with_search)
    account = with_search.config.account

    role_name = role["Properties"]["RoleName"]
    assert rendered_arn(admitted["Condition"]["ArnEquals"]["aws:PrincipalArn"], account) == (
        f"arn:aws:iam::{account}:role/{role_name}"
    )
    assert len(role_name) <= IAM_ROLE_NAME_LIMIT


def test_the_search_function_reaches_the_domain_on_443_from_a_group_of_its_own(with_search: Synthesized) -> None:
    api = with_search.templates["Api"]["Resources"]
    [function] = [
        r for r in api.values() if r["Type"] == "AWS::Lambda::Function" and r["Properties"]["Handler"] == SEARCH_HANDLER
    ]
    groups = function["Properties"]["VpcConfig"]["SecurityGroupIds"]
    own = [g["Fn::GetAtt"][0] for g in groups if "Fn::GetAtt" in g and g["Fn::GetAtt"][0].startswith("SearchClients")]
    assert len(own) == 1, groups
    [ingress] = [
        r["Properties"]
        for r in api.values()
        if r["Type"] == "AWS::EC2::SecurityGroupIngress"
        and r["Properties"].get("SourceSecurityGroupId") == {"Fn::GetAtt": [own[0], "GroupId"]}
    ]
    assert (ingress["FromPort"], ingress["ToPort"], ingress["IpProtocol"]) == (443, 443, "tcp")
    # The domain's group, read from the Search stack's outputs.
    assert ingress["GroupId"]["Fn::GetStackOutput"]["StackName"].endswith("-Search"), ingress["GroupId"]
    egress = api[own[0]]["Properties"]["SecurityGroupEgress"]
    assert [(e["FromPort"], e["ToPort"]) for e in egress] == [(443, 443)]
    assert ingress["GroupId"] == egress[0]["DestinationSecurityGroupId"]
    assert "SEARCH_ENDPOINT" in function["Properties"]["Environment"]["Variables"]


def test_only_the_search_function_has_a_fixed_role_name(synth: Synthesized) -> None:
    named = [
        (stack, logical_id)
        for stack, logical_id, r in all_resources(synth)
        if r["Type"] == "AWS::IAM::Role" and "RoleName" in r["Properties"]
    ]
    expected = 1 if synth.config.features.search else 0
    assert len(named) == expected, named


def test_the_only_custom_resource_is_folios_role_mappings_and_the_only_functions_its_and_the_sweep(
    with_search: Synthesized,
) -> None:
    """aws-cdk-lib's `access_policies` and its log resource policy would each add another."""
    resources = with_search.templates["Search"]["Resources"].values()
    custom = [r["Type"] for r in resources if r["Type"].startswith("Custom::")]
    functions = [r["Properties"]["Handler"] for r in resources if r["Type"] == "AWS::Lambda::Function"]

    assert custom == ["Custom::FolioSearchRoleMappings"]
    assert sorted(functions) == sorted([ROLE_MAPPINGS_HANDLER, SWEEP_HANDLER])


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
        master_role=iam.Role(stack, "Master", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")),
    )
    admit(domain)


def test_admitting_refuses_a_wildcard_principal_and_actions_beyond_http() -> None:
    with pytest.raises(ValueError, match="never '\\*'"):
        synthesized_domain(admit=lambda d: d.admit("*", sid="Anyone"))
    with pytest.raises(ValueError, match="es:ESHttp"):
        synthesized_domain(admit=lambda d: d.admit("arn:aws:iam::123456789012:role/x", sid="X", actions=["es:*"]))
    with pytest.raises(ValueError, match="relative to the domain"):
        synthesized_domain(admit=lambda d: d.admit("arn:aws:iam::123456789012:role/x", sid="X", paths=["/_search"]))
    synthesized_domain(admit=lambda d: d.admit("arn:aws:iam::123456789012:role/x", sid="X", actions=["es:ESHttpGet"]))


# -- network -----------------------------------------------------------------------------------


def test_the_domain_is_reached_on_443_from_the_pipeline_and_the_role_mapping_function_only_and_sends_nothing(
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

    # ... and the one group of the stack's own functions (the role mappings, the sweep).
    mapping_groups = {
        json.dumps(sg)
        for f in search(with_search, "AWS::Lambda::Function").values()
        for sg in f["Properties"]["VpcConfig"]["SecurityGroupIds"]
    }
    assert len(mapping_groups) == 1

    # Only those get in from this stack (the search function's group is admitted by the Api
    # stack: tests above); never the functions' common group, which holds every function.
    assert "SecurityGroupIngress" not in group
    assert [(r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in ingress] == [("tcp", 443, 443)] * 2
    assert {json.dumps(r["SourceSecurityGroupId"]) for r in ingress} == pipeline_groups | mapping_groups
    # No egress: aws-cdk-lib's placeholder rule that matches no traffic.
    assert [e["CidrIp"] for e in group["SecurityGroupEgress"]] == ["255.255.255.255/32"]
    # Only those groups may send 443 to the domain.
    assert sorted((e["FromPort"], json.dumps(e["GroupId"])) for e in egress_to_domain) == sorted(
        (443, group) for group in pipeline_groups | mapping_groups
    )


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
    domain_arn = f"arn:aws:es:{config.region}:{config.account}:domain/{with_search.stage.names.search_domain}"
    log_groups = {
        o["CloudWatchLogsLogGroupArn"]["Fn::GetAtt"][0] for o in domain["Properties"]["LogPublishingOptions"].values()
    }

    assert statement["Principal"] == {"Service": "es.amazonaws.com"}
    assert sorted(statement["Action"]) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert {r["Fn::GetAtt"][0] for r in statement["Resource"]} == log_groups
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": config.account},
        "ArnLike": {"aws:SourceArn": domain_arn},
    }
    assert policy_id in domain["DependsOn"], "OpenSearch checks the policy when the domain is created"


def test_the_vpc_has_as_many_zones_as_the_domain_spreads_over() -> None:
    """Even without DAX, whose three nodes are what gives prod three AZs today."""
    prod = load_config("prod")
    without_dax = dataclasses.replace(prod, features=dataclasses.replace(prod.features, dax=False))

    assert network_availability_zones(without_dax) == prod.search.availability_zones == 3


def test_the_operators_hear_when_the_search_functions_fail_or_the_sweep_stops_sweeping(
    with_search: Synthesized,
) -> None:
    api = with_search.templates["Api"]["Resources"]
    alarms = {
        r["Properties"]["MetricName"]: r["Properties"]
        for r in api.values()
        if r["Type"] == "AWS::CloudWatch::Alarm" and "index sweep" in r["Properties"]["AlarmDescription"]
    }
    [topic] = [i for i, r in api.items() if r["Type"] == "AWS::SNS::Topic"]

    assert set(alarms) == {"ApproximateNumberOfMessagesVisible", "SearchSweepIncomplete", "SearchSweepDeleted"}
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == alarm["OKActions"] == [{"Ref": topic}]
    # The queue is the Search stack's functions' own (read from its outputs)
    [queue] = alarms["ApproximateNumberOfMessagesVisible"]["Dimensions"]
    assert queue["Value"]["Fn::GetStackOutput"]["StackName"].endswith("-Search")
    # No report for two intervals is an alarm (missing data breaches), not silence
    silent = alarms["SearchSweepDeleted"]
    assert (silent["Statistic"], silent["ComparisonOperator"], silent["TreatMissingData"]) == (
        "SampleCount",
        "LessThanThreshold",
        "breaching",
    )
    assert silent["Period"] == 2 * 6 * 3600
