"""The per-Region part of `make bench`: benchmarks/extra_region_app.py adds one replica Region to every
environment without touching the committed ones, and benchmarks/run.py reads which accounts and Regions
an assembly deploys to. Shapes only, never times."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

from stacks import environments
from stacks.config import load_config, parse_config
from tests.conftest import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
import extra_region_app  # benchmarks/ is not a package: its directory is put on the path
import run


def test_every_environment_gets_one_valid_region_it_did_not_deploy_to() -> None:
    committed = copy.deepcopy(environments.ENVIRONMENTS)

    modified, added = extra_region_app.one_more_replica_region(environments.ENVIRONMENTS)

    assert committed == environments.ENVIRONMENTS
    assert set(added) == set(committed)
    for name, region in added.items():
        before, after = load_config(name), parse_config(name, modified[name])
        assert region not in before.all_regions
        assert after.replica_regions == (*before.replica_regions, region)


def test_the_added_regions_get_availability_zones_so_the_synth_stays_offline() -> None:
    modified, added = extra_region_app.one_more_replica_region(environments.ENVIRONMENTS)

    context = extra_region_app.zone_context(modified, added, cli_account=None)

    for name, region in added.items():
        account = parse_config(name, modified[name]).account
        zones = context[f"availability-zones:account={account}:region={region}"]
        assert len(zones) == 3
        assert all(zone.startswith(region) for zone in zones)


def test_deployment_targets_are_read_from_nested_assemblies(tmp_path: Path) -> None:
    def manifest(directory: Path, artifacts: dict[str, object]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "manifest.json").write_text(json.dumps({"artifacts": artifacts}))

    stack = "aws:cloudformation:stack"
    manifest(tmp_path, {
        "Pipeline": {"type": stack, "environment": "aws://333333333333/us-east-1"},
        "assembly-Prod": {"type": "cdk:cloud-assembly", "properties": {"directoryName": "assembly-Prod"}},
        "Tree": {"type": "cdk:tree"},
    })  # fmt: skip
    manifest(tmp_path / "assembly-Prod", {
        "ProdData": {"type": stack, "environment": "aws://222222222222/us-east-1"},
        "ProdRegion": {"type": stack, "environment": "aws://222222222222/eu-west-1"},
    })  # fmt: skip

    inventory = run.assembly_inventory(tmp_path)

    assert inventory.stacks == 3
    assert inventory.assemblies == 2
    assert inventory.targets == {
        ("333333333333", "us-east-1"),
        ("222222222222", "us-east-1"),
        ("222222222222", "eu-west-1"),
    }


def test_only_regions_of_environments_the_app_synthesizes_are_counted() -> None:
    prod = load_config("prod")
    home = (prod.account, prod.region)
    before = run.AssemblyInventory(stacks=2, assemblies=2, targets=frozenset({home}))
    after = run.AssemblyInventory(stacks=3, assemblies=2, targets=frozenset({home, (prod.account, "ca-central-1")}))

    counted = run.regions_added_to_the_assembly({"prod": "ca-central-1", "dev": "eu-west-2"}, before, after)

    assert counted == {"prod": "ca-central-1"}
