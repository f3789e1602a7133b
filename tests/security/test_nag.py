"""cdk-nag and Control Tower: every pack and the controls cover every stage, and every acknowledgement
is listed, specific and budgeted."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import tarfile
import threading
import time
import types
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import aws_cdk as cdk
import pytest
from cdklabs.cdk_validator_cfnguard import _jsii as control_tower_package

from stacks import cloudformation_validation, control_tower, nag, report_cache
from stacks.control_tower import ControlTowerControls
from stacks.nag import (
    CONTROL_TOWER_PLUGIN,
    PACK_NAMES,
    Finding,
    acknowledge,
    validation_failures,
)
from stacks.regional_serving_stage import RegionalServingStage
from tests.conftest import (
    ENVIRONMENT_NAMES,
    PROJECT_ROOT,
    STAGES,
    Synthesized,
    SynthesizedPipeline,
)
from tests.support.non_compliant_synth import NonCompliantSynths, StackTemplates, TemplatePaths

# The most acknowledgements one environment may carry. Raising it is a reviewed change:
# say in the commit which finding is new and why its control is met another way.
# Today (docs/security-review.md), sandbox 33 / dev 49 / prod 53:
#    8  IAM5: on the functions' one baseline policy X-Ray + DescribeNetworkInterfaces ("*") and
#       the account's network-interface/* (ENI ids exist only once Lambda creates them),
#       documents/* on 4 function policies (create, download, upload and lifecycle workers),
#       backup role 2
#    2  IAM5: the API Gateway logging role's execution-log streams and DescribeLogGroups, only
#       where api.manage_account_logging_role (dev, prod)
#    6  access-log bucket: SSE-S3 only, not replicated (3 packs each)
#    6  API stage: no cache on per-user data, no client certificate for Lambda integrations
#    3  documents bucket not replicated: open item
#    3  cursor secret not on a rotation schedule
#    3  VPC default security group left open but unused (closing it needs a custom resource)
#    2  the dead-letter queue and the lifecycle worker's failure queue have no dead-letter queue
#    1  the alarm topic's e-mail subscription has no redrive queue (Serverless SNSRedrivePolicy)
#    1  MFA optional (sandbox, dev) | 1 identity pool own prefix (dev, prod)
#    1  search domain: access by security group and named roles, not IP (a VPC domain takes no
#       IP policy; OS3), where features.search (dev, prod)
#    2  search domain: no dedicated masters (OS4), one AZ (OS7), only where the config allows it
#       (dev's one node), never in a termination-protected environment (stacks/config.py)
#    7  the audit archive, only where features.cdc (prod): IAM5 on Firehose's two object prefixes
#       (changes/*, errors/*), the archive bucket not replicated (3 packs), KDS3 (the change stream
#       uses Folio's CMK, not aws/kinesis), KDF1 (Firehose refuses SSE with a Kinesis source)
#    4  IAM5 on the search pipeline's role, where features.search: the table's exports (named by
#       DynamoDB), the export and dlq/ prefixes of its own bucket, the domain's HTTP paths
#    3  the search export bucket not replicated (transient copies of the table; 3 packs)
#    3  the Search stack's two functions (role mappings, index sweep; they cannot share the Api
#       stack's baseline without a cycle): their baseline policy's two IAM5 as above, and their
#       dead-letter queue without a dead-letter queue, where features.search (dev, prod)
ACKNOWLEDGEMENT_BUDGET = 53

# The same for AWS Control Tower's controls (the cfn-guard plugin), counted apart. Today 13
# in sandbox, 18 in prod, 20 in dev (docs/security-review.md):
#    8  CT.LAMBDA.PR.3 one per function: the VPC comes through Fn::GetStackOutput (+2 for the
#       Search stack's role-mapping and sweep functions where features.search)
#    1  CT.LAMBDA.PR.2 on the REST API's root: invoke permissions' SourceArn is an Fn::Join
#    3  access-log bucket: SSE-S3 only (CT.S3.PR.10), no log of the log (PR.2), no Object Lock (PR.9)
#    1  documents bucket: no Object Lock, documents are purgeable (CT.S3.PR.9)
#    1  CT.DAX.PR.2 on a DAX cluster of fewer than 3 nodes (dev's one node): only where the config
#       allows it, never in a termination-protected environment (stacks/config.py refuses that)
#    1  CT.OPENSEARCH.PR.16 where features.search: the rule accepts only TLS-1-2-2019-07, Folio
#       uses the stricter TLS-1-2-PFS-2023-10
#    1  CT.OPENSEARCH.PR.14 on a domain of one node in one AZ (dev): as CT.DAX.PR.2 above
#    2  search export bucket, where features.search: no Object Lock (exports and dead letters expire,
#       PR.9); logging into the Data stack's bucket via Fn::GetStackOutput, which PR.2 cannot read
CONTROL_TOWER_ACKNOWLEDGEMENT_BUDGET = 20

# The same two budgets for each regional serving stage (stacks/regional_serving_stage.py), counted
# apart from its environment's: the findings above that its Network stack and its read-only Api
# stack (three functions, no workers, no search) keep. Today 17 (sandbox) or 19 cdk-nag:
#    2  IAM5 on the functions' baseline policy ("*" and network-interface/*)
#    2  IAM5 on the API Gateway logging role, where api.manage_account_logging_role (dev, prod)
#    1  IAM5 documents/* on the download function (the home Region's bucket)
#    6  API stage, 3 cursor secret, 3 VPC default security group, 1 dead-letter queue, 1 alarm topic
# and 4 or 5 Control Tower: CT.LAMBDA.PR.3 on each of the three functions, CT.LAMBDA.PR.2 on the
# API's root, CT.DAX.PR.2 on dev's one-node cluster.
SERVING_ACKNOWLEDGEMENT_BUDGET = 19
SERVING_CONTROL_TOWER_ACKNOWLEDGEMENT_BUDGET = 5


# Acknowledgements aws-cdk-lib makes itself, for its built-in CloudFormation validator:
# listed, but not Folio's to reason about. Anything else outside the nag packs fails.
LIBRARY_ACKNOWLEDGEMENTS = {
    ("CloudFormation-Validate", "W3010"),  # AZs resolved from cdk.context.json
    ("CloudFormation-Validate", "F3002"),  # FlowLog DestinationOptions casing, per aws-cdk-lib
    ("CloudFormation-Validate", "F3003"),  # the same property, the same reason
}


@dataclass(frozen=True)
class Acknowledgement:
    pack: str
    finding: str
    path: str
    reason: str
    on_stack_or_stage: bool


def acknowledgements(synth: Synthesized) -> list[Acknowledgement]:
    """Every acknowledgement recorded in the stage's construct tree."""
    found = []
    for construct in synth.stage.node.find_all():
        for entry in construct.node.metadata:
            if entry.type != cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                continue
            for rule_id, reason in entry.data.items():
                pack, _, finding = rule_id.partition("::")
                scoped_too_wide = isinstance(construct, (cdk.Stack, cdk.Stage))
                found.append(Acknowledgement(pack, finding, construct.node.path, reason, scoped_too_wide))
    return found


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_environment_synthesizes_with_no_unacknowledged_findings(
    environment: str, synthesized: Callable[[str], Synthesized]
) -> None:
    synth = synthesized(environment)  # raises ValidationFailed on any finding
    app_directory = synth.assembly_directory.parent

    assert validation_failures(str(app_directory)) == []


