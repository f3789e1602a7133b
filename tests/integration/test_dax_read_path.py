"""The read path of docs/read-path.md, run through the unmodified DAX client.

The handlers run as deployed where DAX is on (DAX_ENDPOINT set): their hot reads go through
`amazondax` to a loopback DAX server (tests/support/fake_dax.py) in front of DynamoDB Local.
Proven here: which reads DAX serves, route by route (and that this is exactly what
stacks/read_path.py grants); that every read DAX serves is keyed by the caller's own partition
(or is the admin feed); that a rename, an unshare, a trash and a purge take effect at once
where the table says 0, even while a cache still holds the old answer; and that no request fails while DAX is down,
unreachable at cold start, hung, or back again.

What a fake cannot prove: DAX's own caching (the fake's `cache_seconds` is a model of a
write-around cache, not DAX's TTL bookkeeping or eviction), node failover, IAM evaluation of the
`dax:` actions (tests/integration/test_least_privilege.py compares the calls with the policies),
the real certificate chain, and anything about Python 3.14 (tests/aws has the deployed check).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

import folio.dax
from folio import keys
from folio.contracts import ROUTES, FunctionGroup
from folio.dax import FALLBACK_METRIC
from stacks.read_path import READS_THROUGH_DAX
from tests.integration.conftest import ADMINS, Api, Engines, new_user, reading_through
from tests.integration.test_api_behaviour import available
from tests.support.fake_dax import FakeDax, dynamodb_client
from tests.support.tls import make_tls_files

# The DAX reads each call makes, as (IAM action, index); () where the table sends it to DynamoDB.
GSI1, GSI2 = keys.GSI1.name, keys.GSI2.name
EXPECTED_THROUGH_DAX: dict[str, set[tuple[str, str | None]]] = {
    "owner creates": set(),
    "owner lists": set(),
    "owner lists by tag": set(),
    "owner lists by type": set(),
    "owner reads": set(),
    "owner renames": set(),
    "owner shares": set(),
    "grantee lists shared": {("dax:Query", GSI1)},
    "owner downloads": set(),
    "grantee downloads": {("dax:Query", GSI1)},
    "owner reads usage": set(),
    "admin reads the feed": {("dax:Query", GSI2)},
    "owner unshares": set(),
    "owner trashes": set(),
    "owner lists trash": set(),
    "owner restores": set(),
    "owner searches": set(),  # the search index, never the table
}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class People:
    def __init__(self, api: Api, engines: Engines) -> None:
        self.api = api
        self.owner, self.grantee, self.admin = new_user(), new_user(), new_user()
        self.document = available(api, engines, self.owner, name="before.pdf", tags=["hot"])
        self.id = self.document["id"]

    def share(self) -> None:
        assert self.call("modify", "PUT", f"/documents/{self.id}/shares/{self.grantee}").status == 200

    def call(self, group: str, method: str, path: str, *, who: str = "owner", **event: Any) -> Any:
        sub = {"owner": self.owner, "grantee": self.grantee, "admin": self.admin}[who]
        groups = (ADMINS,) if who == "admin" else ()
        return self.api.call(group, method, path, sub=sub, groups=groups, **event)

    def shared_names(self) -> list[str]:
        reply = self.call("read", "GET", "/shared", who="grantee")
        assert reply.status == 200, reply.body
        return [item["name"] for item in reply.body["items"]]


def route_of(method: str, path: str) -> tuple[str, str]:
    [route] = [r for r in ROUTES if r.method == method and re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", r.path), path)]
    return route.method, route.path


def own_partitions(caller: str) -> set[str]:
    return {keys.user_partition(caller), keys.grantee_partition(caller)}


# -- which reads DAX serves -------------------------------------------------------------------------


def test_dax_serves_exactly_the_reads_the_read_path_table_lists(
    api: Api, engines: Engines, dax_cluster: FakeDax
) -> None:
    with reading_through(dax_cluster):
        people = People(api, engines)
        doc = f"/documents/{people.id}"
        calls: list[tuple[str, str, str, str, str, dict[str, Any]]] = [
            ("owner creates", "create", "POST", "/documents", "owner",
             {"body": {"name": "n.pdf", "contentType": "application/pdf", "size": 3}}),
            ("owner lists", "read", "GET", "/documents", "owner", {}),
            ("owner lists by tag", "read", "GET", "/documents", "owner", {"query": {"tag": "hot"}}),
            ("owner lists by type", "read", "GET", "/documents", "owner", {"query": {"type": "pdf"}}),
            ("owner reads", "read", "GET", doc, "owner", {}),
            ("owner renames", "modify", "PATCH", doc, "owner",
             {"body": {"name": "after.pdf"}, "headers": {"If-Match": f'"{people.document["version"] + 1}"'}}),
            ("owner shares", "modify", "PUT", f"{doc}/shares/{people.grantee}", "owner", {}),
            ("grantee lists shared", "read", "GET", "/shared", "grantee", {}),
            ("owner downloads", "download", "GET", f"{doc}/download", "owner", {}),
            ("grantee downloads", "download", "GET", f"{doc}/download", "grantee", {}),
            ("owner reads usage", "read", "GET", "/me/usage", "owner", {}),
            ("admin reads the feed", "admin", "GET", "/admin/recent", "admin", {}),
            ("owner unshares", "modify", "DELETE", f"{doc}/shares/{people.grantee}", "owner", {}),
            ("owner trashes", "modify", "DELETE", doc, "owner", {}),
            ("owner lists trash", "read", "GET", "/trash", "owner", {}),
            ("owner restores", "modify", "POST", f"{doc}/restore", "owner", {}),
            ("owner searches", "search", "GET", "/search", "owner", {"query": {"scope": "all"}}),
        ]  # fmt: skip
        served: dict[str, set[tuple[str, str | None]]] = {}
        by_group: dict[str, set[tuple[str, str | None]]] = {}
        routes = set()
        for label, group, method, path, who, event in calls:
            dax_cluster.clear()
            reply = people.call(group, method, path, who=who, **event)
            assert reply.status < 300, (label, reply.status, reply.body)
            requests = dax_cluster.data_requests()
            served[label] = {(r.action or "", r.index) for r in requests}
            by_group.setdefault(group, set()).update(served[label])
            routes.add(route_of(method, path))
            # Through DAX only the cluster's role applies: the code alone keeps callers apart.
            caller = {"owner": people.owner, "grantee": people.grantee, "admin": people.admin}[who]
            for request in requests:
                if request.index != GSI2:
                    assert set(request.partitions) <= own_partitions(caller), (label, request)

    assert served == EXPECTED_THROUGH_DAX
    assert routes == {(r.method, r.path) for r in ROUTES}, "every route ran"
    granted = {
        group.value: {(read.dax_action, read.index.name if read.index else None) for read in reads}
        for group, reads in READS_THROUGH_DAX.items()
    }
    for group in FunctionGroup:
        assert by_group.get(group.value, set()) == granted.get(group.value, set()), group


# -- staleness: only where the table allows it ----------------------------------------------------


@pytest.fixture
def caching_cluster(engines: Engines, dynamodb_endpoint: str) -> Iterator[tuple[FakeDax, Clock]]:
    """A DAX server that keeps each answer for 5 s (of a clock the test moves): a write that goes
    straight to DynamoDB, as every Folio write does, is unseen through it until then."""
    clock = Clock()
    with FakeDax(dynamodb_client(dynamodb_endpoint), cache_seconds=5, clock=clock) as cluster:
        yield cluster, clock


def test_a_rename_is_seen_at_once_by_its_owner_while_the_shared_list_may_lag_one_ttl(
    api: Api, engines: Engines, caching_cluster: tuple[FakeDax, Clock]
) -> None:
    cluster, clock = caching_cluster
    with reading_through(cluster):
        # Given a shared document the grantee has listed (DAX now holds that answer)
        people = People(api, engines)
        people.share()
        assert people.shared_names() == ["before.pdf"]

        # When the owner renames it
        version = people.call("read", "GET", f"/documents/{people.id}").body["version"]
        renamed = people.call(
            "modify",
            "PATCH",
            f"/documents/{people.id}",
            body={"name": "after.pdf"},
            headers={"If-Match": f'"{version}"'},
        )
        assert renamed.status == 200, renamed.body

        # Then the owner's reads (the table's "0") see it at once
        assert people.call("read", "GET", f"/documents/{people.id}").body["name"] == "after.pdf"
        listed = people.call("read", "GET", "/documents").body["items"]
        assert [d["name"] for d in listed if d["id"] == people.id] == ["after.pdf"]
        # ... while the grantee's list (through DAX) may show the old name, for at most the TTL
        assert people.shared_names() == ["before.pdf"]
        clock.now += 5
        assert people.shared_names() == ["after.pdf"]


def test_an_unshare_locks_the_grantee_out_at_once_while_dax_still_lists_the_share(
    api: Api, engines: Engines, caching_cluster: tuple[FakeDax, Clock]
) -> None:
    cluster, _ = caching_cluster
    with reading_through(cluster):
        # Given a grantee who downloaded (DAX holds the share that located the owner)
        people = People(api, engines)
        people.share()
        assert people.call("download", "GET", f"/documents/{people.id}/download", who="grantee").status == 200
        assert people.shared_names() == ["before.pdf"]

        # When the owner stops sharing
        assert people.call("modify", "DELETE", f"/documents/{people.id}/shares/{people.grantee}").status == 204

        # Then DAX still lists the share, but the download is refused at once: the strongly
        # read document's grantee set decides, not the cached share
        assert people.shared_names() == ["before.pdf"]
        refused = people.call("download", "GET", f"/documents/{people.id}/download", who="grantee")
        assert refused.status == 404, refused.body


@pytest.mark.parametrize("removal", ["trash", "purge"])
def test_a_trash_or_purge_ends_the_owners_downloads_at_once(
    api: Api, engines: Engines, caching_cluster: tuple[FakeDax, Clock], removal: str
) -> None:
    cluster, _ = caching_cluster
    with reading_through(cluster):
        # Given an owner who downloaded, and a grantee whose share DAX holds
        people = People(api, engines)
        people.share()
        assert people.call("download", "GET", f"/documents/{people.id}/download").status == 200
        assert people.call("download", "GET", f"/documents/{people.id}/download", who="grantee").status == 200

        # When the owner trashes or purges the document
        query = {"purge": "true"} if removal == "purge" else None
        assert people.call("modify", "DELETE", f"/documents/{people.id}", query=query).status == 204

        # Then nobody gets a URL for it any more, not even within the cache's TTL
        for who in ("owner", "grantee"):
            reply = people.call("download", "GET", f"/documents/{people.id}/download", who=who)
            assert reply.status == 404, (who, reply.body)


# -- when DAX fails -----------------------------------------------------------------------------------


def fallbacks(output: str) -> list[dict[str, Any]]:
    """The DaxFallbacks data points a run printed (EMF, one JSON object per line)."""
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{") and FALLBACK_METRIC in line]
    return [r for r in records if FALLBACK_METRIC in r]


@pytest.fixture
def metrics_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engines switch Powertools metrics off for the other tests; these count fallbacks."""
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", folio.dax.METRICS_NAMESPACE)


