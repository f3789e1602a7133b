"""Reports of the synth's out-of-process template checks, kept per template on this machine.

Control Tower's controls (stacks/control_tower.py) and aws-cdk-lib's CloudFormation validation
(stacks/cloudformation_validation.py) each give a verdict that is a function of the template's
bytes, the checker's package and how Folio runs it (and, for the validation, the stack's account
and Region). So each keeps its report of a template under a key made of exactly those: a synth
checks only the templates that changed since any synth or test on this machine last checked them.
The pipeline's synth step starts without a cache, so every report in it comes from that build.

A report is kept without its location (which template path, which stack): the caller names the
template where it is now. Each entry is one JSON file, written to a temporary name and renamed into
place; one that cannot be read as a report counts as missing. Reading an entry marks it used (its
mtime); `prune` removes entries unused for UNUSED_ENTRY_DAYS, so the reports of templates long gone
do not pile up. Folio keeps the caches under `.make/`, which git ignores and `make clean` removes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk

UNUSED_ENTRY_DAYS = 30  # a report no synth read back for this long is removed (ReportCache.prune)


@dataclass(frozen=True)
class TemplateReport:
    """What a checker found in one template: its verdict, and its violations (each names
    resources of this template only), in the checker's order."""

    success: bool
    violations: list[dict[str, Any]]


class ReportCache:
    """One checker's reports, by what decides them: `recipe()` (the checker's package and how
    Folio runs it), the caller's `context` (e.g. account and Region) and the template's bytes.
    `consistent` says whether a kept report's verdict agrees with its violations, as the checker
    gives them; an entry that does not counts as missing."""

    def __init__(
        self, directory: Path, *, recipe: Callable[[], str], consistent: Callable[[TemplateReport], bool]
    ) -> None:
        self.directory = directory
        self._recipe = recipe
        self._consistent = consistent

    def key(self, template: str, *context: str) -> str:
        """The key of the template's bytes as they are now, with what else decides its report."""
        return self.key_of(Path(template).read_bytes(), *context)

    def key_of(self, content: bytes, *context: str) -> str:
        """The key of a template's `content`, with what else decides its report."""
        decided_by = "\0".join((self._recipe(), *context)).encode()
        return hashlib.sha256(decided_by + b"\0" + content).hexdigest()

    def read(self, key: str) -> TemplateReport | None:
        """The kept report under `key`, its resources named by no template path, or None."""
        entry_path = self.directory / f"{key}.json"
        try:
            entry = json.loads(entry_path.read_text())
            report = TemplateReport(entry["success"], entry["violations"])
            if not isinstance(report.success, bool) or not isinstance(report.violations, list):
                return None
            for violation in report.violations:
                if not isinstance(violation["ruleName"], str) or not isinstance(violation["description"], str):
                    return None
                if not all(isinstance(r, dict) for r in violation["violatingResources"]):
                    return None
            if not self._consistent(report):
                return None
        except (OSError, ValueError, KeyError, TypeError):
            return None
        with contextlib.suppress(OSError):  # marks it used (prune); a read-only entry stays readable
            os.utime(entry_path)
        return report

    def write(self, key: str, report: TemplateReport) -> None:
        """Keeps `report` (without its location) under `key`: the key of the bytes the checker was given."""
        self.directory.mkdir(parents=True, exist_ok=True)
        handle, staging = tempfile.mkstemp(prefix=".entry.", dir=self.directory)
        with os.fdopen(handle, "w") as file:
            json.dump({"success": report.success, "violations": unlocated(report.violations)}, file)
        os.replace(staging, self.directory / f"{key}.json")

    def prune(self, now: float | None = None) -> None:
        """Removes the entries (and abandoned temporary files) unused for UNUSED_ENTRY_DAYS."""
        oldest = (time.time() if now is None else now) - UNUSED_ENTRY_DAYS * 86400
        if not self.directory.is_dir():
            return
        for entry in [*self.directory.glob("*.json"), *self.directory.glob(".entry.*")]:
            with contextlib.suppress(OSError):  # another synth pruned or rewrote it meanwhile
                if entry.stat().st_mtime < oldest:
                    entry.unlink()


class Snapshots:
    """Copies of templates' bytes as they were keyed, each checked in place of its template: a
    report is then of exactly the bytes it is kept under, even if the template is rewritten while
    (or before) it is checked. A copy keeps its file name, in a directory of its own; `close`
    removes them all."""

    def __init__(self) -> None:
        self._directory = tempfile.TemporaryDirectory(prefix="folio-template-snapshots-")
        self.originals: dict[str, str] = {}  # copy -> the template it was taken of

    def take(self, template: str, content: bytes) -> str:
        """A copy of `content`, the bytes of `template` that were keyed."""
        folder = Path(self._directory.name) / str(len(self.originals))
        folder.mkdir()
        copy = folder / Path(template).name
        copy.write_bytes(content)
        self.originals[str(copy)] = template
        return str(copy)

    def close(self) -> None:
        self._directory.cleanup()


def unlocated(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The violations with no template path, and no construct path where the checker named the
    stack itself (a finding on no resource): what a report says wherever the template is."""
    return [
        {
            **v,
            "violatingResources": [
                {**r, "templatePath": None, **({"constructPath": None} if "constructPath" in r else {})}
                for r in v["violatingResources"]
            ],
        }
        for v in violations
    ]


def located(report: TemplateReport, template_path: str, stack_path: str | None = None) -> TemplateReport:
    """`report` naming `template_path`, and `stack_path` where a finding is on the stack itself."""
    violations = [
        {
            **v,
            "violatingResources": [
                {
                    **r,
                    "templatePath": template_path,
                    **({"constructPath": stack_path} if "constructPath" in r else {}),
                }
                for r in v["violatingResources"]
            ],
        }
        for v in report.violations
    ]
    return TemplateReport(report.success, violations)


def plugin_report(report: dict[str, Any], version: str) -> cdk.PolicyValidationPluginReport:
    """A checker's report (`success`, `violations` as JSON, each resource as the checker names it)
    as aws-cdk-lib takes it from a plugin."""
    return cdk.PolicyValidationPluginReport(
        success=report["success"],
        plugin_version=version,
        violations=[
            cdk.PolicyViolation(
                rule_name=violation["ruleName"],
                description=violation["description"],
                fix=violation.get("fix"),
                rule_metadata=violation.get("ruleMetadata"),
                severity=violation.get("severity"),
                violating_resources=[
                    cdk.PolicyViolatingResource(
                        locations=resource["locations"],
                        construct_path=resource.get("constructPath"),
                        resource_logical_id=resource.get("resourceLogicalId"),
                        template_path=resource["templatePath"],
                    )
                    for resource in violation["violatingResources"]
                ],
            )
            for violation in report["violations"]
        ],
    )
