"""The pipeline's asset step, run: the FileAsset buildspec CDK Pipelines wrote into the synthesized
pipeline's cloud assembly, its install, pre_build and build commands in one shell in (a copy of) the
assembly directory, as CodeBuild runs them (tests/support/codebuild.py), against moto's server with
the CDK bootstrap buckets of every environment and Region.

Proves what only a run can: the generated `cdk-assets ... publish` lines reach Folio's publisher,
which reads the schema aws-cdk-lib writes, assumes each destination's file-publishing role and puts
each asset where the templates will look for it. With cdk-assets 4.7.3 in its place (the step
before tools/asset-publisher), the first command fails: "Cloud assembly schema version mismatch".
"""

from __future__ import annotations

import io
import json
import re
import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from stacks.pipeline_stack import cdk_assets_version
from stacks.regional_serving_stage import RegionalServingStage
from stacks.stage import FolioStage
from tests.conftest import PROJECT_ROOT, SynthesizedPipeline
from tests.support import loopback
from tests.support.codebuild import PHASES, FakeNpm, run_buildspec
from tests.support.moto_recording import RecordedCall, RecordingMotoServer

# `cdk-assets --path "<manifest>" --verbose publish "<asset>:<destination>"`, as CDK Pipelines writes it.
PUBLISH_COMMAND = re.compile(r'^cdk-assets --path "(?P<manifest>[^"]+)" --verbose publish "(?P<selector>[^"]+)"$')
PARTITION = "aws"  # moto's, which the publisher learns from GetCallerIdentity


@dataclass(frozen=True)
class Destination:
    """One asset at one destination, as its asset manifest names it."""

    selector: str
    bucket: str
    key: str
    region: str
    role_arn: str
    source: Path
    packaging: str

    @property
    def account(self) -> str:
        return self.role_arn.split(":")[4]


def file_asset_buildspec(synth: SynthesizedPipeline) -> tuple[str, dict[str, Any]]:
    """The FileAsset project's buildspec file (its name in the assembly, its content)."""
    (name,) = [p.name for p in synth.assembly_directory.glob("buildspec-*-FileAsset.yaml")]
    return name, yaml.safe_load((synth.assembly_directory / name).read_text())


def destinations(assembly: Path, spec: dict[str, Any]) -> list[Destination]:
    """What each build command publishes, read from the asset manifest it names."""
    found = []
    for command in spec["phases"]["build"]["commands"]:
        match = PUBLISH_COMMAND.match(command)
        assert match, f"not a command CDK Pipelines generates for assets: {command}"
        manifest_path = assembly / match["manifest"]
        manifest = json.loads(manifest_path.read_text())
        asset_id, destination_id = match["selector"].split(":")
        asset = manifest["files"][asset_id]
        destination = asset["destinations"][destination_id]
        found.append(
            Destination(
                selector=match["selector"],
                bucket=destination["bucketName"],
                key=destination["objectKey"],
                region=destination["region"],
                role_arn=destination["assumeRoleArn"].replace("${AWS::Partition}", PARTITION),
                source=(manifest_path.parent / asset["source"]["path"]).resolve(),
                packaging=asset["source"]["packaging"],
            )
        )
    return found


