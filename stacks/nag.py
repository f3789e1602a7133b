"""cdk-nag and Control Tower wiring, and the one place that acknowledges a finding.

Every rule pack, and AWS Control Tower's proactive controls (run by cfn-guard through
the `cdk-validator-cfnguard` plugin), are registered on the App, so they check every
stack of every Stage (the sandbox stage and, later, the pipeline's stages). An
unacknowledged finding of either fails the synth.

An acknowledgement is a reviewed decision, so each one is a named constant here
with the exact finding id and the reason the control's intent is met another way.
Constructs apply them with `acknowledge(construct, FINDING)` on the narrowest
construct that raises the finding; nothing else in the code base calls
`Validations.acknowledge` (tests/security/test_nag.py enforces both).
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

import aws_cdk as cdk
from cdk_nag import (
    AwsSolutionsChecks,
    HIPAASecurityChecks,
    NagPack,
    NIST80053R5Checks,
    PCIDSS321Checks,
    ServerlessChecks,
)
from constructs import IConstruct

from stacks.cloudformation_validation import CloudFormationValidation
from stacks.control_tower import CONTROL_TOWER_PLUGIN, ControlTowerControls

PACK_NAMES: tuple[str, ...] = ("AwsSolutions", "Serverless", "NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321")

# Below this a reason cannot say which control it replaces and how.
MIN_REASON_LENGTH = 60


def nag_packs(app: cdk.App) -> list[NagPack]:
    """One instance of each pack Folio is held to."""
    return [
        AwsSolutionsChecks(app),
        ServerlessChecks(app),
        NIST80053R5Checks(app),
        HIPAASecurityChecks(app),
        PCIDSS321Checks(app),
    ]


# Makes an error of the CloudFormation validation fail the synth: without it, aws-cdk-lib turns a
# failing report of the plugin it knows by that name into a passing one with warnings.
VALIDATE_AGAINST_DEFAULT_RULES = "@aws-cdk/core:validateAgainstDefaultRules"


def checked_app(*, validate_cloudformation: bool, **props: Any) -> cdk.App:
    """An App (`props` as cdk.App takes them) that runs every pack and every Control
    Tower proactive control over the whole app at synth, and aws-cdk-lib's CloudFormation validation
    if `validate_cloudformation`; any finding fails the synth.

    The validation is aws-cdk-lib's own plugin, run beside Control Tower's processes and kept per
    template (stacks/cloudformation_validation.py), so the App's built-in copy of it is off: with
    both, every template would be validated twice."""
    app = cdk.App(
        builtin_cloud_formation_validation=False, post_cli_context={VALIDATE_AGAINST_DEFAULT_RULES: True}, **props
    )
    validation = CloudFormationValidation() if validate_cloudformation else None
    control_tower = ControlTowerControls(started_beside=[validation] if validation else [])
    cdk.Validations.of(app).add_plugins(*nag_packs(app), control_tower, *([validation] if validation else []))
    # One process at a time: the jsii process, building the rest of the App, keeps the other core.
    lane = ThreadPoolExecutor(max_workers=1, thread_name_prefix="folio-checks-ahead")
    _CHECKED_APPS[app] = (control_tower, lane)
    return app


# The out-of-process checks of each App built by `checked_app` (jsii hands back the same Python
# object for the App from any construct's `node.root`).
_CHECKED_APPS: WeakKeyDictionary[IConstruct, tuple[ControlTowerControls, ThreadPoolExecutor]] = WeakKeyDictionary()


def control_tower_of(scope: IConstruct) -> ControlTowerControls | None:
    """The Control Tower plugin of the App `scope` is in, if `checked_app` built it."""
    checks = _CHECKED_APPS.get(scope.node.root)
    return checks[0] if checks else None


def check_ahead(stage: cdk.Stage) -> None:
    """Synthesizes a stage that is built (CDK Pipelines has done so for each stage it deploys, when
    it was added: its assembly is reused, and so is any stage's at the App's synth) and queues
    Control Tower's check of its templates, which are final then. The checks run one process at a time on a
    lane of their own, on the core the jsii process leaves idle while the rest of the App is built,
    and the plugin reads their reports back at the App's synth (calling off those still queued).
    Nothing for an App not built by `checked_app`. Each check is of a copy of the template's bytes
    as they were when it was queued, and its report is kept under those bytes. aws-cdk-lib's
    CloudFormation validation is not run ahead: each of its processes first loads the engine
    (1.9 s), so it runs once, over every template, at the App's synth."""
    checks = _CHECKED_APPS.get(stage.node.root)
    if checks is not None:
        control_tower, lane = checks
        control_tower.check_ahead([stack.template_full_path for stack in stage.synth().stacks_recursively], lane)


