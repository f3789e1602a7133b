"""The audit archive of `features.cdc`: every change of the documents table, kept for years.

DynamoDB writes each change of the table to a Kinesis data stream (Kinesis Data Streams for
DynamoDB, a change feed of its own: it takes none of the table stream's two readers), and a
Firehose delivery stream writes the stream's records, gzipped, into an S3 bucket partitioned
by day. Firehose needs no code; docs/architecture.md ("The audit archive") has the choice and
its cost, and docs/operations.md how to replay a day (tools/replay_audit_day.py).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks import nag
from stacks.components.encryption_key import EncryptionKey
from stacks.components.private_bucket import private_bucket_properties

# Where Firehose writes (its timestamp namespace is the record's arrival time, in UTC), and
# where it writes what it could not deliver. The replay tool reads the same layout.
CHANGES_PREFIX = "changes/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/"
ERRORS_PREFIX = "errors/!{firehose:error-output-type}/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/"
# Where the archive bucket's S3 server access logs go in the access-log bucket.
ACCESS_LOG_PREFIX = "audit-archive/"
# An archive, not a feed: the largest buffers Firehose allows mean the fewest objects (each
# one costs a PUT, a lifecycle transition and at least 128 KB in Glacier Instant Retrieval).
BUFFER_SECONDS = 900
BUFFER_MEGABYTES = 128
DELIVERY_LOG_RETENTION = logs.RetentionDays.ONE_YEAR

# The whole of what Firehose does with its role: read the stream (the actions AWS's Firehose
# guide lists for a Kinesis source), write objects under the two prefixes, log its errors.
STREAM_READ_ACTIONS = ["kinesis:DescribeStream", "kinesis:GetShardIterator", "kinesis:GetRecords", "kinesis:ListShards"]
BUCKET_ACTIONS = ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"]
OBJECT_WRITE_ACTIONS = ["s3:AbortMultipartUpload", "s3:PutObject"]


def _prefix_root(prefix: str) -> str:
    """`changes/year=!{...}/...` -> `changes/`: the fixed part an IAM ARN can name."""
    return prefix.split("/", 1)[0] + "/"


class ChangeStream(Construct):
    """The Kinesis data stream DynamoDB writes the table's changes to: on-demand (it follows the
    table's write rate without a shard count to size), encrypted with its own key, RETAIN."""

    def __init__(self, scope: Construct, construct_id: str, *, retention: cdk.Duration) -> None:
        super().__init__(scope, construct_id)
        self.key = EncryptionKey(self, "Key", description="Folio: encrypts the table's change stream (audit)").key
        self.stream = kinesis.Stream(
            self,
            "Stream",
            stream_mode=kinesis.StreamMode.ON_DEMAND,
            encryption=kinesis.StreamEncryption.KMS,
            encryption_key=self.key,
            retention_period=retention,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        nag.acknowledge(self.stream, nag.CHANGE_STREAM_CUSTOMER_MANAGED_KEY)


class AuditArchive(Construct):
    """Firehose from the change stream into the archive bucket.

    The bucket: KMS with its own key and a bucket key, versioned, Object Lock (governance) for
    the retention, TLS 1.2+ only, no public access, no ACLs, access-logged, Glacier Instant
    Retrieval after `transition_after` (a replay reads it without a restore), expiry after
    `retention`, RETAIN. Firehose's role may do nothing but what the module constants list.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        change_stream: ChangeStream,
        access_logs: s3.IBucket,
        transition_after: cdk.Duration,
        retention: cdk.Duration,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.key = EncryptionKey(
            self, "Key", description="Folio: encrypts the audit archive and its delivery log", for_log_groups=True
        ).key
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            **private_bucket_properties(self.key),
            # Governance mode: nobody overwrites or deletes an archived change before its time,
            # except a principal explicitly allowed s3:BypassGovernanceRetention (for a lawful
            # erasure). Compliance mode would make even that impossible.
            object_lock_enabled=True,
            object_lock_default_retention=s3.ObjectLockRetention.governance(retention),
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix=ACCESS_LOG_PREFIX,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ColdAfterTransitionExpireAfterRetention",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transition_after=transition_after
                        )
                    ],
                    expiration=retention,
                    noncurrent_version_expiration=cdk.Duration.days(1),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                ),
                s3.LifecycleRule(id="RemoveExpiredDeleteMarkers", expired_object_delete_marker=True),
            ],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        for finding in nag.ARCHIVE_BUCKET_FINDINGS:
            nag.acknowledge(self.bucket, finding)
        # Deleted or overwritten archive objects show up as EventBridge events (Control Tower
        # CT.S3.PR.4); on the L1 resource, as for the documents bucket (no notifications Lambda).
        cfn_bucket = self.bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        cfn_bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(event_bridge_enabled=True)
        )

        self.log_group = logs.LogGroup(
            self,
            "DeliveryLog",
            encryption_key=self.key,
            retention=DELIVERY_LOG_RETENTION,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        log_stream = logs.LogStream(
            self, "DeliveryErrors", log_group=self.log_group, removal_policy=cdk.RemovalPolicy.RETAIN
        )
        log_stream_arn = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name=f"{self.log_group.log_group_name}:log-stream:{log_stream.log_stream_name}",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )

        stream = change_stream.stream
        self.policy = iam.ManagedPolicy(
            self,
            "DeliveryPolicy",
            description="Folio: what Firehose does for the audit archive, and nothing else",
            statements=self._statements(change_stream, log_stream_arn),
        )
        for finding in nag.ARCHIVE_OBJECT_PREFIXES:
            nag.acknowledge(self.policy, finding, bucket=nag.logical_id(self.bucket))
        # The role names the policy, so the delivery stream (which names the role) is created
        # after both: Firehose checks its role's access when the stream is created.
        self.role = iam.Role(
            self,
            "DeliveryRole",
            assumed_by=iam.ServicePrincipal(
                "firehose.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": stack.account}}
            ),
            description="Folio: Firehose reads the change stream and writes the audit archive",
            managed_policies=[self.policy],
        )

        # L1: the L2 DeliveryStream grants its roles s3:DeleteObject*, s3:List*, PutObjectRetention
        # and kinesis:ListStreams/SubscribeToShard; this role has exactly the statements above.
        self.delivery_stream = firehose.CfnDeliveryStream(
            self,
            "DeliveryStream",
            delivery_stream_type="KinesisStreamAsSource",
            kinesis_stream_source_configuration=firehose.CfnDeliveryStream.KinesisStreamSourceConfigurationProperty(
                kinesis_stream_arn=stream.stream_arn, role_arn=self.role.role_arn
            ),
            extended_s3_destination_configuration=firehose.CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty(
                bucket_arn=self.bucket.bucket_arn,
                role_arn=self.role.role_arn,
                prefix=CHANGES_PREFIX,
                error_output_prefix=ERRORS_PREFIX,
                custom_time_zone="UTC",
                compression_format="GZIP",
                buffering_hints=firehose.CfnDeliveryStream.BufferingHintsProperty(
                    interval_in_seconds=BUFFER_SECONDS, size_in_m_bs=BUFFER_MEGABYTES
                ),
                encryption_configuration=firehose.CfnDeliveryStream.EncryptionConfigurationProperty(
                    kms_encryption_config=firehose.CfnDeliveryStream.KMSEncryptionConfigProperty(
                        awskms_key_arn=self.key.key_arn
                    )
                ),
                cloud_watch_logging_options=firehose.CfnDeliveryStream.CloudWatchLoggingOptionsProperty(
                    enabled=True,
                    log_group_name=self.log_group.log_group_name,
                    log_stream_name=log_stream.log_stream_name,
                ),
            ),
        )
        nag.acknowledge(self.delivery_stream, nag.FIREHOSE_READS_AN_ENCRYPTED_STREAM)

    def _statements(self, change_stream: ChangeStream, log_stream_arn: str) -> list[iam.PolicyStatement]:
        region = cdk.Stack.of(self).region
        stream_arn = change_stream.stream.stream_arn
        return [
            iam.PolicyStatement(sid="ReadChangeStream", actions=STREAM_READ_ACTIONS, resources=[stream_arn]),
            iam.PolicyStatement(
                sid="DecryptChangeStream",
                actions=["kms:Decrypt"],
                resources=[change_stream.key.key_arn],
                conditions={
                    "StringEquals": {
                        "kms:ViaService": f"kinesis.{region}.amazonaws.com",
                        "kms:EncryptionContext:aws:kinesis:arn": stream_arn,
                    }
                },
            ),
            iam.PolicyStatement(sid="FindArchiveBucket", actions=BUCKET_ACTIONS, resources=[self.bucket.bucket_arn]),
            iam.PolicyStatement(
                sid="WriteArchiveObjects",
                actions=OBJECT_WRITE_ACTIONS,
                resources=[
                    self.bucket.arn_for_objects(f"{_prefix_root(CHANGES_PREFIX)}*"),
                    self.bucket.arn_for_objects(f"{_prefix_root(ERRORS_PREFIX)}*"),
                ],
            ),
            iam.PolicyStatement(
                sid="EncryptArchiveObjects",
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[self.key.key_arn],
                conditions={
                    # With a bucket key, S3 asks KMS with the bucket's ARN as encryption context.
                    "StringEquals": {
                        "kms:ViaService": f"s3.{region}.amazonaws.com",
                        "kms:EncryptionContext:aws:s3:arn": self.bucket.bucket_arn,
                    }
                },
            ),
            iam.PolicyStatement(sid="LogDeliveryErrors", actions=["logs:PutLogEvents"], resources=[log_stream_arn]),
        ]
