"""The Api stack: every method guarded and validated, WAF in front, one role per function."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from folio.contracts import BODY_SCHEMAS, CORS_ALLOW_HEADERS, CORS_ALLOW_METHODS, ROUTES, FunctionGroup
from folio.handlers import LIFECYCLE_WORKER_HANDLER, UPLOAD_WORKER_HANDLER
from folio.settings import OPTIONAL_VARIABLES, REQUIRED_VARIABLES, Env
from stacks.components.folio_function import (
    API_TIMEOUT,
    POWERTOOLS_LAYER_PARAMETER,
    POWERTOOLS_VERSION,
    WORKER_TIMEOUT,
)
from tests.conftest import ENVIRONMENT_NAMES, PROJECT_ROOT, Synthesized, synthesize
from tests.support.templates import as_list


@pytest.fixture(scope="module", params=ENVIRONMENT_NAMES)
def synth(request: pytest.FixtureRequest, synthesized: Callable[[str], Synthesized]) -> Synthesized:
    return synthesized(request.param)


@pytest.fixture(scope="module")
def by_logging_role_choice(
    synthesized: Callable[[str], Synthesized], tmp_path_factory: pytest.TempPathFactory
) -> dict[bool, Synthesized]:
    """The sandbox as shipped, and the sandbox with the other answer to
    `api.manage_account_logging_role`: both choices, whatever the defaults are."""
    shipped = synthesized("sandbox")
    choice = shipped.config.api.manage_account_logging_role
    other_api = dataclasses.replace(shipped.config.api, manage_account_logging_role=not choice)
    other_config = dataclasses.replace(shipped.config, api=other_api)
    # Without the CloudFormation validation, as the session's own synths: the second synth validates
    # both answers in the environments that ship them (sandbox without the role, dev and prod with it).
    other = synthesize(other_config, tmp_path_factory.mktemp("cdk-other-choice"), validate_cloudformation=False)
    return {choice: shipped, not choice: other}


def resources(synth: Synthesized, resource_type: str) -> dict[str, dict[str, Any]]:
    return synth.template("Api").find_resources(resource_type)


def render(synth: Synthesized, value: Any) -> str:
    """A value of the Api template as text, as CloudFormation would resolve it: a reference
    becomes <LogicalId>, a cross-stack output <OutputName>, a log group's Arn the ARN
    CloudFormation returns for it (with the `:*` suffix), and joins are joined."""
    if isinstance(value, str):
        return value
    ((function, argument),) = value.items()
    if function == "Fn::Join":
        separator, parts = argument
        return str(separator).join(render(synth, part) for part in parts)
    if function == "Ref":
        return f"<{argument}>"
    if function == "Fn::GetStackOutput":
        return f"<{argument['OutputName']}>"
    if function == "Fn::GetAtt":
        logical_id, attribute = argument
        if attribute == "Arn" and synth.templates["Api"]["Resources"][logical_id]["Type"] == "AWS::Logs::LogGroup":
            return f"arn:aws:logs:{synth.config.region}:{synth.config.account}:log-group:<{logical_id}>:*"
        return f"<{logical_id}.{attribute}>"
    raise AssertionError(f"cannot render {value!r}")


def iam_pattern(pattern: str) -> re.Pattern[str]:
    """IAM's wildcards: `*` any run of characters, `?` one character."""
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern))


def role_statements(synth: Synthesized, role_id: str) -> list[dict[str, Any]]:
    """The Allow statements of every customer-managed policy on a role, resources rendered."""
    policies = resources(synth, "AWS::IAM::ManagedPolicy")
    role = resources(synth, "AWS::IAM::Role")[role_id]["Properties"]
    assert "Policies" not in role, "permissions live in customer-managed policies"
    found = []
    for arn in role.get("ManagedPolicyArns", []):
        for statement in policies[arn["Ref"]]["Properties"]["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            found.append(
                {
                    "actions": as_list(statement["Action"]),
                    "resources": [render(synth, r) for r in as_list(statement["Resource"])],
                    "condition": statement.get("Condition"),
                }
            )
    return found


