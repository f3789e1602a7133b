"""`FolioStage`: one environment's stacks, built from its config.

`app.py` instantiates it for a direct `cdk deploy`, and the pipeline (`PipelineStack`) adds
the same class as a pipeline stage, so the two ways of deploying can never drift.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from stacks import pipeline_permissions
from stacks.api_stack import ApiStack
from stacks.components.dax_cache import DAX_MULTI_AZ_NODES, DaxSizing
from stacks.components.delivery_role import DeliveryRole
from stacks.components.search_domain import SearchSizing
from stacks.components.search_ingestion import IngestionCapacity
from stacks.components.search_maintenance_alarms import SearchMaintenanceAlarms
from stacks.config import FolioConfig
from stacks.data_stack import DataStack
from stacks.names import EnvironmentNames
from stacks.network_stack import DEFAULT_AVAILABILITY_ZONES, NetworkStack
from stacks.region_support_stack import RegionSupportStack
from stacks.search_stack import SearchStack

# The environment variables under which a pipeline step receives the home Region's values that a
# regional serving stage reads (FolioStage.serving_outputs; regional_serving_stage.publication_commands).
HOME_TABLE_NAME = "FOLIO_HOME_TABLE_NAME"
HOME_USER_POOL_ID = "FOLIO_HOME_USER_POOL_ID"
HOME_BUCKET_KEY_ID = "FOLIO_HOME_BUCKET_KEY_ID"


class FolioStage(cdk.Stage):
    """Home-Region data stack plus a support stack in each other Region it uses.

    `names` are the environment's fixed names, derived once from `config` by the caller
    (`EnvironmentNames.of(config)`), which also takes the stage's id from them. `delivered_by`
    is given by the pipeline for the stages it delivers (never for a direct deploy): the Data
    stack then holds the role its steps assume in this environment's account.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: FolioConfig,
        names: EnvironmentNames,
        delivered_by: pipeline_permissions.Delivery | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.names = names
        name = config.name
        cdk.Tags.of(self).add("folio:environment", name)

        self.region_stacks: dict[str, RegionSupportStack] = {}
        for region in config.all_regions[1:]:
            is_replica = region in config.replica_regions
            is_copy = region == config.backup.copy_region
            self.region_stacks[region] = RegionSupportStack(
                self,
                f"Region-{region}",
                env=cdk.Environment(account=config.account, region=region),
                description=f"Folio {name}: keys and vaults in {region} used by the {config.region} data stack",
                termination_protection=config.termination_protection,
                table_key_alias=names.table_key_alias if is_replica else None,
                table_key_arn_parameter=names.table_key_arn_parameter if is_replica else None,
                copy_vault_name=names.copy_vault if is_copy else None,
                copy_key_alias=names.copy_key_alias if is_copy else None,
            )

        replica_key_arns = {
            region: cdk.Arn.format(
                cdk.ArnComponents(
                    partition="aws",
                    service="kms",
                    region=region,
                    account=config.account,
                    resource=names.table_key_alias,
                    arn_format=cdk.ArnFormat.NO_RESOURCE_NAME,
                )
            )
            for region in config.replica_regions
        }
        self.data = DataStack(
            self,
            "Data",
            env=cdk.Environment(account=config.account, region=config.region),
            description=f"Folio {name}: stateful data (table, keys, backups). RETAIN everything.",
            termination_protection=config.termination_protection,
            table_class=config.table_class,
            billing=config.billing,
            replica_key_arns=replica_key_arns,
            backup_settings=config.backup,
            copy_vault_name=names.copy_vault,
            copy_key_alias=names.copy_key_alias,
            auth=config.auth,
            documents=config.documents,
            cors_origins=config.cors_origins,
            identity_pool=config.features.identity_pool,
            documents_bucket_name=names.documents_bucket,
            audit=config.audit if config.features.cdc else None,
            search_exports_bucket_name=names.search_exports_bucket if config.features.search else None,
        )
        for support in self.region_stacks.values():
            self.data.add_stack_dependency(support, "the data stack points at this Region's keys and vaults by name")
        # What the regional serving stages need from this Region, as outputs the pipeline (or an
        # operator) publishes to SSM in each replica Region (stacks/regional_serving_stage.py):
        # names and ids only, from which a serving stage builds ARNs in its own account and this Region.
        self.serving_outputs: dict[str, cdk.CfnOutput] = {
            HOME_TABLE_NAME: cdk.CfnOutput(self.data, "TableName", value=self.data.table.table_name),
            HOME_USER_POOL_ID: self.data.user_pool_id_output,
            HOME_BUCKET_KEY_ID: cdk.CfnOutput(self.data, "BucketKeyId", value=self.data.bucket_key.key_id),
        }

        self.delivery_role: DeliveryRole | None = None
        delivery = (
            pipeline_permissions.delivery(
                delivered_by, config, names, user_pool_arn=self.data.users.user_pool.user_pool_arn
            )
            if delivered_by is not None
            else []
        )
        if delivered_by is not None and delivery:
            self.delivery_role = DeliveryRole(
                self.data,
                "DeliveryRole",
                role_name=names.delivery_role,
                pipeline_account=delivered_by.pipeline_account,
                step_role_arns=delivered_by.step_role_arns(names),
                statements=delivery,
            )

        home = cdk.Environment(account=config.account, region=config.region)
        self.network = NetworkStack(
            self,
            "Network",
            env=home,
            description=f"Folio {name}: isolated VPC, endpoints scoped to Folio's table and bucket, flow logs",
            cidr=config.vpc_cidr,
            availability_zones=network_availability_zones(config),
            table_arns=[
                self.data.table.table_arn,
                f"{self.data.table.table_arn}/index/*",
                self.data.idempotency_table.table_arn,
            ],
            documents_bucket_arn=f"arn:aws:s3:::{names.documents_bucket}",
            document_prefix=self.data.document_prefix,
            # The Search stack's role-mapping custom resource answers from the isolated subnets.
            custom_resource_responses=config.features.search,
        )
        self.search: SearchStack | None = None
        search = search_sizing(config)
        if search is not None:
            assert self.data.search_ingestion_access is not None
            self.search = SearchStack(
                self,
                "Search",
                env=home,
                description=f"Folio {name}: OpenSearch domain in the VPC and the pipeline that fills it from the table",
                termination_protection=config.termination_protection,
                domain_name=names.search_domain,
                vpc=self.network.vpc,
                sizing=search,
                table=self.data.table,
                table_key=self.data.table_key,
                table_access=self.data.search_ingestion_access,
                pipeline_name=names.search_pipeline,
                exports_bucket_name=names.search_exports_bucket,
                access_logs=self.data.access_logs,
                capacity=IngestionCapacity(min_ocus=config.search.min_ocus, max_ocus=config.search.max_ocus),
                search_function_role_name=names.search_function_role,
            )
            self.search.add_stack_dependency(self.data, "the domain is filled from the table")
        self.api = ApiStack(
            self,
            "Api",
            env=cdk.Environment(account=config.account, region=config.region),
            description=f"Folio {name}: documents API, functions, WAF, upload worker (stateless)",
            table=self.data.table,
            table_key=self.data.table_key,
            idempotency_table=self.data.idempotency_table,
            bucket_name=names.documents_bucket,
            bucket_key=self.data.bucket_key,
            document_prefix=self.data.document_prefix,
            user_pool=self.data.users.user_pool,
            vpc=self.network.vpc,
            functions_security_group=self.network.functions_security_group,
            **api_settings(config, names),
            search=self.search.search_function_reach if self.search else None,
        )
        if self.search is not None:
            # In the Api stack, beside the topic and the other alarms: it already follows the Search stack.
            SearchMaintenanceAlarms(
                self.api,
                "SearchMaintenanceAlarms",
                topic=self.api.alarm_topic,
                dead_letters=self.search.functions.dead_letters,
            )


