"""The vault in another Region that receives a copy of every Folio recovery point."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_backup as backup
from constructs import Construct

from stacks.components.encryption_key import EncryptionKey


class BackupCopyVault(Construct):
    """A vault with a fixed name and a key with a fixed alias, so the home Region's
    backup plan can address both without a cross-Region reference."""

    def __init__(self, scope: Construct, construct_id: str, *, vault_name: str, key_alias: str) -> None:
        super().__init__(scope, construct_id)
        self.key = EncryptionKey(
            self, "Key", description="Folio: encrypts the cross-Region backup copies", alias=key_alias
        ).key
        self.vault = backup.BackupVault(
            self,
            "Vault",
            backup_vault_name=vault_name,
            encryption_key=self.key,
            removal_policy=cdk.RemovalPolicy.RETAIN,
            block_recovery_point_deletion=True,
        )