def stop_checks_ahead(app: cdk.App) -> None:
    """Calls off the checks still queued for `app` (its synth will not read them: it failed or was
    stopped), so that the process can exit without running them; a check already running ends
    with its process."""
    checks = _CHECKED_APPS.get(app)
    if checks is not None:
        checks[1].shutdown(wait=False, cancel_futures=True)


@dataclass(frozen=True)
class Finding:
    """One acknowledged finding: pack, exact finding id (with its [suffix]) and reason."""

    pack: str
    finding: str
    reason: str
    control: str = ""  # Control Tower findings only: the control's id (CT.<SERVICE>.PR.<n>)

    def __post_init__(self) -> None:
        if self.pack == CONTROL_TOWER_PLUGIN:
            _check_control_tower_finding(self)
            return
        if self.pack not in PACK_NAMES:
            raise ValueError(f"unknown cdk-nag pack {self.pack!r}; known: {', '.join(PACK_NAMES)}")
        if not self.finding.startswith(self.pack + "-"):
            raise ValueError(f"finding {self.finding!r} does not belong to pack {self.pack!r}")
        if len(self.reason) < MIN_REASON_LENGTH:
            raise ValueError(f"reason for {self.finding} is too short to explain how the control's intent is met")


def acknowledge(construct: IConstruct, finding: Finding, **placeholders: str) -> None:
    """Acknowledge one finding on one construct (never on a stack or stage).

    `placeholders` fill `{name}` fields of the finding id, for ids that embed a
    logical id, a Region or an account (e.g. `AwsSolutions-IAM5[Resource::<{table}.Arn>/x/*]`).
    """
    if isinstance(construct, (cdk.Stack, cdk.Stage)):
        raise ValueError(f"acknowledge {finding.finding} on the resource that raises it, not on {construct.node.path}")
    finding_id = finding.finding.format(**placeholders)
    cdk.Validations.of(construct).acknowledge(
        cdk.Acknowledgment(id=f"{finding.pack}::{finding_id}", reason=finding.reason)
    )


def skip_checkov(construct: IConstruct, check_id: str, comment: str) -> None:
    """A checkov skip, written into the resource's own Metadata where reviewers see it.

    checkov reads `Metadata.checkov.skip` from the template; `.checkov.yaml` skips nothing.
    """
    resource = construct.node.default_child
    if not isinstance(resource, cdk.CfnResource):
        raise ValueError(f"{construct.node.path} has no CloudFormation resource to carry a checkov skip")
    if len(comment) < MIN_REASON_LENGTH:
        raise ValueError(f"checkov skip {check_id} needs a comment that explains why")
    existing = resource.get_metadata("checkov") or {"skip": []}
    resource.add_metadata("checkov", {"skip": [*existing["skip"], {"id": check_id, "comment": comment}]})


def logical_id(construct: IConstruct) -> str:
    """The CloudFormation logical id of an L2 construct's resource, as cdk-nag prints it."""
    child = construct.node.default_child or construct
    return str(cdk.Stack.of(construct).resolve(cdk.Stack.of(construct).get_logical_id(child)))  # type: ignore[arg-type]


def validation_failures(assembly_directory: str) -> list[str]:
    """Every unacknowledged finding in a synthesized cloud assembly, one line each.

    Why this exists: under the CDK CLI an app runs in "process" mode, where
    aws-cdk-lib 2.275 reports validation failures only by setting the exit code of
    its own Node process. From Python (jsii) that exit code is lost, so `cdk synth`
    succeeds with findings. `app.py` calls this after `app.synth()` and fails instead.
    """
    report_file = Path(assembly_directory) / "validation-report.json"
    if not report_file.exists():
        return []
    report = json.loads(report_file.read_text())
    failures = []
    for plugin in report.get("pluginReports", []):
        found = []
        for violation in plugin.get("violations", []):
            for construct in violation.get("violatingConstructs", []):
                # cfn-guard sometimes reports a check whose path is not a resource; the
                # plugin cannot name it, so the report has no construct path for it.
                where = construct["constructPath"] or "a resource the plugin could not name"
                found.append(
                    f"{violation['ruleName']} at {where}: {violation['description']} "
                    f"(acknowledge with '{plugin['pluginName']}::{violation['ruleName']}' in stacks/nag.py "
                    "only if the control's intent is met another way)"
                )
        if plugin.get("conclusion") == "failure" and not found:
            # The verdict decides, not the report's shape: a plugin that crashed checked
            # nothing, and a failure that names no construct is still a failure.
            error = plugin.get("metadata", {}).get("error", "no finding named")
            found.append(f"{plugin['pluginName']} did not run: {error}")
        failures += found
    return failures


# --- The acknowledgements Folio makes -----------------------------------------------

