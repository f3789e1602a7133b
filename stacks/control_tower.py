"""AWS Control Tower's proactive controls at synth: the `cdk-validator-cfnguard` plugin on every core.

The controls are the plugin's bundled Guard rules, run by its cfn-guard 3.1.1 (offline). In one
process over the whole app they were most of the synth (10.5 s of 13.8 s), spent evaluating rules
on one core while the other idled. jsii cannot help: its calls are synchronous and it must not be
called from two threads. So `ControlTowerControls` runs the plugin's own, unmodified code
(`lib/plugin.js`, which runs cfn-guard and turns its output into violations) in separate Node
processes, one per partition of the templates, all at once:

- a template is checked without the rules that name no resource type it holds (such a rule can
  only SKIP; a rule that names no type always runs), as the plugin's `disabled_rules` allows: a
  process runs the plugin once per set of rules that can apply to its templates. cfn-guard
  spends time on every rule it is given in proportion to the template's size, whether the rule
  applies or not (237 copies of a rule for a type the template lacks cost what all 237 rules
  do), so this cuts cfn-guard's CPU time for the whole app from 33.6 s to 9.9 s;
- the partitions are balanced by cost (template size times the rules that can apply);
- cfn-guard reports template by template, so the violations are put back in the order of the
  templates as aws-cdk-lib passed them: the report is the plugin's own over every rule, field for
  field and in order (tests/security/test_nag.py compares them over templates full of findings).

A template's report is a function of its bytes, the plugin package and this module alone, so
it is kept on this machine (`kept_reports`, stacks/report_cache.py): a synth checks only the
templates that changed since any synth or test here last checked them (`make synth` after a
change to one stack checks that stack's templates). The pipeline's synth step starts without
the cache, so every report in it comes from the plugin in that build. aws-cdk-lib's
CloudFormation validation (stacks/cloudformation_validation.py) is started beside these
controls, so that its process runs while theirs do.

aws-cdk-lib maps each violation's template and logical id to a construct path and applies
acknowledgements by that path, after the plugin returns: that path is the same as before.
The plugin package is unpacked once per machine into `.make/cfn-guard-plugin/` (build_cache.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import aws_cdk as cdk
import jsii
from cdklabs.cdk_validator_cfnguard import _jsii as control_tower_package

from stacks import report_cache
from stacks.build_cache import unpacked_package
from stacks.report_cache import ReportCache, Snapshots, TemplateReport, located, plugin_report

# The name the plugin reports under, and the prefix of its acknowledgement ids.
CONTROL_TOWER_PLUGIN = "cdk-validator-cfnguard"
# Folio's build machines and the pipeline's CodeBuild (small compute) have two cores.
GUARD_PROCESSES = 2
PLUGIN_CACHE = Path(__file__).resolve().parent.parent / ".make" / "cfn-guard-plugin"
REPORT_CACHE = Path(__file__).resolve().parent.parent / ".make" / "control-tower-reports"
# What the plugin needs at run time: its code, its rules and cfn-guard for this operating system.
_GUARD_PLATFORM = "macos" if sys.platform == "darwin" else "ubuntu"  # as the plugin names them
_UNPACKED = ("package/package.json", "package/lib/", "package/rules/", f"package/bin/{_GUARD_PLATFORM}/")
_RULES = Path("rules") / "control-tower" / "cfn-guard"
_QUOTED_RESOURCE_TYPE = re.compile(r"[\"'](AWS::[A-Za-z0-9]+::[A-Za-z0-9]+)[\"']")

# Runs the plugin once per job (some templates, without some rules) and prints each job's report
# (`success`, `violations`), in order, as one JSON list. The jobs are read from the file named by
# its argument.
_RUN_PLUGIN = """
const fs = require("fs");
const [pluginDirectory, jobsFile] = process.argv.slice(1);
const { CfnGuardValidator } = require(pluginDirectory + "/lib/plugin.js");
const reports = [];
for (const { disabledRules, templatePaths } of JSON.parse(fs.readFileSync(jobsFile, "utf-8"))) {
  const job = new CfnGuardValidator({ controlTowerRulesEnabled: true, disabledRules }).validate({ templatePaths });
  reports.push({ success: job.success, violations: job.violations });
}
process.stdout.write(JSON.stringify(reports));
"""


def _plugin_package() -> Path:
    (package,) = Path(control_tower_package.__file__).parent.glob("*.jsii.tgz")
    return package


@cache
def _plugin_digest() -> str:
    """The plugin package's SHA-256: its code, its rules and the cfn-guard binaries it bundles."""
    return hashlib.sha256(_plugin_package().read_bytes()).hexdigest()


