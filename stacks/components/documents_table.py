"""The one DynamoDB table of Folio (a global table), built from the runtime key schema."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from constructs import Construct

from folio import keys

# PITR keeps 35 days, the maximum DynamoDB offers: Folio restores to any second of
# the last five weeks, which also covers the OpenSearch re-export window.
POINT_IN_TIME_RECOVERY_DAYS = 35

_ATTRIBUTE_TYPES = {
    keys.AttributeKind.STRING: dynamodb.AttributeType.STRING,
    keys.AttributeKind.NUMBER: dynamodb.AttributeType.NUMBER,
}
_PROJECTIONS = {
    keys.Projection.KEYS_ONLY: dynamodb.ProjectionType.KEYS_ONLY,
    keys.Projection.INCLUDE: dynamodb.ProjectionType.INCLUDE,
    keys.Projection.ALL: dynamodb.ProjectionType.ALL,
}
_TABLE_CLASSES = {
    "STANDARD": dynamodb.TableClass.STANDARD,
    "STANDARD_INFREQUENT_ACCESS": dynamodb.TableClass.STANDARD_INFREQUENT_ACCESS,
}


def _attribute(attribute: keys.KeyAttribute) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=attribute.name, type=_ATTRIBUTE_TYPES[attribute.kind])


def _index(index: keys.IndexSchema, max_read: int, max_write: int) -> dynamodb.GlobalSecondaryIndexPropsV2:
    return dynamodb.GlobalSecondaryIndexPropsV2(
        index_name=index.name,
        partition_keys=[_attribute(a) for a in index.partition_keys],
        sort_keys=[_attribute(a) for a in index.sort_keys],
        projection_type=_PROJECTIONS[index.projection],
        non_key_attributes=list(index.non_key_attributes) or None,
        max_read_request_units=max_read,
        max_write_request_units=max_write,
    )


class DocumentsTable(Construct):
    """TableV2 with GSIs, TTL, a NEW_AND_OLD_IMAGES stream, PITR, deletion protection,
    contributor insights, a customer-managed key and a replica in every replica Region.

    Each replica Region must already hold a key behind `replica_key_arns[region]`
    (an alias ARN is accepted): the Stage deploys those keys first.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        encryption_key: kms.IKey,
        replica_key_arns: Mapping[str, str],
        table_class: str,
        max_read_request_units: int,
        max_write_request_units: int,
        change_stream: kinesis.IStream | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        pitr = dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True, recovery_period_in_days=POINT_IN_TIME_RECOVERY_DAYS
        )
        insights = dynamodb.ContributorInsightsSpecification(enabled=True)
        replicas: Sequence[dynamodb.ReplicaTableProps] = [
            dynamodb.ReplicaTableProps(
                region=region,
                point_in_time_recovery_specification=pitr,
                deletion_protection=True,
                contributor_insights_specification=insights,
            )
            for region in replica_key_arns
        ]
        self.table = dynamodb.TableV2(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=keys.PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=keys.SORT_KEY, type=dynamodb.AttributeType.STRING),
            global_secondary_indexes=[
                _index(index, max_read_request_units, max_write_request_units)
                for index in keys.GLOBAL_SECONDARY_INDEXES
            ],
            time_to_live_attribute=keys.TTL_ATTRIBUTE,
            dynamo_stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            billing=dynamodb.Billing.on_demand(
                max_read_request_units=max_read_request_units,
                max_write_request_units=max_write_request_units,
            ),
            table_class=_TABLE_CLASSES[table_class],
            encryption=dynamodb.TableEncryptionV2.customer_managed_key(encryption_key, dict(replica_key_arns)),
            point_in_time_recovery_specification=pitr,
            deletion_protection=True,
            contributor_insights_specification=insights,
            replicas=list(replicas),
            removal_policy=cdk.RemovalPolicy.RETAIN,
            # Kinesis Data Streams for DynamoDB (the audit archive): a change feed apart from the
            # table's stream, set on the home Region's replica only; it carries replicated writes too.
            kinesis_stream=change_stream,
        )
        if change_stream is not None:
            # Microseconds, so the replay can order two changes of one item made in the same millisecond.
            # TableV2 lists the home Region's replica last and has no property for the precision.
            cfn_table = self.table.node.default_child
            assert isinstance(cfn_table, dynamodb.CfnGlobalTable)
            home_replica = f"Replicas.{len(replicas)}"
            cfn_table.add_property_override(
                f"{home_replica}.KinesisStreamSpecification.ApproximateCreationDateTimePrecision", "MICROSECOND"
            )
