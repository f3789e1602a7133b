"""Reading synthesized CloudFormation templates: helpers the infra, security and integration
tests share (one copy each, so that a fix to how a value is read reaches every test)."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk

from tests.conftest import Synthesized


def as_list(value: Any) -> list[Any]:
    """A policy field that CloudFormation takes as one value or a list of them, as a list."""
    return value if isinstance(value, list) else [value]


def stack_ids_by_name(synth: Synthesized) -> dict[str, str]:
    return {stack.stack_name: stack.node.id for stack in synth.stage.node.children if isinstance(stack, cdk.Stack)}


def followed(synth: Synthesized, value: Any) -> tuple[str | None, Any]:
    """A cross-stack value (Fn::GetStackOutput) as (stack id, the intrinsic in that stack's template)."""
    if isinstance(value, dict) and "Fn::GetStackOutput" in value:
        output = value["Fn::GetStackOutput"]
        stack_id = stack_ids_by_name(synth)[output["StackName"]]
        return stack_id, synth.templates[stack_id]["Outputs"][output["OutputName"]]["Value"]
    return None, value
