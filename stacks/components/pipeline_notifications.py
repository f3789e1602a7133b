"""Where the delivery pipeline says that it failed or waits for an approval: a KMS-encrypted,
TLS-only topic mailed to the pipeline's notification address."""

from __future__ import annotations

import jsii
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codestarnotifications as notifications
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from stacks import nag
from stacks.components.encryption_key import EncryptionKey

# What an operator must act on: a run that failed (a stage, the synth's tests or the smoke
# test), and a run that waits for someone to approve production. Successes are not mailed.
NOTIFIED_EVENTS = (
    codepipeline.PipelineNotificationEvents.PIPELINE_EXECUTION_FAILED,
    codepipeline.PipelineNotificationEvents.MANUAL_APPROVAL_NEEDED,
)


NOTIFICATIONS_SERVICE = "codestar-notifications.amazonaws.com"


@jsii.implements(notifications.INotificationRuleTarget)
class _EncryptedTopicTarget:
    """The topic as a notification rule's target, without the key grant `sns.Topic` would add
    (kms:Decrypt and GenerateDataKey* for the service with no condition): the key's own policy
    (`EncryptionKey(for_pipeline_notifications=True)`) admits the service through SNS only."""

    def __init__(self, topic: sns.ITopic) -> None:
        self.topic = topic

    def bind_as_notification_rule_target(self, _scope: Construct) -> notifications.NotificationRuleTargetConfig:
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CodeStarNotificationsPublish",
                principals=[iam.ServicePrincipal(NOTIFICATIONS_SERVICE)],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
            )
        )
        return notifications.NotificationRuleTargetConfig(target_type="SNS", target_address=self.topic.topic_arn)


class PipelineNotifications(Construct):
    """An encrypted SNS topic with one e-mail subscription, and a notification rule on a pipeline.

    AWS CodeStar Notifications publishes with its own service principal: `notify` lets it
    publish to this topic, and the key lets it encrypt only through SNS. The subscription stays
    pending until someone follows the link in the confirmation e-mail (docs/operations.md).
    """

    def __init__(self, scope: Construct, construct_id: str, *, email: str) -> None:
        super().__init__(scope, construct_id)
        self.key = EncryptionKey(
            self,
            "Key",
            description="Folio: encrypts the pipeline's notifications",
            for_pipeline_notifications=True,
        ).key
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name="Folio pipeline",
            master_key=self.key,
            enforce_ssl=True,  # denies every request that is not over TLS
        )
        self.subscription = self.topic.add_subscription(subscriptions.EmailSubscription(email))
        nag.acknowledge(self.subscription, nag.PIPELINE_MAIL_WITHOUT_REDRIVE)

    def notify(self, pipeline: codepipeline.IPipeline) -> notifications.INotificationRule:
        """Mail failures and approvals waiting of `pipeline` (built: after `build_pipeline()`)."""
        return pipeline.notify_on(
            "Notifications",
            _EncryptedTopicTarget(self.topic),
            events=list(NOTIFIED_EVENTS),
            detail_type=notifications.DetailType.FULL,
        )