@pytest.mark.parametrize("stage", STAGES)
def test_acknowledgements_are_listed_specific_and_within_budget(
    stage: str, synthesized_stage: Callable[[str], Synthesized]
) -> None:
    synth = synthesized_stage(stage)
    serving = isinstance(synth.stage, RegionalServingStage)
    budget = SERVING_ACKNOWLEDGEMENT_BUDGET if serving else ACKNOWLEDGEMENT_BUDGET
    control_tower_budget = (
        SERVING_CONTROL_TOWER_ACKNOWLEDGEMENT_BUDGET if serving else CONTROL_TOWER_ACKNOWLEDGEMENT_BUDGET
    )
    everything = acknowledgements(synth)
    found = [a for a in everything if (a.pack, a.finding) not in LIBRARY_ACKNOWLEDGEMENTS]
    controls = [a for a in found if a.pack == CONTROL_TOWER_PLUGIN]
    found = [a for a in found if a.pack != CONTROL_TOWER_PLUGIN]

    print(
        f"\n{stage}: {len(found)} cdk-nag and {len(controls)} Control Tower acknowledgement(s) "
        f"(+{len(everything) - len(found) - len(controls)} by aws-cdk-lib)"
    )
    for ack in everything:
        print(f"  {ack.pack:15} {ack.finding}\n    at {ack.path}\n    because {ack.reason}")
    assert len(controls) <= control_tower_budget
    rules = bundled_control_tower_rules()
    for ack in controls:
        assert ack.finding in rules, f"{ack.finding} is no Control Tower rule bundled with the plugin"
        assert len(ack.reason) >= 60
        assert not ack.on_stack_or_stage, f"{ack.path} is a stack or stage; acknowledge on the resource"
    assert len(found) <= budget
    for ack in found:
        assert ack.pack in PACK_NAMES
        assert ack.finding.startswith(ack.pack + "-")
        if ack.finding.startswith(("AwsSolutions-IAM5", "AwsSolutions-IAM4")):
            assert "[" in ack.finding, f"{ack.finding} must name the exact resource or policy it accepts"
        assert len(ack.reason) >= 60
        assert not ack.on_stack_or_stage, f"{ack.path} is a stack or stage; acknowledge on the resource"


def bundled_control_tower_rules() -> dict[str, str]:
    """Guard rule name -> Control Tower control id, for every rule shipped in the plugin package."""
    (package,) = Path(control_tower_package.__file__).parent.glob("*.jsii.tgz")
    rules = {}
    with tarfile.open(package) as archive:
        for member in archive:
            if member.name.endswith(".guard") and "/control-tower/" in member.name:
                text = archive.extractfile(member).read().decode()  # type: ignore[union-attr]
                control = re.search(r"\[(CT\.[A-Z0-9]+\.PR\.[0-9]+)\]", text)
                for rule in re.findall(r"^rule (\w+) when", text, re.MULTILINE):
                    rules[rule] = control.group(1) if control else ""
    return rules


def test_control_tower_findings_name_a_bundled_rule_and_its_control() -> None:
    rules = bundled_control_tower_rules()
    findings = [v for value in vars(nag).values() for v in (value if isinstance(value, tuple) else (value,))]
    controls = [f for f in findings if isinstance(f, Finding) and f.pack == CONTROL_TOWER_PLUGIN]

    assert controls, "stacks/nag.py acknowledges no Control Tower control: nothing to check"
    assert rules["kms_create_grant_aws_service_check"] == "CT.KMS.PR.3"
    for finding in controls:
        assert rules.get(finding.finding) == finding.control, f"{finding.finding} is not {finding.control}'s rule"


def test_only_stacks_nag_calls_validations_acknowledge() -> None:
    offenders = []
    for path in [PROJECT_ROOT / "app.py", *(PROJECT_ROOT / "stacks").rglob("*.py")]:
        if path.name == "nag.py" and path.parent.name == "stacks":
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            # nag.acknowledge(...) is the sanctioned way; Validations...acknowledge is not.
            sanctioned = isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "nag"
            if isinstance(node, ast.Attribute) and node.attr in ("acknowledge", "Acknowledgment") and not sanctioned:
                offenders.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}")

    assert offenders == []


def test_acknowledging_a_whole_stack_is_refused() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "S")
    finding = Finding(pack="AwsSolutions", finding="AwsSolutions-SQS3", reason="x" * 60)

    with pytest.raises(ValueError, match="on the resource that raises it"):
        acknowledge(stack, finding)


