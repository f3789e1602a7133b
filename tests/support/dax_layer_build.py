"""The DAX client layer built for real with pip (tests/infra/test_dax_client_layer.py), in a new
process on the background lane, which tests/conftest.py starts when the session starts: pip's
downloads and builds take seconds the session's own thread spends on other tests.

Run as a module:
- `python -m tests.support.dax_layer_build cache CACHE` builds the layer into the empty cache
  CACHE, as the first synth on a machine does, and prints the layer's directory on its last line.
- `python -m tests.support.dax_layer_build tampered OUTDIR` builds it into OUTDIR with six's hash
  replaced by one no file has, and prints, as JSON on its last line, the LayerBuildFailed it raised
  ({"raised": "LayerBuildFailed", "message": ...}) or {"raised": null} when the build succeeded.
  Any other exception ends the process with its traceback, which fails the test that waits for it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tests.support.background import BackgroundJob, BackgroundLane, module_environment

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# pip downloads from the package index: generous, but a hung download must not hang the session.
BUILD_TIMEOUT = 300.0


def start_layer_build(lane: BackgroundLane, mode: str, directory: Path) -> BackgroundJob:
    """This module run in `mode` ("cache" or "tampered") into `directory`, on `lane`."""
    return lane.run(
        f"the DAX client layer build ({mode})",
        [sys.executable, "-m", "tests.support.dax_layer_build", mode, str(directory)],
        timeout=BUILD_TIMEOUT,
        cwd=PROJECT_ROOT,
        env=module_environment(),
    )


class PendingCachedLayer:
    """The layer built with pip into the empty cache `cache`; `content()` waits for it."""

    def __init__(self, lane: BackgroundLane, cache: Path) -> None:
        self.cache = cache
        self._job = start_layer_build(lane, "cache", cache)

    def content(self) -> Path:
        finished = self._job.result()
        assert finished.returncode == 0, finished.stderr[-4000:]
        return Path(finished.stdout.splitlines()[-1])


class PendingTamperedBuild:
    """The layer built with a hash no file has; `failure()` waits for it."""

    def __init__(self, lane: BackgroundLane, outdir: Path) -> None:
        self._job = start_layer_build(lane, "tampered", outdir)

    def failure(self) -> str:
        """The message of the LayerBuildFailed the build raised (an assertion fails if it raised
        nothing)."""
        finished = self._job.result()
        assert finished.returncode == 0, finished.stderr[-4000:]
        outcome: dict[str, Any] = json.loads(finished.stdout.splitlines()[-1])
        assert outcome["raised"] == "LayerBuildFailed", "DID NOT RAISE LayerBuildFailed"
        message: str = outcome["message"]
        return message


def with_a_tampered_hash(hashed: list[str]) -> list[str]:
    """The hashed pins with six's hash replaced by one that no file has."""
    return [line.split("--hash=")[0] + "--hash=sha256:" + "0" * 64 if line.startswith("six==") else line
            for line in hashed]  # fmt: skip


def main(arguments: list[str]) -> int:
    from stacks.components import dax_client_layer

    mode, directory = arguments[0], Path(arguments[1])
    if mode == "cache":
        print(dax_client_layer.cached_layer_content(directory))
        return 0
    if mode != "tampered":
        raise SystemExit(f"unknown mode {mode!r}: cache or tampered")
    tampered = with_a_tampered_hash(dax_client_layer.hashed_requirements())
    dax_client_layer.hashed_requirements = lambda: tampered
    try:
        dax_client_layer.build_layer_content(directory)
    except dax_client_layer.LayerBuildFailed as error:
        print(json.dumps({"raised": "LayerBuildFailed", "message": str(error)}))
        return 0
    print(json.dumps({"raised": None}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
