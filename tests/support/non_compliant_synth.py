"""The apps with resources that every pack flags, synthesized in a new process on the background
lane, which tests/conftest.py starts when the session starts (one jsii start for all of them):

- "environment": a sandbox FolioStage and its regional serving stage, each with a non-compliant
  stack (tests/security/test_nag.py); its synth must fail on validation. Over its templates, the
  Control Tower plugin runs twice: with every rule, and as Folio runs it (ControlTowerControls).
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
on validation as it must, else what happened instead), the two Control Tower runs' findings
(rule, logical id) and process mode's validation failures.
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

from tests.support.background import BackgroundJob, BackgroundLane, module_environment

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SYNTH_TIMEOUT = 900.0


class NonCompliantSynths:
    """This module run as a new process on `lane`, into `outdir`; each accessor waits for it."""

    def __init__(self, lane: BackgroundLane, outdir: Path) -> None:
        self.outdir = outdir
        self._job: BackgroundJob = lane.run(
            "the non-compliant synths",
            [sys.executable, "-m", "tests.support.non_compliant_synth", str(outdir)],
            timeout=SYNTH_TIMEOUT,
            cwd=PROJECT_ROOT,
            env=module_environment(),
        )

    def _output(self) -> dict[str, Any]:
        finished = self._job.result()
        assert finished.returncode == 0, finished.stderr[-4000:]
        output: dict[str, Any] = json.loads(finished.stdout.splitlines()[-1])
        return output

    def failed_on_validation(self, part: str) -> Path:
        """The output directory of "environment" or "pipeline", whose synth must have failed on
        validation."""
        ending = self._output()["endings"][part]
        assert ending is None, ending
        return self.outdir / part

    def control_tower_runs(self) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
        """(every rule's findings, Folio's run's findings) over the "environment" templates."""
        self.failed_on_validation("environment")
        runs = self._output()["control_tower"]
        every_rule, as_folio_runs_it = runs["every_rule"], runs["as_folio_runs_it"]
        return {(rule, resource) for rule, resource in every_rule}, {
            (rule, resource) for rule, resource in as_folio_runs_it
        }

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


def control_tower_runs(assembly: Path) -> dict[str, list[tuple[str, str]]]:
    """(rule, logical id) of every finding of the plugin with every rule ("every_rule") and as
    Folio runs it, without the rules for resource types no template holds ("as_folio_runs_it")."""
    from cdklabs.cdk_validator_cfnguard import CfnGuardValidator

    from stacks.nag import ControlTowerControls

    context = TemplatePaths([str(p) for p in sorted(assembly.glob("assembly-*/*.template.json"))])

    def found(report: Any) -> list[tuple[str, str]]:
        return sorted({(v.rule_name, r.resource_logical_id) for v in report.violations for r in v.violating_resources})

    return {
        "every_rule": found(CfnGuardValidator(control_tower_rules_enabled=True).validate(context)),
        "as_folio_runs_it": found(ControlTowerControls().validate(cast(Any, context))),
    }


def process_mode_failures(outdir: Path) -> list[str]:
    """What app.py would report for the sandbox stage with a non-compliant stack, synthesized the
    way the CDK CLI runs an app ("process" mode: no exception on findings)."""
    from stacks.config import load_config
    from stacks.nag import register_nag_packs, validation_failures
    from stacks.names import EnvironmentNames
    from stacks.stage import FolioStage
    from tests.conftest import cdk_context
    from tests.support.non_compliant import add_non_compliant_stack

    app = cdk.App(outdir=str(outdir), context={**cdk_context(), "@aws-cdk/core:appMode": "process"})
    register_nag_packs(app)
    config = load_config("sandbox")
    stage = FolioStage(app, "FolioSandbox", config=config, names=EnvironmentNames.of(config))
    add_non_compliant_stack(stage)
    assembly = app.synth()  # no exception in process mode: this is the trap
    return validation_failures(assembly.directory)


def main(arguments: list[str]) -> int:
    import pytest

    from stacks import pipeline_stack
    from stacks.config import load_config
    from tests.conftest import synthesize, synthesize_pipeline
    from tests.support.non_compliant import StageWithExtra, add_non_compliant_stack, inject_after_build

    outdir = Path(arguments[0])
    environment = outdir / "environment"
    endings = {
        "environment": failure_on_validation(
            lambda: synthesize(load_config("sandbox"), environment, extend=add_non_compliant_stack)
        )
    }
    control_tower = control_tower_runs(environment) if endings["environment"] is None else {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline_stack, "FolioStage", StageWithExtra)
        endings["pipeline"] = failure_on_validation(
            lambda: synthesize_pipeline(outdir / "pipeline", extend=inject_after_build)
        )
    failures = process_mode_failures(outdir / "process-mode")
    print(json.dumps({"endings": endings, "control_tower": control_tower, "process_mode_failures": failures}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