BACKUP_ROLE_RECOVERY_POINTS = Finding(
    pack="AwsSolutions",
    finding="AwsSolutions-IAM5[Resource::<{table}.Arn>/backup/*]",
    reason=(
        "AWS Backup names each recovery point of the table at backup time, so the role can only be scoped "
        "to the backups under Folio's one table ARN; it cannot reach any other table's backups."
    ),
)

BACKUP_ROLE_COPY_KEY = Finding(
    pack="AwsSolutions",
    finding="AwsSolutions-IAM5[Resource::arn:aws:kms:{region}:{account}:key/*]",
    reason=(
        "The copy vault's key is created in another Region, so its id is unknown to this stack; the "
        "statement is limited to that Region's keys that carry Folio's copy-key alias (kms:ResourceAliases)."
    ),
)

_SSE_S3_ONLY = (
    "S3 server access log delivery writes only to a target bucket encrypted with SSE-S3 (SSE-KMS is not "
    "supported for the log target); the bucket is TLS-only, private, versioned and holds no user content."
)
_LOGS_NOT_REPLICATED = (
    "This bucket holds only S3 server access logs, which are operational records with a fixed lifecycle; "
    "they are versioned and RETAINed, and losing a Region's logs loses no user data."
)
_DOCUMENTS_NOT_REPLICATED = (
    "Documents are versioned (overwrites and deletes are recoverable), RETAINed, and stored across three or "
    "more AZs by S3. Cross-Region copies of the bytes are an open item (docs/security-review.md)."
)

# The access-log bucket: the end of the logging chain, written by S3 itself.
ACCESS_LOG_BUCKET_FINDINGS: tuple[Finding, ...] = (
    *(Finding(pack=p, finding=f"{p}-S3DefaultEncryptionKMS", reason=_SSE_S3_ONLY) for p in PACK_NAMES[2:]),
    *(Finding(pack=p, finding=f"{p}-S3BucketReplicationEnabled", reason=_LOGS_NOT_REPLICATED) for p in PACK_NAMES[2:]),
)
# The documents bucket.
DOCUMENT_BUCKET_FINDINGS: tuple[Finding, ...] = tuple(
    Finding(pack=p, finding=f"{p}-S3BucketReplicationEnabled", reason=_DOCUMENTS_NOT_REPLICATED) for p in PACK_NAMES[2:]
)

# The audit archive (features.cdc).
_ARCHIVE_NOT_REPLICATED = (
    "The audit archive is a copy already: the table itself (PITR, AWS Backup with a cross-Region copy) is the "
    "primary; the archive is versioned, under Object Lock, RETAINed and stored across three or more AZs by S3."
)
ARCHIVE_BUCKET_FINDINGS: tuple[Finding, ...] = tuple(
    Finding(pack=p, finding=f"{p}-S3BucketReplicationEnabled", reason=_ARCHIVE_NOT_REPLICATED) for p in PACK_NAMES[2:]
)
ARCHIVE_OBJECT_PREFIXES: tuple[Finding, ...] = tuple(
    Finding(
        pack="AwsSolutions",
        finding=f"AwsSolutions-IAM5[Resource::<{{bucket}}.Arn>/{prefix}/*]",
        reason=(
            f"Firehose names each object under {prefix}/ itself (date partitions, its own stream name, a random "
            "suffix); the role may only PutObject and AbortMultipartUpload there, in the archive bucket alone."
        ),
    )
    for prefix in ("changes", "errors")
)

CHANGE_STREAM_CUSTOMER_MANAGED_KEY = Finding(
    pack="AwsSolutions",
    finding="AwsSolutions-KDS3",
    reason=(
        "The change stream carries every item of the table in clear inside its records, so it is encrypted with "
        "Folio's own rotated key, whose policy and use (CloudTrail) Folio controls, not with aws/kinesis."
    ),
)
FIREHOSE_READS_AN_ENCRYPTED_STREAM = Finding(
    pack="AwsSolutions",
    finding="AwsSolutions-KDF1",
    reason=(
        "Firehose refuses server-side encryption on a delivery stream whose source is a Kinesis data stream: it "
        "keeps nothing at rest, the source stream is encrypted with a CMK and the archive bucket with another."
    ),
)

USER_POOL_MFA_OPTIONAL = Finding(
    pack="AwsSolutions",
    finding="AwsSolutions-COG2",
    reason=(
        "Only environments whose config sets auth.mfa = optional (sandbox, dev) get this: TOTP stays available "
        "to every user, threat protection is enforced (PLUS plan), and prod's config requires MFA."
    ),
)

IDENTITY_OWN_OBJECTS = Finding(
    pack="AwsSolutions",
    finding="AwsSolutions-IAM5[Resource::<{bucket}.Arn>/documents/<aws:PrincipalTag/owner>/*]",
    reason=(
        "The wildcard is each signed-in user's own object prefix: the owner principal tag comes from the "
        "user pool sub, so a session can read only objects under its own owner id."
    ),
)

