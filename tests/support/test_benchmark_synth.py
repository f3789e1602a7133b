"""The synth part of `make bench`: "after a change" forgets exactly the kept reports of the changed
stacks' templates (both checks'), and every app is run by cdk.json's interpreter command. Shapes only,
never times."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from stacks import cloudformation_validation, control_tower
from stacks.report_cache import TemplateReport
from tests.conftest import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
import run  # benchmarks/ is not a package: its directory is put on the path


def _assembly(directory: Path) -> dict[str, str]:
    """A nested assembly with an Api stack and a Data stack (as FolioSandbox has): display name -> template."""
    nested = directory / "assembly-FolioSandbox"
    nested.mkdir(parents=True)
    artifacts, templates = {}, {}
    for name in ("Api", "Data"):
        template = nested / f"FolioSandbox{name}.template.json"
        template.write_text(json.dumps({"Resources": {name: {"Type": "AWS::SQS::Queue"}}}))
        artifacts[f"FolioSandbox{name}"] = {
            "type": "aws:cloudformation:stack",
            "environment": "aws://123456789012/us-east-1",
            "displayName": f"FolioSandbox/{name}",
            "properties": {"templateFile": template.name},
        }
        templates[name] = str(template)
    (nested / "manifest.json").write_text(json.dumps({"artifacts": artifacts}))
    (directory / "manifest.json").write_text(json.dumps({"artifacts": {}}))
    return templates


def test_a_change_forgets_both_checks_reports_of_the_changed_stacks_templates_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given both checks' kept reports of an Api and a Data template
    monkeypatch.setattr(control_tower, "REPORT_CACHE", tmp_path / "control-tower")
    monkeypatch.setattr(cloudformation_validation, "REPORT_CACHE", tmp_path / "validation-reports")
    templates = _assembly(tmp_path / "out")
    controls = control_tower.kept_reports(control_tower.REPORT_CACHE)
    validation = cloudformation_validation.kept_reports(cloudformation_validation.REPORT_CACHE)
    for template in templates.values():
        controls.write(controls.key(template), TemplateReport(True, []))
        validation.write(validation.key(template, "123456789012", "us-east-1"), TemplateReport(True, []))

    # When a change to the Api stacks is simulated
    changed = run.forget_reports_of_changed_stacks(tmp_path / "out")

    # Then the Api template's reports are gone from both, and the Data template's kept
    assert changed == 1
    api, data = templates["Api"], templates["Data"]
    assert controls.read(controls.key(api)) is None
    assert validation.read(validation.key(api, "123456789012", "us-east-1")) is None
    assert controls.read(controls.key(data)) is not None
    assert validation.read(validation.key(data, "123456789012", "us-east-1")) is not None


def test_every_app_is_run_by_the_interpreter_command_cdk_json_runs_app_py_with() -> None:
    interpreter = json.loads((PROJECT_ROOT / "cdk.json").read_text())["app"].removesuffix(" app.py")
    apps = run.synth_apps()

    assert {command for command, _ in apps.values()} == {
        None,  # app.py, as cdk.json runs it
        f"{interpreter} benchmarks/extra_region_app.py",
        f"{interpreter} benchmarks/empty_app.py",
    }
    assert {kept for _, kept in apps.values()} == {run.COLD, run.WARM, run.AFTER_A_CHANGE}
