"""Folio's typed, frozen, validated configuration: one `FolioConfig` per environment.

`app.py` resolves the config once (`load_config`) and passes it down; stacks and
constructs never read the environment, context, boto3 or git. The environments an
operator edits are plain data in `stacks/environments.py`; this module holds the
types, the allowed ranges and the parser, so that a wrong value is reported the same
way whether it is a typo there or a bad override: `ConfigError` names the key, the
bad value and what is allowed, in one line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stacks import environments
from stacks.regions import KNOWN_REGIONS, Service, missing_services

# An account id used when none is configured and the CDK CLI supplies none (no
# credentials): it lets `cdk synth` run offline. It is never deployable, because
# `cdk deploy` with real credentials fills CDK_DEFAULT_ACCOUNT.
PLACEHOLDER_ACCOUNT = "123456789012"

TABLE_CLASSES = ("STANDARD", "STANDARD_INFREQUENT_ACCESS")
# On-demand throughput ceilings (request units per second): a runaway client or a
# bad loop is capped here rather than on the bill.
MAX_REQUEST_UNITS_RANGE = (1, 40_000)
DAX_NODE_RANGE = (1, 10)
DAX_NODE_TYPES = ("dax.t3.small", "dax.t3.medium", "dax.r5.large", "dax.r5.xlarge", "dax.r5.2xlarge")
# A primary and two read replicas: DAX's own minimum for a fault-tolerant cluster, spread over AZs.
DAX_PROTECTED_MIN_NODES = 3
# DAX item and query cache lifetimes. Writes bypass DAX (and replicated writes from other Regions
# never reach it), so the TTL is the most stale a DAX reader can see. 0 would mean "never
# expires" to DAX, and more than a minute is staleness no Folio read path accepts.
DAX_TTL_MS_RANGE = (1, 60_000)
SEARCH_INSTANCE_RANGE = (1, 10)
# Instance types that offer fine-grained access control, encryption at rest and node-to-node
# encryption on OpenSearch 3 (T2 offers neither; previous generations are left out).
SEARCH_NODE_TYPES = (
    "t3.medium.search", "m7g.large.search", "m7g.xlarge.search", "m7g.2xlarge.search",
    "r7g.large.search", "r7g.xlarge.search", "r7g.2xlarge.search", "c7g.large.search",
)  # fmt: skip
# 1 turns zone awareness off; the VPC has at most three AZs.
SEARCH_ZONE_RANGE = (1, 3)
# OpenSearch accepts no dedicated masters, or an odd number of at least three (a quorum).
SEARCH_DEDICATED_MASTERS = (0, 3, 5)
SEARCH_VOLUME_GB_RANGE = (10, 1_024)  # gp3, per data node
# OpenSearch Ingestion capacity units (OCUs) of the zero-ETL pipeline, AWS's range per pipeline.
# Sizing rule (docs/operations.md): one OCU per 150 open stream shards, plus headroom for the export.
SEARCH_OCU_RANGE = (1, 96)
# What AWS Control Tower asks of a domain that must stay up (CT.OPENSEARCH.PR.6, .7 and .11).
SEARCH_PROTECTED_MIN_NODES = 3
SEARCH_PROTECTED_MIN_ZONES = 2
SEARCH_PROTECTED_MIN_MASTERS = 3
LAMBDA_MEMORY_RANGE = (128, 10_240)
FUNCTION_CONCURRENCY_RANGE = (1, 1_000)
# AWS Backup: a rule that copies to cold storage needs >= 90 days; Folio uses warm
# storage only, so 1 day is the floor and 100 years the AWS ceiling.
RETENTION_DAYS_RANGE = (1, 36_500)
MAX_REPLICAS = 4
MFA_MODES = ("optional", "required")
NONCURRENT_RETENTION_RANGE = (1, 3_650)
MAX_UPLOAD_BYTES_RANGE = (1, 5 * 1024**3)  # one presigned POST uploads at most 5 GiB
QUOTA_DOCUMENTS_RANGE = (1, 1_000_000)
QUOTA_BYTES_RANGE = (1, 1024**4)
THROTTLE_RATE_RANGE = (1, 10_000)
THROTTLE_BURST_RANGE = (1, 5_000)
WAF_RATE_RANGE = (10, 2_000_000_000)  # AWS WAF's limits for a rate-based rule
# Kinesis Data Streams keeps records from 24 hours (included in the price) to 365 days.
STREAM_RETENTION_HOURS_RANGE = (24, 8_760)
ARCHIVE_TRANSITION_DAYS_RANGE = (1, 3_650)
ARCHIVE_RETENTION_DAYS_RANGE = (1, 36_500)

_ACCOUNT_RE = re.compile(r"^\d{12}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ORIGIN_RE = re.compile(r"^https://[a-z0-9.-]+(:\d{1,5})?$|^http://localhost(:\d{1,5})?$")
# A private IPv4 range from /16 to /22: room for two /24 isolated subnets and more later.
_CIDR_RE = re.compile(r"^(10\.\d{1,3}|172\.(1[6-9]|2\d|3[01])|192\.168)\.\d{1,3}\.\d{1,3}/(1[6-9]|2[0-2])$")
_NAME_RE = re.compile(r"^[a-z][a-z0-9]{1,15}$")
_URL_RE = re.compile(
    r"^https://[a-z0-9.-]+(:\d{1,5})?(/[A-Za-z0-9._~/-]*)?$|^http://localhost(:\d{1,5})?(/[A-Za-z0-9._~/-]*)?$"
)
_LOGGING_ROLE_CHOICES = (
    "true (Folio sets the API Gateway CloudWatch role of this account and Region, replacing the one "
    "every API there logs with) or false (the account already has a role that may write Folio's log groups)"
)
_DOMAIN_PREFIX_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
# A connection of AWS CodeConnections (formerly CodeStar Connections, whose ARNs still work).
_CONNECTION_ARN_RE = re.compile(
    r"^arn:aws:(codeconnections|codestar-connections):[a-z]{2}(-[a-z]+)+-\d:\d{12}:connection/"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)
# GitHub's (and Bitbucket's, GitLab's) owner/name: what CodePipelineSource.connection takes.
_REPOSITORY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9_.-]+$")
# A branch name git accepts (git check-ref-format's rules for these characters) and that is not
# a full ref: no "..", "//", a part that starts with "." or ends in ".lock", a trailing "/" or ".".
_BRANCH_RE = re.compile(
    r"^(?!refs/)(?!.*\.\.)(?!.*//)(?!.*/\.)(?!.*\.lock(?:/|$))(?!.*[/.]$)"  # what git or a ref would refuse
    r"[A-Za-z0-9][A-Za-z0-9._/-]{0,254}$"
)
# The key of the pipeline's section in errors: one pipeline delivers every environment.
PIPELINE_SECTION = "pipeline"


class ConfigError(ValueError):
    """A configuration value that Folio cannot deploy. `str()` is one line for humans.

    `environment` names what the value configures: an environment, or `PIPELINE_SECTION`.
    """

    def __init__(self, environment: str, key: str, value: object, allowed: str) -> None:
        self.environment = environment
        self.key = key
        self.value = value
        self.allowed = allowed
        subject = "the pipeline" if environment == PIPELINE_SECTION else f"environment '{environment}'"
        super().__init__(f"invalid config for {subject}: {key} = {value!r}; allowed: {allowed}")


@dataclass(frozen=True)
class BillingLimits:
    """Caps on on-demand throughput of the table (and of each index)."""

    max_read_request_units: int
    max_write_request_units: int


@dataclass(frozen=True)
class Features:
    """Switches for the parts of Folio an environment may leave out."""

    dax: bool
    search: bool
    cdc: bool
    waf: bool
    identity_pool: bool


@dataclass(frozen=True)
class Sizing:
    """How big the provisioned parts are, and how long DAX keeps what it caches."""

    dax_node_type: str
    dax_nodes: int
    dax_record_ttl_ms: int  # DAX item cache (GetItem, BatchGetItem): the most stale an item read can be
    dax_query_ttl_ms: int  # DAX query cache (Query): the most stale a listing can be
    search_instances: int
    lambda_memory_mb: int
    function_concurrency: int  # reserved concurrency of each function: a cost and blast-radius cap


@dataclass(frozen=True)
class SearchSettings:
    """The OpenSearch domain's shape (its data-node count is `sizing.search_instances`)."""

    data_node_type: str
    availability_zones: int  # 1: zone awareness off; 2 or 3: data nodes spread evenly over them
    dedicated_masters: int  # 0, 3 or 5
    master_node_type: str  # used only with dedicated masters
    volume_gb: int  # gp3 EBS per data node
    min_ocus: int  # the ingestion pipeline's floor (OpenSearch Compute Units)
    max_ocus: int  # and its ceiling: a cost cap; one OCU reads at most 150 open stream shards


