"""The DAX client layer's content, built for real the way `cdk synth` builds it (pip, no Docker),
and the cache that lets only the first synth on a machine run pip."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from stacks import build_cache
from stacks.components import dax_client_layer
from stacks.components.dax_client_layer import build_layer_content, pinned_requirements
from tests.support.dax_layer_builds import DaxLayerBuilds

# The goal for the code that ships with a function: under 1 MB zipped.
MAX_ZIPPED_BYTES = 1_000_000


@pytest.fixture(scope="module")
def layer_cache(dax_layer_builds: DaxLayerBuilds) -> Path:
    return dax_layer_builds.cache


@pytest.fixture(scope="module")
def cached_layer(dax_layer_builds: DaxLayerBuilds) -> Path:
    """Built with pip into an empty cache, as the first synth on a machine builds it (by a new
    process on the background lane, started with the session: tests/support/dax_layer_builds.py)."""
    return dax_layer_builds.layer()


@pytest.fixture(scope="module")
def layer(cached_layer: Path) -> Path:
    return cached_layer


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
    env = {**os.environ, "PYTHONPATH": str(layer / "python"), "PYTHONWARNINGS": "ignore::DeprecationWarning",
           "PYTHONDONTWRITEBYTECODE": "1"}  # fmt: skip
    found = subprocess.run([sys.executable, "-c", probe], env=env, check=True, capture_output=True, text=True)
    assert found.stdout.strip().startswith(str(layer / "python"))


def test_a_pin_without_its_hash_is_refused_before_pip_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dax_client_layer, "pinned_requirements", lambda: ["amazon-dax-client==0.0.0.404"])
    with pytest.raises(dax_client_layer.LayerBuildFailed, match="must hash exactly the pins"):
        build_layer_content(tmp_path)


def test_a_file_that_does_not_match_its_hash_fails_the_build_with_pips_reason(
    dax_layer_builds: DaxLayerBuilds,
) -> None:
    # six's hash changed, built by the lane's process (tests/support/dax_layer_builds.py)
    ending = dax_layer_builds.tampered_build_ending()

    assert ending.startswith("LayerBuildFailed: "), ending
    assert re.search(r"(?s)pip download exited \d+:.*HASHES", ending), ending


def test_the_hashes_name_exactly_the_pins() -> None:
    hashed = dax_client_layer.hashed_requirements()
    assert sorted(line.split()[0] for line in hashed) == sorted(pinned_requirements())
    assert all(line.split()[1].startswith("--hash=sha256:") for line in hashed)


RECIPE_FILES = ["DAX_CLIENT_REQUIREMENTS", "DAX_CLIENT_HASHES", "BUILD_REQUIREMENTS", "BUILD_CODE"]


@pytest.mark.parametrize("change", [*RECIPE_FILES, "TARGET_PLATFORM", "TARGET_PYTHON"])
def test_the_asset_hash_and_cache_key_change_with_anything_that_changes_the_layer(
    change: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = dax_client_layer.layer_recipe_hash(), dax_client_layer.layer_cache_key()
    if change in RECIPE_FILES:
        edited = tmp_path / "edited"
        edited.write_bytes(getattr(dax_client_layer, change).read_bytes() + b"\n# one more line\n")
        monkeypatch.setattr(dax_client_layer, change, edited)
    else:
        monkeypatch.setattr(dax_client_layer, change, getattr(dax_client_layer, change) + "x")
    after = dax_client_layer.layer_recipe_hash(), dax_client_layer.layer_cache_key()

    assert after[0] != before[0]
    assert after[1] != before[1]


def test_the_cache_key_but_not_the_asset_hash_changes_with_the_tools_that_build(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = dax_client_layer.layer_recipe_hash(), dax_client_layer.layer_cache_key()
    versions = {"pip": "99.0", "setuptools": "80.9.0"}
    monkeypatch.setattr(dax_client_layer.importlib.metadata, "version", versions.__getitem__)

    assert dax_client_layer.layer_recipe_hash() == before[0], "templates must not depend on the machine's pip"
    assert dax_client_layer.layer_cache_key() != before[1]


# --- The layer cache: only the first synth on a machine (per recipe) runs pip ----------------

_BUNDLE_WITH_PIP_BROKEN = """
import sys
from pathlib import Path
from stacks.components import dax_client_layer

def no_pip(*args):
    raise AssertionError("pip ran: " + " ".join(args))

