"""cdk-nag and Control Tower over the delivery pipeline: every pack checks the pipeline stack,
each stage inside it and each cross-Region support stack CDK Pipelines adds; the pipeline's own
acknowledgements are listed, specific and budgeted apart from the environments'."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam

from stacks.nag import CONTROL_TOWER_PLUGIN, PACK_NAMES, validation_failures
from stacks.pipeline_findings import PipelineFindings
from stacks.pipeline_stack import support_of_other_regions
from tests.conftest import SynthesizedPipeline
from tests.security.test_nag import Acknowledgement, bundled_control_tower_rules
from tests.support.non_compliant_synth import NonCompliantSynths

# The most acknowledgements the pipeline stack and its support stacks may carry (its stages
# are the environments' stacks, counted by test_nag.py). Raising it is a reviewed change: say
# in the commit which finding is new and why. Today 132 cdk-nag (stacks/pipeline_findings.py
# acknowledges on each policy only what that policy raises; docs/security-review.md):
#   15  IAMNoInlinePolicy (3 packs) on the 5 default policies CDK Pipelines writes (pipeline,
#       synth, self-mutation, file assets, smoke test): it offers no managed-policy option
#   27  IAM5 on aws-cdk-lib's grant action groups for the artifact buckets and keys: s3:List*,
#       GetObject*, GetBucket* (5 policies each), kms:GenerateDataKey*, ReEncrypt* (4 each),
#       s3:DeleteObject*, Abort* (2 each: the pipeline's and the synth's, which write artifacts)
#    9  IAM5 on artifact objects: the artifact bucket's in 5 policies, each of the 4 replication
#       buckets' in the pipeline role's
#    8  IAM5 on CodeBuild's default log groups and report groups: 3 projects by name, the asset
#       projects by /aws/codebuild/* and report-group/* (unused: builds log to BuildLogs)
#    3  IAM5: Resource::* for the pipeline role's KMS use of the replication keys (by alias) and
#       the self-mutation's lookups; its tag-conditioned bootstrap roles (each reviewed for that
#       role only). The asset role's codebuild:StartBuild/StopBuild/BatchGetBuilds on * is taken
#       away (withhold_build_control_from_asset_roles), not acknowledged
#    8  CodeBuildProjectSourceRepoUrl (HIPAA, PCI) on the 4 projects, whose source is CODEPIPELINE
#   35  7 per artifact bucket (the pipeline's and 4 replication buckets): no access logs (S1 and
#       3 packs), not replicated (3 packs): transient artifacts, expired after 90 days
#    1  the notification topic's e-mail subscription has no redrive queue
#   26  13 per PublishHomeValues project (before dev's and before prod's regional serving
#       stages): its default policy (IAMNoInlinePolicy, 3 packs), IAM5 on the same grant groups,
#       artifacts and log groups as the other projects (8), CodeBuildProjectSourceRepoUrl (2)
PIPELINE_ACKNOWLEDGEMENT_BUDGET = 132
# The same for Control Tower: 15, 3 per artifact bucket: no access logs (CT.S3.PR.2), no Object
# Lock (CT.S3.PR.9: artifacts expire), no event notifications (CT.S3.PR.4: nothing reacts to one).
PIPELINE_CONTROL_TOWER_ACKNOWLEDGEMENT_BUDGET = 15

STAGE_IDS = ("FolioDev", "FolioProd")


def pipeline_acknowledgements(synth: SynthesizedPipeline) -> list[Acknowledgement]:
    """Acknowledgements in the pipeline stack (outside its stages) and its support stacks."""
    stack = synth.stack
    support = [s.stack for s in support_of_other_regions(stack.pipeline.pipeline)]
    found = []
    for root in (stack, *support):
        for construct in root.node.find_all():
            # Not the stages it deploys (FolioDev, FolioProd and prod's regional serving stages):
            # their acknowledgements are the environments' (test_nag.py), whatever their scope.
            if cdk.Stage.of(construct) is not cdk.Stage.of(stack):
                continue
            for entry in construct.node.metadata:
                if entry.type != cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                    continue
                for rule_id, reason in entry.data.items():
                    pack, _, finding = rule_id.partition("::")
                    wide = isinstance(construct, (cdk.Stack, cdk.Stage))
                    found.append(Acknowledgement(pack, finding, construct.node.path, reason, wide))
    return found


def test_the_pipeline_synthesizes_with_no_unacknowledged_findings(synthesized_pipeline: SynthesizedPipeline) -> None:
    assert validation_failures(str(synthesized_pipeline.assembly_directory)) == []
    # The support stacks were synthesized (and so checked): one per other Region.
    support = [name for name in synthesized_pipeline.templates if name.startswith("cross-region-stack-")]
    assert len(support) == 4


def test_the_pipelines_acknowledgements_are_specific_and_within_budget(
    synthesized_pipeline: SynthesizedPipeline,
) -> None:
    found = pipeline_acknowledgements(synthesized_pipeline)
    controls = [a for a in found if a.pack == CONTROL_TOWER_PLUGIN]
    nag_findings = [a for a in found if a.pack != CONTROL_TOWER_PLUGIN]

    print(f"\npipeline: {len(nag_findings)} cdk-nag and {len(controls)} Control Tower acknowledgement(s)")
    for ack in found:
        print(f"  {ack.pack:15} {ack.finding}\n    at {ack.path}")
    assert len(nag_findings) <= PIPELINE_ACKNOWLEDGEMENT_BUDGET
    assert len(controls) <= PIPELINE_CONTROL_TOWER_ACKNOWLEDGEMENT_BUDGET
    rules = bundled_control_tower_rules()
    for ack in controls:
        assert ack.finding in rules
    for ack in found:
        assert not ack.on_stack_or_stage, f"{ack.path} is a stack or stage; acknowledge on the resource"
        assert len(ack.reason) >= 60
        if ack.finding.startswith("AwsSolutions-IAM5"):
            assert "[" in ack.finding and "{" not in ack.finding, ack.finding


# --- Coverage: an injected bad resource is caught wherever it is ---------------------------


@pytest.fixture(scope="module")
def injected_findings(non_compliant_synths: NonCompliantSynths) -> set[tuple[str, str]]:
    """(plugin, construct path) of every finding in the pipeline app with bad resources injected
    into its stack, a stack of each stage (built with StageWithExtra in place of FolioStage) and
    each support stack (tests/support/non_compliant.py), synthesized once by a process of its own,
    which must have failed on validation."""
    outdir = non_compliant_synths.failed_on_validation("pipeline")
    report = json.loads((outdir / "validation-report.json").read_text())
    return {
        (plugin["pluginName"], construct["constructPath"])
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
        for construct in violation["violatingConstructs"]
    }


INJECTED_PREFIXES = (
    "FolioPipeline/NonCompliant/",
    "FolioPipeline/FolioDev/Extra/NonCompliant/",
    "FolioPipeline/FolioProd/Extra/NonCompliant/",
    *(
        f"cross-region-stack-333333333333:{region}/NonCompliant/"
        for region in ("eu-central-1", "eu-west-1", "us-east-2", "us-west-2")
    ),
)


@pytest.mark.parametrize("pack", [*PACK_NAMES, CONTROL_TOWER_PLUGIN])
@pytest.mark.parametrize("prefix", INJECTED_PREFIXES)
def test_every_pack_checks_the_pipeline_its_stages_and_its_support_stacks(
    pack: str, prefix: str, injected_findings: set[tuple[str, str]]
) -> None:
    paths = {path for plugin, path in injected_findings if plugin == pack}

    assert any(p.startswith(prefix) for p in paths), f"{pack} saw nothing wrong under {prefix}"


def test_only_the_injected_resources_are_flagged(injected_findings: set[tuple[str, str]]) -> None:
    named = {path for _, path in injected_findings if path}

    assert {p for p in named if not p.startswith(INJECTED_PREFIXES)} == set()


# --- The classifier refuses what nobody reviewed ----------------------------------------


def policy_stack(statement: iam.PolicyStatement, *, role_id: str = "Role") -> tuple[cdk.Stack, iam.Policy]:
    """A stack with the pipeline's role, the self-mutation project's role and a role `role_id`
    (another role unless it names one of the two) that holds `statement`."""
    stack = cdk.Stack(cdk.App(), "S", env=cdk.Environment(account="333333333333", region="us-east-1"))
    for reviewed in ("PipelineRole", "SelfMutationRole"):
        iam.Role(stack, reviewed, assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"))
    role = stack.node.try_find_child(role_id) or iam.Role(
        stack, role_id, assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com")
    )
    assert isinstance(role, iam.Role)
    policy = iam.Policy(stack, "Policy", statements=[statement], roles=[role])
    return stack, policy


def findings_of(stack: cdk.Stack) -> PipelineFindings:
    pipeline_role, self_mutation_role = (stack.node.find_child(i) for i in ("PipelineRole", "SelfMutationRole"))
    assert isinstance(pipeline_role, iam.Role) and isinstance(self_mutation_role, iam.Role)
    return PipelineFindings(
        account="333333333333",
        region="us-east-1",
        artifact_buckets=[],
        pipeline_role=pipeline_role,
        self_mutation_role=self_mutation_role,
    )


BOOTSTRAP_ROLES = iam.PolicyStatement(
    actions=["sts:AssumeRole"],
    resources=["arn:*:iam::333333333333:role/*"],
    conditions={"ForAnyValue:StringEquals": {"iam:ResourceTag/aws-cdk:bootstrap-role": ["deploy"]}},
)
KEYS_BY_ALIAS = iam.PolicyStatement(actions=["kms:Decrypt", "kms:Encrypt"], resources=["*"])
LOOKUPS = iam.PolicyStatement(actions=["cloudformation:DescribeStacks", "s3:ListBucket"], resources=["*"])


@pytest.mark.parametrize(
    "statement",
    [
        iam.PolicyStatement(actions=["s3:Put*"], resources=["arn:aws:s3:::some-bucket"]),
        iam.PolicyStatement(actions=["ec2:DescribeInstances"], resources=["*"]),
        iam.PolicyStatement(actions=["s3:GetObject"], resources=["arn:aws:s3:::someone-elses-bucket/*"]),
        iam.PolicyStatement(actions=["sts:AssumeRole"], resources=["arn:*:iam::333333333333:role/*"]),
        iam.PolicyStatement(
            actions=["cognito-idp:AdminCreateUser"], resources=["arn:aws:cognito-idp:eu-west-1:111111111111:userpool/*"]
        ),
        # Start any build of the account: with a buildspec override, run as any project's role
        iam.PolicyStatement(actions=["codebuild:StartBuild"], resources=["*"]),
        iam.PolicyStatement(actions=["codebuild:BatchGetBuilds", "codebuild:StopBuild"], resources=["*"]),
        # What is reviewed for one role, held by another
        KEYS_BY_ALIAS,
        LOOKUPS,
        BOOTSTRAP_ROLES,
    ],
)
def test_an_unreviewed_wildcard_in_a_pipeline_policy_fails_the_synth(statement: iam.PolicyStatement) -> None:
    stack, _ = policy_stack(statement)

    with pytest.raises(ValueError, match=r"not a reviewed|not reviewed|not only"):
        findings_of(stack).acknowledge_under(stack)


@pytest.mark.parametrize(
    "statement, role_id",
    [(KEYS_BY_ALIAS, "SelfMutationRole"), (LOOKUPS, "PipelineRole"), (BOOTSTRAP_ROLES, "PipelineRole")],
)
def test_a_wildcard_reviewed_for_one_pipeline_role_fails_the_synth_on_another(
    statement: iam.PolicyStatement, role_id: str
) -> None:
    stack, _ = policy_stack(statement, role_id=role_id)

    with pytest.raises(ValueError, match="not reviewed"):
        findings_of(stack).acknowledge_under(stack)


@pytest.mark.parametrize(
    "statement, role_id",
    [(KEYS_BY_ALIAS, "PipelineRole"), (LOOKUPS, "SelfMutationRole"), (BOOTSTRAP_ROLES, "SelfMutationRole")],
)
def test_a_reviewed_wildcard_is_acknowledged_on_the_role_it_was_reviewed_for(
    statement: iam.PolicyStatement, role_id: str
) -> None:
    stack, policy = policy_stack(statement, role_id=role_id)

    findings_of(stack).acknowledge_under(stack)

    resource = policy.node.default_child
    assert resource is not None
    rules = [
        rule
        for entry in resource.node.metadata
        if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
        for rule in entry.data
    ]
    assert any(rule.startswith("AwsSolutions::AwsSolutions-IAM5[Resource::") for rule in rules), rules
