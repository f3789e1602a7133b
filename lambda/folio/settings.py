"""Settings, parsed once at cold start from the function's environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

# Set only on the functions that read through DAX: the cluster's "daxs://host:9111" URL.
DAX_ENDPOINT_VARIABLE = "DAX_ENDPOINT"


class SettingsError(RuntimeError):
    """A missing or malformed environment variable (a deployment bug, not a user error)."""


@dataclass(frozen=True)
class Settings:
    table_name: str
    bucket_name: str
    document_prefix: str
    idempotency_table_name: str
    cursor_secret_arn: str
    max_upload_bytes: int
    quota_documents: int
    quota_bytes: int
    cors_origins: tuple[str, ...]
    admins_group: str

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
            table_name=text("TABLE_NAME"),
            bucket_name=text("BUCKET_NAME"),
            document_prefix=text("DOCUMENT_PREFIX"),
            idempotency_table_name=text("IDEMPOTENCY_TABLE_NAME"),
            cursor_secret_arn=text("CURSOR_SECRET_ARN"),
            max_upload_bytes=number("MAX_UPLOAD_BYTES"),
            quota_documents=number("QUOTA_DOCUMENTS"),
            quota_bytes=number("QUOTA_BYTES"),
            cors_origins=tuple(o for o in text("CORS_ORIGINS").split(",") if o),
            admins_group=text("ADMINS_GROUP"),
        )
