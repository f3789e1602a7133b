"""aws-cdk-lib's CloudFormation validation, run in a process of its own and kept per template.

aws-cdk-lib 2.275 validates every template at synth with its `CloudFormationValidatePlugin` (the
`@aws/cloudformation-validate` engine, a WebAssembly build, with aws-cdk-lib's own rules and
exclusions). Inside the jsii process that was 2.9 s of every `make synth`, on the one core jsii
runs on, even when no template had changed: loading the engine alone is 1.3 s. Folio turns the
built-in plugin off (`builtin_cloud_formation_validation=False`, stacks/nag.py `checked_app`) and
registers `CloudFormationValidation` in its place, which:

- runs aws-cdk-lib's own, unmodified plugin (`core/lib/validation/cloudformation-validate-plugin.js`,
  unpacked once per machine from the aws-cdk-lib package Folio pins) in a separate Node process,
  one template at a time, with each stack's account and Region as aws-cdk-lib passes them;
- is started by Control Tower's plugin (stacks/control_tower.py, `started_beside`) before its own
  processes, so the validation runs while the controls do instead of before them;
- keeps each template's report (stacks/report_cache.py) under the aws-cdk-lib package, this
  module, the stack's account and Region, and the template's bytes: a template that did not change
  is not validated again on this machine;
- merges the per-template reports as the plugin merges its findings over several templates (one
  violation per rule, severity and description, with every resource it names), so the report is
  the plugin's own, field for field and in order (tests/security/test_nag.py compares them).

It reports under the built-in plugin's name, so its findings read, and are acknowledged, as before.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import _jsii as library_package

from stacks import report_cache
from stacks.build_cache import unpacked_package
from stacks.report_cache import ReportCache, Snapshots, TemplateReport, located, plugin_report

# aws-cdk-lib's name for its plugin: the report's plugin name and the acknowledgement namespace.
CLOUDFORMATION_VALIDATION = "CloudFormation Validate"
LIBRARY_CACHE = Path(__file__).resolve().parent.parent / ".make" / "cloudformation-validate"
REPORT_CACHE = Path(__file__).resolve().parent.parent / ".make" / "cloudformation-validate-reports"
# What the plugin loads from the aws-cdk-lib package: its module and those it requires (its rules
# sit beside it in core/lib/validation/rules), and the engine.
_UNPACKED = (
    "package/package.json",
    "package/.warnings.jsii.js",
    "package/core/lib/",
    "package/node_modules/@aws/cloudformation-validate/",
)
_PLUGIN_MODULE = "core/lib/validation/cloudformation-validate-plugin.js"
_ENGINE_PACKAGE = Path("node_modules") / "@aws" / "cloudformation-validate" / "package.json"
# An error or fatal finding fails the validation; a warning does not (the plugin's own verdict).
_FAILING_SEVERITIES = ("error", "fatal")

# Loads the engine once, validates each stack template of the jobs file (named by its argument)
# alone and prints each report (`success`, `violations`), in order, as one JSON list.
_RUN_PLUGIN = """
const fs = require("fs");
const [library, jobsFile] = process.argv.slice(1);
const { CloudFormationValidatePlugin } = require(library + "/core/lib/validation/cloudformation-validate-plugin.js");
const plugin = new CloudFormationValidatePlugin();
const reports = [];
for (const stackTemplate of JSON.parse(fs.readFileSync(jobsFile, "utf-8"))) {
  const report = plugin.validate({ stackTemplates: [stackTemplate], templatePaths: [stackTemplate.templatePath] });
  reports.push({ success: report.success, violations: report.violations });
}
process.stdout.write(JSON.stringify(reports));
"""


# V8 compiles the engine's WebAssembly with its baseline compiler only: for a process that lives a
# few seconds, optimizing it too cost more CPU than it saved (7 Api templates: 1.9 s of CPU instead
# of 3.4 s; all 29: 2.7 s instead of 3.4 s, the same wall time). The code it runs is the same. V8
# calls the flag one for testing: a run that fails with it is run again without (`reports`).
_NODE_FLAGS = ("--liftoff-only",)


class CloudFormationValidationFailed(RuntimeError):
    """aws-cdk-lib's CloudFormation validation could not run over the templates."""