@pytest.mark.parametrize(
    ("pack", "finding", "reason"),
    [
        ("AwsSolution", "AwsSolution-IAM5", "r" * 60),
        ("AwsSolutions", "Serverless-LambdaTracing", "r" * 60),
        ("AwsSolutions", "AwsSolutions-IAM5[Resource::*]", "it is fine"),
    ],
)
def test_vague_or_mismatched_acknowledgements_are_refused(pack: str, finding: str, reason: str) -> None:
    with pytest.raises(ValueError):
        Finding(pack=pack, finding=finding, reason=reason)


@pytest.mark.parametrize(
    ("finding", "control", "reason"),
    [
        ("lambda_inside_vpc_check", "", "r" * 60),  # no control id
        ("lambda_inside_vpc_check", "CT.LAMBDA.3", "r" * 60),
        ("CT.LAMBDA.PR.3", "CT.LAMBDA.PR.3", "r" * 60),  # the control id, not the rule the plugin reports
        ("lambda_inside_vpc_check", "CT.LAMBDA.PR.3", "it is fine"),
    ],
)
def test_vague_control_tower_acknowledgements_are_refused(finding: str, control: str, reason: str) -> None:
    with pytest.raises(ValueError):
        Finding(pack=CONTROL_TOWER_PLUGIN, finding=finding, control=control, reason=reason)


@pytest.fixture(scope="module")
def non_compliant_assembly(non_compliant_synths: NonCompliantSynths) -> Path:
    """A FolioStage and its regional serving stage, each with a non-compliant stack added
    (tests/support/non_compliant.py), synthesized once by a process of its own, which must
    have failed on validation."""
    return non_compliant_synths.failed_on_validation("environment")


@pytest.fixture(scope="module")
def non_compliant_findings(non_compliant_assembly: Path) -> set[tuple[str, str, str]]:
    """(plugin, rule, construct path) of every finding in a FolioStage with a non-compliant stack."""
    report = json.loads((non_compliant_assembly / "validation-report.json").read_text())
    return {
        (plugin["pluginName"], violation["ruleName"], construct["constructPath"])
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
        for construct in violation["violatingConstructs"]
    }


@pytest.mark.parametrize("pack", [*PACK_NAMES, CONTROL_TOWER_PLUGIN])
@pytest.mark.parametrize("stage", ["FolioSandbox", "FolioSandbox-Serving-us-west-2"])
def test_every_pack_checks_stacks_inside_a_folio_stage_and_a_serving_stage(
    pack: str, stage: str, non_compliant_findings: set[tuple[str, str, str]]
) -> None:
    paths = {path for plugin, _, path in non_compliant_findings if plugin == pack}

    assert any(p.startswith(f"{stage}/NonCompliant/") for p in paths), f"{pack} saw nothing wrong: {paths}"
    real_stacks = {p for p in paths if p.startswith(f"{stage}/") and not p.startswith(f"{stage}/NonCompliant/")}
    assert real_stacks == set(), "the real stacks must stay clean"


def test_control_tower_flags_a_key_that_lets_anyone_create_grants(
    non_compliant_findings: set[tuple[str, str, str]],
) -> None:
    assert (
        CONTROL_TOWER_PLUGIN,
        "kms_create_grant_aws_service_check",
        "FolioSandbox/NonCompliant/PlainKey",
    ) in non_compliant_findings


def test_control_tower_in_parallel_reports_exactly_what_the_unmodified_plugin_with_every_rule_reports(
    non_compliant_synths: NonCompliantSynths,
) -> None:
    """Folio splits the templates between processes, each without the rules for resource types
    its templates do not hold; the report must be the plugin's own over every rule (here over
    templates full of findings): same violations, same fields, same order. Both runs happen in
    the process that synthesized them (tests/support/non_compliant_synth.py)."""
    runs = non_compliant_synths.control_tower_runs()
    every_rule = runs["every_rule"]

    # Enough findings, of enough different rules, in enough templates, that a lost one would show.
    found = {(v["rule"], r[1]) for v in every_rule["violations"] for r in v["resources"]}
    assert len(found) > 25
    assert len({rule for rule, _ in found}) > 5
    assert len({r[0] for v in every_rule["violations"] for r in v["resources"]}) > 3
    assert runs["as_folio_runs_it"] == every_rule


def test_control_tower_reports_read_back_from_the_cache_are_the_plugins_own(
    non_compliant_synths: NonCompliantSynths,
) -> None:
    """A template's report is kept by its bytes (stacks/control_tower.py, kept_reports): filling
    an empty cache reports what the plugin reports, and reading it back (the plugin made to fail)
    reports the same, naming the templates where they are now."""
    runs = non_compliant_synths.control_tower_runs()
    every_rule = runs["every_rule"]
    templates = {r[0] for v in every_rule["violations"] for r in v["resources"]}

    assert runs["filling_a_cache"] == every_rule
    assert runs["cache_entries"] >= len(templates) > 3
    assert runs["read_back"] == every_rule
    # The copies' report names the copies: the same relative paths under the other directory.
    assembly = os.path.realpath(non_compliant_synths.failed_on_validation("environment"))
    relocated = json.loads(json.dumps(every_rule))
    for violation in relocated["violations"]:
        for resource in violation["resources"]:
            resource[0] = os.path.join(runs["elsewhere"], os.path.relpath(resource[0], assembly))
    assert runs["read_back_elsewhere"] == relocated


def test_a_synth_by_a_new_process_fails_on_a_finding_of_cloudformation_validation(
    non_compliant_synths: NonCompliantSynths,
) -> None:
    """The test session's own synths leave aws-cdk-lib's CloudFormation validation out (it costs a
    process about 4 s); the synths by a new process (app.py's, the second synth) keep it, built
    as `folio_app` builds them: a stack whose one finding is the validation's fails the synth."""
    outdir = non_compliant_synths.failed_on_validation("cloudformation-validate")
    report = json.loads((outdir / "validation-report.json").read_text())

    failures = [
        (plugin["pluginName"], violation["ruleName"], construct["constructPath"])
        for plugin in report["pluginReports"]
        if plugin["conclusion"] == "failure"
        for violation in plugin["violations"]
        for construct in violation["violatingConstructs"]
    ]
    # Once: Folio's run of the plugin, with the App's built-in copy off (stacks/nag.py, checked_app).
    assert failures == [("CloudFormation Validate", "F3034", "Probe/Queues/Queue")]


