"""cdk-nag: every pack covers every stage, and every acknowledgement is listed, specific and budgeted."""

from __future__ import annotations

import ast
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs

from stacks.config import load_config
from stacks.nag import PACK_NAMES, Finding, acknowledge, validation_failures
from stacks.stage import FolioStage
from tests.conftest import ENVIRONMENT_NAMES, PROJECT_ROOT, Synthesized, cdk_context, synthesize

# The most acknowledgements one environment may carry. Raising it is a reviewed change:
# say in the commit which finding is new and why its control is met another way.
# Today (docs/security-review.md), sandbox 40 / dev 43 / prod 42:
#   17  IAM5: on 6 function policies X-Ray + DescribeNetworkInterfaces ("*") and the account's
#       network-interface/* (ENI ids exist only once Lambda creates them), documents/* on 3,
#       backup role 2
#    2  IAM5: the API Gateway logging role's execution-log streams and DescribeLogGroups, only
#       where api.manage_account_logging_role (dev, prod)
#    6  access-log bucket: SSE-S3 only, not replicated (3 packs each)
#    6  API stage: no cache on per-user data, no client certificate for Lambda integrations
#    3  documents bucket not replicated: open item
#    3  cursor secret not on a rotation schedule
#    3  VPC default security group left open but unused (closing it needs a custom resource)
#    1  the dead-letter queue has no dead-letter queue
#    1  MFA optional (sandbox, dev) | 1 identity pool own prefix (dev, prod)
ACKNOWLEDGEMENT_BUDGET = 43


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


@pytest.mark.parametrize("environment", ENVIRONMENT_NAMES)
def test_acknowledgements_are_listed_specific_and_within_budget(
    environment: str, synthesized: Callable[[str], Synthesized]
) -> None:
    everything = acknowledgements(synthesized(environment))
    found = [a for a in everything if (a.pack, a.finding) not in LIBRARY_ACKNOWLEDGEMENTS]

    print(f"\n{environment}: {len(found)} acknowledgement(s) (+{len(everything) - len(found)} by aws-cdk-lib)")
    for ack in everything:
        print(f"  {ack.pack:15} {ack.finding}\n    at {ack.path}\n    because {ack.reason}")
    assert len(found) <= ACKNOWLEDGEMENT_BUDGET
    for ack in found:
        assert ack.pack in PACK_NAMES
        assert ack.finding.startswith(ack.pack + "-")
        if ack.finding.startswith(("AwsSolutions-IAM5", "AwsSolutions-IAM4")):
            assert "[" in ack.finding, f"{ack.finding} must name the exact resource or policy it accepts"
        assert len(ack.reason) >= 60
        assert not ack.on_stack_or_stage, f"{ack.path} is a stack or stage; acknowledge on the resource"


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


def add_non_compliant_stack(stage: FolioStage) -> None:
    """Resources that break rules of every pack: unencrypted, unlogged, untraced."""
    stack = cdk.Stack(
        stage, "NonCompliant", env=cdk.Environment(account=stage.config.account, region=stage.config.region)
    )
    s3.CfnBucket(stack, "PlainBucket")
    sqs.CfnQueue(stack, "PlainQueue")
    lambda_.Function(
        stack,
        "PlainFunction",
        runtime=lambda_.Runtime.PYTHON_3_9,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return None\n"),
    )


@pytest.fixture(scope="module")
def non_compliant_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    outdir = tmp_path_factory.mktemp("non-compliant")
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        synthesize(load_config("sandbox"), outdir, extend=add_non_compliant_stack)
    report = json.loads((outdir / "validation-report.json").read_text())
    by_pack: dict[str, set[str]] = {}
    for plugin in report["pluginReports"]:
        for violation in plugin["violations"]:
            for construct in violation["violatingConstructs"]:
                by_pack.setdefault(plugin["pluginName"], set()).add(construct["constructPath"])
    return by_pack


@pytest.mark.parametrize("pack", PACK_NAMES)
def test_every_pack_checks_stacks_inside_a_folio_stage(pack: str, non_compliant_report: dict[str, set[str]]) -> None:
    paths = non_compliant_report.get(pack, set())

    assert any(p.startswith("FolioSandbox/NonCompliant/") for p in paths), f"{pack} saw nothing wrong: {paths}"
    assert not any(p.startswith("FolioSandbox/Data/") for p in paths), "the real stacks must stay clean"


def test_cli_process_mode_findings_are_caught_by_app_py(tmp_path: Path) -> None:
    """Under the CDK CLI the app runs in "process" mode, where aws-cdk-lib does not raise on
    findings; app.py must still fail. Reproduce that mode and check what app.py relies on."""
    app = cdk.App(outdir=str(tmp_path), context={**cdk_context(), "@aws-cdk/core:appMode": "process"})
    from stacks.nag import register_nag_packs

    register_nag_packs(app)
    stage = FolioStage(app, "FolioSandbox", config=load_config("sandbox"))
    add_non_compliant_stack(stage)

    assembly = app.synth()  # no exception in process mode: this is the trap
    failures = validation_failures(assembly.directory)

    assert failures, "validation_failures() must see what process mode swallows"
    assert all("FolioSandbox/NonCompliant/" in f for f in failures)