def directory_files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def zip_files(archive: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        return {info.filename: opened.read(info) for info in opened.infolist() if not info.is_dir()}


@dataclass
class AssetStepRun:
    returncode: int
    output: str
    destinations: list[Destination]
    objects: dict[tuple[str, str], bytes | None]  # (bucket, key) -> the object, or None if missing
    calls: list[RecordedCall]


def run_the_asset_step(
    synth: SynthesizedPipeline, work: Path, *, phases: tuple[str, ...] = PHASES, publisher_bin: Path | None = None
) -> AssetStepRun:
    """The FileAsset buildspec's `phases` run in a copy of `synth`'s assembly against a fresh moto
    with every destination's bootstrap bucket. `publisher_bin`: a directory put first on PATH (to
    run the build commands with another cdk-assets)."""
    assembly = work / "assembly"
    shutil.copytree(synth.assembly_directory, assembly, symlinks=True)
    _, spec = file_asset_buildspec(synth)
    expected = destinations(assembly, spec)
    npm = FakeNpm(
        directory=work / "npm",
        locked_package=PROJECT_ROOT / "tools" / "asset-publisher",
        global_bin=work / "npm-global" / "bin",
        global_packages={f"cdk-assets@{cdk_assets_version()}": PROJECT_ROOT / "node_modules" / ".bin" / "cdk-assets"},
    )
    npm.write()
    node = shutil.which("node")
    assert node, "node is missing: run `make install` (Node 24 comes into .venv/bin)"
    with RecordingMotoServer(work) as moto:
        for account, region in sorted({(d.account, d.region) for d in expected}):
            location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
            moto.client_in(account, "s3", region).create_bucket(
                Bucket=f"cdk-hnb659fds-assets-{account}-{region}", **location
            )
        moto.reset()
        path = [str(npm.directory), str(npm.global_bin), str(Path(node).parent), "/usr/bin", "/bin"]
        if publisher_bin is not None:
            path.insert(0, str(publisher_bin))
        env = {
            "PATH": ":".join(path),
            "HOME": str(work),
            # No shared config or credentials files: the project role's credentials, as CodeBuild gives them.
            "AWS_CONFIG_FILE": str(work / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(work / "no-aws-credentials"),
            **loopback.ENVIRONMENT,
            "AWS_REGION": synth.stack.region,
            "AWS_DEFAULT_REGION": synth.stack.region,
            "AWS_ENDPOINT_URL": moto.endpoint,
        }
        result = run_buildspec(spec, assembly, env, phases=phases)
        calls = moto.calls()
        objects: dict[tuple[str, str], bytes | None] = {}
        for d in expected:
            s3 = moto.client_in(d.account, "s3", d.region)
            listed = s3.list_objects_v2(Bucket=d.bucket, Prefix=d.key).get("Contents", [])
            present = any(o["Key"] == d.key for o in listed)
            objects[(d.bucket, d.key)] = s3.get_object(Bucket=d.bucket, Key=d.key)["Body"].read() if present else None
    return AssetStepRun(result.returncode, result.stdout + result.stderr, expected, objects, calls)


@pytest.fixture(scope="module")
def asset_step(synthesized_pipeline: SynthesizedPipeline, tmp_path_factory: pytest.TempPathFactory) -> AssetStepRun:
    return run_the_asset_step(synthesized_pipeline, tmp_path_factory.mktemp("asset-step"))


def test_the_asset_step_succeeds(asset_step: AssetStepRun) -> None:
    assert asset_step.returncode == 0, asset_step.output[-3000:]


def test_it_publishes_to_every_account_and_region_the_pipeline_deploys_to(
    asset_step: AssetStepRun, synthesized_pipeline: SynthesizedPipeline
) -> None:
    # dev and prod in their home Regions, and every regional serving stage in its Region
    delivered = set()
    for stage in synthesized_pipeline.stack.node.children:
        if isinstance(stage, FolioStage):
            delivered.add((stage.config.account, stage.config.region))
        elif isinstance(stage, RegionalServingStage):
            delivered.add((stage.config.account, stage.serving_region))
    assert len(delivered) >= 2 + len(synthesized_pipeline.stack.test_regional_stages)

    assert {(d.account, d.region) for d in asset_step.destinations} == delivered


def test_each_destination_holds_its_asset(asset_step: AssetStepRun) -> None:
    for d in asset_step.destinations:
        published = asset_step.objects[(d.bucket, d.key)]
        assert published is not None, f"{d.selector}: nothing at s3://{d.bucket}/{d.key}"
        if d.packaging == "zip":
            assert zip_files(published) == directory_files(d.source), d.selector
        else:
            assert published == d.source.read_bytes(), d.selector


def assume_role_calls(calls: list[RecordedCall]) -> list[RecordedCall]:
    return [c for c in calls if c.action == "AssumeRole"]


def test_it_assumes_exactly_the_file_publishing_roles_the_destinations_name(asset_step: AssetStepRun) -> None:
    assumed = {c.parameters["RoleArn"] for c in assume_role_calls(asset_step.calls)}

    assert assumed == {d.role_arn for d in asset_step.destinations}
    assert all(re.fullmatch(r".*:role/cdk-hnb659fds-file-publishing-role-\d{12}-[a-z0-9-]+", r) for r in assumed)


def test_each_upload_follows_the_assumption_of_its_destinations_role(asset_step: AssetStepRun) -> None:
    role_of_bucket = {d.bucket: d.role_arn for d in asset_step.destinations}
    current_role = None
    uploads = 0
    for call in asset_step.calls:
        if call.action == "AssumeRole":
            current_role = call.parameters["RoleArn"]
        elif call.method == "PUT":
            bucket = call.path.split("/")[1]
            assert current_role == role_of_bucket[bucket], f"{call} after assuming {current_role}"
            uploads += 1

    assert uploads == len(asset_step.destinations)


@pytest.fixture(scope="module")
def step_with_cdk_assets_4_7_3(
    synthesized_pipeline: SynthesizedPipeline, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AssetStepRun]:
    yield run_the_asset_step(
        synthesized_pipeline,
        tmp_path_factory.mktemp("asset-step-4.7.3"),
        phases=("build",),
        publisher_bin=PROJECT_ROOT / "node_modules" / ".bin",
    )


def test_cdk_assets_4_7_3_cannot_read_the_assembly(step_with_cdk_assets_4_7_3: AssetStepRun) -> None:
    # Why tools/asset-publisher exists: retire it once this fails (a cdk-assets release reads the schema).
    assert step_with_cdk_assets_4_7_3.returncode != 0
    assert "Cloud assembly schema version mismatch" in step_with_cdk_assets_4_7_3.output
    assert [c for c in step_with_cdk_assets_4_7_3.calls if c.method == "PUT"] == []
