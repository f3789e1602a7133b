"""`SearchIngestion`: the OpenSearch Ingestion (OSIS) pipeline that fills the `documents` index
from the table, zero-ETL: an initial export from PITR through S3, then the table's stream.

It is the table stream's second and last reader (the lifecycle worker is the first; a shard
serves two). docs/architecture.md, "The ingestion pipeline".
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_osis as osis
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks import nag
from stacks.components.document_store import SEARCH_EXPORTS_ACCESS_LOG_PREFIX
from stacks.components.function_baseline import FUNCTION_SUBNETS
from stacks.components.private_bucket import private_bucket_properties
from stacks.components.search_domain import SearchDomain
from stacks.search_pipeline import DeadLetters, ExportLocation, PipelineSpec, pipeline_body, serialize

OSIS_SERVICE = "osis-pipelines.amazonaws.com"
EXPORT_PREFIX = "export/"
DLQ_PREFIX = "dlq/"
# An export is read once, right after it is written; a re-export writes a new one.
EXPORT_RETENTION = cdk.Duration.days(7)
# Dead letters hold document fields (names, tags); they are replayed or dropped within the
# 30 days after which a trashed document is purged anyway (docs/operations.md).
DLQ_RETENTION = cdk.Duration.days(30)
LOG_RETENTION = logs.RetentionDays.ONE_YEAR
# What the OpenSearch sink sends: GET/HEAD (cluster and index checks), PUT (the index template),
# POST (_bulk). Fine-grained access control then limits the role to `documents`.
SINK_HTTP_ACTIONS = ("es:ESHttpGet", "es:ESHttpHead", "es:ESHttpPost", "es:ESHttpPut")
# The actions AWS documents for a DynamoDB source ("Using an OpenSearch Ingestion pipeline with
# Amazon DynamoDB", https://docs.aws.amazon.com/opensearch-service/latest/developerguide/configure-client-ddb.html).
EXPORT_ACTIONS = ("dynamodb:DescribeContinuousBackups", "dynamodb:DescribeTable", "dynamodb:ExportTableToPointInTime")
DESCRIBE_EXPORT_ACTIONS = ("dynamodb:DescribeExport",)
STREAM_ACTIONS = ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator")
EXPORT_OBJECT_ACTIONS = ("s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject", "s3:PutObjectAcl")
DLQ_OBJECT_ACTIONS = ("s3:PutObject",)


def table_access_policy(
    scope: Construct, construct_id: str, *, table: dynamodb.ITableV2, table_key: kms.IKey
) -> iam.ManagedPolicy:
    """What the pipeline may do to the table, as a managed policy in the table's own stack.

    It lives beside the table (the Data stack) so that `<table>/export/*` is the table's own ARN
    there, acknowledged like the backup role's `<table>/backup/*`; the pipeline's role in the
    Search stack attaches it. No principal uses it until then.
    """
    table_arn = table.table_arn
    if table.table_stream_arn is None:
        raise ValueError("the search pipeline reads the table's stream: the table must have one")
    policy = iam.ManagedPolicy(
        scope,
        construct_id,
        description="Folio search ingestion: export the documents table and read its stream",
        statements=[
            iam.PolicyStatement(sid="RunExport", actions=list(EXPORT_ACTIONS), resources=[table_arn]),
            iam.PolicyStatement(
                sid="CheckExport", actions=list(DESCRIBE_EXPORT_ACTIONS), resources=[f"{table_arn}/export/*"]
            ),
            iam.PolicyStatement(sid="ReadStream", actions=list(STREAM_ACTIONS), resources=[table.table_stream_arn]),
            # Stream records and the export are read with the table key.
            iam.PolicyStatement(sid="TableKey", actions=["kms:Decrypt"], resources=[table_key.key_arn]),
        ],
    )
    nag.acknowledge(policy, nag.SEARCH_INGESTION_EXPORTS, table=nag.logical_id(table))
    return policy


@dataclass(frozen=True)
class IngestionCapacity:
    """The pipeline's OCUs (config `search.min_ocus`/`max_ocus`): one OCU per 150 open stream shards."""

    min_ocus: int
    max_ocus: int