def network_availability_zones(config: FolioConfig, *, search: bool = True) -> int:
    """Two AZs, or three where a DAX cluster of three or more nodes puts one in each (AWS
    Control Tower CT.DAX.PR.2; the config requires three nodes in protected environments),
    or as many as the search domain spreads over (where `search`: a regional serving stage
    has no domain)."""
    zones = DEFAULT_AVAILABILITY_ZONES
    if config.features.dax and config.sizing.dax_nodes >= DAX_MULTI_AZ_NODES:
        zones = DAX_MULTI_AZ_NODES
    if search and config.features.search:
        zones = max(zones, config.search.availability_zones)
    return zones


def search_sizing(config: FolioConfig) -> SearchSizing | None:
    """The environment's search domain, or None where `features.search` is off."""
    if not config.features.search:
        return None
    return SearchSizing(
        data_node_type=config.search.data_node_type,
        data_nodes=config.sizing.search_instances,
        availability_zones=config.search.availability_zones,
        dedicated_masters=config.search.dedicated_masters,
        master_node_type=config.search.master_node_type,
        volume_gb=config.search.volume_gb,
    )


def api_settings(config: FolioConfig, names: EnvironmentNames) -> dict[str, Any]:
    """What an environment's Api stack takes from its config and names, the same at home and in
    each regional serving stage (which differ in the table, bucket and pool they point at)."""
    return {
        "documents": config.documents,
        "api": config.api,
        "cors_origins": config.cors_origins,
        "lambda_memory_mb": config.sizing.lambda_memory_mb,
        "function_concurrency": config.sizing.function_concurrency,
        "waf": config.features.waf,
        "waf_log_group_name": names.waf_log_group,
        "alarm_email": config.alarm_email,
        "dax": dax_sizing(config),
    }


def dax_sizing(config: FolioConfig) -> DaxSizing | None:
    """The environment's DAX cluster, or None where `features.dax` is off."""
    if not config.features.dax:
        return None
    sizing = config.sizing
    return DaxSizing(
        node_type=sizing.dax_node_type,
        nodes=sizing.dax_nodes,
        record_ttl_ms=sizing.dax_record_ttl_ms,
        query_ttl_ms=sizing.dax_query_ttl_ms,
    )
