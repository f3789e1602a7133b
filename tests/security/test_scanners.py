"""cfn-lint and checkov over every template of every environment: 0 errors, 0 failed checks.

Both run on the background lane from the moment the session's synth of an environment (or of the
pipeline) returns (tests/support/scanners.py); each test here waits for its stage's result.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import PROJECT_ROOT, STAGES, Synthesized, SynthesizedPipeline
from tests.support.scanners import CHECKOV, CheckovResults, CheckovRun, PendingCheckov, Scans


@pytest.mark.parametrize("stage", STAGES)
def test_cfn_lint_finds_nothing_in_any_region_of_the_stage(
    stage: str, synthesized_stage: Callable[[str], Synthesized], scans: Scans
) -> None:
    """Each environment's FolioStage in every Region it uses, and each regional serving stage in its own."""
    synth = synthesized_stage(stage)

    returncode, stdout, stderr = scans.cfn_lint(stage)

    assert len(scans.cfn_linted(stage)) == len(synth.templates)
    assert returncode == 0, stdout + stderr
    assert stdout.strip() == ""


def assert_checkov_passed(run: CheckovRun, stage: CheckovResults) -> None:
    assert run.totals_match_the_lists(), run.report["summary"]
    assert stage.failed == [], [(f["check_id"], f["resource"], f["file_path"]) for f in stage.failed]
    assert stage.parsing_errors == []
    assert stage.passed > 0
    for skipped in stage.skipped:
        # A skip in resource Metadata carries its comment; a CLI --skip-check would not.
        assert skipped["check_result"].get("suppress_comment"), skipped


@pytest.mark.parametrize("stage", STAGES)
def test_checkov_passes_with_skips_only_from_resource_metadata(
    stage: str, synthesized_stage: Callable[[str], Synthesized], scans: Scans
) -> None:
    assert CHECKOV.exists(), f"{CHECKOV} is missing: run `make test` (it installs checkov's own virtualenv)"
    synthesized_stage(stage)

    run, results = scans.checkov(stage)

    assert_checkov_passed(run, results)


def test_checkov_catches_a_bad_template(checkov_of_a_bad_template: PendingCheckov) -> None:
    assert CHECKOV.exists(), f"{CHECKOV} is missing: run `make test` (it installs checkov's own virtualenv)"

    report = checkov_of_a_bad_template.result().report

    assert "CKV_AWS_7" in {f["check_id"] for f in report["results"]["failed_checks"]}


def test_checkov_config_skips_nothing_globally() -> None:
    config = (PROJECT_ROOT / ".checkov.yaml").read_text()

    assert "skip-check" not in config.replace("No skip-check here", "")
    assert "skip-download: true" in config


# --- The pipeline's own templates (its stages are the environments' stacks, checked above) ---


def test_cfn_lint_finds_nothing_in_the_pipeline_or_its_support_stacks(
    synthesized_pipeline: SynthesizedPipeline, scans: Scans
) -> None:
    returncode, stdout, stderr = scans.cfn_lint(Scans.PIPELINE)

    assert len(scans.cfn_linted(Scans.PIPELINE)) == 1 + 4  # the pipeline stack and a support stack per other Region
    assert returncode == 0, stdout + stderr
    assert stdout.strip() == ""


def test_checkov_passes_on_the_pipeline_and_its_support_stacks(
    synthesized_pipeline: SynthesizedPipeline, scans: Scans
) -> None:
    assert CHECKOV.exists(), f"{CHECKOV} is missing: run `make test` (it installs checkov's own virtualenv)"

    run, results = scans.checkov(Scans.PIPELINE)

    assert_checkov_passed(run, results)
