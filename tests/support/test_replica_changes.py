"""The replica-change checker (tests/support/replica_changes.py) on crafted baselines and configs:
each way one update could ask a global table for more than one replica change, and the staged
plan its message gives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.replica_changes import BaselineError, load_baseline, replica_change_problems, staged_steps

DEPLOYED = {"prod": ("us-west-2", "eu-west-1")}


def test_an_unchanged_replica_set_passes() -> None:
    assert replica_change_problems(DEPLOYED, {"prod": ("us-west-2", "eu-west-1")}) == []


def test_the_order_of_the_regions_is_not_a_change() -> None:
    assert replica_change_problems(DEPLOYED, {"prod": ("eu-west-1", "us-west-2")}) == []


@pytest.mark.parametrize(
    "configured",
    [
        ("us-west-2", "eu-west-1", "eu-central-1"),  # one added
        ("us-west-2",),  # one removed
    ],
)
def test_one_replica_change_passes(configured: tuple[str, ...]) -> None:
    assert replica_change_problems(DEPLOYED, {"prod": configured}) == []


@pytest.mark.parametrize(
    ("configured", "summary"),
    [
        (("us-west-2", "eu-west-1", "eu-central-1", "ap-south-1"), "adds eu-central-1, ap-south-1"),
        ((), "removes us-west-2, eu-west-1"),
        # A swap is two replica changes (one create, one delete), which one update cannot make.
        (("us-west-2", "eu-central-1"), "adds eu-central-1, removes eu-west-1"),
    ],
    ids=["two-added", "two-removed", "one-swapped"],
)
def test_two_replica_changes_in_one_update_fail_with_a_staged_plan(configured: tuple[str, ...], summary: str) -> None:
    problems = replica_change_problems(DEPLOYED, {"prod": configured})

    assert len(problems) == 1
    message = problems[0]
    assert message.startswith(f"prod: replica_regions makes 2 replica changes in one update ({summary})")
    assert "one replica change per update" in message
    assert "stacks/data/replica_baseline.json" in message
    assert "docs/operations.md" in message
    for step in staged_steps(DEPLOYED["prod"], configured):
        assert repr(list(step.replica_regions)) in message


def test_the_staged_plan_adds_before_it_removes_and_ends_at_the_config() -> None:
    steps = staged_steps(("us-west-2", "eu-west-1"), ("us-west-2", "eu-central-1", "ap-south-1"))

    assert [(s.action, s.region) for s in steps] == [
        ("add", "eu-central-1"),
        ("add", "ap-south-1"),
        ("remove", "eu-west-1"),
    ]
    assert [s.replica_regions for s in steps] == [
        ("us-west-2", "eu-central-1", "eu-west-1"),
        ("us-west-2", "eu-central-1", "ap-south-1", "eu-west-1"),
        ("us-west-2", "eu-central-1", "ap-south-1"),
    ]


def test_the_staged_plan_removes_first_where_adding_would_pass_the_replica_limit() -> None:
    full = ("us-west-2", "eu-west-1", "eu-central-1", "ap-south-1")  # stacks/config.py's MAX_REPLICAS

    steps = staged_steps(full, ("us-west-2", "eu-west-1", "ca-central-1", "sa-east-1"))

    assert all(len(s.replica_regions) <= len(full) for s in steps)
    assert steps[0].action == "remove"
    assert steps[-1].replica_regions == ("us-west-2", "eu-west-1", "ca-central-1", "sa-east-1")


def test_each_environment_is_checked_on_its_own() -> None:
    deployed = {"dev": ("eu-central-1",), "prod": ("us-west-2",)}

    problems = replica_change_problems(deployed, {"dev": ("eu-west-2",), "prod": ("us-west-2", "eu-west-1")})

    assert [p.split(":")[0] for p in problems] == ["dev"]


def test_an_environment_missing_from_the_baseline_fails() -> None:
    problems = replica_change_problems(DEPLOYED, {"prod": DEPLOYED["prod"], "qa": ("us-west-2",)})

    assert len(problems) == 1
    assert problems[0].startswith("qa: no entry in stacks/data/replica_baseline.json")


def test_a_baseline_entry_without_an_environment_fails() -> None:
    problems = replica_change_problems({**DEPLOYED, "old": ("us-west-2",)}, {"prod": DEPLOYED["prod"]})

    assert len(problems) == 1
    assert problems[0].startswith("old: in stacks/data/replica_baseline.json but not in stacks/environments.py")


def test_the_baseline_file_is_read_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps({"about": "x", "deployed_replica_regions": {"prod": ["us-west-2"]}}))

    assert load_baseline(path) == {"prod": ("us-west-2",)}


@pytest.mark.parametrize(
    "content",
    [
        {"about": "x"},
        {"deployed_replica_regions": {"prod": "us-west-2"}},
        {"deployed_replica_regions": {"prod": ["us-west-2", "us-west-2"]}},
        {"deployed_replica_regions": {"prod": [1]}},
    ],
)
def test_a_malformed_baseline_is_refused(tmp_path: Path, content: object) -> None:
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps(content))

    with pytest.raises(BaselineError):
        load_baseline(path)
