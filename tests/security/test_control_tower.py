"""What AWS Control Tower's proactive controls need, proven on the templates.

The controls run at every synth (stacks/nag.py registers them). Here: the key-policy
statement CT.KMS.PR.3 asks for, on every key, and the proof behind each acknowledgement
in stacks/nag.py whose rule cannot follow a cross-stack reference or an `Fn::Join`.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator
from typing import Any

import aws_cdk as cdk
import pytest

from stacks.components.documents_api import STAGE_NAME
from tests.conftest import STAGES, Synthesized, SynthesizedPipeline, all_resources
from tests.support.templates import as_list


def key_policies(synth: Synthesized) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    for stack_id, logical_id, resource in all_resources(synth):
        if resource["Type"] == "AWS::KMS::Key":
            yield f"{stack_id}/{logical_id}", resource["Properties"]["KeyPolicy"]["Statement"]


def allows_action(statement: dict[str, Any], action: str) -> bool:
    patterns = as_list(statement.get("Action", []))
    return statement["Effect"] == "Allow" and any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in patterns)


# CT.KMS.PR.3, as its Guard rule reads it: deny CreateGrant to every principal unless the
# grant is for an AWS resource or the caller is an AWS service.
GRANTS_ONLY_FOR_AWS_SERVICES = {
    "Effect": "Deny",
    "Principal": {"AWS": "*"},
    "Action": "kms:CreateGrant",
    "Resource": "*",
    "Condition": {"BoolIfExists": {"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"}},
}


@pytest.mark.parametrize("stage", STAGES)
def test_every_key_lets_grants_be_created_only_for_aws_resources(
    stage: str, synthesized_stage: Callable[[str], Synthesized]
) -> None:
    keys = dict(key_policies(synthesized_stage(stage)))
    assert keys, "no KMS key found: the test would prove nothing"

    for key, statements in keys.items():
        for statement in statements:
            if allows_action(statement, "kms:CreateGrant"):
                assert statement.get("Condition") == {"Bool": {"kms:GrantIsForAWSResource": "true"}}, (
                    f"{key}: statement {statement.get('Sid')} allows kms:CreateGrant for any grantee"
                )
        denies = [{k: v for k, v in s.items() if k != "Sid"} for s in statements if s["Effect"] == "Deny"]
        assert GRANTS_ONLY_FOR_AWS_SERVICES in denies, f"{key}: no statement limits grants to AWS services"


def test_the_allow_check_sees_an_unconditioned_create_grant() -> None:
    """The assertion above must be able to fail: a wildcard action allows CreateGrant too."""
    assert allows_action({"Effect": "Allow", "Action": ["kms:Create*"]}, "kms:CreateGrant")
    assert allows_action({"Effect": "Allow", "Action": "kms:*"}, "kms:CreateGrant")
    assert not allows_action({"Effect": "Deny", "Action": "kms:CreateGrant"}, "kms:CreateGrant")
    assert not allows_action({"Effect": "Allow", "Action": ["kms:Decrypt"]}, "kms:CreateGrant")


# --- The proof behind each acknowledgement of a misread reference --------------------


def resolve(synth: Synthesized, stack_id: str, value: Any) -> tuple[str, dict[str, Any]]:
    """The resource a Ref, Fn::GetAtt or Fn::GetStackOutput points at: (stack id, resource)."""
    if "Fn::GetStackOutput" in value:
        reference = value["Fn::GetStackOutput"]
        stacks = {stack.stack_name: stack for stack in synth.stage.node.children if isinstance(stack, cdk.Stack)}
        target = stacks[reference["StackName"]]
        assert reference["Region"] == target.region, f"{reference} reads another Region's stack"
        output = synth.templates[target.node.id]["Outputs"][reference["OutputName"]]["Value"]
        return resolve(synth, target.node.id, output)
    logical_id = value["Ref"] if "Ref" in value else value["Fn::GetAtt"][0]
    return stack_id, synth.templates[stack_id]["Resources"][logical_id]


@pytest.mark.parametrize("stage", STAGES)
def test_every_function_is_in_the_vpcs_isolated_subnets(
    stage: str, synthesized_stage: Callable[[str], Synthesized]
) -> None:
    """Backs FUNCTIONS_IN_VPC_ACROSS_STACKS (CT.LAMBDA.PR.3): the rule cannot read Fn::GetStackOutput."""
    synth = synthesized_stage(stage)
    functions = [(s, lid, r) for s, lid, r in all_resources(synth) if r["Type"] == "AWS::Lambda::Function"]
    assert functions, "no function found: the test would prove nothing"

    for stack_id, logical_id, function in functions:
        vpc_config = function["Properties"].get("VpcConfig", {})
        subnets = [resolve(synth, stack_id, s)[1] for s in vpc_config.get("SubnetIds", [])]
        groups = [resolve(synth, stack_id, g)[1] for g in vpc_config.get("SecurityGroupIds", [])]

        assert len(subnets) >= 2, f"{logical_id} is not in the VPC's subnets of two AZs"
        for subnet in subnets:
            assert subnet["Type"] == "AWS::EC2::Subnet"
            assert subnet["Properties"].get("MapPublicIpOnLaunch") is False, f"{logical_id}: a public subnet"
        assert groups and all(g["Type"] == "AWS::EC2::SecurityGroup" for g in groups), logical_id


@pytest.mark.parametrize("stage", STAGES)
def test_every_invoke_permission_names_its_caller(stage: str, synthesized_stage: Callable[[str], Synthesized]) -> None:
    """Backs API_INVOKE_PERMISSIONS (CT.LAMBDA.PR.2): the rule cannot read an ARN built with Fn::Join.

    Every permission lets one AWS service invoke, and only from one of this stack's resources:
    a local reference, or this account's and Region's execute-api ARN of a REST API in the stack.
    """
    synth = synthesized_stage(stage)
    config = synth.config
    permissions = [(s, lid, r) for s, lid, r in all_resources(synth) if r["Type"] == "AWS::Lambda::Permission"]
    assert permissions, "no permission found: the test would prove nothing"

    for stack_id, logical_id, permission in permissions:
        properties = permission["Properties"]
        source = properties["SourceArn"]
        assert properties["Principal"].endswith(".amazonaws.com"), f"{logical_id}: not a service principal"
        assert "FunctionUrlAuthType" not in properties
        if "Fn::Join" in source:
            separator, parts = source["Fn::Join"]
            assert separator == ""
            assert parts[0] == f"arn:aws:execute-api:{synth.region}:{config.account}:", logical_id
            assert resolve(synth, stack_id, parts[1])[1]["Type"] == "AWS::ApiGateway::RestApi", logical_id
            # then the deployed stage, one method and its path: never any stage ("*"),
            # any method, or test-invoke-stage (TestInvokeMethod skips the authorizer)
            _, _, slash, stage, method_and_path = parts
            stage_resource = resolve(synth, stack_id, stage)[1]
            assert slash == "/", logical_id
            assert stage_resource["Type"] == "AWS::ApiGateway::Stage", logical_id
            assert stage_resource["Properties"]["StageName"] == STAGE_NAME, logical_id
            method = str(method_and_path).split("/")[1]
            assert method in {"GET", "POST", "PUT", "PATCH", "DELETE"}, f"{logical_id}: {method_and_path}"
        else:
            assert resolve(synth, stack_id, source)[0] == stack_id, f"{logical_id}: SourceArn is not local"


def test_every_key_of_the_pipeline_and_its_support_stacks_denies_grants_not_for_aws_resources(
    synthesized_pipeline: SynthesizedPipeline,
) -> None:
    """CDK Pipelines creates its artifact keys with its own policy; Folio adds the statement
    CT.KMS.PR.3 asks for (stacks/pipeline_stack.harden_artifact_buckets) to each."""
    keys = {
        f"{name}/{logical_id}": resource["Properties"]["KeyPolicy"]["Statement"]
        for name, template in synthesized_pipeline.templates.items()
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::KMS::Key"
    }
    assert len(keys) == 7, sorted(keys)

    for key, statements in keys.items():
        denies = [{k: v for k, v in s.items() if k != "Sid"} for s in statements if s["Effect"] == "Deny"]
        assert denies.count(GRANTS_ONLY_FOR_AWS_SERVICES) == 1, f"{key}: no statement limits grants to AWS services"
