"""Every fixed physical name of stacks/names.py is one AWS accepts, for every environment name the
config allows in every Region Folio knows, and no two names of an environment collide.

The limits come from botocore's service models where AWS publishes them there (OpenSearch and
OSIS names, IAM roles, KMS aliases, Backup vaults, log groups), so a tighter limit arrives with a
botocore upgrade; S3's and CloudFormation's rules, and WAF's log-group prefix, are not in the
models and are spelled out here from their user guides.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from functools import cache

import botocore.session
import pytest

from stacks.config import ConfigError, load_config, parse_config
from stacks.names import EnvironmentNames
from stacks.regions import KNOWN_REGIONS

# The config's limit on an environment's name (tested below), which the names are built to fit.
LONGEST_ENVIRONMENT = "e" * 16
SHORTEST_ENVIRONMENT = "ab"
LONGEST_REGION = max(sorted(KNOWN_REGIONS), key=len)
ACCOUNT = "999999999999"

# Names that share a namespace must differ: buckets (global), KMS aliases (account and Region).
BUCKETS = ("documents_bucket", "search_exports_bucket")
KEY_ALIASES = ("table_key_alias", "copy_key_alias")
# SSM parameters a regional serving stage reads in its Region (stacks/regional_serving_stage.py).
PARAMETERS = (
    "table_key_arn_parameter",
    "home_table_name_parameter",
    "home_user_pool_id_parameter",
    "home_bucket_key_id_parameter",
)


@cache
def limits(service: str, operation: str, member: str) -> dict[str, object]:
    """min, max and pattern of one request member in botocore's model of the service."""
    shape = botocore.session.get_session().get_service_model(service).operation_model(operation).input_shape
    return dict(shape.members[member].metadata)


def accepted(value: str, service: str, operation: str, member: str) -> bool:
    rule = limits(service, operation, member)
    lowest, highest = int(str(rule.get("min", 0))), int(str(rule.get("max", 10_000)))
    return lowest <= len(value) <= highest and re.fullmatch(str(rule["pattern"]), value) is not None


def is_bucket_name(value: str) -> bool:
    """S3's rules for general purpose buckets (user guide, "General purpose bucket naming rules")."""
    try:
        ipaddress.ip_address(value)
        return False
    except ValueError:
        pass
    return (
        re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", value) is not None
        and ".." not in value
        and not value.startswith(("xn--", "sthree-", "amzn-s3-demo-"))
        and not value.endswith(("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"))
    )


def is_stack_name_prefix(value: str, longest_stack_id: str) -> bool:
    """CloudFormation stack names: a letter, then letters, digits and hyphens, at most 128; the
    CDK names a stage's stacks `<stage id>-<stack id>`."""
    return re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,127}", f"{value}-{longest_stack_id}") is not None


def every_environment() -> list[tuple[str, str]]:
    return [(name, region) for name in (SHORTEST_ENVIRONMENT, LONGEST_ENVIRONMENT) for region in sorted(KNOWN_REGIONS)]


def names_of(environment: str, region: str) -> EnvironmentNames:
    return EnvironmentNames.derive(environment=environment, account=ACCOUNT, region=region)


def test_the_config_allows_no_longer_environment_name_than_the_names_are_checked_for() -> None:
    with pytest.raises(ConfigError) as too_long:
        parse_config(LONGEST_ENVIRONMENT + "e", {})
    with pytest.raises(ConfigError) as longest:
        parse_config(LONGEST_ENVIRONMENT, {})

    assert too_long.value.key == "env"
    assert longest.value.key != "env", "the longest name checked here must be one the config accepts"


@pytest.mark.parametrize(("environment", "region"), every_environment())
def test_the_buckets_are_valid_s3_names(environment: str, region: str) -> None:
    names = names_of(environment, region)

    for field in BUCKETS:
        assert is_bucket_name(getattr(names, field)), f"{field} = {getattr(names, field)!r}"


@pytest.mark.parametrize(("environment", "region"), every_environment())
def test_the_search_names_fit_opensearch_and_ingestion(environment: str, region: str) -> None:
    names = names_of(environment, region)

    assert accepted(names.search_domain, "opensearch", "CreateDomain", "DomainName"), names.search_domain
    assert accepted(names.search_pipeline, "osis", "CreatePipeline", "PipelineName"), names.search_pipeline


