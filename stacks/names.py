"""`EnvironmentNames`: every physical name Folio fixes for one environment, derived once.

Folio prefers generated names; the few below are fixed because something must know a name
before the resource exists (a policy that names its own resource, a stack deployed first that
names a resource of a later one, a vault or key alias in another Region that the home Region
points at). `FolioStage` derives them once from the config and passes each down; tests read
them from here instead of rebuilding the formats. tests/unit/test_names.py checks each against
its AWS limits for the longest environment name the config allows (16 characters) in every
Region of stacks/regions.py, and that no two names of an environment collide.
"""

from __future__ import annotations

from dataclasses import dataclass

from stacks.config import FolioConfig


@dataclass(frozen=True)
class EnvironmentNames:
    """The fixed names of one environment (its name, account and home Region)."""

    stage_id: str
    """The construct id of the environment's stage, e.g. FolioSandbox; the CDK prefixes its
    stacks' names with it."""

    table_key_alias: str
    """The alias of the table key in every replica Region, so the home Region's table can name
    the replica keys (which another stack creates) without a reference."""

    copy_key_alias: str
    """The alias of the key of the backup copy vault in the copy Region."""

    copy_vault: str
    """The backup copy vault in the copy Region, which the home Region's backup plan copies to
    by ARN."""

    documents_bucket: str
    """Globally unique: environment, account and Region."""

    search_domain: str
    """Fixed, so that the domain's access policy can name its own ARN (3-28 characters: the
    environment's name has at most 16)."""

    search_pipeline: str
    """Fixed, so that the pipeline role's trust policy can name the pipeline's ARN (OSIS: 3-28
    lowercase characters; the environment's name has at most 16)."""

    search_exports_bucket: str
    """Fixed, so the Data stack's access-log bucket can admit its logs without a reference back
    (at most 58 characters: a 16-character environment, account, the longest Region)."""

    search_function_role: str
    """Fixed, so that the Search stack (deployed first) can name the Api stack's search function
    in its access policy and role mapping without a reference back (IAM: at most 64 characters;
    at most 6 + 16 + 1 + 14 + 7 here). Roles are global: the Region keeps Regions apart."""

    delivery_role: str
    """The role in the environment's account that the pipeline's steps assume to act there (the
    smoke test's Cognito calls, the publication of the home values): fixed, so that a step in the
    pipeline's account can name its ARN (IAM: at most 64 characters; 6 + 16 + 9 here)."""

    smoke_test_role: str
    """The role, in the pipeline's account, that the smoke test against this environment runs
    as: fixed, so that the delivery role's trust names exactly it (IAM: at most 64 characters;
    6 + 16 + 11 here)."""

    publication_role: str
    """The role, in the pipeline's account, that publishes this environment's home values in its
    replica Regions: fixed for the same reason (6 + 16 + 8 characters)."""

    waf_log_group: str
    """WAF delivers logs only to log groups whose names start with `aws-waf-logs-`."""

    table_key_arn_parameter: str
    """An SSM parameter in each replica Region holding the ARN of that Region's table key (the
    RegionSupportStack writes it from the key itself; no delivery role may put it): IAM accepts a
    key's ARN, never its alias, so a regional serving stage reads the ARN here at deploy time."""

    home_table_name_parameter: str
    """An SSM parameter in each replica Region holding the global table's name (CloudFormation
    generates it in the home Region; a replica keeps it): published from the home Data stack's
    output before a regional serving stage deploys (docs/architecture.md)."""

    home_user_pool_id_parameter: str
    """An SSM parameter in each replica Region holding the home user pool's id (`<region>_<id>`),
    published the same way: the id is generated, and references cannot cross stages or Regions.
    An id, not an ARN: the stage builds the ARN in the environment's account and home Region, so
    whoever may put the parameter cannot point the regional authorizer at a pool elsewhere."""

    home_bucket_key_id_parameter: str
    """An SSM parameter in each replica Region holding the id (a UUID) of the home documents
    bucket's key, published the same way: a regional download URL is signed by the regional
    function, whose role must be allowed to decrypt with it; the stage builds the key's ARN in
    the environment's account and home Region, as for the pool."""

    @property
    def published_parameters(self) -> tuple[str, str, str]:
        """The parameters the home Region's values are published to in each replica Region (the
        pipeline's PublishHomeValues step, or an operator): the table's name, the user pool's id
        and the bucket key's id."""
        return (self.home_table_name_parameter, self.home_user_pool_id_parameter, self.home_bucket_key_id_parameter)

    @classmethod
    def of(cls, config: FolioConfig) -> EnvironmentNames:
        """The names of a configured environment."""
        return cls.derive(environment=config.name, account=config.account, region=config.region)

    @classmethod
    def derive(cls, *, environment: str, account: str, region: str) -> EnvironmentNames:
        """The names of environment `environment` whose home is `account` in `region`."""
        return cls(
            stage_id="Folio" + environment.capitalize(),
            table_key_alias=f"alias/folio/{environment}/table",
            copy_key_alias=f"alias/folio/{environment}/backup-copy",
            copy_vault=f"folio-{environment}-backup-copy",
            documents_bucket=f"folio-{environment}-documents-{account}-{region}",
            search_domain=f"folio-{environment}",
            search_pipeline=f"folio-{environment}-docs",
            search_exports_bucket=f"folio-{environment}-exports-{account}-{region}",
            search_function_role=f"folio-{environment}-{region}-search",
            delivery_role=f"folio-{environment}-delivery",
            smoke_test_role=f"folio-{environment}-smoke-test",
            publication_role=f"folio-{environment}-publish",
            waf_log_group=f"aws-waf-logs-folio-{environment}",
            table_key_arn_parameter=f"/folio/{environment}/table-key-arn",
            home_table_name_parameter=f"/folio/{environment}/home/table-name",
            home_user_pool_id_parameter=f"/folio/{environment}/home/user-pool-id",
            home_bucket_key_id_parameter=f"/folio/{environment}/home/bucket-key-id",
        )

    def serving_stage_id(self, region: str) -> str:
        """The construct id of the environment's regional serving stage in `region`."""
        return f"{self.stage_id}-Serving-{region}"