@dataclass(frozen=True)
class BackupSettings:
    """AWS Backup retention and the Region that holds a copy of every recovery point."""

    daily_retention_days: int
    weekly_retention_days: int
    copy_region: str


@dataclass(frozen=True)
class AuthSettings:
    """The Cognito user pool and its browser app client."""

    self_sign_up: bool
    mfa: str  # "optional" or "required" (TOTP only)
    domain_prefix: str  # the hosted sign-in domain, unique per Region across AWS
    callback_urls: tuple[str, ...]
    logout_urls: tuple[str, ...]


@dataclass(frozen=True)
class DocumentSettings:
    """The S3 document store and per-user limits."""

    noncurrent_version_retention_days: int
    access_log_retention_days: int
    max_upload_bytes: int
    quota_documents: int
    quota_bytes: int


@dataclass(frozen=True)
class ApiSettings:
    """REST API stage throttling (per account and Region, shared by every method), and who
    owns the account's API Gateway CloudWatch role."""

    throttle_rate_limit: int
    throttle_burst_limit: int
    waf_requests_per_ip: int  # per 5 minutes; above it WAF blocks the address
    # API Gateway delivers every API's access and execution logs in an account and Region with
    # one role, set by the one AWS::ApiGateway::Account. True: Folio sets its own role there
    # (replacing any other, so other APIs' logs stop). False: the account provides the role.
    manage_account_logging_role: bool