# --- the network --------------------------------------------------------------------

DEFAULT_SECURITY_GROUP_UNUSED: tuple[Finding, ...] = tuple(
    Finding(
        pack=p,
        finding=f"{p}-VPCDefaultSecurityGroupClosed",
        reason=(
            "No Folio resource uses the VPC's default security group (functions and endpoints have their "
            "own); closing it would need CDK's custom-resource Lambda with an AWS managed policy."
        ),
    )
    for p in PACK_NAMES[2:]
)

# --- the API ----------------------------------------------------------------------

_NO_CACHE = (
    "Every API response is specific to the caller (their documents, shares and usage), so a stage cache "
    "could serve one user's data to another; caching is off on purpose and nothing needs encrypting."
)
_LAMBDA_INTEGRATIONS = (
    "Every integration is a Lambda proxy integration, invoked by API Gateway through IAM-signed AWS calls; "
    "client certificates authenticate HTTP backends, and there are none."
)
API_STAGE_FINDINGS: tuple[Finding, ...] = (
    *(Finding(pack=p, finding=f"{p}-APIGWCacheEnabledAndEncrypted", reason=_NO_CACHE) for p in PACK_NAMES[2:]),
    *(Finding(pack=p, finding=f"{p}-APIGWSSLEnabled", reason=_LAMBDA_INTEGRATIONS) for p in PACK_NAMES[2:]),
)
API_GATEWAY_LOGGING_ROLE_FINDINGS: tuple[Finding, ...] = (
    Finding(
        pack="AwsSolutions",
        finding=(
            "AwsSolutions-IAM5[Resource::arn:aws:logs:{region}:{account}:log-group:"
            "API-Gateway-Execution-Logs_<{api}>/{stage}:*]"
        ),
        reason=(
            "API Gateway creates this API stage's execution log group API-Gateway-Execution-Logs_<api id>/<stage> "
            "and names its log streams itself; the wildcard is the streams of that one group."
        ),
    ),
    Finding(
        pack="AwsSolutions",
        finding="AwsSolutions-IAM5[Resource::arn:aws:logs:{region}:{account}:log-group:*]",
        reason=(
            "Only logs:DescribeLogGroups, which has no resource type (IAM evaluates it on log-group::log-stream:) "
            "and returns names and settings, never log events; it is limited to this account and Region."
        ),
    ),
)
_ROTATION = (
    "The secret is a random HMAC key that only makes pagination cursors tamper-evident; it is generated by "
    "Secrets Manager, encrypted with Folio's key, and rotating it would only invalidate in-flight cursors, "
    "so rotation is an operator action in docs/operations.md rather than a schedule."
)
CURSOR_SECRET_FINDINGS: tuple[Finding, ...] = (
    Finding(pack="AwsSolutions", finding="AwsSolutions-SMG4", reason=_ROTATION),
    *(Finding(pack=p, finding=f"{p}-SecretsManagerRotationEnabled", reason=_ROTATION) for p in PACK_NAMES[2:4]),
)
DEAD_LETTER_QUEUE_FINDINGS: tuple[Finding, ...] = (
    Finding(
        pack="Serverless",
        finding="Serverless-SQSRedrivePolicy",
        reason=(
            "This queue is itself the dead-letter queue of every function and of the upload EventBridge rule; "
            "messages wait here 14 days for an operator, and a queue behind it would only move them."
        ),
    ),
)
SEARCH_FUNCTIONS_DEAD_LETTERS = Finding(
    pack="Serverless",
    finding="Serverless-SQSRedrivePolicy",
    reason=(
        "This queue is itself the dead-letter queue of the Search stack's two functions (role mappings, index "
        "sweep) and of the sweep's schedule; messages wait here 14 days for an operator, and a queue behind it "
        "would only move them."
    ),
)
LIFECYCLE_FAILURE_QUEUE = Finding(
    pack="Serverless",
    finding="Serverless-SQSRedrivePolicy",
    reason=(
        "This queue is itself where the lifecycle worker's stream mapping describes a batch it gave up on (and "
        "the worker's own dead-letter queue); descriptions wait 14 days for an operator, a queue behind it "
        "would only move them."
    ),
)
ALARM_MAIL_WITHOUT_REDRIVE = Finding(
    pack="Serverless",
    finding="Serverless-SNSRedrivePolicy",
    reason=(
        "The alarm topic's only subscription is an e-mail to the environment's alarm address; a notification "
        "SNS cannot deliver loses no data: the alarm stays in ALARM in CloudWatch and the failed batches wait "
        "14 days in their queue, which is what docs/operations.md tells the operator to check."
    ),
)
PIPELINE_MAIL_WITHOUT_REDRIVE = Finding(
    pack="Serverless",
    finding="Serverless-SNSRedrivePolicy",
    reason=(
        "The pipeline topic's only subscription is an e-mail to the pipeline's notification address; a mail SNS "
        "cannot deliver loses nothing: the failed or waiting execution stays in CodePipeline's history, which "
        "docs/operations.md tells the operator to check."
    ),
)
XRAY_WRITES = Finding(
    pack="AwsSolutions",
    finding="AwsSolutions-IAM5[Resource::*]",
    reason=(
        "Only X-Ray's PutTraceSegments/PutTelemetryRecords and EC2's DescribeNetworkInterfaces use Resource '*': "
        "the service authorization reference lists no resource type for them. Every other statement names ARNs."
    ),
)
NETWORK_INTERFACES = Finding(
    pack="AwsSolutions",
    finding="AwsSolutions-IAM5[Resource::arn:aws:ec2:{region}:{account}:network-interface/*]",
    reason=(
        "Lambda creates the function's network interfaces with its role, so their ids exist only afterwards; "
        "creating one also needs the ARNs of the function's own subnets and security group, named exactly."
    ),
)
# The same decisions as checkov skips (check id, comment) in each resource's Metadata.
CHECKOV_NO_CACHE = ("CKV_AWS_120", _NO_CACHE)

