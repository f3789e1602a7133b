"""`PipelineStack`: the self-mutating CDK pipeline that delivers Folio to its environments.

One pipeline, in a toolchain account (`PipelineConfig`), builds the configured branch through
a CodeConnections connection, runs the same Makefile targets as CI, updates itself, deploys
the test environment and its regional serving stages, smoke-tests them, waits for an approval
and deploys production, then production's regional serving stages. Every
environment is the same `FolioStage` that `app.py` builds for a direct deploy, so the two
ways of deploying cannot drift.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import pipelines
from constructs import Construct

from stacks import asset_publisher, pipeline_permissions
from stacks.components.encryption_key import EncryptionKey, grants_only_for_aws_services
from stacks.components.pipeline_notifications import PipelineNotifications
from stacks.config import FolioConfig, PipelineConfig
from stacks.nag import check_ahead
from stacks.names import EnvironmentNames
from stacks.pipeline_findings import PipelineFindings
from stacks.regional_serving_stage import RegionalServingStage, publication_commands, regional_serving_stages
from stacks.stage import FolioStage

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# package.json pins the CDK CLI and cdk-assets (with its lock file) for developers and CI; the
# pipeline's self-mutation step installs that CLI. Its asset step runs Folio's publisher
# (stacks/asset_publisher.py), but CDK Pipelines still adds `npm install -g cdk-assets@<version>`
# to it: pinned too, as that project holds the file-publishing roles of every environment (never
# npm's `latest` of the day).
CDK_CLI_PACKAGE = "aws-cdk"
CDK_ASSETS_PACKAGE = "cdk-assets"
EXACT_VERSION = re.compile(r"\d+\.\d+\.\d+")

# What the synth step runs: what CI runs (.ci/run: `make test`), then the synth whose
# cloud assembly (cdk.out) the pipeline deploys.
SYNTH_COMMANDS = ("make test", "make synth")
CLOUD_ASSEMBLY_DIRECTORY = "cdk.out"  # where `cdk synth` (cdk.json's app) writes the assembly

# The one CodeBuild image of every step: Ubuntu 22.04 (aws/codebuild/standard:7.0) with Python
# and Node (the Makefile installs Node 24 and the CDK CLI itself). No Docker, so never privileged.
BUILD_IMAGE = codebuild.LinuxBuildImage.STANDARD_7_0
BUILD_LOG_RETENTION = logs.RetentionDays.ONE_YEAR

# Artifacts (source zips, cloud assemblies) serve the execution that made them and a retry
# of its stages; a superseded version is kept a while for a look after a failed run.
ARTIFACT_EXPIRY = cdk.Duration.days(90)
NONCURRENT_ARTIFACT_EXPIRY = cdk.Duration.days(30)
INCOMPLETE_UPLOAD_EXPIRY = cdk.Duration.days(7)

SMOKE_TEST_COMMAND = "python tools/smoke_test.py"
# The step's environment, named as tools/smoke_test.py reads it.
SMOKE_TEST_API_URL = "FOLIO_API_URL"
SMOKE_TEST_USER_POOL_ID = "FOLIO_USER_POOL_ID"
SMOKE_TEST_USER_POOL_CLIENT_ID = "FOLIO_USER_POOL_CLIENT_ID"
SMOKE_TEST_ROLE_ARN = "FOLIO_SMOKE_ROLE_ARN"
SMOKE_TEST_REGIONAL_API_URLS = "FOLIO_REGIONAL_API_URLS"
PUBLICATION_SESSION = "folio-publish"


def pinned_node_tool(package: str, package_json: Path = PROJECT_ROOT / "package.json") -> str:
    """The exact version of `package` that package.json pins: written once, there."""
    version = json.loads(package_json.read_text())["devDependencies"][package]
    if not isinstance(version, str) or not EXACT_VERSION.fullmatch(version):
        raise ValueError(f"package.json must pin {package} to an exact version, not {version!r}")
    return version


def cdk_cli_version(package_json: Path = PROJECT_ROOT / "package.json") -> str:
    """The CDK CLI version package.json pins."""
    return pinned_node_tool(CDK_CLI_PACKAGE, package_json)


def cdk_assets_version(package_json: Path = PROJECT_ROOT / "package.json") -> str:
    """The cdk-assets version package.json pins."""
    return pinned_node_tool(CDK_ASSETS_PACKAGE, package_json)


def pinned_requirement(package: str, requirements: Path = PROJECT_ROOT / "requirements.txt") -> str:
    """`package==<version>` as requirements.txt pins it (written once, there)."""
    for line in requirements.read_text().splitlines():
        if line.split("==")[0].strip() == package:
            return line.strip()
    raise ValueError(f"requirements.txt does not pin {package}")


def assume_role_command(role_arn: str, session_name: str) -> str:
    """One shell command (POSIX sh) that exports credentials of `role_arn` for the commands after
    it: a buildspec's commands share one shell, and the CLI prefers these variables to the
    project role's. The assignment keeps `aws`'s exit status (an `export $(...)` would not), so
    a refused assumption fails the build instead of running on with the project role."""
    query = "Credentials.[AccessKeyId,SecretAccessKey,SessionToken]"
    return (
        f"credentials=$(aws sts assume-role --role-arn {role_arn} --role-session-name {session_name} "
        f"--query '{query}' --output text) && "
        "export $(printf 'AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_SESSION_TOKEN=%s' $credentials)"
    )


def publish_home_values_step(home: FolioStage, regions: list[str]) -> pipelines.CodeBuildStep:
    """Write the home stage's values (its outputs) into each replica Region's SSM parameters, which
    the regional serving stages read at deploy time (stacks/regional_serving_stage.py), as the
    home environment's delivery role: the parameters are in its account, not the pipeline's."""
    names = home.names
    role_arn = pipeline_permissions.delivery_role_arn(home.config, names)
    return pipelines.CodeBuildStep(
        "PublishHomeValues",
        env_from_cfn_outputs=home.serving_outputs,
        commands=[
            assume_role_command(role_arn, PUBLICATION_SESSION),
            *(command for region in regions for command in publication_commands(names, region)),
        ],
        role=pipeline_permissions.step_role(home, names.publication_role),
        role_policy_statements=pipeline_permissions.assume_delivery_role(home.config, names),
    )


class PipelineStack(cdk.Stack):
    """The CodePipeline (V2) that updates itself and deploys the test environment, a smoke
    test, an approval and production, with encrypted artifacts and notifications."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipeline: PipelineConfig,
        test_environment: FolioConfig,
        production: FolioConfig,
        cli_version: str,
        assets_cli_version: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # Every CodeBuild project (synth, self-mutation, assets, smoke test) logs here.
        self.build_logs = logs.LogGroup(
            self,
            "BuildLogs",
            encryption_key=EncryptionKey(
                self, "BuildLogKey", description="Folio: encrypts the pipeline's build logs", for_log_groups=True
            ).key,
            retention=BUILD_LOG_RETENTION,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        source = pipelines.CodePipelineSource.connection(
            pipeline.repository, pipeline.branch, connection_arn=pipeline.connection_arn
        )
        self.synth = pipelines.ShellStep(
            "Synth",
            input=source,
            commands=list(SYNTH_COMMANDS),
            primary_output_directory=CLOUD_ASSEMBLY_DIRECTORY,
        )
        self.pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            pipeline_name="folio",
            pipeline_type=codepipeline.PipelineType.V2,
            synth=self.synth,
            # Deploys into other accounts: the artifact bucket (and each Region's replication
            # bucket) is encrypted with a customer-managed key the target accounts may use.
            cross_account_keys=True,
            enable_key_rotation=True,
            self_mutation=True,
            docker_enabled_for_synth=False,
            docker_enabled_for_self_mutation=False,
            cli_version=cli_version,
            cdk_assets_cli_version=assets_cli_version,
            # One asset-publishing project per asset type instead of one per asset.
            publish_assets_in_parallel=False,
            # ...which runs tools/asset-publisher: the newest cdk-assets cannot read the assembly.
            asset_publishing_code_build_defaults=asset_publisher.asset_publishing_defaults(),
            use_pipeline_role_for_actions=True,
            code_build_defaults=pipelines.CodeBuildOptions(
                build_environment=codebuild.BuildEnvironment(build_image=BUILD_IMAGE, privileged=False),
                logging=codebuild.LoggingOptions(
                    cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=self.build_logs, enabled=True)
                ),
            ),
            # `make test` runs every suite on two cores.
            synth_code_build_defaults=pipelines.CodeBuildOptions(
                build_environment=codebuild.BuildEnvironment(compute_type=codebuild.ComputeType.MEDIUM),
            ),
        )

        test_names = EnvironmentNames.of(test_environment)
        self.test_stage = FolioStage(
            self,
            test_names.stage_id,
            config=test_environment,
            names=test_names,
            # Its regional wave publishes the home values in each of its replica Regions too.
            delivered_by=pipeline_permissions.Delivery(
                pipeline_account=pipeline.account,
                smoke_test=True,
                publication_regions=test_environment.replica_regions,
            ),
        )
        # The test environment has production's shape: its replica Regions get serving stages too,
        # so that what only AWS can prove about them (the home pool accepted by another Region's
        # authorizer, the published values resolved) is proven before the approval, by the smoke
        # test reading through each of them.
        self.test_regional_stages = regional_serving_stages(self, test_environment, test_names)
        self.smoke_test = smoke_test_step(self.test_stage, source, regional=self.test_regional_stages)
        # Adding a stage synthesizes it: its templates are final and checked from then on, while
        # the rest of the App is built (stacks/nag.py, check_ahead).
        if self.test_regional_stages:
            self.pipeline.add_stage(self.test_stage)
            check_ahead(self.test_stage)
            self.test_regional_wave: pipelines.Wave | None = self.pipeline.add_wave(
                f"{test_names.stage_id}-Regions",
                pre=[publish_home_values_step(self.test_stage, list(test_environment.replica_regions))],
                post=[self.smoke_test],
            )
            for stage in self.test_regional_stages:
                self.test_regional_wave.add_stage(stage)
                check_ahead(stage)
        else:
            self.pipeline.add_stage(self.test_stage, post=[self.smoke_test])
            check_ahead(self.test_stage)
            self.test_regional_wave = None

        production_names = EnvironmentNames.of(production)
        self.approval = pipelines.ManualApprovalStep(
            "PromoteToProduction",
            comment=f"{test_environment.name} passed its smoke test: deploy this commit to {production.name}?",
        )
        self.production_stage = FolioStage(
            self,
            production_names.stage_id,
            config=production,
            names=production_names,
            # The regional wave below publishes the home values in each replica Region.
            delivered_by=pipeline_permissions.Delivery(
                pipeline_account=pipeline.account,
                publication_regions=production.replica_regions,
            ),
        )
        self.production_wave = self.pipeline.add_wave("Production", pre=[self.approval])
        self.production_wave.add_stage(self.production_stage)
        check_ahead(self.production_stage)
        regional = regional_serving_stages(self, production, production_names)
        if regional:
            # After the home Region's stage: each reads its table's replica and its user pool,
            # whose values the wave's first step publishes in each replica Region.
            self.regional_wave: pipelines.Wave | None = self.pipeline.add_wave(
                "ProductionRegions",
                pre=[publish_home_values_step(self.production_stage, list(production.replica_regions))],
            )
            for stage in regional:
                self.regional_wave.add_stage(stage)
                check_ahead(stage)
        else:
            self.regional_wave = None

        self.pipeline.build_pipeline()
        # The asset step's only input is the cloud assembly (the App's, where CDK Pipelines writes
        # its buildspec files too): the publisher travels in it.
        app = self.node.root
        assert isinstance(app, cdk.Stage) and app.outdir, "a PipelineStack belongs to an App with an output directory"
        asset_publisher.ship_into_assembly(Path(app.outdir))
        # CDK Pipelines writes each deploy action's role ARNs as Fn::Join with the partition;
        # cfn-lint prefers Fn::Sub (E3703), a style of the generated template, not a defect.
        pipeline_resource = self.pipeline.pipeline.node.default_child
        assert isinstance(pipeline_resource, cdk.CfnResource)
        pipeline_resource.add_metadata("cfn-lint", {"config": {"ignore_checks": ["E3703"]}})
        self.artifact_buckets = harden_artifact_buckets(self.pipeline.pipeline)
        self.asset_roles = pipeline_permissions.withhold_build_control_from_asset_roles(self.pipeline)
        PipelineFindings(
            account=self.account,
            region=self.region,
            artifact_buckets=self.artifact_buckets,
            pipeline_role=self.pipeline.pipeline.role,
            self_mutation_role=pipeline_permissions.project_role(self.pipeline.self_mutation_project),
        ).acknowledge_under(self.pipeline, pipeline_permissions.step_roles(self))
        self.notifications = PipelineNotifications(self, "Notifications", email=pipeline.notification_email)
        self.notifications.notify(self.pipeline.pipeline)


