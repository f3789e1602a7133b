"""AWS Backup for the documents table: an encrypted vault, daily and weekly rules, a
copy of every recovery point in another Region, and a selection role without AWS
managed policies."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_backup as backup
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from stacks import nag
from stacks.components.encryption_key import EncryptionKey


class TableBackup(Construct):
    """Backs up one table into a vault of its own, and copies each backup to
    `copy_vault_arn` (a vault in another Region whose key has the alias
    `copy_key_alias`).

    PITR (35 days) covers "undo the last hour"; these backups cover the longer
    retention, a deleted table and the loss of the home Region.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table: dynamodb.TableV2,
        table_key: kms.IKey,
        daily_retention: cdk.Duration,
        weekly_retention: cdk.Duration,
        copy_region: str,
        copy_vault_name: str,
        copy_key_alias: str,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.vault_key = EncryptionKey(self, "VaultKey", description="Folio: encrypts the table's backup vault").key
        self.vault = backup.BackupVault(
            self,
            "Vault",
            encryption_key=self.vault_key,
            removal_policy=cdk.RemovalPolicy.RETAIN,
            # Nobody, administrators included, deletes a recovery point early; lifecycle expiry still applies.
            block_recovery_point_deletion=True,
        )
        copy_vault_arn = stack.format_arn(
            service="backup",
            region=copy_region,
            resource="backup-vault",
            resource_name=copy_vault_name,
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        copy_vault = backup.BackupVault.from_backup_vault_arn(self, "CopyVault", copy_vault_arn)

        self.plan = backup.BackupPlan(self, "Plan", backup_vault=self.vault)
        for rule_name, schedule, retention in (
            ("Daily", events.Schedule.cron(hour="3", minute="0"), daily_retention),
            ("Weekly", events.Schedule.cron(week_day="SUN", hour="4", minute="0"), weekly_retention),
        ):
            self.plan.add_rule(
                backup.BackupPlanRule(
                    rule_name=rule_name,
                    schedule_expression=schedule,
                    start_window=cdk.Duration.hours(1),
                    completion_window=cdk.Duration.hours(8),
                    delete_after=retention,
                    copy_actions=[
                        backup.BackupPlanCopyActionProps(destination_backup_vault=copy_vault, delete_after=retention)
                    ],
                )
            )

        self.role = iam.Role(
            self,
            "SelectionRole",
            assumed_by=iam.ServicePrincipal("backup.amazonaws.com"),
            description="AWS Backup: back up and copy the Folio table, nothing else",
        )
        statements: list[iam.PolicyStatement] = []
        statements.append(
            iam.PolicyStatement(
                sid="BackUpTheTable",
                actions=[
                    "dynamodb:CreateBackup",
                    "dynamodb:DescribeTable",
                    "dynamodb:ListTagsOfResource",
                    "dynamodb:StartAwsBackupJob",
                ],
                resources=[table.table_arn],
            )
        )
        backups_of_table = f"{table.table_arn}/backup/*"
        statements.append(
            iam.PolicyStatement(
                sid="ManageTheTablesBackups",
                actions=["dynamodb:DeleteBackup", "dynamodb:DescribeBackup"],
                resources=[backups_of_table],
            )
        )
        statements.append(
            iam.PolicyStatement(
                sid="CopyToTheOtherRegion",
                actions=["backup:CopyIntoBackupVault", "backup:DescribeBackupVault"],
                resources=[copy_vault_arn],
            )
        )
        statements.append(
            iam.PolicyStatement(
                sid="ReadTheEncryptedTable",
                actions=["kms:Decrypt", "kms:DescribeKey"],
                resources=[table_key.key_arn],
            )
        )
        statements.append(
            iam.PolicyStatement(
                sid="EncryptRecoveryPoints",
                actions=["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"],
                resources=[self.vault_key.key_arn],
            )
        )
        statements.append(
            iam.PolicyStatement(
                sid="GrantBackupItsKeys",
                actions=["kms:CreateGrant"],
                resources=[table_key.key_arn, self.vault_key.key_arn],
                conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
            )
        )
        # The copy vault's key lives in another Region and is known only by its alias.
        copy_keys = stack.format_arn(service="kms", region=copy_region, resource="key", resource_name="*")
        statements.append(
            iam.PolicyStatement(
                sid="EncryptCopiesWithTheCopyVaultKey",
                actions=["kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"],
                resources=[copy_keys],
                conditions={"ForAnyValue:StringEquals": {"kms:ResourceAliases": copy_key_alias}},
            )
        )
        # A customer-managed policy, not an inline one: reviewers see it as one named
        # document, and it is neither an AWS managed policy nor an inline policy.
        self.policy = iam.ManagedPolicy(
            self, "SelectionPolicy", description="What AWS Backup may do for Folio", statements=statements
        )
        self.role.add_managed_policy(self.policy)
        self.selection = self.plan.add_selection(
            "Table",
            resources=[backup.BackupResource.from_arn(table.table_arn)],
            role=self.role,
            disable_default_backup_policy=True,
        )
        nag.acknowledge(self.policy, nag.BACKUP_ROLE_RECOVERY_POINTS, table=nag.logical_id(table))
        nag.acknowledge(self.policy, nag.BACKUP_ROLE_COPY_KEY, region=copy_region, account=stack.account)