@cache
def _recipe_digest() -> str:
    """The SHA-256 of this module and of stacks/report_cache.py: how Folio runs the plugin and
    keeps its reports (a fix to which rules a template is given makes every kept report stale)."""
    modules = (Path(__file__), Path(report_cache.__file__))
    return hashlib.sha256(b"".join(module.read_bytes() for module in modules)).hexdigest()


@cache
def unpacked_plugin() -> Path:
    """The plugin package's `package/` directory, unpacked once per machine and package."""
    return unpacked_package(PLUGIN_CACHE, _plugin_package(), _plugin_digest(), _UNPACKED)


@cache
def control_tower_rule_types() -> dict[str, frozenset[str]]:
    """Rule file name (as `disabled_rules` takes it: ct-s3-pr-1) -> the resource types it names.

    Read from the plugin's own package, so an upgrade brings its new rules along.
    """
    return {
        rule.stem: frozenset(_QUOTED_RESOURCE_TYPE.findall(rule.read_text()))
        for rule in sorted((unpacked_plugin() / _RULES).rglob("*.guard"))
    }


def rules_that_cannot_apply(template: str) -> tuple[str, ...]:
    """The rules that name resource types, none of which the template holds."""
    resources = json.loads(Path(template).read_text()).get("Resources", {})
    present = {resource["Type"] for resource in resources.values()}
    return tuple(rule for rule, types in control_tower_rule_types().items() if types and not types & present)


def balanced_partitions(costs: dict[str, int], count: int) -> list[list[str]]:
    """At most `count` non-empty partitions of the templates, costliest first into the lightest one."""
    loads = [0] * min(count, len(costs))
    partitions: list[list[str]] = [[] for _ in loads]
    for template in sorted(costs, key=costs.__getitem__, reverse=True):
        lightest = loads.index(min(loads))
        loads[lightest] += costs[template]
        partitions[lightest].append(template)
    return partitions


def guard_jobs(template_paths: list[str], count: int) -> list[list[dict[str, list[str]]]]:
    """`count` lists of plugin runs: the templates balanced by cost (size times the rules that can
    apply), and within a list one run per set of rules that can apply (a run's cfn-guard evaluates
    every rule it is given on every template it is given)."""
    idle = {template: rules_that_cannot_apply(template) for template in template_paths}
    every_rule = len(control_tower_rule_types())
    costs = {t: Path(t).stat().st_size * (every_rule - len(idle[t])) for t in template_paths}
    partitions = []
    for partition in balanced_partitions(costs, count):
        by_rules: dict[tuple[str, ...], list[str]] = {}
        for template in partition:
            by_rules.setdefault(idle[template], []).append(template)
        partitions.append([{"disabledRules": list(rules), "templatePaths": t} for rules, t in by_rules.items()])
    return partitions


class ControlTowerPluginFailed(RuntimeError):
    """The plugin (or the cfn-guard it runs) failed on a partition of the templates."""