def _library_package() -> Path:
    (package,) = Path(library_package.__file__).parent.glob("aws-cdk-lib@*.jsii.tgz")
    return package


@cache
def _library_digest() -> str:
    """The aws-cdk-lib package's SHA-256: the plugin, its rules and the engine."""
    return hashlib.sha256(_library_package().read_bytes()).hexdigest()


@cache
def _recipe_digest() -> str:
    """The SHA-256 of this module and of stacks/report_cache.py: how Folio runs the plugin and keeps
    its reports."""
    modules = (Path(__file__), Path(report_cache.__file__))
    return hashlib.sha256(b"".join(module.read_bytes() for module in modules)).hexdigest()


@cache
def unpacked_library() -> Path:
    """The part of the aws-cdk-lib package the plugin needs, unpacked once per machine and package."""
    return unpacked_package(LIBRARY_CACHE, _library_package(), _library_digest(), _UNPACKED)


def engine_version() -> str:
    """The engine's version, as the plugin reports it; "unknown" if the package cannot be unpacked
    (aws-cdk-lib reads a plugin's version outside its own error handling: the validation itself
    reports why it could not run)."""
    try:
        version: str = json.loads((unpacked_library() / _ENGINE_PACKAGE).read_text())["version"]
    except (OSError, ValueError, KeyError, tarfile.TarError):
        return "unknown"
    return version


def kept_reports(directory: Path) -> ReportCache:
    """The plugin's reports of templates, kept in `directory` (stacks/report_cache.py)."""

    def recipe() -> str:
        return _library_digest() + "\0" + _recipe_digest()

    def consistent(report: TemplateReport) -> bool:
        return report.success == all(v.get("severity") not in _FAILING_SEVERITIES for v in report.violations)

    return ReportCache(directory, recipe=recipe, consistent=consistent)


@dataclass(frozen=True)
class StackTemplate:
    """One stack's template as aws-cdk-lib hands it to a plugin (`PolicyValidationStack`)."""

    stack_path: str
    template_path: str
    account: str | None
    region: str | None

    def as_plugin_input(self) -> dict[str, str]:
        """As the plugin reads it: an unknown account or Region is left out, as aws-cdk-lib leaves it."""
        job = {"stackConstructPath": self.stack_path, "templatePath": self.template_path}
        if self.account:
            job["accountId"] = self.account
        if self.region:
            job["region"] = self.region
        return job

    def context(self) -> tuple[str, str]:
        """What decides the report besides the template's bytes."""
        return (self.account or "", self.region or "")


def stack_templates(context: cdk.IPolicyValidationContext) -> tuple[StackTemplate, ...]:
    return tuple(
        StackTemplate(s.stack_construct_path, s.template_path, s.account_id, s.region) for s in context.stack_templates
    )


