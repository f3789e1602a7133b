"""What AWS Control Tower's proactive controls need, proven on the templates.

Here: the key-policy statement CT.KMS.PR.3 asks for, on every key.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import ENVIRONMENT_NAMES, Synthesized, all_resources


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


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


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_every_key_lets_grants_be_created_only_for_aws_resources(
    environment: str, synthesized: Callable[[str], Synthesized]
) -> None:
    keys = dict(key_policies(synthesized(environment)))
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
