"""`make bench`, DAX: what reading through DAX costs the functions that do, and the requests each cached read makes.

Measures (the `dax` section of benchmarks/results.json):
- the DAX client layer as Lambda gets it: built by `build_layer_content` of
  stacks/components/dax_client_layer.py (pip, for python3.14 on arm64) into a temporary directory and
  zipped as CDK zips an asset; its size, the shared code asset's, their sum (goal: under 1 MB), and
  whether it bundles botocore or boto3 (it must not: the client uses the runtime's);
- the cold import of each DAX reader (the functions of stacks/read_path.py) with DAX_ENDPOINT set, next
  to the same import without it and to bare boto3, in interleaved rounds (-X importtime, as run.py), and
  whether the import loads `amazondax` or touches the network: it should do neither, as the client is
  imported and built lazily, on the first read through DAX;
- that first read's extra cost, in a fresh interpreter that has imported the download handler:
  `import amazondax` on top of the handler's own imports (-X importtime) and the construction of the
  client by `wiring.connect_dax` (the runtime's own settings) against a FakeDax on loopback, over dax://
  and daxs:// (a throwaway CA trusted through SSL_CERT_FILE), median of the rounds;
- per cached read of docs/read-path.md (AP2 behind the owner's download, find_share behind a grantee's,
  AP6, AP8), through `wiring.cached_reads()` as the functions compose it, on DynamoDB Local: with DAX on,
  the DAX requests (the FakeDax's log) and the DynamoDB requests (a botocore hook on the function's
  client); with DAX off, the DynamoDB requests; with the FakeDax stopped, that the read is answered by
  DynamoDB with the same request count as with DAX off, and one `DaxFallbacks` metric per read (EMF).

What loopback cannot show (`LOOPBACK_CANNOT_SHOW`, also in the results): the round trips inside a VPC
(TCP and TLS handshakes, cluster discovery and the health-check threads' first calls take a network round
trip each, about a millisecond within an AZ, more across AZs); a real cluster's cache (the FakeDax caches
nothing: every DAX request here is a miss that the node forwards to DynamoDB, so DynamoDB's own count
behind DAX is the fake's, not the function's); how long a dead node holds a read (loopback refuses a
connection at once, a VPC lets it time out: wiring.DAX_CONNECT_TIMEOUT_SECONDS); Python 3.14 and arm64.

Run alone: `python benchmarks/run.py --only dax`.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import uuid
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "lambda", ROOT / "benchmarks"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import run  # noqa: E402 - benchmarks/run.py: the import timing and the function's environment

from folio.contracts import DEFAULT_LIMIT  # noqa: E402
from folio.settings import Env  # noqa: E402
from stacks.read_path import READS_THROUGH_DAX  # noqa: E402
from tests.integration.engines import EngineError  # noqa: E402
from tests.support import loopback  # noqa: E402
from tests.support.fake_dax import FakeDax, dynamodb_client  # noqa: E402
from tests.support.tls import make_tls_files  # noqa: E402

__all__ = ["DAX_READERS", "EngineError", "measure_dax", "summary_rows"]

DAX_READERS = tuple(f"folio.handlers.{group.value}" for group in READS_THROUGH_DAX)
FIRST_READ_HANDLER = "folio.handlers.download"  # a DAX reader (its find_share Query)
# What DAX_ENDPOINT holds in a deployed function (the cluster's discovery URL); at import nothing may use it.
DEPLOYED_ENDPOINT = "daxs://folio-bench.abc123.dax-clusters.us-east-1.amazonaws.com"
AWS_SDK = ("boto3", "botocore", "s3transfer")  # what the layer must leave to the runtime
LOOPBACK_CANNOT_SHOW = (
    "VPC round trips: the TCP and TLS handshakes, cluster discovery and each read cost a network round trip "
    "(about 1 ms within an AZ) that loopback does not",
    "a real cluster's cache: the FakeDax caches nothing, so every DAX request here is a miss it forwards to "
    "DynamoDB; the hit rate and DAX's own latency are unknown",
    "how long a dead node holds a read: loopback refuses the connection at once; in a VPC the client waits up "
    "to its connect timeout (wiring.DAX_CONNECT_TIMEOUT_SECONDS) before the breaker falls back",
    "Python 3.14 on arm64 (measured on this machine's Python and CPU)",
)
LAYER_BUILDER = (
    "import sys; from pathlib import Path; "
    "from stacks.components.dax_client_layer import build_layer_content; build_layer_content(Path(sys.argv[1]))"
)


# -- the layer --------------------------------------------------------------------------------------
def zipped_bytes(directory: Path) -> int:
    """The size of `directory` zipped as CDK zips an asset: every file, deflated, paths relative to it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(directory))
    return len(buffer.getvalue())


