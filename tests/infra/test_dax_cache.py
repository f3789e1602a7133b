"""The DAX cluster: where `features.dax` is on, a hardened read cache in the Api stack, used
by exactly the functions stacks/read_path.py names; where it is off, no trace of it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns

from folio import keys
from folio.contracts import FunctionGroup
from folio.handlers import API_HANDLERS
from folio.settings import Env
from stacks.components.dax_cache import MAINTENANCE_WINDOW, TLS_PORT, CachedRead, DaxCache, DaxSizing
from stacks.read_path import READS_THROUGH_DAX
from tests.conftest import ENVIRONMENT_NAMES, Synthesized, all_resources
from tests.support.templates import as_list


@pytest.fixture(scope="module", params=ENVIRONMENT_NAMES)
def synth(request: pytest.FixtureRequest, synthesized: Callable[[str], Synthesized]) -> Synthesized:
    return synthesized(request.param)


@pytest.fixture(scope="module", params=[e for e in ENVIRONMENT_NAMES if e != "sandbox"])
def with_dax(request: pytest.FixtureRequest, synthesized: Callable[[str], Synthesized]) -> Synthesized:
    synth = synthesized(request.param)
    assert synth.config.features.dax, f"{request.param} is expected to run DAX"
    return synth


def api(synth: Synthesized, resource_type: str) -> dict[str, dict[str, Any]]:
    return synth.template("Api").find_resources(resource_type)


def the_cluster(synth: Synthesized) -> tuple[str, dict[str, Any]]:
    [(logical_id, cluster)] = api(synth, "AWS::DAX::Cluster").items()
    return logical_id, cluster["Properties"]


def policy_statements(synth: Synthesized, role_id: str) -> list[dict[str, Any]]:
    policies = api(synth, "AWS::IAM::ManagedPolicy")
    role = api(synth, "AWS::IAM::Role")[role_id]["Properties"]
    return [
        statement
        for arn in role.get("ManagedPolicyArns", [])
        for statement in policies[arn["Ref"]]["Properties"]["PolicyDocument"]["Statement"]
    ]


def function_by_handler(synth: Synthesized) -> dict[str, dict[str, Any]]:
    return {f["Properties"]["Handler"]: f["Properties"] for f in api(synth, "AWS::Lambda::Function").values()}


# -- on or off, per environment --------------------------------------------------------------


def test_a_cluster_exists_exactly_where_features_dax_is_on(synth: Synthesized) -> None:
    dax_types = sorted({r["Type"] for _, _, r in all_resources(synth) if r["Type"].startswith("AWS::DAX::")})
    everything = json.dumps(synth.templates)

    if synth.config.features.dax:
        assert dax_types == ["AWS::DAX::Cluster", "AWS::DAX::ParameterGroup", "AWS::DAX::SubnetGroup"]
        assert len(api(synth, "AWS::DAX::Cluster")) == 1, "the cluster lives in the Api stack"
    else:
        assert dax_types == []
        assert '"dax:' not in everything, "no dax: permission without a cluster"
        assert Env.DAX_ENDPOINT not in everything
        assert "dax.amazonaws.com" not in everything
        assert api(synth, "AWS::Lambda::LayerVersion") == {}, "no DAX client layer without a cluster"


# -- the cluster -------------------------------------------------------------------------------


def test_the_cluster_is_sized_from_config_encrypted_in_transit_and_at_rest(with_dax: Synthesized) -> None:
    _, cluster = the_cluster(with_dax)
    sizing = with_dax.config.sizing

    assert cluster["NodeType"] == sizing.dax_node_type
    assert cluster["ReplicationFactor"] == sizing.dax_nodes
    assert cluster["SSESpecification"] == {"SSEEnabled": True}
    assert cluster["ClusterEndpointEncryptionType"] == "TLS"
    assert cluster["PreferredMaintenanceWindow"] == MAINTENANCE_WINDOW
    assert cluster["Tags"]["folio:component"] == "dax"
    assert cluster["Tags"]["folio:environment"] == with_dax.config.name
    assert "ClusterName" not in cluster, "a generated name: DAX puts the name into a public TLS certificate"


def test_item_and_query_ttls_come_from_config(with_dax: Synthesized) -> None:
    _, cluster = the_cluster(with_dax)
    groups = api(with_dax, "AWS::DAX::ParameterGroup")

    parameters = groups[cluster["ParameterGroupName"]["Ref"]]["Properties"]["ParameterNameValues"]
    assert parameters == {
        "record-ttl-millis": str(with_dax.config.sizing.dax_record_ttl_ms),
        "query-ttl-millis": str(with_dax.config.sizing.dax_query_ttl_ms),
    }


def test_the_cluster_sits_in_the_functions_subnets(with_dax: Synthesized) -> None:
    _, cluster = the_cluster(with_dax)
    groups = api(with_dax, "AWS::DAX::SubnetGroup")
    functions = api(with_dax, "AWS::Lambda::Function").values()

    subnet_ids = groups[cluster["SubnetGroupName"]["Ref"]]["Properties"]["SubnetIds"]
    for function in functions:
        assert function["Properties"]["VpcConfig"]["SubnetIds"] == subnet_ids


def test_three_or_more_nodes_get_one_az_each_over_three_azs_of_their_subnets(with_dax: Synthesized) -> None:
    _, cluster = the_cluster(with_dax)
    network = with_dax.template("Network").find_resources("AWS::EC2::Subnet")
    subnet_zones = {s["Properties"]["AvailabilityZone"] for s in network.values()}

    if with_dax.config.sizing.dax_nodes >= 3:
        zones = cluster["AvailabilityZones"]
        assert len(zones) == cluster["ReplicationFactor"]
        assert len(set(zones)) >= 3
        assert set(zones) <= subnet_zones, "a node's AZ must be one of the subnet group's"
    else:
        assert "AvailabilityZones" not in cluster


def test_prod_runs_three_nodes_across_three_azs(synthesized: Callable[[str], Synthesized]) -> None:
    _, cluster = the_cluster(synthesized("prod"))

    assert cluster["ReplicationFactor"] >= 3
    assert len(set(cluster["AvailabilityZones"])) >= 3


def groups_by_handler(synth: Synthesized) -> dict[str, list[str]]:
    return {handler: [json.dumps(g) for g in function["VpcConfig"]["SecurityGroupIds"]]
            for handler, function in function_by_handler(synth).items()}  # fmt: skip


def test_the_security_group_admits_tls_from_the_reading_functions_only_and_sends_nothing(
    with_dax: Synthesized,
) -> None:
    _, cluster = the_cluster(with_dax)
    [group_ref] = cluster["SecurityGroupIds"]
    group_id = group_ref["Fn::GetAtt"][0]
    group = api(with_dax, "AWS::EC2::SecurityGroup")[group_id]["Properties"]
    ingress = [
        r["Properties"]
        for r in api(with_dax, "AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["GroupId"] == {"Fn::GetAtt": [group_id, "GroupId"]}
    ]
    readers = {API_HANDLERS[group] for group in READS_THROUGH_DAX}

    assert "SecurityGroupIngress" not in group
    assert [(r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in ingress] == [("tcp", TLS_PORT, TLS_PORT)]
    source = json.dumps(ingress[0]["SourceSecurityGroupId"])
    assert {h for h, groups in groups_by_handler(with_dax).items() if source in groups} == readers
    assert [rule["CidrIp"] for rule in group["SecurityGroupEgress"]] == ["255.255.255.255/32"]  # CDK's "nothing"


def test_the_reading_functions_may_reach_the_cluster_on_the_tls_port_and_nothing_else(with_dax: Synthesized) -> None:
    _, cluster = the_cluster(with_dax)
    [group_ref] = cluster["SecurityGroupIds"]
    readers_group_id = cluster_clients_group(with_dax)
    readers_group = api(with_dax, "AWS::EC2::SecurityGroup")[readers_group_id]["Properties"]

    egress = [
        r["Properties"]
        for r in api(with_dax, "AWS::EC2::SecurityGroupEgress").values()
        if r["Properties"]["GroupId"] == {"Fn::GetAtt": [readers_group_id, "GroupId"]}
    ]

    assert [(r["IpProtocol"], r["DestinationSecurityGroupId"], r["FromPort"], r["ToPort"]) for r in egress] == [
        ("tcp", group_ref, TLS_PORT, TLS_PORT)
    ]
    assert [rule["CidrIp"] for rule in readers_group.get("SecurityGroupEgress", [])] in ([], ["255.255.255.255/32"])
    assert "SecurityGroupIngress" not in readers_group


def cluster_clients_group(synth: Synthesized) -> str:
    """The logical id of the group the cluster admits."""
    _, cluster = the_cluster(synth)
    group_id = cluster["SecurityGroupIds"][0]["Fn::GetAtt"][0]
    [rule] = [
        r["Properties"]
        for r in api(synth, "AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["GroupId"] == {"Fn::GetAtt": [group_id, "GroupId"]}
    ]
    source: str = rule["SourceSecurityGroupId"]["Fn::GetAtt"][0]
    return source


# -- IAM: the cluster role and the readers -----------------------------------------------------


def test_the_cluster_role_is_assumed_by_dax_of_this_account_only(with_dax: Synthesized) -> None:
    _, cluster = the_cluster(with_dax)
    role = api(with_dax, "AWS::IAM::Role")[cluster["IAMRoleARN"]["Fn::GetAtt"][0]]["Properties"]
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]

    assert trust["Principal"] == {"Service": "dax.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": with_dax.config.account}
    assert "Policies" not in role


def test_the_cluster_role_reads_what_the_readers_read_describes_the_table_and_decrypts(
    with_dax: Synthesized,
) -> None:
    _, cluster = the_cluster(with_dax)
    statements = policy_statements(with_dax, cluster["IAMRoleARN"]["Fn::GetAtt"][0])
    granted = {(a, json.dumps(r)) for s in statements for a in as_list(s["Action"]) for r in as_list(s["Resource"])}
    table = next(
        json.dumps(r) for s in statements if s["Action"] == "dynamodb:DescribeTable" for r in as_list(s["Resource"])
    )

    def target(index: keys.IndexSchema | None) -> str:
        if index is None:
            return table
        return json.dumps({"Fn::Join": ["", [json.loads(table), f"/index/{index.name}"]]})

    expected_reads = {
        (read.dynamodb_action, target(read.index)) for reads in READS_THROUGH_DAX.values() for read in reads
    }
    dynamodb = {(a, r) for a, r in granted if a.startswith("dynamodb:")}
    kms = {a for a, _ in granted if a.startswith("kms:")}

    assert dynamodb == expected_reads | {("dynamodb:DescribeTable", table)}
    assert kms == {"kms:Decrypt"}
    assert {a.split(":")[0] for a, _ in granted} == {"dynamodb", "kms"}


def test_only_the_reading_functions_get_dax_actions_the_endpoint_and_the_client_layer(with_dax: Synthesized) -> None:
    cluster_id, _ = the_cluster(with_dax)
    functions = function_by_handler(with_dax)
    [client_layer] = api(with_dax, "AWS::Lambda::LayerVersion")
    readers = {API_HANDLERS[group]: reads for group, reads in READS_THROUGH_DAX.items()}

    assert set(readers) == {
        API_HANDLERS[FunctionGroup.READ],
        API_HANDLERS[FunctionGroup.DOWNLOAD],
        API_HANDLERS[FunctionGroup.ADMIN],
    }
    for handler, function in functions.items():
        statements = policy_statements(with_dax, function["Role"]["Fn::GetAtt"][0])
        dax = [s for s in statements if any(a.startswith("dax:") for a in as_list(s["Action"]))]
        variables = function["Environment"]["Variables"]
        if handler in readers:
            [statement] = dax
            assert sorted(as_list(statement["Action"])) == sorted({r.dax_action for r in readers[handler]}), handler
            assert statement["Resource"] == {"Fn::GetAtt": [cluster_id, "Arn"]}, handler
            assert variables[Env.DAX_ENDPOINT] == {"Fn::GetAtt": [cluster_id, "ClusterDiscoveryEndpointURL"]}
            assert {"Ref": client_layer} in function["Layers"], handler
        else:
            assert dax == [], handler
            assert Env.DAX_ENDPOINT not in variables, handler
            assert {"Ref": client_layer} not in function.get("Layers", []), handler


def test_the_read_path_table_is_what_the_lead_decided() -> None:
    """AP6 and AP8 and the download's reads, nothing that feeds a conditional write."""
    actions = {group: sorted({r.dax_action for r in reads}) for group, reads in READS_THROUGH_DAX.items()}

    assert actions == {
        FunctionGroup.READ: ["dax:Query"],
        FunctionGroup.DOWNLOAD: ["dax:Query"],
        FunctionGroup.ADMIN: ["dax:Query"],
    }


