"""`SearchStack`: the OpenSearch domain Folio's search reads and the ingestion pipeline that
fills it from the table, where `features.search` is on.

A stack of its own because its lifecycle differs from both neighbours: unlike the Data stack
it holds nothing that cannot be rebuilt from the table (re-export), and unlike the Api stack a
deploy must not replace it casually. docs/architecture.md, "The Search stack".
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.components.encryption_key import EncryptionKey
from stacks.components.search_domain import SearchDomain, SearchSizing
from stacks.components.search_ingestion import IngestionCapacity, SearchIngestion


class SearchStack(cdk.Stack):
    """The search domain with its keys, in the Network stack's isolated subnets, and the zero-ETL
    pipeline (`ingestion`) that exports the table and then reads its stream into it.

    Seams for what comes next: the Api stack's search function
    reach the domain through `domain.admit(role_arn, ...)` (access policy),
    `domain.admit_network(group, ...)` (port 443) and `domain.admit_master(...)` (the
    role-mapping custom resource); they read `domain.domain_arn` and `domain.endpoint`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        domain_name: str,
        vpc: ec2.IVpc,
        sizing: SearchSizing,
        table: dynamodb.ITableV2,
        table_access: iam.IManagedPolicy,
        pipeline_name: str,
        exports_bucket_name: str,
        access_logs: s3.IBucket,
        capacity: IngestionCapacity,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.key = EncryptionKey(self, "DomainKey", description="Folio search domain: indices and snapshots at rest")
        self.log_key = EncryptionKey(
            self, "LogKey", description="Folio search domain: its log groups", for_log_groups=True
        )
        self.domain = SearchDomain(
            self,
            "Search",
            domain_name=domain_name,
            vpc=vpc,
            key=self.key.key,
            log_key=self.log_key.key,
            sizing=sizing,
        )
        self.export_key = EncryptionKey(
            self, "ExportKey", description="Folio search ingestion: table exports and dead letters in S3"
        )
        self.ingestion = SearchIngestion(
            self,
            "Ingestion",
            pipeline_name=pipeline_name,
            bucket_name=exports_bucket_name,
            access_logs=access_logs,
            table=table,
            table_access=table_access,
            domain=self.domain,
            vpc=vpc,
            export_key=self.export_key.key,
            log_key=self.log_key.key,
            capacity=capacity,
        )