def layer_contents(directory: Path) -> dict[str, Any]:
    """Size and top-level packages of a built layer (`directory/python/...`)."""
    site = directory / "python"
    top_level = sorted({p.name.split("-")[0].removesuffix(".py") for p in site.iterdir()})
    files = [p for p in directory.rglob("*") if p.is_file()]
    return {
        "zipped_bytes": zipped_bytes(directory),
        "unzipped_bytes": sum(p.stat().st_size for p in files),
        "files": len(files),
        "top_level": top_level,
        "bundles_aws_sdk": sorted(n for n in top_level if n.lower() in AWS_SDK),
    }


def measure_layer() -> dict[str, Any]:
    """Build the DAX client layer with the synth's own builder (in a child process: it imports the CDK)."""
    environment = {**os.environ, "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1"}
    environment["PATH"] = os.pathsep.join([str(ROOT / ".venv" / "bin"), environment.get("PATH", "")])
    with tempfile.TemporaryDirectory(prefix="folio-bench-dax-layer-") as out:
        subprocess.run([sys.executable, "-c", LAYER_BUILDER, out], cwd=ROOT, env=environment, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
        return layer_contents(Path(out))


# -- imports and the first read -------------------------------------------------------------------------
LOADED_AT_IMPORT = """
import json, sys
__import__(sys.argv[1])
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "amazondax")))
"""


def amazondax_loaded_at_import(module: str) -> list[str]:
    """The amazondax modules that importing `module` (with DAX_ENDPOINT set) loads: none, if lazy."""
    result = subprocess.run(
        [sys.executable, "-c", LOADED_AT_IMPORT, module], cwd=ROOT / "lambda", capture_output=True, text=True,
        check=True, env=run.function_environment({Env.DAX_ENDPOINT: DEPLOYED_ENDPOINT}),
    )  # fmt: skip
    loaded: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


def measure_reader_imports(runs: int) -> dict[str, Any]:
    """Each DAX reader's cold import with and without DAX_ENDPOINT, next to bare boto3 in the same rounds."""
    with_dax = {Env.DAX_ENDPOINT: DEPLOYED_ENDPOINT}
    samples: dict[str, list[int]] = {"boto3": []}
    for module in DAX_READERS:
        samples[f"{module} without DAX_ENDPOINT"], samples[f"{module} with DAX_ENDPOINT"] = [], []
    for _ in range(runs):  # interleaved, so a busy machine slows every figure alike
        samples["boto3"].append(run.import_microseconds("boto3"))
        for module in DAX_READERS:
            samples[f"{module} without DAX_ENDPOINT"].append(run.import_microseconds(module))
            samples[f"{module} with DAX_ENDPOINT"].append(run.import_microseconds(module, extra_environment=with_dax))

    def ratio(over: str, under: str) -> float:
        return round(statistics.median(o / u for o, u in zip(samples[over], samples[under], strict=True)), 2)

    return {
        "runs": runs,
        "deployed_endpoint": DEPLOYED_ENDPOINT,
        "cold_import_microseconds": {name: int(statistics.median(times)) for name, times in samples.items()},
        "ratio_with_to_without_dax_endpoint": {
            m: ratio(f"{m} with DAX_ENDPOINT", f"{m} without DAX_ENDPOINT") for m in DAX_READERS
        },
        "import_ratio_to_boto3_with_dax_endpoint": {m: ratio(f"{m} with DAX_ENDPOINT", "boto3") for m in DAX_READERS},
        "amazondax_loaded_at_import": {m: amazondax_loaded_at_import(m) for m in DAX_READERS},
        "network_at_import": {
            m: found for m in DAX_READERS if (found := run.network_at_import(m, with_dax))["attempts"] or found["error"]
        },
    }


FIRST_READ = """
import json, sys, time
import {handler}
sys.stderr.write("folio-bench-amazondax-starts\\n")
started = time.perf_counter()
import amazondax
imported = time.perf_counter()
sys.stderr.write("folio-bench-amazondax-ends\\n")
from folio.handlers import wiring
started_construction = time.perf_counter()
client = wiring.connect_dax(wiring.settings().dax_endpoint)
constructed = time.perf_counter()
client.close()
print(json.dumps({{"import_wall_microseconds": int((imported - started) * 1e6),
                  "construction_milliseconds": (constructed - started_construction) * 1e3}}))
"""


def first_read(endpoint: str, ca_certificate: Path | None = None) -> dict[str, float]:
    """In a fresh interpreter that has imported the download handler: `import amazondax` (-X importtime,
    top-level imports summed) and `wiring.connect_dax(endpoint)` (wall time; it connects, discovers the
    cluster and starts its threads)."""
    extra = {Env.DAX_ENDPOINT: endpoint, **_test_credentials()}
    if ca_certificate is not None:
        extra["SSL_CERT_FILE"] = str(ca_certificate)
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", FIRST_READ.format(handler=FIRST_READ_HANDLER)],
        cwd=ROOT / "lambda", capture_output=True, text=True, check=False, env=run.function_environment(extra),
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"the first-read measurement failed: {result.stderr.strip().splitlines()[-1:]}")
    between = result.stderr.split("folio-bench-amazondax-starts", 1)[1].split("folio-bench-amazondax-ends", 1)[0]
    found: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    found["import_microseconds"] = run.top_level_import_microseconds(between.splitlines())
    return found


