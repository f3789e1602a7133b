"""`RegionalServingStage`: the read-only API of one environment in one of its replica Regions.

Users near a replica Region read their documents from the table's local replica (the
"Globalflix" pattern of the DynamoDB global-tables lab). Everything else stays home: writes
(global tables are last-writer-wins across Regions, which the version check, shares and the
quota transaction cannot survive), search (an ingestion pipeline reads one table in its own
Region), the workers (they follow the home table's stream and the bucket's events), the user
pool and the bucket. docs/architecture.md, "Regional serving stages", gives the reasons.

A stage of its own, not stacks of `FolioStage`: the pipeline deploys it after the home stage (the
replica and its key must exist), and CDK references cannot cross stages. So the few values the
home Region generates (the table's name, the user pool's id, the bucket key's id) reach the
stage's stacks through SSM parameters in the stage's Region, named in stacks/names.py, which
each stack reads as a CloudFormation parameter of type `AWS::SSM::Parameter::Value<String>`
(no custom resource). Not as `{{resolve:ssm:...}}` dynamic references: CloudFormation fetches
an SSM-typed parameter at every change set and stack update, but does not see a new value behind
a dynamic reference in an unchanged template. Ids, not ARNs: the stage builds each ARN in the
environment's account and the home Region, so a parameter's value can name nothing elsewhere.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from folio import keys
from folio.object_keys import DOCUMENT_OBJECT_PREFIX
from stacks.api_stack import ApiStack
from stacks.config import FolioConfig
from stacks.function_permissions import READ_ONLY_GROUPS
from stacks.names import EnvironmentNames
from stacks.network_stack import READ_ONLY_DYNAMODB_ACTIONS, NetworkStack
from stacks.stage import (
    HOME_BUCKET_KEY_ID,
    HOME_TABLE_NAME,
    HOME_USER_POOL_ID,
    api_settings,
    network_availability_zones,
)

# Folio's ARNs name the commercial partition (as FolioStage's replica key ARNs do).
PARTITION = "aws"


@jsii.implements(cdk.IStableStringProducer)
class StackParameter:
    """The value of SSM parameter `name` in one stack, for a stack that takes it in its
    constructor: hand `value` (a token) to the constructor, then call `read_by(stack)`, which adds
    the stack's CloudFormation parameter (type `AWS::SSM::Parameter::Value<String>`, default
    `name`; one per name and stack) that the token resolves to at synth. CloudFormation fetches
    the parameter at every change set and stack update, and the CDK CLI never skips a stack with
    such a parameter (docs/architecture.md, "Regional serving stages")."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._value: str | None = None
        self.value = cdk.Lazy.string(self)

    def read_by(self, stack: cdk.Stack) -> None:
        self._value = ssm.StringParameter.value_for_string_parameter(stack, self.name)

    def produce(self) -> str:
        if self._value is None:
            raise RuntimeError(f"no stack reads SSM parameter {self.name}: call read_by(stack)")
        return self._value


def home_arn(service: str, home_region: str, account: str, resource: str, resource_id: str) -> str:
    """`arn:aws:<service>:<home region>:<account>:<resource>/<resource id>`: a published id can
    change only the part after the fixed prefix, never the account or the Region."""
    return cdk.Arn.format(
        cdk.ArnComponents(
            partition=PARTITION, service=service, region=home_region, account=account,
            resource=resource, resource_name=resource_id,
        )
    )  # fmt: skip


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
        def replica_arns(table_name: str) -> list[str]:
            replica_arn = cdk.Arn.format(
                cdk.ArnComponents(
                    partition=PARTITION, service="dynamodb", region=region, account=config.account,
                    resource="table", resource_name=table_name,
                )
            )  # fmt: skip
            return [replica_arn, f"{replica_arn}/index/*"]

        network_table_name = StackParameter(names.home_table_name_parameter)
        self.network = NetworkStack(
            self,
            "Network",
            env=env,
            description=f"Folio {name}: isolated VPC in {region}, the DynamoDB endpoint scoped to the table's replica",
            cidr=config.vpc_cidr,
            availability_zones=network_availability_zones(config, search=False),
            table_arns=replica_arns(network_table_name.value),
            dynamodb_actions=READ_ONLY_DYNAMODB_ACTIONS,
            # The bucket is in the home Region, which no gateway endpoint reaches; presigning calls nothing.
            documents_bucket_arn=None,
            document_prefix=DOCUMENT_OBJECT_PREFIX,
        )
        network_table_name.read_by(self.network)

        # The Api stack's own parameters: a value of the Network stack's would be a cross-stack reference.
        table_name = StackParameter(names.home_table_name_parameter)
        table_key_arn = StackParameter(names.table_key_arn_parameter)
        user_pool_id = StackParameter(names.home_user_pool_id_parameter)
        bucket_key_id = StackParameter(names.home_bucket_key_id_parameter)
        # Imports only (no resources): they need a scope, and their values resolve where used, in the Api stack.
        imports = self.network
        replica = dynamodb.TableV2.from_table_attributes(
            imports,
            "TableReplica",
            table_name=table_name.value,  # its ARN is formatted in the scope's Region: this one
            global_indexes=[index.name for index in keys.GLOBAL_SECONDARY_INDEXES],
        )
        replica_key = kms.Key.from_key_arn(imports, "TableReplicaKey", table_key_arn.value)
        home_bucket_key = kms.Key.from_key_arn(
            imports, "HomeBucketKey", home_arn("kms", config.region, config.account, "key", bucket_key_id.value)
        )
        home_users = cognito.UserPool.from_user_pool_arn(
            imports,
            "HomeUsers",
            home_arn("cognito-idp", config.region, config.account, "userpool", user_pool_id.value),
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
        for parameter in (table_name, table_key_arn, user_pool_id, bucket_key_id):
            parameter.read_by(self.api)


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
            (names.home_user_pool_id_parameter, HOME_USER_POOL_ID),
            (names.home_bucket_key_id_parameter, HOME_BUCKET_KEY_ID),
        )
    ]
