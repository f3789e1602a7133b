"""The lifecycle worker: the table stream's mapping, its failure queue and alarm, and its role."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from folio.lifecycle import lifecycle_filter_patterns
from stacks.components.lifecycle_worker import BATCH_SIZE
from tests.conftest import ENVIRONMENT_NAMES, Synthesized
from tests.support.templates import as_list

HANDLER = "folio.handlers.lifecycle_worker.handler"
FOURTEEN_DAYS = 14 * 24 * 3600
STREAM_RETENTION_SECONDS = 24 * 3600  # DynamoDB Streams keeps records 24 hours


@pytest.fixture(scope="module", params=ENVIRONMENT_NAMES)
def synth(request: pytest.FixtureRequest, synthesized: Callable[[str], Synthesized]) -> Synthesized:
    return synthesized(request.param)


def resources(synth: Synthesized, resource_type: str, stack: str = "Api") -> dict[str, dict[str, Any]]:
    return synth.template(stack).find_resources(resource_type)


def resolve(synth: Synthesized, value: Any) -> Any:
    """A value of the Api template with cross-stack outputs replaced by what the exporting
    stack puts in them, tagged with that stack: {"Data": {"Fn::GetAtt": [...]}}."""
    if isinstance(value, dict) and set(value) == {"Fn::GetStackOutput"}:
        reference = value["Fn::GetStackOutput"]
        [stack_id] = [
            s.node.id for s in synth.stage.node.children if getattr(s, "stack_name", None) == reference["StackName"]
        ]
        return {stack_id: synth.templates[stack_id]["Outputs"][reference["OutputName"]]["Value"]}
    if isinstance(value, dict):
        return {k: resolve(synth, v) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(synth, v) for v in value]
    return value


def documents_table(synth: Synthesized) -> str:
    [table] = [
        logical_id
        for logical_id, table in resources(synth, "AWS::DynamoDB::GlobalTable", "Data").items()
        if [k["AttributeName"] for k in table["Properties"]["KeySchema"]] == ["PK", "SK"]
    ]
    return table


def table_key_arn(synth: Synthesized) -> dict[str, Any]:
    """The key of the documents table's home-Region replica, as a reference from the Data stack."""
    table = resources(synth, "AWS::DynamoDB::GlobalTable", "Data")[documents_table(synth)]["Properties"]
    [home] = [r for r in table["Replicas"] if r["Region"] in (synth.config.region, {"Ref": "AWS::Region"})]
    return {"Data": home["SSESpecification"]["KMSMasterKeyId"]}


def worker(synth: Synthesized) -> tuple[str, dict[str, Any]]:
    [found] = [
        (i, f) for i, f in resources(synth, "AWS::Lambda::Function").items() if f["Properties"]["Handler"] == HANDLER
    ]
    return found