def _test_credentials() -> dict[str, str]:
    """The credentials the FakeDax verifies SigV4 against (and DynamoDB Local files its tables under)."""
    return {name: value for name, value in loopback.ENVIRONMENT.items() if name != "AWS_SESSION_TOKEN"}


def measure_first_read(dynamodb: Any, runs: int) -> dict[str, Any]:
    """`import amazondax` and the client's construction, median of `runs` fresh interpreters each, over
    dax:// and daxs:// (FakeDax with a throwaway CA), interleaved."""
    samples: dict[str, list[dict[str, float]]] = {"dax": [], "daxs": []}
    with tempfile.TemporaryDirectory(prefix="folio-bench-dax-tls-") as directory:
        tls = make_tls_files(Path(directory))
        with FakeDax(dynamodb) as plain, FakeDax(dynamodb, tls=tls) as encrypted:
            for _ in range(runs):
                samples["dax"].append(first_read(plain.endpoint_url))
                samples["daxs"].append(first_read(encrypted.endpoint_url, tls.ca_certificate))
    every = samples["dax"] + samples["daxs"]
    return {
        "runs": runs,
        "after_importing": FIRST_READ_HANDLER,
        "import_amazondax_microseconds": int(statistics.median(s["import_microseconds"] for s in every)),
        "import_amazondax_wall_microseconds": int(statistics.median(s["import_wall_microseconds"] for s in every)),
        "construct_client_milliseconds": {
            scheme: round(statistics.median(s["construction_milliseconds"] for s in found), 1)
            for scheme, found in samples.items()
        },
    }


# -- requests per cached read ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Seeded:
    owner: str
    grantee: str
    owned: str  # a document of the owner's
    shared: str  # a document of the owner's, shared with the grantee


def seed(client: Any, table: str, documents: int) -> Seeded:
    """An owner's available documents (one shared with a grantee) and other users' uploads, written
    through the real write adapter."""
    from access_patterns import new_document  # benchmarks/, as run.py is: realistic names, types, sizes

    from tests.support.dynamodb_documents import DynamoDbDocuments

    store = DynamoDbDocuments(client, table)
    rng = random.Random(documents)  # noqa: S311 - reproducible test data, not secrets
    owner, grantee = f"u-owner-{uuid.uuid4().hex[:8]}", f"u-grantee-{uuid.uuid4().hex[:8]}"
    ids = []
    for number in range(documents):
        document = new_document(rng, owner if number % 2 == 0 else f"u-other-{number}", number)
        store.create_document(document, max_documents=10_000, max_bytes=1 << 40)
        store.mark_available(document)
        if document["owner"] == owner:
            ids.append(document["docId"])
    store.put_share(store.get_document(owner, ids[-1]), grantee)
    return Seeded(owner, grantee, ids[0], ids[-1])


CACHED_READS: dict[str, tuple[str, Callable[[Any, Seeded], Any]]] = {
    "find_share behind a grantee's download": ("download", lambda r, s: r.find_share(s.grantee, s.shared)),
    "AP6 documents shared with me": ("read", lambda r, s: r.list_shared_with(s.grantee, DEFAULT_LIMIT)),
    "AP8 recent uploads": ("admin", lambda r, s: r.recent_uploads(DEFAULT_LIMIT)),
}