class RunningControls:
    """The plugin over some templates, partitions in Node processes started at once (at most
    `processes` of them); `reports` waits for them."""

    def __init__(self, template_paths: list[str], processes: int) -> None:
        node = shutil.which("node")
        if node is None:
            raise ControlTowerPluginFailed("no `node` on PATH to run the Control Tower plugin with")
        plugin = str(unpacked_plugin())
        # A template no rule can apply to complies (each rule would SKIP); the plugin given every
        # rule disabled would run cfn-guard with no rules, which cfn-guard refuses.
        every_rule = len(control_tower_rule_types())
        self.no_rule_applies = [
            t for t in template_paths if every_rule and len(rules_that_cannot_apply(t)) == every_rule
        ]
        self.partitions = guard_jobs([t for t in template_paths if t not in self.no_rule_applies], processes)
        self._work = tempfile.TemporaryDirectory(prefix="folio-control-tower-")
        self._processes = []
        for index, jobs in enumerate(self.partitions):
            jobs_file = Path(self._work.name) / f"jobs-{index}.json"
            jobs_file.write_text(json.dumps(jobs))
            command = [node, "-e", _RUN_PLUGIN, plugin, str(jobs_file)]
            self._processes.append(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))

    def reports(self) -> dict[str, TemplateReport]:
        """The plugin's report of each template (by the path given). A template whose job failed
        without a violation in it is left out: the job's `success` does not say which of its
        templates failed (the caller counts the job's verdict, not the template's)."""
        try:
            job_reports = []
            for process in self._processes:
                stdout, stderr = process.communicate()
                if process.returncode != 0:
                    raise ControlTowerPluginFailed(f"the plugin exited {process.returncode}:\n{stderr[-3000:]}")
                job_reports.append(json.loads(stdout))
        finally:
            for process in self._processes:
                if process.returncode is None:  # left running when another failed
                    process.kill()
                    process.communicate()
            self._work.cleanup()
        reports = {template: TemplateReport(True, []) for template in self.no_rule_applies}
        for jobs, reported in zip(self.partitions, job_reports, strict=True):
            for job, report in zip(jobs, reported, strict=True):
                # The plugin names a template by its canonical path, whatever path it was given (as
                # `cdk synth` gives them relative to its default output directory, cdk.out).
                by_path = {os.path.realpath(template): template for template in job["templatePaths"]}
                found: dict[str, list[dict[str, Any]]] = {template: [] for template in job["templatePaths"]}
                for violation in report["violations"]:
                    named = {os.path.realpath(r["templatePath"]) for r in violation["violatingResources"]}
                    (template,) = {by_path[path] for path in named}
                    found[template].append(violation)
                for template, violations in found.items():
                    if report["success"] or violations:
                        reports[template] = TemplateReport(not violations, violations)
        return reports


def start_plugin_in_parallel(template_paths: list[str]) -> RunningControls:
    """The plugin over the templates, GUARD_PROCESSES partitions at once (`RunningControls.reports`
    waits for their reports)."""
    return RunningControls(template_paths, GUARD_PROCESSES)


@dataclass(frozen=True)
class CheckAhead:
    """A run of the plugin queued before the App's synth (`ControlTowerControls.check_ahead`) over
    `snapshots` of its templates, with the key of each one's bytes; `done` once its reports are kept."""

    keys: dict[str, str]
    done: Future[None]
    snapshots: Snapshots

    def call_off(self) -> bool:
        """Cancels the run if it has not started (its snapshots go too); False if it has."""
        if not self.done.cancel():
            return False
        self.snapshots.close()
        return True


def _start(templates: list[str], contents: dict[str, bytes], snapshots: Snapshots) -> RunningControls | None:
    """The plugin over snapshots of the templates' `contents` (the bytes that were keyed)."""
    return start_plugin_in_parallel([snapshots.take(t, contents[t]) for t in templates]) if templates else None


def _collect(running: RunningControls | None, snapshots: Snapshots) -> dict[str, TemplateReport]:
    """The reports of a run over snapshots, by template, naming it as the plugin names a template it
    is given: by its canonical path."""
    if running is None:
        return {}
    reports = running.reports().items()
    return {snapshots.originals[c]: located(r, os.path.realpath(snapshots.originals[c])) for c, r in reports}


def kept_reports(directory: Path) -> ReportCache:
    """The plugin's reports of templates, kept in `directory` (stacks/report_cache.py) by the
    plugin package, this module and the template's bytes."""

    def recipe() -> str:
        # This module too: a fix to which rules a template is given makes every kept report stale.
        return _plugin_digest() + "\0" + _recipe_digest()

    # As the plugin reports it: a template fails exactly when it has a violation.
    return ReportCache(directory, recipe=recipe, consistent=lambda report: report.success == (not report.violations))