def test_cloudformation_validation_in_its_own_process_reports_exactly_what_aws_cdk_libs_plugin_reports(
    non_compliant_synths: NonCompliantSynths,
) -> None:
    """Folio runs aws-cdk-lib's plugin in a process of its own, one template at a time, and merges
    the reports (stacks/cloudformation_validation.py); the report must be the plugin's own over all
    the templates at once (here two stacks, in two accounts and Regions, with findings of every
    kind): same violations, same fields, same order. Both runs happen in the process that
    synthesized them (tests/support/non_compliant_synth.py)."""
    runs = non_compliant_synths.cloudformation_validation_runs()
    builtin = runs["builtin"]

    # Errors and warnings; on resources and on the stack itself; one finding in both templates.
    assert {v["severity"] for v in builtin["violations"]} == {"error", "warning"}
    on_the_stack = [r for v in builtin["violations"] for r in v["resources"] if r[1] is None]
    assert len(on_the_stack) >= 2 and all(r[3] for r in on_the_stack)
    assert any(len({r[0] for r in v["resources"]}) == 2 for v in builtin["violations"])
    assert len(builtin["violations"]) >= 6
    assert runs["as_folio_runs_it"] == builtin
    assert runs["filling_a_cache"] == builtin


def test_cloudformation_validation_reports_read_back_from_the_cache_are_the_plugins_own(
    non_compliant_synths: NonCompliantSynths,
) -> None:
    """Each template's report is kept by its bytes, account and Region: read back (the plugin made
    to fail), the report is the plugin's own, naming the templates and stacks where they are now."""
    runs = non_compliant_synths.cloudformation_validation_runs()
    builtin = runs["builtin"]

    assert runs["cache_entries"] == 2
    assert runs["read_back"] == builtin
    assembly = os.path.realpath(non_compliant_synths.failed_on_validation("cloudformation-findings"))
    relocated = json.loads(json.dumps(builtin))
    for violation in relocated["violations"]:
        for resource in violation["resources"]:
            resource[0] = os.path.join(runs["elsewhere"], os.path.relpath(resource[0], assembly))
            resource[3] = f"Elsewhere/{resource[3]}" if resource[3] else None
    assert runs["read_back_elsewhere"] == relocated


