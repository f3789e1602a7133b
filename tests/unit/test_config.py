"""Config validation: every bad value fails with one line naming key, value and what is allowed."""

from __future__ import annotations

import ast
import copy
import dataclasses
import json
import os
import subprocess
import sys
from typing import Any

import pytest

from stacks.config import (
    DAX_TTL_MS_RANGE,
    PLACEHOLDER_ACCOUNT,
    ConfigError,
    FolioConfig,
    load_config,
    load_pipeline_config,
    load_pipeline_environments,
    parse_config,
    parse_pipeline_config,
)
from stacks.environments import ENVIRONMENTS, PIPELINE
from tests.conftest import PROJECT_ROOT


def sandbox_with(**changes: Any) -> dict[str, Any]:
    """The sandbox settings with some keys replaced; `section__key` reaches into a section."""
    raw = copy.deepcopy(ENVIRONMENTS["sandbox"])
    for name, value in changes.items():
        if "__" in name:
            section, key = name.split("__")
            raw[section][key] = value
        else:
            raw[name] = value
    return raw


def rejected(raw: dict[str, Any], *, environment: str = "sandbox") -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse_config(environment, raw)
    message = str(caught.value)
    assert "\n" not in message, "a config error is one line"
    return caught.value


@pytest.mark.parametrize("environment", ["sandbox", "dev", "prod"])
def test_every_shipped_environment_is_valid(environment: str) -> None:
    config = load_config(environment)

    assert config.name == environment
    assert config.region not in config.replica_regions


def test_unknown_environment_names_the_choices() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config("staging")

    assert caught.value.key == "env"
    assert str(caught.value).endswith("allowed: one of dev, prod, sandbox")


@pytest.mark.parametrize("account", ["12345", "12345678901a", "1234567890123", 123456789012])
def test_malformed_account_is_rejected(account: object) -> None:
    error = rejected(sandbox_with(account=account))

    assert error.key == "account"
    assert error.value == account
    assert "12-digit" in error.allowed


def test_open_account_comes_from_the_cli_or_falls_back_to_the_placeholder() -> None:
    assert load_config("sandbox", cli_account="999988887777").account == "999988887777"
    assert load_config("sandbox").account == PLACEHOLDER_ACCOUNT
    assert load_config("prod", cli_account="999988887777").account == "222222222222"


def test_replica_equal_to_home_region_is_rejected() -> None:
    error = rejected(sandbox_with(replica_regions=["us-east-1"]))

    assert error.key == "replica_regions[0]"
    assert error.value == "us-east-1"
    assert "other than the home Region us-east-1" in error.allowed


def test_repeated_replica_is_rejected() -> None:
    error = rejected(sandbox_with(replica_regions=["us-west-2", "eu-west-1", "us-west-2"]))

    assert error.key == "replica_regions[2]"
    assert error.allowed == "each replica Region once"


def test_unknown_region_is_rejected() -> None:
    error = rejected(sandbox_with(region="us-middle-1"))

    assert error.key == "region"
    assert "commercial AWS Region" in error.allowed


def test_home_region_without_opensearch_ingestion_is_rejected_when_search_is_on() -> None:
    raw = sandbox_with(region="ca-west-1", replica_regions=["us-west-2"])
    raw["features"]["search"] = True

    error = rejected(raw)

    assert error.key == "region"
    assert "OPENSEARCH_INGESTION" in error.allowed


def test_replica_region_without_dax_is_rejected_when_dax_is_on() -> None:
    raw = sandbox_with(replica_regions=["ca-central-1"])
    raw["features"]["dax"] = True

    error = rejected(raw)

    assert error.key == "replica_regions[0]"
    assert error.value == "ca-central-1"
    assert "DAX" in error.allowed


def test_region_without_dax_is_fine_when_dax_is_off() -> None:
    config = parse_config("sandbox", sandbox_with(replica_regions=["ca-central-1"]))

    assert config.replica_regions == ("ca-central-1",)


