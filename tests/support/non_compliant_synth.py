"""The apps with resources that every pack flags, synthesized (and failed) in a new process on the
background lane, which tests/conftest.py starts when the session starts:

- "environment": a sandbox FolioStage and its regional serving stage, each with a non-compliant
  stack (tests/security/test_nag.py);
- "pipeline": the pipeline app with non-compliant resources in its stack, in a stack of each stage
  it deploys and in each support stack (tests/security/test_pipeline_nag.py).

Each synth must fail on validation, exactly as `pytest.raises(RuntimeError, match="ValidationFailed")`
expects; the tests read each app's validation-report.json. Run as a module
(`python -m tests.support.non_compliant_synth OUTDIR`) it synthesizes both into OUTDIR/<part> and
prints {part: null, or what went wrong instead of a validation failure} as JSON.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

PARTS = ("environment", "pipeline")


def failure_on_validation(synth: Callable[[], object]) -> str | None:
    """None when `synth` raised a RuntimeError that says ValidationFailed; otherwise what it did.
    Any other exception propagates (the process exits non-zero with its traceback)."""
    try:
        synth()
    except RuntimeError as error:
        return (
            None if re.search("ValidationFailed", str(error)) else f"a RuntimeError without ValidationFailed: {error}"
        )
    return "the synth succeeded: nothing was flagged"


def main(arguments: list[str]) -> int:
    import pytest

    from stacks import pipeline_stack
    from stacks.config import load_config
    from tests.conftest import synthesize, synthesize_pipeline
    from tests.support.non_compliant import StageWithExtra, add_non_compliant_stack, inject_after_build

    outdir = Path(arguments[0])
    endings = {
        "environment": failure_on_validation(
            lambda: synthesize(load_config("sandbox"), outdir / "environment", extend=add_non_compliant_stack)
        )
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline_stack, "FolioStage", StageWithExtra)
        endings["pipeline"] = failure_on_validation(
            lambda: synthesize_pipeline(outdir / "pipeline", extend=inject_after_build)
        )
    print(json.dumps(endings))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
