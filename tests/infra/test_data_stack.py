"""The data stack's table, keys, replicas and backups, asserted against the key schema and config."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk.assertions import Capture, Match

from folio import keys
from stacks.config import load_config
from tests.conftest import Synthesized

ENVIRONMENTS = ("sandbox", "prod")


@pytest.fixture(scope="module", params=ENVIRONMENTS)
def synth(request: pytest.FixtureRequest, synthesized: Callable[[str], Synthesized]) -> Synthesized:
    return synthesized(request.param)


def only_resource(synth: Synthesized, stack_id: str, resource_type: str) -> dict[str, Any]:
    found = synth.template(stack_id).find_resources(resource_type)
    assert len(found) == 1, f"{stack_id} has {len(found)} {resource_type}"
    return next(iter(found.values()))


def global_table(synth: Synthesized) -> dict[str, Any]:
    """The documents table: the global table keyed by folio.keys' PK and SK."""
    tables = synth.template("Data").find_resources("AWS::DynamoDB::GlobalTable")
    [table] = [t for t in tables.values() if t["Properties"]["KeySchema"][0]["AttributeName"] == keys.PARTITION_KEY]
    return table


def key_schema(partition: tuple[keys.KeyAttribute, ...], sort: tuple[keys.KeyAttribute, ...]) -> list[dict[str, str]]:
    return [{"AttributeName": a.name, "KeyType": "HASH"} for a in partition] + [
        {"AttributeName": a.name, "KeyType": "RANGE"} for a in sort
    ]


def test_table_keys_come_from_the_runtime_key_schema(synth: Synthesized) -> None:
    table = global_table(synth)["Properties"]

    assert table["KeySchema"] == [
        {"AttributeName": keys.PARTITION_KEY, "KeyType": "HASH"},
        {"AttributeName": keys.SORT_KEY, "KeyType": "RANGE"},
    ]
    definitions = {d["AttributeName"]: d["AttributeType"] for d in table["AttributeDefinitions"]}
    assert definitions[keys.PARTITION_KEY] == "S"
    assert definitions[keys.SORT_KEY] == "S"


def test_every_index_matches_its_schema_keys_and_projection(synth: Synthesized) -> None:
    table = global_table(synth)["Properties"]
    definitions = {d["AttributeName"]: d["AttributeType"] for d in table["AttributeDefinitions"]}
    indexes = {index["IndexName"]: index for index in table["GlobalSecondaryIndexes"]}

    assert sorted(indexes) == sorted(index.name for index in keys.GLOBAL_SECONDARY_INDEXES)
    for schema in keys.GLOBAL_SECONDARY_INDEXES:
        index = indexes[schema.name]
        assert index["KeySchema"] == key_schema(schema.partition_keys, schema.sort_keys), schema.name
        for attribute in (*schema.partition_keys, *schema.sort_keys):
            assert definitions[attribute.name] == attribute.kind.value, attribute.name
        assert index["Projection"]["ProjectionType"] == schema.projection.value
        assert sorted(index["Projection"].get("NonKeyAttributes", [])) == sorted(schema.non_key_attributes)


def test_gsi2_and_gsi3_use_multi_attribute_keys_and_gsi1_stays_overloaded(synth: Synthesized) -> None:
    indexes = {i["IndexName"]: i for i in global_table(synth)["Properties"]["GlobalSecondaryIndexes"]}

    assert [k["AttributeName"] for k in indexes["GSI1"]["KeySchema"]] == ["GSI1PK", "GSI1SK"]
    assert [k["AttributeName"] for k in indexes["GSI2"]["KeySchema"]] == ["recentShard", "createdAt", "docId"]
    assert [k["AttributeName"] for k in indexes["GSI3"]["KeySchema"]] == ["owner", "trashedAt"]


def test_ttl_stream_billing_and_class(synth: Synthesized) -> None:
    table = global_table(synth)["Properties"]
    billing = synth.config.billing

    assert table["TimeToLiveSpecification"] == {"AttributeName": keys.TTL_ATTRIBUTE, "Enabled": True}
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["WriteOnDemandThroughputSettings"] == {"MaxWriteRequestUnits": billing.max_write_request_units}
    for replica in table["Replicas"]:
        assert replica["TableClass"] == synth.config.table_class, replica["Region"]
    assert table["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS"}
    for index in table["GlobalSecondaryIndexes"]:
        assert index["WriteOnDemandThroughputSettings"] == {"MaxWriteRequestUnits": billing.max_write_request_units}


def test_a_replica_in_home_and_every_replica_region_each_fully_protected(synth: Synthesized) -> None:
    replicas = {r["Region"]: r for r in global_table(synth)["Properties"]["Replicas"]}
    config = synth.config

    assert sorted(replicas) == sorted({config.region, *config.replica_regions})
    for region, replica in replicas.items():
        assert replica["PointInTimeRecoverySpecification"] == {
            "PointInTimeRecoveryEnabled": True,
            "RecoveryPeriodInDays": 35,
        }, region
        assert replica["DeletionProtectionEnabled"] is True, region
        assert replica["ContributorInsightsSpecification"] == {"Enabled": True}, region
        assert replica["ReadOnDemandThroughputSettings"] == {
            "MaxReadRequestUnits": config.billing.max_read_request_units
        }, region


