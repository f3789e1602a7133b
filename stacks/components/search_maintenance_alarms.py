"""`SearchMaintenanceAlarms`: the operators hear when the Search stack's own functions fail or the
index sweep stops doing its job, on the alarm topic the Api stack's alarms use.

Built in the Api stack's scope (stacks/stage.py): that stack holds the topic and already follows
the Search stack, so the alarms can read the Search stack's queue without a reference back.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from folio.dax import METRICS_NAMESPACE
from folio.handlers.search_sweep import DELETED_METRIC, INCOMPLETE_METRIC
from stacks.components.search_sweep import SWEEP_INTERVAL

# Two intervals without a run's report: one late run is not an outage, two are.
MISSED_RUNS = 2


class SearchMaintenanceAlarms(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, topic: sns.ITopic, dead_letters: sqs.IQueue) -> None:
        super().__init__(scope, construct_id)
        interval = cdk.Duration.seconds(SWEEP_INTERVAL.to_seconds())

        def sweep_metric(name: str, statistic: str, period: cdk.Duration) -> cloudwatch.Metric:
            return cloudwatch.Metric(namespace=METRICS_NAMESPACE, metric_name=name, period=period, statistic=statistic)

        self.alarms = [
            cloudwatch.Alarm(
                self,
                "FunctionsFailing",
                alarm_description="Folio: an invocation of the search role mappings or the index sweep failed "
                "for good (Search/Functions/DeadLetters); see docs/operations.md, 'The index sweep'",
                metric=dead_letters.metric_approximate_number_of_messages_visible(
                    period=cdk.Duration.minutes(5), statistic=cloudwatch.Stats.MAXIMUM
                ),
                threshold=0,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            cloudwatch.Alarm(
                self,
                "SweepIncomplete",
                alarm_description="Folio: the index sweep ran out of time before the index's end; entries past "
                "that point are not checked; see docs/operations.md, 'The index sweep'",
                metric=sweep_metric(INCOMPLETE_METRIC, cloudwatch.Stats.MAXIMUM, interval),
                threshold=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            cloudwatch.Alarm(
                self,
                "SweepNotReporting",
                alarm_description="Folio: no index sweep has reported for two intervals (a failing or "
                "unscheduled sweep leaves purged names in the index); see docs/operations.md, 'The index sweep'",
                metric=sweep_metric(
                    DELETED_METRIC,
                    cloudwatch.Stats.SAMPLE_COUNT,
                    cdk.Duration.seconds(interval.to_seconds() * MISSED_RUNS),
                ),
                threshold=1,
                comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
            ),
        ]
        notify = cloudwatch_actions.SnsAction(topic)
        for alarm in self.alarms:
            alarm.add_alarm_action(notify)
            alarm.add_ok_action(notify)
