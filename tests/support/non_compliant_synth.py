"""The apps with resources that every pack flags, synthesized in a new process on the background
lane, which tests/conftest.py starts when the session starts (one jsii start for all of them):

- "environment": a sandbox FolioStage and its regional serving stage, each with a non-compliant
  stack (tests/security/test_nag.py); its synth must fail on validation. Over its templates, the
  Control Tower plugin runs with every rule, and as Folio runs it (ControlTowerControls) with no
  report cache, filling an empty one and read back from it.
- "pipeline": the pipeline app with non-compliant resources in its stack, in a stack of each stage
  it deploys and in each support stack (tests/security/test_pipeline_nag.py); its synth must fail
  on validation.
- "process-mode": the sandbox FolioStage with a non-compliant stack in the CDK CLI's "process" app
  mode, where aws-cdk-lib does not raise on findings: its synth must succeed, and
  `validation_failures` lists what app.py reports (tests/security/test_nag.py).

"Fail on validation" is what `pytest.raises(RuntimeError, match="ValidationFailed")` expects. Any
other exception ends the process with its traceback, which fails the tests that wait for it. Run
as a module (`python -m tests.support.non_compliant_synth OUTDIR`) it synthesizes into
OUTDIR/<part> and prints, as JSON on its last line, each part's ending (null when the synth failed
on validation as it must, else what happened instead), the Control Tower runs' reports
and process mode's validation failures.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import aws_cdk as cdk
import jsii
import pytest

from tests.support.background import BackgroundLane, ModuleJob

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SYNTH_TIMEOUT = 900.0


class NonCompliantSynths:
    """This module run as a new process on `lane`, into `outdir`; each accessor waits for it."""

    def __init__(self, lane: BackgroundLane, outdir: Path) -> None:
        self.outdir = outdir
        self._job = ModuleJob(
            lane, "the non-compliant synths", "tests.support.non_compliant_synth", [str(outdir)], timeout=SYNTH_TIMEOUT
        )

    def _output(self) -> dict[str, Any]:
        return self._job.output()

    def failed_on_validation(self, part: str) -> Path:
        """The output directory of "environment" or "pipeline", whose synth must have failed on
        validation."""
        ending = self._output()["endings"][part]
        assert ending is None, ending
        return self.outdir / part

    def control_tower_runs(self) -> dict[str, Any]:
        """The Control Tower reports over the "environment" templates (`control_tower_runs`)."""
        self.failed_on_validation("environment")
        runs: dict[str, Any] = self._output()["control_tower"]
        return runs

    def cloudformation_validation_runs(self) -> dict[str, Any]:
        """The CloudFormation validation reports over the "cloudformation-findings" templates
        (`cloudformation_validation_runs`)."""
        self.failed_on_validation("cloudformation-findings")
        runs: dict[str, Any] = self._output()["cloudformation_validation"]
        return runs

    def process_mode_failures(self) -> list[str]:
        failures: list[str] = self._output()["process_mode_failures"]
        return failures


@jsii.implements(cdk.IPolicyValidationContextBeta1)
class TemplatePaths:
    """The templates a policy validation plugin checks, as the CDK hands them to it."""

    def __init__(self, paths: list[str]) -> None:
        self._paths = paths

    @property
    def template_paths(self) -> list[str]:
        return self._paths


@jsii.implements(cdk.IPolicyValidationContext)
class StackTemplates(TemplatePaths):
    """The stacks a policy validation plugin checks (template, construct path, account and
    Region), as the CDK hands them to it."""

    def __init__(self, stacks: list[cdk.PolicyValidationStack], app: cdk.App) -> None:
        super().__init__([s.template_path for s in stacks])
        self._stacks = stacks
        self._app = app

    @property
    def stack_templates(self) -> list[cdk.PolicyValidationStack]:
        return self._stacks

    @property
    def app_construct(self) -> cdk.App:
        return self._app

    @property
    def account_id(self) -> str | None:
        return None

    @property
    def region(self) -> str | None:
        return None


def failure_on_validation(synth: Callable[[], object]) -> str | None:
    """None when `synth` raised a RuntimeError that says ValidationFailed; otherwise what it did.
    Any other exception propagates."""
    try:
        synth()
    except RuntimeError as error:
        if re.search("ValidationFailed", str(error)):
            return None
        return f"a RuntimeError without ValidationFailed: {error}"
    return "the synth succeeded: nothing was flagged"


def report_fields(report: Any) -> dict[str, Any]:
    """Everything a plugin report says, in its order, whichever struct types carry it (as JSON)."""
    return {
        "success": report.success,
        "violations": [
            {
                "rule": v.rule_name,
                "description": v.description,
                "fix": v.fix,
                "metadata": v.rule_metadata,
                "severity": v.severity,
                "resources": [
                    [
                        r.template_path,
                        r.resource_logical_id,
                        list(r.locations or []),
                        getattr(r, "construct_path", None),
                    ]
                    for r in v.violating_resources
                ],
            }
            for v in report.violations
        ],
    }


def copies_elsewhere(templates: list[str], assembly: Path) -> tuple[Path, list[str]]:
    """Copies of `templates` (in `assembly`) at the same relative paths under a new directory."""
    import shutil
    import tempfile

    elsewhere = Path(tempfile.mkdtemp(prefix="relocated-"))
    copies = []
    for template in templates:
        copy = elsewhere / Path(template).relative_to(assembly)
        copy.parent.mkdir(parents=True, exist_ok=True)
        copies.append(str(shutil.copyfile(template, copy)))
    return elsewhere, copies


def control_tower_runs(assembly: Path) -> dict[str, Any]:
    """The whole report of the unmodified plugin with every rule ("every_rule") and of Folio's
    runs of it (in parallel processes, each without the rules for resource types its templates do
    not hold) over the templates of `assembly`: with no report cache ("as_folio_runs_it"), filling
    an empty cache ("filling_a_cache"), read back from that cache with the plugin made to fail
    ("read_back"), and read back for copies of the templates in another directory
    ("read_back_elsewhere", with the copies' directory in "elsewhere")."""
    import tempfile

    from cdklabs.cdk_validator_cfnguard import CfnGuardValidator

    from stacks import control_tower
    from stacks.control_tower import ControlTowerControls

    templates = [str(p) for p in sorted(assembly.glob("assembly-*/*.template.json"))]
    context = TemplatePaths(templates)
    runs: dict[str, Any] = {
        "every_rule": report_fields(CfnGuardValidator(control_tower_rules_enabled=True).validate(context)),
        "as_folio_runs_it": report_fields(ControlTowerControls(report_cache=None).validate(cast(Any, context))),
    }
    cache = Path(tempfile.mkdtemp(prefix="control-tower-reports-"))
    runs["filling_a_cache"] = report_fields(ControlTowerControls(report_cache=cache).validate(cast(Any, context)))
    runs["cache_entries"] = len(list(cache.glob("*.json")))

    def no_plugin(template_paths: list[str]) -> Any:
        raise AssertionError(f"the plugin ran on {template_paths}")

    elsewhere, copies = copies_elsewhere(templates, assembly)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(control_tower, "start_plugin_in_parallel", no_plugin)
        read_back = ControlTowerControls(report_cache=cache).validate(cast(Any, context))
        read_back_elsewhere = ControlTowerControls(report_cache=cache).validate(cast(Any, TemplatePaths(copies)))
    runs["read_back"] = report_fields(read_back)
    runs["read_back_elsewhere"] = report_fields(read_back_elsewhere)
    runs["elsewhere"] = str(elsewhere)
    return runs


def cloudformation_validation_runs(assembly: Path) -> dict[str, Any]:
    """The whole report of aws-cdk-lib's own CloudFormation validation plugin ("builtin", as the
    App runs it when its built-in validation is on) and of Folio's runs of it (a process of its
    own, one template at a time, stacks/cloudformation_validation.py) over the stacks of
    `assembly`: with no report cache ("as_folio_runs_it"), filling an empty cache
    ("filling_a_cache"), read back from that cache with the plugin made to fail ("read_back"), and
    read back for copies of the templates in another directory, of stacks at other construct
    paths ("read_back_elsewhere", with the copies' directory in "elsewhere")."""
    import tempfile

    from stacks import cloudformation_validation
    from stacks.cloudformation_validation import CloudFormationValidation

    stacks = []
    for manifest in sorted(assembly.glob("assembly-*/manifest.json")):
        for name, artifact in json.loads(manifest.read_text())["artifacts"].items():
            if artifact["type"] == "aws:cloudformation:stack":
                account, region = artifact["environment"].removeprefix("aws://").split("/")
                template = str(manifest.parent / artifact["properties"]["templateFile"])
                stacks.append(cdk.PolicyValidationStack(
                    stack_construct_path=artifact.get("displayName", name), template_path=template,
                    account_id=account, region=region,
                ))  # fmt: skip
    app = cdk.App()
    context = cast(Any, StackTemplates(stacks, app))
    runs: dict[str, Any] = {
        "builtin": report_fields(cdk.CloudFormationValidatePlugin().validate(context)),
        "as_folio_runs_it": report_fields(CloudFormationValidation(report_cache=None).validate(context)),
    }
    cache = Path(tempfile.mkdtemp(prefix="cloudformation-validate-reports-"))
    runs["filling_a_cache"] = report_fields(CloudFormationValidation(report_cache=cache).validate(context))
    runs["cache_entries"] = len(list(cache.glob("*.json")))

    elsewhere, copied = copies_elsewhere([stack.template_path for stack in stacks], assembly)
    copies = [
        cdk.PolicyValidationStack(
            stack_construct_path=f"Elsewhere/{stack.stack_construct_path}", template_path=copy,
            account_id=stack.account_id, region=stack.region,
        )
        for stack, copy in zip(stacks, copied, strict=True)
    ]  # fmt: skip

    class NoValidation:
        def __init__(self, templates: object) -> None:
            raise AssertionError(f"the validation ran on {templates}")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cloudformation_validation, "RunningValidation", NoValidation)
        read_back = CloudFormationValidation(report_cache=cache).validate(context)
        read_back_elsewhere = CloudFormationValidation(report_cache=cache).validate(
            cast(Any, StackTemplates(copies, app))
        )
    runs["read_back"] = report_fields(read_back)
    runs["read_back_elsewhere"] = report_fields(read_back_elsewhere)
    runs["elsewhere"] = str(elsewhere)
    return runs