class SearchIngestion(Construct):
    """An OSIS pipeline (L1: aws-cdk-lib has no L2 for OSIS) with its own role, bucket, key use,
    security group and log group.

    - Source: `table` (PITR on, the DocumentsTable construct), exported to `bucket` under
      `EXPORT_PREFIX` with `export_key`, then its stream.
    - Sink: `domain`, index `documents`, document items only; refused documents go to the same
      bucket under `DLQ_PREFIX` (one bucket, one key, two prefixes with their own lifecycle).
    - Network: the isolated subnets, a security group that may only reach the domain on 443.
    - Logs: a log group under /aws/vendedlogs/ encrypted with `log_key`.
    - Role: exactly the documented actions on the table, its exports, its stream and its key
      (`table_access`, from `table_access_policy` in the Data stack), the two prefixes, the export
      key and the domain; trusted by OSIS for this account and this pipeline only.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipeline_name: str,
        bucket_name: str,
        access_logs: s3.IBucket,
        table: dynamodb.ITableV2,
        table_access: iam.IManagedPolicy,
        domain: SearchDomain,
        vpc: ec2.IVpc,
        export_key: kms.IKey,
        log_key: kms.IKey,
        capacity: IngestionCapacity,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        pipeline_arn = stack.format_arn(service="osis", resource="pipeline", resource_name=pipeline_name)
        self.bucket = s3.Bucket(
            self,
            "Exports",
            # Named, so the Data stack's access-log bucket can admit its logs (stage.py).
            bucket_name=bucket_name,
            **private_bucket_properties(export_key),
            lifecycle_rules=[
                s3.LifecycleRule(id="ExpireExports", prefix=EXPORT_PREFIX, expiration=EXPORT_RETENTION),
                s3.LifecycleRule(id="ExpireDeadLetters", prefix=DLQ_PREFIX, expiration=DLQ_RETENTION),
                s3.LifecycleRule(
                    id="ExpireOldVersions",
                    noncurrent_version_expiration=cdk.Duration.days(1),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                ),
            ],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        for finding in nag.SEARCH_EXPORT_BUCKET_FINDINGS:
            nag.acknowledge(self.bucket, finding)
        cfn_bucket = self.bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        cfn_bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(event_bridge_enabled=True)
        )
        # Into the Data stack's access-log bucket, set on the L1 resource: the L2 property would
        # add a statement to that bucket's policy naming this one, a reference back (a cycle).
        cfn_bucket.logging_configuration = s3.CfnBucket.LoggingConfigurationProperty(
            destination_bucket_name=access_logs.bucket_name, log_file_prefix=SEARCH_EXPORTS_ACCESS_LOG_PREFIX
        )

        self.role = iam.Role(
            self,
            "Role",
            description="Folio search ingestion: reads the table (export, stream), writes the documents index",
            assumed_by=iam.ServicePrincipal(
                OSIS_SERVICE,
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": pipeline_arn},
                },
            ),
        )
        self.role.add_managed_policy(table_access)
        policy = self._grant(export_key, domain)

        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="Folio search ingestion: HTTPS out to the search domain only",
            allow_all_outbound=False,
        )
        domain.admit_network(self.security_group, "HTTPS to OpenSearch from the ingestion pipeline")
        domain.admit(self.role.role_arn, sid="IngestionPipeline", actions=SINK_HTTP_ACTIONS)

        self.log_group = logs.LogGroup(
            self,
            "Logs",
            # OSIS publishes only to log groups under /aws/vendedlogs/.
            log_group_name=f"/aws/vendedlogs/OpenSearchIngestion/{pipeline_name}/audit-logs",
            encryption_key=log_key,
            retention=LOG_RETENTION,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.body = pipeline_body(
            PipelineSpec(
                region=stack.region,
                role_arn=self.role.role_arn,
                table_arn=table.table_arn,
                export=ExportLocation(
                    bucket_name=self.bucket.bucket_name, prefix=EXPORT_PREFIX, kms_key_arn=export_key.key_arn
                ),
                domain_endpoint=domain.endpoint,
                dead_letters=DeadLetters(bucket_name=self.bucket.bucket_name, prefix=DLQ_PREFIX),
            )
        )
        subnets = vpc.select_subnets(subnet_type=FUNCTION_SUBNETS)
        self.pipeline = osis.CfnPipeline(
            self,
            "Pipeline",
            pipeline_name=pipeline_name,
            min_units=capacity.min_ocus,
            max_units=capacity.max_ocus,
            # A plain string with tokens: CDK emits Fn::Join, ${getMetadata(...)} stays literal.
            pipeline_configuration_body=serialize(self.body),
            pipeline_role_arn=self.role.role_arn,
            vpc_options=osis.CfnPipeline.VpcOptionsProperty(
                subnet_ids=subnets.subnet_ids, security_group_ids=[self.security_group.security_group_id]
            ),
            log_publishing_options=osis.CfnPipeline.LogPublishingOptionsProperty(
                is_logging_enabled=True,
                cloud_watch_log_destination=osis.CfnPipeline.CloudWatchLogDestinationProperty(
                    log_group=self.log_group.log_group_name
                ),
            ),
        )
        # The pipeline starts its export as soon as it exists: its role must already allow it.
        self.pipeline.node.add_dependency(policy)
        cdk.Tags.of(self).add("folio:component", "search-ingestion")

    def _grant(self, export_key: kms.IKey, domain: SearchDomain) -> iam.ManagedPolicy:
        """The pipeline's own permissions in this stack: the two prefixes, the export key, the domain."""
        statements = [
            iam.PolicyStatement(
                sid="ExportObjects",
                actions=list(EXPORT_OBJECT_ACTIONS),
                resources=[self.bucket.arn_for_objects(f"{EXPORT_PREFIX}*")],
            ),
            iam.PolicyStatement(
                sid="DeadLetterObjects",
                actions=list(DLQ_OBJECT_ACTIONS),
                resources=[self.bucket.arn_for_objects(f"{DLQ_PREFIX}*")],
            ),
            # Export files and dead letters are written and read with the export key.
            iam.PolicyStatement(
                sid="ExportKey",
                actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                resources=[export_key.key_arn],
            ),
            iam.PolicyStatement(sid="DescribeDomain", actions=["es:DescribeDomain"], resources=[domain.domain_arn]),
            iam.PolicyStatement(
                sid="WriteDocuments", actions=list(SINK_HTTP_ACTIONS), resources=[f"{domain.domain_arn}/*"]
            ),
        ]
        policy = iam.ManagedPolicy(
            self, "Policy", description="Folio search ingestion: export bucket, keys, domain", statements=statements
        )
        self.role.add_managed_policy(policy)
        bucket = nag.logical_id(self.bucket)
        for prefix in (EXPORT_PREFIX, DLQ_PREFIX):
            nag.acknowledge(policy, nag.SEARCH_INGESTION_PREFIX, bucket=bucket, prefix=prefix)
        stack = cdk.Stack.of(self)
        nag.acknowledge(
            policy,
            nag.SEARCH_INGESTION_DOMAIN,
            region=stack.region,
            account=stack.account,
            domain=domain.domain_name,
        )
        return policy