DOCUMENT_OBJECTS = Finding(
    pack="AwsSolutions",
    finding="AwsSolutions-IAM5[Resource::arn:aws:s3:::{bucket}/documents/*]",
    reason=(
        "Object keys are documents/<owner>/<docId>, built server-side; the function serves every user, so it "
        "needs the documents prefix. Which owner's object it touches is decided by the checked document item."
    ),
)


# --- AWS Control Tower proactive controls (cfn-guard) ---------------------------------
#
# The controls are the Guard rules bundled with the plugin (cfn-guard 3.1.1, offline), run
# by stacks/control_tower.py in parallel processes with the plugin's own report. A
# finding is acknowledged like a nag finding, by the Guard rule's name, as
# `cdk-validator-cfnguard::<rule>`; aws-cdk-lib matches acknowledgements by construct path,
# so one on a construct covers its children. Several rules accept only literal values or
# Refs within the same template, so they misread Folio's cross-stack references
# (`Fn::GetStackOutput`) and ARNs built with `Fn::Join`: where that is the only reason, a
# test in tests/security/test_control_tower.py proves the resource complies.

_CONTROL_ID = re.compile(r"CT\.[A-Z0-9]+\.PR\.[0-9]+")
_GUARD_RULE_NAME = re.compile(r"[a-z0-9]+(_[a-z0-9]+)*")


def _check_control_tower_finding(finding: Finding) -> None:
    if not _CONTROL_ID.fullmatch(finding.control):
        raise ValueError(f"{finding.finding}: control {finding.control!r} is not a Control Tower id (CT.S3.PR.9)")
    if not _GUARD_RULE_NAME.fullmatch(finding.finding):
        raise ValueError(f"{finding.finding!r} is not a Guard rule name (as reported: lambda_inside_vpc_check)")
    if len(finding.reason) < MIN_REASON_LENGTH:
        raise ValueError(f"reason for {finding.control} is too short to explain how the control's intent is met")


FUNCTIONS_IN_VPC_ACROSS_STACKS = Finding(
    pack=CONTROL_TOWER_PLUGIN,
    control="CT.LAMBDA.PR.3",
    finding="lambda_inside_vpc_check",
    reason=(
        "The function is in the VPC: its VpcConfig names the Network stack's isolated subnets (and, for the Api "
        "stack's functions, the functions' security group) through Fn::GetStackOutput, which the rule cannot "
        "follow (it reads literal ids and Refs within one template only); test_control_tower.py resolves every "
        "reference to prove it."
    ),
)

API_INVOKE_PERMISSIONS = Finding(
    pack=CONTROL_TOWER_PLUGIN,
    control="CT.LAMBDA.PR.2",
    finding="lambda_function_public_access_prohibited_check",
    reason=(
        "Every permission under the REST API lets only apigateway.amazonaws.com invoke, with SourceArn set to "
        "this API's own execute-api ARN (stage, method and path); the rule does not read an ARN built with "
        "Fn::Join. test_control_tower.py checks principal and SourceArn of each permission."
    ),
)