@pytest.mark.parametrize(
    ("change", "key", "value"),
    [
        ({"sizing__dax_nodes": 0}, "sizing.dax_nodes", 0),
        ({"sizing__dax_nodes": 11}, "sizing.dax_nodes", 11),
        ({"sizing__lambda_memory_mb": 64}, "sizing.lambda_memory_mb", 64),
        ({"sizing__search_instances": True}, "sizing.search_instances", True),
        ({"billing__max_read_request_units": 0}, "billing.max_read_request_units", 0),
        ({"billing__max_write_request_units": 50_000}, "billing.max_write_request_units", 50_000),
        ({"backup__daily_retention_days": 0}, "backup.daily_retention_days", 0),
        # 0 would mean "never expires" to DAX: a cached item would outlive any write.
        ({"sizing__dax_record_ttl_ms": 0}, "sizing.dax_record_ttl_ms", 0),
        ({"sizing__dax_query_ttl_ms": 0}, "sizing.dax_query_ttl_ms", 0),
        ({"sizing__dax_record_ttl_ms": 3_600_000}, "sizing.dax_record_ttl_ms", 3_600_000),
        ({"sizing__dax_query_ttl_ms": "5000"}, "sizing.dax_query_ttl_ms", "5000"),
    ],
)
def test_sizes_out_of_range_are_rejected(change: dict[str, Any], key: str, value: object) -> None:
    error = rejected(sandbox_with(**change))

    assert error.key == key
    assert error.value == value
    assert error.allowed.startswith("a whole number from ")


def test_weekly_retention_shorter_than_daily_is_rejected() -> None:
    error = rejected(sandbox_with(backup__daily_retention_days=30, backup__weekly_retention_days=7))

    assert error.key == "backup.weekly_retention_days"


def test_copy_region_equal_to_home_is_rejected() -> None:
    error = rejected(sandbox_with(backup__copy_region="us-east-1"))

    assert error.key == "backup.copy_region"


def test_unknown_table_class_lists_the_classes() -> None:
    error = rejected(sandbox_with(table_class="GLACIER"))

    assert error.key == "table_class"
    assert error.allowed == "one of STANDARD, STANDARD_INFREQUENT_ACCESS"


@pytest.mark.parametrize("origin", ["*", "http://folio.example.com", "https://folio.example.com/app"])
def test_cors_origin_must_be_an_exact_https_origin(origin: str) -> None:
    error = rejected(sandbox_with(cors_origins=[origin]))

    assert error.key == "cors_origins[0]"


def test_misspelled_key_is_named() -> None:
    raw = sandbox_with()
    raw["features"]["dacs"] = True

    error = rejected(raw)

    assert error.key == "features.dacs"
    assert "known keys:" in error.allowed


def test_missing_key_is_named() -> None:
    raw = sandbox_with()
    del raw["alarm_email"]

    error = rejected(raw)

    assert error.key == "alarm_email"


def test_config_is_frozen() -> None:
    config = load_config("sandbox")

    with pytest.raises(dataclasses.FrozenInstanceError):
        config.region = "eu-west-1"  # type: ignore[misc]
    assert isinstance(config, FolioConfig)
    assert isinstance(config.replica_regions, tuple)


def test_all_regions_lists_home_first_without_repeats() -> None:
    config = load_config("prod")

    assert config.all_regions == ("us-east-1", "us-west-2", "eu-west-1", "us-east-2")


def run_app(snippet: str, context: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run app.py's main() in a fresh interpreter, as the CDK CLI would (context via CDK_CONTEXT_JSON)."""
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": "/nonexistent"}
    env.pop("PYTEST_CURRENT_TEST", None)
    code = f"import app\n{snippet}\nraise SystemExit(app.main())"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_app_reports_an_unknown_environment_in_one_line_without_a_traceback() -> None:
    result = run_app("", {"env": "staging"})

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "folio: invalid config for environment 'staging': env = 'staging'; allowed: one of dev, prod, sandbox"
    ]