def process_mode_failures(outdir: Path) -> list[str]:
    """What app.py would report for the sandbox stage with a non-compliant stack, synthesized the
    way the CDK CLI runs an app ("process" mode: no exception on findings)."""
    from stacks.config import load_config
    from stacks.nag import checked_app, validation_failures
    from stacks.names import EnvironmentNames
    from stacks.stage import FolioStage
    from tests.conftest import cdk_context
    from tests.support.non_compliant import add_non_compliant_stack

    app = checked_app(
        validate_cloudformation=True,
        outdir=str(outdir),
        context={**cdk_context(), "@aws-cdk/core:appMode": "process"},
    )
    config = load_config("sandbox")
    stage = FolioStage(app, "FolioSandbox", config=config, names=EnvironmentNames.of(config))
    add_non_compliant_stack(stage)
    assembly = app.synth()  # no exception in process mode: this is the trap
    return validation_failures(assembly.directory)


# A queue that keeps messages for 5 s: CloudFormation's schema says at least 60, and nothing else
# Folio runs reads that property (cdk-nag and Control Tower look at its encryption and its
# dead-letter queue, which it has).
TOO_SHORT_RETENTION_SECONDS = 5


def synthesize_what_only_cloudformation_validation_refuses(outdir: Path) -> None:
    """A stack whose one finding is aws-cdk-lib's CloudFormation validation's (F3034, a value below
    the schema's minimum), synthesized by an App as `folio_app` builds it for the synths by a new
    process: the synth must fail on validation, which its report in `outdir` names."""
    from tests.conftest import folio_app

    app = folio_app(outdir, validate_cloudformation=True)
    stage = cdk.Stage(app, "Probe", env=cdk.Environment(account="111111111111", region="us-east-1"))
    stack = cdk.Stack(stage, "Queues")
    dead_letters = cdk.CfnResource(stack, "DeadLetters", type="AWS::SQS::Queue", properties={
        "SqsManagedSseEnabled": True, "RedriveAllowPolicy": {"redrivePermission": "allowAll"},
    })  # fmt: skip
    cdk.CfnResource(stack, "Queue", type="AWS::SQS::Queue", properties={
        "SqsManagedSseEnabled": True,
        "MessageRetentionPeriod": TOO_SHORT_RETENTION_SECONDS,
        "RedrivePolicy": {"deadLetterTargetArn": dead_letters.get_att("Arn"), "maxReceiveCount": 3},
    })  # fmt: skip
    app.synth()