# The access-log bucket: the end of the logging chain, written by S3 itself.
ACCESS_LOG_BUCKET_CONTROLS: tuple[Finding, ...] = (
    Finding(
        pack=CONTROL_TOWER_PLUGIN,
        control="CT.S3.PR.10",
        finding="s3_bucket_default_encryption_kms_check",
        reason=_SSE_S3_ONLY,
    ),
    Finding(
        pack=CONTROL_TOWER_PLUGIN,
        control="CT.S3.PR.2",
        finding="s3_bucket_logging_enabled_check",
        reason="This is the access-log bucket: logging its own access would log into itself without end "
        "(the same decision as the checkov skip CKV_AWS_18 in its Metadata).",
    ),
    Finding(
        pack=CONTROL_TOWER_PLUGIN,
        control="CT.S3.PR.9",
        finding="s3_bucket_object_lock_enabled_check",
        reason="S3 refuses to deliver server access logs to a bucket with a default Object Lock retention, so "
        "Object Lock could protect nothing here; the bucket is versioned, RETAINed and expires logs by lifecycle.",
    ),
)

DOCUMENT_BUCKET_OBJECT_LOCK = Finding(
    pack=CONTROL_TOWER_PLUGIN,
    control="CT.S3.PR.9",
    finding="s3_bucket_object_lock_enabled_check",
    reason=(
        "Users purge their documents and Folio promises the bytes go (old versions expire by lifecycle); a "
        "default Object Lock retention would keep them against that promise. Versioning and RETAIN protect "
        "against overwrites and stack deletion."
    ),
)

DAX_NODES_BY_CONFIG = Finding(
    pack=CONTROL_TOWER_PLUGIN,
    control="CT.DAX.PR.2",
    finding="dax_cluster_multi_az_check",
    reason=(
        "Only on a DAX cluster of fewer than 3 nodes, which the config allows only in an environment without "
        "termination protection (dev: a cache of short TTLs that any read can bypass); stacks/config.py refuses "
        "a protected one, and a cluster of 3 or more nodes names one AZ per node over three AZs."
    ),
)

# --- The search domain (stacks/components/search_domain.py) --------------------------

SEARCH_ACCESS_BY_ROLE_NOT_IP = Finding(
    pack="AwsSolutions",
    finding="AwsSolutions-OS3",
    reason=(
        "A VPC domain cannot use an IP-based access policy (AWS evaluates none for VPC requests). Access is "
        "the security group (443 from the functions' group only), an access policy naming each Folio role "
        "(never *), then fine-grained access control; test_guards.py checks all three."
    ),
)

SEARCH_TLS_STRONGER_THAN_THE_CONTROL_KNOWS = Finding(
    pack=CONTROL_TOWER_PLUGIN,
    control="CT.OPENSEARCH.PR.16",
    finding="opensearch_https_required_check",
    reason=(
        "HTTPS is enforced with Policy-Min-TLS-1-2-PFS-2023-10: TLS 1.2 or later with forward-secret ciphers "
        "only, a subset of what the control's one accepted value (Policy-Min-TLS-1-2-2019-07) allows; the "
        "rule lists no newer policy. test_guards.py asserts the strongest policy aws-cdk-lib offers."
    ),
)

# A one-node domain without dedicated masters, which the config allows only where termination
# protection is off (dev: rebuilt from the table by a re-export); stacks/config.py refuses it
# in a protected environment (3 data nodes over at least 2 AZs, 3 dedicated masters).
_SEARCH_SMALL_BY_CONFIG = (
    "Only on a domain whose config (search.*, sizing.search_instances) asks for {what}, which stacks/config.py "
    "allows only without termination protection (dev: a copy of the table, rebuilt by re-export); a protected "
    "environment must have three data nodes over at least two AZs and three dedicated masters."
)
SEARCH_NO_DEDICATED_MASTERS_BY_CONFIG = Finding(
    pack="AwsSolutions",
    finding="AwsSolutions-OS4",
    reason=_SEARCH_SMALL_BY_CONFIG.format(what="no dedicated masters"),
)
SEARCH_ONE_ZONE_BY_CONFIG = Finding(
    pack="AwsSolutions",
    finding="AwsSolutions-OS7",
    reason=_SEARCH_SMALL_BY_CONFIG.format(what="one AZ (zone awareness off)"),
)
SEARCH_FEW_DATA_NODES_BY_CONFIG = Finding(
    pack=CONTROL_TOWER_PLUGIN,
    control="CT.OPENSEARCH.PR.14",
    finding="opensearch_data_node_fault_tolerance_check",
    reason=_SEARCH_SMALL_BY_CONFIG.format(what="fewer than three data nodes or one AZ"),
)

# --- The ingestion pipeline (stacks/components/search_ingestion.py) ------------------