def test_app_reports_a_bad_value_in_one_line_without_a_traceback() -> None:
    result = run_app(
        "from stacks import environments\nenvironments.ENVIRONMENTS['dev']['replica_regions'] = ['eu-west-1']",
        {"env": "dev"},
    )

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "replica_regions[0] = 'eu-west-1'" in lines[0]


def test_mfa_mode_must_be_optional_or_required_and_prod_requires_it() -> None:
    error = rejected(sandbox_with(auth__mfa="sometimes"))

    assert error.key == "auth.mfa"
    assert error.allowed == "one of optional, required"
    assert load_config("prod").auth.mfa == "required"


@pytest.mark.parametrize(
    "url", ["ftp://folio.example.com/cb", "https://folio.example.com/cb?x=1", "javascript:alert(1)"]
)
def test_callback_urls_must_be_https_without_query(url: str) -> None:
    error = rejected(sandbox_with(auth__callback_urls=[url]))

    assert error.key == "auth.callback_urls[0]"


def test_single_upload_may_not_exceed_the_quota() -> None:
    error = rejected(sandbox_with(documents__max_upload_bytes=2 * 1024**3, documents__quota_bytes=1024**3))

    assert error.key == "documents.max_upload_bytes"
    assert "at most quota_bytes" in error.allowed


def test_throttling_out_of_range_is_rejected() -> None:
    error = rejected(sandbox_with(api__throttle_burst_limit=0))

    assert error.key == "api.throttle_burst_limit"


# -- the account's API Gateway CloudWatch role: Folio's, or the account's own ---------------


@pytest.mark.parametrize("value", ["yes", 1, None, "false"])
def test_taking_over_the_account_logging_role_must_be_a_deliberate_true_or_false(value: object) -> None:
    raw = sandbox_with(api__manage_account_logging_role=value)

    error = rejected(raw)

    assert error.key == "api.manage_account_logging_role"
    assert error.value == value
    # The message says what each answer does, because one of them is account-wide.
    assert "true" in error.allowed and "false" in error.allowed
    assert "replac" in error.allowed and "every API" in error.allowed


def test_the_account_logging_role_choice_has_no_silent_default() -> None:
    raw = sandbox_with()
    del raw["api"]["manage_account_logging_role"]

    error = rejected(raw)

    assert error.key == "api.manage_account_logging_role"
    assert "required" in error.allowed


def test_only_the_dedicated_accounts_of_dev_and_prod_take_over_the_account_logging_role() -> None:
    """sandbox deploys into whatever account the CLI's credentials name, which may hold other
    APIs that rely on the account's role; dev and prod have accounts of their own."""
    choices = {name: load_config(name).api.manage_account_logging_role for name in ENVIRONMENTS}

    assert choices == {"sandbox": False, "dev": True, "prod": True}


def test_no_two_environments_take_over_the_logging_role_of_the_same_account_and_region() -> None:
    """One role per account and Region: a second Folio environment that also took it over
    would cut the first one's logs off."""
    owners: dict[tuple[str, str], str] = {}
    for name, raw in ENVIRONMENTS.items():
        if not raw["api"]["manage_account_logging_role"]:
            continue
        place = (str(raw["account"]), str(raw["region"]))
        assert place not in owners, f"{name} and {owners[place]} both manage the role of {place}"
        owners[place] = name

    assert owners, "expected at least one environment that manages the role"


# The parser allows up to a minute (DAX_TTL_MS_RANGE); what Folio ships promises seconds: the most
# stale a DAX reader can see is the TTL (docs/read-path.md), and the shared list is read through it.
SHIPPED_DAX_TTL_MS_MAX = 10_000


