"""Promises about the project itself: the Makefile, CI, and where settings may come from."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest

from folio import keys
from tests.conftest import PROJECT_ROOT

CDK_SOURCES = sorted((PROJECT_ROOT / "stacks").rglob("*.py"))


def make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)


def test_installs_are_stamped_so_a_second_run_installs_nothing() -> None:
    # `make test` has just installed everything; `make -q` exits 1 if any install step would run again.
    result = make("-q", ".make/venv", ".make/node", ".make/checkov")

    assert result.returncode == 0, "an install step is out of date right after installing"


def test_make_help_lists_every_command() -> None:
    listed = {line.split()[1] for line in make("help").stdout.splitlines() if line.strip().startswith("make ")}

    assert {"synth", "test", "bench", "lint", "clean", "help"} <= listed


def test_ci_runs_the_readme_test_command_and_fails_with_it() -> None:
    ci = (PROJECT_ROOT / ".ci" / "run").read_text()
    readme = (PROJECT_ROOT / "README.md").read_text()
    quick_start = readme.split("## Quick start", 1)[1].split("##", 1)[0]

    assert "set -euo pipefail" in ci
    assert "make test" in ci
    assert "make synth\nmake test" in quick_start


FORBIDDEN_CALLS = {"getenv", "try_get_context", "get_context", "check_output", "run", "Popen"}
FORBIDDEN_MODULES = {"boto3", "botocore", "subprocess", "git"}


def reads_outside_world(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found += [f"import {n}" for n in names if n.split(".")[0] in FORBIDDEN_MODULES]
        elif isinstance(node, ast.Attribute) and (node.attr in FORBIDDEN_CALLS or node.attr == "environ"):
            found.append(node.attr)
    return found


@pytest.mark.parametrize("path", CDK_SOURCES, ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_stacks_never_read_environment_context_boto3_or_git(path: Path) -> None:
    assert reads_outside_world(path) == BUILD_STEPS.get(path.relative_to(PROJECT_ROOT).as_posix(), [])


# The modules that may run a process, each a step of the synth, not a read of the outside world:
# CDK's local bundling of the DAX client layer runs pip (this interpreter, pinned arguments), and
# the Control Tower controls run the installed plugin's own code in Node processes, one per core,
# and aws-cdk-lib's CloudFormation validation runs its own plugin in a Node process beside them.
BUILD_STEPS = {
    "stacks/cloudformation_validation.py": ["import subprocess", "Popen", "run"],
    "stacks/components/dax_client_layer.py": ["import subprocess", "run"],
    "stacks/control_tower.py": ["import subprocess", "Popen"],
}


def test_the_outside_world_check_catches_a_context_read(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nimport boto3\nx = os.environ['A']\ny = scope.node.try_get_context('env')\n")

    assert reads_outside_world(bad) == ["import boto3", "environ", "try_get_context"]


KEY_NAMES = {
    keys.PARTITION_KEY,
    keys.SORT_KEY,
    keys.TTL_ATTRIBUTE,
    keys.GSI1_PARTITION_KEY,
    keys.GSI1_SORT_KEY,
    keys.RECENT_SHARD_ATTRIBUTE,
    keys.TRASHED_AT_ATTRIBUTE,
    *(index.name for index in keys.GLOBAL_SECONDARY_INDEXES),
}


@pytest.mark.parametrize("path", CDK_SOURCES, ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_cdk_code_takes_key_and_index_names_from_the_key_schema(path: Path) -> None:
    literals = {
        node.value for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Constant)
    } & KEY_NAMES

    assert literals == set(), f"use folio.keys instead of copying {sorted(literals)}"


# -- stacks only wire; tests use public names ------------------------------------------------

# Stacks that build statements of their own, and why they are not a function's permissions.
STACKS_WITH_STATEMENTS = {
    # The gateway endpoints' policies are the network's own resource policies, one per endpoint.
    "stacks/network_stack.py",
}
STACK_MODULES = [
    path
    for path in sorted((PROJECT_ROOT / "stacks").glob("*_stack.py"))
    if path.relative_to(PROJECT_ROOT).as_posix() not in STACKS_WITH_STATEMENTS
]


def policy_statements_built(path: Path) -> int:
    """How many `PolicyStatement(...)` calls a module makes (whatever the module is imported as)."""
    return sum(
        1
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and (getattr(node.func, "attr", None) or getattr(node.func, "id", None)) == "PolicyStatement"
    )


@pytest.mark.parametrize("path", STACK_MODULES, ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_stacks_take_their_functions_permissions_from_a_table(path: Path) -> None:
    # Which function may call what is a table of facts (stacks/function_permissions.py) that a
    # reviewer and test_least_privilege read; a stack only hands it to the functions it wires.
    assert policy_statements_built(path) == 0, "move the statements to stacks/function_permissions.py"


def test_the_statement_check_catches_both_spellings(tmp_path: Path) -> None:
    bad = tmp_path / "bad_stack.py"
    bad.write_text("a = iam.PolicyStatement(sid='A')\nb = PolicyStatement(sid='B')\nc = iam.PolicyDocument()\n")

    assert policy_statements_built(bad) == 2


TEST_SOURCES = sorted((PROJECT_ROOT / "tests").rglob("*.py"))
FIRST_PARTY = {"stacks", "folio"}


def private_imports(path: Path) -> list[str]:
    """`from stacks.x import _name` (at any depth of the module): a test leaning on a private name."""
    return [
        f"{node.module}.{alias.name}"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in FIRST_PARTY
        for alias in node.names
        if alias.name.startswith("_")
    ]


def test_tests_import_only_public_names_of_the_stacks_and_the_runtime() -> None:
    found = {str(p.relative_to(PROJECT_ROOT)): private_imports(p) for p in TEST_SOURCES}

    assert {path: names for path, names in found.items() if names} == {}


def test_the_private_import_check_looks_inside_functions(tmp_path: Path) -> None:
    bad = tmp_path / "test_bad.py"
    bad.write_text("from stacks.a import B, _c\ndef f():\n    from folio.x import _y\nfrom tests.z import _w\n")

    assert private_imports(bad) == ["stacks.a._c", "folio.x._y"]


# What turns off aws-cdk-lib's built-in CloudFormation validation: an environment variable, a CLI
# flag, the App property (stacks/nag.py turns it off in favour of the same plugin run beside
# Control Tower, stacks/cloudformation_validation.py), cdk.json's "validation" key, and Folio's own
# switch for the test session.
VALIDATION_SWITCHES = ("CDK_VALIDATION", "--no-validation", "builtin_cloud_formation_validation",
                       "validate_cloudformation=False", '"validation"')  # fmt: skip


def test_only_the_test_sessions_own_synths_leave_out_cloudformation_validation() -> None:
    """app.py, the Makefile, CI, cdk.json and every synth by a new process keep the validation
    (tests/conftest.py, folio_app); the test session's in-process synths alone leave it out. The
    built-in copy is off only where Folio registers the same plugin in its place."""
    sources = [PROJECT_ROOT / name for name in ("app.py", "Makefile", "cdk.json", ".ci/run")]
    for folder in ("stacks", "benchmarks", "tools", "tests"):
        sources += sorted(p for p in (PROJECT_ROOT / folder).rglob("*.py") if ".venv" not in p.parts)
    found = {
        str(path.relative_to(PROJECT_ROOT)): sorted({s for s in VALIDATION_SWITCHES if s in path.read_text()})
        for path in sources
        if path != Path(__file__)
    }

    assert {path: switches for path, switches in found.items() if switches} == {
        "stacks/cloudformation_validation.py": ["builtin_cloud_formation_validation"],
        "stacks/nag.py": ["builtin_cloud_formation_validation"],
        "tests/conftest.py": ["validate_cloudformation=False"],
        "tests/infra/test_api_stack.py": ["validate_cloudformation=False"],
    }
    assert "checked_app(validate_cloudformation=True)" in (PROJECT_ROOT / "app.py").read_text()
    # Every synth by a new process says it validates (`validate_cloudformation` has no default).
    for module in ("tests/support/deterministic_synth.py", "tests/support/non_compliant_synth.py"):
        assert "validate_cloudformation=True" in (PROJECT_ROOT / module).read_text(), module