@dataclass(frozen=True)
class AuditSettings:
    """The change archive of `features.cdc`: how long the Kinesis stream holds changes for
    Firehose, and when the archived objects move to Glacier Instant Retrieval and expire."""

    stream_retention_hours: int  # the longest Firehose may be unable to read before changes are lost
    archive_transition_days: int
    archive_retention_days: int  # also the Object Lock (governance) retention of every archived object


@dataclass(frozen=True)
class FolioConfig:
    """Everything that differs between two Folio environments."""

    name: str
    account: str
    region: str
    replica_regions: tuple[str, ...]
    table_class: str
    billing: BillingLimits
    features: Features
    sizing: Sizing
    search: SearchSettings
    backup: BackupSettings
    alarm_email: str
    cors_origins: tuple[str, ...]
    termination_protection: bool
    vpc_cidr: str
    auth: AuthSettings
    documents: DocumentSettings
    api: ApiSettings
    audit: AuditSettings

    @property
    def all_regions(self) -> tuple[str, ...]:
        """Every Region this environment deploys into, home first."""
        extra = [r for r in (*self.replica_regions, self.backup.copy_region) if r != self.region]
        return (self.region, *dict.fromkeys(extra))


@dataclass(frozen=True)
class PipelineConfig:
    """The one delivery pipeline: where it runs, what it builds, whom it tells.

    Not a setting of an environment: one pipeline, in a toolchain account of its own,
    delivers `test_environment` and then, once approved, `production_environment`.
    """

    account: str
    region: str
    connection_arn: str  # a CodeConnections connection, created and authorized in the console
    repository: str  # owner/name
    branch: str
    notification_email: str  # failures and approvals waiting
    test_environment: str  # deployed first, then smoke-tested
    production_environment: str  # deployed after a manual approval


