"""The entry points the stacks give Lambda name functions that exist, one per permission group.

Checked from the source, without importing the handlers: each reads its settings at import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from folio.contracts import FunctionGroup
from folio.handlers import API_HANDLERS, LIFECYCLE_WORKER_HANDLER, SEARCH_SWEEP_HANDLER, UPLOAD_WORKER_HANDLER
from folio.search_role_mappings import RESOURCE_HANDLER
from tests.conftest import PROJECT_ROOT

ENTRY_POINTS = (
    *API_HANDLERS.values(),
    UPLOAD_WORKER_HANDLER,
    LIFECYCLE_WORKER_HANDLER,
    SEARCH_SWEEP_HANDLER,
    RESOURCE_HANDLER,
)


def defines(entry_point: str, root: Path) -> bool:
    """Whether `package.module.name` is a module under `root` that defines `name` at its top level."""
    module, _, name = entry_point.rpartition(".")
    path = root.joinpath(*module.split(".")).with_suffix(".py")
    if not path.is_file():
        return False
    return any(
        isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name
        for node in ast.parse(path.read_text()).body
    )


def test_every_permission_group_has_its_own_entry_point() -> None:
    assert set(API_HANDLERS) == set(FunctionGroup)
    assert len(set(ENTRY_POINTS)) == len(ENTRY_POINTS)


@pytest.mark.parametrize("entry_point", ENTRY_POINTS)
def test_every_entry_point_names_a_function_its_module_defines(entry_point: str) -> None:
    assert defines(entry_point, PROJECT_ROOT / "lambda")


def test_the_check_refuses_a_missing_module_and_a_missing_function(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text("def handler(event, context):\n    pass\nother = 1\n")

    assert defines("pkg.mod.handler", tmp_path)
    assert not defines("pkg.mod.other", tmp_path)
    assert not defines("pkg.gone.handler", tmp_path)