def test_replica_keys_are_this_regions_table_key_or_the_alias_in_the_replica_region(synth: Synthesized) -> None:
    template = synth.template("Data")
    table_key_id = next(
        iter(
            template.find_resources(
                "AWS::KMS::Key", {"Properties": {"Description": Match.string_like_regexp("documents table")}}
            )
        )
    )
    replicas = {r["Region"]: r for r in global_table(synth)["Properties"]["Replicas"]}
    config = synth.config

    assert replicas[config.region]["SSESpecification"] == {"KMSMasterKeyId": {"Fn::GetAtt": [table_key_id, "Arn"]}}
    for region in config.replica_regions:
        assert replicas[region]["SSESpecification"] == {
            "KMSMasterKeyId": f"arn:aws:kms:{region}:{config.account}:{synth.stage.names.table_key_alias}"
        }


def test_each_replica_region_deploys_the_key_behind_that_alias(synth: Synthesized) -> None:
    for region in synth.config.replica_regions:
        template = synth.template(f"Region-{region}")
        key_id = Capture()
        template.has_resource_properties(
            "AWS::KMS::Alias",
            {"AliasName": synth.stage.names.table_key_alias, "TargetKeyId": {"Fn::GetAtt": [key_id, "Arn"]}},
        )
        template.has_resource(
            "AWS::KMS::Key",
            {"Properties": {"EnableKeyRotation": True}, "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"},
        )
        assert synth.templates[f"Region-{region}"]["Resources"][key_id.as_string()]["Type"] == "AWS::KMS::Key"


def test_data_stack_is_deployed_after_every_other_region(synth: Synthesized) -> None:
    dependencies = {stack.node.id for stack in synth.stage.data.dependencies}

    assert dependencies == {f"Region-{r}" for r in synth.config.all_regions[1:]}


def test_termination_protection_follows_config(synth: Synthesized) -> None:
    expected = synth.config.termination_protection

    assert synth.stage.data.termination_protection is expected
    assert all(stack.termination_protection is expected for stack in synth.stage.region_stacks.values())


def test_prod_is_termination_protected_and_sandbox_is_not() -> None:
    assert load_config("prod").termination_protection is True
    assert load_config("sandbox").termination_protection is False


def test_backup_plan_has_daily_and_weekly_rules_with_configured_retention_and_a_copy(synth: Synthesized) -> None:
    plan = only_resource(synth, "Data", "AWS::Backup::BackupPlan")["Properties"]["BackupPlan"]
    config = synth.config
    copy_vault_arn = (
        f"arn:aws:backup:{config.backup.copy_region}:{config.account}:backup-vault:{synth.stage.names.copy_vault}"
    )
    rules = {rule["RuleName"]: rule for rule in plan["BackupPlanRule"]}

    assert sorted(rules) == ["Daily", "Weekly"]
    assert rules["Daily"]["ScheduleExpression"] == "cron(0 3 * * ? *)"
    assert rules["Weekly"]["ScheduleExpression"] == "cron(0 4 ? * SUN *)"
    for name, days in (("Daily", config.backup.daily_retention_days), ("Weekly", config.backup.weekly_retention_days)):
        assert rules[name]["Lifecycle"] == {"DeleteAfterDays": days}
        assert rules[name]["CopyActions"] == [
            {"DestinationBackupVaultArn": copy_vault_arn, "Lifecycle": {"DeleteAfterDays": days}}
        ]


def test_backup_vault_has_its_own_key_and_blocks_early_deletion(synth: Synthesized) -> None:
    vault = only_resource(synth, "Data", "AWS::Backup::BackupVault")
    replicas = {r["Region"]: r for r in global_table(synth)["Properties"]["Replicas"]}
    vault_key = vault["Properties"]["EncryptionKeyArn"]["Fn::GetAtt"][0]
    table_key = replicas[synth.config.region]["SSESpecification"]["KMSMasterKeyId"]["Fn::GetAtt"][0]

    assert vault["DeletionPolicy"] == "Retain"
    assert synth.templates["Data"]["Resources"][vault_key]["Type"] == "AWS::KMS::Key"
    assert vault_key != table_key
    denied = vault["Properties"]["AccessPolicy"]["Statement"][0]
    assert denied["Effect"] == "Deny"
    assert "backup:DeleteRecoveryPoint" in denied["Action"]


def test_backup_selection_covers_the_table_with_a_role_without_managed_aws_policies(synth: Synthesized) -> None:
    template = synth.template("Data")
    tables = template.find_resources("AWS::DynamoDB::GlobalTable")
    [table_id] = [
        i for i, t in tables.items() if t["Properties"]["KeySchema"][0]["AttributeName"] == keys.PARTITION_KEY
    ]
    selection = only_resource(synth, "Data", "AWS::Backup::BackupSelection")["Properties"]["BackupSelection"]
    role_id = selection["IamRoleArn"]["Fn::GetAtt"][0]
    role = synth.templates["Data"]["Resources"][role_id]

    assert selection["Resources"] == [{"Fn::GetAtt": [table_id, "Arn"]}]
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "backup.amazonaws.com"
    }
    for arn in role["Properties"]["ManagedPolicyArns"]:
        assert "Ref" in arn, f"backup role must use Folio's own policy, found {arn}"


def test_copy_vault_lives_in_the_copy_region_with_the_fixed_name_and_aliased_key(synth: Synthesized) -> None:
    config = synth.config
    template = synth.template(f"Region-{config.backup.copy_region}")

    template.has_resource(
        "AWS::Backup::BackupVault",
        {
            "Properties": {"BackupVaultName": synth.stage.names.copy_vault, "EncryptionKeyArn": Match.any_value()},
            "DeletionPolicy": "Retain",
        },
    )
    template.has_resource_properties("AWS::KMS::Alias", {"AliasName": synth.stage.names.copy_key_alias})