def support_of_other_regions(pipeline: codepipeline.Pipeline) -> list[codepipeline.CrossRegionSupport]:
    """The replication bucket and support stack of each Region other than the pipeline's (whose
    own entry in `cross_region_support` is the pipeline's stack and artifact bucket)."""
    home = cdk.Stack.of(pipeline)
    return [support for _, support in sorted(pipeline.cross_region_support.items()) if support.stack is not home]


def harden_artifact_buckets(pipeline: codepipeline.Pipeline) -> list[s3.IBucket]:
    """What CDK Pipelines leaves out of its artifact bucket and of the replication bucket of
    each other Region it deploys to (in a support stack it adds): versions, expiry, the key
    policy statement of AWS Control Tower CT.KMS.PR.3, and a key retained like its bucket.
    Call after `build_pipeline()`, which creates the support stacks. Returns the buckets."""
    buckets = [
        pipeline.artifact_bucket,
        *(support.replication_bucket for support in support_of_other_regions(pipeline)),
    ]
    for bucket in buckets:
        resource = bucket.node.default_child
        assert isinstance(resource, s3.CfnBucket), f"{bucket.node.path} is not a bucket CDK created"
        resource.versioning_configuration = s3.CfnBucket.VersioningConfigurationProperty(status="Enabled")
        resource.lifecycle_configuration = s3.CfnBucket.LifecycleConfigurationProperty(
            rules=[
                s3.CfnBucket.RuleProperty(
                    id="ExpireArtifacts",
                    status="Enabled",
                    expiration_in_days=ARTIFACT_EXPIRY.to_days(),
                    noncurrent_version_expiration=s3.CfnBucket.NoncurrentVersionExpirationProperty(
                        noncurrent_days=NONCURRENT_ARTIFACT_EXPIRY.to_days()
                    ),
                    abort_incomplete_multipart_upload=s3.CfnBucket.AbortIncompleteMultipartUploadProperty(
                        days_after_initiation=INCOMPLETE_UPLOAD_EXPIRY.to_days()
                    ),
                )
            ]
        )
        assert bucket.encryption_key is not None, "cross_account_keys encrypts every artifact bucket with a key"
        bucket.encryption_key.add_to_resource_policy(grants_only_for_aws_services())
        # The buckets are retained with their stack; so must their keys be, or what they keep is unreadable.
        key = bucket.encryption_key
        key_resource = (key.alias_target_key if isinstance(key, kms.Alias) else key).node.default_child
        assert isinstance(key_resource, kms.CfnKey), f"{bucket.node.path}: not a key CDK created"
        key_resource.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
    return buckets


