"""cfn-lint and checkov over synthesized templates, run on the background lane
(tests/support/background.py) as soon as the session's synth of an environment, or of the
pipeline, returns: by the time tests/security/test_scanners.py asks, they have mostly finished.

cfn-lint runs once per stage, with that stage's Regions. checkov runs once per environment over
copies of all its stages' assembly directories (one process instead of one per stage: its start-up
is most of its cost) and `CheckovRun.of_stage` splits the report by directory. A result that lies
in none of the stages' directories counts against every stage, so the split never hides one.
(`checkov --directory` given several times scans only the first one, in checkov 3.3.30.)
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from tests.support.background import BackgroundJob, BackgroundLane

if TYPE_CHECKING:
    from tests.conftest import Synthesized, SynthesizedPipeline

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHECKOV = PROJECT_ROOT / ".venv-checkov" / "bin" / "checkov"
CFN_LINT = Path(sys.executable).parent / "cfn-lint"
CFN_LINT_TIMEOUT = 300.0
CHECKOV_TIMEOUT = 600.0
T = TypeVar("T")


def cfn_lint_command(regions: Iterable[str], templates: Iterable[Path]) -> list[str]:
    """Run from PROJECT_ROOT, which holds .cfnlintrc."""
    return [str(CFN_LINT), "--regions", *regions, "--format", "parseable", "--", *(str(t) for t in templates)]


def checkov_command(directory: Path) -> list[str]:
    """Every check on every result, passed ones too (the split per stage needs them)."""
    return [str(CHECKOV), "--config-file", str(PROJECT_ROOT / ".checkov.yaml"), "--compact",
            "--output", "json", "--directory", str(directory)]  # fmt: skip


def checkov_report(stdout: str) -> dict[str, Any]:
    """The cloudformation report of one checkov run (a list of reports when several frameworks ran)."""
    report = json.loads(stdout)
    found: dict[str, Any] = report if isinstance(report, dict) else report[0]
    return found


@dataclass(frozen=True)
class CheckovResults:
    """What checkov found in one directory of a run, or in all of it."""

    failed: list[dict[str, Any]]
    skipped: list[dict[str, Any]]
    parsing_errors: list[str]
    passed: int


@dataclass(frozen=True)
class CheckovRun:
    """One checkov run over `root`, whose subdirectories are stages' assembly directories."""

    root: Path
    report: dict[str, Any]

    def totals_match_the_lists(self) -> bool:
        """The summary counts what the result lists hold (nothing reported was left out of them)."""
        summary, results = self.report["summary"], self.report["results"]
        return (summary["failed"], summary["passed"], summary["skipped"], summary["parsing_errors"]) == (
            len(results.get("failed_checks", [])),
            len(results.get("passed_checks", [])),
            len(results.get("skipped_checks", [])),
            len(results.get("parsing_errors", [])),
        )

    def of_stage(self, directory_name: str) -> CheckovResults:
        """The findings in `root/directory_name` and those in no stage's directory (so they count
        against every stage); the passed checks in `root/directory_name` only."""
        results = self.report["results"]
        stages = {p.name for p in self.root.iterdir() if p.is_dir()}

        def owner(path: str) -> str | None:
            if not Path(path).is_relative_to(self.root):
                return None
            parts = Path(path).relative_to(self.root).parts
            return parts[0] if len(parts) > 1 and parts[0] in stages else None

        def mine(path: str) -> bool:  # a finding: this stage's, or nobody's
            return owner(path) in (directory_name, None)

        return CheckovResults(
            failed=[c for c in results.get("failed_checks", []) if mine(c["file_abs_path"])],
            skipped=[c for c in results.get("skipped_checks", []) if mine(c["file_abs_path"])],
            parsing_errors=[p for p in results.get("parsing_errors", []) if mine(p)],
            passed=sum(1 for c in results.get("passed_checks", []) if owner(c["file_abs_path"]) == directory_name),
        )


class PendingCheckov:
    """A checkov run over `root` on the lane; `result()` parses its report once (several stages
    ask for the same run)."""

    def __init__(self, root: Path, job: BackgroundJob) -> None:
        self.root = root
        self.job = job
        self._run: CheckovRun | None = None

    def result(self) -> CheckovRun:
        if self._run is None:
            finished = self.job.result()
            assert finished.returncode in (0, 1), finished.stderr
            self._run = CheckovRun(self.root, checkov_report(finished.stdout))
        return self._run