def test_control_tower_runs_its_partitions_at_the_same_time(
    non_compliant_assembly: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a record of when each cfn-guard process starts and is waited for
    events: list[str] = []
    real_popen = subprocess.Popen

    class RecordedPopen(real_popen):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            events.append("start")

        def communicate(self, *args: Any, **kwargs: Any) -> Any:
            events.append("wait")
            return super().communicate(*args, **kwargs)

    # Only control_tower's own reference: the background lane starts its jobs with the real module
    # meanwhile, and a process-wide patch would record those too.
    recorded = types.SimpleNamespace(Popen=RecordedPopen, PIPE=subprocess.PIPE)
    monkeypatch.setattr(control_tower, "subprocess", recorded)
    templates = [str(p) for p in sorted(non_compliant_assembly.glob("assembly-*/*.template.json"))]

    # When the controls validate more templates than there are processes (no report cache)
    ControlTowerControls(report_cache=None).validate(cast(Any, TemplatePaths(templates)))

    # Then every process starts before the first is waited for
    processes = control_tower.GUARD_PROCESSES
    assert len(templates) > processes > 1
    assert events == ["start"] * processes + ["wait"] * processes


@pytest.mark.parametrize("costs", [[5, 1, 1, 1, 1, 1], [9, 8, 7, 1], [3], [4, 4, 4, 4, 4], [100, 1, 1]])
def test_templates_are_split_into_balanced_partitions_that_hold_each_one_once(costs: list[int]) -> None:
    templates = {f"T{index}.template.json": cost for index, cost in enumerate(costs)}

    partitions = control_tower.balanced_partitions(templates, 2)

    assert sorted(t for partition in partitions for t in partition) == sorted(templates)
    assert all(partitions) and len(partitions) == min(2, len(templates))
    loads = sorted(sum(templates[t] for t in partition) for partition in partitions)
    assert loads[-1] - loads[0] <= max(costs)  # no better split moves one template


def test_each_plugin_run_gets_only_templates_whose_rules_that_can_apply_are_the_same(
    non_compliant_assembly: Path,
) -> None:
    templates = [str(p) for p in sorted(non_compliant_assembly.glob("assembly-*/*.template.json"))]

    partitions = control_tower.guard_jobs(templates, 2)

    jobs = [job for partition in partitions for job in partition]
    assert sorted(t for job in jobs for t in job["templatePaths"]) == sorted(templates)
    for job in jobs:
        for template in job["templatePaths"]:
            assert job["disabledRules"] == list(control_tower.rules_that_cannot_apply(template))
    assert len({tuple(job["disabledRules"]) for job in jobs}) > 2, "templates of different kinds, to tell apart"


def test_a_plugin_run_that_fails_fails_the_validation_with_its_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a plugin whose code throws (as it does when cfn-guard exits with an error)
    broken = tmp_path / "plugin"
    (broken / "lib").mkdir(parents=True)
    (broken / "lib" / "plugin.js").write_text('throw new Error("cfn-guard is not here");\n')
    monkeypatch.setattr(control_tower, "unpacked_plugin", lambda: broken)
    monkeypatch.setattr(control_tower, "control_tower_rule_types", dict)  # its cache keeps the real rules
    template = tmp_path / "Stack.template.json"
    template.write_text(json.dumps({"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}}))

    # When the controls validate, Then they raise with the plugin's own words, never an empty report
    with pytest.raises(control_tower.ControlTowerPluginFailed, match="cfn-guard is not here"):
        ControlTowerControls(report_cache=tmp_path / "reports").validate(cast(Any, TemplatePaths([str(template)])))


def test_a_plugin_that_did_not_run_fails_the_synth(tmp_path: Path) -> None:
    report = {
        "pluginReports": [
            {"pluginName": "cdk-validator-cfnguard", "conclusion": "failure", "metadata": {"error": "boom"}}
        ]
    }
    (tmp_path / "validation-report.json").write_text(json.dumps(report))

    assert validation_failures(str(tmp_path)) == ["cdk-validator-cfnguard did not run: boom"]


def test_a_failed_verdict_whose_violations_name_no_construct_fails_the_synth(tmp_path: Path) -> None:
    violation = {"ruleName": "some_check", "description": "d", "violatingConstructs": []}
    report = {"pluginReports": [{"pluginName": "cdk-validator-cfnguard", "conclusion": "failure",
                                 "violations": [violation]}]}  # fmt: skip
    (tmp_path / "validation-report.json").write_text(json.dumps(report))

    assert validation_failures(str(tmp_path)) == ["cdk-validator-cfnguard did not run: no finding named"]


def test_cli_process_mode_findings_are_caught_by_app_py(non_compliant_synths: NonCompliantSynths) -> None:
    """Under the CDK CLI the app runs in "process" mode, where aws-cdk-lib does not raise on
    findings; app.py must still fail. Reproduce that mode (a sandbox FolioStage with a non-compliant
    stack, synthesized in process mode by tests/support/non_compliant_synth.py, which fails if the
    synth raises) and check what app.py relies on."""
    failures = non_compliant_synths.process_mode_failures()

    assert failures, "validation_failures() must see what process mode swallows"
    assert any(
        f.startswith("kms_create_grant_aws_service_check at FolioSandbox/NonCompliant/PlainKey") for f in failures
    )
    named = [f for f in failures if "the plugin could not name" not in f]
    assert all("FolioSandbox/NonCompliant/" in f for f in named)


# --- The report cache (stacks/report_cache.py), as Control Tower keeps its reports ------------------


def _template(directory: Path, resources: dict[str, Any], name: str = "Stack") -> str:
    path = directory / f"{name}.template.json"
    path.write_text(json.dumps({"Resources": resources}))
    return str(path)


A_VIOLATION = {"ruleName": "some_check", "description": "d", "violatingResources": [
    {"resourceLogicalId": "Queue", "templatePath": "/elsewhere/Stack.template.json", "locations": ["/Properties"]}
]}  # fmt: skip


def _read(cache: report_cache.ReportCache, template: str) -> report_cache.TemplateReport | None:
    return cache.read(cache.key(template))


def _no_plugin(template_paths: list[str]) -> Any:
    raise AssertionError(f"the plugin ran on {template_paths}")


def test_a_report_is_read_back_only_for_the_same_template_bytes_and_plugin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a report kept for a template
    cache = control_tower.kept_reports(tmp_path / "reports")
    template = _template(tmp_path, {"Queue": {"Type": "AWS::SQS::Queue"}})
    cache.write(cache.key(template), report_cache.TemplateReport(False, [A_VIOLATION]))

    # Then the check reads it back (the plugin does not run), naming the template where it is, and
    # the entry does not hold the path
    monkeypatch.setattr(control_tower, "start_plugin_in_parallel", _no_plugin)
    report = control_tower.check_templates([template], cache)
    assert report["success"] is False
    assert report["violations"][0]["violatingResources"][0]["templatePath"] == os.path.realpath(template)
    assert "/elsewhere/" not in "".join(p.read_text() for p in (tmp_path / "reports").iterdir())
    # And not for another plugin package, nor another way of running it, nor the template with one
    # byte changed
    monkeypatch.setattr(control_tower, "_plugin_digest", lambda: "another plugin")
    assert _read(cache, template) is None
    monkeypatch.undo()
    monkeypatch.setattr(control_tower, "_recipe_digest", lambda: "another recipe")
    assert _read(cache, template) is None
    monkeypatch.undo()
    _template(tmp_path, {"Queue": {"Type": "AWS::SQS::Queuf"}})
    assert _read(cache, template) is None


NOT_REPORTS = [
    "",
    "{",
    "[]",
    '{"violations": []}',
    '{"success": "yes", "violations": []}',
    '{"success": false, "violations": []}',  # a failure with no violation: the plugin never reports one
    '{"success": true, "violations": [' + json.dumps(A_VIOLATION) + "]}",  # a pass with a violation
    '{"success": false, "violations": [{"ruleName": "r", "violatingResources": []}]}',  # no description
]


@pytest.mark.parametrize("entry", NOT_REPORTS)
def test_an_entry_that_is_not_a_report_counts_as_missing(tmp_path: Path, entry: str) -> None:
    cache = control_tower.kept_reports(tmp_path)
    template = _template(tmp_path, {"Queue": {"Type": "AWS::SQS::Queue"}})
    (tmp_path / f"{cache.key(template)}.json").write_text(entry)

    assert _read(cache, template) is None


def test_a_template_the_plugin_gave_no_verdict_for_fails_the_check_and_is_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two templates, and a plugin run whose failed job names a violation in only one of them
    # (RunningControls.reports leaves the other out: the job's failure may be its)
    first = _template(tmp_path, {"A": {"Type": "AWS::SQS::Queue"}}, name="First")
    second = _template(tmp_path, {"B": {"Type": "AWS::SNS::Topic"}}, name="Second")
    found = report_cache.TemplateReport(False, [A_VIOLATION])
    monkeypatch.setattr(  # given the templates' snapshots, in order: the first is First's
        control_tower,
        "start_plugin_in_parallel",
        lambda paths: types.SimpleNamespace(reports=lambda: {paths[0]: found}),
    )
    cache = control_tower.kept_reports(tmp_path / "reports")

    # When the templates are checked
    report = control_tower.check_templates([first, second], cache)

    # Then the check fails, and only the template with a verdict is kept
    located = report_cache.located(found, os.path.realpath(first))
    assert report == {"success": False, "violations": located.violations}
    assert _read(cache, first) is not None and _read(cache, second) is None


def test_reports_unused_for_the_pruning_age_are_removed_and_a_read_keeps_one(tmp_path: Path) -> None:
    # Given three kept reports, all last used longer ago than the pruning age
    cache = control_tower.kept_reports(tmp_path / "reports")
    templates = [_template(tmp_path, {f"Queue{i}": {"Type": "AWS::SQS::Queue"}}, name=f"T{i}") for i in range(3)]
    for template in templates:
        cache.write(cache.key(template), report_cache.TemplateReport(True, []))
    long_ago = time.time() - (report_cache.UNUSED_ENTRY_DAYS + 1) * 86400
    for entry in (tmp_path / "reports").iterdir():
        os.utime(entry, (long_ago, long_ago))

    # When one is read back, another rewritten, and the cache pruned
    assert _read(cache, templates[0]) is not None
    cache.write(cache.key(templates[1]), report_cache.TemplateReport(True, []))
    cache.prune()

    # Then only the unused one is gone
    assert [_read(cache, t) is not None for t in templates] == [True, True, False]


def _fake_plugin(directory: Path, validate_body: str) -> Path:
    """A plugin package whose CfnGuardValidator.validate({ templatePaths }) runs `validate_body`."""
    plugin = directory / "plugin"
    (plugin / "lib").mkdir(parents=True)
    (plugin / "lib" / "plugin.js").write_text(
        "exports.CfnGuardValidator = class { validate({ templatePaths }) { " + validate_body + " } };\n"
    )
    return plugin


A_VIOLATION_IN_THE_FIRST = (
    "return { success: false, violations: templatePaths.filter((t) => t.includes('First')).map((t) => ("
    "{ ruleName: 'r', description: 'd', violatingResources: [{ resourceLogicalId: 'A', templatePath: t, "
    "locations: ['/Properties'] }] })) };"
)


@pytest.mark.parametrize(
    ("validate_body", "kept"),
    [("return { success: false, violations: [] };", [False, False]), (A_VIOLATION_IN_THE_FIRST, [True, False])],
    ids=["no-violation", "a-violation-in-one"],
)
def test_a_failed_plugin_run_fails_the_check_and_keeps_no_verdict_it_cannot_attribute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, validate_body: str, kept: list[bool]
) -> None:
    # Given one plugin run over two templates that fails, with a violation in neither or in the first
    plugin = _fake_plugin(tmp_path, validate_body)
    monkeypatch.setattr(control_tower, "unpacked_plugin", lambda: plugin)
    monkeypatch.setattr(control_tower, "control_tower_rule_types", dict)  # its cache keeps the real rules
    monkeypatch.setattr(control_tower, "GUARD_PROCESSES", 1)  # both templates in one run
    first = _template(tmp_path, {"A": {"Type": "AWS::SQS::Queue"}}, name="First")
    second = _template(tmp_path, {"B": {"Type": "AWS::SNS::Topic"}}, name="Second")
    cache = control_tower.kept_reports(tmp_path / "reports")

    # When the templates are checked, twice
    reports = [control_tower.check_templates([first, second], cache) for _ in range(2)]

    # Then both checks fail, and only a template the failure names keeps its verdict
    assert [report["success"] for report in reports] == [False, False]
    assert [_read(cache, t) is not None for t in (first, second)] == kept


def test_a_report_read_through_a_symlink_names_the_template_as_cfn_guard_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a report kept for a template, and a symlink to its directory
    real = tmp_path / "real"
    real.mkdir()
    template = _template(real, {"Queue": {"Type": "AWS::SQS::Queue"}})
    cache = control_tower.kept_reports(tmp_path / "reports")
    cache.write(cache.key(template), report_cache.TemplateReport(False, [A_VIOLATION]))
    (tmp_path / "link").symlink_to(real)

    # When it is read back through the symlink
    monkeypatch.setattr(control_tower, "start_plugin_in_parallel", _no_plugin)
    report = control_tower.check_templates([str(tmp_path / "link" / "Stack.template.json")], cache)

    # Then it names the real path (cfn-guard reports every template by its realpath)
    assert report["violations"][0]["violatingResources"][0]["templatePath"] == str(real / "Stack.template.json")


# --- aws-cdk-lib's CloudFormation validation beside Control Tower (stacks/cloudformation_validation.py)


def _stacks(*templates: tuple[str, str, str]) -> Any:
    """A plugin context over (template, account, Region) stacks, as aws-cdk-lib hands it."""
    stacks = [
        cdk.PolicyValidationStack(stack_construct_path=f"S{i}", template_path=t, account_id=a, region=r)
        for i, (t, a, r) in enumerate(templates)
    ]
    return cast(Any, StackTemplates(stacks, cdk.App()))


@pytest.mark.parametrize(
    ("success", "severity", "kept"),
    [(False, "error", True), (True, "warning", True), (True, "error", False), (False, "warning", False)],
)
def test_a_kept_validation_report_whose_verdict_contradicts_its_severities_counts_as_missing(
    tmp_path: Path, success: bool, severity: str, kept: bool
) -> None:
    cache = cloudformation_validation.kept_reports(tmp_path / "reports")
    template = _template(tmp_path, {"Queue": {"Type": "AWS::SQS::Queue"}})
    key = cache.key(template, "111111111111", "us-east-1")
    cache.write(key, report_cache.TemplateReport(success, [{**A_VIOLATION, "severity": severity}]))

    assert (cache.read(key) is not None) == kept


def test_a_validation_that_cannot_run_fails_with_its_reason_and_keeps_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an aws-cdk-lib whose validation plugin throws
    library = tmp_path / "library"
    plugin_module = library / "core/lib/validation/cloudformation-validate-plugin.js"
    plugin_module.parent.mkdir(parents=True)
    plugin_module.write_text(
        "exports.CloudFormationValidatePlugin = class { validate() { throw new Error('the engine is not here'); } };\n"
    )
    monkeypatch.setattr(cloudformation_validation, "unpacked_library", lambda: library)
    template = _template(tmp_path, {"Queue": {"Type": "AWS::SQS::Queue"}})
    validation = cloudformation_validation.CloudFormationValidation(report_cache=tmp_path / "reports")

    # Then validating fails, saying why, and no report is kept
    with pytest.raises(cloudformation_validation.CloudFormationValidationFailed, match="the engine is not here"):
        validation.validate(_stacks((template, "111111111111", "us-east-1")))
    assert not list((tmp_path / "reports").glob("*.json"))


def test_control_tower_starts_the_validation_before_its_own_processes_and_the_validation_uses_that_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the validation started beside Control Tower, with both checks recorded
    events: list[str] = []
    real_running = cloudformation_validation.RunningValidation

    class RecordedRun(real_running):  # type: ignore[misc, valid-type]
        def __init__(self, templates: Any) -> None:
            events.append(f"validation started on {len(templates)}")
            super().__init__(templates)

    def controls(template_paths: list[str], cache: Any, ahead: Any) -> dict[str, Any]:
        events.append(f"controls ran on {len(template_paths)}")
        return {"success": True, "violations": []}

    monkeypatch.setattr(cloudformation_validation, "RunningValidation", RecordedRun)
    monkeypatch.setattr(control_tower, "check_templates", controls)
    validation = cloudformation_validation.CloudFormationValidation(report_cache=tmp_path / "reports")
    tower = ControlTowerControls(report_cache=None, started_beside=[validation])
    first = _template(tmp_path, {"A": {"Type": "AWS::SQS::Queue"}}, name="First")
    second = _template(tmp_path, {"B": {"Type": "AWS::SNS::Topic"}}, name="Second")
    context = _stacks((first, "111111111111", "us-east-1"), (second, "222222222222", "eu-west-1"))

    # When aws-cdk-lib calls the plugins in turn, then again (every report kept)
    for _ in range(2):
        tower.validate(context)
        assert validation.validate(context).success

    # Then the validation started before the controls ran, once, and never after its reports were kept
    assert events == ["validation started on 2", "controls ran on 2", "controls ran on 2"]


# --- Control Tower's checks ahead of the App's synth (stacks/nag.py, check_ahead) -------------------


def test_every_stage_the_pipeline_deploys_is_offered_for_checking_ahead(
    synthesized_pipeline: SynthesizedPipeline,
) -> None:
    stack = synthesized_pipeline.stack
    controls = nag.control_tower_of(stack)
    deployed = [child for child in stack.node.children if isinstance(child, cdk.Stage)]

    assert controls is not None
    assert len(deployed) >= 4  # the test stage, the production stage and their regional stages
    templates = {s.template_full_path for stage in deployed for s in stage.synth().stacks_recursively}
    assert sorted(controls.offered_ahead) == sorted(templates)


class _RecordedStarts:
    """start_plugin_in_parallel, recording the templates each start is given."""

    def __init__(self) -> None:
        self.given: list[list[str]] = []

    def __call__(self, template_paths: list[str]) -> Any:
        self.given.append([Path(t).name for t in template_paths])  # snapshots of the templates
        return types.SimpleNamespace(reports=lambda: {t: report_cache.TemplateReport(True, []) for t in template_paths})


@dataclass
class _Lanes:
    """Control Tower's plugin over `templates` with a report cache, its runs ahead (RunningControls
    with one process) and at the synth (start_plugin_in_parallel) both faked: every template clean,
    the templates each is given recorded."""

    templates: list[str]
    controls: ControlTowerControls
    checked_ahead: list[str]
    started_at_the_synth: _RecordedStarts


def _lanes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, count: int, started: threading.Event | None = None
) -> _Lanes:
    checked_ahead: list[str] = []
    _queued_reports(monkeypatch, checked_ahead, started)
    starts = _RecordedStarts()
    monkeypatch.setattr(control_tower, "start_plugin_in_parallel", starts)
    templates = [_template(tmp_path, {f"Q{i}": {"Type": "AWS::SQS::Queue"}}, name=f"T{i}") for i in range(count)]
    return _Lanes(templates, ControlTowerControls(report_cache=tmp_path / "reports"), checked_ahead, starts)


def _queued_reports(
    monkeypatch: pytest.MonkeyPatch, checked: list[str], started: threading.Event | None = None
) -> None:
    """Runs queued ahead (RunningControls with one process) report every template clean, recording
    them; `started` is set when one starts."""

    class Clean:
        def __init__(self, template_paths: list[str], processes: int) -> None:
            assert processes == 1
            self.template_paths = template_paths
            if started is not None:
                started.set()

        def reports(self) -> dict[str, report_cache.TemplateReport]:
            checked.extend(Path(t).name for t in self.template_paths)  # snapshots of the templates
            return {t: report_cache.TemplateReport(True, []) for t in self.template_paths}

    monkeypatch.setattr(control_tower, "RunningControls", Clean)


def test_templates_checked_ahead_are_read_back_and_only_the_rest_are_checked_at_the_synth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two templates checked ahead on a lane (the check has started), and a third that was not
    started = threading.Event()
    lanes = _lanes(tmp_path, monkeypatch, 3, started)
    with ThreadPoolExecutor(max_workers=1) as lane:
        lanes.controls.check_ahead(lanes.templates[:2], lane)
        assert started.wait(30)

        # When the App's synth checks all three
        report = lanes.controls.validate(cast(Any, TemplatePaths(lanes.templates)))

    # Then the plugin ran ahead on the two, at the synth on the third only, and every report counts
    names = [Path(t).name for t in lanes.templates]
    assert lanes.checked_ahead == names[:2]
    assert lanes.started_at_the_synth.given == [names[2:]]
    assert report.success


def test_a_check_still_queued_at_the_synth_is_called_off_and_its_templates_are_checked_with_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a lane busy with another job, and a check queued behind it
    lanes = _lanes(tmp_path, monkeypatch, 2)
    busy = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as lane:
        lane.submit(busy.wait, 30)
        lanes.controls.check_ahead(lanes.templates[:1], lane)

        # When the App's synth checks both while the lane is still busy
        report = lanes.controls.validate(cast(Any, TemplatePaths(lanes.templates)))
        busy.set()

    # Then the queued check never ran: the synth checked both templates at once
    assert lanes.checked_ahead == []
    assert lanes.started_at_the_synth.given == [[Path(t).name for t in lanes.templates]]
    assert report.success


def test_a_check_ahead_that_failed_is_run_again_at_the_synth_where_its_failure_fails_the_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a plugin that fails (and logs each run), and a template checked ahead with it
    runs = tmp_path / "runs.log"
    plugin = _fake_plugin(
        tmp_path, f"require('fs').appendFileSync({str(runs)!r}, 'ran\\n'); throw new Error('cfn-guard is not here');"
    )
    monkeypatch.setattr(control_tower, "unpacked_plugin", lambda: plugin)
    monkeypatch.setattr(control_tower, "control_tower_rule_types", dict)
    template = _template(tmp_path, {"Q": {"Type": "AWS::SQS::Queue"}})
    controls = ControlTowerControls(report_cache=tmp_path / "reports")
    with ThreadPoolExecutor(max_workers=1) as lane:
        controls.check_ahead([template], lane)

        # Then the App's synth checks it again, and fails saying why
        with pytest.raises(control_tower.ControlTowerPluginFailed, match="cfn-guard is not here"):
            controls.validate(cast(Any, TemplatePaths([template])))
    assert runs.read_text() == "ran\nran\n"
    assert not list((tmp_path / "reports").glob("*.json"))


def test_nothing_is_checked_ahead_without_a_report_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lanes = _lanes(tmp_path, monkeypatch, 1)
    with ThreadPoolExecutor(max_workers=1) as lane:
        ControlTowerControls(report_cache=None).check_ahead(lanes.templates, lane)

    assert lanes.checked_ahead == []


A_PLUGIN_THAT_READS_THE_TEMPLATES = (
    "const fs = require('fs'); const bad = templatePaths.filter((t) => fs.readFileSync(t, 'utf-8').includes('Bad'));"
    " return { success: bad.length === 0, violations: bad.map((t) => ({ ruleName: 'r', description: 'd',"
    " violatingResources: [{ resourceLogicalId: 'Bad', templatePath: t, locations: ['/Properties'] }] })) };"
)


def test_a_template_rewritten_after_it_was_queued_keeps_the_report_of_the_bytes_that_were_queued(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a plugin that flags a template holding "Bad", and such a template queued behind a busy lane
    plugin = _fake_plugin(tmp_path, A_PLUGIN_THAT_READS_THE_TEMPLATES)
    monkeypatch.setattr(control_tower, "unpacked_plugin", lambda: plugin)
    monkeypatch.setattr(control_tower, "control_tower_rule_types", dict)
    template = _template(tmp_path, {"Bad": {"Type": "AWS::SQS::Queue"}})
    queued_bytes = Path(template).read_bytes()
    controls = ControlTowerControls(report_cache=tmp_path / "reports")
    busy = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as lane:
        lane.submit(busy.wait, 30)
        controls.check_ahead([template], lane)
        # When the template is rewritten clean before the queued check runs
        _template(tmp_path, {"Good": {"Type": "AWS::SQS::Queue"}})
        busy.set()
    # Then the report kept for the queued bytes is theirs: put back, they fail, with no plugin run
    Path(template).write_bytes(queued_bytes)
    monkeypatch.setattr(control_tower, "start_plugin_in_parallel", _no_plugin)
    report = control_tower.check_templates([template], control_tower.kept_reports(tmp_path / "reports"))
    assert report["success"] is False


def test_a_template_no_rule_can_apply_to_complies_without_running_cfn_guard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a template whose only resource type no bundled rule names
    template = _template(tmp_path, {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}})
    assert len(control_tower.rules_that_cannot_apply(template)) == len(control_tower.control_tower_rule_types())
    monkeypatch.setattr(subprocess, "Popen", _no_plugin)

    # Then it complies (each rule would SKIP), and no process ran
    assert control_tower.check_templates([template], None) == {"success": True, "violations": []}


def test_the_same_template_is_validated_again_for_another_account_or_region(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a validation plugin that logs the account and Region of each template it validates
    log = tmp_path / "validated.log"
    library = tmp_path / "library"
    plugin_module = library / "core/lib/validation/cloudformation-validate-plugin.js"
    plugin_module.parent.mkdir(parents=True)
    plugin_module.write_text(
        "exports.CloudFormationValidatePlugin = class { validate({ stackTemplates: [s] }) {"
        f" require('fs').appendFileSync({str(log)!r}, `${{s.accountId}} ${{s.region}}\\n`);"
        " return { success: true, violations: [] }; } };\n"
    )
    monkeypatch.setattr(cloudformation_validation, "unpacked_library", lambda: library)
    template = _template(tmp_path, {"Queue": {"Type": "AWS::SQS::Queue"}})
    validation = cloudformation_validation.CloudFormationValidation(report_cache=tmp_path / "reports")

    # When the same bytes are validated for one stack, another Region, another account, then the first again
    for account, region in [("111111111111", "us-east-1"), ("111111111111", "eu-west-1"),
                            ("222222222222", "us-east-1"), ("111111111111", "us-east-1")]:  # fmt: skip
        assert validation.validate(_stacks((template, account, region))).success

    # Then each account and Region was validated once: the last was read back
    assert log.read_text().splitlines() == [
        "111111111111 us-east-1", "111111111111 eu-west-1", "222222222222 us-east-1"
    ]  # fmt: skip


def test_each_checked_app_has_checks_of_its_own_and_a_plain_app_none() -> None:
    first, second = (nag.checked_app(validate_cloudformation=True) for _ in range(2))

    assert nag.control_tower_of(first) is not None
    assert nag.control_tower_of(first) is not nag.control_tower_of(second)
    assert nag.control_tower_of(cdk.Stage(first, "Stage")) is nag.control_tower_of(first)
    assert nag.control_tower_of(cdk.App()) is None


def test_a_checked_app_fails_on_the_validations_errors_whatever_the_context_says() -> None:
    """aws-cdk-lib passes a failing report of the plugin named "CloudFormation Validate" as warnings
    unless this flag is on: checked_app sets it after the CLI's context."""
    app = nag.checked_app(validate_cloudformation=True, context={nag.VALIDATE_AGAINST_DEFAULT_RULES: False})

    assert app.node.try_get_context(nag.VALIDATE_AGAINST_DEFAULT_RULES) is True
