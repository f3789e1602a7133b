"""Folio's CDK app: picks the environment's config, builds its Stage, its regional serving
stages and the pipeline, synthesizes.

cdk synth                 # the sandbox environment (for direct deploys) and the pipeline
cdk synth -c env=prod     # another environment from stacks/environments.py, and the pipeline

The pipeline (FolioPipeline, where stacks/environments.py enables it) holds the stages it
deploys, built from the same FolioStage class.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# The key schema lives with the runtime code (lambda/folio/keys.py); the stacks read
# attribute and index names from it, so `lambda` is on the path as it is for pytest.
sys.path.insert(0, str(Path(__file__).resolve().parent / "lambda"))

import aws_cdk as cdk

from stacks.config import ConfigError, load_config, load_pipeline_config, load_pipeline_environments
from stacks.nag import check_ahead, checked_app, stop_checks_ahead, validation_failures
from stacks.names import EnvironmentNames
from stacks.pipeline_stack import PipelineStack, cdk_assets_version, cdk_cli_version
from stacks.regional_serving_stage import regional_serving_stages
from stacks.stage import FolioStage

PIPELINE_STACK_ID = "FolioPipeline"  # `cdk deploy FolioPipeline` (README, "Deploying for real")


def main() -> int:
    app = checked_app(validate_cloudformation=True)
    environment = app.node.try_get_context("env") or "sandbox"
    try:
        # The only place Folio reads the process environment: the CLI's account, if any.
        config = load_config(str(environment), cli_account=os.environ.get("CDK_DEFAULT_ACCOUNT"))
        pipeline = load_pipeline_config()
        delivered = load_pipeline_environments(pipeline) if pipeline else None
    except ConfigError as error:
        print(f"folio: {error}", file=sys.stderr)
        return 2
    try:
        # Each stage is synthesized as soon as it is built, and its templates checked while the
        # rest of the App is built (stacks/nag.py, check_ahead): the sandbox stage here, the
        # pipeline's stages as CDK Pipelines adds them (which synthesizes them).
        names = EnvironmentNames.of(config)
        stage = FolioStage(app, names.stage_id, config=config, names=names)
        # For direct deploys: the read-only API in each replica Region, deployed after the stage above
        # and after its values are published to SSM there (README, "Regional serving stages").
        for each in (stage, *regional_serving_stages(app, config, names)):
            check_ahead(each)
        if pipeline and delivered:
            test_environment, production = delivered
            PipelineStack(
                app,
                PIPELINE_STACK_ID,
                env=cdk.Environment(account=pipeline.account, region=pipeline.region),
                description="Folio: the self-mutating pipeline that delivers every environment",
                pipeline=pipeline,
                test_environment=test_environment,
                production=production,
                cli_version=cdk_cli_version(),
                assets_cli_version=cdk_assets_version(),
            )
        assembly = app.synth()
    finally:
        # A build or synth that failed must not wait for checks no synth will read.
        stop_checks_ahead(app)
    failures = validation_failures(assembly.directory)
    for failure in failures:
        print(f"folio: policy validation: {failure}", file=sys.stderr)
    if failures:
        checks = "cdk-nag, Control Tower or CloudFormation validation"
        print(f"folio: {len(failures)} unacknowledged {checks} finding(s); synth failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