def mapping(synth: Synthesized) -> dict[str, Any]:
    function_id, _ = worker(synth)
    [found] = [
        m["Properties"]
        for m in resources(synth, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    return found


def failure_queue(synth: Synthesized) -> str:
    arn = mapping(synth)["DestinationConfig"]["OnFailure"]["Destination"]
    assert set(arn) == {"Fn::GetAtt"} and arn["Fn::GetAtt"][1] == "Arn", arn
    queue_id: str = arn["Fn::GetAtt"][0]
    assert resources(synth, "AWS::SQS::Queue")[queue_id]
    return queue_id


def test_the_worker_reads_the_home_regions_table_stream(synth: Synthesized) -> None:
    properties = mapping(synth)

    assert resolve(synth, properties["EventSourceArn"]) == {
        "Data": {"Fn::GetAtt": [documents_table(synth), "StreamArn"]}
    }
    assert properties["StartingPosition"] == "TRIM_HORIZON"
    assert properties["BatchSize"] == BATCH_SIZE


def test_the_mapping_passes_on_only_what_the_worker_acts_on(synth: Synthesized) -> None:
    filters = mapping(synth)["FilterCriteria"]["Filters"]

    assert [json.loads(f["Pattern"]) for f in filters] == lifecycle_filter_patterns()


def test_failures_are_bisected_reported_per_record_and_bounded(synth: Synthesized) -> None:
    properties = mapping(synth)

    assert properties["BisectBatchOnFunctionError"] is True
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert 0 <= properties["MaximumRetryAttempts"] <= 10  # -1 (the default) retries forever
    # Below the stream's fixed 24-hour retention: a record that ages out is described in the
    # failure queue before DynamoDB trims it, never lost in silence (-1, the default, is "until trimmed").
    assert 60 <= properties["MaximumRecordAgeInSeconds"] < STREAM_RETENTION_SECONDS


def test_what_still_fails_waits_in_an_encrypted_tls_only_queue_for_14_days(synth: Synthesized) -> None:
    queue_id = failure_queue(synth)
    queue = resources(synth, "AWS::SQS::Queue")[queue_id]["Properties"]
    keys = resources(synth, "AWS::KMS::Key")
    [policy] = [
        p["Properties"]["PolicyDocument"]
        for p in resources(synth, "AWS::SQS::QueuePolicy").values()
        if {"Ref": queue_id} in p["Properties"]["Queues"]
    ]
    _, function = worker(synth)

    assert queue["KmsMasterKeyId"]["Fn::GetAtt"][0] in keys
    assert queue["MessageRetentionPeriod"] == FOURTEEN_DAYS
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy["Statement"]
    )
    # Asynchronous invocations that fail land in the same queue.
    assert function["Properties"]["DeadLetterConfig"]["TargetArn"] == {"Fn::GetAtt": [queue_id, "Arn"]}


def failure_alarm(synth: Synthesized) -> dict[str, Any]:
    queue_id = failure_queue(synth)
    [alarm] = [
        a["Properties"]
        for a in resources(synth, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("Dimensions")
        == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]
    ]
    return alarm


def test_an_alarm_watches_the_failure_queues_depth(synth: Synthesized) -> None:
    alarm = failure_alarm(synth)
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["Threshold"] == 0
    assert alarm["EvaluationPeriods"] == 1


def this_accounts_alarms(synth: Synthesized) -> dict[str, Any]:
    """The confused-deputy conditions CloudWatch's requests carry: only alarms of this account and Region."""
    return {
        "StringEquals": {"aws:SourceAccount": synth.config.account},
        "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:{synth.config.region}:{synth.config.account}:alarm:*"},
    }


def alarm_topic(synth: Synthesized) -> tuple[str, dict[str, Any]]:
    """The topic the failure alarm notifies; both its alarm and its OK action name it."""
    alarm = failure_alarm(synth)
    assert alarm.get("ActionsEnabled", True) is True
    [topic_ref] = alarm["AlarmActions"]
    assert alarm["OKActions"] == [topic_ref]
    topic_id = topic_ref["Ref"]
    return topic_id, resources(synth, "AWS::SNS::Topic")[topic_id]["Properties"]


def test_the_failure_alarm_notifies_an_alarm_topic_on_alarm_and_on_ok(synth: Synthesized) -> None:
    _, topic = alarm_topic(synth)
    assert topic["DisplayName"]


