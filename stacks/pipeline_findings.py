"""What cdk-nag and Control Tower find in what CDK Pipelines builds, and which acknowledgement
of stacks/nag.py answers each: read from the policies themselves, so that exactly the findings
a policy raises are acknowledged on it, and a wildcard nobody reviewed fails the synth.

CDK Pipelines writes its roles' policies (and its artifact buckets) itself; Folio cannot scope
them further through its API. `acknowledge_pipeline_findings` walks them after
`build_pipeline()`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import IConstruct

from stacks import nag

# The action groups aws-cdk-lib's bucket and key grants write (grantRead, grantReadWrite,
# grantEncryptDecrypt). Any other wildcard action is a finding nobody reviewed.
CDK_GRANT_ACTIONS = frozenset(
    {
        "s3:Abort*", "s3:DeleteObject*", "s3:GetBucket*", "s3:GetObject*", "s3:List*",
        "kms:GenerateDataKey*", "kms:ReEncrypt*",
    }
)  # fmt: skip
SELF_MUTATION_LOOKUP_ACTIONS = frozenset({"cloudformation:DescribeStacks", "s3:ListBucket"})
KMS_DATA_ACTIONS = frozenset(
    {"kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"}
)


def rendered(value: Any) -> str:
    """A policy value as cdk-nag prints it in a finding id: `<LogicalId.Attr>` for Fn::GetAtt,
    `<LogicalId>` for Ref, Fn::Join joined."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        resource, attribute = value["Fn::GetAtt"]
        return f"<{resource}.{attribute}>"
    if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
        return str(value["Fn::Sub"])  # only the bootstrap roles' ARNs: no wildcard to classify
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(rendered(part) for part in parts)
    raise ValueError(f"cannot render {value!r} as cdk-nag does")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(policy: iam.CfnPolicy) -> Iterator[dict[str, Any]]:
    document = cdk.Stack.of(policy).resolve(policy.policy_document)
    yield from document["Statement"]


class PipelineFindings:
    """Acknowledges, on each policy and artifact bucket of a built CDK pipeline, the findings
    it raises that stacks/nag.py has reviewed; raises on anything else. A wildcard is reviewed
    for the role that needs it: the same statement on any other role fails the synth."""

    def __init__(
        self,
        *,
        account: str,
        region: str,
        artifact_buckets: Sequence[s3.IBucket],
        pipeline_role: iam.IRole,
        self_mutation_role: iam.IRole,
    ) -> None:
        self.account = account
        self.region = region
        self.artifact_buckets = list(artifact_buckets)
        self.pipeline_role = pipeline_role
        self.self_mutation_role = self_mutation_role

    @staticmethod
    def _held_only_by(policy: iam.CfnPolicy, role: iam.IRole) -> bool:
        stack = cdk.Stack.of(policy)
        return bool(stack.resolve(policy.roles) == [stack.resolve(role.role_name)])

    def _bucket_arns(self, scope: IConstruct) -> set[str]:
        stack = cdk.Stack.of(scope)
        return {rendered(stack.resolve(bucket.bucket_arn)) for bucket in self.artifact_buckets}

    def acknowledge_under(self, *scopes: IConstruct) -> None:
        """Every policy and build project under each of `scopes`, then every artifact bucket."""
        for construct in (c for scope in scopes for c in scope.node.find_all()):
            if isinstance(construct, iam.CfnPolicy):
                self._acknowledge_policy(construct)
            elif isinstance(construct, codebuild.CfnProject):
                source = cdk.Stack.of(construct).resolve(construct.source)
                if source.get("type") != "CODEPIPELINE" or "location" in source:
                    raise ValueError(f"{construct.node.path}: a build project with a source of its own: {source}")
                for finding in nag.PIPELINE_PROJECT_SOURCE:
                    nag.acknowledge(construct, finding)
        for bucket in self.artifact_buckets:
            resource = bucket.node.default_child
            assert resource is not None
            for finding in nag.PIPELINE_ARTIFACT_BUCKET_FINDINGS:
                nag.acknowledge(resource, finding)
            nag.skip_checkov(bucket, *nag.CHECKOV_ARTIFACTS_NOT_LOGGED)

    def _acknowledge_policy(self, policy: iam.CfnPolicy) -> None:
        for finding in nag.PIPELINE_INLINE_POLICIES:
            nag.acknowledge(policy, finding)
        bucket_arns = self._bucket_arns(policy)
        done: set[str] = set()
        for statement in _statements(policy):
            actions = set(_as_list(statement["Action"]))
            for action in sorted(a for a in actions if "*" in a):
                if action not in CDK_GRANT_ACTIONS:
                    raise ValueError(f"{policy.node.path}: wildcard action {action} is not a reviewed CDK grant")
                self._once(policy, done, nag.PIPELINE_GRANT_ACTIONS, action=action)
            for resource in (rendered(r) for r in _as_list(statement["Resource"])):
                if "*" in resource:
                    self._acknowledge_resource(policy, done, resource, actions, statement, bucket_arns)

    def _acknowledge_resource(
        self,
        policy: iam.CfnPolicy,
        done: set[str],
        resource: str,
        actions: set[str],
        statement: dict[str, Any],
        bucket_arns: set[str],
    ) -> None:
        logs = f"arn:aws:logs:{self.region}:{self.account}:log-group:/aws/codebuild/"
        reports = f"arn:aws:codebuild:{self.region}:{self.account}:report-group/"
        if resource.endswith("/*") and resource[:-2] in bucket_arns:
            self._once(policy, done, nag.PIPELINE_ARTIFACT_OBJECTS, bucket=resource[:-2])
        elif resource.startswith(logs):
            self._once(policy, done, nag.PIPELINE_BUILD_LOG_GROUPS, region=self.region, account=self.account,
                       log_group=resource.removeprefix(logs))  # fmt: skip
        elif resource.startswith(reports):
            self._once(policy, done, nag.PIPELINE_REPORT_GROUPS, region=self.region, account=self.account,
                       report_group=resource.removeprefix(reports))  # fmt: skip
        elif (
            resource == f"arn:*:iam::{self.account}:role/*"
            and actions == {"sts:AssumeRole"}
            and self._held_only_by(policy, self.self_mutation_role)
        ):
            if "iam:ResourceTag/aws-cdk:bootstrap-role" not in str(statement.get("Condition")):
                raise ValueError(f"{policy.node.path}: assumes any role, not only the bootstrap roles")
            self._once(policy, done, nag.SELF_MUTATION_BOOTSTRAP_ROLES, account=self.account)
        elif resource == "*" and actions <= KMS_DATA_ACTIONS and self._held_only_by(policy, self.pipeline_role):
            self._once(policy, done, nag.PIPELINE_KEYS_OF_OTHER_REGIONS)
            nag.skip_checkov(policy.node.scope, *nag.CHECKOV_PIPELINE_KEYS_OF_OTHER_REGIONS)  # type: ignore[arg-type]
        elif (
            resource == "*"
            and actions <= SELF_MUTATION_LOOKUP_ACTIONS
            and self._held_only_by(policy, self.self_mutation_role)
        ):
            self._once(policy, done, nag.SELF_MUTATION_LOOKUPS)
        else:
            raise ValueError(f"{policy.node.path}: wildcard resource {resource} for {sorted(actions)} is not reviewed")

    @staticmethod
    def _once(policy: iam.CfnPolicy, done: set[str], finding: nag.Finding, **placeholders: str) -> None:
        finding_id = finding.finding.format(**placeholders)
        if finding_id not in done:
            done.add(finding_id)
            nag.acknowledge(policy, finding, **placeholders)
