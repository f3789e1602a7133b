"""The pipeline's asset step runs Folio's publisher (tools/asset-publisher), not the cdk-assets CLI.

The newest cdk-assets release (package.json pins it) reads asset manifests up to cloud assembly schema 54;
aws-cdk-lib 2.275 writes 55, so the commands CDK Pipelines generates
(`cdk-assets --path <manifest> --verbose publish <asset:destination>`) would fail on the first
run. tools/asset-publisher answers exactly those commands over @aws-cdk/cdk-assets-lib (the
library the CDK CLI publishes with, which reads 55), pinned by its own package-lock.json.

The FileAsset project's only input is the cloud assembly, so `ship_into_assembly` writes the
publisher's files into it beside the buildspec files CDK Pipelines writes there, and
`asset_publishing_defaults` has the project install them with `npm ci` and put the publisher
first on PATH before CDK's own commands run. Retire all of this once a cdk-assets release reads
the schema aws-cdk-lib writes (docs/operations.md, "The asset step").
"""

from __future__ import annotations

import shutil
from pathlib import Path

from aws_cdk import aws_codebuild as codebuild
from aws_cdk import pipelines

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PUBLISHER_SOURCE = PROJECT_ROOT / "tools" / "asset-publisher"
# What the step needs of it: npm ci installs from the two package files, then runs the script.
PUBLISHER_FILES = ("package.json", "package-lock.json", "bin/cdk-assets")
# Its folder in the cloud assembly (the project's source directory, CODEBUILD_SRC_DIR).
SHIPPED_FOLDER = "folio-asset-publisher"
PUBLISHER_BIN = f"$CODEBUILD_SRC_DIR/{SHIPPED_FOLDER}/bin"
# The AWS SDK for JavaScript v3 under the library needs Node 20+; Node 20 reached end of life in
# April 2026. The image's default may be older, so the step names the runtime. CodeBuild's Ubuntu
# standard:7.0 offers 22 (LTS until April 2027).
NODE_RUNTIME = "22"


def install_commands() -> list[str]:
    """The publisher from the committed lock (`npm ci` refuses a lock that disagrees with
    package.json), with no package's install scripts run in a project that holds the
    file-publishing roles; then its bin first on PATH: a 0.2 buildspec runs every command of
    every phase in one shell, so the later `cdk-assets ...` lines find it before the global one."""
    return [
        f"npm ci --prefix {SHIPPED_FOLDER} --ignore-scripts --no-audit --no-fund",
        # A zip of the assembly need not keep the executable bit.
        f"chmod +x {SHIPPED_FOLDER}/bin/cdk-assets",
        f'export PATH="{PUBLISHER_BIN}:$PATH"',
    ]


def check_command() -> str:
    """Fails the step, before anything is published, unless `cdk-assets` is the publisher."""
    return (
        f'[ "$(command -v cdk-assets)" = "{PUBLISHER_BIN}/cdk-assets" ] || '
        '{ echo "cdk-assets on PATH is $(command -v cdk-assets), not Folio\'s asset publisher" >&2; false; }'
    )


def asset_publishing_defaults() -> pipelines.CodeBuildOptions:
    """For `CodePipeline(asset_publishing_code_build_defaults=...)`: CDK Pipelines merges this partial
    buildspec before its own, so these install commands run before its `npm install -g cdk-assets`
    (which it always adds; left pinned, and shadowed on PATH)."""
    return pipelines.CodeBuildOptions(
        partial_build_spec=codebuild.BuildSpec.from_object(
            {
                "version": "0.2",
                "phases": {
                    "install": {"runtime-versions": {"nodejs": NODE_RUNTIME}, "commands": install_commands()},
                    "pre_build": {"commands": [check_command()]},
                },
            }
        )
    )


def ship_into_assembly(assembly_directory: Path) -> list[Path]:
    """Copies PUBLISHER_FILES byte for byte into `<assembly>/folio-asset-publisher/` (the cloud
    assembly the synth step hands on, where CDK Pipelines also writes its buildspec files).
    Returns the copies."""
    copies = []
    for name in PUBLISHER_FILES:
        target = assembly_directory / SHIPPED_FOLDER / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PUBLISHER_SOURCE / name, target)
        copies.append(target)
    return copies