def allows(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    return any(
        action in s["actions"]
        and not s["condition"]
        and any(iam_pattern(r).fullmatch(resource) for r in s["resources"])
        for s in statements
    )


def route_of(method: dict[str, Any], paths: dict[str, str]) -> tuple[str, str]:
    resource = method["Properties"]["ResourceId"]
    return method["Properties"]["HttpMethod"], paths[resource["Ref"]] if "Ref" in resource else "/"


def resource_paths(synth: Synthesized) -> dict[str, str]:
    """Logical id of every API Gateway resource -> its full path."""
    found = resources(synth, "AWS::ApiGateway::Resource")
    paths: dict[str, str] = {}

    def path_of(logical_id: str) -> str:
        if logical_id not in paths:
            properties = found[logical_id]["Properties"]
            parent = properties["ParentId"]
            prefix = path_of(parent["Ref"]) if "Ref" in parent else ""
            paths[logical_id] = f"{prefix}/{properties['PathPart']}"
        return paths[logical_id]

    for logical_id in found:
        path_of(logical_id)
    return paths


def test_every_route_of_the_contract_is_a_method_and_nothing_else_is(synth: Synthesized) -> None:
    paths = resource_paths(synth)
    methods = [
        m for m in resources(synth, "AWS::ApiGateway::Method").values() if m["Properties"]["HttpMethod"] != "OPTIONS"
    ]

    assert sorted(route_of(m, paths) for m in methods) == sorted((r.method, r.path) for r in ROUTES)


def test_every_non_options_method_has_the_cognito_authorizer_and_a_validator(synth: Synthesized) -> None:
    [authorizer_id] = resources(synth, "AWS::ApiGateway::Authorizer")
    authorizer = resources(synth, "AWS::ApiGateway::Authorizer")[authorizer_id]["Properties"]
    validators = resources(synth, "AWS::ApiGateway::RequestValidator")

    assert authorizer["Type"] == "COGNITO_USER_POOLS"
    for method in resources(synth, "AWS::ApiGateway::Method").values():
        properties = method["Properties"]
        if properties["HttpMethod"] == "OPTIONS":
            assert properties["AuthorizationType"] == "NONE"
            continue
        assert properties["AuthorizationType"] == "COGNITO_USER_POOLS"
        assert properties["AuthorizerId"] == {"Ref": authorizer_id}
        assert properties["RequestValidatorId"]["Ref"] in validators


def test_bodies_are_validated_against_the_contract_schemas(synth: Synthesized) -> None:
    paths = resource_paths(synth)
    models = {m["Properties"]["Name"]: m["Properties"] for m in resources(synth, "AWS::ApiGateway::Model").values()}
    validators = resources(synth, "AWS::ApiGateway::RequestValidator")
    methods = {route_of(m, paths): m["Properties"] for m in resources(synth, "AWS::ApiGateway::Method").values()}

    assert set(models) == set(BODY_SCHEMAS)
    for name, schema in BODY_SCHEMAS.items():
        assert models[name]["Schema"]["additionalProperties"] is False
        assert sorted(models[name]["Schema"]["properties"]) == sorted(schema["properties"])
    for route in ROUTES:
        method = methods[(route.method, route.path)]
        validator = validators[method["RequestValidatorId"]["Ref"]]["Properties"]
        assert validator["ValidateRequestParameters"] is True
        for name in route.path_parameters:
            assert method["RequestParameters"][f"method.request.path.{name}"] is True
        if route.body:
            assert validator["ValidateRequestBody"] is True
            model_ids = {m["Properties"]["Name"]: i for i, m in resources(synth, "AWS::ApiGateway::Model").items()}
            assert method["RequestModels"] == {"application/json": {"Ref": model_ids[route.body]}}


def test_stage_logs_json_traces_throttles_and_never_caches(synth: Synthesized) -> None:
    [stage] = resources(synth, "AWS::ApiGateway::Stage").values()
    properties = stage["Properties"]
    access_format = json.loads(properties["AccessLogSetting"]["Format"])
    [settings] = properties["MethodSettings"]

    assert {"requestId", "sub", "status", "latencyMs"} <= set(access_format)
    assert access_format["sub"] == "$context.authorizer.claims.sub"
    assert properties["TracingEnabled"] is True
    assert properties.get("CacheClusterEnabled", False) is False
    assert settings["LoggingLevel"] == "ERROR"
    assert settings["DataTraceEnabled"] is False
    assert settings["CachingEnabled"] is False
    assert settings["ThrottlingRateLimit"] == synth.config.api.throttle_rate_limit
    assert settings["ThrottlingBurstLimit"] == synth.config.api.throttle_burst_limit


def test_errors_are_json_with_cors_headers(synth: Synthesized) -> None:
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in resources(synth, "AWS::ApiGateway::GatewayResponse").values()
    }

    assert set(responses) == {"DEFAULT_4XX", "DEFAULT_5XX"}
    for response in responses.values():
        assert "$context.error.responseType" in response["ResponseTemplates"]["application/json"]
        assert "gatewayresponse.header.Access-Control-Allow-Origin" in response["ResponseParameters"]