def synthesize_cloudformation_findings(outdir: Path) -> None:
    """Two stacks, in two accounts and Regions, whose templates hold findings of every kind aws-cdk-lib's
    CloudFormation validation reports: errors and warnings, on resources and on the stack itself (an
    unused parameter, an output that names nothing), and one finding in both templates. The synth
    must fail on validation; tests/security/test_nag.py compares the plugins' reports over them."""
    from tests.conftest import folio_app

    app = folio_app(outdir, validate_cloudformation=True)
    for name, account, region in (("First", "111111111111", "us-east-1"), ("Second", "222222222222", "eu-west-1")):
        stack = cdk.Stack(cdk.Stage(app, name, env=cdk.Environment(account=account, region=region)), "Findings")
        # F3034 in both templates: below the schema's minimum.
        queue_properties = {"SqsManagedSseEnabled": True, "MessageRetentionPeriod": TOO_SHORT_RETENTION_SECONDS}
        cdk.CfnResource(stack, "Queue", type="AWS::SQS::Queue", properties=queue_properties)
        if name == "First":
            cdk.CfnParameter(stack, "Unused", type="String")  # W2001, on the stack
            cdk.CfnResource(stack, "Subnet", type="AWS::EC2::Subnet", properties={
                "VpcId": "vpc-123", "CidrBlock": "10.0.0.0/24", "AvailabilityZone": f"{region}a",
            })  # E1151 and W3010  # fmt: skip
            cdk.CfnResource(stack, "Topic", type="AWS::SNS::Topic", properties={"Unknown": 1})  # F3002
        else:
            cdk.CfnOutput(stack, "NamesNothing", value=cdk.Fn.ref("Nothing"))  # F6101, on the stack
    app.synth()


