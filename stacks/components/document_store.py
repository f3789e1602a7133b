"""S3 for the documents' bytes, and the bucket that receives its access logs."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks import nag
from stacks.components.private_bucket import private_bucket_properties

# Where the access logs of the documents bucket go in the access-log bucket (a log prefix, not
# the prefix of the documents' own objects, folio.object_keys.DOCUMENT_OBJECT_PREFIX).
ACCESS_LOG_PREFIX = "documents/"
# Where the search pipeline's export bucket (Search stack) logs, in the same access-log bucket.
SEARCH_EXPORTS_ACCESS_LOG_PREFIX = "search-exports/"
# Browsers upload with a presigned POST and download with a presigned GET.
_CORS_METHODS = [s3.HttpMethods.GET, s3.HttpMethods.HEAD, s3.HttpMethods.POST]


def delete_every_version(bucket: s3.IBucket, document_prefix: str) -> list[iam.PolicyStatement]:
    """What `DocumentStorage.delete_every_version` needs: list one key's versions (only with an
    s3:prefix under the documents prefix) and delete versions there. The bucket is versioned, so
    a plain DeleteObject would only hide the bytes behind a delete marker."""
    return [
        iam.PolicyStatement(
            sid="FindObjectVersions",
            actions=["s3:ListBucketVersions"],
            resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": f"{document_prefix}*"}},
        ),
        iam.PolicyStatement(
            sid="DeleteObjectVersions",
            actions=["s3:DeleteObjectVersion"],
            resources=[bucket.arn_for_objects(f"{document_prefix}*")],
        ),
    ]


class DocumentStore(Construct):
    """The documents bucket: KMS with a bucket key, no public access, TLS 1.2+ only,
    versioned, no ACLs, access-logged, multipart uploads aborted after a day, old
    versions expired after the configured time, CORS only for Folio's origins, RETAIN.

    Object keys are built server-side from owner and document id (folio.storage), never
    from a name a user typed.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket_name: str,
        encryption_key: kms.IKey,
        cors_origins: Sequence[str],
        noncurrent_version_retention: cdk.Duration,
        access_log_retention: cdk.Duration,
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            # S3 server access logging can only deliver to a bucket encrypted with SSE-S3.
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireAccessLogs",
                    expiration=access_log_retention,
                    noncurrent_version_expiration=cdk.Duration.days(1),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                )
            ],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        for finding in (*nag.ACCESS_LOG_BUCKET_FINDINGS, *nag.ACCESS_LOG_BUCKET_CONTROLS):
            nag.acknowledge(self.access_logs, finding)
        # Deleted or overwritten logs show up as EventBridge events (Control Tower CT.S3.PR.4);
        # set on the L1 resource, as for the documents bucket below.
        cfn_access_logs = self.access_logs.node.default_child
        assert isinstance(cfn_access_logs, s3.CfnBucket)
        cfn_access_logs.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(event_bridge_enabled=True)
        )
        nag.skip_checkov(
            self.access_logs,
            "CKV_AWS_18",
            "This is the access-log bucket: logging its own access would log into itself without end.",
        )

        self.bucket = s3.Bucket(
            self,
            "Documents",
            # A fixed name so the Api stack (and later other Regions) can address it without references.
            bucket_name=bucket_name,
            **private_bucket_properties(encryption_key),
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=ACCESS_LOG_PREFIX,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="AbortIncompleteUploads", abort_incomplete_multipart_upload_after=cdk.Duration.days(1)
                ),
                s3.LifecycleRule(id="ExpireOldVersions", noncurrent_version_expiration=noncurrent_version_retention),
            ],
            cors=[
                s3.CorsRule(
                    allowed_methods=_CORS_METHODS,
                    allowed_origins=list(cors_origins),
                    allowed_headers=["content-type", "content-length", "x-amz-*"],
                    exposed_headers=["etag"],
                    max_age=3000,
                )
            ],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        # Uploads reach the upload worker as EventBridge "Object Created" events. Set on
        # the L1 resource: the L2 switch goes through CDK's notifications custom resource.
        cfn_bucket = self.bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        cfn_bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(event_bridge_enabled=True)
        )
        for finding in (*nag.DOCUMENT_BUCKET_FINDINGS, nag.DOCUMENT_BUCKET_OBJECT_LOCK):
            nag.acknowledge(self.bucket, finding)

    def receive_access_logs_of(self, bucket_name: str, prefix: str) -> None:
        """Let S3 deliver another bucket's access logs here, under `prefix`. The bucket is named,
        not referenced, because it lives in a stack that depends on this one (a reference would
        be a cycle); the condition still pins the source bucket and this account."""
        stack = cdk.Stack.of(self)
        self.access_logs.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AccessLogsOf" + "".join(part.capitalize() for part in prefix.strip("/").split("-")),
                principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[self.access_logs.arn_for_objects(f"{prefix}*")],
                conditions={
                    "ArnLike": {"aws:SourceArn": f"arn:{stack.partition}:s3:::{bucket_name}"},
                    "StringEquals": {"aws:SourceAccount": stack.account},
                },
            )
        )