class RunningValidation:
    """The plugin over some stack templates, in a Node process started at once; `reports` waits."""

    def __init__(self, templates: tuple[StackTemplate, ...]) -> None:
        self.templates = templates
        node = shutil.which("node")
        if node is None:
            raise CloudFormationValidationFailed("no `node` on PATH to run aws-cdk-lib's CloudFormation validation")
        self._work = tempfile.TemporaryDirectory(prefix="folio-cloudformation-validate-")
        jobs_file = Path(self._work.name) / "jobs.json"
        jobs_file.write_text(json.dumps([t.as_plugin_input() for t in templates]))
        self._command = [node, "-e", _RUN_PLUGIN, str(unpacked_library()), str(jobs_file)]
        self._process = subprocess.Popen(
            [node, *_NODE_FLAGS, *self._command[1:]], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def reports(self) -> list[TemplateReport]:
        """Each template's report, in order."""
        try:
            stdout, stderr = self._process.communicate()
            returncode = self._process.returncode
            if returncode != 0:
                # Once more as Node runs by default: the flags only save CPU time, and a Node that
                # lacks one, or a V8 that cannot compile a function without optimizing, must not
                # fail the validation. A failure of the plugin itself fails again here.
                again = subprocess.run(self._command, capture_output=True, text=True, check=False)
                stdout, stderr, returncode = again.stdout, again.stderr, again.returncode
        finally:
            self._work.cleanup()
        if returncode != 0:
            raise CloudFormationValidationFailed(f"the validation exited {returncode}:\n{stderr[-3000:]}")
        reports = [TemplateReport(r["success"], r["violations"]) for r in json.loads(stdout)]
        if len(reports) != len(self.templates):
            raise CloudFormationValidationFailed(f"{len(reports)} reports for {len(self.templates)} templates")
        return reports


def merged(reports: list[TemplateReport]) -> dict[str, Any]:
    """One report over several templates, as the plugin makes it when it is given them together: a
    finding of the same rule, severity and description as an earlier one adds its resources to it."""
    violations: list[dict[str, Any]] = []
    for report in reports:
        for violation in report.violations:
            same = (violation["ruleName"], violation.get("severity"), violation["description"])
            existing = next(
                (v for v in violations if (v["ruleName"], v.get("severity"), v["description"]) == same), None
            )
            if existing is None:
                violations.append({**violation, "violatingResources": list(violation["violatingResources"])})
            else:
                existing["violatingResources"] += violation["violatingResources"]
    return {"success": all(v.get("severity") not in _FAILING_SEVERITIES for v in violations), "violations": violations}


@jsii.implements(cdk.IPolicyValidationPlugin)
class CloudFormationValidation:
    """aws-cdk-lib's CloudFormation validation of every template (see the module's docstring), with
    the reports of templates already validated on this machine read back from `report_cache`
    (None: validate every template)."""

    def __init__(self, report_cache: Path | None = REPORT_CACHE) -> None:
        self._cache = kept_reports(report_cache) if report_cache is not None else None
        self._started: _Started | Exception | None = None

    @property
    def name(self) -> str:
        return CLOUDFORMATION_VALIDATION

    @property
    def version(self) -> str:
        return engine_version()

    @property
    def rule_ids(self) -> list[str] | None:
        return None

    def start(self, context: cdk.IPolicyValidationContext) -> None:
        """Starts validating the templates of `context` that no kept report covers; returns at once.
        A failure to start is kept for `validate` to raise: it is this plugin's failure, not the
        caller's."""
        try:
            self._started = self._begin(stack_templates(context))
        except Exception as failure:  # raised again by validate, in this plugin's report
            self._started = failure

    def _begin(self, templates: tuple[StackTemplate, ...]) -> _Started:
        cache = self._cache
        # The bytes are read once: what is keyed is what the plugin checks (a snapshot of them).
        contents = {t: Path(t.template_path).read_bytes() for t in templates}
        keys = {t: cache.key_of(contents[t], *t.context()) for t in templates} if cache else {}
        known = {t: report for t in templates if cache and (report := cache.read(keys[t])) is not None}
        unknown = tuple(t for t in templates if t not in known)
        snapshots = Snapshots()
        copies = tuple(replace(t, template_path=snapshots.take(t.template_path, contents[t])) for t in unknown)
        running = (unknown, RunningValidation(copies)) if unknown else None
        return _Started(templates, keys, known, running, snapshots)

    def validate(self, context: cdk.IPolicyValidationContext) -> cdk.PolicyValidationPluginReport:
        templates = stack_templates(context)
        started, self._started = self._started, None
        if isinstance(started, Exception):
            raise started
        if started is None or started.templates != templates:  # not started beside Control Tower
            started = self._begin(templates)
        try:
            validating, running = started.running or ((), None)
            checked = dict(zip(validating, running.reports(), strict=True)) if running else {}
        finally:
            started.snapshots.close()
        if self._cache is not None:
            for template, report in checked.items():
                self._cache.write(started.keys[template], report)
            self._cache.prune()
        reports = {**started.known, **checked}
        whole = merged([located(reports[t], t.template_path, t.stack_path) for t in templates])
        return plugin_report(whole, self.version)


@dataclass(frozen=True)
class _Started:
    """A validation begun over `templates`: the keys of their bytes, the reports read back, and
    the process validating the rest (those templates, and it), over their `snapshots`."""

    templates: tuple[StackTemplate, ...]
    keys: dict[StackTemplate, str]
    known: dict[StackTemplate, TemplateReport]
    running: tuple[tuple[StackTemplate, ...], RunningValidation] | None
    snapshots: Snapshots
