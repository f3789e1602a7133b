"""stacks/regions.py agrees with the installed cfn-lint's per-Region CloudFormation schemas."""

from __future__ import annotations

import json
from pathlib import Path

import cfnlint
import pytest

from stacks.regions import KNOWN_REGIONS, Service, missing_services, regions_offering

SCHEMAS = Path(cfnlint.__file__).parent / "data" / "schemas" / "providers"


def regions_with_resource_type(resource_type: str) -> frozenset[str]:
    return frozenset(
        region for region in KNOWN_REGIONS if resource_type in json.loads((SCHEMAS / f"{region}.json").read_text())
    )


def test_every_known_region_has_a_cfn_lint_schema() -> None:
    missing = sorted(r for r in KNOWN_REGIONS if not (SCHEMAS / f"{r}.json").exists())

    assert missing == []


@pytest.mark.parametrize("service", list(Service), ids=lambda s: s.name)
def test_availability_matches_cfn_lint(service: Service) -> None:
    expected = regions_with_resource_type(service.value)

    ours = regions_offering(service)

    assert ours == expected, (
        f"{service.name}: update stacks/regions.py; only in Folio's table: {sorted(ours - expected)}, "
        f"only in cfn-lint: {sorted(expected - ours)}"
    )


def test_missing_services_names_what_a_region_lacks() -> None:
    assert missing_services("ca-west-1", {Service.DAX, Service.KMS, Service.OPENSEARCH_INGESTION}) == [
        Service.DAX,
        Service.OPENSEARCH_INGESTION,
    ]
    assert missing_services("us-east-1", set(Service)) == []
