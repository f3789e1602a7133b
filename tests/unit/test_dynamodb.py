"""The DynamoDB plumbing (folio.dynamodb): the one update-expression builder, and that it is
the only place in the runtime that writes an update expression."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

from folio.dynamodb import get_item, update
from tests.conftest import PROJECT_ROOT

RUNTIME = PROJECT_ROOT / "lambda" / "folio"
# An update expression's clauses: "SET #a = :a", "ADD #n :n", "REMOVE #r", "DELETE #s :s".
UPDATE_CLAUSE = re.compile(r"^(SET|ADD|REMOVE|DELETE) [#\w]")


def test_the_builder_gives_every_attribute_a_placeholder() -> None:
    request = update(
        "t", {"PK": {"S": "x"}},
        assign={"name": "a.pdf", "status": "AVAILABLE"}, add={"version": 1}, remove=["expiresAt"],
        delete={"sharedWith": {"u1"}}, condition="#v = :v", names={"#v": "version"}, values={":v": 3},
    )  # fmt: skip

    assert request["UpdateExpression"] == "SET #s0 = :s0, #s1 = :s1 ADD #a0 :a0 DELETE #d0 :d0 REMOVE #r0"
    assert request["ExpressionAttributeNames"] == {
        "#s0": "name", "#s1": "status", "#a0": "version", "#d0": "sharedWith", "#r0": "expiresAt", "#v": "version",
    }  # fmt: skip
    assert request["ExpressionAttributeValues"][":v"] == {"N": "3"}
    assert request["ExpressionAttributeValues"][":d0"] == {"SS": ["u1"]}
    assert request["ConditionExpression"] == "#v = :v"


def test_a_condition_cannot_reuse_the_builders_placeholders() -> None:
    with pytest.raises(ValueError, match="placeholders"):
        update("t", {}, assign={"name": "a"}, condition="#s0 = :x", names={"#s0": "name"}, values={":x": 1})


def test_an_update_must_change_something() -> None:
    with pytest.raises(ValueError, match="change something"):
        update("t", {}, condition="attribute_exists(#pk)", names={"#pk": "PK"})


def hand_written_update_expressions(path: Path) -> list[str]:
    return [
        node.value
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and UPDATE_CLAUSE.match(node.value)
    ]


@pytest.mark.parametrize(
    "path", sorted(p for p in RUNTIME.rglob("*.py") if p.name != "dynamodb.py"), ids=lambda p: p.name
)
def test_no_runtime_module_writes_its_own_update_expression(path: Path) -> None:
    assert hand_written_update_expressions(path) == [], "build updates with folio.dynamodb.update"


def test_the_check_finds_a_hand_written_update_expression(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text('request = {"UpdateExpression": "ADD documentCount :one, byteCount :size"}\n')

    assert hand_written_update_expressions(bad) == ["ADD documentCount :one, byteCount :size"]


class _Answers:
    def __init__(self, response: dict[str, Any]) -> None:
        self.response = response

    def get_item(self, **_: Any) -> dict[str, Any]:
        return self.response


@pytest.mark.parametrize("miss", [{}, {"Item": None}], ids=["boto3", "the DAX client"])
def test_a_miss_is_none_however_the_client_spells_it(miss: dict[str, Any]) -> None:
    assert get_item(_Answers(miss), "t", {"PK": {"S": "a"}}, consistent=False) is None
