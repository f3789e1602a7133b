"""The documents REST API: routes from folio.contracts (those of the function groups it is given),
each behind Cognito and a validator."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from folio.contracts import (
    BODY_SCHEMAS,
    CORS_ALLOW_HEADERS,
    CORS_ALLOW_METHODS,
    CORS_MAX_AGE_SECONDS,
    ROUTES,
    FunctionGroup,
    Route,
)
from stacks import nag

STAGE_NAME = "v1"

# One JSON line per request: who (the caller's sub), what, how it ended and how long it took.
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "sub": "$context.authorizer.claims.sub",
        "method": "$context.httpMethod",
        "resource": "$context.resourcePath",
        "status": "$context.status",
        "latencyMs": "$context.responseLatency",
        "integrationLatencyMs": "$context.integration.latency",
        "ip": "$context.identity.sourceIp",
        "waf": "$context.waf.status",
        "error": "$context.error.responseType",
    }
)

# Every API Gateway error is JSON with a stable code, never HTML and never a stack trace.
ERROR_BODY = (
    '{"error": {"code": "$context.error.responseType", "message": $context.error.messageString, '
    '"requestId": "$context.requestId"}}'
)


class DocumentsApi(Construct):
    """A regional REST API whose every non-OPTIONS method has the Cognito authorizer and
    a request validator (body model and required parameters); JSON access logs, ERROR
    execution logs, no data trace, X-Ray, stage throttling; JSON gateway responses with
    CORS headers; no response cache (responses are per-user).

    API Gateway delivers both kinds of logs with the one CloudWatch role of the account and
    Region (`AWS::ApiGateway::Account`). With `manage_account_logging_role` this construct
    sets that role to one that may write exactly this stage's log groups, which replaces the
    role of every other API there; without it, the account must already have a role that can
    write them (docs/operations.md), and nothing account-wide is created.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        user_pool: cognito.IUserPool,
        functions: Mapping[FunctionGroup, lambda_.IFunction],
        cors_origins: Sequence[str],
        throttle_rate_limit: int,
        throttle_burst_limit: int,
        log_key: kms.IKey,
        log_retention: logs.RetentionDays,
        manage_account_logging_role: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = logs.LogGroup(
            self, "AccessLogs", encryption_key=log_key, retention=log_retention, removal_policy=cdk.RemovalPolicy.RETAIN
        )
        self.api = apigw.RestApi(
            self,
            "Api",
            description="Folio documents API",
            endpoint_configuration=apigw.EndpointConfiguration(types=[apigw.EndpointType.REGIONAL]),
            # Never CDK's role: it carries an AWS managed policy on "*". Folio's is below, if wanted.
            cloud_watch_role=False,
            deploy_options=apigw.StageOptions(
                stage_name=STAGE_NAME,
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                access_log_format=apigw.AccessLogFormat.custom(ACCESS_LOG_FORMAT),
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                tracing_enabled=True,
                metrics_enabled=True,
                caching_enabled=False,
                throttling_rate_limit=throttle_rate_limit,
                throttling_burst_limit=throttle_burst_limit,
            ),
            default_cors_preflight_options=apigw.CorsOptions(
                allow_origins=list(cors_origins),
                # Only the methods this API serves (a regional serving stage's: GET), in the
                # contract's order.
                allow_methods=[
                    m for m in CORS_ALLOW_METHODS if any(r.method == m and r.group in functions for r in ROUTES)
                ],
                allow_headers=list(CORS_ALLOW_HEADERS),
                max_age=cdk.Duration.seconds(CORS_MAX_AGE_SECONDS),
            ),
        )
        self.stage = self.api.deployment_stage
        self.account_logging_role = self._account_logging_role() if manage_account_logging_role else None
        for finding in nag.API_STAGE_FINDINGS:
            nag.acknowledge(self.stage, finding)
        nag.skip_checkov(self.stage, *nag.CHECKOV_NO_CACHE)

        self.authorizer = apigw.CognitoUserPoolsAuthorizer(self, "Authorizer", cognito_user_pools=[user_pool])
        self.body_validator = self.api.add_request_validator(
            "BodyAndParameters", validate_request_body=True, validate_request_parameters=True
        )
        self.parameter_validator = self.api.add_request_validator(
            "ParametersOnly", validate_request_body=False, validate_request_parameters=True
        )
        self.models = {
            name: self.api.add_model(
                name,
                model_name=name,
                content_type="application/json",
                schema=_json_schema(schema),
            )
            for name, schema in BODY_SCHEMAS.items()
        }
        self.methods: dict[tuple[str, str], apigw.Method] = {}
        # Only the routes of the groups given: a regional serving stage's API has no write route.
        for route in ROUTES:
            if route.group in functions:
                self.methods[(route.method, route.path)] = self._add_route(route, functions[route.group])

        for response_type in (apigw.ResponseType.DEFAULT_4_XX, apigw.ResponseType.DEFAULT_5_XX):
            self.api.add_gateway_response(
                f"Json{response_type.response_type}",
                type=response_type,
                templates={"application/json": ERROR_BODY},
                response_headers={
                    # Error bodies carry only a code, a message and a request id: echoing the
                    # caller's origin lets the browser app read them from any allowed origin.
                    "Access-Control-Allow-Origin": "method.request.header.Origin",
                    "Access-Control-Allow-Headers": "'" + ",".join(CORS_ALLOW_HEADERS) + "'",
                    "Vary": "'Origin'",
                },
            )

    def _add_route(self, route: Route, function: lambda_.IFunction) -> apigw.Method:
        resource = self.api.root.resource_for_path(route.path)
        parameters = {f"method.request.path.{name}": True for name in route.path_parameters}
        parameters |= {f"method.request.querystring.{name}": False for name in route.query}
        parameters |= {f"method.request.header.{name}": False for name in route.headers}
        return resource.add_method(
            route.method,
            # No test-invoke permission: TestInvokeMethod skips the Cognito authorizer, so the
            # console's test feature would be a way to call a function as nobody in particular.
            apigw.LambdaIntegration(function, allow_test_invoke=False),
            authorizer=self.authorizer,
            authorization_type=apigw.AuthorizationType.COGNITO,
            request_validator=self.body_validator if route.body else self.parameter_validator,
            request_models={"application/json": self.models[route.body]} if route.body else None,
            request_parameters=parameters,
            operation_name=f"{route.method.lower()}{route.path.replace('/', '_').replace('{', '').replace('}', '')}",
        )

    def _account_logging_role(self) -> iam.Role:
        """Set the account's API Gateway CloudWatch role to one that may write only this
        stage's access log group and the execution log group API Gateway makes for it.

        CDK's own role attaches AmazonAPIGatewayPushToCloudWatchLogs (logs actions on "*").
        This one names the groups: the access log group by its ARN, and
        API-Gateway-Execution-Logs_<api id>/<stage>, which API Gateway creates and names.
        """
        stack = cdk.Stack.of(self)

        def log_group_arn(name: str) -> str:
            return stack.format_arn(
                service="logs", resource="log-group", resource_name=name, arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME
            )

        execution_logs = log_group_arn(f"API-Gateway-Execution-Logs_{self.api.rest_api_id}/{STAGE_NAME}")
        role = iam.Role(
            self,
            "CloudWatchRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            description="API Gateway (account setting): write Folio's access and execution logs",
        )
        policy = iam.ManagedPolicy(
            self,
            "CloudWatchPolicy",
            description="API Gateway may write only the log groups of Folio's API stage",
            statements=[
                iam.PolicyStatement(
                    sid="WriteAccessLogs",  # the group's Arn ends in ":*": every stream in it
                    actions=["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
                    resources=[self.access_logs.log_group_arn],
                ),
                iam.PolicyStatement(
                    sid="WriteExecutionLogs",  # the group itself (API Gateway creates it), and its streams
                    actions=[
                        "logs:CreateLogGroup",
                        "logs:CreateLogStream",
                        "logs:DescribeLogStreams",
                        "logs:PutLogEvents",
                    ],
                    resources=[execution_logs, f"{execution_logs}:*"],
                ),
                iam.PolicyStatement(
                    # No resource type in the service authorization reference: IAM evaluates it
                    # on "log-group::log-stream:", so this account's and Region's groups is the least.
                    sid="FindLogGroups",
                    actions=["logs:DescribeLogGroups"],
                    resources=[log_group_arn("*")],
                ),
            ],
        )
        role.add_managed_policy(policy)
        placeholders = {
            "region": stack.region,
            "account": stack.account,
            "api": nag.logical_id(self.api),
            "stage": STAGE_NAME,
        }
        for finding in nag.API_GATEWAY_LOGGING_ROLE_FINDINGS:
            nag.acknowledge(policy, finding, **placeholders)
        # L1: the only L2 path to this setting is RestApi's cloud_watch_role, which brings CDK's role.
        account = apigw.CfnAccount(self, "Account", cloud_watch_role_arn=role.role_arn)
        # The stage logs from its first request: the role must be set before it exists.
        self.stage.node.add_dependency(account)
        return role


def _json_schema(schema: Mapping[str, object]) -> apigw.JsonSchema:
    """Convert a draft-04 schema dict (folio.contracts) into CDK's JsonSchema."""
    kinds = {
        "object": apigw.JsonSchemaType.OBJECT,
        "string": apigw.JsonSchemaType.STRING,
        "integer": apigw.JsonSchemaType.INTEGER,
        "array": apigw.JsonSchemaType.ARRAY,
        "boolean": apigw.JsonSchemaType.BOOLEAN,
        "number": apigw.JsonSchemaType.NUMBER,
    }
    names = {
        "$schema": "schema",
        "additionalProperties": "additional_properties",
        "minLength": "min_length",
        "maxLength": "max_length",
        "minItems": "min_items",
        "maxItems": "max_items",
        "uniqueItems": "unique_items",
        "minProperties": "min_properties",
        "maxProperties": "max_properties",
    }
    values: dict[str, object] = {}
    for key, value in schema.items():
        if key == "$schema":
            values["schema"] = apigw.JsonSchemaVersion.DRAFT4
        elif key == "type":
            values["type"] = kinds[str(value)]
        elif key == "properties":
            values["properties"] = {k: _json_schema(v) for k, v in value.items()}  # type: ignore[attr-defined]
        elif key == "items":
            values["items"] = _json_schema(value)  # type: ignore[arg-type]
        else:
            values[names.get(key, key)] = value
    return apigw.JsonSchema(**values)  # type: ignore[arg-type]
