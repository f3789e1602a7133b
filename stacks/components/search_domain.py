"""`SearchDomain`: the OpenSearch domain that holds Folio's `documents` index, hardened.

Everything in it can be rebuilt from the table (the pipeline re-exports it), but a domain
still takes an hour to build and re-index, so it is RETAINed like every other stateful
resource. docs/architecture.md, "The Search stack".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_opensearchservice as opensearch
from constructs import Construct

from stacks import nag
from stacks.components.function_baseline import FUNCTION_SUBNETS

# The newest engine aws-cdk-lib offers (tests/infra/test_search_stack.py fails when a newer one
# appears). Upgrades happen in place (`enable_version_upgrade`), never by replacement.
ENGINE_VERSION = opensearch.EngineVersion.OPENSEARCH_3_7
# The strongest policy aws-cdk-lib 2.275 offers: TLS 1.2 with forward secrecy only (no TLS 1.3 choice).
TLS_POLICY = opensearch.TLSSecurityPolicy.TLS_1_2_PFS
HTTPS_PORT = 443
OPENSEARCH_SERVICE = "es.amazonaws.com"
# Every data-plane call over HTTP, named one by one (no `es:ESHttp*`): fine-grained access
# control inside OpenSearch then decides what each role may do with each index.
HTTP_ACTIONS = (
    "es:ESHttpDelete",
    "es:ESHttpGet",
    "es:ESHttpHead",
    "es:ESHttpPatch",
    "es:ESHttpPost",
    "es:ESHttpPut",
)
# CT.OPENSEARCH.PR.14: zone awareness and at least this many data nodes.
MIN_FAULT_TOLERANT_NODES = 3
LOG_RETENTION = logs.RetentionDays.ONE_YEAR
# The log types OpenSearch publishes, by construct id; audit logs need fine-grained access control.
LOG_TYPES = ("AppLogs", "SlowSearchLogs", "SlowIndexLogs", "AuditLogs")


@dataclass(frozen=True)
class SearchSizing:
    """What an environment chooses about its domain (stacks/config.py, `search.*`, `sizing.search_instances`)."""

    data_node_type: str
    data_nodes: int
    availability_zones: int  # 1: zone awareness off
    dedicated_masters: int  # 0: none
    master_node_type: str
    volume_gb: int


@dataclass(frozen=True)
class SearchFunctionReach:
    """How the Api stack's search function reaches the domain: it runs as the role named
    `role_name` (the one the access policy and role mapping admit), calls `endpoint_url` with an
    identity policy naming `domain_arn`, from a security group that `security_group` (the
    domain's) admits on 443."""

    role_name: str
    endpoint_url: str
    domain_arn: str
    security_group: ec2.ISecurityGroup


class SearchDomain(Construct):
    """An OpenSearch domain (`ENGINE_VERSION`) in the isolated subnets, reachable over HTTPS from
    the clients' security group only.

    - Identity: fine-grained access control with an IAM master user, `master_role` (the
      role-mapping function's own role: stacks/components/search_role_mappings.py), no internal
      user database, no basic auth.
    - Access policy: names each principal `admit` adds (the role-mapping function on the security
      API only, the ingestion pipeline, the search function on `_search` only), never `*`. It is
      set on the domain itself (no custom resource), which is why the domain has a fixed name: its
      ARN is known before it exists.
    - Encryption: at rest with `key` (a customer-managed key), node to node, HTTPS only with `TLS_POLICY`.
    - Logs: application, slow search, slow index and audit logs, each in a log group encrypted
      with `log_key`, kept for `LOG_RETENTION`. The resource policy that lets OpenSearch write
      them is an `AWS::Logs::ResourcePolicy` here, instead of aws-cdk-lib's custom resource.
    - Shape: `sizing`; zone awareness over `availability_zones` subnets, dedicated masters if asked.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        domain_name: str,
        vpc: ec2.IVpc,
        key: kms.IKey,
        log_key: kms.IKey,
        sizing: SearchSizing,
        master_role: iam.IRole,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.domain_name = domain_name
        self.domain_arn = stack.format_arn(service="es", resource="domain", resource_name=domain_name)
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="Folio search domain: HTTPS in from its admitted clients only, nothing out",
            allow_all_outbound=False,
        )
        # No client by default: each one is admitted by name (the ingestion pipeline, the search
        # function, the role-mapping function), never the functions' common group, so a function
        # that has no business with search cannot even reach it.
        self.master_role = master_role
        self.access_policy = iam.PolicyDocument()
        log_groups = {
            name: logs.LogGroup(
                self, name, encryption_key=log_key, retention=LOG_RETENTION, removal_policy=cdk.RemovalPolicy.RETAIN
            )
            for name in LOG_TYPES
        }
        log_delivery = logs.ResourcePolicy(
            self,
            "LogDelivery",
            policy_statements=[
                iam.PolicyStatement(
                    sid="OpenSearchLogsOfThisDomain",
                    principals=[iam.ServicePrincipal(OPENSEARCH_SERVICE)],
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[group.log_group_arn for group in log_groups.values()],
                    conditions={
                        "StringEquals": {"aws:SourceAccount": stack.account},
                        "ArnLike": {"aws:SourceArn": self.domain_arn},
                    },
                )
            ],
        )
        zones = sizing.availability_zones
        self.domain = opensearch.Domain(
            self,
            "Domain",
            version=ENGINE_VERSION,
            domain_name=domain_name,
            vpc=vpc,
            vpc_subnets=[ec2.SubnetSelection(subnets=_one_subnet_per_zone(vpc, zones))],
            security_groups=[self.security_group],
            capacity=opensearch.CapacityConfig(
                data_node_instance_type=sizing.data_node_type,
                data_nodes=sizing.data_nodes,
                master_node_instance_type=sizing.master_node_type if sizing.dedicated_masters else None,
                master_nodes=sizing.dedicated_masters or None,
                multi_az_with_standby_enabled=False,
            ),
            zone_awareness=opensearch.ZoneAwarenessConfig(
                enabled=zones > 1, availability_zone_count=zones if zones > 1 else None
            ),
            ebs=opensearch.EbsOptions(volume_size=sizing.volume_gb, volume_type=ec2.EbsDeviceVolumeType.GP3),
            encryption_at_rest=opensearch.EncryptionAtRestOptions(enabled=True, kms_key=key),
            node_to_node_encryption=True,
            enforce_https=True,
            tls_security_policy=TLS_POLICY,
            fine_grained_access_control=opensearch.AdvancedSecurityOptions(master_user_arn=self.master_role.role_arn),
            logging=opensearch.LoggingOptions(
                app_log_enabled=True,
                app_log_group=log_groups["AppLogs"],
                slow_search_log_enabled=True,
                slow_search_log_group=log_groups["SlowSearchLogs"],
                slow_index_log_enabled=True,
                slow_index_log_group=log_groups["SlowIndexLogs"],
                audit_log_enabled=True,
                audit_log_group=log_groups["AuditLogs"],
            ),
            suppress_logs_resource_policy=True,  # LogDelivery above, without a custom resource
            enable_version_upgrade=True,
            enable_auto_software_update=True,
            off_peak_window_enabled=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        cfn_domain = self.domain.node.default_child
        assert isinstance(cfn_domain, opensearch.CfnDomain)
        # Set on the domain itself: aws-cdk-lib's `access_policies` would add a custom resource.
        cfn_domain.access_policies = self.access_policy
        self.domain.node.add_dependency(log_delivery)  # OpenSearch checks it may write the logs
        for finding in _findings_by_design(sizing):
            nag.acknowledge(self.domain, finding)
        cdk.Tags.of(self).add("folio:component", "search")
        self.endpoint = self.domain.domain_endpoint

    def admit(
        self,
        principal_arn: str,
        *,
        sid: str,
        actions: Sequence[str] = HTTP_ACTIONS,
        paths: Sequence[str] = ("*",),
        deployed_later: bool = False,
    ) -> None:
        """Name one more principal (a role ARN) in the domain's access policy, for these HTTP
        actions on these paths of the domain (`*`: every path).

        `deployed_later`: the role belongs to a stack deployed after this one (the Api stack's
        search function). OpenSearch refuses an access policy that names a role IAM does not know
        yet ("InvalidTypeException: Error setting policy"), so such a role is named in the
        statement's condition (`aws:PrincipalArn`) under this account's principal instead.

        Fine-grained access control still decides what it may do inside OpenSearch (a role
        mapping), and the principal also needs an identity policy naming `domain_arn`.
        """
        if not actions or any(a not in HTTP_ACTIONS for a in actions):
            raise ValueError(f"the access policy takes es:ESHttp* actions only, not {list(actions)}")
        if not principal_arn or principal_arn == "*":
            raise ValueError("the access policy names one role, never '*'")
        if not paths or any(not path or path.startswith("/") for path in paths):
            raise ValueError(f"paths are relative to the domain (no leading '/'), not {list(paths)}")
        self.access_policy.add_statements(
            iam.PolicyStatement(
                sid=sid,
                principals=[iam.AccountPrincipal(cdk.Stack.of(self).account)]
                if deployed_later
                else [iam.ArnPrincipal(principal_arn)],
                actions=sorted(actions),
                resources=[f"{self.domain_arn}/{path}" for path in paths],
                conditions={"ArnEquals": {"aws:PrincipalArn": principal_arn}} if deployed_later else None,
            )
        )

    def admit_network(self, client_security_group: ec2.ISecurityGroup, description: str) -> None:
        """Let one more security group reach the domain on 443 (the pipeline's, later)."""
        self.security_group.connections.allow_from(client_security_group, ec2.Port.tcp(HTTPS_PORT), description)


def _findings_by_design(sizing: SearchSizing) -> list[nag.Finding]:
    """The findings this domain raises although it meets the control's intent, and those its
    config chooses (allowed only without termination protection: stacks/config.py)."""
    findings = [nag.SEARCH_ACCESS_BY_ROLE_NOT_IP, nag.SEARCH_TLS_STRONGER_THAN_THE_CONTROL_KNOWS]
    if sizing.dedicated_masters == 0:
        findings.append(nag.SEARCH_NO_DEDICATED_MASTERS_BY_CONFIG)
    if sizing.availability_zones == 1:
        findings.append(nag.SEARCH_ONE_ZONE_BY_CONFIG)
    if sizing.availability_zones == 1 or sizing.data_nodes < MIN_FAULT_TOLERANT_NODES:
        findings.append(nag.SEARCH_FEW_DATA_NODES_BY_CONFIG)
    return findings


def _one_subnet_per_zone(vpc: ec2.IVpc, zones: int) -> list[ec2.ISubnet]:
    """The first `zones` isolated subnets, each in its own AZ: OpenSearch takes one subnet per zone."""
    subnets = vpc.select_subnets(subnet_type=FUNCTION_SUBNETS, one_per_az=True).subnets
    if len(subnets) < zones:
        raise ValueError(f"a search domain over {zones} AZs needs isolated subnets in {zones} AZs, not {len(subnets)}")
    return list(subnets[:zones])