SEARCH_INGESTION_EXPORTS = Finding(
    pack="AwsSolutions",
    finding="AwsSolutions-IAM5[Resource::<{table}.Arn>/export/*]",
    reason=(
        "DynamoDB names each export of the table when the pipeline starts it, so DescribeExport (the only "
        "action on this ARN) can be scoped to the exports under Folio's one table ARN and nothing wider."
    ),
)
SEARCH_INGESTION_PREFIX = Finding(
    pack="AwsSolutions",
    finding="AwsSolutions-IAM5[Resource::<{bucket}.Arn>/{prefix}*]",
    reason=(
        "DynamoDB names the export's files and Data Prepper the dead-letter objects at run time; the pipeline "
        "role reaches only its own bucket, under that one prefix, with the documented object actions."
    ),
)
SEARCH_INGESTION_DOMAIN = Finding(
    pack="AwsSolutions",
    finding="AwsSolutions-IAM5[Resource::arn:aws:es:{region}:{account}:domain/{domain}/*]",
    reason=(
        "OpenSearch authorizes HTTP calls on <domain-arn>/<path>; the role names four ESHttp verbs on Folio's "
        "one domain, and fine-grained access control limits it to writing the documents index."
    ),
)
_EXPORTS_NOT_REPLICATED = (
    "Holds only transient copies that the table can always produce again (PITR exports, expired after 7 "
    "days) and dead letters (30 days); the table itself is a global table with PITR and AWS Backup copies."
)
SEARCH_EXPORT_BUCKET_FINDINGS: tuple[Finding, ...] = (
    *(
        Finding(pack=p, finding=f"{p}-S3BucketReplicationEnabled", reason=_EXPORTS_NOT_REPLICATED)
        for p in PACK_NAMES[2:]
    ),
    Finding(
        pack=CONTROL_TOWER_PLUGIN,
        control="CT.S3.PR.9",
        finding="s3_bucket_object_lock_enabled_check",
        reason=(
            "Exports and dead letters must expire on schedule (they copy user documents that users may purge); "
            "a default Object Lock retention would keep them. Versioned, RETAINed, TLS-only and private."
        ),
    ),
    Finding(
        pack=CONTROL_TOWER_PLUGIN,
        control="CT.S3.PR.2",
        finding="s3_bucket_logging_enabled_check",
        reason=(
            "Server access logging is on, into the Data stack's access-log bucket under search-exports/; the "
            "rule does not read a DestinationBucketName that arrives through Fn::GetStackOutput. "
            "tests/infra/test_search_ingestion.py checks the LoggingConfiguration."
        ),
    ),
)


# --- The delivery pipeline (stacks/pipeline_stack.py, stacks/pipeline_findings.py) ---------
#
# CDK Pipelines writes its roles, buckets and projects itself. What its API allows is fixed
# (rotated keys with CT.KMS.PR.3's statement, versioned and expiring artifact buckets, build
# logs in an encrypted log group, no privileged builds, one role for the pipeline's own
# actions); what it does not allow is acknowledged here, on the policy or bucket that raises it,
# and only for the exact ids stacks/pipeline_findings.py finds in that policy.

