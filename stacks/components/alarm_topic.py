"""The topic Folio's alarms notify: KMS-encrypted, TLS-only, mailed to the environment's
alarm address."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from stacks import nag


def alarms_of_this_account(scope: Construct) -> dict[str, dict[str, str]]:
    """The conditions that keep CloudWatch a deputy of this account's alarms only: its requests
    carry the alarm's ARN and account (confused-deputy protection for a service principal)."""
    stack = cdk.Stack.of(scope)
    return {
        "StringEquals": {"aws:SourceAccount": stack.account},
        "ArnLike": {
            "aws:SourceArn": stack.format_arn(
                service="cloudwatch",
                resource="alarm",
                resource_name="*",
                arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
            )
        },
    }


class AlarmTopic(Construct):
    """An SNS topic for alarm notifications with one e-mail subscription.

    CloudWatch publishes with its own service principal, not with a role of Folio's: the
    topic policy lets it publish for this account's alarms only, and the key (whose policy
    must allow the same principal kms:GenerateDataKey and kms:Decrypt, see
    `EncryptionKey(for_alarm_notifications=True)`) encrypts the messages at rest.
    The subscription stays pending until someone follows the link in the confirmation
    e-mail AWS sends to the address (docs/operations.md).
    """

    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey, email: str) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name="Folio alarms",
            master_key=key,
            enforce_ssl=True,  # denies every request that is not over TLS
        )
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsOfThisAccount",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions=alarms_of_this_account(self),
            )
        )
        self.subscription = self.topic.add_subscription(subscriptions.EmailSubscription(email))
        nag.acknowledge(self.subscription, nag.ALARM_MAIL_WITHOUT_REDRIVE)
