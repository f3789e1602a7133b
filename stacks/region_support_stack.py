"""What the home Region's data stack needs in another Region, deployed before it."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from stacks.components.backup_copy_vault import BackupCopyVault
from stacks.components.encryption_key import EncryptionKey


class RegionSupportStack(cdk.Stack):
    """The table replica's key (in a replica Region) and/or the backup copy vault (in
    the copy Region). Both carry fixed names so the home stack refers to them by ARN,
    with no cross-Region references (and so no custom resources).

    In a replica Region the key's ARN is also written to the SSM parameter
    `table_key_arn_parameter`, where the Region's serving stage reads it at deploy time: IAM
    names a key by its ARN, never by an alias."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table_key_alias: str | None,
        table_key_arn_parameter: str | None = None,
        copy_vault_name: str | None,
        copy_key_alias: str | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.table_key = None
        if table_key_alias is not None:
            self.table_key = EncryptionKey(
                self,
                "TableReplicaKey",
                description="Folio: encrypts this Region's replica of the documents table",
                alias=table_key_alias,
            ).key
            if table_key_arn_parameter is not None:
                ssm.StringParameter(
                    self,
                    "TableReplicaKeyArn",
                    parameter_name=table_key_arn_parameter,
                    string_value=self.table_key.key_arn,
                    description="Folio: the ARN of this Region's table replica key, for the regional serving stage",
                )
        self.copy_vault = None
        if copy_vault_name is not None and copy_key_alias is not None:
            self.copy_vault = BackupCopyVault(self, "BackupCopy", vault_name=copy_vault_name, key_alias=copy_key_alias)
