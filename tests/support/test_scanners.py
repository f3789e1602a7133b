"""How tests/support/scanners.py splits one checkov run over several stages' directories: each
stage gets its own findings, and a finding in no stage's directory counts against every stage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.scanners import CheckovRun


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
