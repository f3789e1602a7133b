"""The DAX part of `make bench` (benchmarks/dax_costs.py) runs, with tiny inputs, on DynamoDB Local and
the fake DAX server, and reports figures of the shape benchmarks/results.json holds.

An untested benchmark once broke without anyone noticing; these tests keep this one running. They
assert shapes and request counts, never times: the timings are figures to report, not to test.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from folio import keys
from tests.conftest import PROJECT_ROOT
from tests.support.fake_dax import dynamodb_client

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
import dax_costs  # benchmarks/ is not a package: its directory is put on the path
import run

AP6 = "AP6 documents shared with me"
AP8 = "AP8 recent uploads"


@pytest.fixture(scope="module")
def requests_per_read(dynamodb_endpoint: str) -> dict[str, Any]:
    found: dict[str, Any] = dax_costs.measure_requests(dynamodb_endpoint, documents=4)
    return found


def test_every_cached_read_is_measured_on_each_path(requests_per_read: dict[str, Any]) -> None:
    reads = requests_per_read["reads"]

    assert set(reads) == set(dax_costs.CACHED_READS)
    for name, read in reads.items():
        on, off, down = read["dax_on"], read["dax_off"], read["dax_down"]
        assert on["dax_requests"] >= 1, name
        assert on["dynamodb_requests"] == 0, name
        assert on["dax_requests"] == off["dynamodb_requests"], name
        assert (down["dax_requests"], down["same_as_dax_off"], down["fallbacks"]) == (0, True, 1), name


def test_the_requests_are_the_ones_the_read_path_names(requests_per_read: dict[str, Any]) -> None:
    reads = requests_per_read["reads"]

    assert reads["find_share behind a grantee's download"]["dax_on"]["dax_requests_by_method"] == {"Query": 1}
    assert reads[AP6]["dax_on"]["dax_requests_by_method"] == {"Query": 1}
    assert reads[AP8]["dax_on"]["dax_requests_by_method"] == {"Query": keys.RECENT_SHARD_COUNT}


def test_the_first_breaker_opening_read_is_told_from_the_ones_it_short_cuts(
    requests_per_read: dict[str, Any],
) -> None:
    reasons = [read["dax_down"]["fallback_reasons"] for read in requests_per_read["reads"].values()]

    assert reasons[0] != ["breaker open"]  # the first read tried DAX and failed
    assert reasons[1:] == [["breaker open"]] * (len(reasons) - 1)


def test_the_first_read_figures_are_measured_over_dax_and_daxs(dynamodb_endpoint: str) -> None:
    found = dax_costs.measure_first_read(dynamodb_client(dynamodb_endpoint), runs=1)

    assert found["import_amazondax_microseconds"] > 0
    assert set(found["construct_client_milliseconds"]) == {"dax", "daxs"}
    assert all(ms > 0 for ms in found["construct_client_milliseconds"].values())


def test_a_dax_reader_imports_no_dax_client_at_import() -> None:
    assert dax_costs.amazondax_loaded_at_import("folio.handlers.download") == []


def test_the_layer_check_finds_a_bundled_sdk(tmp_path: Path) -> None:
    for module in ("amazondax/__init__.py", "six.py", "botocore/__init__.py", "botocore-1.44.8.dist-info/RECORD"):
        (tmp_path / "python" / module).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "python" / module).write_text("x = 1\n")

    contents = dax_costs.layer_contents(tmp_path)

    assert contents["bundles_aws_sdk"] == ["botocore"]
    assert contents["top_level"] == ["amazondax", "botocore", "six"]
    assert contents["files"] == 4
    assert contents["zipped_bytes"] > 0


def test_the_dax_readers_are_the_functions_of_the_read_path() -> None:
    assert dax_costs.DAX_READERS == ("folio.handlers.read", "folio.handlers.download", "folio.handlers.admin")


def test_dax_is_a_part_of_the_default_run_and_can_run_alone() -> None:
    assert "dax" in run.DEFAULT_PARTS
    assert run.selected_parts(run.argparse.Namespace(only="dax", skip_test=False, fresh_clone=False)) == ["dax"]


def test_the_summary_prints_each_cached_read(requests_per_read: dict[str, Any]) -> None:
    figures = {
        "layer": {"zipped_bytes": 300_000, "bundles_aws_sdk": []},
        "code_asset_with_layer_bytes": 340_000,
        "reader_imports": {
            "ratio_with_to_without_dax_endpoint": {"folio.handlers.read": 1.0},
            "amazondax_loaded_at_import": {"folio.handlers.read": []},
            "cold_import_microseconds": {"folio.handlers.read with DAX_ENDPOINT": 200_000},
        },
        "first_read": {"import_amazondax_microseconds": 50_000, "construct_client_milliseconds": {"dax": 9.0}},
        "requests": requests_per_read,
        "loopback_cannot_show": ["VPC round trips"],
    }

    lines = "\n".join(dax_costs.summary_rows(figures, 1_000_000))

    assert "NO" not in lines.split()
    for name in ("find_share", "AP6", "AP8"):
        assert f"{name} on/off/down requests" in lines
