"""`make bench`: measure Folio's synth and test times, size, cold imports, DynamoDB access patterns and DAX costs.

Measures (median of --runs, default 3, for the synth figures):
- wall and CPU time of `cdk synth` of the whole app as `make synth` runs it (every stage and Region app.py
  synthesizes, nag on, validation on), with what it produced (stacks, cloud assemblies, account-Regions);
- wall and CPU time of an empty CDK app synthesized the same way, and the ratio of the two;
- the time one more Region adds: the same app with one more replica Region in every environment
  (benchmarks/extra_region_app.py), per Region added to a stage the app synthesizes, and how many more
  Regions fit before the ratio target. The three apps are synthesized in turn; CPU time (the CLI and every
  process it ran) is the steadier figure where other work shares the machine;
- wall time of `make test`, run twice: the first fills this machine's caches (bytecode, Control Tower's
  reports of the session's templates), the second is the figure held to the goal (--skip-test to leave
  it out);
- resources per stack for every environment;
- with --fresh-clone: `make synth` in a fresh clone, installs included;
- the Lambda code asset's zipped size, as CDK packages lambda/ (the Powertools layer is not in it);
- cold import time of each handler module under lambda/folio/handlers/ (create, read, modify, download,
  admin, search, upload_worker; `python -X importtime`, median of 7 rounds, with the function's environment faked),
  next to a bare `import boto3` timed in the same rounds, and any network I/O a module attempts at import time;
- for each access pattern AP1-AP9 on DynamoDB Local (benchmarks/access_patterns.py): requests made per
  operation, Scans, capacity consumed (ReturnConsumedCapacity) next to the theoretical minimum for the
  item sizes used, with a note on every difference;
- search (benchmarks/search_costs.py, the `search` section): the search client's import on top of the
  search handler's, next to opensearch-py's, and the engine requests and cursor-secret reads per page;
- DAX (benchmarks/dax_costs.py, the `dax` section): the DAX client layer built as the synth builds it and
  zipped, with the code asset (together under 1 MB) and whether it bundles boto3 or botocore; each DAX
  reader's (read, download, admin) cold import with DAX_ENDPOINT set next to the same import without it;
  the first read's extra cost (`import amazondax` after the handler, the client's construction against a
  fake DAX node on loopback over dax:// and daxs://); and per cached read (AP2 behind the owner's download,
  find_share, AP6, AP8) the DAX and DynamoDB requests with DAX on, off, and down (the node stopped: the
  breaker falls back to DynamoDB), with what loopback cannot show.

Targets: warm synth <= 4x the empty app (wall time; no target per Region, whose cost the ratio's headroom
shows); `make test` <= 180 s on 2 cores; fresh-clone `make synth` <= 300 s (issue #2); the Lambda code asset
<= 1 MB zipped, with the DAX client layer included; the cold import of each function that does not read
through DAX <= 1.5x a bare boto3 import (the DAX readers' figure is reported, and DAX_ENDPOINT adds nothing to
it: the client is imported on the first read); the DAX layer bundles no boto3 or botocore; one DynamoDB
request per access pattern (AP8: one per shard), and through DAX the same count as DAX requests with none to
DynamoDB, and with DAX down the same count to DynamoDB; 0 Scans in any request path, consumed capacity at the
minimum. The script reports; it never fails on a target.

`--only access-patterns,imports,asset` runs just those parts (any of synth, resources, asset, imports,
access-patterns, dax, test, fresh-clone). A partial run merges its figures into the existing
benchmarks/results.json, keeps the other parts' figures, and records in `measured_at` which commit
each part was last measured at.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results.json"
# The stacks whose templates "a change" re-checks: the costliest to check (7 Api templates in the
# whole app: the sandbox's, the pipeline's stages' and every regional serving stage's).
CHANGED_STACKS = "Api"
ENVIRONMENTS = ("sandbox", "dev", "prod")
TARGETS: dict[str, object] = {
    "synth_ratio_max": 4.0,
    "synth_ratio_applies_to": "wall time of `make synth` of app.py (its `synthesized` says what that covered) "
    "over the empty app's (run by the same interpreter command, cdk.json's `app`), a developer's synths: the "
    "next one with no template changed (`synth_seconds`: the checks' reports read back) and the first after a "
    "change to the Api stacks (`synth_after_a_change`: their templates checked again); "
    "`synth_every_template_checked` (no kept report, as the pipeline's synth step runs) is reported beside "
    "them against the same ratio; no target per extra Region: `regions_before_the_ratio_target` shows the "
    "headroom",
    "make_test_seconds_max": 180.0,
    "fresh_clone_synth_seconds_max": 300.0,
    "lambda_asset_bytes_max": 1_000_000,
    "lambda_asset_with_dax_layer_bytes_max": 1_000_000,
    "import_ratio_to_boto3_max": 1.5,
    "import_ratio_applies_to": "functions that do not read through DAX (the DAX readers' figure is reported)",
    "dax_layer_bundles": "no boto3, botocore or s3transfer",
    "dax_endpoint_import_cost": "none (the DAX client is imported and built on the first read through DAX)",
    "dax_requests_per_cached_read": "DAX on: as many DAX requests as DynamoDB requests with DAX off, 0 to DynamoDB; "
    "DAX down: the DAX-off DynamoDB count, one DaxFallbacks metric per read",
    "requests_per_access_pattern": 1,
    "requests_recent_uploads": "one per shard",
    "scans_per_request_path": 0,
    "capacity": "consumed == minimum",
    "search_engine_requests_per_page": 1,
}
PARTS = ("synth", "resources", "asset", "imports", "access-patterns", "dax", "search", "test", "fresh-clone")
DEFAULT_PARTS = ("synth", "resources", "asset", "imports", "access-patterns", "dax", "search", "test")
HANDLERS = ("create", "read", "modify", "download", "admin", "search", "upload_worker")
IMPORT_RUNS = 7
# What the function's environment holds at cold start (stacks/api_stack.py and Lambda's own variables),
# with fake values: settings parse at import time, and nothing here may reach AWS.
FUNCTION_ENVIRONMENT = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_SESSION_TOKEN": "bench",
    "AWS_LAMBDA_FUNCTION_NAME": "folio-bench",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "POWERTOOLS_SERVICE_NAME": "folio",
    "TABLE_NAME": "folio-documents",
    "BUCKET_NAME": "folio-documents-bench",
    "BUCKET_REGION": "us-east-1",
    "DOCUMENT_PREFIX": "documents/",
    "IDEMPOTENCY_TABLE_NAME": "folio-idempotency",
    "CURSOR_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:folio-cursor-AbCdEf",
    "MAX_UPLOAD_BYTES": str(100 * 1024 * 1024),
    "QUOTA_DOCUMENTS": "10000",
    "QUOTA_BYTES": str(10 * 1024**3),
    "CORS_ORIGINS": "https://folio.example.com",
    "ADMINS_GROUP": "admins",
}
# Run before the import under test (in its own interpreter, never timed): any connection or name lookup
# raises and is reported.
NETWORK_GUARD = """
import json, socket, sys
attempts = []
def refuse(name):
    def call(*args, **kwargs):
        attempts.append(name + repr(args[1:3] if name.startswith("socket.") else args[:2]))
        raise OSError("network I/O at import time (refused by benchmarks/run.py)")
    return call