# A key without rotation: checkov must flag it (CKV_AWS_7), or it checks nothing.
BAD_TEMPLATE = {
    "Resources": {
        "Key": {"Type": "AWS::KMS::Key", "Properties": {"EnableKeyRotation": False, "KeyPolicy": {}}},
    }
}


def start_checkov_of_a_bad_template(lane: BackgroundLane, directory: Path) -> PendingCheckov:
    """checkov over a directory that holds BAD_TEMPLATE alone."""
    (directory / "bad.template.json").write_text(json.dumps(BAD_TEMPLATE))
    return PendingCheckov(
        directory, lane.run("checkov of a bad template", checkov_command(directory), timeout=CHECKOV_TIMEOUT)
    )


def pipeline_regions(synth: SynthesizedPipeline) -> list[str]:
    """The pipeline's Region and every Region it keeps an artifact store in."""
    return sorted({synth.stack.region, *(s["Region"] for s in artifact_stores(synth))})


def artifact_stores(synth: SynthesizedPipeline) -> list[dict[str, Any]]:
    template = synth.templates[synth.stack.stack_name]
    (pipeline,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    stores: list[dict[str, Any]] = pipeline["Properties"]["ArtifactStores"]
    return stores


class Scans:
    """cfn-lint and checkov of every stage and of the pipeline, queued on `lane` by `start_*`."""

    PIPELINE = "pipeline"

    def __init__(self, lane: BackgroundLane, workdir: Path) -> None:
        self._lane = lane
        self._workdir = workdir
        self._cfn_lint: dict[str, tuple[BackgroundJob, list[Path]]] = {}  # stage -> (its run, the templates)
        self._checkov: dict[str, tuple[PendingCheckov, str]] = {}  # stage -> (its run, its directory)

    def start_environment(self, environment: str, synth: Synthesized) -> None:
        """`environment`'s FolioStage ("prod") and its regional serving stages ("prod/eu-west-1")."""
        stages = {environment: synth, **{f"{environment}/{r}": s for r, s in synth.serving.items()}}
        for name, stage in stages.items():
            self._cfn_lint[name] = self._cfn_lint_of(f"cfn-lint of {name}", stage.regions, stage.template_files())
        root = self._workdir / environment
        for stage in stages.values():
            shutil.copytree(stage.assembly_directory, root / stage.assembly_directory.name)
        pending = self._checkov_of(f"checkov of {environment}'s stages", root)
        for name, stage in stages.items():
            self._checkov[name] = (pending, stage.assembly_directory.name)

    def start_pipeline(self, synth: SynthesizedPipeline) -> None:
        """The pipeline stack and its support stacks (its stages are the environments' stacks)."""
        templates = synth.template_files()
        regions = pipeline_regions(synth)
        self._cfn_lint[self.PIPELINE] = self._cfn_lint_of("cfn-lint of the pipeline", regions, templates)
        root = self._workdir / self.PIPELINE
        (root / "templates").mkdir(parents=True)
        for template in templates:
            shutil.copy(template, root / "templates" / template.name)
        self._checkov[self.PIPELINE] = (self._checkov_of("checkov of the pipeline", root), "templates")

    def _cfn_lint_of(
        self, description: str, regions: Iterable[str], templates: list[Path]
    ) -> tuple[BackgroundJob, list[Path]]:
        job = self._lane.run(
            description, cfn_lint_command(regions, templates), timeout=CFN_LINT_TIMEOUT, cwd=PROJECT_ROOT
        )
        return job, templates

    def _checkov_of(self, description: str, root: Path) -> PendingCheckov:
        return PendingCheckov(root, self._lane.run(description, checkov_command(root), timeout=CHECKOV_TIMEOUT))

    def cfn_lint(self, stage: str) -> tuple[int, str, str]:
        """(exit code, stdout, stderr) of cfn-lint over the stage's templates in its Regions."""
        finished = self._started(self._cfn_lint, stage)[0].result()
        return finished.returncode, finished.stdout, finished.stderr

    def cfn_linted(self, stage: str) -> list[Path]:
        """The templates cfn-lint was given for `stage`."""
        return self._started(self._cfn_lint, stage)[1]

    def checkov(self, stage: str) -> tuple[CheckovRun, CheckovResults]:
        """The whole run that covered `stage`, and the stage's part of it."""
        pending, directory = self._started(self._checkov, stage)
        run = pending.result()
        return run, run.of_stage(directory)

    @staticmethod
    def _started(jobs: dict[str, T], stage: str) -> T:
        if stage not in jobs:
            raise AssertionError(f"no scan of {stage} was started (the session's synth of it starts them)")
        return jobs[stage]