PIPELINE_GRANT_ACTIONS = Finding(
    pack="AwsSolutions",
    finding="AwsSolutions-IAM5[Action::{action}]",
    reason=(
        "aws-cdk-lib's bucket and key grants (grantRead, grantReadWrite) write these action groups for the "
        "pipeline's own artifact buckets and keys; the statements name those buckets and keys only (or, for keys "
        "CDK imports by alias from another Region, see the Resource::* acknowledgement of the same policy)."
    ),
)
PIPELINE_ARTIFACT_OBJECTS = Finding(
    pack="AwsSolutions",
    finding="AwsSolutions-IAM5[Resource::{bucket}/*]",
    reason=(
        "CodePipeline names each execution's artifacts (source zip, cloud assembly) itself; the role reaches the "
        "objects of the pipeline's own artifact bucket or of its replication bucket in a target Region, no other."
    ),
)
PIPELINE_BUILD_LOG_GROUPS = Finding(
    pack="AwsSolutions",
    finding="AwsSolutions-IAM5[Resource::arn:aws:logs:{region}:{account}:log-group:/aws/codebuild/{log_group}]",
    reason=(
        "aws-cdk-lib grants every CodeBuild project its default log group /aws/codebuild/<project> and its "
        "streams (named per build); Folio's projects log to the encrypted BuildLogs group instead, so these "
        "grants are unused. The asset projects' names are unknown to their role, hence /aws/codebuild/*."
    ),
)
PIPELINE_REPORT_GROUPS = Finding(
    pack="AwsSolutions",
    finding="AwsSolutions-IAM5[Resource::arn:aws:codebuild:{region}:{account}:report-group/{report_group}]",
    reason=(
        "aws-cdk-lib lets each CodeBuild project write test reports to report groups named after the project "
        "(<project>-*, named by the buildspec); no Folio buildspec declares a report, so nothing is written."
    ),
)
PIPELINE_KEYS_OF_OTHER_REGIONS = Finding(
    pack="AwsSolutions",
    finding="AwsSolutions-IAM5[Resource::*]",
    reason=(
        "The pipeline role encrypts artifacts with each target Region's replication key, which CDK refers to by "
        "alias from a support stack, so IAM cannot name its ARN; only KMS data actions, and only keys whose "
        "policies admit this toolchain account (the pipeline's own keys) can be used."
    ),
)
SELF_MUTATION_LOOKUPS = Finding(
    pack="AwsSolutions",
    finding="AwsSolutions-IAM5[Resource::*]",
    reason=(
        "The CDK CLI in the self-mutation step reads the bootstrap stack's outputs (cloudformation:DescribeStacks) "
        "and lists buckets before it assumes a bootstrap role; both are reads that name no resource in advance. "
        "Its writes go through the bootstrap roles."
    ),
)
SELF_MUTATION_BOOTSTRAP_ROLES = Finding(
    pack="AwsSolutions",
    finding="AwsSolutions-IAM5[Resource::arn:*:iam::{account}:role/*]",
    reason=(
        "The CDK CLI assumes the toolchain account's bootstrap roles (names carry the bootstrap qualifier); the "
        "statement admits only roles tagged aws-cdk:bootstrap-role = deploy, file- or image-publishing."
    ),
)
_CDK_INLINE_POLICIES = (
    "CDK Pipelines attaches each role's grants as the role's default policy (AWS::IAM::Policy) and offers no "
    "managed-policy option; each policy belongs to one role, is reviewed here and in tests/infra/"
    "test_pipeline_stack.py."
)
PIPELINE_INLINE_POLICIES: tuple[Finding, ...] = tuple(
    Finding(pack=p, finding=f"{p}-IAMNoInlinePolicy", reason=_CDK_INLINE_POLICIES) for p in PACK_NAMES[2:]
)
_CODEPIPELINE_SOURCE = (
    "The project's source is CODEPIPELINE (the artifact of the CodeConnections source action): it holds no "
    "repository URL and no credentials, which is what the rule's OAUTH check guards against."
)
PIPELINE_PROJECT_SOURCE: tuple[Finding, ...] = tuple(
    Finding(pack=p, finding=f"{p}-CodeBuildProjectSourceRepoUrl", reason=_CODEPIPELINE_SOURCE) for p in PACK_NAMES[3:]
)
_ARTIFACTS_NOT_LOGGED = (
    "A pipeline artifact bucket (or its replication bucket in a target Region) is written and read only by the "
    "pipeline's roles, whose every call CloudTrail records; access logs would need a log bucket per Region."
)
_ARTIFACTS_NOT_REPLICATED = (
    "Pipeline artifacts are transient copies of a commit and its synthesized templates, expired after 90 days; "
    "the repository and a re-run of the pipeline produce them again."
)
# The same decisions as checkov skips (check id, comment) in each resource's Metadata.
CHECKOV_ARTIFACTS_NOT_LOGGED = ("CKV_AWS_18", _ARTIFACTS_NOT_LOGGED)
CHECKOV_PIPELINE_KEYS_OF_OTHER_REGIONS = ("CKV_AWS_111", PIPELINE_KEYS_OF_OTHER_REGIONS.reason)
PIPELINE_ARTIFACT_BUCKET_FINDINGS: tuple[Finding, ...] = (
    Finding(pack="AwsSolutions", finding="AwsSolutions-S1", reason=_ARTIFACTS_NOT_LOGGED),
    *(Finding(pack=p, finding=f"{p}-S3BucketLoggingEnabled", reason=_ARTIFACTS_NOT_LOGGED) for p in PACK_NAMES[2:]),
    *(
        Finding(pack=p, finding=f"{p}-S3BucketReplicationEnabled", reason=_ARTIFACTS_NOT_REPLICATED)
        for p in PACK_NAMES[2:]
    ),
    Finding(
        pack=CONTROL_TOWER_PLUGIN,
        control="CT.S3.PR.2",
        finding="s3_bucket_logging_enabled_check",
        reason=_ARTIFACTS_NOT_LOGGED,
    ),
    Finding(
        pack=CONTROL_TOWER_PLUGIN,
        control="CT.S3.PR.9",
        finding="s3_bucket_object_lock_enabled_check",
        reason="Artifacts expire after 90 days and CodePipeline overwrites nothing it needs; a default Object Lock "
        "retention would keep every commit's artifacts against that expiry. The bucket is versioned.",
    ),
    Finding(
        pack=CONTROL_TOWER_PLUGIN,
        control="CT.S3.PR.4",
        finding="s3_event_notifications_enabled_check",
        reason="Nothing reacts to an artifact: CodePipeline writes and reads them within an execution, and the "
        "pipeline's failures and approvals are notified by its own notification rule (PipelineNotifications).",
    ),
)
