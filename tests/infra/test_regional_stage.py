"""The regional serving stages (stacks/regional_serving_stage.py), for every (environment, replica
Region): a read-only API on the local replica, the home Region's users and bucket, no search, no
workers. Synthesized once per environment, with its FolioStage (tests/conftest.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3

from folio.contracts import ROUTES, FunctionGroup
from folio.settings import Env
from stacks import function_permissions
from stacks.components.folio_function import POWERTOOLS_LAYER_PARAMETER
from stacks.config import load_config
from stacks.function_permissions import READ_ONLY_GROUPS
from stacks.names import EnvironmentNames
from stacks.regional_serving_stage import RegionalServingStage, publication_commands, regional_serving_stages
from stacks.stage import FolioStage
from tests.conftest import ProcessSynth, Synthesized, serving_pairs
from tests.support.templates import as_list

# Every DynamoDB action that changes an item or a table (the service authorization reference's
# "Write" access level for items, plus the PartiQL and batch forms).
DYNAMODB_WRITE_ACTIONS = {
    "dynamodb:BatchWriteItem",
    "dynamodb:DeleteItem",
    "dynamodb:PartiQLDelete",
    "dynamodb:PartiQLInsert",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PutItem",
    "dynamodb:TransactWriteItems",
    "dynamodb:UpdateItem",
}
WRITE_METHODS = {"POST", "PATCH", "PUT", "DELETE"}


@pytest.fixture(scope="module", params=serving_pairs(), ids=lambda pair: f"{pair[0]}-{pair[1]}")
def serving(request: pytest.FixtureRequest, synthesized_serving: Callable[[str, str], Synthesized]) -> Synthesized:
    environment, region = request.param
    return synthesized_serving(environment, region)


def resources(synth: Synthesized, resource_type: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for stack_id, template in synth.templates.items():
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] == resource_type:
                yield stack_id, logical_id, resource


def allowed_actions(document: dict[str, Any]) -> set[str]:
    return {
        action
        for statement in as_list(document.get("Statement", []))
        if statement.get("Effect") == "Allow"
        for action in as_list(statement.get("Action", []))
    }


def policy_documents(synth: Synthesized) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every policy document of every resource: identity, key and endpoint policies."""
    for stack_id, template in synth.templates.items():
        for logical_id, resource in template["Resources"].items():
            properties = resource.get("Properties", {})
            for name in ("PolicyDocument", "KeyPolicy"):
                if isinstance(properties.get(name), dict):
                    yield f"{stack_id}/{logical_id}", properties[name]
            for policy in properties.get("Policies", []) or []:
                yield f"{stack_id}/{logical_id}", policy["PolicyDocument"]


def grants_a_write(action: str) -> bool:
    """`action` allows a DynamoDB write, also through a wildcard."""
    pattern = re.compile(re.escape(action).replace(r"\*", ".*"))
    return any(pattern.fullmatch(write) for write in DYNAMODB_WRITE_ACTIONS)


def functions_by_handler(synth: Synthesized) -> dict[str, dict[str, Any]]:
    return {r["Properties"]["Handler"]: r["Properties"] for _, _, r in resources(synth, "AWS::Lambda::Function")}


# CloudFormation fetches a parameter of this type from SSM at every change set and stack update
# ("Systems Manager parameter types" in its user guide), unlike a `{{resolve:ssm:...}}` reference.
SSM_STRING_PARAMETER = "AWS::SSM::Parameter::Value<String>"
# The CDK CLI skips an unchanged stack unless it has an SSM-typed parameter without this marker.
CDK_SKIP = "[cdk:skip]"


def home_parameter(template: dict[str, Any], parameter_name: str) -> dict[str, str]:
    """A `Ref` to the template's CloudFormation parameter that reads SSM parameter `parameter_name`."""
    (logical_id,) = [
        logical_id
        for logical_id, parameter in template.get("Parameters", {}).items()
        if parameter.get("Default") == parameter_name
    ]
    return {"Ref": logical_id}


def pinned(prefix: str, template: dict[str, Any], parameter_name: str, suffix: str = "") -> dict[str, Any]:
    """`prefix`, the value of the template's parameter for `parameter_name`, `suffix`: the only part
    a parameter's value can change is the part after the fixed prefix."""
    return {"Fn::Join": ["", [prefix, home_parameter(template, parameter_name), *([suffix] if suffix else [])]]}


