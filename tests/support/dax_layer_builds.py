"""The DAX client layer's real pip builds (stacks/components/dax_client_layer.py) for
tests/infra/test_dax_client_layer.py, in a new process on the background lane, which
tests/conftest.py starts when the session starts: about 9 s of pip that the tests would otherwise
wait for one after the other.

- "layer": the layer built with pip into an empty cache, as the first synth on a machine builds it;
- "tampered": what building with one hash changed (six's) ends in: the LayerBuildFailed message,
  or what happened instead.

Run as a module (`python -m tests.support.dax_layer_builds OUTDIR`) it builds into OUTDIR/cache
and prints {"layer": <the cached layer's directory>, "tampered": <ending>} as JSON on its last line.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.support.background import BackgroundLane, ModuleJob

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT = 600.0
TAMPERED_DISTRIBUTION = "six"


class DaxLayerBuilds:
    """This module run as a new process on `lane`, into `outdir`; each accessor waits for it."""

    def __init__(self, lane: BackgroundLane, outdir: Path) -> None:
        self.cache = outdir / "cache"
        self._job = ModuleJob(
            lane, "the DAX client layer's pip builds", "tests.support.dax_layer_builds", [str(outdir)],
            timeout=BUILD_TIMEOUT,
        )  # fmt: skip

    def _output(self) -> dict[str, Any]:
        return self._job.output()

    def layer(self) -> Path:
        """The layer's directory (holding `python/`) in the cache it was built into."""
        return Path(self._output()["layer"])

    def tampered_build_ending(self) -> str:
        ending: str = self._output()["tampered"]
        return ending


def tampered_build_ending() -> str:
    """The error a build with six's hash changed ends in, as `LayerBuildFailed: <message>`."""
    from stacks.components import dax_client_layer

    wrong_hash = "--hash=sha256:" + "0" * 64
    tampered = [
        line.split("--hash=")[0] + wrong_hash if line.startswith(f"{TAMPERED_DISTRIBUTION}==") else line
        for line in dax_client_layer.hashed_requirements()
    ]
    assert tampered != dax_client_layer.hashed_requirements(), f"{TAMPERED_DISTRIBUTION} is not among the hashes"
    dax_client_layer.hashed_requirements = lambda: tampered
    try:
        with tempfile.TemporaryDirectory() as output:
            dax_client_layer.build_layer_content(Path(output))
    except dax_client_layer.LayerBuildFailed as error:
        return f"LayerBuildFailed: {error}"
    return "the build succeeded"


def main(arguments: list[str]) -> int:
    from stacks.components import dax_client_layer

    outdir = Path(arguments[0])
    layer = dax_client_layer.cached_layer_content(outdir / "cache")
    print(json.dumps({"layer": str(layer), "tampered": tampered_build_ending()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
