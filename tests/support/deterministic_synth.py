"""Two synths of the same commit, compared template by template.

`FreshProcessSynth` synthesizes environments the way tests/conftest.py does, in a new
Python process with another hash seed, into another directory, at another time: what a second
`make synth` (or the pipeline's synth step) would differ in. Set iteration order (the hash seed),
clocks, temporary or absolute paths and anything random that reaches a template shows up as a
difference against the test session's own synth. `template_differences` compares two assembly
directories byte for byte.

Run as a module (`python -m tests.support.deterministic_synth OUTDIR ENV...`) it is the fresh
process: it prints {environment: stage assembly directory} as JSON.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from tests.support.background import BackgroundLane, module_environment

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_GLOB = "*.template.json"
SYNTH_TIMEOUT = 900.0  # every environment, each with its DAX client layer build


def other_hash_seed(current: str | None) -> str:
    """A PYTHONHASHSEED that differs from this process's: "0" (no randomization) where this one is
    random, else another fixed seed."""
    if current is None or current == "random":
        return "0"
    return "1" if current == "0" else "0"


def fresh_process_environment() -> dict[str, str]:
    """This process's environment with another hash seed, and the paths pyproject.toml gives pytest
    (the project, and `lambda`: the stacks read the key schema)."""
    return {**module_environment(), "PYTHONHASHSEED": other_hash_seed(os.environ.get("PYTHONHASHSEED"))}


class FreshProcessSynth:
    """Environments synthesized by a new process under `outdir`, queued on the background lane at
    once, so it runs beside whatever this process does until `directories()` waits for it."""

    def __init__(self, lane: BackgroundLane, environments: list[str], outdir: Path) -> None:
        self._job = lane.run(
            f"the second synth of {', '.join(environments)}",
            [sys.executable, "-m", "tests.support.deterministic_synth", str(outdir), *environments],
            timeout=SYNTH_TIMEOUT,
            cwd=PROJECT_ROOT,
            env=fresh_process_environment(),
        )
        self._directories: dict[str, Path] | None = None

    def directories(self) -> dict[str, Path]:
        """Each environment's stage assembly directory, once the process has finished."""
        if self._directories is None:
            finished = self._job.result()
            if finished.returncode != 0:
                raise RuntimeError(f"the second synth exited {finished.returncode}:\n{finished.stderr[-4000:]}")
            found = json.loads(finished.stdout.splitlines()[-1])
            self._directories = {name: Path(directory) for name, directory in found.items()}
        return self._directories


def template_differences(first: Path, second: Path) -> list[str]:
    """One line per template that is in one directory only, or whose bytes differ (with the first
    line that differs)."""
    first_names = {p.name for p in first.glob(TEMPLATE_GLOB)}
    second_names = {p.name for p in second.glob(TEMPLATE_GLOB)}
    differences = [f"{name}: only in {first}" for name in sorted(first_names - second_names)]
    differences += [f"{name}: only in {second}" for name in sorted(second_names - first_names)]
    for name in sorted(first_names & second_names):
        a, b = (first / name).read_bytes(), (second / name).read_bytes()
        if a != b:
            differences.append(f"{name}: differs; {_first_differing_line(a, b)}")
    if not first_names and not second_names:
        differences.append(f"no {TEMPLATE_GLOB} in either {first} or {second}")
    return differences


def _first_differing_line(a: bytes, b: bytes) -> str:
    a_lines, b_lines = a.decode().splitlines(), b.decode().splitlines()
    for number, (line_a, line_b) in enumerate(zip(a_lines, b_lines, strict=False), start=1):
        if line_a != line_b:
            return f"line {number}: {line_a.strip()[:160]!r} != {line_b.strip()[:160]!r}"
    return f"one has {len(a_lines)} lines, the other {len(b_lines)}"


def main(arguments: list[str]) -> int:
    from stacks.config import load_config
    from tests.conftest import synthesize

    outdir, environments = Path(arguments[0]), arguments[1:]
    # With aws-cdk-lib's CloudFormation validation, which the test session's own synths leave out.
    synths = {name: synthesize(load_config(name), outdir / name, validate_cloudformation=True) for name in environments}
    directories = {name: str(synth.assembly_directory) for name, synth in synths.items()}
    print(json.dumps(directories))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