def load_config(environment: str, *, cli_account: str | None = None) -> FolioConfig:
    """The validated config of a named environment of `stacks/environments.py`.

    `cli_account` is the account of the CDK CLI's credentials (CDK_DEFAULT_ACCOUNT),
    used only where the environment leaves the account open.
    """
    shipped = environments.ENVIRONMENTS
    if environment not in shipped:
        raise ConfigError(environment, "env", environment, "one of " + ", ".join(sorted(shipped)))
    return parse_config(environment, shipped[environment], cli_account=cli_account)


def load_pipeline_config() -> PipelineConfig | None:
    """The validated pipeline of `stacks/environments.py`, or None where it is disabled."""
    return parse_pipeline_config(environments.PIPELINE, known_environments=tuple(environments.ENVIRONMENTS))


def parse_pipeline_config(raw: Mapping[str, Any], *, known_environments: tuple[str, ...]) -> PipelineConfig | None:
    """Validate the pipeline's settings, or raise `ConfigError` naming the first bad key.

    A disabled pipeline needs nothing else; an enabled one needs every key.
    """
    section = SectionReader(PIPELINE_SECTION, raw, f"{PIPELINE_SECTION}.")
    if not section.boolean("enabled"):
        for key in _PIPELINE_KEYS:
            section.value_or_none(key)
        section.reject_unknown_keys()
        return None
    environment_choices = "one of " + ", ".join(known_environments)
    test_environment = section.one_of("test_environment", known_environments)
    production_environment = section.one_of("production_environment", known_environments)
    if production_environment == test_environment:
        raise section.invalid(
            "production_environment", production_environment, f"{environment_choices} other than test_environment"
        )
    pipeline = PipelineConfig(
        account=section.string_matching("account", _ACCOUNT_RE, "a 12-digit AWS account id (the toolchain account)"),
        region=section.region_offering("region", section.value_or_none("region"), {Service.KMS}),
        connection_arn=section.string_matching(
            "connection_arn",
            _CONNECTION_ARN_RE,
            "a CodeConnections ARN, arn:aws:codeconnections:<region>:<account>:connection/<uuid> "
            "(or codestar-connections)",
        ),
        repository=section.string_matching("repository", _REPOSITORY_RE, "owner/name of the repository"),
        branch=section.string_matching(
            "branch",
            _BRANCH_RE,
            "a branch name such as main or release/1.2 (not refs/...; no '..', '//', part starting with '.' "
            "or ending in '.lock', trailing '/' or '.')",
        ),
        notification_email=section.string_matching(
            "notification_email", _EMAIL_RE, "an e-mail address such as ops@example.com"
        ),
        test_environment=test_environment,
        production_environment=production_environment,
    )
    section.reject_unknown_keys()
    return pipeline


def load_pipeline_environments(pipeline: PipelineConfig) -> tuple[FolioConfig, FolioConfig]:
    """The configs of the pipeline's test and production environments.

    Each must name its account: the pipeline deploys with its own credentials, so "the CLI's
    account" would be the toolchain account (or, offline, the undeployable placeholder).
    """
    configs = []
    for key in ("test_environment", "production_environment"):
        name = getattr(pipeline, key)
        if environments.ENVIRONMENTS[name].get("account") is None:
            raise ConfigError(
                PIPELINE_SECTION,
                f"{PIPELINE_SECTION}.{key}",
                name,
                f"an environment whose account is set (environments.{name}.account)",
            )
        configs.append(load_config(name))
    test_environment, production = configs
    for key, config in (("test_environment", test_environment), ("production_environment", production)):
        if config.account == pipeline.account:
            raise ConfigError(
                PIPELINE_SECTION,
                f"{PIPELINE_SECTION}.account",
                pipeline.account,
                f"a toolchain account other than {key} {config.name}'s (environments.{config.name}.account)",
            )
    if test_environment.auth.mfa == "required":
        # tools/smoke_test.py signs its test user in with a password alone.
        raise ConfigError(
            PIPELINE_SECTION,
            f"{PIPELINE_SECTION}.test_environment",
            test_environment.name,
            f"an environment whose auth.mfa is optional (the smoke test signs in with a password; "
            f"environments.{test_environment.name}.auth.mfa is required)",
        )
    return test_environment, production


_PIPELINE_KEYS = (
    "account", "region", "connection_arn", "repository", "branch", "notification_email",
    "test_environment", "production_environment",
)  # fmt: skip


