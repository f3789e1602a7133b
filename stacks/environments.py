"""The Folio environments: the one file an operator edits to add or change an environment.

Plain data, nothing else (tests/unit/test_config.py keeps it so): `stacks/config.py` parses
each entry into a frozen `FolioConfig` and refuses a bad value with one line naming the key,
the value and what is allowed. The README's "Configuration" table says what each key means and
which values are allowed; the comments here say why each environment chose what it did.

Accounts are examples: replace them with yours (README, "Deploying for real"). `"account": None`
means the account of the CDK CLI's credentials, or offline a placeholder that cannot be deployed.
Sizes in bytes are written as powers of 1024 (100 * 1024**2 is 100 MiB).
"""

ENVIRONMENTS: dict[str, dict[str, object]] = {
    # One developer's stack, deployed by hand (`make synth`'s default) into whatever account the
    # CLI's credentials name, which may be shared: the cheapest shape of the API, table, bucket and
    # users. No DAX, search domain or audit archive (each costs by the hour even when idle; reads go
    # straight to DynamoDB), small throughput and concurrency caps, no termination protection,
    # sign-up open with optional MFA, and a local web app on localhost:5173 as the only origin.
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
    # The shared integration environment, in an account of its own: every part prod runs except the
    # audit archive, at the smallest size. DAX and the search domain are single nodes in one AZ,
    # which the parser allows only without termination protection: DAX is a cache any read can
    # bypass, and the domain is rebuilt from the table by a re-export.
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
    # Production, in an account of its own and termination-protected, so the parser requires a DAX
    # cluster of three nodes and a search domain that survives an AZ. The table has two replica
    # Regions and backups are copied to a Region the table is not in; sign-up is closed and MFA
    # required; the audit archive (features.cdc) runs here only.
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

# The one pipeline that delivers Folio (README, "Deploying for real"): it runs in a toolchain
# account of its own, builds `branch` of `repository` through a CodeConnections connection,
# deploys `test_environment`, smoke-tests it, waits for an approval, then deploys
# `production_environment`. The connection ARN below is a placeholder (a zero UUID in an
# example account): `cdk synth` needs no lookup, so the pipeline synthesizes offline; create a
# connection in the console, authorize it, and put its ARN here before `cdk deploy FolioPipeline`.
# "enabled": False leaves the pipeline out of the app (the other keys may then be None).
PIPELINE: dict[str, object] = {
    "enabled": True,
    "account": "333333333333",
    "region": "us-east-1",
    "connection_arn": "arn:aws:codeconnections:us-east-1:333333333333:connection/00000000-0000-0000-0000-000000000000",
    "repository": "example-org/folio",
    "branch": "main",
    "notification_email": "folio-pipeline@example.com",
    "test_environment": "dev",
    "production_environment": "prod",
}