def test_every_shipped_environment_keeps_dax_staleness_to_seconds() -> None:
    ttls = {name: load_config(name).sizing for name in ENVIRONMENTS}

    too_long = {
        name: (sizing.dax_record_ttl_ms, sizing.dax_query_ttl_ms)
        for name, sizing in ttls.items()
        if max(sizing.dax_record_ttl_ms, sizing.dax_query_ttl_ms) > SHIPPED_DAX_TTL_MS_MAX
    }
    assert too_long == {}, f"DAX TTLs over {SHIPPED_DAX_TTL_MS_MAX} ms: {too_long}"
    assert DAX_TTL_MS_RANGE[1] > SHIPPED_DAX_TTL_MS_MAX, "the promise is stricter than what the parser allows"


def test_a_termination_protected_environment_with_dax_needs_three_nodes() -> None:
    # Given a prod-like environment (termination-protected) whose DAX cluster has one node
    raw = sandbox_with(termination_protection=True, sizing__dax_nodes=1)
    raw["features"]["dax"] = True

    # When / Then: refused, naming the key and why
    error = rejected(raw)
    assert error.key == "sizing.dax_nodes"
    assert error.value == 1
    assert "at least 3" in error.allowed


def test_fewer_than_three_dax_nodes_are_fine_where_dax_is_off_or_the_environment_is_not_protected() -> None:
    off = sandbox_with(termination_protection=True, sizing__dax_nodes=1)
    unprotected = sandbox_with(sizing__dax_nodes=1)
    unprotected["features"]["dax"] = True

    assert parse_config("sandbox", off).sizing.dax_nodes == 1
    assert parse_config("sandbox", unprotected).sizing.dax_nodes == 1
    assert load_config("prod").sizing.dax_nodes >= 3


# --- The search domain (stacks/components/search_domain.py) -------------------------


def search_on(**changes: Any) -> dict[str, Any]:
    """The sandbox settings with `features.search` on and some keys replaced."""
    raw = sandbox_with(**changes)
    raw["features"]["search"] = True
    return raw


@pytest.mark.parametrize(
    ("change", "key", "value"),
    [
        ({"search__data_node_type": "t2.small.search"}, "search.data_node_type", "t2.small.search"),
        ({"search__master_node_type": "m7g.large"}, "search.master_node_type", "m7g.large"),
        ({"search__availability_zones": 4}, "search.availability_zones", 4),
        ({"search__availability_zones": 0}, "search.availability_zones", 0),
        ({"search__dedicated_masters": 2}, "search.dedicated_masters", 2),
        ({"search__dedicated_masters": 4}, "search.dedicated_masters", 4),
        ({"search__volume_gb": 5}, "search.volume_gb", 5),
    ],
)
def test_bad_search_settings_are_rejected(change: dict[str, Any], key: str, value: object) -> None:
    error = rejected(sandbox_with(**change))

    assert (error.key, error.value) == (key, value)


def test_data_nodes_must_spread_evenly_over_the_search_zones() -> None:
    # OpenSearch places the same number of data nodes in each zone of a zone-aware domain.
    error = rejected(search_on(sizing__search_instances=3, search__availability_zones=2))

    assert error.key == "sizing.search_instances"
    assert "multiple of search.availability_zones (2)" in error.allowed


def test_a_termination_protected_environment_with_search_needs_three_nodes_zones_and_masters() -> None:
    # Given a protected environment whose domain is a single node
    raw = search_on(termination_protection=True)
    raw["features"]["dax"] = False

    # When / Then: refused, key by key (AWS Control Tower CT.OPENSEARCH.PR.6, .7 and .11)
    assert rejected(raw).key == "search.availability_zones"
    raw["search"]["availability_zones"] = 3
    error = rejected(raw)
    assert (error.key, error.value) == ("sizing.search_instances", 1)
    raw["sizing"]["search_instances"] = 3
    error = rejected(raw)
    assert (error.key, error.value) == ("search.dedicated_masters", 0)
    raw["search"]["dedicated_masters"] = 3
    assert parse_config("sandbox", raw).search.dedicated_masters == 3


