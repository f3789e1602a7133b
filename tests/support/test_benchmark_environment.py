"""`make bench` imports each handler with a faked function environment: it must hold every
variable the runtime requires, or every cold-import figure is an error instead of a number."""

from __future__ import annotations

import sys

from folio.settings import REQUIRED_VARIABLES
from tests.conftest import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
import run  # benchmarks/ is not a package: its directory is put on the path


def test_the_benchmarks_function_environment_holds_every_required_variable() -> None:
    missing = set(REQUIRED_VARIABLES) - set(run.FUNCTION_ENVIRONMENT)

    assert not missing, f"benchmarks/run.py FUNCTION_ENVIRONMENT lacks {sorted(missing)}"