@pytest.fixture
def short_cool_down(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(folio.dax, "COOL_DOWN_SECONDS", 0.5)
    return 0.5


def test_a_node_that_goes_away_and_comes_back_never_fails_a_request(
    api: Api,
    engines: Engines,
    dynamodb_endpoint: str,
    metrics_on: None,
    short_cool_down: float,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with FakeDax(dynamodb_client(dynamodb_endpoint)) as cluster, reading_through(cluster, fallbacks_expected=True):
        people = People(api, engines)
        people.share()
        assert people.shared_names() == ["before.pdf"]
        assert cluster.data_requests(), "DAX served the first read"

        # When the node goes away, every read is answered by DynamoDB and counted
        cluster.stop()
        capsys.readouterr()
        assert people.shared_names() == ["before.pdf"]
        assert people.shared_names() == ["before.pdf"]
        counted = fallbacks(capsys.readouterr().out)
        assert [r["operation"] for r in counted] == ["list_shared_with", "list_shared_with"]
        assert counted[0]["reason"] != "breaker open" and counted[1]["reason"] == "breaker open"

        # And when it is back, a read after the cool-down finds it again (the client notices a
        # returned node at its next health check, within about 5 s)
        cluster.clear()
        cluster.start()
        deadline = time.monotonic() + 15
        while not cluster.data_requests() and time.monotonic() < deadline:
            time.sleep(short_cool_down)
            assert people.shared_names() == ["before.pdf"]
        assert cluster.data_requests(), "DAX was not used again within 15 s of coming back"


def test_a_cluster_unreachable_at_cold_start_costs_no_request(
    api: Api, engines: Engines, dynamodb_endpoint: str, metrics_on: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a DAX_ENDPOINT where nothing answers (a node that was there and went away)
    with FakeDax(dynamodb_client(dynamodb_endpoint)) as cluster:
        cluster.stop()
        with reading_through(cluster, fallbacks_expected=True):
            people = People(api, engines)
            people.share()
            capsys.readouterr()

            # Then the readers' routes answer from DynamoDB
            assert people.shared_names() == ["before.pdf"]
            for who in ("owner", "grantee"):
                reply = people.call("download", "GET", f"/documents/{people.id}/download", who=who)
                assert reply.status == 200, reply.body
            assert people.call("admin", "GET", "/admin/recent", who="admin").status == 200
            reasons = {r["reason"] for r in fallbacks(capsys.readouterr().out)}
            assert "DaxClientError" in reasons, reasons  # the client's NoRouteException at construction


def test_a_hung_node_costs_one_read_timeout_then_reads_skip_it(
    api: Api, engines: Engines, dynamodb_endpoint: str, metrics_on: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeDax(dynamodb_client(dynamodb_endpoint)) as cluster, reading_through(cluster, fallbacks_expected=True):
        people = People(api, engines)
        people.share()
        assert people.shared_names() == ["before.pdf"]
        cluster.hang()
        try:
            capsys.readouterr()
            assert people.shared_names() == ["before.pdf"]
            assert people.shared_names() == ["before.pdf"]
            reasons = [r["reason"] for r in fallbacks(capsys.readouterr().out)]
            assert reasons[0] != "breaker open" and reasons[1:] == ["breaker open"], reasons
        finally:
            cluster.resume()


def test_the_readers_reach_a_tls_endpoint_as_deployed(
    api: Api,
    engines: Engines,
    dynamodb_endpoint: str,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a daxs:// endpoint (DaxCache makes TLS the only way in) with a CA the test trusts
    tls = make_tls_files(tmp_path_factory.mktemp("dax-tls"))
    monkeypatch.setenv("SSL_CERT_FILE", str(tls.ca_certificate))
    with FakeDax(dynamodb_client(dynamodb_endpoint), tls=tls) as cluster, reading_through(cluster):
        assert cluster.endpoint_url.startswith("daxs://")
        people = People(api, engines)
        people.share()

        # Then the hot read went through DAX over TLS
        assert people.shared_names() == ["before.pdf"]
        assert {r.action for r in cluster.data_requests()} == {"dax:Query"}
