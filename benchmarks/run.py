"""`make bench`: measure Folio's synth and test times and its size; print and write results.json.

Measures (median of --runs, default 3, for the synth figures):
- wall time of `cdk synth` of the whole app (default environment, nag on, validation on);
- wall time of an empty CDK app synthesized the same way, and the ratio of the two;
- wall time of `make test` (one run; --skip-test to leave it out);
- resources per stack for every environment;
- with --fresh-clone: `make synth` in a fresh clone, installs included;
- the Lambda code asset's zipped size (target <= 1 MB without the layer);
- cold import time of every runtime module a function loads (`python -X importtime`),
  next to a bare `import boto3` in the same run (target <= 1.5x).

Targets (from issue #2): warm synth <= 4x the empty app; `make test` <= 180 s on 2
cores; fresh-clone `make synth` <= 300 s. The script reports; it never fails on a target.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results.json"
ENVIRONMENTS = ("sandbox", "dev", "prod")
TARGETS = {
    "synth_ratio_max": 4.0,
    "make_test_seconds_max": 180.0,
    "fresh_clone_synth_seconds_max": 300.0,
    "lambda_asset_bytes_max": 1_000_000,
    "import_ratio_to_boto3_max": 1.5,
}


def timed(command: list[str], cwd: Path = ROOT, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def cdk(*args: str) -> list[str]:
    return [str(ROOT / "node_modules" / ".bin" / "cdk"), *args]


def median_synth(app_command: str | None, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as out:
            args = ["synth", "--quiet", "--output", out]
            if app_command:
                args += ["--app", app_command]
            times.append(timed(cdk(*args)))
    return times


def resource_counts() -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for environment in ENVIRONMENTS:
        with tempfile.TemporaryDirectory() as out:
            subprocess.run(cdk("synth", "--quiet", "-c", f"env={environment}", "--output", out), cwd=ROOT, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
            for template in sorted(Path(out).glob("assembly-*/*.template.json")):
                resources = json.loads(template.read_text()).get("Resources", {})
                counts.setdefault(environment, {})[template.name.removesuffix(".template.json")] = len(resources)
    return counts


def lambda_asset_bytes() -> int:
    """Zipped size of lambda/ as CDK packages it (caches excluded)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted((ROOT / "lambda").rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                archive.write(path, path.relative_to(ROOT / "lambda"))
    return len(buffer.getvalue())


def import_microseconds(module: str, runs: int) -> int:
    """Median cumulative import time of `module` in a fresh interpreter (-X importtime)."""
    samples = []
    for _ in range(runs):
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"],
            cwd=ROOT / "lambda", capture_output=True, text=True, check=True,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "AWS_DEFAULT_REGION": "us-east-1"},
        )  # fmt: skip
        last = [line for line in result.stderr.splitlines() if line.startswith("import time:")][-1]
        samples.append(int(last.split("|")[1]))
    return int(statistics.median(samples))


def runtime_modules() -> list[str]:
    """Entry points if handlers exist, else every module of the folio package."""
    handlers = sorted((ROOT / "lambda" / "folio" / "handlers").glob("[!_]*.py"))
    if handlers:
        return [f"folio.handlers.{p.stem}" for p in handlers]
    return sorted(f"folio.{p.stem}" for p in (ROOT / "lambda" / "folio").glob("[!_]*.py"))


def fresh_clone_synth() -> float:
    with tempfile.TemporaryDirectory() as clone:
        subprocess.run(["git", "clone", "--quiet", str(ROOT), clone], check=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "CDK_"))}
        env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if str(ROOT) not in p)
        return timed(["make", "synth"], cwd=Path(clone), env=env)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-test", action="store_true", help="do not time `make test`")
    parser.add_argument("--fresh-clone", action="store_true", help="also time `make synth` in a fresh clone")
    options = parser.parse_args()

    print("benchmark: warming up (one synth of each app, not counted)")
    median_synth(None, 1)
    median_synth(f"{sys.executable} benchmarks/empty_app.py", 1)
    folio = median_synth(None, options.runs)
    empty = median_synth(f"{sys.executable} benchmarks/empty_app.py", options.runs)
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "targets": TARGETS,
        "synth_seconds": {"runs": [round(t, 2) for t in folio], "median": round(statistics.median(folio), 2)},
        "empty_app_synth_seconds": {"runs": [round(t, 2) for t in empty], "median": round(statistics.median(empty), 2)},
    }
    results["synth_ratio"] = round(statistics.median(folio) / statistics.median(empty), 2)
    results["resources_per_stack"] = resource_counts()
    results["lambda_asset_bytes"] = lambda_asset_bytes()
    boto3_us = import_microseconds("boto3", 5)
    imports = {module: import_microseconds(module, 5) for module in runtime_modules()}
    results["cold_import_microseconds"] = {"boto3": boto3_us, **imports}
    results["import_ratio_to_boto3"] = {m: round(t / boto3_us, 2) for m, t in imports.items()}
    if not options.skip_test:
        print("benchmark: timing `make test` (one run)")
        results["make_test_seconds"] = round(timed(["make", "test"]), 1)
    if options.fresh_clone:
        print("benchmark: timing `make synth` in a fresh clone, installs included")
        results["fresh_clone_make_synth_seconds"] = round(fresh_clone_synth(), 1)
    if shutil.which("git"):
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        results["commit"] = commit.stdout.strip()

    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    print(f"benchmark: written to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