def smoke_test_step(
    stage: FolioStage, source: pipelines.IFileSetProducer, *, regional: Sequence[RegionalServingStage] = ()
) -> pipelines.CodeBuildStep:
    """tools/smoke_test.py against a deployed stage and its `regional` serving stages: its API,
    user pool and client, and each regional API, come from the stages' outputs; it manages its
    test user as the stage's delivery role (Cognito has no resource policies: a role in the
    stage's account), which its own role may assume and nothing else. `source` is the commit
    being delivered, which holds the script."""
    config = stage.config
    regional_urls = {f"{SMOKE_TEST_REGIONAL_API_URLS}_{n}": s.api.api_url_output for n, s in enumerate(regional, 1)}
    # The script takes the regional URLs as one list; the step has one variable per output.
    join_regional_urls = [f'export {SMOKE_TEST_REGIONAL_API_URLS}="{",".join(f"${name}" for name in regional_urls)}"']
    # A CodeBuildStep: a ShellStep whose project role can be given statements.
    return pipelines.CodeBuildStep(
        "SmokeTest",
        input=source,
        env_from_cfn_outputs={
            SMOKE_TEST_API_URL: stage.api.api_url_output,
            SMOKE_TEST_USER_POOL_ID: stage.data.user_pool_id_output,
            SMOKE_TEST_USER_POOL_CLIENT_ID: stage.data.smoke_test_client_id_output,
            **regional_urls,
        },
        env={
            # The stage's Region, not the pipeline's (CodeBuild sets AWS_REGION to its own).
            "AWS_REGION": config.region,
            SMOKE_TEST_ROLE_ARN: pipeline_permissions.delivery_role_arn(config, stage.names),
        },
        # boto3 at the version the code is tested with (requirements.txt), not the image's.
        install_commands=[f"python -m pip install --quiet {pinned_requirement('boto3')}"],
        commands=[*(join_regional_urls if regional_urls else []), SMOKE_TEST_COMMAND],
        role=pipeline_permissions.step_role(stage, stage.names.smoke_test_role),
        role_policy_statements=pipeline_permissions.assume_delivery_role(config, stage.names),
    )