@pytest.mark.parametrize(("environment", "region"), every_environment())
def test_the_search_function_role_fits_iam(environment: str, region: str) -> None:
    role = names_of(environment, region).search_function_role

    assert accepted(role, "iam", "CreateRole", "RoleName"), role


@pytest.mark.parametrize(("environment", "region"), every_environment())
def test_the_delivery_role_and_the_pipeline_step_roles_fit_iam(environment: str, region: str) -> None:
    names = names_of(environment, region)

    for role in (names.delivery_role, names.smoke_test_role, names.publication_role):
        assert accepted(role, "iam", "CreateRole", "RoleName"), role


@pytest.mark.parametrize(("environment", "region"), every_environment())
def test_the_key_aliases_are_customer_aliases(environment: str, region: str) -> None:
    names = names_of(environment, region)

    for field in KEY_ALIASES:
        alias = getattr(names, field)
        assert accepted(alias, "kms", "CreateAlias", "AliasName"), alias
        # KMS refuses aliases outside alias/, and reserves alias/aws/ for AWS managed keys.
        assert alias.startswith("alias/") and not alias.startswith("alias/aws/"), alias


@pytest.mark.parametrize(("environment", "region"), every_environment())
def test_the_copy_vault_fits_backup(environment: str, region: str) -> None:
    vault = names_of(environment, region).copy_vault

    assert accepted(vault, "backup", "CreateBackupVault", "BackupVaultName"), vault


@pytest.mark.parametrize(("environment", "region"), every_environment())
def test_the_waf_log_group_is_one_waf_delivers_to(environment: str, region: str) -> None:
    group = names_of(environment, region).waf_log_group

    assert accepted(group, "logs", "CreateLogGroup", "logGroupName"), group
    # WAF logs only to log groups whose names start with this prefix.
    assert group.startswith("aws-waf-logs-"), group


@pytest.mark.parametrize(("environment", "region"), every_environment())
def test_the_stage_id_prefixes_valid_stack_names(environment: str, region: str) -> None:
    names = names_of(environment, region)

    # The longest stack id of a stage is a support stack's, named after its Region.
    assert is_stack_name_prefix(names.stage_id, f"Region-{LONGEST_REGION}"), names.stage_id


@pytest.mark.parametrize(("environment", "region"), every_environment())
def test_the_regional_parameters_fit_ssm(environment: str, region: str) -> None:
    names = names_of(environment, region)

    for field in PARAMETERS:
        parameter = getattr(names, field)
        # botocore's model gives only the length; the characters and depth are the user guide's
        # ("Parameter name requirements": letters, digits, _.-/, at most 15 levels).
        assert 1 <= len(parameter) <= int(str(limits("ssm", "PutParameter", "Name")["max"])), parameter
        assert re.fullmatch(r"(/[a-zA-Z0-9_.-]+){1,15}", parameter), parameter
        # SSM reserves names that begin with aws or ssm (in any case), under a path too.
        assert parameter.startswith("/folio/"), parameter


@pytest.mark.parametrize(("environment", "region"), every_environment())
def test_the_serving_stage_ids_prefix_valid_stack_names(environment: str, region: str) -> None:
    names = names_of(environment, region)

    assert is_stack_name_prefix(names.serving_stage_id(LONGEST_REGION), "Network"), names.serving_stage_id(region)


@pytest.mark.parametrize(("environment", "region"), every_environment())
def test_no_two_names_of_an_environment_are_equal(environment: str, region: str) -> None:
    values = dataclasses.astuple(names_of(environment, region))

    assert len(set(values)) == len(values), values


@pytest.mark.parametrize(
    ("one", "other"),
    # Environments whose names extend each other, where a careless format would let them meet.
    [("dev", "dev2"), ("dev", "devdocs"), ("prod", "prodsearch"), ("ab", "abexports"), ("dev", "devbackup")],
)
def test_two_environments_share_no_name(one: str, other: str) -> None:
    first, second = names_of(one, LONGEST_REGION), names_of(other, LONGEST_REGION)

    shared = set(dataclasses.astuple(first)) & set(dataclasses.astuple(second))

    assert shared == set()


@pytest.mark.parametrize("environment", ["sandbox", "dev", "prod"])
def test_the_names_of_a_config_are_those_of_its_name_account_and_region(environment: str) -> None:
    config = load_config(environment)

    names = EnvironmentNames.of(config)

    assert names == EnvironmentNames.derive(environment=config.name, account=config.account, region=config.region)
    assert config.name in names.documents_bucket and config.region in names.documents_bucket