def read_parameters(template: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """The SSM parameters the template reads (not the CDK's bootstrap version), by name."""
    return {
        parameter["Default"]: (logical_id, parameter)
        for logical_id, parameter in template.get("Parameters", {}).items()
        if not str(parameter.get("Default", "")).startswith("/cdk-bootstrap/")
    }


# --- the stage and its stacks ------------------------------------------------------------


def test_every_replica_region_gets_one_serving_stage_with_a_network_and_an_api_stack_there(
    serving: Synthesized,
) -> None:
    stage = serving.stage
    names = EnvironmentNames.of(serving.config)

    assert isinstance(stage, RegionalServingStage)
    assert stage.node.id == names.serving_stage_id(stage.serving_region)
    assert set(serving.templates) == {"Network", "Api"}
    stacks = [child for child in stage.node.children if isinstance(child, cdk.Stack)]
    assert {(s.region, s.account) for s in stacks} == {(stage.serving_region, serving.config.account)}


def test_the_stages_follow_the_replica_regions_of_the_config() -> None:
    app = cdk.App()
    config = load_config("prod")

    stages = regional_serving_stages(app, config, EnvironmentNames.of(config))

    assert [s.serving_region for s in stages] == list(config.replica_regions)
    assert all(s.node.scope is app for s in stages), "siblings of the FolioStage, so the pipeline can add them"


def test_a_region_without_a_replica_gets_no_serving_stage() -> None:
    config = load_config("prod")

    with pytest.raises(ValueError, match="holds no replica"):
        RegionalServingStage(
            cdk.App(), "X", config=config, names=EnvironmentNames.of(config), region=config.backup.copy_region
        )


# --- read-only: the decision of docs/architecture.md, "Regional serving stages" ----------------


def test_no_policy_of_a_serving_stage_allows_a_dynamodb_write(serving: Synthesized) -> None:
    documents = list(policy_documents(serving))
    assert any("dynamodb:GetItem" in allowed_actions(d) for _, d in documents), "no DynamoDB grant: nothing tested"

    writes = [(where, a) for where, d in documents for a in allowed_actions(d) if grants_a_write(a)]

    assert writes == []


def test_the_write_guard_sees_writes_and_wildcards() -> None:
    assert grants_a_write("dynamodb:PutItem")
    assert grants_a_write("dynamodb:*")
    assert grants_a_write("dynamodb:Batch*")
    assert grants_a_write("*")
    assert not grants_a_write("dynamodb:GetItem")
    assert not grants_a_write("dynamodb:Query")


def test_the_api_has_only_the_read_only_groups_routes_and_no_write_method(serving: Synthesized) -> None:
    methods = [r["Properties"]["HttpMethod"] for _, _, r in resources(serving, "AWS::ApiGateway::Method")]
    expected = sorted(r.method for r in ROUTES if r.group in READ_ONLY_GROUPS)

    assert WRITE_METHODS & set(methods) == set()
    assert sorted(m for m in methods if m != "OPTIONS") == expected
    assert expected, "no read route: nothing tested"
    # ... and its CORS preflights do not offer a browser a write method either
    preflights = [
        r["Properties"]["Integration"]["IntegrationResponses"][0]["ResponseParameters"]
        for _, _, r in resources(serving, "AWS::ApiGateway::Method")
        if r["Properties"]["HttpMethod"] == "OPTIONS"
    ]
    assert preflights
    assert {p["method.response.header.Access-Control-Allow-Methods"] for p in preflights} == {"'GET'"}


def test_there_is_no_search_route_and_no_search_function(serving: Synthesized) -> None:
    everything = json.dumps(serving.templates)
    handlers = functions_by_handler(serving)

    assert not any(
        r["Properties"].get("PathPart") == "search" for _, _, r in resources(serving, "AWS::ApiGateway::Resource")
    )
    assert Env.SEARCH_ENDPOINT not in everything
    assert "es:ESHttp" not in everything
    assert len(handlers) == len(READ_ONLY_GROUPS)


def test_there_are_no_workers_stream_readers_or_bucket_events(serving: Synthesized) -> None:
    assert list(resources(serving, "AWS::Lambda::EventSourceMapping")) == []
    assert list(resources(serving, "AWS::Events::Rule")) == []
    assert list(resources(serving, "AWS::DynamoDB::GlobalTable")) == []
    assert list(resources(serving, "AWS::DynamoDB::Table")) == []


# --- the local replica, the home Region's users and bucket -----------------------------------


def test_every_table_grant_names_the_local_replica(serving: Synthesized) -> None:
    names = EnvironmentNames.of(serving.config)
    region = serving.stage.serving_region
    table = f"arn:aws:dynamodb:{region}:{serving.config.account}:table/"
    granted = [
        (where, arn)
        for where, document in policy_documents(serving)
        for statement in as_list(document.get("Statement", []))
        if any(str(a).startswith("dynamodb:") for a in as_list(statement.get("Action", [])))
        for arn in as_list(statement.get("Resource", []))
    ]

    assert granted, "no DynamoDB grant: nothing tested"
    assert {where.split("/")[0] for where, _ in granted} == {"Network", "Api"}
    for where, arn in granted:
        template = serving.templates[where.split("/")[0]]
        replica = pinned(table, template, names.home_table_name_parameter)
        index = arn["Fn::Join"][1][2:] if isinstance(arn, dict) and "Fn::Join" in arn else []
        # The replica, or an index of it: `/index/*` or `/index/<name>`.
        assert arn == replica or (
            index
            and str(index[0]).startswith("/index/")
            and arn == pinned(table, template, names.home_table_name_parameter, index[0])
        ), f"{where}: {arn}"


def test_the_functions_read_the_replica_and_sign_for_the_home_bucket(serving: Synthesized) -> None:
    names = EnvironmentNames.of(serving.config)

    for handler, function in functions_by_handler(serving).items():
        variables = function["Environment"]["Variables"]
        assert variables[Env.TABLE_NAME] == home_parameter(serving.templates["Api"], names.home_table_name_parameter)
        assert variables[Env.BUCKET_NAME] == names.documents_bucket, handler
        assert variables[Env.BUCKET_REGION] == serving.config.region, handler
        assert Env.IDEMPOTENCY_TABLE_NAME not in variables, handler


def test_the_download_function_may_read_the_home_buckets_documents_with_its_key(serving: Synthesized) -> None:
    names = EnvironmentNames.of(serving.config)

    def resources_of(sid: str) -> list[Any]:
        return [
            statement["Resource"]
            for _, document in policy_documents(serving)
            for statement in as_list(document.get("Statement", []))
            if statement.get("Sid") == sid
        ]

    assert resources_of("PresignDownloads") == [f"arn:aws:s3:::{names.documents_bucket}/documents/*"]
    # The key's ARN is built here from the published key id: the account and the home Region are fixed.
    home_key = f"arn:aws:kms:{serving.config.region}:{serving.config.account}:key/"
    assert resources_of("DecryptDownloads") == [
        pinned(home_key, serving.templates["Api"], names.home_bucket_key_id_parameter)
    ]


def test_the_table_key_is_the_replica_regions_key_by_its_arn(serving: Synthesized) -> None:
    names = EnvironmentNames.of(serving.config)
    table_key = [
        statement["Resource"]
        for _, document in policy_documents(serving)
        for statement in as_list(document.get("Statement", []))
        if statement.get("Sid") in ("UseTableKey", "DecryptTable")
    ]

    assert table_key
    # An ARN (the Region's support stack writes it from the key itself, and no delivery role may
    # put it), read through the Api stack's own parameter.
    expected = home_parameter(serving.templates["Api"], names.table_key_arn_parameter)
    assert set(map(json.dumps, table_key)) == {json.dumps(expected)}


def test_the_authorizer_can_only_name_a_pool_of_the_home_account_and_region(serving: Synthesized) -> None:
    # Whoever may put the parameter (prod's delivery role) chooses a pool id, never its account
    # or Region: the ARN's fixed part is built at synth.
    names = EnvironmentNames.of(serving.config)
    authorizers = [r["Properties"] for _, _, r in resources(serving, "AWS::ApiGateway::Authorizer")]
    home_pools = f"arn:aws:cognito-idp:{serving.config.region}:{serving.config.account}:userpool/"

    assert [(a["Type"], a["ProviderARNs"]) for a in authorizers] == [
        ("COGNITO_USER_POOLS", [pinned(home_pools, serving.templates["Api"], names.home_user_pool_id_parameter)])
    ]


def test_dax_where_features_dax_and_only_there(serving: Synthesized) -> None:
    clusters = list(resources(serving, "AWS::DAX::Cluster"))

    assert len(clusters) == (1 if serving.config.features.dax else 0)


def test_the_dynamodb_endpoint_admits_only_reads_of_the_replica(serving: Synthesized) -> None:
    endpoints = [r["Properties"] for _, _, r in resources(serving, "AWS::EC2::VPCEndpoint")]
    gateways = [e for e in endpoints if e.get("VpcEndpointType", "Gateway") == "Gateway"]
    services = [json.dumps(e["ServiceName"]) for e in gateways]

    assert len(gateways) == 1 and "dynamodb" in services[0], "one gateway endpoint: DynamoDB (the bucket is not here)"
    assert allowed_actions(gateways[0]["PolicyDocument"]) == {
        "dynamodb:DescribeTable",
        "dynamodb:GetItem",
        "dynamodb:Query",
    }


# --- what the home stage provides ----------------------------------------------------------


def test_each_replica_regions_support_stack_publishes_its_table_key_arn(
    serving: Synthesized, synthesized: Callable[[str], Synthesized]
) -> None:
    home = synthesized(serving.config.name)
    names = EnvironmentNames.of(serving.config)
    support = home.templates[f"Region-{serving.stage.serving_region}"]["Resources"]

    (parameter,) = [r["Properties"] for r in support.values() if r["Type"] == "AWS::SSM::Parameter"]
    assert parameter["Name"] == names.table_key_arn_parameter
    # The key behind the table key's alias (the copy Region's stack holds another key).
    (target,) = [
        r["Properties"]["TargetKeyId"]
        for r in support.values()
        if r["Type"] == "AWS::KMS::Alias" and r["Properties"]["AliasName"] == names.table_key_alias
    ]
    key_id = target["Fn::GetAtt"][0] if "Fn::GetAtt" in target else target["Ref"]
    assert parameter["Value"] == {"Fn::GetAtt": [key_id, "Arn"]}


def test_the_publication_writes_each_home_value_the_stage_reads(
    serving: Synthesized, synthesized: Callable[[str], Synthesized]
) -> None:
    home = synthesized(serving.config.name)
    stage = home.stage
    assert isinstance(stage, FolioStage)
    names = EnvironmentNames.of(serving.config)
    region = serving.stage.serving_region
    read = {name for t in serving.templates.values() for name in read_parameters(t) if name.startswith("/folio/")}

    commands = publication_commands(names, region)

    written = {re.search(r"--name (\S+)", c).group(1): c for c in commands}  # type: ignore[union-attr]
    # Every parameter the stage reads is written by the publication or by the support stack.
    assert read == set(written) | {names.table_key_arn_parameter}
    for command in commands:
        assert f"--region {region} " in command
        (variable,) = re.findall(r'"\$(\w+)"', command)
        assert variable in stage.serving_outputs
    outputs = home.templates["Data"]["Outputs"]
    values = {variable: outputs[stage.serving_outputs[variable].node.id]["Value"] for variable in stage.serving_outputs}
    assert len(values) == len(written)
    # Names and ids only (a Ref of the table, the pool, the key), never an ARN: the stage builds
    # the ARNs in its own account and the home Region.
    kinds = {
        variable: home.templates["Data"]["Resources"][value["Ref"]]["Type"] if "Ref" in value else value
        for variable, value in values.items()
    }
    assert sorted(kinds.values()) == sorted(["AWS::DynamoDB::GlobalTable", "AWS::Cognito::UserPool", "AWS::KMS::Key"])


def test_every_home_value_is_read_through_an_ssm_parameter_of_the_stack_that_uses_it(serving: Synthesized) -> None:
    # A `{{resolve:ssm:...}}` reference is not fetched again when the template is unchanged (the
    # change set is empty), so a replaced home pool would stay in the authorizer; an SSM-typed
    # parameter is fetched at every change set, and the CDK CLI never skips its stack.
    names = EnvironmentNames.of(serving.config)
    expected = {
        "Network": {names.home_table_name_parameter},
        "Api": {
            names.home_table_name_parameter,
            names.table_key_arn_parameter,
            names.home_user_pool_id_parameter,
            names.home_bucket_key_id_parameter,
            POWERTOOLS_LAYER_PARAMETER,
        },
    }

    for stack_id, template in serving.templates.items():
        text = json.dumps(template)
        assert "{{resolve:" not in text, stack_id
        read = read_parameters(template)
        assert set(read) == expected[stack_id], stack_id
        for name, (logical_id, parameter) in read.items():
            assert parameter["Type"] == SSM_STRING_PARAMETER, (stack_id, name)
            assert CDK_SKIP not in parameter.get("Description", ""), (stack_id, name)
            assert json.dumps({"Ref": logical_id}) in json.dumps(template["Resources"]), (stack_id, name, "unused")
            # ... and no resource names the parameter itself instead of its value.
            assert json.dumps(name) not in json.dumps([template["Resources"], template.get("Outputs", {})])


# CloudFormation accepts at most this many parameters in one template (user guide, "Understand
# CloudFormation quotas": Parameters).
MAX_PARAMETERS = 200


def test_each_template_stays_within_cloudformations_parameter_limit(serving: Synthesized) -> None:
    counts = {stack_id: len(t.get("Parameters", {})) for stack_id, t in serving.templates.items()}

    assert counts["Api"] > 1, "no parameter but the bootstrap version: nothing tested"
    assert max(counts.values()) <= MAX_PARAMETERS, counts


def test_app_py_synthesizes_the_serving_stages_for_direct_deploys(app_py_synth: ProcessSynth) -> None:
    """app.py run for sandbox as the CLI runs it, in a process of its own (started on the
    background lane when the session starts: tests/conftest.py)."""
    result = app_py_synth.job.result()

    assert result.returncode == 0, result.stderr[-2000:]
    names = EnvironmentNames.of(load_config("sandbox"))
    manifest = json.loads((app_py_synth.outdir / "manifest.json").read_text())
    # The pipeline's own stages (assembly-FolioPipeline-*) are tests/infra/test_pipeline_stack.py's.
    assemblies = {
        k
        for k, a in manifest["artifacts"].items()
        if a["type"] == "cdk:cloud-assembly" and not k.startswith("assembly-FolioPipeline-")
    }
    assert assemblies == {
        f"assembly-{names.stage_id}",
        *(f"assembly-{names.serving_stage_id(r)}" for r in load_config("sandbox").replica_regions),
    }


# --- the permission table's read-only subset ---------------------------------------------------


def test_the_read_only_groups_are_the_groups_whose_statements_only_read() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "S", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    resources = function_permissions.ApiResources(
        table_arn="arn:aws:dynamodb:eu-west-1:111111111111:table/t",
        table_key_arn="arn:aws:kms:eu-west-1:111111111111:key/k",
        idempotency_table_arn=None,
        bucket=s3.Bucket.from_bucket_name(stack, "B", "folio-test-documents"),
        document_prefix="documents/",
        bucket_key_arn="arn:aws:kms:us-east-1:111111111111:key/b",
        cursor_secret_arn="arn:aws:secretsmanager:eu-west-1:111111111111:secret:c",
        api_key_arn="arn:aws:kms:eu-west-1:111111111111:key/a",
    )

    statements = function_permissions.api_functions(resources, READ_ONLY_GROUPS)

    assert list(statements) == list(READ_ONLY_GROUPS)
    actions = {a for group in statements.values() for s in group for a in s.to_statement_json()["Action"]}
    assert not any(grants_a_write(a) for a in actions), actions
    # The groups left out are the ones that write (or search, which lives at home).
    writers = set(FunctionGroup) - set(READ_ONLY_GROUPS)
    assert writers == {FunctionGroup.CREATE, FunctionGroup.MODIFY, FunctionGroup.SEARCH}
    with pytest.raises(ValueError, match="idempotency table"):
        function_permissions.api_functions(resources, [FunctionGroup.CREATE])