def test_prod_spreads_three_data_nodes_and_three_masters_over_three_zones_and_dev_runs_one_node() -> None:
    prod, dev = load_config("prod"), load_config("dev")

    assert (prod.sizing.search_instances, prod.search.availability_zones, prod.search.dedicated_masters) == (3, 3, 3)
    assert (dev.sizing.search_instances, dev.search.availability_zones, dev.search.dedicated_masters) == (1, 1, 0)


# --- the audit archive (features.cdc) -----------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("stream_retention_hours", 23, "a whole number from 24 to 8760"),
        ("stream_retention_hours", 8761, "a whole number from 24 to 8760"),
        ("archive_transition_days", 0, "a whole number from 1 to 3650"),
        ("archive_retention_days", "7y", "a whole number from 1 to 36500"),
    ],
)
def test_audit_archive_settings_out_of_range_are_rejected(key: str, value: object, allowed: str) -> None:
    error = rejected(sandbox_with(**{f"audit__{key}": value}))

    assert error.key == f"audit.{key}"
    assert error.value == value
    assert error.allowed == allowed


def test_audit_archive_must_be_kept_longer_than_it_waits_before_cold_storage() -> None:
    error = rejected(sandbox_with(audit__archive_transition_days=90, audit__archive_retention_days=90))

    assert error.key == "audit.archive_retention_days"
    assert "more than archive_transition_days (90)" in error.allowed


def test_audit_settings_have_no_silent_default() -> None:
    raw = sandbox_with()
    del raw["audit"]["archive_retention_days"]

    error = rejected(raw)

    assert error.key == "audit.archive_retention_days"


def test_the_audit_archive_runs_in_prod_only_and_keeps_changes_for_years() -> None:
    switched_on = {name: load_config(name).features.cdc for name in ENVIRONMENTS}

    assert switched_on == {"sandbox": False, "dev": False, "prod": True}
    prod = load_config("prod").audit
    assert prod.stream_retention_hours >= 24
    assert prod.archive_retention_days > prod.archive_transition_days


# --- The ingestion pipeline's capacity (stacks/components/search_ingestion.py) ------


@pytest.mark.parametrize(
    ("change", "key", "value"),
    [
        ({"search__min_ocus": 0}, "search.min_ocus", 0),
        ({"search__max_ocus": 97}, "search.max_ocus", 97),
        ({"search__min_ocus": "1"}, "search.min_ocus", "1"),
        ({"search__min_ocus": 4, "search__max_ocus": 2}, "search.max_ocus", 2),
    ],
)
def test_bad_pipeline_capacity_is_rejected(change: dict[str, Any], key: str, value: object) -> None:
    error = rejected(sandbox_with(**change))

    assert (error.key, error.value) == (key, value)
    assert "no such key" not in error.allowed


def test_pipeline_capacity_is_read_from_the_search_section() -> None:
    prod, dev = load_config("prod"), load_config("dev")

    assert (dev.search.min_ocus, dev.search.max_ocus) == (1, 2)
    # Two OCUs at least where the environment must survive an AZ: OSIS spreads them.
    assert prod.search.min_ocus >= 2
    assert prod.search.min_ocus <= prod.search.max_ocus


# --- Where environments live: data an operator edits, apart from the parser -------------

ENVIRONMENTS_MODULE = PROJECT_ROOT / "stacks" / "environments.py"
PARSER_MODULE = PROJECT_ROOT / "stacks" / "config.py"
# What a literal in the environments may be built of: containers, constants and the arithmetic
# that keeps sizes readable (100 * 1024**2). No names, calls, attributes or comprehensions.
PLAIN_DATA_NODES = (ast.Dict, ast.List, ast.Constant, ast.BinOp, ast.Mult, ast.Pow, ast.UnaryOp, ast.USub, ast.Load)
PLAIN_CONSTANTS = (str, int, bool, type(None))


def _not_plain_data(value: ast.expr) -> list[str]:
    return [
        f"line {node.lineno}: {ast.unparse(node)}" if isinstance(node, ast.expr) else type(node).__name__
        for node in ast.walk(value)
        if not isinstance(node, PLAIN_DATA_NODES)
        or (isinstance(node, ast.Constant) and not isinstance(node.value, PLAIN_CONSTANTS))
    ]


