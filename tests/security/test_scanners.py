"""cfn-lint and checkov over every template of every environment: 0 errors, 0 failed checks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PROJECT_ROOT, STAGES, Synthesized, SynthesizedPipeline

CHECKOV = PROJECT_ROOT / ".venv-checkov" / "bin" / "checkov"
CFN_LINT = Path(sys.executable).parent / "cfn-lint"


@pytest.mark.parametrize("stage", STAGES)
def test_cfn_lint_finds_nothing_in_any_region_of_the_stage(
    stage: str, synthesized_stage: Callable[[str], Synthesized]
) -> None:
    """Each environment's FolioStage in every Region it uses, and each regional serving stage in its own."""
    synth = synthesized_stage(stage)
    templates = [str(p) for p in synth.template_files()]

    result = subprocess.run(
        [str(CFN_LINT), "--regions", *synth.regions, "--format", "parseable", "--", *templates],
        cwd=PROJECT_ROOT,  # picks up .cfnlintrc
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert len(templates) == len(synth.templates)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def run_checkov(directory: Path) -> dict[str, Any]:
    assert CHECKOV.exists(), f"{CHECKOV} is missing: run `make test` (it installs checkov's own virtualenv)"
    result = subprocess.run(
        [str(CHECKOV), "--config-file", str(PROJECT_ROOT / ".checkov.yaml"), "--quiet", "--compact",
         "--output", "json", "--directory", str(directory)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stderr
    report = json.loads(result.stdout)
    return report if isinstance(report, dict) else report[0]


@pytest.mark.parametrize("stage", STAGES)
def test_checkov_passes_with_skips_only_from_resource_metadata(
    stage: str, synthesized_stage: Callable[[str], Synthesized]
) -> None:
    synth = synthesized_stage(stage)

    report = run_checkov(synth.assembly_directory)

    summary = report["summary"]
    failed = report["results"].get("failed_checks", [])
    assert summary["failed"] == 0, [(f["check_id"], f["resource"]) for f in failed]
    assert summary["parsing_errors"] == 0
    assert summary["passed"] > 0
    for skipped in report["results"].get("skipped_checks", []):
        # A skip in resource Metadata carries its comment; a CLI --skip-check would not.
        assert skipped.get("suppress_comment"), skipped


def test_checkov_catches_a_bad_template(tmp_path: Path) -> None:
    template = {
        "Resources": {
            "Key": {"Type": "AWS::KMS::Key", "Properties": {"EnableKeyRotation": False, "KeyPolicy": {}}},
        }
    }
    (tmp_path / "bad.template.json").write_text(json.dumps(template))

    report = run_checkov(tmp_path)

    assert "CKV_AWS_7" in {f["check_id"] for f in report["results"]["failed_checks"]}


def test_checkov_config_skips_nothing_globally() -> None:
    config = (PROJECT_ROOT / ".checkov.yaml").read_text()

    assert "skip-check" not in config.replace("No skip-check here", "")
    assert "skip-download: true" in config


# --- The pipeline's own templates (its stages are the environments' stacks, checked above) ---


def pipeline_regions(synth: SynthesizedPipeline) -> list[str]:
    return sorted({synth.stack.region, *(s["Region"] for s in artifact_stores(synth))})


def artifact_stores(synth: SynthesizedPipeline) -> list[dict[str, Any]]:
    template = synth.templates[synth.stack.stack_name]
    (pipeline,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    stores: list[dict[str, Any]] = pipeline["Properties"]["ArtifactStores"]
    return stores


def test_cfn_lint_finds_nothing_in_the_pipeline_or_its_support_stacks(
    synthesized_pipeline: SynthesizedPipeline,
) -> None:
    templates = [str(p) for p in synthesized_pipeline.template_files()]

    result = subprocess.run(
        [str(CFN_LINT), "--regions", *pipeline_regions(synthesized_pipeline), "--format", "parseable", "--",
         *templates],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip

    assert len(templates) == 1 + 4  # the pipeline stack and a support stack per other Region
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_checkov_passes_on_the_pipeline_and_its_support_stacks(
    synthesized_pipeline: SynthesizedPipeline, tmp_path: Path
) -> None:
    for template in synthesized_pipeline.template_files():
        shutil.copy(template, tmp_path / template.name)

    report = run_checkov(tmp_path)

    summary = report["summary"]
    failed = report["results"].get("failed_checks", [])
    assert summary["failed"] == 0, [(f["check_id"], f["resource"], f["file_path"]) for f in failed]
    assert summary["parsing_errors"] == 0
    assert summary["passed"] > 0
    for skipped in report["results"].get("skipped_checks", []):
        assert skipped.get("suppress_comment"), skipped
