"""How tests/support/scanners.py splits one checkov run over several stages' directories: each
stage gets its own findings, and a finding in no stage's directory counts against every stage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.background import BackgroundLane
from tests.support.scanners import BAD_TEMPLATE, CheckovRun, PendingCheckov, checkov_command

# BAD_TEMPLATE's key with rotation on: nothing for checkov to flag.
GOOD_TEMPLATE = {
    "Resources": {
        "Key": {"Type": "AWS::KMS::Key", "Properties": {"EnableKeyRotation": True, "KeyPolicy": {}}},
    }
}


def check(root: Path, relative: str, check_id: str = "CKV_AWS_1") -> dict[str, Any]:
    return {"check_id": check_id, "resource": "R", "file_path": f"/{relative}", "file_abs_path": str(root / relative)}


def run_over(root: Path, results: dict[str, list[Any]]) -> CheckovRun:
    for stage in ("assembly-A", "assembly-B"):
        (root / stage).mkdir()
    summary = {
        "failed": len(results.get("failed_checks", [])),
        "passed": len(results.get("passed_checks", [])),
        "skipped": len(results.get("skipped_checks", [])),
        "parsing_errors": len(results.get("parsing_errors", [])),
    }
    return CheckovRun(root, {"summary": summary, "results": results})


def test_each_stage_gets_the_findings_and_passes_in_its_own_directory(tmp_path: Path) -> None:
    run = run_over(
        tmp_path,
        {
            "failed_checks": [check(tmp_path, "assembly-A/S.template.json", "CKV_AWS_7")],
            "skipped_checks": [check(tmp_path, "assembly-B/S.template.json")],
            "passed_checks": [check(tmp_path, "assembly-A/S.template.json")] * 2
            + [check(tmp_path, "assembly-B/T.json")],
            "parsing_errors": [str(tmp_path / "assembly-B" / "Broken.template.json")],
        },
    )

    a, b = run.of_stage("assembly-A"), run.of_stage("assembly-B")

    assert [f["check_id"] for f in a.failed] == ["CKV_AWS_7"] and b.failed == []
    assert a.skipped == [] and len(b.skipped) == 1
    assert a.parsing_errors == [] and b.parsing_errors == [str(tmp_path / "assembly-B" / "Broken.template.json")]
    assert (a.passed, b.passed) == (2, 1)
    assert run.totals_match_the_lists()


def test_a_finding_in_no_stages_directory_counts_against_every_stage(tmp_path: Path) -> None:
    stray = [check(tmp_path, "Loose.template.json"), check(tmp_path.parent, "elsewhere/X.template.json")]
    run = run_over(tmp_path, {"failed_checks": stray, "parsing_errors": [str(tmp_path / "Loose.json")]})

    for stage in ("assembly-A", "assembly-B"):
        assert run.of_stage(stage).failed == stray
        assert run.of_stage(stage).parsing_errors == [str(tmp_path / "Loose.json")]


def test_passed_checks_count_only_for_their_own_stage(tmp_path: Path) -> None:
    run = run_over(tmp_path, {"passed_checks": [check(tmp_path, "Loose.template.json")]})

    assert run.of_stage("assembly-A").passed == 0


def test_a_summary_that_counts_more_than_the_lists_hold_is_caught(tmp_path: Path) -> None:
    run = run_over(tmp_path, {"failed_checks": []})
    run.report["summary"]["failed"] = 1

    assert not run.totals_match_the_lists()


def test_checkov_over_two_stage_directories_finds_the_bad_template_in_its_own_stage_only(tmp_path: Path) -> None:
    """The real checkov, run as Scans runs it: the split relies on the paths it reports."""
    for stage, template in (("assembly-A", GOOD_TEMPLATE), ("assembly-B", BAD_TEMPLATE)):
        (tmp_path / stage).mkdir()
        (tmp_path / stage / "Stack.template.json").write_text(json.dumps(template))
    lane = BackgroundLane()
    try:
        run = PendingCheckov(tmp_path, lane.run("checkov", checkov_command(tmp_path), timeout=600)).result()
    finally:
        lane.close()

    a, b = run.of_stage("assembly-A"), run.of_stage("assembly-B")

    assert a.failed == [] and a.passed > 0
    assert "CKV_AWS_7" in {f["check_id"] for f in b.failed}
    assert run.totals_match_the_lists()
