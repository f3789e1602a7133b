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
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from folio.search_index import SEARCH_PATH
from stacks.components.encryption_key import EncryptionKey
from stacks.components.search_domain import SearchDomain, SearchFunctionReach, SearchSizing
from stacks.components.search_functions import SearchFunctions
from stacks.components.search_ingestion import IngestionCapacity, SearchIngestion
from stacks.components.search_role_mappings import SearchRoleMappings, SearchRoleMappingsFunction
from stacks.components.search_sweep import SearchSweep


class SearchStack(cdk.Stack):
    """The search domain with its keys, in the Network stack's isolated subnets, and the zero-ETL
    pipeline (`ingestion`) that exports the table and then reads its stream into it.

    The Api stack's search function is admitted by its role's name (`search_function_role_name`):
    that stack is deployed after this one and reads `search_function_reach` (the endpoint, the
    security group, the role name to take), so a reference back would be a cycle. The access
    policy lets it POST to the documents index's `_search` and nothing else.
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
        table_key: kms.IKey,
        table_access: iam.IManagedPolicy,
        pipeline_name: str,
        exports_bucket_name: str,
        access_logs: s3.IBucket,
        capacity: IngestionCapacity,
        search_function_role_name: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.key = EncryptionKey(self, "DomainKey", description="Folio search domain: indices and snapshots at rest")
        self.log_key = EncryptionKey(
            self, "LogKey", description="Folio search domain: its log groups", for_log_groups=True
        )
        self.export_key = EncryptionKey(
            self,
            "ExportKey",
            description="Folio search: table exports, dead letters in S3 and SQS",
            # EventBridge encrypts the sweep's undelivered schedule events into the dead-letter queue.
            service_principals=["events.amazonaws.com"],
        )
        self.functions = functions = SearchFunctions(
            self, "Functions", vpc=vpc, key=self.export_key.key, log_key=self.log_key.key
        )
        # Built first: its role is the domain's master user.
        role_mappings_function = SearchRoleMappingsFunction(self, "RoleMappingsFunction", functions=functions)
        self.domain = SearchDomain(
            self,
            "Search",
            domain_name=domain_name,
            vpc=vpc,
            key=self.key.key,
            log_key=self.log_key.key,
            sizing=sizing,
            master_role=role_mappings_function.role,
        )
        functions.admit_to(self.domain)
        search_function_role_arn = self.format_arn(
            service="iam", region="", resource="role", resource_name=search_function_role_name
        )
        self.domain.admit(
            search_function_role_arn,
            sid="SearchFunction",
            actions=["es:ESHttpPost"],
            paths=[SEARCH_PATH],
            deployed_later=True,
        )
        self.search_function_reach = SearchFunctionReach(
            role_name=search_function_role_name,
            endpoint_url=f"https://{self.domain.endpoint}",
            domain_arn=self.domain.domain_arn,
            security_group=self.domain.security_group,
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
        self.sweep = SearchSweep(
            self, "Sweep", functions=functions, domain=self.domain, table=table, table_key=table_key
        )
        self.role_mappings = SearchRoleMappings(
            self,
            "RoleMappings",
            function=role_mappings_function,
            functions=functions,
            domain=self.domain,
            pipeline_role_arn=self.ingestion.role.role_arn,
            search_role_arns=[search_function_role_arn],
            sweep_role_arn=self.sweep.role.role_arn,
        )
        # The pipeline's first writes (the table's export) need its role mapped, or they are
        # refused; so does the sweep's first run.
        self.ingestion.pipeline.node.add_dependency(self.role_mappings)
        self.sweep.schedule.node.add_dependency(self.role_mappings)
