"""The replica-change rule of a DynamoDB global table, checked before a deploy.

A global table takes one replica change per update (the CloudFormation resource and CDK's `TableV2`
both say so): a deploy whose template adds or removes two replicas fails and rolls back.
`stacks/data/replica_baseline.json` records, per environment, the replica Regions as deployed;
`replica_change_problems` compares them with the configured ones and, where one update would make
more than one change (two added, two removed, or a swap: one added and one removed), says how to
stage it, one deploy per change.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from stacks.config import MAX_REPLICAS

BASELINE = Path(__file__).resolve().parents[2] / "stacks" / "data" / "replica_baseline.json"
BASELINE_NAME = "stacks/data/replica_baseline.json"
RUNBOOK = 'docs/operations.md, "Add or remove a replica Region"'


class BaselineError(ValueError):
    """The baseline file is not what `load_baseline` can read."""


@dataclass(frozen=True)
class Step:
    """One deploy of a staged replica change: the Region it adds or removes, and `replica_regions` after it."""

    action: Literal["add", "remove"]
    region: str
    replica_regions: tuple[str, ...]


def load_baseline(path: Path) -> dict[str, tuple[str, ...]]:
    """The deployed replica Regions of each environment, as the baseline file records them."""
    content = json.loads(path.read_text())
    deployed = content.get("deployed_replica_regions") if isinstance(content, dict) else None
    if not isinstance(deployed, dict):
        raise BaselineError(f"{path}: expected an object with 'deployed_replica_regions' by environment")
    baseline = {}
    for environment, regions in deployed.items():
        if not isinstance(regions, list) or not all(isinstance(r, str) for r in regions):
            raise BaselineError(f"{path}: {environment}: expected a list of Region names, got {regions!r}")
        if len(set(regions)) != len(regions):
            raise BaselineError(f"{path}: {environment}: a Region listed twice in {regions!r}")
        baseline[environment] = tuple(regions)
    return baseline


def staged_steps(deployed: Sequence[str], configured: Sequence[str]) -> list[Step]:
    """One deploy per replica change from `deployed` to `configured`: additions first (the table
    never serves from fewer Regions on the way), a removal first where an addition would pass
    MAX_REPLICAS."""
    to_add = [r for r in configured if r not in deployed]
    to_remove = [r for r in deployed if r not in configured]
    current = set(deployed)
    steps = []
    while to_add or to_remove:
        if to_add and (len(current) < MAX_REPLICAS or not to_remove):
            action: Literal["add", "remove"] = "add"
            region = to_add.pop(0)
            current.add(region)
        else:
            action, region = "remove", to_remove.pop(0)
            current.discard(region)
        # In the config's order, with the Regions still to be removed last.
        ordered = [r for r in configured if r in current] + [
            r for r in deployed if r in current and r not in configured
        ]
        steps.append(Step(action, region, tuple(ordered)))
    return steps


def replica_change_problems(
    deployed: Mapping[str, Sequence[str]], configured: Mapping[str, Sequence[str]]
) -> list[str]:
    """One line per environment whose configured replica Regions are more than one change from
    its deployed ones, or that the baseline and the config do not both list."""
    problems = []
    for environment in sorted(set(configured) - set(deployed)):
        problems.append(
            f"{environment}: no entry in {BASELINE_NAME}; add one with the replica Regions its first deploy "
            f"creates ({RUNBOOK})"
        )
    for environment in sorted(set(deployed) - set(configured)):
        problems.append(
            f"{environment}: in {BASELINE_NAME} but not in stacks/environments.py; remove its entry once its "
            "stacks are deleted"
        )
    for environment in sorted(set(configured) & set(deployed)):
        steps = staged_steps(deployed[environment], configured[environment])
        if len(steps) > 1:
            problems.append(_staging_message(environment, steps))
    return problems


def _staging_message(environment: str, steps: list[Step]) -> str:
    added = [s.region for s in steps if s.action == "add"]
    removed = [s.region for s in steps if s.action == "remove"]
    summary = ", ".join(
        part
        for part in ("adds " + ", ".join(added) if added else "", "removes " + ", ".join(removed) if removed else "")
        if part
    )
    plan = "; ".join(
        f"{number}) {step.action} {step.region}: replica_regions = {list(step.replica_regions)!r}, deploy, "
        f"then record it as {environment}'s entry in {BASELINE_NAME}"
        for number, step in enumerate(steps, start=1)
    )
    return (
        f"{environment}: replica_regions makes {len(steps)} replica changes in one update ({summary}), but a "
        f"DynamoDB global table takes one replica change per update. Stage it, one change per deploy: {plan} "
        f"({RUNBOOK})"
    )