socket.socket.connect = refuse("socket.connect")
socket.socket.connect_ex = refuse("socket.connect_ex")
socket.getaddrinfo = refuse("getaddrinfo")
socket.create_connection = refuse("create_connection")
error = None
try:
    __import__(sys.argv[1])
except Exception as caught:
    error = f"{type(caught).__name__}: {caught}"
print(json.dumps({"attempts": attempts, "error": error}))
"""


class CommandFailed(RuntimeError):
    """A measured command failed: the figure is not a measurement, so it is not reported."""


def timed(command: list[str], cwd: Path = ROOT, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        tail = "\n".join(result.stdout.splitlines()[-40:])
        raise CommandFailed(f"`{' '.join(command)}` exited {result.returncode}; its last lines:\n{tail}")
    return time.perf_counter() - start


def children_cpu_seconds() -> float:
    """User and system CPU time of every finished child process so far (and of the processes they waited
    for: the CLI's app process and its Node kernel)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_or_failure(results: dict[str, Any], key: str, command: Callable[[], float]) -> None:
    """results[key] = the command's seconds; a failure is recorded under `failures` and
    printed, and the other figures are still written."""
    try:
        results[key] = round(command(), 1)
    except CommandFailed as failure:
        print(f"benchmark: {failure}", file=sys.stderr)
        results.setdefault("failures", {})[key] = str(failure).splitlines()[0]


def cdk(*args: str) -> list[str]:
    return [str(ROOT / "node_modules" / ".bin" / "cdk"), *args]


@dataclass(frozen=True)
class AssemblyInventory:
    """What a synth produced: its stacks, its cloud assemblies (the app's and each stage's), and the
    (account, Region) pairs its stacks deploy to."""

    stacks: int
    assemblies: int
    targets: frozenset[tuple[str, str]]

    def as_json(self) -> dict[str, Any]:
        return {
            "stacks": self.stacks,
            "assemblies": self.assemblies,
            "accounts_and_regions": sorted(f"{account}/{region}" for account, region in self.targets),
        }


def assembly_inventory(directory: Path) -> AssemblyInventory:
    """The inventory of the cloud assembly in `directory`, nested stage assemblies included."""
    stacks, assemblies, targets = 0, 1, set()
    for artifact in json.loads((directory / "manifest.json").read_text()).get("artifacts", {}).values():
        if artifact.get("type") == "aws:cloudformation:stack":
            stacks += 1
            account, region = artifact["environment"].removeprefix("aws://").split("/")
            targets.add((account, region))
        elif artifact.get("type") == "cdk:cloud-assembly":
            nested = assembly_inventory(directory / artifact["properties"]["directoryName"])
            stacks, assemblies = stacks + nested.stacks, assemblies + nested.assemblies
            targets |= nested.targets
    return AssemblyInventory(stacks, assemblies, frozenset(targets))


@dataclass(frozen=True)
class SynthRun:
    """One `cdk synth`: its wall time, the CPU time of the CLI and everything it ran, and what it produced.
    On a machine that other work shares, CPU time varies far less than wall time."""

    wall: float
    cpu: float
    inventory: AssemblyInventory


def app_command(script: str) -> str:
    """`script` run the way cdk.json runs app.py (the same interpreter and flags)."""
    command: str = json.loads((ROOT / "cdk.json").read_text())["app"]
    return command.replace("app.py", script)


def forget_reports_of_changed_stacks(assembly: Path) -> int:
    """Removes the kept reports of the templates of CHANGED_STACKS in `assembly` (a synth of this
    commit: two synths give byte-identical templates), so the next synth checks them again as it
    does after a change to those stacks. Returns how many templates that is."""
    from stacks import cloudformation_validation, control_tower  # after extra_region_app put the project on the path

    controls = control_tower.kept_reports(control_tower.REPORT_CACHE)
    validation = cloudformation_validation.kept_reports(cloudformation_validation.REPORT_CACHE)
    changed = 0
    for manifest in sorted(assembly.rglob("manifest.json")):
        for artifact in json.loads(manifest.read_text()).get("artifacts", {}).values():
            if (
                artifact.get("type") != "aws:cloudformation:stack"
                or CHANGED_STACKS not in artifact.get("displayName", "").rsplit("/", 1)[-1]
            ):
                continue
            template = str(manifest.parent / artifact["properties"]["templateFile"])
            account, region = artifact["environment"].removeprefix("aws://").split("/")
            for cache, key in (
                (controls, controls.key(template)),
                (validation, validation.key(template, account, region)),
            ):
                (cache.directory / f"{key}.json").unlink(missing_ok=True)
            changed += 1
    return changed


# How a synth finds the template checks' kept reports.
COLD, WARM, AFTER_A_CHANGE = "every template checked", "reports read back", "after a change"


def synth_once(
    app_command: str | None, kept: str = WARM, reference: Path | None = None, output: Path | None = None
) -> SynthRun:
    """One `cdk synth` of `app_command` (app.py by default), as `make synth` runs it, into `output` (a
    temporary directory if None). COLD empties the kept reports first (as the pipeline's synth step
    starts: stacks/report_cache.py); AFTER_A_CHANGE forgets those of the changed stacks' templates in
    the `reference` synth."""
    if kept == COLD:
        from stacks import (
            cloudformation_validation,
            control_tower,
        )  # after extra_region_app put the project on the path

        for cache in (control_tower.REPORT_CACHE, cloudformation_validation.REPORT_CACHE):
            shutil.rmtree(cache, ignore_errors=True)
    elif kept == AFTER_A_CHANGE:
        assert reference is not None, "a change is forgotten from a reference synth"
        forget_reports_of_changed_stacks(reference)
    with tempfile.TemporaryDirectory() as temporary:
        out = output or Path(temporary)
        args = ["synth", "--quiet", "--output", str(out)]
        if app_command:
            args += ["--app", app_command]
        cpu_before = children_cpu_seconds()
        wall = timed(cdk(*args))
        return SynthRun(wall, children_cpu_seconds() - cpu_before, assembly_inventory(out))


def interleaved_synths(
    apps: Mapping[str, tuple[str | None, str]], runs: int, reference: Path | None = None
) -> dict[str, list[SynthRun]]:
    """`runs` synths of each app (command, how it finds the kept reports), taken in turn, so that a
    machine that slows down slows them alike."""
    measured: dict[str, list[SynthRun]] = {name: [] for name in apps}
    for _ in range(runs):
        for name, (command, kept) in apps.items():
            measured[name].append(synth_once(command, kept, reference))
    return measured


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
    """Zipped size of lambda/ as CDK packages it (the excludes of stacks/components/folio_function.py)."""
    caches = {"__pycache__", ".mypy_cache", ".pytest_cache"}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted((ROOT / "lambda").rglob("*")):
            if path.is_file() and not caches & set(path.parts) and path.suffix != ".pyc":
                archive.write(path, path.relative_to(ROOT / "lambda"))
    return len(buffer.getvalue())


def function_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any AWS setting of the caller's, plus the function's (faked)
    and `extra` (DAX_ENDPOINT, for a DAX reader)."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    return {**inherited, **FUNCTION_ENVIRONMENT, **(extra or {}), "PYTHONDONTWRITEBYTECODE": "1"}


def top_level_import_microseconds(importtime_lines: list[str]) -> int:
    """The summed cumulative time of the top-level imports in `python -X importtime` output lines
    (a nested import is indented and already counted in its parent's cumulative time)."""
    fields = [line.split("|") for line in importtime_lines if line.startswith("import time:")]
    return sum(int(f[1]) for f in fields if not f[2].startswith("  "))


def import_microseconds(module: str, *, after: str = "", extra_environment: Mapping[str, str] | None = None) -> int:
    """Cold import time of `module` in a fresh interpreter (-X importtime): the summed cumulative time of
    every top-level import after a marker, so the interpreter's own start-up is left out. `after` names
    a module imported before the marker, untimed: `module`'s cost on top of it (amazondax after a handler)."""
    marker = "folio-bench-import-starts"
    prelude = f"import {after}; " if after else ""
    code = f"import sys; {prelude}sys.stderr.write({marker!r} + '\\n'); import {module}"
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=ROOT / "lambda", capture_output=True, text=True, check=True, env=function_environment(extra_environment),
    )  # fmt: skip
    return top_level_import_microseconds(result.stderr.split(marker, 1)[1].splitlines())