def check_templates(
    template_paths: list[str], cache: ReportCache | None, ahead: Sequence[CheckAhead] = ()
) -> dict[str, Any]:
    """The plugin's report (`success`, `violations`, as JSON) over every template: read back from
    `cache` where it holds the template's report, from the runs queued `ahead` that have started
    (they write into the cache) where they check the same bytes, from the plugin (in parallel) for
    the rest. Violations come in the order of the templates as aws-cdk-lib passed them."""
    # The bytes are read once: what is keyed is what the plugin checks (a snapshot of them).
    contents = {t: Path(t).read_bytes() for t in template_paths}
    keys = {t: cache.key_of(contents[t]) for t in template_paths} if cache else {}
    known = {t: report for t in template_paths if cache and (report := cache.read(keys[t])) is not None}
    # A run still queued is called off: its templates are checked with the rest, on every core.
    ahead = [run for run in ahead if not run.call_off()]
    checked_ahead = {key for run in ahead for key in run.keys.values()} if cache else set()
    unknown = [t for t in template_paths if t not in known and keys.get(t) not in checked_ahead]
    snapshots = Snapshots()
    try:
        running = _start(unknown, contents, snapshots)
        if cache is not None:
            for run in ahead:
                # A run that failed leaves its templates out of the cache: they are checked below,
                # where its failure, if it is the plugin's, fails the check.
                with contextlib.suppress(ControlTowerPluginFailed):
                    run.done.result()
            kept = {t: cache.read(keys[t]) for t in template_paths if t not in known and t not in unknown}
            known |= {t: report for t, report in kept.items() if report is not None}
        checked = _collect(running, snapshots)
        left = [t for t in template_paths if t not in known and t not in unknown]
        checked |= _collect(_start(left, contents, snapshots), snapshots)
    finally:
        snapshots.close()
    if cache is not None:
        for template, report in checked.items():
            cache.write(keys[template], report)
        cache.prune()
    # The plugin names a template by its canonical path, whatever path it was given.
    reports = {**{t: located(r, os.path.realpath(t)) for t, r in known.items()}, **checked}
    # A template left out of `checked` was in a job that failed: the verdict is a failure.
    success = len(reports) == len(template_paths) and all(r.success for r in reports.values())
    violations = [v for t in template_paths if t in reports for v in reports[t].violations]
    return {"success": success, "violations": violations}


class StartsBeside(Protocol):
    """A check that runs in processes of its own: `start` begins it over the templates of
    `context` and returns at once; its plugin's `validate` collects the result."""

    def start(self, context: cdk.IPolicyValidationContext) -> None: ...


@jsii.implements(cdk.IPolicyValidationPlugin)
class ControlTowerControls:
    """Every Control Tower proactive control bundled with `cdk-validator-cfnguard`, none disabled,
    run by the plugin's own code in parallel processes (see the module's docstring), with the
    reports of templates already checked on this machine read back from `report_cache` (None:
    check every template). aws-cdk-lib calls the plugins one after another; `started_beside`
    are started over the same templates first, so that they run while these controls do."""

    def __init__(self, report_cache: Path | None = REPORT_CACHE, started_beside: Sequence[StartsBeside] = ()) -> None:
        self._cache = kept_reports(report_cache) if report_cache is not None else None
        self._started_beside = tuple(started_beside)
        self._ahead: list[CheckAhead] = []
        # Every template offered to `check_ahead`, queued or already kept (tests read it).
        self.offered_ahead: list[str] = []

    def check_ahead(self, template_paths: list[str], lane: Executor) -> None:
        """Queues a check of templates that are already final (stacks/nag.py, `check_ahead`) on
        `lane`, which runs one process at a time while the rest of the App is built; returns at
        once. `validate` reads the reports back, and calls off a check still queued. Only with a
        report cache, where the reports land."""
        self.offered_ahead += template_paths
        cache = self._cache
        if cache is None:
            return
        contents = {t: Path(t).read_bytes() for t in template_paths}
        keys = {t: cache.key_of(contents[t]) for t in template_paths}
        unknown = [t for t in template_paths if cache.read(keys[t]) is None]
        if not unknown:
            return
        snapshots = Snapshots()
        copies = [snapshots.take(t, contents[t]) for t in unknown]

        def keep_reports() -> None:
            try:
                for copy, report in RunningControls(copies, processes=1).reports().items():
                    cache.write(keys[snapshots.originals[copy]], report)
            finally:
                snapshots.close()

        self._ahead.append(CheckAhead({t: keys[t] for t in unknown}, lane.submit(keep_reports), snapshots))

    @property
    def name(self) -> str:
        return CONTROL_TOWER_PLUGIN

    @property
    def version(self) -> str:
        return importlib.metadata.version("cdklabs.cdk-validator-cfnguard")

    @property
    def rule_ids(self) -> list[str] | None:
        return None

    def validate(self, context: cdk.IPolicyValidationContext) -> cdk.PolicyValidationPluginReport:
        for other in self._started_beside:
            other.start(context)
        ahead, self._ahead = self._ahead, []
        report = check_templates(list(context.template_paths), self._cache, ahead)
        return plugin_report(report, self.version)
