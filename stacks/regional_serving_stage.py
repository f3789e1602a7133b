"""`RegionalServingStage`: the read-only API of one environment in one of its replica Regions.

Users near a replica Region read their documents from the table's local replica (the
"Globalflix" pattern of the DynamoDB global-tables lab). Everything else stays home: writes
(global tables are last-writer-wins across Regions, which the version check, shares and the
quota transaction cannot survive), search (an ingestion pipeline reads one table in its own
Region), the workers (they follow the home table's stream and the bucket's events), the user
pool and the bucket. docs/architecture.md, "Regional serving stages", gives the reasons.

A stage of its own, not stacks of `FolioStage`: the pipeline deploys it after the home stage (the
replica and its key must exist), and CDK references cannot cross stages. So the few values the
home Region generates (the table's name, the user pool's ARN, the bucket key's ARN) reach the
stage's stacks as CloudFormation dynamic references to SSM parameters in the stage's Region
(resolved at deploy time; no custom resource), named in stacks/names.py.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from folio import keys
from folio.object_keys import DOCUMENT_OBJECT_PREFIX
from stacks.api_stack import ApiStack
from stacks.config import FolioConfig
from stacks.function_permissions import READ_ONLY_GROUPS
from stacks.names import EnvironmentNames
from stacks.network_stack import READ_ONLY_DYNAMODB_ACTIONS, NetworkStack
from stacks.stage import (
    HOME_BUCKET_KEY_ARN,
    HOME_TABLE_NAME,
    HOME_USER_POOL_ARN,
    api_settings,
    network_availability_zones,
)


def deploy_time_parameter(name: str) -> str:
    """The value of SSM parameter `name` in the stack's own Region, resolved by CloudFormation
    when the stack deploys (`{{resolve:ssm:name}}`): a plain string, so it refers to no stack."""
    return cdk.CfnDynamicReference(cdk.CfnDynamicReferenceService.SSM, name).to_string()


class RegionalServingStage(cdk.Stage):
    """A Network stack and a read-only Api stack (with DAX where `features.dax`) in `region`,
    reading the global table's local replica, authorizing with the home Region's user pool and
    signing downloads for the home Region's documents bucket."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: FolioConfig,
        names: EnvironmentNames,
        region: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        if region not in config.replica_regions:
            raise ValueError(f"{region} holds no replica of {config.name}'s table: {config.replica_regions}")
        self.config = config
        self.names = names
        self.serving_region = region
        name = config.name
        cdk.Tags.of(self).add("folio:environment", name)
        env = cdk.Environment(account=config.account, region=region)

        # Global tables keep one name in every Region: the replica's ARN is the table's name here.
        table_name = deploy_time_parameter(names.home_table_name_parameter)
        replica_arn = cdk.Arn.format(
            cdk.ArnComponents(
                partition="aws", service="dynamodb", region=region, account=config.account,
                resource="table", resource_name=table_name,
            )
        )  # fmt: skip
        self.network = NetworkStack(
            self,
            "Network",
            env=env,
            description=f"Folio {name}: isolated VPC in {region}, the DynamoDB endpoint scoped to the table's replica",
            cidr=config.vpc_cidr,
            availability_zones=network_availability_zones(config, search=False),
            table_arns=[replica_arn, f"{replica_arn}/index/*"],
            dynamodb_actions=READ_ONLY_DYNAMODB_ACTIONS,
            # The bucket is in the home Region, which no gateway endpoint reaches; presigning calls nothing.
            documents_bucket_arn=None,
            document_prefix=DOCUMENT_OBJECT_PREFIX,
        )
        # Imports only (no resources): their values are dynamic references, which bind to no stack.
        imports = self.network
        replica = dynamodb.TableV2.from_table_attributes(
            imports,
            "TableReplica",
            table_name=table_name,  # its ARN is formatted in the scope's Region: this one
            global_indexes=[index.name for index in keys.GLOBAL_SECONDARY_INDEXES],
        )
        replica_key = kms.Key.from_key_arn(
            imports, "TableReplicaKey", deploy_time_parameter(names.table_key_arn_parameter)
        )
        home_bucket_key = kms.Key.from_key_arn(
            imports, "HomeBucketKey", deploy_time_parameter(names.home_bucket_key_arn_parameter)
        )
        home_users = cognito.UserPool.from_user_pool_arn(
            imports, "HomeUsers", deploy_time_parameter(names.home_user_pool_arn_parameter)
        )
        self.api = ApiStack(
            self,
            "Api",
            env=env,
            description=f"Folio {name}: read-only documents API in {region}, on the table's local replica (stateless)",
            table=replica,
            table_key=replica_key,
            idempotency_table=None,
            bucket_name=names.documents_bucket,
            bucket_key=home_bucket_key,
            bucket_region=config.region,
            document_prefix=DOCUMENT_OBJECT_PREFIX,
            user_pool=home_users,
            vpc=self.network.vpc,
            functions_security_group=self.network.functions_security_group,
            **api_settings(config, names),
            function_groups=READ_ONLY_GROUPS,
            workers=False,
        )


def regional_serving_stages(
    scope: Construct, config: FolioConfig, names: EnvironmentNames
) -> list[RegionalServingStage]:
    """One RegionalServingStage per replica Region of `config`, in the config's order, as
    siblings of the environment's FolioStage under `scope` (the app, or the pipeline's scope)."""
    return [
        RegionalServingStage(scope, names.serving_stage_id(region), config=config, names=names, region=region)
        for region in config.replica_regions
    ]


def publication_commands(names: EnvironmentNames, region: str) -> list[str]:
    """Shell commands that write the home Region's values into `region`'s SSM parameters, read
    from the environment variables of FolioStage.serving_outputs: the pipeline runs them before
    the regional stage (a ShellStep with `env_from_cfn_outputs=home_stage.serving_outputs`), an
    operator after a direct deploy of the home stage (README). Idempotent (`--overwrite`)."""
    return [
        f'aws ssm put-parameter --region {region} --type String --overwrite --name {parameter} --value "${variable}"'
        for parameter, variable in (
            (names.home_table_name_parameter, HOME_TABLE_NAME),
            (names.home_user_pool_arn_parameter, HOME_USER_POOL_ARN),
            (names.home_bucket_key_arn_parameter, HOME_BUCKET_KEY_ARN),
        )
    ]
