"""The delivery pipeline (stacks/pipeline_stack.py), on its synthesized templates: what it
runs, in which order, with which keys and roles, and whom it tells."""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from stacks.config import load_pipeline_config
from stacks.pipeline_permissions import SMOKE_TEST_COGNITO_ACTIONS
from stacks.pipeline_stack import assume_role_command, cdk_assets_version, cdk_cli_version
from stacks.stage import FolioStage
from tests.conftest import PROJECT_ROOT, Synthesized, SynthesizedPipeline
from tests.support.templates import as_list


def resources(template: dict[str, Any], resource_type: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, resource in template.get("Resources", {}).items():
        if resource["Type"] == resource_type:
            yield logical_id, resource["Properties"]


def pipeline_template(synth: SynthesizedPipeline) -> dict[str, Any]:
    return synth.templates[synth.stack.stack_name]


def the_pipeline(synth: SynthesizedPipeline) -> dict[str, Any]:
    (pipeline,) = [p for _, p in resources(pipeline_template(synth), "AWS::CodePipeline::Pipeline")]
    return pipeline


def projects(synth: SynthesizedPipeline) -> dict[str, dict[str, Any]]:
    found = {}
    for template in synth.templates.values():
        found.update(resources(template, "AWS::CodeBuild::Project"))
    return found


def buildspec(project: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(project["Source"]["BuildSpec"])
    return spec


def project_of(synth: SynthesizedPipeline, step_path: str) -> dict[str, Any]:
    """The project of a pipeline step, by the step's path in its description."""
    (project,) = [p for p in projects(synth).values() if p["Description"].endswith(step_path)]
    return project


def test_the_pipeline_is_a_v2_pipeline(synthesized_pipeline: SynthesizedPipeline) -> None:
    assert the_pipeline(synthesized_pipeline)["PipelineType"] == "V2"


def test_the_pipeline_updates_itself_before_it_deploys(synthesized_pipeline: SynthesizedPipeline) -> None:
    stages = [s["Name"] for s in the_pipeline(synthesized_pipeline)["Stages"]]
    self_mutation = buildspec(project_of(synthesized_pipeline, "/UpdatePipeline/SelfMutate"))

    assert stages[:4] == ["Source", "Build", "UpdatePipeline", "Assets"]
    assert the_pipeline(synthesized_pipeline)["RestartExecutionOnUpdate"] is True
    assert self_mutation["phases"]["build"]["commands"][0].startswith(
        f"cdk -a . deploy {synthesized_pipeline.stack.stack_name} "
    )


def test_the_source_is_the_configured_codeconnections_repository_and_branch(
    synthesized_pipeline: SynthesizedPipeline,
) -> None:
    config = load_pipeline_config()
    assert config is not None
    (source,) = the_pipeline(synthesized_pipeline)["Stages"][0]["Actions"]

    assert source["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    assert source["Configuration"]["ConnectionArn"] == config.connection_arn
    assert source["Configuration"]["FullRepositoryId"] == config.repository
    assert source["Configuration"]["BranchName"] == config.branch


def test_no_build_is_privileged_and_every_project_is_encrypted_with_the_artifact_key(
    synthesized_pipeline: SynthesizedPipeline,
) -> None:
    found = projects(synthesized_pipeline)
    (artifact_store,) = [
        s["ArtifactStore"] for s in the_pipeline(synthesized_pipeline)["ArtifactStores"] if s["Region"] == "us-east-1"
    ]
    artifact_key = artifact_store["EncryptionKey"]["Id"]

    # synth, self-mutation, file assets, smoke test, and the publication before each environment's
    # regional stages (dev's and prod's)
    assert len(found) == 6, sorted(found)
    for logical_id, project in found.items():
        assert project["Environment"].get("PrivilegedMode", False) is False, logical_id
        assert project["EncryptionKey"] == artifact_key, logical_id
        assert project["LogsConfig"]["CloudWatchLogs"]["Status"] == "ENABLED", logical_id


def test_no_build_keeps_a_cache_between_runs(synthesized_pipeline: SynthesizedPipeline) -> None:
    """Every build starts from its inputs alone: the synth step from the source (so it checks
    every template with Control Tower: stacks/control_tower.py's report cache is the machine's,
    never the pipeline's), the others from their artifacts."""
    found = projects(synthesized_pipeline)

    no_cache = {"Type": "NO_CACHE"}
    assert found and {logical_id: project.get("Cache", no_cache) for logical_id, project in found.items()} == {
        logical_id: no_cache for logical_id in found
    }


def test_every_artifact_store_is_encrypted_with_a_customer_managed_key(
    synthesized_pipeline: SynthesizedPipeline,
) -> None:
    stores = the_pipeline(synthesized_pipeline)["ArtifactStores"]

    # The pipeline's Region and every other Region a stage deploys to.
    assert {s["Region"] for s in stores} == {"us-east-1", "eu-west-1", "eu-central-1", "us-west-2", "us-east-2"}
    for store in stores:
        assert store["ArtifactStore"]["EncryptionKey"]["Type"] == "KMS"
    for name, template in synthesized_pipeline.templates.items():
        for logical_id, bucket in resources(template, "AWS::S3::Bucket"):
            (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms", f"{name}/{logical_id}"
            assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}, f"{name}/{logical_id}"
            assert bucket["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == 90, f"{name}/{logical_id}"


def test_every_key_of_the_pipeline_and_its_support_stacks_rotates(synthesized_pipeline: SynthesizedPipeline) -> None:
    keys = [
        (name, logical_id, key)
        for name, template in synthesized_pipeline.templates.items()
        for logical_id, key in resources(template, "AWS::KMS::Key")
    ]

    # The artifact key, the build log key, the notification key, one replication key per other Region.
    assert len(keys) == 3 + 4
    assert len({name for name, _, _ in keys}) == 5
    for name, logical_id, key in keys:
        assert key.get("EnableKeyRotation") is True, f"{name}/{logical_id}"


def key_of(template: dict[str, Any], key_arn: Any) -> str:
    """The logical id of the key a bucket names: its ARN (Fn::GetAtt) or, in a support stack, an
    ARN joined with its alias (CDK Pipelines names the replication key by alias)."""
    if "Fn::GetAtt" in key_arn:
        return str(key_arn["Fn::GetAtt"][0])
    (alias,) = [part["Ref"] for part in key_arn["Fn::Join"][1] if isinstance(part, dict) and "Ref" in part]
    return str(template["Resources"][alias]["Properties"]["TargetKeyId"]["Fn::GetAtt"][0])


def test_the_key_of_every_retained_bucket_of_the_pipeline_is_retained(
    synthesized_pipeline: SynthesizedPipeline,
) -> None:
    # A retained bucket whose key CloudFormation deletes with the stack holds objects nobody can read.
    checked = []
    for name, template in synthesized_pipeline.templates.items():
        for logical_id, bucket in template["Resources"].items():
            if bucket["Type"] != "AWS::S3::Bucket" or bucket.get("DeletionPolicy") != "Retain":
                continue
            (rule,) = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            key_id = key_of(template, rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"])
            key = template["Resources"][key_id]
            assert (key.get("DeletionPolicy"), key.get("UpdateReplacePolicy")) == ("Retain", "Retain"), (
                f"{name}/{logical_id}: its key {key_id}"
            )
            checked.append(logical_id)

    assert len(checked) == 1 + 4  # the artifact bucket, one replication bucket per other Region


def role_of(project: dict[str, Any]) -> str:
    """The logical id of a CodeBuild project's service role."""
    role: str = project["ServiceRole"]["Fn::GetAtt"][0]
    return role


def grants(template: dict[str, Any], action: str) -> Iterator[tuple[list[Any], dict[str, Any]]]:
    """(the roles of the policy, the statement) of every Allow statement in `template` whose
    actions match `action`, wildcards included."""
    for policy_type in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for _, policy in resources(template, policy_type):
            for statement in policy["PolicyDocument"]["Statement"]:
                patterns = as_list(statement["Action"])
                if statement["Effect"] == "Allow" and any(fnmatch.fnmatchcase(action, p) for p in patterns):
                    yield policy.get("Roles", []), statement


def test_no_action_of_the_pipeline_runs_as_the_asset_role(synthesized_pipeline: SynthesizedPipeline) -> None:
    # The pipeline role starts every build (use_pipeline_role_for_actions): the asset project's
    # role is only the role its build runs as, which is why it may start no build itself.
    (asset_project,) = [p for p in projects(synthesized_pipeline).values() if "/Assets/" in p["Description"]]
    asset_role = {"Fn::GetAtt": [role_of(asset_project), "Arn"]}
    stages = the_pipeline(synthesized_pipeline)["Stages"]
    action_roles = [a.get("RoleArn") for stage in stages for a in stage["Actions"]]

    assert the_pipeline(synthesized_pipeline)["RoleArn"] != asset_role
    assert asset_role not in action_roles
    # Every build action runs as the pipeline's role
    assert [a for stage in stages for a in stage["Actions"] if a["ActionTypeId"]["Provider"] == "CodeBuild"]
    assert all(
        "RoleArn" not in a for stage in stages for a in stage["Actions"] if a["ActionTypeId"]["Provider"] == "CodeBuild"
    )


@pytest.mark.parametrize("action", ["codebuild:StartBuild", "codebuild:StopBuild", "codebuild:RetryBuild"])
def test_only_the_pipeline_role_may_start_or_stop_builds_and_only_of_its_own_projects(
    synthesized_pipeline: SynthesizedPipeline, action: str
) -> None:
    # A build started with a buildspec override runs any command as the project's role: whoever
    # may start SelfMutation's build may deploy as the toolchain, SmokeTest's or
    # PublishHomeValues' may act as an environment's delivery role.
    template = pipeline_template(synthesized_pipeline)
    pipeline_role = {"Ref": the_pipeline(synthesized_pipeline)["RoleArn"]["Fn::GetAtt"][0]}
    own_projects = [{"Fn::GetAtt": [project, "Arn"]} for project, _ in resources(template, "AWS::CodeBuild::Project")]

    found = list(grants(template, action))

    assert all(roles == [pipeline_role] for roles, _ in found), found
    assert all(r in own_projects for _, statement in found for r in as_list(statement["Resource"])), found
    for name, template in synthesized_pipeline.templates.items():
        if name != synthesized_pipeline.stack.stack_name:
            assert list(grants(template, action)) == [], name


def test_the_cdk_cli_version_is_package_jsons(synthesized_pipeline: SynthesizedPipeline) -> None:
    pinned = json.loads((PROJECT_ROOT / "package.json").read_text())["devDependencies"]["aws-cdk"]
    self_mutation = buildspec(project_of(synthesized_pipeline, "/UpdatePipeline/SelfMutate"))

    assert cdk_cli_version() == pinned
    assert self_mutation["phases"]["install"]["commands"] == [f"npm install -g aws-cdk@{pinned}"]


def buildspec_text(synth: SynthesizedPipeline, project: dict[str, Any]) -> str:
    """A project's buildspec as written: inline, or a file of the assembly (CDK writes long ones there)."""
    spec: str = project["Source"]["BuildSpec"]
    return (synth.assembly_directory / spec).read_text() if spec.endswith(".yaml") else spec


# `npm install [-g] pkg@1.2.3` and `pip install pkg==1.2.3`: what a step installs, with its version.
INSTALLS = re.compile(r"(npm (?:install|i)|pip3? install)((?:\s+(?!&&|\|\||;)[^\s\\\"',;&|]+)+)")
EXACT = re.compile(r"^(@?[\w.-]+(?:/[\w.-]+)?@\d+\.\d+\.\d+|[\w.-]+(?:\[[\w,]+\])?==\d[\w.]*)$")


def test_every_tool_the_pipeline_installs_is_pinned(synthesized_pipeline: SynthesizedPipeline) -> None:
    # The asset step runs cdk-assets with the file-publishing roles of dev and prod: whatever npm
    # serves as `latest` on the day would run with them.
    installs = [
        (tool, package)
        for project in projects(synthesized_pipeline).values()
        for tool, packages in INSTALLS.findall(buildspec_text(synthesized_pipeline, project))
        for package in packages.split()
        if not package.startswith("-")
    ]

    assert {tool for tool, _ in installs} >= {"npm install", "pip install"}, installs
    assert [package for _, package in installs if not EXACT.match(package)] == []


def test_the_cdk_assets_version_is_package_jsons(synthesized_pipeline: SynthesizedPipeline) -> None:
    pinned = json.loads((PROJECT_ROOT / "package.json").read_text())["devDependencies"]["cdk-assets"]
    (asset_project,) = [p for p in projects(synthesized_pipeline).values() if "/Assets/" in p["Description"]]

    assert f"npm install -g cdk-assets@{pinned}" in buildspec_text(synthesized_pipeline, asset_project)


# tools/asset-publisher, as the asset step receives it: the assembly is the FileAsset project's only input.
ASSET_PUBLISHER = PROJECT_ROOT / "tools" / "asset-publisher"
SHIPPED_PUBLISHER = "folio-asset-publisher"
PUBLISHER_FILES = ("bin/cdk-assets", "package-lock.json", "package.json")


def asset_project(synth: SynthesizedPipeline) -> dict[str, Any]:
    (project,) = [p for p in projects(synth).values() if "/Assets/" in p["Description"]]
    return project


def test_the_assembly_carries_the_asset_publisher_byte_identical(synthesized_pipeline: SynthesizedPipeline) -> None:
    shipped = synthesized_pipeline.assembly_directory / SHIPPED_PUBLISHER

    assert sorted(str(p.relative_to(shipped)) for p in shipped.rglob("*") if p.is_file()) == list(PUBLISHER_FILES)
    for name in PUBLISHER_FILES:
        assert (shipped / name).read_bytes() == (ASSET_PUBLISHER / name).read_bytes(), name


def test_the_asset_step_installs_the_publisher_from_its_lock_and_runs_it(
    synthesized_pipeline: SynthesizedPipeline,
) -> None:
    spec = yaml.safe_load(buildspec_text(synthesized_pipeline, asset_project(synthesized_pipeline)))
    install = spec["phases"]["install"]["commands"]
    publisher_bin = f"$CODEBUILD_SRC_DIR/{SHIPPED_PUBLISHER}/bin"

    # npm ci installs exactly the committed lock (it fails if package.json and the lock disagree),
    # without running any package's install scripts in a project that holds publishing roles.
    (npm_ci,) = [c for c in install if c.startswith("npm ci ")]
    assert npm_ci.split()[:4] == ["npm", "ci", "--prefix", SHIPPED_PUBLISHER]
    assert "--ignore-scripts" in npm_ci.split()
    # ...then the publisher's bin comes first on PATH (one shell for every command of the buildspec),
    assert f'export PATH="{publisher_bin}:$PATH"' in install
    # before CDK's own global install of cdk-assets, which the API always adds and which stays pinned.
    assert install.index(npm_ci) < install.index(f"npm install -g cdk-assets@{cdk_assets_version()}")
    # The build commands are CDK's own, unchanged; before them, the step proves which cdk-assets runs.
    assert all(c.startswith('cdk-assets --path "') for c in spec["phases"]["build"]["commands"])
    assert any(f"{SHIPPED_PUBLISHER}/bin/cdk-assets" in c for c in spec["phases"]["pre_build"]["commands"])
    # The AWS SDK the publisher uses needs Node 20 or newer; the image's default may be older.
    assert int(spec["phases"]["install"]["runtime-versions"]["nodejs"]) >= 20


def test_the_asset_publisher_pins_the_library_exactly_and_ignores_its_node_modules() -> None:
    package = json.loads((ASSET_PUBLISHER / "package.json").read_text())
    lock = json.loads((ASSET_PUBLISHER / "package-lock.json").read_text())
    # Read, not asked of git: the pipeline's synth step runs these tests in a source zip without .git.
    ignore_rules = (PROJECT_ROOT / ".gitignore").read_text().splitlines()

    assert package["bin"] == {"cdk-assets": "bin/cdk-assets"}
    assert package["private"] is True
    assert all(EXACT_VERSION_ONLY.fullmatch(v) for v in package["dependencies"].values()), package["dependencies"]
    assert lock["packages"][""]["dependencies"] == package["dependencies"]
    # An unanchored `node_modules/` ignores it at any depth.
    assert {"node_modules/", "/tools/asset-publisher/node_modules/"} & set(ignore_rules), "ignore its node_modules"


EXACT_VERSION_ONLY = re.compile(r"\d+\.\d+\.\d+")


@pytest.mark.parametrize("pinned", [cdk_cli_version(), cdk_assets_version()])
def test_the_node_tool_versions_are_written_only_in_package_json_and_its_lock(pinned: str) -> None:
    sources = [PROJECT_ROOT / "app.py", *(PROJECT_ROOT / "stacks").rglob("*.py"), PROJECT_ROOT / "Makefile"]

    assert [str(p.relative_to(PROJECT_ROOT)) for p in sources if pinned in p.read_text()] == []


@pytest.mark.parametrize("version", ["^2.1148.1", "2.x", "latest", "4.7"])
def test_a_range_of_a_node_tool_in_package_json_is_refused(tmp_path: Any, version: str) -> None:
    package = tmp_path / "package.json"
    package.write_text(json.dumps({"devDependencies": {"aws-cdk": version, "cdk-assets": version}}))

    with pytest.raises(ValueError, match="exact version"):
        cdk_cli_version(package)
    with pytest.raises(ValueError, match="exact version"):
        cdk_assets_version(package)


def make_targets() -> set[str]:
    return set(re.findall(r"^([a-z][a-z-]*):", (PROJECT_ROOT / "Makefile").read_text(), re.MULTILINE))


def test_the_synth_step_runs_the_makefile_targets_ci_runs_and_hands_on_cdk_out(
    synthesized_pipeline: SynthesizedPipeline,
) -> None:
    synth = buildspec(project_of(synthesized_pipeline, "/Build/Synth"))
    commands = synth["phases"]["build"]["commands"]
    ci = (PROJECT_ROOT / ".ci" / "run").read_text()
    cdk_json = json.loads((PROJECT_ROOT / "cdk.json").read_text())

    assert commands == ["make test", "make synth"]
    assert "make test" in ci  # the same target CI runs, then the synth it does not need
    assert {c.removeprefix("make ") for c in commands} <= make_targets()
    # `cdk synth` writes the assembly to cdk.out unless cdk.json says otherwise.
    assert "output" not in cdk_json
    assert synth["artifacts"]["base-directory"] == "cdk.out"


def actions(stage: dict[str, Any]) -> list[tuple[int, str, str]]:
    return sorted((a["RunOrder"], a["ActionTypeId"]["Category"], a["Name"]) for a in stage["Actions"])


def test_stages_run_dev_and_its_regions_then_the_smoke_test_then_an_approval_then_prod(
    synthesized_pipeline: SynthesizedPipeline,
) -> None:
    stages = {s["Name"]: s for s in the_pipeline(synthesized_pipeline)["Stages"]}
    names = list(stages)
    dev_regions = synthesized_pipeline.stack.test_stage.config.replica_regions

    # dev has one replica Region: CDK Pipelines names a wave of one stage after that stage
    assert dev_regions == ("eu-central-1",)
    assert names[4:] == ["FolioDev", "FolioDev-Serving-eu-central-1", "FolioProd", "ProductionRegions"]
    dev = actions(stages["FolioDev"])
    assert {name for _, _, name in dev if name.endswith(".Deploy")} == {
        f"{stack}.Deploy" for stack in synthesized_pipeline.stage_templates["FolioDev"]
    }
    # dev's serving stage: publish dev's home values there, deploy it, then smoke-test dev
    # through its home API and its regional API
    dev_serving = actions(stages["FolioDev-Serving-eu-central-1"])
    assert dev_serving[0] == (1, "Build", "PublishHomeValues")
    assert dev_serving[-1][1:] == ("Build", "SmokeTest")
    deploys = [(order, name) for order, category, name in dev_serving if category == "Deploy"]
    assert all(1 < order < dev_serving[-1][0] for order, _ in deploys), dev_serving
    assert {name.split(".")[0] for _, name in deploys} == {"Network", "Api"}
    prod = actions(stages["FolioProd"])
    assert prod[0] == (1, "Approval", "PromoteToProduction")
    assert all(order > 1 for order, _, _ in prod[1:])
    assert {name for _, _, name in prod if name.endswith(".Deploy")} == {
        f"{stack}.Deploy" for stack in synthesized_pipeline.stage_templates["FolioProd"]
    }
    # Then prod's serving stages, after a step that publishes the home values they read
    regions = actions(stages["ProductionRegions"])
    assert regions[0] == (1, "Build", "PublishHomeValues")
    serving = {tuple(name.split(".")[:2]) for _, _, name in regions if name.endswith(".Deploy")}
    assert all(order > 1 for order, category, _ in regions if category == "Deploy"), regions
    replicas = synthesized_pipeline.stack.production_stage.config.replica_regions
    assert serving == {(f"FolioProd-Serving-{r}", stack) for r in replicas for stack in ("Network", "Api")}, serving


def test_the_stages_are_folio_stages_of_dev_and_prod_and_their_serving_stages(
    synthesized_pipeline: SynthesizedPipeline,
) -> None:
    stack = synthesized_pipeline.stack

    assert (stack.test_stage.config.name, stack.production_stage.config.name) == ("dev", "prod")
    assert set(synthesized_pipeline.stage_templates["FolioDev"]) == {
        "Region-eu-central-1", "Data", "Network", "Search", "Api",
    }  # fmt: skip
    # each replica Region of dev and of prod gets a serving stage in the wave after its environment
    assert stack.test_regional_wave is not None
    assert [deployment.stage_name for deployment in stack.test_regional_wave.stages] == [
        f"FolioDev-Serving-{region}" for region in stack.test_stage.config.replica_regions
    ]
    assert stack.regional_wave is not None
    assert [deployment.stage_name for deployment in stack.regional_wave.stages] == [
        f"FolioProd-Serving-{region}" for region in stack.production_stage.config.replica_regions
    ]


def test_the_smoke_test_reads_the_outputs_of_dev_and_of_its_serving_stage(
    synthesized_pipeline: SynthesizedPipeline,
) -> None:
    stages = {s["Name"]: s for s in the_pipeline(synthesized_pipeline)["Stages"]}
    serving = stages["FolioDev-Serving-eu-central-1"]
    (smoke,) = [a for a in serving["Actions"] if a["Name"] == "SmokeTest"]
    variables = {v["name"]: v["value"] for v in json.loads(smoke["Configuration"]["EnvironmentVariables"])}
    home = {a["Name"]: a.get("Namespace") for a in stages["FolioDev"]["Actions"]}
    regional = {a["Name"]: a.get("Namespace") for a in serving["Actions"]}

    assert set(variables) == {
        "FOLIO_API_URL", "FOLIO_USER_POOL_ID", "FOLIO_USER_POOL_CLIENT_ID", "FOLIO_REGIONAL_API_URLS_1",
    }  # fmt: skip
    assert variables["FOLIO_API_URL"] == f"#{{{home['Api.Deploy']}.ApiUrl}}"
    assert variables["FOLIO_USER_POOL_ID"] == f"#{{{home['Data.Deploy']}.UserPoolId}}"
    assert variables["FOLIO_USER_POOL_CLIENT_ID"] == f"#{{{home['Data.Deploy']}.SmokeTestClientId}}"
    assert variables["FOLIO_REGIONAL_API_URLS_1"] == f"#{{{regional['Api.Deploy']}.ApiUrl}}"
    project = project_of(synthesized_pipeline, "/FolioDev-Serving-eu-central-1/SmokeTest")
    assert {"Name": "AWS_REGION", "Type": "PLAINTEXT", "Value": "eu-west-1"} in project["Environment"][
        "EnvironmentVariables"
    ]
    assert buildspec(project)["phases"]["build"]["commands"] == [
        'export FOLIO_REGIONAL_API_URLS="$FOLIO_REGIONAL_API_URLS_1"',
        "python tools/smoke_test.py",
    ]
    assert buildspec(project)["phases"]["install"]["commands"] == ["python -m pip install --quiet boto3==1.44.5"]


def role_statements(synth: SynthesizedPipeline, project: dict[str, Any]) -> list[dict[str, Any]]:
    role = project["ServiceRole"]["Fn::GetAtt"][0]
    template = pipeline_template(synth)
    return [
        statement
        for _, policy in resources(template, "AWS::IAM::Policy")
        if {"Ref": role} in policy["Roles"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def delivery_role_arn(stage: FolioStage) -> str:
    return f"arn:aws:iam::{stage.config.account}:role/{stage.names.delivery_role}"


def test_the_smoke_tests_role_may_only_assume_the_delivery_role_of_dev(
    synthesized_pipeline: SynthesizedPipeline,
) -> None:
    project = project_of(synthesized_pipeline, "/FolioDev-Serving-eu-central-1/SmokeTest")
    statements = role_statements(synthesized_pipeline, project)
    role_arn = delivery_role_arn(synthesized_pipeline.stack.test_stage)
    beyond_the_pipeline = [s for s in statements if s.get("Sid") == "AssumeDeliveryRole"]

    assert beyond_the_pipeline == [
        {"Sid": "AssumeDeliveryRole", "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}
    ]
    assert {"Name": "FOLIO_SMOKE_ROLE_ARN", "Type": "PLAINTEXT", "Value": role_arn} in project["Environment"][
        "EnvironmentVariables"
    ]
    # Everything else is the artifact bucket and key, its build logs and reports: no other service.
    services = {a.split(":")[0] for s in statements for a in as_list(s["Action"])}
    assert services == {"sts", "s3", "kms", "logs", "codebuild"}


@pytest.mark.parametrize(
    ("environment", "step_path"),
    [("dev", "/FolioDev-Serving-eu-central-1/PublishHomeValues"), ("prod", "/ProductionRegions/PublishHomeValues")],
)
def test_each_publication_step_assumes_its_environments_delivery_role_before_it_publishes(
    synthesized_pipeline: SynthesizedPipeline, environment: str, step_path: str
) -> None:
    project = project_of(synthesized_pipeline, step_path)
    statements = role_statements(synthesized_pipeline, project)
    pipeline = synthesized_pipeline.stack
    (stage,) = [s for s in (pipeline.test_stage, pipeline.production_stage) if s.config.name == environment]
    role_arn = delivery_role_arn(stage)
    commands = buildspec(project)["phases"]["build"]["commands"]

    assert [s for s in statements if s.get("Sid") == "AssumeDeliveryRole"] == [
        {"Sid": "AssumeDeliveryRole", "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}
    ]
    services = {a.split(":")[0] for s in statements for a in as_list(s["Action"])}
    assert services == {"sts", "s3", "kms", "logs", "codebuild"}
    assert f"--role-arn {role_arn}" in commands[0]
    assert "AWS_SESSION_TOKEN" in commands[0]
    assert all(c.startswith("aws ssm put-parameter") for c in commands[1:]), commands
    assert len(commands) == 1 + 3 * len(stage.config.replica_regions)
    assert all(f"--region {r} " in " ".join(commands) for r in stage.config.replica_regions)


def test_the_assume_role_command_exports_the_roles_credentials_to_the_commands_after_it(tmp_path: Path) -> None:
    # Given an `aws` that answers assume-role as the CLI does with --output text (tab-separated)
    fake_aws = tmp_path / "aws"
    fake_aws.write_text(
        '#!/bin/sh\necho "$@" > "$(dirname "$0")/called"\nprintf \'AKIAEXAMPLE\\tsecret/key+1\\ttoken+/=\\n\'\n'
    )
    fake_aws.chmod(0o755)
    role_arn = "arn:aws:iam::222222222222:role/folio-prod-delivery"

    # When the step's shell runs the command, then a later command
    script = (
        f"{assume_role_command(role_arn, 'folio-publish')}\n"
        + 'echo "$AWS_ACCESS_KEY_ID|$AWS_SECRET_ACCESS_KEY|$AWS_SESSION_TOKEN"'
    )
    result = subprocess.run(
        ["/bin/sh", "-c", script],
        env={"PATH": f"{tmp_path}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )

    # Then the later command runs with the role's credentials, asked for by the role's ARN
    assert result.stdout == "AKIAEXAMPLE|secret/key+1|token+/=\n"
    called = (tmp_path / "called").read_text()
    assert called.startswith(f"sts assume-role --role-arn {role_arn} --role-session-name folio-publish ")


@pytest.mark.parametrize("exit_status", [1, 254])
def test_a_failed_assume_role_fails_the_command_and_exports_nothing(tmp_path: Path, exit_status: int) -> None:
    # Given an `aws` that is refused the role (AccessDenied: exit 254; any other failure)
    fake_aws = tmp_path / "aws"
    fake_aws.write_text(f"#!/bin/sh\necho 'An error occurred (AccessDenied)' >&2\nexit {exit_status}\n")
    fake_aws.chmod(0o755)
    command = assume_role_command("arn:aws:iam::222222222222:role/folio-prod-delivery", "folio-publish")

    # When the step's shell runs it (CodeBuild fails the build on a command's non-zero status),
    # then a later command
    result = subprocess.run(
        ["/bin/sh", "-c", f'{command}\nstatus=$?\necho "$status|$AWS_ACCESS_KEY_ID|$AWS_SESSION_TOKEN"'],
        env={"PATH": f"{tmp_path}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )

    # Then the command failed and exported nothing: no build goes on with the project role's
    # credentials (or empty ones) in place of the delivery role's
    status, key, token = result.stdout.strip().split("|")
    assert status != "0"
    assert (key, token) == ("", "")


def delivery_roles(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for _, r in resources(template, "AWS::IAM::Role") if r.get("RoleName", "").endswith("-delivery")]


def delivery_statements(template: dict[str, Any], role: dict[str, Any]) -> list[dict[str, Any]]:
    """The statements of the managed policies attached to `role` in `template`."""
    attached = role.get("ManagedPolicyArns", [])
    return [
        statement
        for logical_id, policy in resources(template, "AWS::IAM::ManagedPolicy")
        if {"Ref": logical_id} in attached
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def roles_that_may_assume(synth: SynthesizedPipeline, role_arn: str) -> dict[str, dict[str, Any]]:
    """The pipeline's roles (by logical id) allowed sts:AssumeRole on `role_arn`."""
    template = pipeline_template(synth)
    found = {}
    for logical_id, role in resources(template, "AWS::IAM::Role"):
        statements = [
            statement
            for _, policy in resources(template, "AWS::IAM::Policy")
            if {"Ref": logical_id} in policy["Roles"]
            for statement in policy["PolicyDocument"]["Statement"]
        ]
        if any(
            fnmatch.fnmatchcase("sts:AssumeRole", action)
            and any(fnmatch.fnmatchcase(role_arn, str(resource)) for resource in as_list(s["Resource"]))
            for s in statements
            for action in as_list(s["Action"])
        ):
            found[logical_id] = role
    return found


@pytest.mark.parametrize("stage_id", ["FolioDev", "FolioProd"])
def test_a_delivered_stage_has_one_delivery_role_trusted_by_exactly_the_step_roles_that_may_assume_it(
    synthesized_pipeline: SynthesizedPipeline, stage_id: str
) -> None:
    templates = synthesized_pipeline.stage_templates[stage_id]
    pipeline = synthesized_pipeline.stack
    pipeline_account = pipeline.account
    (stage,) = [s for s in (pipeline.test_stage, pipeline.production_stage) if s.node.id == stage_id]
    # The roles of the steps that act in this environment (the smoke test, the publication),
    # each with a fixed name: the trust names them, not a pattern any role of that name matches.
    step_roles = roles_that_may_assume(synthesized_pipeline, delivery_role_arn(stage))
    assert step_roles, f"no step of the pipeline acts in {stage_id}"
    assert all(isinstance(role.get("RoleName"), str) for role in step_roles.values()), step_roles
    step_role_arns = sorted(f"arn:aws:iam::{pipeline_account}:role/{r['RoleName']}" for r in step_roles.values())

    found = {stack_id: delivery_roles(template) for stack_id, template in templates.items()}
    assert {stack_id for stack_id, roles in found.items() if roles} == {"Data"}
    (role,) = found["Data"]
    assert role["RoleName"] == stage.names.delivery_role
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"AWS": f"arn:aws:iam::{pipeline_account}:root"}
    assert (trust["Effect"], trust["Action"]) == ("Allow", "sts:AssumeRole")
    assert list(trust["Condition"]) == ["ArnEquals"]
    assert sorted(as_list(trust["Condition"]["ArnEquals"]["aws:PrincipalArn"])) == step_role_arns
    assert not role.get("Policies"), "no inline policy: one customer-managed policy"


def test_each_step_role_acts_in_one_environment_only(synthesized_pipeline: SynthesizedPipeline) -> None:
    pipeline = synthesized_pipeline.stack
    dev = roles_that_may_assume(synthesized_pipeline, delivery_role_arn(pipeline.test_stage))
    prod = roles_that_may_assume(synthesized_pipeline, delivery_role_arn(pipeline.production_stage))

    assert set(dev).isdisjoint(prod)
    # dev: its smoke test and its publication; prod: its publication
    assert (len(dev), len(prod)) == (2, 1)


def test_a_directly_deployed_stage_has_no_delivery_role(synthesized: Callable[[str], Synthesized]) -> None:
    sandbox = synthesized("sandbox")

    assert {stack_id: delivery_roles(template) for stack_id, template in sandbox.templates.items()} == {
        stack_id: [] for stack_id in sandbox.templates
    }


def test_devs_delivery_role_may_manage_users_of_its_own_user_pool_and_publish_its_home_values(
    synthesized_pipeline: SynthesizedPipeline,
) -> None:
    template = synthesized_pipeline.stage_templates["FolioDev"]["Data"]
    (role,) = delivery_roles(template)
    (user_pool_id,) = [logical_id for logical_id, _ in resources(template, "AWS::Cognito::UserPool")]

    users, publication = delivery_statements(template, role)
    assert users == {
        "Sid": "SmokeTestUsers",
        "Effect": "Allow",
        "Action": sorted(SMOKE_TEST_COGNITO_ACTIONS),
        "Resource": {"Fn::GetAtt": [user_pool_id, "Arn"]},
    }
    assert publication["Sid"] == "PublishHomeValues"
    assert sorted(publication["Resource"]) == home_value_parameter_arns(synthesized_pipeline.stack.test_stage)


def home_value_parameter_arns(stage: FolioStage) -> list[str]:
    names = stage.names
    return sorted(
        f"arn:aws:ssm:{region}:{stage.config.account}:parameter{parameter}"
        for region in stage.config.replica_regions
        for parameter in (
            names.home_table_name_parameter,
            names.home_user_pool_id_parameter,
            names.home_bucket_key_id_parameter,
        )
    )


def test_prods_delivery_role_may_put_exactly_the_home_values_parameters_in_each_replica_region(
    synthesized_pipeline: SynthesizedPipeline,
) -> None:
    template = synthesized_pipeline.stage_templates["FolioProd"]["Data"]
    (role,) = delivery_roles(template)
    production = synthesized_pipeline.stack.production_stage

    (statement,) = delivery_statements(template, role)
    assert statement["Action"] == "ssm:PutParameter"
    assert sorted(statement["Resource"]) == home_value_parameter_arns(production)


def test_failures_and_approvals_are_mailed_through_an_encrypted_tls_only_topic(
    synthesized_pipeline: SynthesizedPipeline,
) -> None:
    template = pipeline_template(synthesized_pipeline)
    config = load_pipeline_config()
    assert config is not None
    ((topic_id, topic),) = list(resources(template, "AWS::SNS::Topic"))
    ((_, rule),) = list(resources(template, "AWS::CodeStarNotifications::NotificationRule"))
    ((_, policy),) = list(resources(template, "AWS::SNS::TopicPolicy"))
    subscriptions = [s for _, s in resources(template, "AWS::SNS::Subscription")]
    ((key_id, key),) = [
        (k, p) for k, p in resources(template, "AWS::KMS::Key") if {"Fn::GetAtt": [k, "Arn"]} == topic["KmsMasterKeyId"]
    ]

    assert set(rule["EventTypeIds"]) == {
        "codepipeline-pipeline-pipeline-execution-failed",
        "codepipeline-pipeline-manual-approval-needed",
    }
    assert rule["Targets"] == [{"TargetAddress": {"Ref": topic_id}, "TargetType": "SNS"}]
    mail = {"Endpoint": config.notification_email, "Protocol": "email", "TopicArn": {"Ref": topic_id}}
    assert subscriptions == [mail]
    denies = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert any(s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)
    publishers = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert [s["Principal"] for s in publishers] == [{"Service": "codestar-notifications.amazonaws.com"}]
    notifications = {"Service": "codestar-notifications.amazonaws.com"}
    (notifier,) = [s for s in key["KeyPolicy"]["Statement"] if s.get("Principal") == notifications]
    assert notifier["Condition"] == {"StringEquals": {"kms:ViaService": "sns.us-east-1.amazonaws.com"}}
    assert key["EnableKeyRotation"] is True, key_id