@contextlib.contextmanager
def container(environment: Mapping[str, str]) -> Iterator[Any]:
    """A fresh function container in this process: `environment` set, wiring's cold-start state
    forgotten before and after; yields the wiring module. Restores the process's environment."""
    from folio.handlers import wiring

    saved = dict(os.environ)
    os.environ.update(environment)

    def forget() -> None:
        for value in vars(wiring).values():
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()

    forget()
    try:
        yield wiring
    finally:
        forget()
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def kept_dax_clients(wiring: Any) -> Iterator[list[Any]]:
    """wiring.connect_dax as it is, keeping each client it builds, closed afterwards (each runs threads)."""
    clients: list[Any] = []
    connect = wiring.connect_dax

    def connect_and_keep(endpoint: str) -> Any:
        clients.append(connect(endpoint))
        return clients[-1]

    wiring.connect_dax = connect_and_keep
    try:
        yield clients
    finally:
        wiring.connect_dax = connect
        for client in clients:
            client.close()


def fallback_reasons(emitted: str) -> list[str]:
    """The `reason` of each `DaxFallbacks` metric in captured EMF output."""
    reasons = []
    for line in emitted.splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if isinstance(record, dict) and "DaxFallbacks" in record:
                reasons.append(str(record.get("reason")))
    return reasons


def measure_requests(endpoint: str, *, documents: int = 24) -> dict[str, Any]:
    """Requests per cached read with DAX on, off and down, through wiring.cached_reads() on
    DynamoDB Local at `endpoint` (its own table; the caller starts and stops the engine)."""
    from tests.integration.engines import create_documents_table
    from tests.support.dynamodb_requests import DynamoDBRequests

    table = f"folio-bench-dax-{uuid.uuid4().hex[:8]}"
    seeding = dynamodb_client(endpoint)
    create_documents_table(seeding, table)
    seeded = seed(seeding, table, documents)
    environment = {
        **run.FUNCTION_ENVIRONMENT, **_test_credentials(),
        "AWS_DEFAULT_REGION": loopback.REGION, "AWS_REGION": loopback.REGION,
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint, Env.TABLE_NAME: table,
    }  # fmt: skip
    environment.pop("AWS_SESSION_TOKEN", None)
    reads: dict[str, dict[str, Any]] = {
        name: {"function": function, "dax_on": {}, "dax_off": {}, "dax_down": {}}
        for name, (function, _) in CACHED_READS.items()
    }

    with FakeDax(dynamodb_client(endpoint)) as cluster:
        with container(environment) as wiring:  # DAX off: no DAX_ENDPOINT
            counted = DynamoDBRequests(wiring.dynamodb_client(), capacity=None)
            for name, (_, read) in CACHED_READS.items():
                counted.clear()
                read(wiring.cached_reads(), seeded)
                reads[name]["dax_off"] = {"dynamodb_requests": len(counted.requests)}
        with container({**environment, Env.DAX_ENDPOINT: cluster.endpoint_url}) as wiring:
            counted = DynamoDBRequests(wiring.dynamodb_client(), capacity=None)
            with kept_dax_clients(wiring):
                for name, (_, read) in CACHED_READS.items():  # DAX on
                    counted.clear()
                    cluster.clear()
                    read(wiring.cached_reads(), seeded)
                    served = Counter(r.method for r in cluster.data_requests())
                    reads[name]["dax_on"] = {
                        "dax_requests": sum(served.values()),
                        "dax_requests_by_method": dict(sorted(served.items())),
                        "dynamodb_requests": len(counted.requests),
                    }
                cluster.stop()  # DAX down: the first read opens the breaker, the others find it open
                for name, (_, read) in CACHED_READS.items():
                    counted.clear()
                    cluster.clear()
                    emitted = io.StringIO()
                    with contextlib.redirect_stdout(emitted):
                        read(wiring.cached_reads(), seeded)
                    reasons = fallback_reasons(emitted.getvalue())
                    reads[name]["dax_down"] = {
                        "dax_requests": len(cluster.data_requests()),
                        "dynamodb_requests": len(counted.requests),
                        "same_as_dax_off": len(counted.requests) == reads[name]["dax_off"]["dynamodb_requests"],
                        "fallbacks": len(reasons),
                        "fallback_reasons": reasons,
                    }
    return {
        "through": "folio.handlers.wiring.cached_reads() with and without DAX_ENDPOINT; "
        "DynamoDB requests counted by a botocore hook on the function's client, DAX requests from the "
        "FakeDax's log; dax_down: the FakeDax stopped after the dax_on reads, in the same container",
        "documents_seeded": documents,
        "reads": reads,
    }