dax_client_layer._pip = no_pip
dax_client_layer.LAYER_CACHE = Path(sys.argv[1])
dax_client_layer._PipBundling().try_bundle(sys.argv[2], image=None)
"""


def test_a_second_synth_in_a_fresh_process_takes_the_layer_from_the_cache_without_pip(
    cached_layer: Path, layer_cache: Path, tmp_path: Path
) -> None:
    # Given the layer built once into the cache (the module fixture, with pip)
    # When a new process bundles the layer with pip made to fail
    out = tmp_path / "asset"
    result = subprocess.run(
        [sys.executable, "-c", _BUNDLE_WITH_PIP_BROKEN, str(layer_cache), str(out)],
        capture_output=True, text=True, check=False, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip

    # Then it succeeds, with exactly the cached files
    assert result.returncode == 0, result.stderr[-2000:]
    assert _files(out) == _files(cached_layer)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _fake_build(calls: list[Path]) -> Callable[[Path], None]:
    """Stands in for pip: writes a small layer and counts the builds."""

    def build(output_dir: Path) -> None:
        calls.append(output_dir)
        (output_dir / "python" / "amazondax").mkdir(parents=True)
        (output_dir / "python" / "amazondax" / "__init__.py").write_text("built = True\n")

    return build


def test_an_entry_is_built_once_and_then_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path] = []
    monkeypatch.setattr(dax_client_layer, "build_layer_content", _fake_build(calls))

    first = dax_client_layer.cached_layer_content(tmp_path)
    second = dax_client_layer.cached_layer_content(tmp_path)

    assert first == second == tmp_path / dax_client_layer.layer_cache_key() / build_cache.CONTENT
    assert len(calls) == 1
    assert (first / "python" / "amazondax" / "__init__.py").read_text() == "built = True\n"


def test_an_interrupted_build_leaves_no_entry_and_the_next_build_succeeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Path] = []
    build = _fake_build(calls)

    def interrupted(output_dir: Path) -> None:
        build(output_dir)  # half the files are there when the build stops
        raise KeyboardInterrupt

    monkeypatch.setattr(dax_client_layer, "build_layer_content", interrupted)
    with pytest.raises(KeyboardInterrupt):
        dax_client_layer.cached_layer_content(tmp_path)
    assert list(tmp_path.iterdir()) == []

    monkeypatch.setattr(dax_client_layer, "build_layer_content", build)
    assert (dax_client_layer.cached_layer_content(tmp_path) / "python" / "amazondax" / "__init__.py").is_file()


@pytest.mark.parametrize("damage", ["no manifest", "file missing", "file changed", "file added", "only staging"])
def test_a_partial_or_corrupt_entry_is_detected_and_rebuilt(
    damage: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a complete entry, then damaged as a killed build or a stray edit would leave it
    calls: list[Path] = []
    monkeypatch.setattr(dax_client_layer, "build_layer_content", _fake_build(calls))
    layer = dax_client_layer.cached_layer_content(tmp_path)
    entry = layer.parent
    module = layer / "python" / "amazondax" / "__init__.py"
    if damage == "no manifest":
        (entry / build_cache.MANIFEST).unlink()
    elif damage == "file missing":
        module.unlink()
    elif damage == "file changed":
        module.write_text("built = Fals")
    elif damage == "file added":
        (layer / "python" / "stray.py").write_text("")
    else:  # a build killed before its rename: only its staging directory exists
        shutil.rmtree(entry)
        (tmp_path / f".{entry.name}.killed" / build_cache.CONTENT).mkdir(parents=True)

    # When the layer is asked for again, Then it is rebuilt and whole
    rebuilt = dax_client_layer.cached_layer_content(tmp_path)
    assert len(calls) == 2
    assert rebuilt == layer
    assert _files(rebuilt) == {"python/amazondax/__init__.py": b"built = True\n"}


def test_a_changed_recipe_or_builder_gets_its_own_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path] = []
    monkeypatch.setattr(dax_client_layer, "build_layer_content", _fake_build(calls))
    before = dax_client_layer.cached_layer_content(tmp_path)

    monkeypatch.setattr(dax_client_layer, "TARGET_PYTHON", "3.15")
    after = dax_client_layer.cached_layer_content(tmp_path)

    assert after != before
    assert before.is_dir() and after.is_dir()
    assert len(calls) == 2
