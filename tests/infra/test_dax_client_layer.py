"""The DAX client layer's content, built for real the way `cdk synth` builds it (pip, no Docker)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from stacks.components.dax_client_layer import build_layer_content, pinned_requirements

# The goal for the code that ships with a function: under 1 MB zipped.
MAX_ZIPPED_BYTES = 1_000_000


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dax-client-layer")
    build_layer_content(out)
    return out


def test_the_layer_holds_the_pinned_client_in_the_layer_layout(layer: Path) -> None:
    installed = {p.name.split("-")[0].lower() for p in (layer / "python").glob("*.dist-info")}
    pinned = {r.split("==")[0].replace("-", "_").lower() for r in pinned_requirements()}
    assert installed == pinned
    assert (layer / "python" / "amazondax" / "__init__.py").is_file()


def test_the_layer_leaves_botocore_to_the_runtime_and_ships_no_bytecode(layer: Path) -> None:
    names = {p.name for p in (layer / "python").iterdir()}
    assert not names & {"botocore", "boto3", "s3transfer", "urllib3", "bin"}
    assert not list(layer.rglob("*.pyc"))


def test_the_layer_zips_under_one_megabyte(layer: Path, tmp_path: Path) -> None:
    archive = tmp_path / "layer.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in sorted(layer.rglob("*")):
            zipped.write(path, path.relative_to(layer))
    assert archive.stat().st_size < MAX_ZIPPED_BYTES


def test_the_client_imports_from_the_layer_with_the_runtimes_botocore(layer: Path) -> None:
    # Only the layer and this interpreter's site-packages (standing in for the runtime's
    # botocore) are on the path; the venv's own copy of the client must not be the one found.
    probe = "import amazondax, sys; print(amazondax.__file__)"
    env = {**os.environ, "PYTHONPATH": str(layer / "python"), "PYTHONWARNINGS": "ignore::DeprecationWarning"}
    found = subprocess.run([sys.executable, "-c", probe], env=env, check=True, capture_output=True, text=True)
    assert found.stdout.strip().startswith(str(layer / "python"))


def test_a_pin_without_its_hash_is_refused_before_pip_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from stacks.components import dax_client_layer

    monkeypatch.setattr(dax_client_layer, "pinned_requirements", lambda: ["amazon-dax-client==0.0.0.404"])
    with pytest.raises(dax_client_layer.LayerBuildFailed, match="must hash exactly the pins"):
        build_layer_content(tmp_path)


def test_a_file_that_does_not_match_its_hash_fails_the_build_with_pips_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stacks.components import dax_client_layer

    tampered = [
        line.split("--hash=")[0] + "--hash=sha256:" + "0" * 64 if line.startswith("six==") else line
        for line in dax_client_layer.hashed_requirements()
    ]
    monkeypatch.setattr(dax_client_layer, "hashed_requirements", lambda: tampered)
    with pytest.raises(dax_client_layer.LayerBuildFailed, match=r"(?s)pip download exited \d+:.*HASHES"):
        build_layer_content(tmp_path)


def test_the_hashes_name_exactly_the_pins() -> None:
    from stacks.components.dax_client_layer import hashed_requirements

    assert sorted(line.split()[0] for line in hashed_requirements()) == sorted(pinned_requirements())
    assert all(line.split()[1].startswith("--hash=sha256:") for line in hashed_requirements())


def test_the_asset_hash_changes_with_anything_that_changes_the_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    from stacks.components import dax_client_layer

    before = dax_client_layer.layer_recipe_hash()
    monkeypatch.setattr(dax_client_layer, "TARGET_PYTHON", "3.15")
    assert dax_client_layer.layer_recipe_hash() != before