def measure_dax(runs: int, *, code_asset_bytes: int) -> dict[str, Any]:
    """Every DAX figure: the layer, the readers' imports, the first read, the requests per cached read."""
    from tests.integration.engines import DynamoDBLocal, find_dynamodb_local_jar, java_available

    layer = measure_layer()
    results: dict[str, Any] = {
        "layer": layer,
        "code_asset_bytes": code_asset_bytes,
        "code_asset_with_layer_bytes": code_asset_bytes + layer["zipped_bytes"],
        "reader_imports": measure_reader_imports(runs),
        "loopback_cannot_show": list(LOOPBACK_CANNOT_SHOW),
    }
    jar = find_dynamodb_local_jar()
    if jar is None or not java_available():
        raise EngineError("DynamoDB Local or Java 17 is missing: run `make bench` (it installs both)")
    with DynamoDBLocal(jar) as endpoint:
        results["first_read"] = measure_first_read(dynamodb_client(endpoint), runs)
        results["requests"] = measure_requests(endpoint)
    return results


def summary_rows(dax: dict[str, Any], asset_max: int) -> list[str]:
    """The DAX lines of run.py's summary: (figure, measured, target, met) as printed rows."""
    rows: list[tuple[str, str, str, str]] = []
    layer = dax["layer"]
    total = dax["code_asset_with_layer_bytes"]
    rows.append(("DAX client layer (bytes zipped)", str(layer["zipped_bytes"]), "", ""))
    met = total <= asset_max
    rows.append(("code asset + DAX layer (bytes zipped)", str(total), f"<= {asset_max}", "yes" if met else "NO"))
    sdk = ",".join(layer["bundles_aws_sdk"]) or "none"
    rows.append(("DAX layer bundles boto3/botocore", sdk, "none", "yes" if sdk == "none" else "NO"))
    imports = dax["reader_imports"]
    for module, ratio in imports["ratio_with_to_without_dax_endpoint"].items():
        lazy = not imports["amazondax_loaded_at_import"][module]
        measured = f"{imports['cold_import_microseconds'][f'{module} with DAX_ENDPOINT']} {ratio}x"
        rows.append((f"import {module.rsplit('.', 1)[1]} w/ DAX_ENDPOINT (us, x w/o)", measured, "lazy client",
                     "yes" if lazy else "NO"))  # fmt: skip
    first = dax["first_read"]
    rows.append(("first DAX read: import amazondax (us)", str(first["import_amazondax_microseconds"]), "", ""))
    for scheme, milliseconds in first["construct_client_milliseconds"].items():
        rows.append((f"first DAX read: construct client {scheme}:// (ms)", str(milliseconds), "", ""))
    for name, read in dax["requests"]["reads"].items():
        on, off, down = read["dax_on"], read["dax_off"], read["dax_down"]
        measured = f"{on['dax_requests']}d+{on['dynamodb_requests']}/{off['dynamodb_requests']}/"
        measured += f"{down['dynamodb_requests']}+{down['fallbacks']}f"
        expected = off["dynamodb_requests"]  # run.py's access-pattern figures hold it to 1 (AP8: 1 per shard)
        target = f"{expected}d+0/{expected}/{expected}+1f"
        met = on["dax_requests"] == off["dynamodb_requests"] and on["dynamodb_requests"] == 0
        met = met and down["same_as_dax_off"] and down["fallbacks"] == 1
        rows.append((f"{name.split(' ', 1)[0]} on/off/down requests", measured, target, "yes" if met else "NO"))
    lines = [f"{figure:<44}{measured:>14}{target:>16}  {flag}" for figure, measured, target, flag in rows]
    lines.append("  (requests per read: on = DAX (d) + DynamoDB; off = DynamoDB; down (FakeDax stopped) = DynamoDB")
    lines.append("   + DaxFallbacks metrics (f). Every DAX request here is a miss: the fake forwards it to DynamoDB)")
    lines += [f"  loopback cannot show: {limit}" for limit in dax["loopback_cannot_show"]]
    return lines