def test_preflight_and_error_answers_allow_the_contracts_cors_headers(synth: Synthesized) -> None:
    allowed = "'" + ",".join(CORS_ALLOW_HEADERS) + "'"
    preflights = [
        m["Properties"]["Integration"]["IntegrationResponses"][0]["ResponseParameters"]
        for m in resources(synth, "AWS::ApiGateway::Method").values()
        if m["Properties"]["HttpMethod"] == "OPTIONS"
    ]
    errors = [
        r["Properties"]["ResponseParameters"] for r in resources(synth, "AWS::ApiGateway::GatewayResponse").values()
    ]

    assert preflights and all(p["method.response.header.Access-Control-Allow-Headers"] == allowed for p in preflights)
    assert all(
        p["method.response.header.Access-Control-Allow-Methods"] == "'" + ",".join(CORS_ALLOW_METHODS) + "'"
        for p in preflights
    )
    assert errors and all(e["gatewayresponse.header.Access-Control-Allow-Headers"] == allowed for e in errors)


def test_every_function_gets_exactly_the_environment_the_runtime_names(synth: Synthesized) -> None:
    # Lambda's and Powertools' own variables aside, a function's environment is the runtime's
    # named set (folio.settings.Env): a variable the stack sets under another name fails here.
    for function in resources(synth, "AWS::Lambda::Function").values():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        folio_variables = {name for name in variables if not name.startswith(("POWERTOOLS_", "AWS_"))}

        # The optional ones: the DAX endpoint only where DAX runs (tests/infra/test_dax_cache.py), the
        # search endpoint only for the search function where search runs (tests/infra/test_search_stack.py).
        handler = function["Properties"].get("Handler")
        assert folio_variables - set(OPTIONAL_VARIABLES) == set(REQUIRED_VARIABLES), handler
        assert Env.DAX_ENDPOINT not in folio_variables or synth.config.features.dax
        assert (Env.SEARCH_ENDPOINT in folio_variables) == (
            synth.config.features.search and handler == "folio.handlers.search.handler"
        ), handler


