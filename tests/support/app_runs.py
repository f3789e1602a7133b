"""app.py's main() run in a new interpreter, as the CDK CLI runs it (context via CDK_CONTEXT_JSON),
on the background lane: tests/unit/test_config.py's checks of what app.py reports for a bad config.
tests/conftest.py queues them when the session starts."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from tests.support.background import BackgroundJob, BackgroundLane

PROJECT_ROOT = Path(__file__).resolve().parents[2]
APP_RUN_TIMEOUT = 120.0


def start_app_run(lane: BackgroundLane, description: str, snippet: str, context: dict[str, str]) -> BackgroundJob:
    """`snippet`, then app.py's main(), in a fresh interpreter on `lane`; the job's result is the
    finished process (its exit code and output)."""
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": "/nonexistent"}
    env.pop("PYTEST_CURRENT_TEST", None)
    code = f"import app\n{snippet}\nraise SystemExit(app.main())"
    return lane.run(
        f"app.py {description}", [sys.executable, "-c", code], timeout=APP_RUN_TIMEOUT, cwd=PROJECT_ROOT, env=env
    )