def network_at_import(module: str, extra_environment: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Connections or name lookups `module` attempts while it is imported (all refused)."""
    result = subprocess.run(
        [sys.executable, "-c", NETWORK_GUARD, module],
        cwd=ROOT / "lambda", capture_output=True, text=True, check=True, env=function_environment(extra_environment),
    )  # fmt: skip
    found: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return found


def measure_imports() -> dict[str, Any]:
    modules = [f"folio.handlers.{name}" for name in HANDLERS]
    missing = [m for m in modules if not (ROOT / "lambda" / (m.replace(".", "/") + ".py")).is_file()]
    if missing:
        raise SystemExit(f"benchmark: handler modules missing: {', '.join(missing)}")
    # The network check runs first: a module that fails to import without the network cannot be timed.
    network = {module: network_at_import(module) for module in modules}
    timed_modules = [m for m in modules if network[m]["error"] is None]
    # Rounds interleave boto3 and every handler, so a busy machine slows them alike; each ratio is the
    # median of the per-round ratios, each time the median of the rounds.
    samples: dict[str, list[int]] = {m: [] for m in ["boto3", *timed_modules]}
    for _ in range(IMPORT_RUNS):
        for module in samples:
            samples[module].append(import_microseconds(module))
    ratios = {
        m: statistics.median(t / b for t, b in zip(samples[m], samples["boto3"], strict=True)) for m in timed_modules
    }
    return {
        "cold_import_microseconds": {m: int(statistics.median(times)) for m, times in samples.items()},
        "import_ratio_to_boto3": {m: round(r, 2) for m, r in ratios.items()},
        "network_at_import": {m: found for m, found in network.items() if found["attempts"] or found["error"]},
    }


def measure_access_patterns() -> dict[str, Any]:
    import access_patterns  # benchmarks/ is this script's directory; imported here, as it loads boto3

    try:
        return access_patterns.measure_access_patterns()
    except access_patterns.EngineError as error:  # reported like a missed target: the other parts still run
        print(f"benchmark: access patterns not measured: {error}")
        return {"error": str(error)}


def measure_dax() -> dict[str, Any]:
    import dax_costs  # benchmarks/, as access_patterns; it loads boto3 and the fake DAX server

    try:
        return dax_costs.measure_dax(IMPORT_RUNS, code_asset_bytes=lambda_asset_bytes())
    except dax_costs.EngineError as error:
        print(f"benchmark: DAX not measured: {error}")
        return {"error": str(error)}


def measure_search() -> dict[str, Any]:
    import search_costs  # benchmarks/: the search client's import cost and the requests per search

    return search_costs.measure_search(IMPORT_RUNS)


def fresh_clone_synth() -> float:
    with tempfile.TemporaryDirectory() as clone:
        subprocess.run(["git", "clone", "--quiet", str(ROOT), clone], check=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "CDK_"))}
        env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if str(ROOT) not in p)
        return timed(["make", "synth"], cwd=Path(clone), env=env)


def seconds(runs: list[SynthRun]) -> dict[str, Any]:
    """Wall seconds of each run and their median (the figures the targets are about), and the CPU seconds'."""
    walls, cpus = [r.wall for r in runs], [r.cpu for r in runs]
    return {
        "runs": [round(t, 2) for t in walls],
        "median": round(statistics.median(walls), 2),
        "cpu_runs": [round(t, 2) for t in cpus],
        "cpu_median": round(statistics.median(cpus), 2),
    }


def spread(values: list[float]) -> float:
    return max(values) - min(values)


def regions_added_to_the_assembly(
    added: Mapping[str, str], before: AssemblyInventory, after: AssemblyInventory
) -> dict[str, str]:
    """Of the Regions extra_region_app.py added (one per environment), those whose environment the app
    synthesizes: its home Region is in `before`, and the added Region in `after` only."""
    from stacks.config import load_config  # after extra_region_app put the project on the path

    found = {}
    for name, region in added.items():
        config = load_config(name, cli_account=os.environ.get("CDK_DEFAULT_ACCOUNT"))
        synthesized = (config.account, config.region) in before.targets
        if synthesized and (config.account, region) in after.targets - before.targets:
            found[name] = region
    return found


def synth_apps() -> dict[str, tuple[str | None, str]]:
    """Each app `measure_synth` times: its command (None: app.py as cdk.json runs it) and how it finds
    the kept reports."""
    more_command = app_command("benchmarks/extra_region_app.py")
    return {
        "folio_every_template_checked": (None, COLD),
        "folio": (None, WARM),
        "folio_after_a_change": (None, AFTER_A_CHANGE),
        "folio_one_more_region_every_template_checked": (more_command, COLD),
        "folio_one_more_region": (more_command, WARM),
        "empty": (app_command("benchmarks/empty_app.py"), WARM),
    }


def measure_synth(runs: int) -> dict[str, Any]:
    """`make synth` of the whole app next to the empty app, and next to the same app with one more replica
    Region in every environment (benchmarks/extra_region_app.py): the time each Region adds. Each Folio app
    with the template checks' kept reports emptied first (every template checked, as the pipeline's synth
    step runs) and again (a developer's next `make synth`: every report read back); the app alone also
    after a change to its Api stacks (their templates checked again)."""
    import extra_region_app  # benchmarks/; it puts the project on the path

    from stacks import environments

    _, added = extra_region_app.one_more_replica_region(environments.ENVIRONMENTS)
    apps = synth_apps()
    with tempfile.TemporaryDirectory() as reference_directory:
        reference = Path(reference_directory)
        print("benchmark: warming up (one synth of each app, not counted; the app's is the reference for a change)")
        synth_once(None, WARM, output=reference)
        changed = forget_reports_of_changed_stacks(reference)
        interleaved_synths(apps, 1, reference)
        print(f"benchmark: {runs} synths of the app and of the app with one more Region (each with every template "
              f"checked, then with the reports read back), of the app after a change to its {changed} "
              f"{CHANGED_STACKS} templates, and of the empty app, in turn")  # fmt: skip
        measured = interleaved_synths(apps, runs, reference)
    times = {name: seconds(measured[name]) for name in apps}
    empty = times["empty"]
    before, after = measured["folio"][-1].inventory, measured["folio_one_more_region"][-1].inventory
    in_assembly = regions_added_to_the_assembly(added, before, after)
    ratio_max = TARGETS["synth_ratio_max"]
    assert isinstance(ratio_max, float)

    def with_one_more_region(folio: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
        count = len(in_assembly)
        per_region_wall = (more["median"] - folio["median"]) / count if count else None
        per_region_cpu = (more["cpu_median"] - folio["cpu_median"]) / count if count else None
        # The widest spread of either app's CPU runs: a per-Region figure within it is noise.
        cpu_spread = max(spread(folio["cpu_runs"]), spread(more["cpu_runs"]))
        # How many more Regions fit before the synth reaches the goal's multiple of the empty app, at the
        # CPU cost per Region (the steadier figure), scaled to wall time by this run's own wall/CPU ratio;
        # not estimated from a per-Region cost that the noise could hold.
        headroom = None
        if per_region_cpu is not None and per_region_cpu > cpu_spread:
            wall_per_cpu = folio["median"] / folio["cpu_median"]
            headroom = int((ratio_max * empty["median"] - folio["median"]) / (per_region_cpu * wall_per_cpu))
        return {
            "regions_added": in_assembly,
            "seconds": more,
            "seconds_per_extra_region": round(per_region_wall, 2) if per_region_wall is not None else None,
            "cpu_seconds_per_extra_region": round(per_region_cpu, 2) if per_region_cpu is not None else None,
            "cpu_spread_seconds": round(cpu_spread, 2),
            "regions_before_the_ratio_target": max(headroom, 0) if headroom is not None else None,
        }

    folio, checked = times["folio"], times["folio_every_template_checked"]
    return {
        "synth_seconds": folio,
        "empty_app_synth_seconds": empty,
        "synth_ratio": round(folio["median"] / empty["median"], 2),
        "synth_cpu_ratio": round(folio["cpu_median"] / empty["cpu_median"], 2),
        "synthesized": before.as_json(),
        "synth_one_more_region": {
            **with_one_more_region(folio, times["folio_one_more_region"]),
            "synthesized": after.as_json(),
        },
        "synth_after_a_change": {
            "changed_templates": changed,
            "stacks": CHANGED_STACKS,
            "seconds": times["folio_after_a_change"],
            "ratio": round(times["folio_after_a_change"]["median"] / empty["median"], 2),
            "cpu_ratio": round(times["folio_after_a_change"]["cpu_median"] / empty["cpu_median"], 2),
        },
        "synth_every_template_checked": {
            "seconds": checked,
            "ratio": round(checked["median"] / empty["median"], 2),
            "cpu_ratio": round(checked["cpu_median"] / empty["cpu_median"], 2),
            "one_more_region": with_one_more_region(checked, times["folio_one_more_region_every_template_checked"]),
        },
    }


def selected_parts(options: argparse.Namespace) -> list[str]:
    if options.only:
        parts = [p.strip() for p in options.only.split(",") if p.strip()]
        unknown = sorted(set(parts) - set(PARTS))
        if unknown:
            raise SystemExit(f"benchmark: unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
        return [p for p in PARTS if p in parts]
    parts = [p for p in DEFAULT_PARTS if not (p == "test" and options.skip_test)]
    return [*parts, "fresh-clone"] if options.fresh_clone else parts


def measure(parts: list[str], runs: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    if "synth" in parts:
        results.update(measure_synth(runs))
    if "resources" in parts:
        results["resources_per_stack"] = resource_counts()
    if "asset" in parts:
        results["lambda_asset_bytes"] = lambda_asset_bytes()
    if "imports" in parts:
        print(f"benchmark: cold imports of {len(HANDLERS)} handler modules and boto3 ({IMPORT_RUNS} runs each)")
        results.update(measure_imports())
    if "access-patterns" in parts:
        print("benchmark: access patterns AP1-AP9 on DynamoDB Local (seeding, then one run of each)")
        results["access_patterns"] = measure_access_patterns()
    if "dax" in parts:
        print(f"benchmark: DAX: the client layer, the readers' imports and first read ({IMPORT_RUNS} runs each), "
              "the requests of each cached read with DAX on, off and down")  # fmt: skip
        results["dax"] = measure_dax()
    if "search" in parts:
        print(f"benchmark: search: the client's import ({IMPORT_RUNS} runs each) and the requests per search page")
        results["search"] = measure_search()
    if "test" in parts:
        # The goal is for a warm run: the first fills this machine's caches (bytecode, and Control
        # Tower's reports of the session's templates, which the synth figures above emptied).
        print("benchmark: timing `make test` twice: the first run fills the caches, the second is the figure")
        timed_or_failure(results, "make_test_first_run_seconds", lambda: timed(["make", "test"]))
        timed_or_failure(results, "make_test_seconds", lambda: timed(["make", "test"]))
    if "fresh-clone" in parts:
        print("benchmark: timing `make synth` in a fresh clone, installs included")
        timed_or_failure(results, "fresh_clone_make_synth_seconds", fresh_clone_synth)
    return results


def summary(results: dict[str, Any], parts: list[str]) -> list[str]:
    """A short table of the figures this run measured, each next to its target."""
    lines = [f"{'figure':<44}{'measured':>14}{'target':>16}  met"]

    def row(figure: str, measured: Any, target: str, met: bool) -> None:
        lines.append(f"{figure:<44}{measured!s:>14}{target:>16}  {'yes' if met else 'NO'}")

    def at_most(figure: str, measured: float, target_key: str, unit: str = "") -> None:
        limit = TARGETS[target_key]
        assert isinstance(limit, int | float), f"{target_key} is not a number"
        row(figure, measured, f"<= {limit}{unit}", measured <= limit)

    if "synth" in parts:
        synthesized, more = results["synthesized"], results["synth_one_more_region"]
        folio, empty = results["synth_seconds"], results["empty_app_synth_seconds"]
        shape = f"{synthesized['stacks']} {synthesized['assemblies']} {len(synthesized['accounts_and_regions'])}"
        lines.append(f"{'synthesized: stacks, assemblies, account-Regions':<44}{shape:>14}")
        for label, key in (("wall", "median"), ("CPU", "cpu_median")):
            both = f"{folio[key]} {empty[key]}"
            lines.append(f"{f'synth, empty app (median {label} s)':<44}{both:>14}")
        at_most("synth / empty app (median wall s)", results["synth_ratio"], "synth_ratio_max", "x")
        lines.append(f"{'synth / empty app (median CPU s)':<44}{results['synth_cpu_ratio']:>14}")
        added = ", ".join(f"{name} +{region}" for name, region in more["regions_added"].items()) or "none"
        lines.append(f"{'  Regions added':<44}{added:>14}")

        def per_region_rows(label: str, more: dict[str, Any]) -> None:
            lines.append(f"{f'synth with one more Region{label} (median wall s)':<44}{more['seconds']['median']:>14}")
            per_region = f"{more['seconds_per_extra_region']} {more['cpu_seconds_per_extra_region']}"
            lines.append(f"{'  seconds per extra Region (wall, CPU)':<44}{per_region:>14}")
            lines.append(f"{'  spread of the CPU runs (s)':<44}{more['cpu_spread_seconds']:>14}")
            headroom = more["regions_before_the_ratio_target"]
            lines.append(f"{'  Regions more before the ratio target':<44}{headroom!s:>14}")

        per_region_rows("", more)
        change = results["synth_after_a_change"]
        lines.append(
            f"after a change to the {change['stacks']} stacks ({change['changed_templates']} templates checked again):"
        )
        both = f"{change['seconds']['median']} {change['seconds']['cpu_median']}"
        lines.append(f"{'  synth (median wall s, CPU s)':<44}{both:>14}")
        at_most("  synth / empty app (median wall s)", change["ratio"], "synth_ratio_max", "x")
        lines.append(f"{'  synth / empty app (median CPU s)':<44}{change['cpu_ratio']:>14}")
        checked = results["synth_every_template_checked"]
        lines.append("every template checked (no kept report, as the pipeline's synth step):")
        both = f"{checked['seconds']['median']} {checked['seconds']['cpu_median']}"
        lines.append(f"{'  synth (median wall s, CPU s)':<44}{both:>14}")
        at_most("  synth / empty app (median wall s)", checked["ratio"], "synth_ratio_max", "x")
        lines.append(f"{'  synth / empty app (median CPU s)':<44}{checked['cpu_ratio']:>14}")
        per_region_rows(", every template", checked["one_more_region"])
    if "asset" in parts:
        at_most("Lambda code asset (bytes, no layer)", results["lambda_asset_bytes"], "lambda_asset_bytes_max")
    if "imports" in parts:
        imports = results["cold_import_microseconds"]
        from dax_costs import DAX_READERS as dax_readers  # benchmarks/; the functions of stacks/read_path.py

        lines.append(f"{'import boto3 (us)':<44}{imports['boto3']:>14}")
        for module, ratio in results["import_ratio_to_boto3"].items():
            limit = TARGETS["import_ratio_to_boto3_max"]
            measured = f"{imports[module]} {ratio}x"
            if module in dax_readers:  # the goal is for the others; a DAX reader's figure is reported
                lines.append(f"{f'import {module} (us, x boto3)':<44}{measured:>14}{'DAX reader':>16}  -")
            else:
                row(f"import {module} (us, x boto3)", measured, f"<= {limit}x", ratio <= limit)
        for module, found in results["network_at_import"].items():
            lines.append(f"  network I/O while importing {module}: {found}")
    if "access-patterns" in parts and "error" in results["access_patterns"]:
        lines.append(f"access patterns not measured: {results['access_patterns']['error']}")
    elif "access-patterns" in parts:
        for name, ap in results["access_patterns"]["patterns"].items():
            # DynamoDB Local prices a transaction's equal-cost items once; when it charged
            # exactly its own count of the minimum writes, no write was wasted.
            local_minimum = not ap["at_minimum"] and ap["consumed_by_part"] == ap["minimum_as_dynamodb_local_counts"]
            shape_met = ap["requests"] == ap["requests_target"] and ap["scans"] == 0
            measured = f"{ap['requests']}r {ap['scans']}s {ap['consumed']['total']}u"
            target = f"{ap['requests_target']}r 0s {ap['minimum']}u"
            lines.append(
                f"{name + ' requests, scans, capacity units':<44}{measured:>14}{target:>16}  "
                + ("yes*" if shape_met and local_minimum else "yes" if shape_met and ap["at_minimum"] else "NO")
            )
        lines.append("  * DynamoDB Local under-counts transactions; it charged exactly its count of the minimum writes")
        lines.append("  (units: capacity consumed on DynamoDB Local vs the minimum; see each pattern's `note`)")
    if "dax" in parts and "error" in results["dax"]:
        lines.append(f"DAX not measured: {results['dax']['error']}")
    elif "dax" in parts:
        import dax_costs

        limit = TARGETS["lambda_asset_with_dax_layer_bytes_max"]
        assert isinstance(limit, int)
        lines += dax_costs.summary_rows(results["dax"], limit)
    if "search" in parts:
        client, searched = results["search"]["client_import"], results["search"]["requests"]
        for module, label in (("folio.search", "folio.search (chosen)"), ("opensearchpy", "opensearch-py")):
            lines.append(f"{'import ' + label + ' over the edge (ms)':<44}{client[module + '_after_the_edge_ms']:>14}")
        per_page = searched["engine_requests_per_page"]
        row("search engine requests per page", per_page, "1", per_page == TARGETS["search_engine_requests_per_page"])
        swept = results["search"]["sweep"]
        lines.append(f"{'sweep: engine requests per page of 100':<44}{swept['engine_requests_per_page']:>14}")
        lines.append(f"{'sweep: loopback seconds per page of 100':<44}{swept['loopback_seconds_per_page']:>14}")
    for key, failure in results.get("failures", {}).items():
        lines.append(f"{key}: not measured, {failure}")
    if "make_test_seconds" in results and "test" in parts:
        lines.append(f"{'make test, first run (s)':<44}{results.get('make_test_first_run_seconds')!s:>14}")
        at_most("make test, second run (s)", results["make_test_seconds"], "make_test_seconds_max")
    if "fresh_clone_make_synth_seconds" in results and "fresh-clone" in parts:
        at_most(
            "fresh-clone make synth (s)", results["fresh_clone_make_synth_seconds"], "fresh_clone_synth_seconds_max"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-test", action="store_true", help="do not time `make test`")
    parser.add_argument("--fresh-clone", action="store_true", help="also time `make synth` in a fresh clone")
    parser.add_argument("--only", metavar="PARTS", help=f"comma-separated parts to run alone: {','.join(PARTS)}")
    options = parser.parse_args()
    parts = selected_parts(options)

    measured = measure(parts, options.runs)
    commit = ""
    if shutil.which("git"):
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        commit = head.stdout.strip()
    machine = {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    if options.only:  # a partial run keeps the figures of the parts it did not measure
        results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
        results.update({"machine": machine, "targets": TARGETS, **measured})
    else:
        results = {"machine": machine, "targets": TARGETS, **measured, "commit": commit}
    results["measured_at"] = {**results.get("measured_at", {}), **dict.fromkeys(parts, commit)}

    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(measured, indent=2))
    print("\n".join(summary(measured, parts)))
    print(f"benchmark: written to {RESULTS.relative_to(ROOT)}" + (" (merged)" if options.only else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
