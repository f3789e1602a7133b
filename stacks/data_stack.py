"""The stateful stack of an environment's home Region: the table and its backups.

Everything here is RETAIN: a deploy, a rollback or a `cdk destroy` never deletes a
user's data. Later issues add the documents bucket and the Cognito user pool here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from constructs import Construct

from stacks.components.documents_table import DocumentsTable
from stacks.components.encryption_key import EncryptionKey
from stacks.components.table_backup import TableBackup
from stacks.config import BackupSettings, BillingLimits


class DataStack(cdk.Stack):
    """KMS key, global table (with replicas) and AWS Backup for one environment."""

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
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.table_key = EncryptionKey(self, "TableKey", description="Folio: encrypts the documents table").key
        documents = DocumentsTable(
            self,
            "Documents",
            encryption_key=self.table_key,
            replica_key_arns=replica_key_arns,
            table_class=table_class,
            max_read_request_units=billing.max_read_request_units,
            max_write_request_units=billing.max_write_request_units,
        )
        self.table = documents.table
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
