"""`make bench`, search: what the search client costs the search function's cold start, and the
requests one search makes.

Measures (the `search` section of benchmarks/results.json):
- the client choice: `folio.search` (botocore's SigV4 signer over urllib3, both in the runtime)
  imported on top of what every API function imports (folio.handlers.http, which loads boto3), next to
  opensearch-py (`opensearchpy`) on top of the same, median of interleaved rounds (-X importtime, as
  run.py); the search handler's whole cold import is in the `imports` section with the others';
- per search page, on the search engine of the tests (osmem-server on loopback, the documents index
  from the template, 25 documents of one user): the engine requests (a counting urllib3 pool under
  folio.search.OpenSearchDocuments) and the cursor-secret reads (a counting secret reader), paging
  through with limit 10 (three pages).

What loopback cannot show: the domain's latency inside the VPC and TLS; the real engine's query cost;
the secret read is once per container (wiring.cursor_secret is cached), counted here per service.

- the index sweep (folio.search_sweep) on the same engine: SWEEP_ENTRIES entries, one in ten of a
  document the table no longer has; the engine requests per page of 100 and the seconds per page on
  loopback. The table's check is an in-memory stand-in here, so its BatchGetItem (one per page) is
  counted, not timed.

Run alone: `python benchmarks/run.py --only search`.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "lambda", ROOT / "benchmarks"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import run  # noqa: E402 - benchmarks/run.py: the import timing and the function's environment
import urllib3  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402

from folio import keys, search_index  # noqa: E402
from folio.requests import SearchQuery  # noqa: E402
from folio.search import OpenSearchDocuments  # noqa: E402
from folio.search_service import SearchService  # noqa: E402
from folio.service import Caller  # noqa: E402

DOCUMENTS, PAGE = 25, 10
SWEEP_ENTRIES, GONE_EVERY = 2_000, 10
EDGE = "folio.handlers.http"


class CountingPool(urllib3.PoolManager):
    def __init__(self) -> None:
        super().__init__()
        self.requests = 0

    def request(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self.requests += 1
        return super().request(*args, **kwargs)


def client_imports(runs: int) -> dict[str, Any]:
    samples: dict[str, list[int]] = {"folio.search": [], "opensearchpy": []}
    for _ in range(runs):
        for module in samples:
            samples[module].append(run.import_microseconds(module, after=EDGE))
    return {
        f"{module}_after_the_edge_ms": round(statistics.median(times) / 1000, 1) for module, times in samples.items()
    }


def requests_per_page() -> dict[str, Any]:
    from osmem_server import OsmemServer

    from tests.support.search_engine import SearchEngine

    with OsmemServer.start(freeze=False, japanese=False) as server:
        engine = SearchEngine(server.url)
        engine.apply_template()
        engine.recreate_index()
        for n in range(DOCUMENTS):
            doc_id = f"doc{n:03d}"
            body = {"docId": doc_id, "owner": "bench", "name": f"invoice {n}.pdf", "contentType": "application/pdf",
                    "size": 1, "status": "AVAILABLE", "tags": [], "version": 1,
                    "createdAt": "2026-11-01T00:00:00.000Z", "updatedAt": f"2026-11-01T00:00:{n:02d}.000Z"}  # fmt: skip
            index_id = search_index.document_id(keys.user_partition("bench"), keys.document_sort_key(doc_id))
            engine.ok("PUT", f"/documents/_doc/{index_id.replace('#', '%23').replace('|', '%7C')}", body)
        engine.refresh()
        pool, secret_reads = CountingPool(), [0]

        def secret() -> bytes:
            secret_reads[0] += 1
            return b"bench" * 8

        credentials = Credentials("bench", "bench", "bench")
        adapter = OpenSearchDocuments(server.url, region="us-east-1", credentials=lambda: credentials, http=pool)
        # The table's check of each page (one BatchGetItem) is not counted here: every hit is
        # this caller's and current, as the table would say (tests/unit/test_search.py checks it).
        service = SearchService(adapter, secret, _AllCurrent())
        caller, cursor, pages, hits = Caller("bench", frozenset()), None, 0, 0
        while True:
            query = {"q": "invoice", "limit": str(PAGE), **({"cursor": cursor} if cursor else {})}
            body = service.search(caller, SearchQuery.parse(query))
            pages, hits = pages + 1, hits + len(body["items"])
            cursor = body.get("cursor")
            if cursor is None:
                break
    return {
        "documents": DOCUMENTS,
        "page_size": PAGE,
        "pages": pages,
        "hits": hits,
        "engine_requests_per_page": round(pool.requests / pages, 2),
        "cursor_secret_reads": secret_reads[0],
        "note": "secret reads counted per call here; wiring.cursor_secret reads it once per container",
    }


def sweep_costs() -> dict[str, Any]:
    import time

    from osmem_server import OsmemServer

    from folio import search_sweep
    from tests.support.search_engine import SearchEngine

    with OsmemServer.start(freeze=False, japanese=False) as server:
        engine = SearchEngine(server.url)
        engine.apply_template()
        engine.recreate_index()
        entries = []
        for n in range(SWEEP_ENTRIES):
            doc_id = f"doc{n:05d}"
            index_id = search_index.document_id(keys.user_partition("bench"), keys.document_sort_key(doc_id))
            source = {"docId": doc_id, "owner": "bench", "name": f"n{n}.pdf", "status": "AVAILABLE", "tags": []}
            entries += [{"index": {"_index": search_index.INDEX_NAME, "_id": index_id}}, source]
        engine.bulk(entries)
        engine.refresh()
        gone = {("bench", f"doc{n:05d}") for n in range(0, SWEEP_ENTRIES, GONE_EVERY)}
        pool, batch_reads = CountingPool(), [0]

        def current_documents(documents: Any) -> dict[tuple[str, str], Any]:
            batch_reads[0] += 1
            return {key: {} for key in documents if key not in gone}

        credentials = Credentials("bench", "bench", "bench")
        index = search_sweep.OpenSearchIndexEntries(
            server.url, region="us-east-1", credentials=lambda: credentials, seconds_left=lambda: 600.0, http=pool
        )
        started = time.perf_counter()
        report = search_sweep.sweep(index, current_documents, lambda: 600.0)
        seconds = time.perf_counter() - started
    pages = batch_reads[0]
    return {
        "entries": SWEEP_ENTRIES,
        "deleted": report.deleted,
        "complete": report.complete,
        "pages": pages,
        "engine_requests_per_page": round(pool.requests / pages, 2),
        "batch_get_items_per_page": round(batch_reads[0] / pages, 2),
        "loopback_seconds_per_page": round(seconds / pages, 4),
        "note": "engine side on loopback only; each page's BatchGetItem is counted, not timed",
    }


def measure_search(runs: int) -> dict[str, Any]:
    return {"client_import": client_imports(runs), "requests": requests_per_page(), "sweep": sweep_costs()}


class _AllCurrent:
    """A DocumentAuthority that vouches for every hit (the bench's documents are the caller's)."""

    def current_documents(self, documents: Any) -> dict[tuple[str, str], dict[str, Any]]:
        return {key: {"owner": key[0], "docId": key[1], "status": "AVAILABLE"} for key in documents}
