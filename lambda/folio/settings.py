"""Settings, parsed once at cold start from the function's environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


class Env:
    """The names of the environment variables a function reads, named once: the stacks set
    them under these names (stacks/api_stack.py imports this class)."""

    TABLE_NAME = "TABLE_NAME"
    BUCKET_NAME = "BUCKET_NAME"
    # The bucket's Region, which a presigned URL must be signed for: a regional serving stage's
    # functions presign against the home Region's bucket (docs/architecture.md).
    BUCKET_REGION = "BUCKET_REGION"
    DOCUMENT_PREFIX = "DOCUMENT_PREFIX"
    # Optional: set where the create function runs (the home Region); a regional serving stage
    # deploys no function that writes, so it has no idempotency table.
    IDEMPOTENCY_TABLE_NAME = "IDEMPOTENCY_TABLE_NAME"
    CURSOR_SECRET_ARN = "CURSOR_SECRET_ARN"  # noqa: S105 (the variable's name, not a secret)
    MAX_UPLOAD_BYTES = "MAX_UPLOAD_BYTES"
    QUOTA_DOCUMENTS = "QUOTA_DOCUMENTS"
    QUOTA_BYTES = "QUOTA_BYTES"
    CORS_ORIGINS = "CORS_ORIGINS"
    ADMINS_GROUP = "ADMINS_GROUP"
    # Optional: set only on the functions that read through DAX, where the environment runs a
    # cluster (its "daxs://...:9111" discovery URL). Absent: every read goes to DynamoDB.
    DAX_ENDPOINT = "DAX_ENDPOINT"
    # Optional: set only on the search function, where the environment runs the search domain
    # ("https://vpc-..."). Absent: a search is a deployment error (500), nothing else changes.
    SEARCH_ENDPOINT = "SEARCH_ENDPOINT"


ENVIRONMENT_VARIABLES = tuple(value for name, value in vars(Env).items() if name.isupper())
OPTIONAL_VARIABLES = (Env.IDEMPOTENCY_TABLE_NAME, Env.DAX_ENDPOINT, Env.SEARCH_ENDPOINT)
REQUIRED_VARIABLES = tuple(name for name in ENVIRONMENT_VARIABLES if name not in OPTIONAL_VARIABLES)


class SettingsError(RuntimeError):
    """A missing or malformed environment variable (a deployment bug, not a user error)."""


@dataclass(frozen=True)
class Settings:
    table_name: str
    bucket_name: str
    bucket_region: str
    document_prefix: str
    idempotency_table_name: str | None
    cursor_secret_arn: str
    max_upload_bytes: int
    quota_documents: int
    quota_bytes: int
    cors_origins: tuple[str, ...]
    admins_group: str
    dax_endpoint: str | None = None
    search_endpoint: str | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def text(name: str) -> str:
            value = env.get(name, "")
            if not value:
                raise SettingsError(f"environment variable {name} is not set")
            return value

        def number(name: str) -> int:
            raw = text(name)
            if not raw.isdigit() or int(raw) < 1:
                raise SettingsError(f"environment variable {name} must be a positive integer, not {raw!r}")
            return int(raw)

        return cls(
            table_name=text(Env.TABLE_NAME),
            bucket_name=text(Env.BUCKET_NAME),
            bucket_region=text(Env.BUCKET_REGION),
            document_prefix=text(Env.DOCUMENT_PREFIX),
            idempotency_table_name=env.get(Env.IDEMPOTENCY_TABLE_NAME) or None,
            cursor_secret_arn=text(Env.CURSOR_SECRET_ARN),
            max_upload_bytes=number(Env.MAX_UPLOAD_BYTES),
            quota_documents=number(Env.QUOTA_DOCUMENTS),
            quota_bytes=number(Env.QUOTA_BYTES),
            cors_origins=tuple(o for o in text(Env.CORS_ORIGINS).split(",") if o),
            admins_group=text(Env.ADMINS_GROUP),
            dax_endpoint=env.get(Env.DAX_ENDPOINT) or None,
            search_endpoint=env.get(Env.SEARCH_ENDPOINT) or None,
        )
