"""`DaxCache`: a DAX cluster in front of the documents table, for reads only.

It lives in the Api stack, not in a Cache stack of its own: it holds nothing that cannot be
rebuilt from the table (replacing it only empties a cache), its one ingress source is the
readers' security group, and its readers are the Api stack's functions. A separate stack
would add cross-stack references (cluster ARN and endpoint to the functions, the security
group rule back) for no gain. docs/architecture.md, "The DAX cluster".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dax as dax
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from folio.dax import FALLBACK_METRIC, METRICS_NAMESPACE
from stacks import nag
from stacks.components.folio_function import POWERTOOLS_SERVICE
from stacks.components.function_baseline import FUNCTION_SUBNETS

# DAX's port for TLS ("daxs://"); 8111, the plain-text port, is never opened.
TLS_PORT = 9111
# Weekly, at an hour of low use; DAX applies patches here (a multi-node cluster node by node).
MAINTENANCE_WINDOW = "sun:04:00-sun:05:00"
# How long the readers may be answered by DynamoDB instead of DAX before operators hear of it:
# the breaker retries DAX every 30 s, so this is a cluster (or its network or IAM) that stayed
# unusable, while it still costs money. Shorter blips (a node replaced) stay quiet.
FALLBACK_ALARM_PERIOD = cdk.Duration.minutes(5)
FALLBACK_ALARM_PERIODS = 3
DAX_SERVICE = "dax.amazonaws.com"
# From this many nodes on, one node in each of three AZs at least (AWS Control Tower CT.DAX.PR.2).
DAX_MULTI_AZ_NODES = 3


@dataclass(frozen=True)
class DaxSizing:
    """What an environment chooses about its cluster (stacks/config.py, `sizing.dax_*`)."""

    node_type: str
    nodes: int
    record_ttl_ms: int  # item cache: GetItem, BatchGetItem
    query_ttl_ms: int  # query cache: Query, Scan


@dataclass(frozen=True)
class CachedRead:
    """A DynamoDB read the cluster makes for its clients: the action and the ARN it reads."""

    action: str  # dynamodb:GetItem, dynamodb:Query, ...
    resource: str  # the table's ARN, or one of its indexes'


class DaxCache(Construct):
    """A DAX cluster (L1: there is no L2) with its subnet group, parameter group, security
    group and service role, hardened in what cannot change later.

    - In transit: TLS at the endpoint (`daxs://`, port 9111). The encryption type is fixed when
      the cluster is created; changing it replaces the cluster.
    - At rest: server-side encryption on, with an AWS-owned key (DAX offers no key choice).
    - Network: the functions' isolated subnets; the security group admits TCP 9111 from
      `client_security_group` only and sends nothing.
    - IAM: through DAX only the cluster role's permissions apply, so the role may only read
      (`reads`, plus DescribeTable, which DAX needs to keep the table's metadata) and decrypt
      with the table key. Clients get `dax:` actions on this cluster from `read_statement`.
    - Events (node replacement, maintenance) go to `notification_topic`, which must be
      encrypted with a key that lets DAX's service principal use it.
    - Nodes: `sizing.nodes`. From three nodes on, named round-robin over the subnets' AZs,
      which must be at least three (CT.DAX.PR.2 reads the list). A smaller cluster (a config
      choice of unprotected environments only) is left to DAX to place, and acknowledged.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        client_security_group: ec2.ISecurityGroup,
        table_arn: str,
        table_key: kms.IKey,
        reads: Sequence[CachedRead],
        sizing: DaxSizing,
        notification_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="Folio DAX cluster: TLS in from Folio functions only, nothing out",
            allow_all_outbound=False,
        )
        # Ingress here and the matching egress on the clients' group, which CDK creates in this
        # stack (the group that refers to the other), so the Network stack does not change.
        self.security_group.connections.allow_from(
            client_security_group, ec2.Port.tcp(TLS_PORT), "DAX over TLS from Folio functions"
        )
        selection = vpc.select_subnets(subnet_type=FUNCTION_SUBNETS)
        subnets = dax.CfnSubnetGroup(
            self,
            "Subnets",
            description="Folio DAX: the functions' isolated subnets",
            subnet_ids=selection.subnet_ids,
        )
        parameters = dax.CfnParameterGroup(
            self,
            "Parameters",
            description="Folio DAX: short item and query TTLs (writes bypass DAX)",
            parameter_name_values={
                "record-ttl-millis": str(sizing.record_ttl_ms),
                "query-ttl-millis": str(sizing.query_ttl_ms),
            },
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal(
                DAX_SERVICE,
                # Confused-deputy protection: DAX may assume it only for this account's clusters.
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": stack.format_arn(service="dax", resource="cache", resource_name="*")},
                },
            ),
            description="Folio DAX cluster: read the documents table for DAX clients",
        )
        by_action: dict[str, list[str]] = {}
        for read in reads:
            by_action.setdefault(read.action, []).append(read.resource)
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description="What Folio's DAX cluster may do: read the documents table, never write",
            statements=[
                iam.PolicyStatement(
                    sid="DescribeTable",  # DAX keeps the table's metadata (keys, indexes) with it
                    actions=["dynamodb:DescribeTable"],
                    resources=[table_arn],
                ),
                *(
                    iam.PolicyStatement(
                        sid="Read" + action.removeprefix("dynamodb:"),
                        actions=[action],
                        resources=list(dict.fromkeys(resources)),
                    )
                    for action, resources in sorted(by_action.items())
                ),
                iam.PolicyStatement(sid="DecryptTable", actions=["kms:Decrypt"], resources=[table_key.key_arn]),
            ],
        )
        self.role.add_managed_policy(self.policy)
        node_zones = None
        if sizing.nodes >= DAX_MULTI_AZ_NODES:
            # The subnets' AZs in the order the stack lists them (cdk.context.json); reading
            # that list is also how aws-cdk-lib knows literal AZ names are intended (W3010).
            listed = stack.availability_zones
            unlisted = sorted(set(selection.availability_zones) - set(listed))
            if unlisted:
                raise ValueError(f"the DAX subnets are in AZs the stack does not list: {unlisted} (not in {listed})")
            node_zones = _node_zones(sizing.nodes, [z for z in listed if z in selection.availability_zones])
        self.cluster = dax.CfnCluster(
            self,
            "Cluster",
            description="Folio: read cache of the documents table",
            iam_role_arn=self.role.role_arn,
            node_type=sizing.node_type,
            replication_factor=sizing.nodes,
            subnet_group_name=subnets.ref,
            parameter_group_name=parameters.ref,
            security_group_ids=[self.security_group.security_group_id],
            sse_specification=dax.CfnCluster.SSESpecificationProperty(sse_enabled=True),
            cluster_endpoint_encryption_type="TLS",
            notification_topic_arn=notification_topic.topic_arn,
            preferred_maintenance_window=MAINTENANCE_WINDOW,
            availability_zones=node_zones,
        )
        if node_zones is None:
            nag.acknowledge(self.cluster, nag.DAX_NODES_BY_CONFIG)
        # The role's permissions must be in place before DAX validates the role.
        self.cluster.node.add_dependency(self.policy)
        cdk.Tags.of(self).add("folio:component", "dax")
        notification_topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="DaxEventsOfThisAccount",
                principals=[iam.ServicePrincipal(DAX_SERVICE)],
                actions=["sns:Publish"],
                resources=[notification_topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            )
        )
        # With TLS, DAX returns the "daxs://<host>:9111" URL its clients take as their endpoint.
        self.endpoint_url = self.cluster.attr_cluster_discovery_endpoint_url
        self.cluster_arn = self.cluster.attr_arn
        self.fallback_alarm = cloudwatch.Alarm(
            self,
            "ReadersFallingBack",
            alarm_description="Folio: DAX readers are being answered by DynamoDB instead of DAX; "
            "see docs/read-path.md, 'When DAX fails'",
            metric=cloudwatch.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name=FALLBACK_METRIC,
                dimensions_map={"service": POWERTOOLS_SERVICE},
                period=FALLBACK_ALARM_PERIOD,
                statistic=cloudwatch.Stats.SUM,
            ),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=FALLBACK_ALARM_PERIODS,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        notify = cloudwatch_actions.SnsAction(notification_topic)
        self.fallback_alarm.add_alarm_action(notify)
        self.fallback_alarm.add_ok_action(notify)

    def read_statement(self, actions: Sequence[str]) -> iam.PolicyStatement:
        """A client's permission to send these `dax:` actions to this cluster, and nothing else."""
        if not actions or any(not a.startswith("dax:") for a in actions):
            raise ValueError(f"a DAX client statement takes dax: actions only, not {list(actions)}")
        return iam.PolicyStatement(sid="ReadThroughDax", actions=sorted(actions), resources=[self.cluster_arn])


def _node_zones(nodes: int, zones: Sequence[str]) -> list[str]:
    """One AZ per node, round-robin over at least three AZs."""
    distinct = list(dict.fromkeys(zones))
    if len(distinct) < DAX_MULTI_AZ_NODES:
        raise ValueError(
            f"a DAX cluster of {nodes} nodes needs subnets in {DAX_MULTI_AZ_NODES} AZs, not {len(distinct)}: {distinct}"
        )
    return [distinct[i % len(distinct)] for i in range(nodes)]