def test_waf_has_the_managed_rules_and_a_rate_rule_and_is_associated_and_logged(synth: Synthesized) -> None:
    [acl_id] = resources(synth, "AWS::WAFv2::WebACL")
    acl = resources(synth, "AWS::WAFv2::WebACL")[acl_id]["Properties"]
    [association] = resources(synth, "AWS::WAFv2::WebACLAssociation").values()
    [logging] = resources(synth, "AWS::WAFv2::LoggingConfiguration").values()
    [stage_id] = resources(synth, "AWS::ApiGateway::Stage")
    rules = {r["Name"]: r for r in acl["Rules"]}

    assert acl["Scope"] == "REGIONAL"
    assert {
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesAmazonIpReputationList",
    } <= set(rules)
    rate = rules["RatePerIp"]["Statement"]["RateBasedStatement"]
    assert rate == {"AggregateKeyType": "IP", "Limit": synth.config.api.waf_requests_per_ip, "EvaluationWindowSec": 300}
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    assert stage_id in json.dumps(association["Properties"]["ResourceArn"])
    assert logging["Properties"]["ResourceArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}


def functions(synth: Synthesized) -> dict[str, dict[str, Any]]:
    return resources(synth, "AWS::Lambda::Function")


def test_every_function_is_python314_arm64_traced_with_explicit_memory_timeout_and_concurrency(
    synth: Synthesized,
) -> None:
    found = functions(synth)

    assert len(found) == len(FunctionGroup) + 2  # one per group, plus the upload and lifecycle workers
    for logical_id, function in found.items():
        properties = function["Properties"]
        assert properties["Runtime"] == "python3.14", logical_id
        assert properties["Architectures"] == ["arm64"], logical_id
        assert properties["TracingConfig"] == {"Mode": "Active"}, logical_id
        assert properties["MemorySize"] == synth.config.sizing.lambda_memory_mb, logical_id
        worker = properties["Handler"] in (UPLOAD_WORKER_HANDLER, LIFECYCLE_WORKER_HANDLER)
        expected = (WORKER_TIMEOUT if worker else API_TIMEOUT).to_seconds()
        assert properties["Timeout"] == expected, logical_id
        assert properties["ReservedConcurrentExecutions"] == synth.config.sizing.function_concurrency
        assert "KmsKeyArn" in properties, logical_id
        assert "TargetArn" in properties["DeadLetterConfig"], logical_id
        assert properties["LoggingConfig"]["LogGroup"]["Ref"] in resources(synth, "AWS::Logs::LogGroup")


def test_no_two_functions_share_a_role_and_no_role_has_inline_or_aws_policies(synth: Synthesized) -> None:
    roles = [f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions(synth).values()]
    all_roles = resources(synth, "AWS::IAM::Role")

    assert len(set(roles)) == len(roles)
    assert resources(synth, "AWS::IAM::Policy") == {}, "every permission lives in a customer-managed policy"
    for role_id in roles:
        assert all("Ref" in arn for arn in all_roles[role_id]["Properties"]["ManagedPolicyArns"])


def test_every_log_group_has_retention_and_a_customer_key(synth: Synthesized) -> None:
    for logical_id, group in resources(synth, "AWS::Logs::LogGroup").items():
        assert group["Properties"]["RetentionInDays"] >= 365, logical_id
        assert "KmsKeyId" in group["Properties"], logical_id


def test_powertools_layer_is_the_version_the_tests_use(synth: Synthesized) -> None:
    pinned = re.search(r"^aws-lambda-powertools\S*==(\S+)$", (PROJECT_ROOT / "requirements-dev.txt").read_text(), re.M)
    parameters = synth.templates["Api"]["Parameters"]

    assert pinned is not None and pinned.group(1) == POWERTOOLS_VERSION
    [parameter] = [name for name, p in parameters.items() if p.get("Default") == POWERTOOLS_LAYER_PARAMETER]
    own_layers = [{"Ref": name} for name in resources(synth, "AWS::Lambda::LayerVersion")]
    for function in functions(synth).values():
        # Every function has Powertools; DAX readers also carry the DAX client layer (test_dax_cache.py).
        layers = function["Properties"]["Layers"]
        assert layers.count({"Ref": parameter}) == 1
        assert all(layer in own_layers for layer in layers if layer != {"Ref": parameter})


def test_uploads_reach_the_worker_through_eventbridge(synth: Synthesized) -> None:
    [rule] = resources(synth, "AWS::Events::Rule").values()
    data_bucket = [
        b for b in synth.template("Data").find_resources("AWS::S3::Bucket").values() if "BucketName" in b["Properties"]
    ]

    assert rule["Properties"]["EventPattern"]["detail-type"] == ["Object Created"]
    assert rule["Properties"]["EventPattern"]["detail"]["object"] == {"key": [{"prefix": "documents/"}]}
    [target] = rule["Properties"]["Targets"]
    assert "Arn" in target["DeadLetterConfig"]
    assert data_bucket[0]["Properties"]["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }


# -- the account's API Gateway CloudWatch role ------------------------------------------------


def trusted_by_api_gateway(synth: Synthesized) -> list[str]:
    return [
        role_id
        for role_id, role in resources(synth, "AWS::IAM::Role").items()
        if "apigateway.amazonaws.com" in json.dumps(role["Properties"]["AssumeRolePolicyDocument"])
    ]


def test_each_environment_sets_the_account_logging_role_only_if_its_config_says_so(synth: Synthesized) -> None:
    manages = synth.config.api.manage_account_logging_role

    assert len(resources(synth, "AWS::ApiGateway::Account")) == (1 if manages else 0)
    assert len(trusted_by_api_gateway(synth)) == (1 if manages else 0)


def test_folios_logging_role_may_write_the_stages_access_logs_and_its_execution_logs(
    by_logging_role_choice: dict[bool, Synthesized],
) -> None:
    synth = by_logging_role_choice[True]
    [stage] = resources(synth, "AWS::ApiGateway::Stage").values()
    [(account_id, account)] = resources(synth, "AWS::ApiGateway::Account").items()
    role_id = account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]
    statements = role_statements(synth, role_id)
    region, account_number = synth.config.region, synth.config.account
    # Where API Gateway writes: the access log group the stage names, and the execution log
    # group it creates for this API's stage, API-Gateway-Execution-Logs_<api id>/<stage>.
    access_group = render(synth, stage["Properties"]["AccessLogSetting"]["DestinationArn"]).removesuffix(":*")
    api_id = render(synth, stage["Properties"]["RestApiId"])
    execution_group = (
        f"arn:aws:logs:{region}:{account_number}:log-group:"
        f"API-Gateway-Execution-Logs_{api_id}/{stage['Properties']['StageName']}"
    )

    assert trusted_by_api_gateway(synth) == [role_id]
    assert account_id in stage.get("DependsOn", []), "the stage must not log before the role is set"
    for group in (access_group, execution_group):
        stream = f"{group}:log-stream:any-stream"
        assert allows(statements, "logs:CreateLogStream", stream), group
        assert allows(statements, "logs:PutLogEvents", stream), group
        assert allows(statements, "logs:DescribeLogStreams", f"{group}:*"), group
    assert allows(statements, "logs:CreateLogGroup", execution_group)
    # DescribeLogGroups has no resource type; IAM evaluates it as log-group::log-stream:.
    assert allows(
        statements, "logs:DescribeLogGroups", f"arn:aws:logs:{region}:{account_number}:log-group::log-stream:"
    )
    # ...and nothing else: not another API's logs, not another Region's, not any other group.
    for elsewhere in (
        f"arn:aws:logs:{region}:{account_number}:log-group:API-Gateway-Execution-Logs_other/v1:log-stream:x",
        f"arn:aws:logs:{region}:{account_number}:log-group:/aws/lambda/other:log-stream:x",
        f"arn:aws:logs:eu-north-1:{account_number}:log-group:{access_group.rsplit(':', 1)[1]}:log-stream:x",
    ):
        assert not allows(statements, "logs:PutLogEvents", elsewhere), elsewhere
    assert not allows(statements, "logs:CreateLogGroup", f"arn:aws:logs:{region}:{account_number}:log-group:other")


def test_without_the_takeover_folio_leaves_the_account_setting_and_its_role_alone(
    by_logging_role_choice: dict[bool, Synthesized],
) -> None:
    synth = by_logging_role_choice[False]
    [stage] = resources(synth, "AWS::ApiGateway::Stage").values()

    assert resources(synth, "AWS::ApiGateway::Account") == {}
    assert trusted_by_api_gateway(synth) == []
    # The stage still logs: through the role the account provides (docs/operations.md).
    assert "DestinationArn" in stage["Properties"]["AccessLogSetting"]
    assert stage["Properties"]["MethodSettings"][0]["LoggingLevel"] == "ERROR"


# -- the functions' network interfaces ---------------------------------------------------------

ENI_WRITES = (
    "ec2:AssignPrivateIpAddresses",
    "ec2:CreateNetworkInterface",
    "ec2:DeleteNetworkInterface",
    "ec2:UnassignPrivateIpAddresses",
)


def test_functions_manage_network_interfaces_only_in_their_own_subnets_and_security_group(
    synth: Synthesized,
) -> None:
    prefix = f"arn:aws:ec2:{synth.config.region}:{synth.config.account}"
    interfaces = f"{prefix}:network-interface/*"

    for logical_id, function in functions(synth).items():
        vpc = function["Properties"]["VpcConfig"]
        statements = role_statements(synth, function["Properties"]["Role"]["Fn::GetAtt"][0])
        subnets = {f"{prefix}:subnet/{render(synth, s)}" for s in vpc["SubnetIds"]}
        groups = {f"{prefix}:security-group/{render(synth, g)}" for g in vpc["SecurityGroupIds"]}

        def granted(action: str, statements: list[dict[str, Any]] = statements) -> set[str]:
            return {r for s in statements if action in s["actions"] for r in s["resources"]}

        # The functions' common group; DAX readers also the DaxClients group (tests/infra/test_dax_cache.py).
        assert len(subnets) >= 2 and 1 <= len(groups) <= 2, logical_id
        assert granted("ec2:CreateNetworkInterface") == subnets | groups | {interfaces}, logical_id
        for action in ENI_WRITES[:1] + ENI_WRITES[2:]:
            assert granted(action) == {interfaces}, (logical_id, action)
        # EC2 authorizes Describe* only on "*"; nothing that writes shares that statement.
        assert granted("ec2:DescribeNetworkInterfaces") == {"*"}, logical_id
        for statement in statements:
            if statement["resources"] == ["*"]:
                assert not set(statement["actions"]) & set(ENI_WRITES), (logical_id, statement)


def test_only_the_deployed_stage_may_invoke_the_functions_never_test_invoke(synth: Synthesized) -> None:
    # TestInvokeMethod skips the Cognito authorizer: no permission may admit it.
    permissions = resources(synth, "AWS::Lambda::Permission")
    source_arns = [json.dumps(p["Properties"].get("SourceArn")) for p in permissions.values()]

    assert len(permissions) >= len(ROUTES)
    assert not [arn for arn in source_arns if "test-invoke-stage" in arn]


def test_the_decisions_with_wildcards_are_made_once_for_all_functions(synth: Synthesized) -> None:
    # Every function's role carries the one baseline policy; its own policy has no "*".
    roles = [f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions(synth).values()]
    all_roles = resources(synth, "AWS::IAM::Role")
    policies = resources(synth, "AWS::IAM::ManagedPolicy")
    attached = [{arn["Ref"] for arn in all_roles[role]["Properties"]["ManagedPolicyArns"]} for role in roles]
    (baseline,) = set.intersection(*attached)
    for own in set.union(*attached) - {baseline}:
        statements = policies[own]["Properties"]["PolicyDocument"]["Statement"]
        assert "*" not in [r for s in statements for r in as_list(s["Resource"])], own
    baseline_resources = json.dumps(policies[baseline]["Properties"]["PolicyDocument"])
    assert "network-interface/*" in baseline_resources
