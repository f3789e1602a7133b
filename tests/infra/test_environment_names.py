"""Each fixed name of stacks/names.py is the physical name of the resource it names, in the stack
and Region it belongs to, so the names checked against AWS's limits in tests/unit/test_names.py
are the names deployed (and a name built anywhere else drifts from them visibly)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from stacks.names import EnvironmentNames
from tests.conftest import ENVIRONMENT_NAMES, Synthesized


@pytest.fixture(scope="module", params=ENVIRONMENT_NAMES)
def synth(request: pytest.FixtureRequest, synthesized: Callable[[str], Synthesized]) -> Synthesized:
    return synthesized(request.param)


def physical_names(synth: Synthesized, stack_id: str, resource_type: str, name_property: str) -> list[str | None]:
    resources = synth.templates[stack_id]["Resources"].values()
    return [r["Properties"].get(name_property) for r in resources if r["Type"] == resource_type]


def expected_names(synth: Synthesized) -> dict[str, tuple[str, str, str]]:
    """field of EnvironmentNames -> (stack id, resource type, name property), for what the
    environment deploys."""
    config = synth.config
    copy_stack = f"Region-{config.backup.copy_region}"
    where: dict[str, tuple[str, str, str]] = {
        "documents_bucket": ("Data", "AWS::S3::Bucket", "BucketName"),
        "copy_vault": (copy_stack, "AWS::Backup::BackupVault", "BackupVaultName"),
        "copy_key_alias": (copy_stack, "AWS::KMS::Alias", "AliasName"),
    }
    # One per replica Region, each checked below.
    where |= {
        f"table_key_alias@{region}": (f"Region-{region}", "AWS::KMS::Alias", "AliasName")
        for region in config.replica_regions
    }
    # Where each replica Region's serving stage reads the key's ARN (tests/infra/test_regional_stage.py
    # checks the home_* parameters it reads against what the publication writes).
    where |= {
        f"table_key_arn_parameter@{region}": (f"Region-{region}", "AWS::SSM::Parameter", "Name")
        for region in config.replica_regions
    }
    if config.features.search:
        where |= {
            "search_domain": ("Search", "AWS::OpenSearchService::Domain", "DomainName"),
            "search_pipeline": ("Search", "AWS::OSIS::Pipeline", "PipelineName"),
            "search_exports_bucket": ("Search", "AWS::S3::Bucket", "BucketName"),
            "search_function_role": ("Api", "AWS::IAM::Role", "RoleName"),
        }
    if config.features.waf:
        where["waf_log_group"] = ("Api", "AWS::Logs::LogGroup", "LogGroupName")
    return where


def test_the_stage_is_named_by_its_stage_id(synth: Synthesized) -> None:
    assert synth.stage.node.id == EnvironmentNames.of(synth.config).stage_id


def test_each_fixed_name_is_the_physical_name_of_its_resource(synth: Synthesized) -> None:
    names = EnvironmentNames.of(synth.config)
    missing = []

    for field, (stack_id, resource_type, name_property) in expected_names(synth).items():
        name = getattr(names, field.split("@")[0])
        if name not in physical_names(synth, stack_id, resource_type, name_property):
            missing.append(f"{field}: no {resource_type} named {name!r} in {stack_id}")

    assert missing == []


def test_the_stage_uses_the_names_of_its_config(synth: Synthesized) -> None:
    assert synth.stage.names == EnvironmentNames.of(synth.config)