# -- events ----------------------------------------------------------------------------------


def test_dax_events_go_to_the_encrypted_alarm_topic_which_dax_may_publish_to(with_dax: Synthesized) -> None:
    _, cluster = the_cluster(with_dax)
    topic_id = cluster["NotificationTopicARN"]["Ref"]
    topic = api(with_dax, "AWS::SNS::Topic")[topic_id]["Properties"]
    [policy] = [p["Properties"] for p in api(with_dax, "AWS::SNS::TopicPolicy").values()
                if {"Ref": topic_id} in p["Properties"]["Topics"]]  # fmt: skip
    statements = policy["PolicyDocument"]["Statement"]
    key_id = topic["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key_statements = api(with_dax, "AWS::KMS::Key")[key_id]["Properties"]["KeyPolicy"]["Statement"]

    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
    )
    [publish] = [s for s in statements if s.get("Principal") == {"Service": "dax.amazonaws.com"}]
    assert publish["Action"] == "sns:Publish"
    assert publish["Condition"] == {"StringEquals": {"aws:SourceAccount": with_dax.config.account}}
    [key_use] = [s for s in key_statements if "dax.amazonaws.com" in json.dumps(s.get("Principal"))]
    assert sorted(key_use["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert key_use["Condition"] == {"StringEquals": {"aws:SourceAccount": with_dax.config.account}}


# -- the construct's own refusals ----------------------------------------------------------------


def bare_cache(*, zones: int, nodes: int) -> DaxCache:
    """A DaxCache in a stack of its own, in a VPC of `zones` AZs (of the three the context lists,
    as Folio's cdk.context.json does)."""
    listed = ["us-east-1a", "us-east-1b", "us-east-1c"]
    app = cdk.App(context={"availability-zones:account=123456789012:region=us-east-1": listed})
    stack = cdk.Stack(app, "Cache", env=cdk.Environment(account="123456789012", region="us-east-1"))
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=zones,
        nat_gateways=0,
        subnet_configuration=[ec2.SubnetConfiguration(name="Isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)],
    )
    return DaxCache(
        stack,
        "Dax",
        vpc=vpc,
        client_security_group=ec2.SecurityGroup(stack, "Clients", vpc=vpc),
        table_arn="arn:aws:dynamodb:us-east-1:123456789012:table/t",
        table_key=kms.Key(stack, "Key"),
        reads=[CachedRead("dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:123456789012:table/t")],
        sizing=DaxSizing(node_type="dax.t3.small", nodes=nodes, record_ttl_ms=5_000, query_ttl_ms=5_000),
        notification_topic=sns.Topic(stack, "Topic"),
    )


def test_a_multi_node_cluster_in_fewer_than_three_azs_is_refused() -> None:
    with pytest.raises(ValueError, match="needs subnets in 3 AZs, not 2"):
        bare_cache(zones=2, nodes=3)


def test_nodes_beyond_three_go_round_robin_over_the_azs() -> None:
    cache = bare_cache(zones=3, nodes=5)

    zones = cdk.Stack.of(cache).resolve(cache.cluster.availability_zones)
    assert zones == ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1a", "us-east-1b"]


def test_a_client_statement_takes_dax_actions_only() -> None:
    cache = bare_cache(zones=2, nodes=1)

    with pytest.raises(ValueError, match="dax: actions only"):
        cache.read_statement(["dynamodb:GetItem"])
    with pytest.raises(ValueError, match="dax: actions only"):
        cache.read_statement([])
    assert cache.read_statement(["dax:Query", "dax:GetItem"]).to_statement_json()["Action"] == [
        "dax:GetItem",
        "dax:Query",
    ]


def test_readers_answered_by_dynamodb_for_fifteen_minutes_alarm_the_operators(with_dax: Synthesized) -> None:
    from folio.dax import FALLBACK_METRIC, METRICS_NAMESPACE

    alarms = [
        a["Properties"]
        for a in api(with_dax, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == FALLBACK_METRIC
    ]
    [topic] = api(with_dax, "AWS::SNS::Topic")

    [alarm] = alarms
    assert alarm["Namespace"] == METRICS_NAMESPACE
    # The dimension Powertools adds to every metric: the functions' POWERTOOLS_SERVICE_NAME.
    services = {
        f["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] for f in function_by_handler(with_dax).values()
    }
    assert alarm["Dimensions"] == [{"Name": "service", "Value": services.pop()}] and not services
    assert (alarm["Statistic"], alarm["Period"], alarm["EvaluationPeriods"]) == ("Sum", 300, 3)
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    assert alarm["AlarmActions"] == alarm["OKActions"] == [{"Ref": topic}]


def test_no_fallback_alarm_without_dax(synthesized: Callable[[str], Synthesized]) -> None:
    from folio.dax import FALLBACK_METRIC

    sandbox = synthesized("sandbox")
    assert not [a for a in api(sandbox, "AWS::CloudWatch::Alarm").values()
                if a["Properties"].get("MetricName") == FALLBACK_METRIC]  # fmt: skip