def test_the_alarm_topic_is_encrypted_with_a_key_only_this_accounts_cloudwatch_may_use_for_it(
    synth: Synthesized,
) -> None:
    _, topic = alarm_topic(synth)
    key_id = topic["KmsMasterKeyId"]["Fn::GetAtt"][0]
    key = resources(synth, "AWS::KMS::Key")[key_id]["Properties"]
    assert key["EnableKeyRotation"] is True
    statements = key["KeyPolicy"]["Statement"]
    cloudwatch = [s for s in statements if "cloudwatch.amazonaws.com" in as_list(s["Principal"].get("Service", []))]

    # CloudWatch publishes to an encrypted topic with its own service principal: it needs
    # exactly the data key and decrypt, and only for alarms of this account.
    [statement] = cloudwatch
    assert statement["Effect"] == "Allow"
    assert sorted(as_list(statement["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert statement["Condition"] == this_accounts_alarms(synth)
    # Nobody else gets key use from the key policy alone except through the account's IAM.
    for other in statements:
        if other is statement or other["Effect"] == "Deny":
            continue
        principal = other["Principal"]
        assert "AWS" in principal or "Condition" in other, other


def test_the_alarm_topic_accepts_only_tls_and_only_this_accounts_alarms(synth: Synthesized) -> None:
    topic_id, _ = alarm_topic(synth)
    [policy] = [
        p["Properties"]["PolicyDocument"]
        for p in resources(synth, "AWS::SNS::TopicPolicy").values()
        if {"Ref": topic_id} in p["Properties"]["Topics"]
    ]
    statements = policy["Statement"]
    assert any(
        s["Effect"] == "Deny"
        and s["Principal"] in ("*", {"AWS": "*"})
        and "sns:Publish" in as_list(s["Action"])
        and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements
    )
    allows = [s for s in statements if s["Effect"] == "Allow"]
    # DAX's cluster events come here too where there is a cluster (tests/infra/test_dax_cache.py).
    dax_events = [s for s in allows if s["Principal"] == {"Service": "dax.amazonaws.com"}]
    assert len(dax_events) == (1 if synth.config.features.dax else 0)
    [publish] = [s for s in allows if s not in dax_events]
    assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert publish["Action"] == "sns:Publish"
    assert publish["Resource"] == {"Ref": topic_id}
    assert publish["Condition"] == this_accounts_alarms(synth)


def test_the_alarm_topic_mails_the_configured_address(synth: Synthesized) -> None:
    topic_id, _ = alarm_topic(synth)
    subscriptions = [
        s["Properties"]
        for s in resources(synth, "AWS::SNS::Subscription").values()
        if s["Properties"]["TopicArn"] == {"Ref": topic_id}
    ]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [("email", synth.config.alarm_email)]


def own_statements(synth: Synthesized) -> list[dict[str, Any]]:
    """The statements of the worker's own policy: every managed policy on its role but the
    baseline every function shares."""
    _, function = worker(synth)
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    role = resources(synth, "AWS::IAM::Role")[role_id]["Properties"]
    policies = resources(synth, "AWS::IAM::ManagedPolicy")
    shared = set.intersection(
        *(
            {
                arn["Ref"]
                for arn in resources(synth, "AWS::IAM::Role")[f["Properties"]["Role"]["Fn::GetAtt"][0]]["Properties"][
                    "ManagedPolicyArns"
                ]
            }
            for f in resources(synth, "AWS::Lambda::Function").values()
        )
    )
    assert "Policies" not in role
    own = [arn["Ref"] for arn in role["ManagedPolicyArns"] if arn["Ref"] not in shared]
    return [s for policy in own for s in policies[policy]["Properties"]["PolicyDocument"]["Statement"]]


def test_the_workers_role_names_exactly_the_table_stream_queue_keys_and_documents_prefix(synth: Synthesized) -> None:
    table = documents_table(synth)
    bucket_arn = f"arn:aws:s3:::{synth.stage.names.documents_bucket}"
    queue_id = failure_queue(synth)
    _, function = worker(synth)
    log_group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    granted: dict[str, list[tuple[Any, Any]]] = {}
    for statement in own_statements(synth):
        assert statement["Effect"] == "Allow"
        for action in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                granted.setdefault(action, []).append((resolve(synth, resource), statement.get("Condition")))

    stream = [({"Data": {"Fn::GetAtt": [table, "StreamArn"]}}, None)]
    items = [({"Data": {"Fn::GetAtt": [table, "Arn"]}}, None)]
    queue = [({"Fn::GetAtt": [queue_id, "Arn"]}, None)]
    for action in (
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:ListStreams",
    ):
        assert granted.pop(action) == stream, action
    # The worker deletes leftovers, and releases quota with one transaction (a Put and an Update).
    for action in ("dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:UpdateItem"):
        assert granted.pop(action) == items, action
    assert granted.pop("sqs:SendMessage") == queue
    assert granted.pop("s3:ListBucketVersions") == [(bucket_arn, {"StringLike": {"s3:prefix": "documents/*"}})]
    assert granted.pop("s3:DeleteObjectVersion") == [(f"{bucket_arn}/documents/*", None)]
    # KMS: the table's key (items and stream records) and the key of the queue and logs.
    kms = {a: granted.pop(a) for a in list(granted) if a.startswith("kms:")}
    queue_key = (resources(synth, "AWS::SQS::Queue")[queue_id]["Properties"]["KmsMasterKeyId"], None)
    table_key = (table_key_arn(synth), None)
    assert kms == {
        "kms:Decrypt": [table_key, queue_key],
        "kms:DescribeKey": [table_key],
        "kms:Encrypt": [table_key],
        "kms:GenerateDataKey": [table_key, queue_key],
    }
    assert (
        granted.pop("logs:CreateLogStream")
        == granted.pop("logs:PutLogEvents")
        == [({"Fn::GetAtt": [log_group, "Arn"]}, None)]
    )
    assert granted == {}, f"granted beyond what the worker needs: {sorted(granted)}"
