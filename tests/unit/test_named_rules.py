"""The API's rules are named once: a second copy of one anywhere in the runtime or the stacks
fails here, for each family of rule (patterns, CORS headers, environment variable names, the
object-key prefix), and the rules mean the same wherever they are used."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from folio import contracts, cursor, openapi
from folio.handlers import http
from folio.keys import InvalidKeyPart
from folio.object_keys import DOCUMENT_OBJECT_PREFIX, ObjectKey, object_key, parse_object_key
from folio.settings import ENVIRONMENT_VARIABLES, REQUIRED_VARIABLES, Env, Settings
from tests.conftest import PROJECT_ROOT

SOURCES = sorted([*(PROJECT_ROOT / "lambda").rglob("*.py"), *(PROJECT_ROOT / "stacks").rglob("*.py")])
PATTERNS = {
    contracts.TAG_PATTERN,
    contracts.ID_PATTERN,
    contracts.CONTENT_TYPE_PATTERN,
    contracts.IF_MATCH_PATTERN,
    contracts.IDEMPOTENCY_KEY_PATTERN,
}


def relative(path: Path) -> str:
    return str(path.relative_to(PROJECT_ROOT))


def constants_in(path: Path, values: set[str]) -> list[str]:
    """Every string constant of `path` that is one of `values`."""
    tree = ast.parse(path.read_text())
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value in values]


def copies(values: set[str], owner: str, *, allowed: dict[str, str] | None = None) -> dict[str, list[str]]:
    """Where, besides `owner` (and `allowed`, each with its reason), one of `values` is written out."""
    found = {relative(p): constants_in(p, values) for p in SOURCES if relative(p) not in {owner, *(allowed or {})}}
    return {path: literals for path, literals in found.items() if literals}


def test_the_copy_finder_finds_a_second_copy(tmp_path: Path) -> None:
    module = tmp_path / "copy.py"
    module.write_text('environment = {"TABLE_NAME": table.table_name}\nprefix = "documents/"\n')

    assert sorted(constants_in(module, {Env.TABLE_NAME, DOCUMENT_OBJECT_PREFIX})) == ["TABLE_NAME", "documents/"]


# -- environment variable names ------------------------------------------------------------------
def test_environment_variable_names_are_written_only_in_settings() -> None:
    assert copies(set(ENVIRONMENT_VARIABLES), "lambda/folio/settings.py") == {}


def test_settings_read_every_named_variable_and_no_other() -> None:
    environment = {name: "1" for name in REQUIRED_VARIABLES}
    assert Settings.from_environment(environment).dax_endpoint is None  # every required variable is enough
    for name in REQUIRED_VARIABLES:
        with pytest.raises(RuntimeError, match=name):
            Settings.from_environment({k: v for k, v in environment.items() if k != name})
    dax = "daxs://folio-dax.abc123.dax-clusters.us-east-1.amazonaws.com"
    assert Settings.from_environment({**environment, Env.DAX_ENDPOINT: dax}).dax_endpoint == dax


# -- the object-key prefix and its parser ---------------------------------------------------------
def test_the_object_key_prefix_is_written_only_in_object_keys() -> None:
    # The access-log prefix of the documents bucket is another fact that happens to be spelled alike.
    allowed = {"stacks/components/document_store.py": "ACCESS_LOG_PREFIX, the bucket's access-log prefix"}

    assert copies({DOCUMENT_OBJECT_PREFIX}, "lambda/folio/object_keys.py", allowed=allowed) == {}


def test_the_parser_reads_back_every_key_the_builder_builds() -> None:
    key = object_key(DOCUMENT_OBJECT_PREFIX, "3f1c-user", "01JABCDEF")

    assert key == "documents/3f1c-user/01JABCDEF"
    assert parse_object_key(DOCUMENT_OBJECT_PREFIX, key) == ObjectKey(owner="3f1c-user", doc_id="01JABCDEF")


@pytest.mark.parametrize(
    "key",
    ["other/u/d", "documents/u", "documents/u/d/e", "documents//d", "documents/u/", "documents/../d", "documents/u/."],
)
def test_the_parser_refuses_what_the_builder_never_builds(key: str) -> None:
    assert parse_object_key(DOCUMENT_OBJECT_PREFIX, key) is None


@pytest.mark.parametrize(("owner", "doc_id"), [("", "d"), ("u/x", "d"), ("..", "d"), ("u", ".")])
def test_the_builder_refuses_parts_that_would_change_the_keys_shape(owner: str, doc_id: str) -> None:
    with pytest.raises(InvalidKeyPart):
        object_key(DOCUMENT_OBJECT_PREFIX, owner, doc_id)


# -- patterns -------------------------------------------------------------------------------------
def test_the_api_patterns_are_written_only_in_contracts() -> None:
    assert copies(PATTERNS, "lambda/folio/contracts.py") == {}


def compiled_patterns(path: Path) -> list[str]:
    """Names of contract patterns that `path` compiles (re.compile(SOME_PATTERN))."""
    return [
        node.args[0].id
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "compile"
        and node.args
        and isinstance(node.args[0], ast.Name)
        and node.args[0].id.endswith("_PATTERN")
    ]


def test_the_api_patterns_are_compiled_only_where_requests_are_parsed() -> None:
    compiling = {relative(p) for p in SOURCES if compiled_patterns(p)}

    assert compiling == {"lambda/folio/requests.py"}


# -- limits -------------------------------------------------------------------------------------
def test_the_published_limits_are_the_ones_the_code_applies() -> None:
    query = openapi.build()["paths"]["/documents"]["get"]["parameters"]
    schemas = {parameter["name"]: parameter["schema"] for parameter in query}

    assert schemas["limit"]["maximum"] == contracts.MAX_LIMIT
    assert schemas["cursor"]["maxLength"] == contracts.MAX_CURSOR_LENGTH == cursor.MAX_CURSOR_LENGTH


# -- CORS -----------------------------------------------------------------------------------------
def header_lists(path: Path) -> list[int]:
    """Lines of `path` with a list, tuple or set literal of header names (one is "Authorization")."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, (ast.List, ast.Tuple, ast.Set))
        and any(isinstance(e, ast.Constant) and e.value == "Authorization" for e in node.elts)
    ]


def test_the_cors_headers_are_listed_only_in_contracts() -> None:
    listing = {relative(p) for p in SOURCES if header_lists(p)}

    assert listing == {"lambda/folio/contracts.py"}


def test_the_functions_allow_and_expose_the_named_cors_headers() -> None:
    config = http._cors(("https://folio.example.com",))

    # Powertools adds its own defaults (X-Amz-Date, ...) to what it is given.
    assert set(contracts.CORS_ALLOW_HEADERS) <= set(config.allow_headers)
    assert set(config.expose_headers) == set(contracts.CORS_EXPOSE_HEADERS)
    assert config.max_age == contracts.CORS_MAX_AGE_SECONDS


def test_cors_allows_every_method_of_the_contract_and_no_other() -> None:
    assert set(contracts.CORS_ALLOW_METHODS) == {route.method for route in contracts.ROUTES}