class SectionReader:
    """Reads one mapping of an environment's raw settings into typed values, naming each key by its
    dotted path in errors, and remembers which keys it read so that a misspelled one is reported."""

    def __init__(self, environment: str, settings: Mapping[str, Any], path: str = "") -> None:
        if not isinstance(settings, Mapping):
            raise ConfigError(environment, path.rstrip(".") or "config", settings, "a mapping of settings")
        self.environment = environment
        self.settings = settings
        self.path = path  # the dotted path of this section, "" at the top or e.g. "search."
        self.read_keys: set[str] = set()

    def invalid(self, key: str, value: object, allowed: str) -> ConfigError:
        """The error for a bad value of `key` in this section (to raise)."""
        return ConfigError(self.environment, self.path + key, value, allowed)

    def _required(self, key: str) -> Any:
        self.read_keys.add(key)
        if key not in self.settings:
            raise self.invalid(key, None, "a value (the key is required)")
        return self.settings[key]

    def value_or_none(self, key: str) -> Any:
        """The raw value of `key`, unchecked, or None where it is absent."""
        self.read_keys.add(key)
        return self.settings.get(key)

    def section(self, key: str) -> SectionReader:
        return SectionReader(self.environment, self._required(key), f"{self.path}{key}.")

    def boolean(self, key: str, allowed: str = "true or false") -> bool:
        value = self._required(key)
        if not isinstance(value, bool):
            raise self.invalid(key, value, allowed)
        return value

    def integer_in(self, key: str, bounds: tuple[int, int]) -> int:
        value = self._required(key)
        low, high = bounds
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.invalid(key, value, f"a whole number from {low} to {high}")
        return value

    def one_of(self, key: str, options: tuple[str, ...]) -> str:
        value = self._required(key)
        if value not in options:
            raise self.invalid(key, value, "one of " + ", ".join(options))
        return str(value)

    def string_matching(self, key: str, pattern: re.Pattern[str], allowed: str) -> str:
        value = self._required(key)
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise self.invalid(key, value, allowed)
        return value

    def string_list(self, key: str) -> list[str]:
        value = self._required(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.invalid(key, value, "a list of strings")
        return value

    def region_offering(self, key: str, value: object, needed: set[Service]) -> str:
        """`value` (of `key`, or of an item of it) as a known Region that offers every `needed` service."""
        if value not in KNOWN_REGIONS:
            raise self.invalid(key, value, "a commercial AWS Region such as us-east-1 (see stacks/regions.py)")
        missing = missing_services(str(value), needed)
        if missing:
            names = ", ".join(s.name for s in missing)
            raise self.invalid(key, value, f"a Region that offers {names}, which Folio needs there")
        return str(value)

    def reject_unknown_keys(self) -> None:
        """Call after reading every key: a key nobody read is a typo or a setting Folio does not have."""
        unknown = sorted(set(self.settings) - self.read_keys)
        if unknown:
            raise self.invalid(
                unknown[0], self.settings[unknown[0]], "no such key; known keys: " + ", ".join(sorted(self.read_keys))
            )


def parse_config(environment: str, raw: Mapping[str, Any], *, cli_account: str | None = None) -> FolioConfig:
    """Validate raw settings into a `FolioConfig`, or raise `ConfigError` on the first problem.

    Sections are read in a fixed order, so the first problem reported is always the same one.
    """
    if not _NAME_RE.fullmatch(environment):
        raise ConfigError(environment, "env", environment, "2-16 lowercase letters or digits, starting with a letter")
    settings = SectionReader(environment, raw)

    account = _parse_account(settings, cli_account)
    features = _parse_features(settings.section("features"))
    region = settings.region_offering("region", settings.value_or_none("region"), _services_needed_at_home(features))
    replica_regions = _parse_replica_regions(settings, region, features)
    table_class = settings.one_of("table_class", TABLE_CLASSES)
    billing = _parse_billing(settings.section("billing"))
    sizing_section = settings.section("sizing")
    sizing = _parse_sizing(sizing_section)
    backup = _parse_backup(settings.section("backup"), region)
    alarm_email = settings.string_matching("alarm_email", _EMAIL_RE, "an e-mail address such as ops@example.com")
    cors_origins = _parse_cors_origins(settings)
    termination_protection = settings.boolean("termination_protection")
    if features.dax and termination_protection and sizing.dax_nodes < DAX_PROTECTED_MIN_NODES:
        raise sizing_section.invalid(
            "dax_nodes",
            sizing.dax_nodes,
            f"at least {DAX_PROTECTED_MIN_NODES} in a termination-protected environment with features.dax "
            "(a primary and two read replicas, which DAX spreads across the subnets' AZs)",
        )
    search = _parse_search(settings.section("search"), sizing_section, features, sizing, termination_protection)
    vpc_cidr = settings.string_matching("vpc_cidr", _CIDR_RE, "a private IPv4 CIDR from /16 to /22, e.g. 10.40.0.0/16")
    auth = _parse_auth(settings.section("auth"))
    documents = _parse_documents(settings.section("documents"))
    api = _parse_api(settings.section("api"))
    audit = _parse_audit(settings.section("audit"))
    settings.reject_unknown_keys()

    return FolioConfig(
        name=environment,
        account=account,
        region=region,
        replica_regions=tuple(replica_regions),
        table_class=table_class,
        billing=billing,
        features=features,
        sizing=sizing,
        search=search,
        backup=backup,
        alarm_email=alarm_email,
        cors_origins=tuple(cors_origins),
        termination_protection=termination_protection,
        vpc_cidr=vpc_cidr,
        auth=auth,
        documents=documents,
        api=api,
        audit=audit,
    )


def _parse_account(settings: SectionReader, cli_account: str | None) -> str:
    account = settings.value_or_none("account")
    if account is None:
        account = cli_account or PLACEHOLDER_ACCOUNT
    if not isinstance(account, str) or not _ACCOUNT_RE.fullmatch(account):
        raise settings.invalid("account", account, "a 12-digit AWS account id, or null to use the CLI's account")
    return account


def _parse_features(section: SectionReader) -> Features:
    features = Features(
        dax=section.boolean("dax"),
        search=section.boolean("search"),
        cdc=section.boolean("cdc"),
        waf=section.boolean("waf"),
        identity_pool=section.boolean("identity_pool"),
    )
    section.reject_unknown_keys()
    return features


def _services_needed_at_home(features: Features) -> set[Service]:
    needed = {
        Service.DYNAMODB_GLOBAL_TABLES,
        Service.KMS,
        Service.BACKUP,
        Service.COGNITO,
        Service.LAMBDA,
        Service.API_GATEWAY,
    }
    if features.waf:
        needed.add(Service.WAF)
    if features.dax:
        needed.add(Service.DAX)
    if features.search:
        needed |= {Service.OPENSEARCH, Service.OPENSEARCH_INGESTION}
    if features.cdc:
        needed |= {Service.KINESIS, Service.FIREHOSE}
    return needed


def _services_needed_in_a_replica_region(features: Features) -> set[Service]:
    # A replica Region serves traffic through its own regional stage (Api and DAX).
    needed = {Service.DYNAMODB_GLOBAL_TABLES, Service.KMS, Service.LAMBDA, Service.API_GATEWAY}
    if features.waf:
        needed.add(Service.WAF)
    if features.dax:
        needed.add(Service.DAX)
    return needed


def _parse_replica_regions(settings: SectionReader, region: str, features: Features) -> list[str]:
    replicas = settings.string_list("replica_regions")
    if len(replicas) > MAX_REPLICAS:
        raise settings.invalid("replica_regions", replicas, f"at most {MAX_REPLICAS} Regions")
    for index, replica in enumerate(replicas):
        key = f"replica_regions[{index}]"
        settings.region_offering(key, replica, _services_needed_in_a_replica_region(features))
        if replica == region:
            raise settings.invalid(key, replica, f"a Region other than the home Region {region}")
        if replica in replicas[:index]:
            raise settings.invalid(key, replica, "each replica Region once")
    return replicas


def _parse_billing(section: SectionReader) -> BillingLimits:
    billing = BillingLimits(
        max_read_request_units=section.integer_in("max_read_request_units", MAX_REQUEST_UNITS_RANGE),
        max_write_request_units=section.integer_in("max_write_request_units", MAX_REQUEST_UNITS_RANGE),
    )
    section.reject_unknown_keys()
    return billing


def _parse_sizing(section: SectionReader) -> Sizing:
    sizing = Sizing(
        dax_node_type=section.one_of("dax_node_type", DAX_NODE_TYPES),
        dax_nodes=section.integer_in("dax_nodes", DAX_NODE_RANGE),
        dax_record_ttl_ms=section.integer_in("dax_record_ttl_ms", DAX_TTL_MS_RANGE),
        dax_query_ttl_ms=section.integer_in("dax_query_ttl_ms", DAX_TTL_MS_RANGE),
        search_instances=section.integer_in("search_instances", SEARCH_INSTANCE_RANGE),
        lambda_memory_mb=section.integer_in("lambda_memory_mb", LAMBDA_MEMORY_RANGE),
        function_concurrency=section.integer_in("function_concurrency", FUNCTION_CONCURRENCY_RANGE),
    )
    section.reject_unknown_keys()
    return sizing


def _parse_backup(section: SectionReader, region: str) -> BackupSettings:
    daily = section.integer_in("daily_retention_days", RETENTION_DAYS_RANGE)
    weekly = section.integer_in("weekly_retention_days", RETENTION_DAYS_RANGE)
    if weekly < daily:
        raise section.invalid("weekly_retention_days", weekly, f"at least daily_retention_days ({daily})")
    copy_region = section.region_offering(
        "copy_region", section.value_or_none("copy_region"), {Service.BACKUP, Service.KMS}
    )
    if copy_region == region:
        raise section.invalid("copy_region", copy_region, f"a Region other than the home Region {region}")
    section.reject_unknown_keys()
    return BackupSettings(daily_retention_days=daily, weekly_retention_days=weekly, copy_region=copy_region)


def _parse_cors_origins(settings: SectionReader) -> list[str]:
    origins = settings.string_list("cors_origins")
    for index, origin in enumerate(origins):
        if not _ORIGIN_RE.fullmatch(origin):
            raise settings.invalid(
                f"cors_origins[{index}]", origin, "an https:// origin without path or wildcard, or http://localhost"
            )
    return origins


def _parse_search(
    section: SectionReader, sizing_section: SectionReader, features: Features, sizing: Sizing, protected: bool
) -> SearchSettings:
    search = SearchSettings(
        data_node_type=section.one_of("data_node_type", SEARCH_NODE_TYPES),
        availability_zones=section.integer_in("availability_zones", SEARCH_ZONE_RANGE),
        dedicated_masters=section.integer_in(
            "dedicated_masters", (min(SEARCH_DEDICATED_MASTERS), max(SEARCH_DEDICATED_MASTERS))
        ),
        master_node_type=section.one_of("master_node_type", SEARCH_NODE_TYPES),
        volume_gb=section.integer_in("volume_gb", SEARCH_VOLUME_GB_RANGE),
        min_ocus=section.integer_in("min_ocus", SEARCH_OCU_RANGE),
        max_ocus=section.integer_in("max_ocus", SEARCH_OCU_RANGE),
    )
    if search.max_ocus < search.min_ocus:
        raise section.invalid("max_ocus", search.max_ocus, f"at least search.min_ocus ({search.min_ocus})")
    if search.dedicated_masters not in SEARCH_DEDICATED_MASTERS:
        raise section.invalid(
            "dedicated_masters", search.dedicated_masters, "0, 3 or 5 (none, or an odd quorum of at least three)"
        )
    section.reject_unknown_keys()
    if not features.search:
        return search
    zones = search.availability_zones
    if sizing.search_instances % zones:
        raise sizing_section.invalid(
            "search_instances",
            sizing.search_instances,
            f"a multiple of search.availability_zones ({zones}): OpenSearch puts as many data nodes in each zone",
        )
    if protected:
        why = "in a termination-protected environment with features.search (a domain that survives an AZ)"
        if zones < SEARCH_PROTECTED_MIN_ZONES:
            raise section.invalid("availability_zones", zones, f"at least {SEARCH_PROTECTED_MIN_ZONES} {why}")
        if sizing.search_instances < SEARCH_PROTECTED_MIN_NODES:
            raise sizing_section.invalid(
                "search_instances", sizing.search_instances, f"at least {SEARCH_PROTECTED_MIN_NODES} {why}"
            )
        if search.dedicated_masters < SEARCH_PROTECTED_MIN_MASTERS:
            raise section.invalid(
                "dedicated_masters", search.dedicated_masters, f"at least {SEARCH_PROTECTED_MIN_MASTERS} {why}"
            )
    return search


def _parse_auth(section: SectionReader) -> AuthSettings:
    auth = AuthSettings(
        self_sign_up=section.boolean("self_sign_up"),
        mfa=section.one_of("mfa", MFA_MODES),
        domain_prefix=section.string_matching(
            "domain_prefix", _DOMAIN_PREFIX_RE, "1-63 lowercase letters, digits or hyphens"
        ),
        callback_urls=tuple(_parse_redirect_urls(section, "callback_urls")),
        logout_urls=tuple(_parse_redirect_urls(section, "logout_urls")),
    )
    section.reject_unknown_keys()
    return auth


def _parse_redirect_urls(section: SectionReader, key: str) -> list[str]:
    """The URLs the hosted sign-in may send a browser back to (after sign-in or sign-out)."""
    urls = section.string_list(key)
    if not urls:
        raise section.invalid(key, urls, "at least one URL")
    for index, url in enumerate(urls):
        if not _URL_RE.fullmatch(url):
            raise section.invalid(
                f"{key}[{index}]", url, "an https:// URL (or http://localhost) without query or fragment"
            )
    return urls


def _parse_documents(section: SectionReader) -> DocumentSettings:
    documents = DocumentSettings(
        noncurrent_version_retention_days=section.integer_in(
            "noncurrent_version_retention_days", NONCURRENT_RETENTION_RANGE
        ),
        access_log_retention_days=section.integer_in("access_log_retention_days", NONCURRENT_RETENTION_RANGE),
        max_upload_bytes=section.integer_in("max_upload_bytes", MAX_UPLOAD_BYTES_RANGE),
        quota_documents=section.integer_in("quota_documents", QUOTA_DOCUMENTS_RANGE),
        quota_bytes=section.integer_in("quota_bytes", QUOTA_BYTES_RANGE),
    )
    if documents.max_upload_bytes > documents.quota_bytes:
        raise section.invalid(
            "max_upload_bytes", documents.max_upload_bytes, f"at most quota_bytes ({documents.quota_bytes})"
        )
    section.reject_unknown_keys()
    return documents


def _parse_api(section: SectionReader) -> ApiSettings:
    api = ApiSettings(
        throttle_rate_limit=section.integer_in("throttle_rate_limit", THROTTLE_RATE_RANGE),
        throttle_burst_limit=section.integer_in("throttle_burst_limit", THROTTLE_BURST_RANGE),
        waf_requests_per_ip=section.integer_in("waf_requests_per_ip", WAF_RATE_RANGE),
        manage_account_logging_role=section.boolean("manage_account_logging_role", _LOGGING_ROLE_CHOICES),
    )
    section.reject_unknown_keys()
    return api


def _parse_audit(section: SectionReader) -> AuditSettings:
    audit = AuditSettings(
        stream_retention_hours=section.integer_in("stream_retention_hours", STREAM_RETENTION_HOURS_RANGE),
        archive_transition_days=section.integer_in("archive_transition_days", ARCHIVE_TRANSITION_DAYS_RANGE),
        archive_retention_days=section.integer_in("archive_retention_days", ARCHIVE_RETENTION_DAYS_RANGE),
    )
    if audit.archive_retention_days <= audit.archive_transition_days:
        raise section.invalid(
            "archive_retention_days",
            audit.archive_retention_days,
            f"more than archive_transition_days ({audit.archive_transition_days}): "
            "S3 expires an object only after its last transition",
        )
    section.reject_unknown_keys()
    return audit
