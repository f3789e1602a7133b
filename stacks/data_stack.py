"""The stateful stack of an environment's home Region: who the users are and what they stored.

Everything here is RETAIN: a deploy, a rollback or a `cdk destroy` never deletes a
user's data. The stateless Api stack reads these resources through typed attributes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from constructs import Construct

from folio.object_keys import DOCUMENT_OBJECT_PREFIX
from stacks.components.audit_archive import AuditArchive, ChangeStream
from stacks.components.document_store import SEARCH_EXPORTS_ACCESS_LOG_PREFIX, DocumentStore
from stacks.components.documents_table import DocumentsTable
from stacks.components.encryption_key import EncryptionKey
from stacks.components.idempotency_table import IdempotencyTable
from stacks.components.identity_access import IdentityAccess
from stacks.components.search_ingestion import table_access_policy
from stacks.components.table_backup import TableBackup
from stacks.components.user_directory import UserDirectory
from stacks.config import AuditSettings, AuthSettings, BackupSettings, BillingLimits, DocumentSettings


class DataStack(cdk.Stack):
    """KMS keys, the global table (with replicas) and AWS Backup, the documents bucket,
    the Cognito user pool and its client, optionally an identity pool, and, where `audit` is
    given (features.cdc), the audit archive of every change of the table."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table_class: str,
        billing: BillingLimits,
        replica_key_arns: Mapping[str, str],
        backup_settings: BackupSettings,
        copy_vault_name: str,
        copy_key_alias: str,
        auth: AuthSettings,
        documents: DocumentSettings,
        cors_origins: tuple[str, ...],
        identity_pool: bool,
        documents_bucket_name: str,
        audit: AuditSettings | None = None,
        search_exports_bucket_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.table_key = EncryptionKey(self, "TableKey", description="Folio: encrypts the documents table").key
        self.change_stream: ChangeStream | None = None
        if audit is not None:
            retention = cdk.Duration.hours(audit.stream_retention_hours)
            self.change_stream = ChangeStream(self, "ChangeStream", retention=retention)
        documents_table = DocumentsTable(
            self,
            "Documents",
            encryption_key=self.table_key,
            replica_key_arns=replica_key_arns,
            table_class=table_class,
            max_read_request_units=billing.max_read_request_units,
            max_write_request_units=billing.max_write_request_units,
            change_stream=self.change_stream.stream if self.change_stream else None,
        )
        self.table = documents_table.table
        # Where `features.search` is on (a search exports bucket is named): what the ingestion
        # pipeline (Search stack) may do to the table.
        self.search_ingestion_access = (
            table_access_policy(self, "SearchIngestionTableAccess", table=self.table, table_key=self.table_key)
            if search_exports_bucket_name
            else None
        )
        self.backup = TableBackup(
            self,
            "Backup",
            table=self.table,
            table_key=self.table_key,
            daily_retention=cdk.Duration.days(backup_settings.daily_retention_days),
            weekly_retention=cdk.Duration.days(backup_settings.weekly_retention_days),
            copy_region=backup_settings.copy_region,
            copy_vault_name=copy_vault_name,
            copy_key_alias=copy_key_alias,
        )

        self.bucket_key = EncryptionKey(self, "BucketKey", description="Folio: encrypts the documents bucket").key
        store = DocumentStore(
            self,
            "Store",
            bucket_name=documents_bucket_name,
            encryption_key=self.bucket_key,
            cors_origins=cors_origins,
            noncurrent_version_retention=cdk.Duration.days(documents.noncurrent_version_retention_days),
            access_log_retention=cdk.Duration.days(documents.access_log_retention_days),
        )
        self.bucket = store.bucket
        self.access_logs = store.access_logs
        if search_exports_bucket_name:
            store.receive_access_logs_of(search_exports_bucket_name, SEARCH_EXPORTS_ACCESS_LOG_PREFIX)
        self.document_prefix = DOCUMENT_OBJECT_PREFIX
        self.audit_archive: AuditArchive | None = None
        if audit is not None and self.change_stream is not None:
            self.audit_archive = AuditArchive(
                self,
                "AuditArchive",
                change_stream=self.change_stream,
                access_logs=store.access_logs,
                transition_after=cdk.Duration.days(audit.archive_transition_days),
                retention=cdk.Duration.days(audit.archive_retention_days),
            )
        self.idempotency_table = IdempotencyTable(self, "Idempotency", encryption_key=self.table_key).table

        self.users = UserDirectory(
            self,
            "Users",
            self_sign_up=auth.self_sign_up,
            mfa_required=auth.mfa == "required",
            domain_prefix=auth.domain_prefix,
            callback_urls=auth.callback_urls,
            logout_urls=auth.logout_urls,
        )
        # What a client signs in with; the pipeline's smoke test reads them (env_from_cfn_outputs).
        self.user_pool_id_output = cdk.CfnOutput(self, "UserPoolId", value=self.users.user_pool.user_pool_id)
        self.user_pool_client_id_output = cdk.CfnOutput(
            self, "UserPoolClientId", value=self.users.web_client.user_pool_client_id
        )
        self.smoke_test_client_id_output = cdk.CfnOutput(
            self, "SmokeTestClientId", value=self.users.smoke_test_client.user_pool_client_id
        )
        self.identity: IdentityAccess | None = None
        if identity_pool:
            self.identity = IdentityAccess(
                self,
                "Identity",
                user_pool=self.users.user_pool,
                client=self.users.web_client,
                table=self.table,
                table_key=self.table_key,
                bucket=self.bucket,
                bucket_key=self.bucket_key,
                object_prefix=DOCUMENT_OBJECT_PREFIX,
            )
