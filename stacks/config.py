"""Folio's typed, frozen, validated configuration: one `FolioConfig` per environment.

`app.py` resolves the config once (`load_config`) and passes it down; stacks and
constructs never read the environment, context, boto3 or git. Environments are
plain data in `ENVIRONMENTS` so that a wrong value is reported the same way whether
it is a typo here or a bad override: `ConfigError` names the key, the bad value and
what is allowed, in one line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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


class ConfigError(ValueError):
    """A configuration value that Folio cannot deploy. `str()` is one line for humans."""

    def __init__(self, environment: str, key: str, value: object, allowed: str) -> None:
        self.environment = environment
        self.key = key
        self.value = value
        self.allowed = allowed
        super().__init__(f"invalid config for environment '{environment}': {key} = {value!r}; allowed: {allowed}")


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


# The environments. Accounts are examples: replace them with yours (see README).
# `account: None` means "the account of the CLI's credentials, else a placeholder".
ENVIRONMENTS: dict[str, dict[str, Any]] = {
    "sandbox": {
        "account": None,
        "region": "us-east-1",
        "replica_regions": ["us-west-2"],
        "table_class": "STANDARD",
        "billing": {"max_read_request_units": 200, "max_write_request_units": 100},
        "features": {"dax": False, "search": False, "cdc": False, "waf": True, "identity_pool": False},
        "sizing": {"dax_node_type": "dax.t3.small", "dax_nodes": 1, "dax_record_ttl_ms": 5_000,
                   "dax_query_ttl_ms": 5_000, "search_instances": 1, "lambda_memory_mb": 512,
                   "function_concurrency": 5},
        "search": {"data_node_type": "t3.medium.search", "availability_zones": 1, "dedicated_masters": 0,
                   "master_node_type": "m7g.large.search", "volume_gb": 10,
                   "min_ocus": 1, "max_ocus": 1},
        "backup": {"daily_retention_days": 7, "weekly_retention_days": 35, "copy_region": "us-west-2"},
        "alarm_email": "folio-sandbox-alarms@example.com",
        "cors_origins": ["http://localhost:5173"],
        "termination_protection": False,
        "vpc_cidr": "10.40.0.0/16",
        "auth": {"self_sign_up": True, "mfa": "optional", "domain_prefix": "folio-sandbox-example",
                 "callback_urls": ["http://localhost:5173/callback"], "logout_urls": ["http://localhost:5173/"]},
        "documents": {"noncurrent_version_retention_days": 7, "access_log_retention_days": 90,
                      "max_upload_bytes": 100 * 1024**2, "quota_documents": 1_000, "quota_bytes": 1024**3},
        # Whatever account the CLI's credentials name, perhaps shared: leave its logging role alone.
        "api": {"throttle_rate_limit": 50, "throttle_burst_limit": 100, "waf_requests_per_ip": 500,
                "manage_account_logging_role": False},
        # Validated although features.cdc is off, so switching it on is a one-word change.
        "audit": {"stream_retention_hours": 24, "archive_transition_days": 30, "archive_retention_days": 365},
    },
    "dev": {
        "account": "111111111111",
        "region": "eu-west-1",
        "replica_regions": ["eu-central-1"],
        "table_class": "STANDARD",
        "billing": {"max_read_request_units": 1_000, "max_write_request_units": 500},
        "features": {"dax": True, "search": True, "cdc": False, "waf": True, "identity_pool": True},
        "sizing": {"dax_node_type": "dax.t3.small", "dax_nodes": 1, "dax_record_ttl_ms": 5_000,
                   "dax_query_ttl_ms": 5_000, "search_instances": 1, "lambda_memory_mb": 512,
                   "function_concurrency": 20},
        "search": {"data_node_type": "t3.medium.search", "availability_zones": 1, "dedicated_masters": 0,
                   "master_node_type": "m7g.large.search", "volume_gb": 20,
                   "min_ocus": 1, "max_ocus": 2},
        "backup": {"daily_retention_days": 14, "weekly_retention_days": 60, "copy_region": "eu-central-1"},
        "alarm_email": "folio-dev-alarms@example.com",
        "cors_origins": ["https://dev.folio.example.com", "http://localhost:5173"],
        "termination_protection": False,
        "vpc_cidr": "10.41.0.0/16",
        "auth": {"self_sign_up": True, "mfa": "optional", "domain_prefix": "folio-dev-example",
                 "callback_urls": ["https://dev.folio.example.com/callback", "http://localhost:5173/callback"],
                 "logout_urls": ["https://dev.folio.example.com/", "http://localhost:5173/"]},
        "documents": {"noncurrent_version_retention_days": 30, "access_log_retention_days": 365,
                      "max_upload_bytes": 100 * 1024**2, "quota_documents": 10_000, "quota_bytes": 10 * 1024**3},
        # An account of its own: Folio owns the logging role, so its logs cannot be cut off.
        "api": {"throttle_rate_limit": 100, "throttle_burst_limit": 200, "waf_requests_per_ip": 1_000,
                "manage_account_logging_role": True},
        "audit": {"stream_retention_hours": 24, "archive_transition_days": 30, "archive_retention_days": 365},
    },
    "prod": {
        "account": "222222222222",
        "region": "us-east-1",
        "replica_regions": ["us-west-2", "eu-west-1"],
        "table_class": "STANDARD",
        "billing": {"max_read_request_units": 20_000, "max_write_request_units": 10_000},
        "features": {"dax": True, "search": True, "cdc": True, "waf": True, "identity_pool": True},
        "sizing": {"dax_node_type": "dax.r5.large", "dax_nodes": 3, "dax_record_ttl_ms": 5_000,
                   "dax_query_ttl_ms": 5_000, "search_instances": 3, "lambda_memory_mb": 1024,
                   "function_concurrency": 200},
        # Three data nodes, one per AZ, and three dedicated masters (a quorum that survives an AZ).
        "search": {"data_node_type": "r7g.large.search", "availability_zones": 3, "dedicated_masters": 3,
                   "master_node_type": "m7g.large.search", "volume_gb": 100,
                   "min_ocus": 2, "max_ocus": 4},
        "backup": {"daily_retention_days": 35, "weekly_retention_days": 365, "copy_region": "us-east-2"},
        "alarm_email": "folio-prod-alarms@example.com",
        "cors_origins": ["https://folio.example.com"],
        "termination_protection": True,
        "vpc_cidr": "10.42.0.0/16",
        "auth": {"self_sign_up": False, "mfa": "required", "domain_prefix": "folio-prod-example",
                 "callback_urls": ["https://folio.example.com/callback"], "logout_urls": ["https://folio.example.com/"]},
        "documents": {"noncurrent_version_retention_days": 90, "access_log_retention_days": 730,
                      "max_upload_bytes": 1024**3, "quota_documents": 100_000, "quota_bytes": 100 * 1024**3},
        # An account of its own: Folio owns the logging role, so its logs cannot be cut off.
        "api": {"throttle_rate_limit": 1_000, "throttle_burst_limit": 2_000, "waf_requests_per_ip": 2_000,
                "manage_account_logging_role": True},
        # A week of changes survives a Firehose outage; the archive keeps seven years.
        "audit": {"stream_retention_hours": 168, "archive_transition_days": 30, "archive_retention_days": 2_555},
    },
}  # fmt: skip


def load_config(environment: str, *, cli_account: str | None = None) -> FolioConfig:
    """The validated config of a named environment.

    `cli_account` is the account of the CDK CLI's credentials (CDK_DEFAULT_ACCOUNT),
    used only where the environment leaves the account open.
    """
    if environment not in ENVIRONMENTS:
        raise ConfigError(environment, "env", environment, "one of " + ", ".join(sorted(ENVIRONMENTS)))
    return parse_config(environment, ENVIRONMENTS[environment], cli_account=cli_account)


class _Reader:
    """Reads one mapping of raw config, naming each key by its dotted path in errors."""

    def __init__(self, environment: str, raw: Mapping[str, Any], prefix: str = "") -> None:
        if not isinstance(raw, Mapping):
            raise ConfigError(environment, prefix.rstrip(".") or "config", raw, "a mapping of settings")
        self.environment = environment
        self.raw = raw
        self.prefix = prefix
        self.seen: set[str] = set()

    def fail(self, key: str, value: object, allowed: str) -> ConfigError:
        return ConfigError(self.environment, self.prefix + key, value, allowed)

    def _get(self, key: str) -> Any:
        self.seen.add(key)
        if key not in self.raw:
            raise self.fail(key, None, "a value (the key is required)")
        return self.raw[key]

    def section(self, key: str) -> _Reader:
        return _Reader(self.environment, self._get(key), f"{self.prefix}{key}.")

    def boolean(self, key: str, allowed: str = "true or false") -> bool:
        value = self._get(key)
        if not isinstance(value, bool):
            raise self.fail(key, value, allowed)
        return value

    def integer(self, key: str, bounds: tuple[int, int]) -> int:
        value = self._get(key)
        low, high = bounds
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(key, value, f"a whole number from {low} to {high}")
        return value

    def choice(self, key: str, options: tuple[str, ...]) -> str:
        value = self._get(key)
        if value not in options:
            raise self.fail(key, value, "one of " + ", ".join(options))
        return str(value)

    def matching(self, key: str, pattern: re.Pattern[str], allowed: str) -> str:
        value = self._get(key)
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise self.fail(key, value, allowed)
        return value

    def optional(self, key: str) -> Any:
        self.seen.add(key)
        return self.raw.get(key)

    def string_list(self, key: str) -> list[str]:
        value = self._get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, value, "a list of strings")
        return value

    def region(self, key: str, value: object, needed: set[Service]) -> str:
        if value not in KNOWN_REGIONS:
            raise self.fail(key, value, "a commercial AWS Region such as us-east-1 (see stacks/regions.py)")
        missing = missing_services(str(value), needed)
        if missing:
            names = ", ".join(s.name for s in missing)
            raise self.fail(key, value, f"a Region that offers {names}, which Folio needs there")
        return str(value)

    def finish(self) -> None:
        unknown = sorted(set(self.raw) - self.seen)
        if unknown:
            raise self.fail(
                unknown[0], self.raw[unknown[0]], "no such key; known keys: " + ", ".join(sorted(self.seen))
            )


def _home_services(features: Features) -> set[Service]:
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


def _replica_services(features: Features) -> set[Service]:
    # A replica Region serves traffic through its own regional stage (Api and DAX).
    needed = {Service.DYNAMODB_GLOBAL_TABLES, Service.KMS, Service.LAMBDA, Service.API_GATEWAY}
    if features.waf:
        needed.add(Service.WAF)
    if features.dax:
        needed.add(Service.DAX)
    return needed


def parse_config(environment: str, raw: Mapping[str, Any], *, cli_account: str | None = None) -> FolioConfig:
    """Validate raw settings into a `FolioConfig`, or raise `ConfigError` on the first problem."""
    if not _NAME_RE.fullmatch(environment):
        raise ConfigError(environment, "env", environment, "2-16 lowercase letters or digits, starting with a letter")
    top = _Reader(environment, raw)

    account_value = top.optional("account")
    if account_value is None:
        account_value = cli_account or PLACEHOLDER_ACCOUNT
    if not isinstance(account_value, str) or not _ACCOUNT_RE.fullmatch(account_value):
        raise top.fail("account", account_value, "a 12-digit AWS account id, or null to use the CLI's account")

    f = top.section("features")
    features = Features(
        dax=f.boolean("dax"),
        search=f.boolean("search"),
        cdc=f.boolean("cdc"),
        waf=f.boolean("waf"),
        identity_pool=f.boolean("identity_pool"),
    )
    f.finish()

    region = top.region("region", top.optional("region"), _home_services(features))

    replicas = top.string_list("replica_regions")
    if len(replicas) > MAX_REPLICAS:
        raise top.fail("replica_regions", replicas, f"at most {MAX_REPLICAS} Regions")
    for index, replica in enumerate(replicas):
        key = f"replica_regions[{index}]"
        top.region(key, replica, _replica_services(features))
        if replica == region:
            raise top.fail(key, replica, f"a Region other than the home Region {region}")
        if replica in replicas[:index]:
            raise top.fail(key, replica, "each replica Region once")

    table_class = top.choice("table_class", TABLE_CLASSES)

    b = top.section("billing")
    billing = BillingLimits(
        max_read_request_units=b.integer("max_read_request_units", MAX_REQUEST_UNITS_RANGE),
        max_write_request_units=b.integer("max_write_request_units", MAX_REQUEST_UNITS_RANGE),
    )
    b.finish()

    s = top.section("sizing")
    sizing = Sizing(
        dax_node_type=s.choice("dax_node_type", DAX_NODE_TYPES),
        dax_nodes=s.integer("dax_nodes", DAX_NODE_RANGE),
        dax_record_ttl_ms=s.integer("dax_record_ttl_ms", DAX_TTL_MS_RANGE),
        dax_query_ttl_ms=s.integer("dax_query_ttl_ms", DAX_TTL_MS_RANGE),
        search_instances=s.integer("search_instances", SEARCH_INSTANCE_RANGE),
        lambda_memory_mb=s.integer("lambda_memory_mb", LAMBDA_MEMORY_RANGE),
        function_concurrency=s.integer("function_concurrency", FUNCTION_CONCURRENCY_RANGE),
    )
    s.finish()

    k = top.section("backup")
    daily = k.integer("daily_retention_days", RETENTION_DAYS_RANGE)
    weekly = k.integer("weekly_retention_days", RETENTION_DAYS_RANGE)
    if weekly < daily:
        raise k.fail("weekly_retention_days", weekly, f"at least daily_retention_days ({daily})")
    copy_region = k.region("copy_region", k.optional("copy_region"), {Service.BACKUP, Service.KMS})
    if copy_region == region:
        raise k.fail("copy_region", copy_region, f"a Region other than the home Region {region}")
    k.finish()
    backup = BackupSettings(daily_retention_days=daily, weekly_retention_days=weekly, copy_region=copy_region)

    alarm_email = top.matching("alarm_email", _EMAIL_RE, "an e-mail address such as ops@example.com")

    origins = top.string_list("cors_origins")
    for index, origin in enumerate(origins):
        if not _ORIGIN_RE.fullmatch(origin):
            raise top.fail(
                f"cors_origins[{index}]", origin, "an https:// origin without path or wildcard, or http://localhost"
            )

    termination_protection = top.boolean("termination_protection")
    if features.dax and termination_protection and sizing.dax_nodes < DAX_PROTECTED_MIN_NODES:
        raise s.fail(
            "dax_nodes",
            sizing.dax_nodes,
            f"at least {DAX_PROTECTED_MIN_NODES} in a termination-protected environment with features.dax "
            "(a primary and two read replicas, which DAX spreads across the subnets' AZs)",
        )
    search = _search_settings(top, s, features, sizing, termination_protection)
    vpc_cidr = top.matching("vpc_cidr", _CIDR_RE, "a private IPv4 CIDR from /16 to /22, e.g. 10.40.0.0/16")

    a = top.section("auth")
    auth = AuthSettings(
        self_sign_up=a.boolean("self_sign_up"),
        mfa=a.choice("mfa", MFA_MODES),
        domain_prefix=a.matching("domain_prefix", _DOMAIN_PREFIX_RE, "1-63 lowercase letters, digits or hyphens"),
        callback_urls=tuple(_urls(a, "callback_urls")),
        logout_urls=tuple(_urls(a, "logout_urls")),
    )
    a.finish()

    d = top.section("documents")
    documents = DocumentSettings(
        noncurrent_version_retention_days=d.integer("noncurrent_version_retention_days", NONCURRENT_RETENTION_RANGE),
        access_log_retention_days=d.integer("access_log_retention_days", NONCURRENT_RETENTION_RANGE),
        max_upload_bytes=d.integer("max_upload_bytes", MAX_UPLOAD_BYTES_RANGE),
        quota_documents=d.integer("quota_documents", QUOTA_DOCUMENTS_RANGE),
        quota_bytes=d.integer("quota_bytes", QUOTA_BYTES_RANGE),
    )
    if documents.max_upload_bytes > documents.quota_bytes:
        raise d.fail("max_upload_bytes", documents.max_upload_bytes, f"at most quota_bytes ({documents.quota_bytes})")
    d.finish()

    p = top.section("api")
    api = ApiSettings(
        throttle_rate_limit=p.integer("throttle_rate_limit", THROTTLE_RATE_RANGE),
        throttle_burst_limit=p.integer("throttle_burst_limit", THROTTLE_BURST_RANGE),
        waf_requests_per_ip=p.integer("waf_requests_per_ip", WAF_RATE_RANGE),
        manage_account_logging_role=p.boolean("manage_account_logging_role", _LOGGING_ROLE_CHOICES),
    )
    p.finish()
    audit = _audit_settings(top.section("audit"))
    top.finish()

    return FolioConfig(
        name=environment,
        account=account_value,
        region=region,
        replica_regions=tuple(replicas),
        table_class=table_class,
        billing=billing,
        features=features,
        sizing=sizing,
        search=search,
        backup=backup,
        alarm_email=alarm_email,
        cors_origins=tuple(origins),
        termination_protection=termination_protection,
        vpc_cidr=vpc_cidr,
        auth=auth,
        documents=documents,
        api=api,
        audit=audit,
    )


def _audit_settings(reader: _Reader) -> AuditSettings:
    audit = AuditSettings(
        stream_retention_hours=reader.integer("stream_retention_hours", STREAM_RETENTION_HOURS_RANGE),
        archive_transition_days=reader.integer("archive_transition_days", ARCHIVE_TRANSITION_DAYS_RANGE),
        archive_retention_days=reader.integer("archive_retention_days", ARCHIVE_RETENTION_DAYS_RANGE),
    )
    if audit.archive_retention_days <= audit.archive_transition_days:
        raise reader.fail(
            "archive_retention_days",
            audit.archive_retention_days,
            f"more than archive_transition_days ({audit.archive_transition_days}): "
            "S3 expires an object only after its last transition",
        )
    reader.finish()
    return audit


def _urls(reader: _Reader, key: str) -> list[str]:
    urls = reader.string_list(key)
    if not urls:
        raise reader.fail(key, urls, "at least one URL")
    for index, url in enumerate(urls):
        if not _URL_RE.fullmatch(url):
            raise reader.fail(f"{key}[{index}]", url, "an https:// URL (or http://localhost) without query or fragment")
    return urls


def _search_settings(
    top: _Reader, sizing_reader: _Reader, features: Features, sizing: Sizing, protected: bool
) -> SearchSettings:
    r = top.section("search")
    search = SearchSettings(
        data_node_type=r.choice("data_node_type", SEARCH_NODE_TYPES),
        availability_zones=r.integer("availability_zones", SEARCH_ZONE_RANGE),
        dedicated_masters=r.integer(
            "dedicated_masters", (min(SEARCH_DEDICATED_MASTERS), max(SEARCH_DEDICATED_MASTERS))
        ),
        master_node_type=r.choice("master_node_type", SEARCH_NODE_TYPES),
        volume_gb=r.integer("volume_gb", SEARCH_VOLUME_GB_RANGE),
        min_ocus=r.integer("min_ocus", SEARCH_OCU_RANGE),
        max_ocus=r.integer("max_ocus", SEARCH_OCU_RANGE),
    )
    if search.max_ocus < search.min_ocus:
        raise r.fail("max_ocus", search.max_ocus, f"at least search.min_ocus ({search.min_ocus})")
    if search.dedicated_masters not in SEARCH_DEDICATED_MASTERS:
        raise r.fail(
            "dedicated_masters", search.dedicated_masters, "0, 3 or 5 (none, or an odd quorum of at least three)"
        )
    r.finish()
    if not features.search:
        return search
    zones = search.availability_zones
    if sizing.search_instances % zones:
        raise sizing_reader.fail(
            "search_instances",
            sizing.search_instances,
            f"a multiple of search.availability_zones ({zones}): OpenSearch puts as many data nodes in each zone",
        )
    if protected:
        why = "in a termination-protected environment with features.search (a domain that survives an AZ)"
        if zones < SEARCH_PROTECTED_MIN_ZONES:
            raise r.fail("availability_zones", zones, f"at least {SEARCH_PROTECTED_MIN_ZONES} {why}")
        if sizing.search_instances < SEARCH_PROTECTED_MIN_NODES:
            raise sizing_reader.fail(
                "search_instances", sizing.search_instances, f"at least {SEARCH_PROTECTED_MIN_NODES} {why}"
            )
        if search.dedicated_masters < SEARCH_PROTECTED_MIN_MASTERS:
            raise r.fail(
                "dedicated_masters", search.dedicated_masters, f"at least {SEARCH_PROTECTED_MIN_MASTERS} {why}"
            )
    return search