def main(arguments: list[str]) -> int:

    from stacks import pipeline_stack
    from stacks.config import load_config
    from tests.conftest import synthesize, synthesize_pipeline
    from tests.support.non_compliant import StageWithExtra, add_non_compliant_stack, inject_after_build

    outdir = Path(arguments[0])
    environment = outdir / "environment"
    endings = {
        "environment": failure_on_validation(
            lambda: synthesize(
                load_config("sandbox"), environment, extend=add_non_compliant_stack, validate_cloudformation=True
            )
        )
    }
    control_tower = control_tower_runs(environment) if endings["environment"] is None else {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline_stack, "FolioStage", StageWithExtra)
        endings["pipeline"] = failure_on_validation(
            lambda: synthesize_pipeline(outdir / "pipeline", extend=inject_after_build, validate_cloudformation=True)
        )
    failures = process_mode_failures(outdir / "process-mode")
    endings["cloudformation-validate"] = failure_on_validation(
        lambda: synthesize_what_only_cloudformation_validation_refuses(outdir / "cloudformation-validate")
    )
    findings = outdir / "cloudformation-findings"
    endings["cloudformation-findings"] = failure_on_validation(lambda: synthesize_cloudformation_findings(findings))
    validation = cloudformation_validation_runs(findings) if endings["cloudformation-findings"] is None else {}
    print(json.dumps({
        "endings": endings, "control_tower": control_tower, "cloudformation_validation": validation,
        "process_mode_failures": failures,
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
