"""Folio's CDK app: picks the environment's config, builds its Stage and its regional serving
stages, synthesizes.

cdk synth                 # the sandbox environment
cdk synth -c env=prod     # another environment from stacks/environments.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# The key schema lives with the runtime code (lambda/folio/keys.py); the stacks read
# attribute and index names from it, so `lambda` is on the path as it is for pytest.
sys.path.insert(0, str(Path(__file__).resolve().parent / "lambda"))

import aws_cdk as cdk

from stacks.config import ConfigError, load_config
from stacks.nag import register_nag_packs, validation_failures
from stacks.names import EnvironmentNames
from stacks.regional_serving_stage import regional_serving_stages
from stacks.stage import FolioStage


def main() -> int:
    app = cdk.App()
    environment = app.node.try_get_context("env") or "sandbox"
    try:
        # The only place Folio reads the process environment: the CLI's account, if any.
        config = load_config(str(environment), cli_account=os.environ.get("CDK_DEFAULT_ACCOUNT"))
    except ConfigError as error:
        print(f"folio: {error}", file=sys.stderr)
        return 2
    register_nag_packs(app)
    names = EnvironmentNames.of(config)
    FolioStage(app, names.stage_id, config=config, names=names)
    # For direct deploys: the read-only API in each replica Region, deployed after the stage above
    # and after its values are published to SSM there (README, "Regional serving stages").
    regional_serving_stages(app, config, names)
    assembly = app.synth()
    failures = validation_failures(assembly.directory)
    for failure in failures:
        print(f"folio: policy validation: {failure}", file=sys.stderr)
    if failures:
        print(
            f"folio: {len(failures)} unacknowledged cdk-nag or Control Tower finding(s); synth failed", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
