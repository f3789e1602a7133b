"""The table where Powertools idempotency remembers `POST /documents` requests."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

# Powertools' DynamoDBPersistenceLayer defaults: records keyed by `id`, expiring at `expiration`.
IDEMPOTENCY_KEY = "id"
IDEMPOTENCY_EXPIRY = "expiration"


class IdempotencyTable(Construct):
    """A small on-demand table with TTL, PITR, deletion protection and the table key.

    Separate from the documents table so its short-lived records never reach the
    documents stream (search, lifecycle) and its keys stay Powertools' own."""

    def __init__(self, scope: Construct, construct_id: str, *, encryption_key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.TableV2(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=IDEMPOTENCY_KEY, type=dynamodb.AttributeType.STRING),
            time_to_live_attribute=IDEMPOTENCY_EXPIRY,
            billing=dynamodb.Billing.on_demand(max_read_request_units=1_000, max_write_request_units=1_000),
            encryption=dynamodb.TableEncryptionV2.customer_managed_key(encryption_key),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True, recovery_period_in_days=7
            ),
            deletion_protection=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
