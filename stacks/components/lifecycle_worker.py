"""The lifecycle worker: the table stream's reader that cleans up after a document leaves the table."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from folio.handlers import LIFECYCLE_WORKER_HANDLER
from folio.lifecycle import lifecycle_filter_patterns
from stacks import function_permissions, nag
from stacks.components.folio_function import WORKER_TIMEOUT, FunctionRuntime

# The stream mapping's limits. A batch that keeps failing is split in halves down to the
# failing record (bisect), each part retried at most RETRY_ATTEMPTS times; no record is
# retried once it is MAX_RECORD_AGE old. Either way its description goes to the failure
# queue, so a document's leftovers (object, tag links, shares, quota) last at most
# MAX_RECORD_AGE before an operator is told (docs/operations.md). The age stays well below
# the stream's fixed 24-hour retention: a record that could not be processed (the function
# throttled, or failing for hours) is described in the queue before DynamoDB trims it.
BATCH_SIZE = 25
RETRY_ATTEMPTS = 5
MAX_RECORD_AGE = cdk.Duration.hours(6)
# How long a failed batch's description waits in the failure queue for an operator.
FAILURE_RETENTION = cdk.Duration.days(14)


class LifecycleWorker(Construct):
    """A function fed by the documents table's stream, through an event source mapping
    that passes on only what `folio.lifecycle.lifecycle_filter_patterns()` selects (a
    document item removed, by purge or by TTL), reports partial batch failures, bisects a
    failing batch, and bounds retries and record age. What still fails is described in a
    KMS-encrypted, TLS-only failure queue kept 14 days, watched by an alarm that notifies
    the alarm topic when the queue fills and when it is empty again.

    The failure queue is also the function's own dead-letter queue for asynchronous
    invocations, so everything the worker could not do waits in one place.

    The role names exactly what the worker touches (stacks/function_permissions.py): the
    stream, the table and its key, the failure queue and its key, the versions of objects
    under the documents prefix.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table_arn: str,
        table_stream_arn: str,  # the stream of the home Region's replica: the mapping lives there
        table_key: kms.IKey,
        bucket: s3.IBucket,  # imported by name, so its name is a plain string
        document_prefix: str,
        key: kms.IKey,  # encrypts the failure queue
        runtime: FunctionRuntime,  # the stack's functions' code, size, logs, VPC and baseline policy
        alarm_topic: sns.ITopic,  # told when the failure queue fills and when it is empty again
    ) -> None:
        super().__init__(scope, construct_id)
        self.failures = sqs.Queue(
            self,
            "Failures",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=FAILURE_RETENTION,
            # Declares it a dead-letter queue (Control Tower CT.SQS.PR.1), as DeadLetters does.
            redrive_allow_policy=sqs.RedriveAllowPolicy(redrive_permission=sqs.RedrivePermission.ALLOW_ALL),
        )
        nag.acknowledge(self.failures, nag.LIFECYCLE_FAILURE_QUEUE)
        statements = function_permissions.lifecycle_worker(
            table_arn=table_arn,
            table_stream_arn=table_stream_arn,
            table_key_arn=table_key.key_arn,
            bucket=bucket,
            document_prefix=document_prefix,
            failures_queue_arn=self.failures.queue_arn,
            failures_key_arn=key.key_arn,
        )
        self.worker = runtime.add(
            self,
            "Function",
            handler=LIFECYCLE_WORKER_HANDLER,
            description="Folio: delete what a removed document owned (object versions, tag links, shares, quota)",
            timeout=WORKER_TIMEOUT,
            statements=statements,
            # The failure queue, not the stack's: all the worker could not do waits in one place.
            dead_letter_queue=self.failures,
        )
        function = self.worker.function
        nag.acknowledge(self.worker.policy, nag.DOCUMENT_OBJECTS, bucket=bucket.bucket_name)
        nag.acknowledge(function, nag.FUNCTIONS_IN_VPC_ACROSS_STACKS)
        # The L2 mapping, not DynamoEventSource (which would also want ListStreams on "*"); the
        # role takes no policy updates, so SqsDlq's grant is dropped: the statements above are
        # the whole of what the worker and Lambda's poller may do.
        self.mapping = lambda_.EventSourceMapping(
            self,
            "StreamMapping",
            target=function,
            event_source_arn=table_stream_arn,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=BATCH_SIZE,
            bisect_batch_on_error=True,
            retry_attempts=RETRY_ATTEMPTS,
            max_record_age=MAX_RECORD_AGE,
            report_batch_item_failures=True,
            on_failure=event_sources.SqsDlq(self.failures),
            filters=[lambda_.FilterCriteria.filter(pattern) for pattern in lifecycle_filter_patterns()],
        )
        self.alarm = cloudwatch.Alarm(
            self,
            "FailuresWaiting",
            alarm_description="Folio: the lifecycle worker gave up on a batch; see docs/operations.md",
            metric=self.failures.metric_approximate_number_of_messages_visible(
                period=cdk.Duration.minutes(5), statistic=cloudwatch.Stats.MAXIMUM
            ),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        notify = cloudwatch_actions.SnsAction(alarm_topic)
        self.alarm.add_alarm_action(notify)
        self.alarm.add_ok_action(notify)