def test_the_environments_an_operator_edits_are_plain_data_in_their_own_module() -> None:
    # Given the module that holds the environments
    assert ENVIRONMENTS_MODULE.exists(), "the environments live in stacks/environments.py, apart from the parser"
    tree = ast.parse(ENVIRONMENTS_MODULE.read_text())

    # When each statement after the docstring is read
    statements = tree.body[1:] if ast.get_docstring(tree) else tree.body
    assignments = [s for s in statements if isinstance(s, ast.AnnAssign | ast.Assign) and s.value is not None]
    not_data = [f"line {s.lineno}: {type(s).__name__}" for s in statements if s not in assignments]
    targets = [t for s in assignments for t in (s.targets if isinstance(s, ast.Assign) else [s.target])]

    # Then there is no import, function or class, and every value is a literal of plain data
    assert not_data == [], f"only assignments of plain data belong in the environments: {not_data}"
    assert [problem for s in assignments if s.value is not None for problem in _not_plain_data(s.value)] == []
    assert "ENVIRONMENTS" in [t.id for t in targets if isinstance(t, ast.Name)]


def test_the_parser_defines_no_environment() -> None:
    # Given the parser's source and the names of the shipped environments
    tree = ast.parse(PARSER_MODULE.read_text())

    # When / Then: it names no environment and holds no environment's entry (a mapping with a region)
    named = [
        f"line {node.lineno}: {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in ENVIRONMENTS
    ]
    entries = [
        f"line {node.lineno}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Dict) and any(isinstance(k, ast.Constant) and k.value == "region" for k in node.keys)
    ]
    assert named == [], f"stacks/config.py names environments; they belong in stacks/environments.py: {named}"
    assert entries == [], f"stacks/config.py holds environment entries: {entries}"


# --- The pipeline: one, apart from the environments ---------------------------------------


def pipeline_with(**changes: Any) -> dict[str, Any]:
    raw = copy.deepcopy(PIPELINE)
    raw.update(changes)
    return raw


def pipeline_rejected(raw: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse_pipeline_config(raw, known_environments=tuple(ENVIRONMENTS))
    message = str(caught.value)
    assert "\n" not in message, "a config error is one line"
    assert "the pipeline" in message
    return caught.value


def test_the_shipped_pipeline_is_enabled_with_a_placeholder_connection() -> None:
    pipeline = load_pipeline_config()

    assert pipeline is not None
    assert pipeline.connection_arn.endswith("connection/00000000-0000-0000-0000-000000000000")
    assert (pipeline.test_environment, pipeline.production_environment) == ("dev", "prod")


@pytest.mark.parametrize("key", ["connection_arn", "repository", "branch"])
def test_an_enabled_pipeline_without_its_source_names_the_missing_key(key: str) -> None:
    raw = pipeline_with()
    del raw[key]

    error = pipeline_rejected(raw)

    assert error.key == f"pipeline.{key}"
    assert "required" in error.allowed


@pytest.mark.parametrize("key", ["connection_arn", "repository", "branch"])
def test_an_enabled_pipeline_with_an_empty_source_names_the_key(key: str) -> None:
    assert pipeline_rejected(pipeline_with(**{key: None})).key == f"pipeline.{key}"


def test_a_disabled_pipeline_needs_no_source() -> None:
    raw = {"enabled": False, "connection_arn": None, "repository": None, "branch": None}

    assert parse_pipeline_config(raw, known_environments=tuple(ENVIRONMENTS)) is None


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:codeconnections:us-east-1:333333333333:connection/abc",
        "arn:aws:codecommit:us-east-1:333333333333:connection/00000000-0000-0000-0000-000000000000",
        "arn:aws:codeconnections:us-east-1:3333:connection/00000000-0000-0000-0000-000000000000",
    ],
)
def test_the_connection_must_be_a_codeconnections_arn(arn: str) -> None:
    assert pipeline_rejected(pipeline_with(connection_arn=arn)).key == "pipeline.connection_arn"


