"""The DAX client (`amazondax`) as a Lambda layer, built with pip on this machine (no Docker).

A layer, not part of the shared code asset, so that only the functions that read through
DAX carry it, and a client upgrade does not change every function's code. The client is a
source distribution only. pip downloads it and the wheels of its dependencies by hash
(layers/dax-client/hashes.txt), builds its pure-Python wheel with the setuptools pinned in
requirements-build.txt (no build isolation, which would fetch the newest setuptools, which may
no longer run its setup.py), and installs from those files alone (no index) for the functions'
platform. botocore is left out: the client uses the runtime's (bundled, it would be 17 MB).

The asset's hash covers everything that decides the layer's content (the pins and hashes, the
build setuptools, the target, this module), so a change to any of them rebuilds it.

pip takes about 5 s, which every `cdk synth` and every test process that synthesizes a stage
with DAX paid. So a built layer is kept in `.make/dax-client-layer/<key>/` (stacks/build_cache.py: staged,
renamed into place, checked against its manifest on every use), keyed by that recipe and by the
tools that ran it (pip, setuptools, Python): only the first synth on a machine, per recipe, runs pip.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from stacks.build_cache import cached_build
from stacks.components.folio_function import ARCHITECTURE, RUNTIME

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
# The one list of the client's pins, also installed by requirements-dev.txt for the tests.
DAX_CLIENT_SOURCE = PROJECT_ROOT / "layers" / "dax-client"
DAX_CLIENT_REQUIREMENTS = DAX_CLIENT_SOURCE / "requirements.txt"
DAX_CLIENT_HASHES = DAX_CLIENT_SOURCE / "hashes.txt"
BUILD_REQUIREMENTS = PROJECT_ROOT / "requirements-build.txt"
BUILD_CODE = Path(__file__).resolve()
# Built layers, one entry per cache key (stacks/build_cache.py).
LAYER_CACHE = PROJECT_ROOT / ".make" / "dax-client-layer"
# What pip installs for: the functions' runtime and architecture (stacks/components/folio_function.py).
TARGET_PLATFORM = {lambda_.Architecture.ARM_64.name: "manylinux2014_aarch64"}[ARCHITECTURE.name]
TARGET_PYTHON = RUNTIME.name.removeprefix("python")  # "3.14"
SOURCE_ONLY_DISTRIBUTION = "amazon-dax-client"


def _lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def pinned_requirements() -> list[str]:
    return _lines(DAX_CLIENT_REQUIREMENTS)


def hashed_requirements() -> list[str]:
    """`name==version --hash=sha256:...`, one per pin."""
    return _lines(DAX_CLIENT_HASHES)


def layer_recipe_hash() -> str:
    """A digest of everything that decides the layer's content."""
    digest = hashlib.sha256()
    for path in (DAX_CLIENT_REQUIREMENTS, DAX_CLIENT_HASHES, BUILD_REQUIREMENTS, BUILD_CODE):
        digest.update(path.read_bytes())
    digest.update(f"{TARGET_PLATFORM} {TARGET_PYTHON}".encode())
    return digest.hexdigest()


def _builder() -> str:
    """The tools on this machine that turn the recipe into files. Not in the asset hash, which
    must be the same on every machine (two synths of a commit give identical templates)."""
    tools = " ".join(f"{name}=={importlib.metadata.version(name)}" for name in ("pip", "setuptools"))
    return f"{tools} {sys.implementation.name}{sys.version_info.major}.{sys.version_info.minor}"


def layer_cache_key() -> str:
    """The cache entry's name: the recipe and the builder."""
    return hashlib.sha256(f"{layer_recipe_hash()} {_builder()}".encode()).hexdigest()[:32]


class LayerBuildFailed(RuntimeError):
    """pip could not build the layer (no package index, a pin that does not exist, ...)."""


def _pip(*args: str) -> None:
    """Run pip quietly; on failure, fail the synth with pip's own last words."""
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet", *args]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise LayerBuildFailed(f"building the DAX client layer: pip {args[0]} exited {result.returncode}:\n{tail}")


def build_layer_content(output_dir: Path) -> None:
    """Install the pinned client for Lambda into `output_dir/python` (a layer's layout)."""
    hashed = hashed_requirements()
    if sorted(line.split()[0] for line in hashed) != sorted(pinned_requirements()):
        raise LayerBuildFailed(f"{DAX_CLIENT_HASHES} must hash exactly the pins of {DAX_CLIENT_REQUIREMENTS}")
    source_only = [line for line in hashed if line.startswith(f"{SOURCE_ONLY_DISTRIBUTION}==")]
    binaries = [line for line in hashed if line not in source_only]
    target = ["--platform", TARGET_PLATFORM, "--implementation", "cp", "--python-version", TARGET_PYTHON]
    with tempfile.TemporaryDirectory(prefix="folio-dax-client-build-") as work:
        sdists, wheelhouse = Path(work) / "sdists", Path(work) / "wheels"
        (Path(work) / "sdists.txt").write_text("\n".join(source_only) + "\n")
        (Path(work) / "wheels.txt").write_text("\n".join(binaries) + "\n")
        _pip("download", "--no-deps", "--require-hashes", "--no-binary=:all:", "-d", str(sdists),
             "-r", str(Path(work) / "sdists.txt"))  # fmt: skip
        _pip("wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(wheelhouse),
             *(str(p) for p in sorted(sdists.iterdir())))  # fmt: skip
        _pip("download", "--no-deps", "--require-hashes", "--only-binary=:all:", *target, "-d", str(wheelhouse),
             "-r", str(Path(work) / "wheels.txt"))  # fmt: skip
        _pip("install", "--no-index", "--find-links", str(wheelhouse), "--no-compile", "--no-deps",
             "--only-binary=:all:", *target, "--target", str(output_dir / "python"),
             *pinned_requirements())  # fmt: skip
    # antlr4's command-line tool is not needed at run time.
    shutil.rmtree(output_dir / "python" / "bin", ignore_errors=True)


def cached_layer_content(cache: Path | None = None) -> Path:
    """The built layer (a directory holding `python/`), from the cache or built into it."""
    return cached_build(cache or LAYER_CACHE, layer_cache_key(), build_layer_content)


@jsii.implements(cdk.ILocalBundling)
class _PipBundling:
    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_: object) -> bool:
        shutil.copytree(cached_layer_content(), output_dir, dirs_exist_ok=True)
        return True


class DaxClientLayer(Construct):
    """A python3.14/arm64 layer with the pinned DAX client and its pure-Python dependencies."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.layer = lambda_.LayerVersion(
            self,
            "Layer",
            description="amazon-dax-client for Folio's DAX readers (" + ", ".join(pinned_requirements()) + ")",
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            code=lambda_.Code.from_asset(
                str(DAX_CLIENT_SOURCE),
                asset_hash_type=cdk.AssetHashType.CUSTOM,
                asset_hash=layer_recipe_hash(),
                bundling=cdk.BundlingOptions(
                    # Never pulled: the local bundling always succeeds or fails the synth.
                    image=cdk.DockerImage.from_registry("folio/no-docker"),
                    local=_PipBundling(),
                ),
            ),
        )
