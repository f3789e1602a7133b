"""The stateless stack: the documents API, its functions, WAF, the upload and lifecycle workers,
and the DAX cluster where `features.dax` is on.

Nothing here stores user data (the DAX cluster only caches reads, for seconds); it can be
replaced freely. It reaches the Data stack's table, bucket, keys and user pool through
same-Region references.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from folio.contracts import FunctionGroup
from folio.handlers import API_HANDLERS, UPLOAD_WORKER_HANDLER
from folio.settings import Env
from stacks import function_permissions, nag
from stacks.components.alarm_topic import AlarmTopic
from stacks.components.api_firewall import ApiFirewall
from stacks.components.dax_cache import DAX_SERVICE, CachedRead, DaxCache, DaxSizing
from stacks.components.dax_client_layer import DaxClientLayer
from stacks.components.documents_api import DocumentsApi
from stacks.components.encryption_key import EncryptionKey
from stacks.components.folio_function import (
    API_TIMEOUT,
    WORKER_TIMEOUT,
    FolioFunction,
    FunctionRuntime,
    powertools_layer,
    runtime_code,
)
from stacks.components.function_baseline import FunctionBaselinePolicy
from stacks.components.lifecycle_worker import LifecycleWorker
from stacks.components.search_domain import HTTPS_PORT, SearchFunctionReach
from stacks.components.user_directory import ADMINS_GROUP
from stacks.config import ApiSettings, DocumentSettings
from stacks.read_path import READS_THROUGH_DAX

LOG_RETENTION = logs.RetentionDays.ONE_YEAR
# How long a failed upload event waits in the dead-letter queue for an operator.
DEAD_LETTER_RETENTION = cdk.Duration.days(14)


class ApiStack(cdk.Stack):
    """Six API functions (one per permission group of folio.contracts), the REST API,
    its WAF, the upload worker fed by S3 "Object Created" events through EventBridge, the
    lifecycle worker fed by the table's stream, the topic its alarm notifies, and (where
    `dax` is given) the DAX cluster the reading functions of stacks/read_path.py use.

    A regional serving stage (stacks/regional_serving_stage.py) builds it with a subset of
    `function_groups` (only the routes of those groups are deployed), without the workers
    (`workers=False`: they follow the home Region's table stream and bucket events) and without
    an idempotency table, against the local replica and the home Region's bucket
    (`bucket_region`)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table: dynamodb.ITableV2,
        table_key: kms.IKey,
        idempotency_table: dynamodb.ITableV2 | None,
        bucket_name: str,
        bucket_key: kms.IKey,
        document_prefix: str,
        user_pool: cognito.IUserPool,
        documents: DocumentSettings,
        api: ApiSettings,
        cors_origins: tuple[str, ...],
        lambda_memory_mb: int,
        function_concurrency: int,
        waf: bool,
        waf_log_group_name: str,
        vpc: ec2.IVpc,
        functions_security_group: ec2.ISecurityGroup,
        alarm_email: str,
        dax: DaxSizing | None = None,
        search: SearchFunctionReach | None = None,
        function_groups: Collection[FunctionGroup] = tuple(FunctionGroup),
        workers: bool = True,
        bucket_region: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        if FunctionGroup.CREATE in function_groups and idempotency_table is None:
            raise ValueError("the create function needs the idempotency table")
        if FunctionGroup.SEARCH not in function_groups and search is not None:
            raise ValueError("a search domain is reached only by the search function")
        # By name, not by reference: a plain ARN in IAM and events, no cross-stack output.
        bucket = s3.Bucket.from_bucket_name(self, "DocumentsBucket", bucket_name)
        self.key = EncryptionKey(
            self,
            "ApiKey",
            description="Folio: encrypts the API's logs, cursor secret and queues",
            for_log_groups=True,
            # EventBridge encrypts what it sends to the dead-letter queue with this key.
            # DAX, where there is a cluster, the events it sends to the alarm topic.
            service_principals=["events.amazonaws.com", *([DAX_SERVICE] if dax else [])],
            # ... and CloudWatch the notifications of the API's alarms to the alarm topic.
            for_alarm_notifications=True,
        ).key
        # Here, with the alarms it serves and the key that encrypts it: the Api stack is
        # replaceable, and a topic holds nothing but a subscription.
        self.alarm_topic = AlarmTopic(self, "AlarmTopic", key=self.key, email=alarm_email).topic
        self.cursor_secret = secretsmanager.Secret(
            self,
            "CursorSecret",
            description="Folio: HMAC key that makes pagination cursors tamper-evident",
            generate_secret_string=secretsmanager.SecretStringGenerator(password_length=64, exclude_punctuation=True),
        )
        # The key is set on the L1 resource: the L2's encryption_key would also let every principal
        # of the account use the key through Secrets Manager, kms:CreateGrant included. The key
        # policy delegates use to IAM, where only the read function may decrypt with it.
        cfn_secret = self.cursor_secret.node.default_child
        assert isinstance(cfn_secret, secretsmanager.CfnSecret)
        cfn_secret.kms_key_id = self.key.key_arn
        for finding in nag.CURSOR_SECRET_FINDINGS:
            nag.acknowledge(self.cursor_secret, finding)

        code = runtime_code()
        layer = powertools_layer(self)
        environment = {
            Env.TABLE_NAME: table.table_name,
            Env.BUCKET_NAME: bucket.bucket_name,
            # Presigned URLs are signed for the bucket's Region (the home Region's, from a replica Region).
            Env.BUCKET_REGION: bucket_region or self.region,
            Env.DOCUMENT_PREFIX: document_prefix,
            Env.CURSOR_SECRET_ARN: self.cursor_secret.secret_arn,
            Env.MAX_UPLOAD_BYTES: str(documents.max_upload_bytes),
            Env.QUOTA_DOCUMENTS: str(documents.quota_documents),
            Env.QUOTA_BYTES: str(documents.quota_bytes),
            Env.CORS_ORIGINS: ",".join(cors_origins),
            Env.ADMINS_GROUP: ADMINS_GROUP,
        }
        if idempotency_table is not None:
            environment[Env.IDEMPOTENCY_TABLE_NAME] = idempotency_table.table_name
        table_arn = table.table_arn
        # TableV2 keeps a stream per replica; this is the home Region's, where the mapping lives.
        table_stream_arn = table.table_stream_arn
        if workers and table_stream_arn is None:
            raise ValueError("the documents table has no stream for the lifecycle worker")
        resources = function_permissions.ApiResources(
            table_arn=table_arn,
            table_key_arn=table_key.key_arn,
            idempotency_table_arn=idempotency_table.table_arn if idempotency_table else None,
            bucket=bucket,
            document_prefix=document_prefix,
            bucket_key_arn=bucket_key.key_arn,
            cursor_secret_arn=self.cursor_secret.secret_arn,
            api_key_arn=self.key.key_arn,
        )
        permissions = function_permissions.api_functions(resources, function_groups)
        reads_through_dax = {g: reads for g, reads in READS_THROUGH_DAX.items() if g in permissions}
        self.dax_cache: DaxCache | None = None
        reader_environment: dict[str, str] = {}
        reader_layers: list[lambda_.ILayerVersion] = []
        reader_security_groups: list[ec2.ISecurityGroup] = []
        if dax is not None:
            # The readers' own way in: only the functions of stacks/read_path.py join this group,
            # so the cluster admits them and no other function, whatever IAM says.
            dax_clients = ec2.SecurityGroup(
                self,
                "DaxClients",
                vpc=vpc,
                description="Folio functions that read through DAX: may reach the cluster on 9111 only",
                allow_all_outbound=False,
            )
            reader_security_groups.append(dax_clients)
            self.dax_cache = DaxCache(
                self,
                "Dax",
                vpc=vpc,
                client_security_group=dax_clients,
                table_arn=table_arn,
                table_key=table_key,
                reads=[
                    CachedRead(read.dynamodb_action, resources.index_arn(read.index) if read.index else table_arn)
                    for reads in reads_through_dax.values()
                    for read in reads
                ],
                sizing=dax,
                # The operators' topic: DAX's events (a node replaced, maintenance) reach the
                # people its alarms reach, under the same key and TLS-only policy.
                notification_topic=self.alarm_topic,
            )
            reader_environment[Env.DAX_ENDPOINT] = self.dax_cache.endpoint_url
            reader_layers.append(DaxClientLayer(self, "DaxClient").layer)
            for group, reads in reads_through_dax.items():
                permissions[group] += [
                    self.dax_cache.read_statement(sorted({r.dax_action for r in reads})),
                    function_permissions.join_security_group("JoinDaxClientsGroup", dax_clients),
                ]
        # Failed asynchronous invocations of any function (the upload worker's events, a
        # console test, a future event source) wait here instead of being dropped.
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.key,
            enforce_ssl=True,
            retention_period=DEAD_LETTER_RETENTION,
            # Declares it a dead-letter queue (Control Tower CT.SQS.PR.1). ALLOW_ALL is SQS's
            # default made explicit: queues of this account and Region may redrive into it.
            redrive_allow_policy=sqs.RedriveAllowPolicy(redrive_permission=sqs.RedrivePermission.ALLOW_ALL),
        )
        for finding in nag.DEAD_LETTER_QUEUE_FINDINGS:
            nag.acknowledge(self.dead_letters, finding)
        baseline = FunctionBaselinePolicy(
            self,
            "FunctionBaseline",
            vpc=vpc,
            security_group=functions_security_group,
            dead_letter_queue=self.dead_letters,
            dead_letter_key=self.key,
        )
        runtime = FunctionRuntime(
            code=code,
            layers=(layer,),
            memory_mb=lambda_memory_mb,
            environment=environment,
            log_key=self.key,
            log_retention=LOG_RETENTION,
            reserved_concurrency=function_concurrency,
            vpc=vpc,
            security_groups=(functions_security_group,),
            dead_letter_queue=self.dead_letters,
            baseline_policy=baseline.policy,
        )
        # Only the functions that read through DAX learn where it is, and carry its client.
        reader_runtime = runtime.extended(
            environment=reader_environment, layers=reader_layers, security_groups=reader_security_groups
        )
        runtimes = {group: reader_runtime if group in reads_through_dax else runtime for group in permissions}
        role_names: dict[FunctionGroup, str] = {}
        if search is not None and FunctionGroup.SEARCH in permissions:
            group = FunctionGroup.SEARCH
            runtimes[group] = self._reach_search(search, vpc, runtimes[group], permissions[group])
            role_names[group] = search.role_name
        self.functions: dict[FunctionGroup, FolioFunction] = {}
        for group, statements in permissions.items():
            self.functions[group] = runtimes[group].add(
                self,
                f"{group.value.capitalize()}Function",
                handler=API_HANDLERS[group],
                description=f"Folio API: {group.value} routes",
                timeout=API_TIMEOUT,
                statements=statements,
                role_name=role_names.get(group),
            )
            if group in (FunctionGroup.CREATE, FunctionGroup.DOWNLOAD):
                nag.acknowledge(self.functions[group].policy, nag.DOCUMENT_OBJECTS, bucket=bucket_name)
            nag.acknowledge(self.functions[group].function, nag.FUNCTIONS_IN_VPC_ACROSS_STACKS)
        if workers:
            assert table_stream_arn is not None
            self._add_workers(
                resources=resources,
                runtime=runtime,
                table_stream_arn=table_stream_arn,
                table_key=table_key,
                bucket=bucket,
                document_prefix=document_prefix,
            )

        self.documents_api = DocumentsApi(
            self,
            "Documents",
            user_pool=user_pool,
            functions={group: fn.function for group, fn in self.functions.items()},
            cors_origins=cors_origins,
            throttle_rate_limit=api.throttle_rate_limit,
            throttle_burst_limit=api.throttle_burst_limit,
            log_key=self.key,
            log_retention=LOG_RETENTION,
            manage_account_logging_role=api.manage_account_logging_role,
        )
        # On the root resource: it holds every method, and so every invoke permission.
        nag.acknowledge(self.documents_api.api.root, nag.API_INVOKE_PERMISSIONS)
        if waf:
            ApiFirewall(
                self,
                "Firewall",
                stage_arn=self.documents_api.stage.stage_arn,
                requests_per_ip_per_5_minutes=api.waf_requests_per_ip,
                log_group_name=waf_log_group_name,
                log_key=self.key,
                log_retention=LOG_RETENTION,
            )
        # Read by clients, and by the pipeline's smoke test (env_from_cfn_outputs).
        self.api_url_output = cdk.CfnOutput(self, "ApiUrl", value=self.documents_api.api.url)

    def _add_workers(
        self,
        *,
        resources: function_permissions.ApiResources,
        runtime: FunctionRuntime,
        table_stream_arn: str,
        table_key: kms.IKey,
        bucket: s3.IBucket,
        document_prefix: str,
    ) -> None:
        """The upload worker, fed by the bucket's "Object Created" events through EventBridge,
        and the lifecycle worker, fed by the table's stream: both only where the bucket and the
        stream are (the home Region)."""
        self.upload_worker = runtime.add(
            self,
            "UploadWorker",
            handler=UPLOAD_WORKER_HANDLER,
            description="Folio: check an uploaded object against its document and settle it",
            timeout=WORKER_TIMEOUT,
            statements=function_permissions.upload_worker(resources),
        )
        self.lifecycle_worker = LifecycleWorker(
            self,
            "LifecycleWorker",
            table_arn=resources.table_arn,
            table_stream_arn=table_stream_arn,
            table_key=table_key,
            bucket=bucket,
            document_prefix=document_prefix,
            key=self.key,
            runtime=runtime,
            alarm_topic=self.alarm_topic,
        )
        worker = self.upload_worker.function
        nag.acknowledge(self.upload_worker.policy, nag.DOCUMENT_OBJECTS, bucket=bucket.bucket_name)
        nag.acknowledge(worker, nag.FUNCTIONS_IN_VPC_ACROSS_STACKS)
        events.Rule(
            self,
            "ObjectCreated",
            description="Folio: an upload landed in the documents bucket",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={"bucket": {"name": [bucket.bucket_name]}, "object": {"key": [{"prefix": document_prefix}]}},
            ),
            targets=[
                targets.LambdaFunction(
                    worker,
                    dead_letter_queue=self.dead_letters,
                    retry_attempts=4,
                    max_event_age=cdk.Duration.hours(2),
                )
            ],
        )

    def _reach_search(
        self,
        search: SearchFunctionReach,
        vpc: ec2.IVpc,
        runtime: FunctionRuntime,
        statements: list[iam.PolicyStatement],
    ) -> FunctionRuntime:
        """Wire the search function to the Search stack's domain: a security group of its own,
        which the domain admits on 443 (both rules live here, so the Search stack never refers
        back), the endpoint, and a grant for the one call it makes (added to `statements`).
        Returns the function's runtime with the endpoint and the group."""
        search_clients = ec2.SecurityGroup(
            self,
            "SearchClients",
            vpc=vpc,
            description="Folio search function: may reach the search domain on 443 only",
            allow_all_outbound=False,
        )
        ec2.CfnSecurityGroupIngress(
            self,
            "SearchDomainFromSearchClients",
            group_id=search.security_group.security_group_id,
            source_security_group_id=search_clients.security_group_id,
            ip_protocol="tcp",
            from_port=HTTPS_PORT,
            to_port=HTTPS_PORT,
            description="HTTPS to OpenSearch from the search function",
        )
        search_clients.add_egress_rule(
            ec2.Peer.security_group_id(search.security_group.security_group_id),
            ec2.Port.tcp(HTTPS_PORT),
            "HTTPS to the search domain",
        )
        statements += [
            function_permissions.search_documents_index(search.domain_arn),
            function_permissions.join_security_group("JoinSearchClientsGroup", search_clients),
        ]
        return runtime.extended(
            environment={Env.SEARCH_ENDPOINT: search.endpoint_url}, security_groups=(search_clients,)
        )