def test_a_codestar_connections_arn_is_accepted() -> None:
    arn = "arn:aws:codestar-connections:eu-west-1:333333333333:connection/7d2469ff-514a-4e4f-9003-5ca4a43cdc41"

    pipeline = parse_pipeline_config(pipeline_with(connection_arn=arn), known_environments=tuple(ENVIRONMENTS))

    assert pipeline is not None and pipeline.connection_arn == arn


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"repository": "folio"}, "pipeline.repository"),
        ({"test_environment": "staging"}, "pipeline.test_environment"),
        ({"production_environment": "dev"}, "pipeline.production_environment"),
        ({"notification_email": "nobody"}, "pipeline.notification_email"),
        ({"stages": ["dev"]}, "pipeline.stages"),
    ],
)
def test_bad_pipeline_settings_are_named(change: dict[str, Any], key: str) -> None:
    assert pipeline_rejected(pipeline_with(**change)).key == key


def test_app_reports_an_enabled_pipeline_without_its_connection_in_one_line() -> None:
    result = run_app("from stacks import environments\ndel environments.PIPELINE['connection_arn']", {})

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "folio: invalid config for the pipeline: pipeline.connection_arn = None; allowed: a value (the key is required)"
    ]


@pytest.mark.parametrize("branch", ["main..evil", "release/.lock", "feature.lock", "refs/heads/main", "a//b", "main/"])
def test_a_branch_git_would_refuse_or_read_as_another_ref_is_named(branch: str) -> None:
    assert pipeline_rejected(pipeline_with(branch=branch)).key == "pipeline.branch"


@pytest.mark.parametrize("branch", ["main", "release/2026.11", "feature/search-sweep_v2"])
def test_ordinary_branch_names_are_accepted(branch: str) -> None:
    pipeline = parse_pipeline_config(pipeline_with(branch=branch), known_environments=tuple(ENVIRONMENTS))

    assert pipeline is not None and pipeline.branch == branch


def test_a_test_environment_that_requires_mfa_is_refused_the_smoke_test_signs_in_with_a_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pipeline = parse_pipeline_config(pipeline_with(), known_environments=tuple(ENVIRONMENTS))
    assert pipeline is not None
    test_environment = copy.deepcopy(ENVIRONMENTS[pipeline.test_environment])
    test_environment["auth"]["mfa"] = "required"
    monkeypatch.setitem(ENVIRONMENTS, pipeline.test_environment, test_environment)

    with pytest.raises(ConfigError) as caught:
        load_pipeline_environments(pipeline)

    assert caught.value.key == "pipeline.test_environment"
    assert "mfa" in caught.value.allowed


@pytest.mark.parametrize("environment", ["test_environment", "production_environment"])
def test_the_toolchain_account_is_an_account_of_its_own(environment: str) -> None:
    shipped = parse_pipeline_config(pipeline_with(), known_environments=tuple(ENVIRONMENTS))
    assert shipped is not None
    account = ENVIRONMENTS[getattr(shipped, environment)]["account"]
    pipeline = parse_pipeline_config(pipeline_with(account=account), known_environments=tuple(ENVIRONMENTS))
    assert pipeline is not None

    with pytest.raises(ConfigError) as caught:
        load_pipeline_environments(pipeline)

    assert caught.value.key == "pipeline.account"
    assert "other than" in caught.value.allowed


def test_the_pipeline_deploys_only_environments_whose_account_is_set() -> None:
    pipeline = parse_pipeline_config(pipeline_with(test_environment="sandbox"), known_environments=tuple(ENVIRONMENTS))
    assert pipeline is not None

    with pytest.raises(ConfigError) as caught:
        load_pipeline_environments(pipeline)

    assert caught.value.key == "pipeline.test_environment"
    assert "account is set" in caught.value.allowed
