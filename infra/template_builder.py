"""Generate ``infra/template.yaml`` from the code's own sources of truth.

Table names and indexes come from ``backend.adapters.tables``, the state machine from
``backend/workflow/access.asl.json`` and the eight alarms from ``alarms.catalogue``; a test checks
the committed template equals this output. Regenerate after changing any of them:

    .venv/bin/python -m infra.template_builder > infra/template.yaml
"""

from __future__ import annotations

import sys
from importlib import resources
from typing import Any

import yaml

from alarms.catalogue import (
    API_FUNCTION_NAME,
    DEFAULT_API_NAME,
    RECONCILER_FUNCTION_NAME,
    WATCHDOG,
    cloudformation_resources,
)
from backend.adapters import tables
from jitwire.names import (
    ALARMS_TOPIC_NAME,
    DELIVERY_DLQ_NAME,
    EVENTS_TOPIC_NAME,
    FALLBACK_TOPIC_NAME,
    KEYSET_SECRET_NAME,
    METRICS_NAMESPACE,
    STATE_MACHINE_NAME,
)

SCHEDULE = "rate(15 minutes)"
RUNTIME = "python3.12"

# Which DynamoDB actions each Lambda needs, per table. jit_audit is append-only: PutItem, never
# UpdateItem or DeleteItem (the code adds attribute_not_exists so it cannot overwrite either).
_READ = ["dynamodb:GetItem", "dynamodb:Query"]
API_TABLE_ACTIONS: dict[str, list[str]] = {
    tables.REQUESTS: [*_READ, "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"],
    tables.AUDIT: [*_READ, "dynamodb:PutItem", "dynamodb:Scan"],  # Scan: GET /audit/report
    tables.ASSIGNMENTS: [*_READ, "dynamodb:UpdateItem", "dynamodb:Scan"],
    tables.NONCES: ["dynamodb:PutItem"],
    tables.OUTBOX: ["dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Scan"],
    tables.CONFIG: [*_READ, "dynamodb:PutItem", "dynamodb:DeleteItem"],  # DeleteItem: inline-policy leases
    # Bindings are made on first use (a transaction of two conditional puts), never changed by the API.
    tables.IDENTITIES: [*_READ, "dynamodb:PutItem", "dynamodb:ConditionCheckItem"],
    tables.BUDGET: ["dynamodb:GetItem", "dynamodb:UpdateItem"],
}
RECONCILER_TABLE_ACTIONS: dict[str, list[str]] = {
    name: actions for name, actions in API_TABLE_ACTIONS.items() if name not in (tables.NONCES, tables.IDENTITIES)
}
ASSIGNMENT_WRITE_ACTIONS = ["sso:CreateAccountAssignment", "sso:DeleteAccountAssignment"]
# Ending live sessions: the managed permission sets' inline policies, provisioned to managed accounts.
SESSION_END_ACTIONS = [
    "sso:DeleteInlinePolicyFromPermissionSet",
    "sso:GetInlinePolicyForPermissionSet",
    "sso:ProvisionPermissionSet",
    "sso:PutInlinePolicyToPermissionSet",
]


def ref(name: str) -> dict[str, Any]:
    return {"Ref": name}


def sub(text: str) -> dict[str, Any]:
    return {"Fn::Sub": text}


def getatt(resource: str, attribute: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [resource, attribute]}


def _table_arn(name: str) -> dict[str, Any]:
    return sub(f"arn:${{AWS::Partition}}:dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:table/{name}")


def _index_arn(name: str) -> dict[str, Any]:
    return sub(f"arn:${{AWS::Partition}}:dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:table/{name}/index/*")


def _function_arn(name: str) -> dict[str, Any]:
    return sub(f"arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:${{AWS::AccountId}}:function:{name}")


STATE_MACHINE_ARN = sub(
    f"arn:${{AWS::Partition}}:states:${{AWS::Region}}:${{AWS::AccountId}}:stateMachine:{STATE_MACHINE_NAME}"
)
KEYSET_SECRET_ARN = sub(
    "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${KeysetSecretName}-*"
)


def parameters() -> dict[str, Any]:
    return {
        "Audience": {
            "Type": "String",
            "Description": "Deployment name signed into every bot request (e.g. jit-prod); the bot uses the same",
            "AllowedPattern": "^[a-z0-9.-]{3,64}$",
        },
        "BotBaseUrl": {
            "Type": "String",
            "Description": "HTTPS base URL of the bot (SNS posts to <url>/sns)",
            "AllowedPattern": "^https://[^/]+(/.*)?[^/]$",
        },
        "IdentityCenterInstanceArn": {"Type": "String", "AllowedPattern": "^arn:aws[a-z-]*:sso:::instance/.+$"},
        "IdentityStoreId": {"Type": "String", "AllowedPattern": "^d-[0-9a-f]{10}$|^[0-9a-f-]{36}$"},
        "ManagedPermissionSetArns": {
            "Type": "CommaDelimitedList",
            "Description": "ARNs of the permission sets JIT may assign and remove (nothing else)",
        },
        "ManagedAccountIds": {
            "Type": "CommaDelimitedList",
            "Description": "AWS account ids JIT may assign in (the accounts of the policy)",
        },
        "KeysetSecretName": {
            "Type": "String",
            "Default": KEYSET_SECRET_NAME,
            "Description": "Name of the Secrets Manager secret holding the HMAC key set",
        },
        "CodeBucket": {"Type": "String", "Description": "S3 bucket holding the Lambda zip (infra/deploy.sh uploads)"},
        "CodeKey": {"Type": "String", "Description": "S3 key of the Lambda zip"},
        "LogRetentionDays": {
            "Type": "Number",
            "Default": 90,
            "AllowedValues": [7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653],
        },
        "StageName": {"Type": "String", "Default": "v1", "AllowedPattern": "^[a-zA-Z0-9_]+$"},
        "ApiAllowedSourceCidrs": {
            "Type": "CommaDelimitedList",
            "Default": "",
            "Description": "Optional: CIDRs the bot calls the API from; a resource policy then refuses all others",
        },
        "ApiWebAclArn": {
            "Type": "String",
            "Default": "",
            "Description": "Optional: ARN of a regional WAFv2 web ACL to associate with the API stage",
            "AllowedPattern": "^$|^arn:aws[a-z-]*:wafv2:[a-z0-9-]+:[0-9]{12}:regional/webacl/.+$",
        },
        "ApiSnapStart": {
            "Type": "String",
            "Default": "false",
            "AllowedValues": ["false", "true"],
            "Description": "Lambda SnapStart for jit-api: API Gateway and Step Functions then call the published "
            "version behind the 'live' alias (docs/deploy.md, SnapStart)",
        },
    }


def conditions() -> dict[str, Any]:
    return {
        "ApiSnapStartOn": {"Fn::Equals": [ref("ApiSnapStart"), "true"]},
        "ApiSnapStartOff": {"Fn::Not": [{"Condition": "ApiSnapStartOn"}]},
        "HasApiSourceCidrs": {"Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", ref("ApiAllowedSourceCidrs")]}, ""]}]},
        "HasApiWebAcl": {"Fn::Not": [{"Fn::Equals": [ref("ApiWebAclArn"), ""]}]},
    }


def _attribute_definitions(name: str) -> list[dict[str, str]]:
    return list(tables.TABLE_DEFINITIONS[name]["AttributeDefinitions"])


def dynamodb_tables() -> dict[str, Any]:
    resources_: dict[str, Any] = {}
    for name, definition in tables.TABLE_DEFINITIONS.items():
        props: dict[str, Any] = {
            "TableName": name,
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": definition["KeySchema"],
            "AttributeDefinitions": _attribute_definitions(name),
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
        }
        if "GlobalSecondaryIndexes" in definition:
            props["GlobalSecondaryIndexes"] = definition["GlobalSecondaryIndexes"]
        if name == tables.NONCES:
            props["TimeToLiveSpecification"] = {"AttributeName": tables.NONCE_TTL_ATTRIBUTE, "Enabled": True}
        logical = "Table" + "".join(part.title() for part in name.split("_"))
        resources_[logical] = {
            "Type": "AWS::DynamoDB::Table",
            "DeletionPolicy": "Retain",  # requests and the audit trail outlive the stack
            "UpdateReplacePolicy": "Retain",
            "Properties": props,
        }
    return resources_


def _dynamodb_statements(actions_by_table: dict[str, list[str]]) -> list[dict[str, Any]]:
    statements = []
    for name, actions in actions_by_table.items():
        resources_ = [_table_arn(name)]
        if "GlobalSecondaryIndexes" in tables.TABLE_DEFINITIONS[name]:
            resources_.append(_index_arn(name))
        sid = "Table" + "".join(part.title() for part in name.split("_"))
        statements.append({"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": resources_})
    return statements


def _identity_center_statements() -> list[dict[str, Any]]:
    accounts = {
        "Fn::Split": [
            ",",
            {
                "Fn::Sub": [
                    "arn:${AWS::Partition}:sso:::account/${Ids}",
                    {"Ids": {"Fn::Join": [",arn:aws:sso:::account/", ref("ManagedAccountIds")]}},
                ]
            },
        ]
    }
    store_arn = sub("arn:${AWS::Partition}:identitystore::${AWS::AccountId}:identitystore/${IdentityStoreId}")
    # [instance ARN, *managed permission set ARNs]: a list parameter cannot be concatenated directly.
    instance_and_permission_sets = {
        "Fn::Split": [
            ",",
            {
                "Fn::Join": [
                    ",",
                    [ref("IdentityCenterInstanceArn"), {"Fn::Join": [",", ref("ManagedPermissionSetArns")]}],
                ]
            },
        ]
    }
    return [
        {
            "Sid": "AssignManagedPermissionSetsOnly",
            "Effect": "Allow",
            "Action": ASSIGNMENT_WRITE_ACTIONS,
            "Resource": instance_and_permission_sets,
        },
        {
            "Sid": "AssignInManagedAccountsOnly",
            "Effect": "Allow",
            "Action": ASSIGNMENT_WRITE_ACTIONS,
            "Resource": accounts,
        },
        {
            "Sid": "EndSessionsOfManagedPermissionSetsOnly",
            "Effect": "Allow",
            "Action": SESSION_END_ACTIONS,
            "Resource": instance_and_permission_sets,
        },
        {
            "Sid": "EndSessionsInManagedAccountsOnly",
            "Effect": "Allow",
            "Action": ["sso:ProvisionPermissionSet"],
            "Resource": accounts,
        },
        {
            "Sid": "ReadAssignments",
            "Effect": "Allow",
            "Action": [
                "sso:DescribeAccountAssignmentCreationStatus",
                "sso:DescribeAccountAssignmentDeletionStatus",
                "sso:DescribePermissionSet",
                "sso:DescribePermissionSetProvisioningStatus",
                "sso:ListAccountAssignments",
                "sso:ListPermissionSets",
            ],
            "Resource": [
                ref("IdentityCenterInstanceArn"),
                sub("arn:${AWS::Partition}:sso:::permissionSet/*"),
                sub("arn:${AWS::Partition}:sso:::account/*"),
            ],
        },
        {
            "Sid": "ReadDirectory",
            "Effect": "Allow",
            "Action": [
                "identitystore:DescribeGroup",
                "identitystore:GetUserId",
                "identitystore:ListGroupMembershipsForMember",
            ],
            "Resource": [
                store_arn,
                sub("arn:${AWS::Partition}:identitystore:::user/*"),
                sub("arn:${AWS::Partition}:identitystore:::group/*"),
                sub("arn:${AWS::Partition}:identitystore:::membership/*"),
            ],
        },
    ]


def _role(function_name: str, statements: list[dict[str, Any]]) -> dict[str, Any]:
    logs = {
        "Sid": "OwnLogGroup",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": sub(
            f"arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:/aws/lambda/{function_name}:*"
        ),
    }
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            },
            "Policies": [
                {
                    "PolicyName": f"{function_name}-least-privilege",
                    "PolicyDocument": {"Version": "2012-10-17", "Statement": [logs, *statements]},
                }
            ],
        },
    }


def _environment() -> dict[str, Any]:
    return {
        "Variables": {
            "JIT_AUDIENCE": ref("Audience"),
            "JIT_KEYSET_SECRET_ID": ref("KeysetSecretName"),
            "JIT_STATE_MACHINE_ARN": STATE_MACHINE_ARN,
            "JIT_EVENTS_TOPIC_ARN": ref("EventsTopic"),
            "JIT_IDENTITY_CENTER_INSTANCE_ARN": ref("IdentityCenterInstanceArn"),
            "JIT_IDENTITY_STORE_ID": ref("IdentityStoreId"),
            "JIT_METRICS": "emf",
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            "POWERTOOLS_LOG_LEVEL": "INFO",  # JSON log lines (backend/handlers/logs.py); DEBUG while investigating
        }
    }


def _function(name: str, handler: str, role: str, log_group: str, timeout: int) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::Function",
        "DependsOn": [log_group],
        "Properties": {
            "FunctionName": name,
            "Runtime": RUNTIME,
            "Handler": handler,
            "Role": getatt(role, "Arn"),
            "Code": {"S3Bucket": ref("CodeBucket"), "S3Key": ref("CodeKey")},
            "MemorySize": 512,
            "Timeout": timeout,
            "Environment": _environment(),
        },
    }


def _log_group(function_name: str) -> dict[str, Any]:
    return {
        "Type": "AWS::Logs::LogGroup",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {"LogGroupName": f"/aws/lambda/{function_name}", "RetentionInDays": ref("LogRetentionDays")},
    }


API_ALIAS_NAME = "live"


def _with_snapstart(function: dict[str, Any]) -> dict[str, Any]:
    function["Properties"]["SnapStart"] = {"ApplyOn": _if("ApiSnapStartOn", "PublishedVersions", "None")}
    return function


def _api_target(unqualified: Any) -> dict[str, Any]:
    """What callers of jit-api invoke: the 'live' alias with SnapStart (a snapshot), else the function."""
    return _if("ApiSnapStartOn", ref("ApiFunctionLiveAlias"), unqualified)


def lambdas() -> dict[str, Any]:
    common = [
        {"Sid": "PublishLifecycleEvents", "Effect": "Allow", "Action": "sns:Publish", "Resource": ref("EventsTopic")},
        {
            "Sid": "ReadKeySet",
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": KEYSET_SECRET_ARN,
        },
    ]
    api_statements = [
        *_dynamodb_statements(API_TABLE_ACTIONS),
        *_identity_center_statements(),
        *common,
        {"Sid": "StartWorkflow", "Effect": "Allow", "Action": "states:StartExecution", "Resource": STATE_MACHINE_ARN},
    ]
    reconciler_statements = [
        *_dynamodb_statements(RECONCILER_TABLE_ACTIONS),
        *_identity_center_statements(),
        common[0],
    ]
    return {
        "ApiLogGroup": _log_group(API_FUNCTION_NAME),
        "ReconcilerLogGroup": _log_group(RECONCILER_FUNCTION_NAME),
        "ApiFunctionRole": _role(API_FUNCTION_NAME, api_statements),
        "ReconcilerFunctionRole": _role(RECONCILER_FUNCTION_NAME, reconciler_statements),
        "ApiFunction": _with_snapstart(
            _function(API_FUNCTION_NAME, "backend.handlers.api.lambda_handler", "ApiFunctionRole", "ApiLogGroup", 60)
        ),
        # SnapStart snapshots published versions only. The description names the code's content-hashed
        # key, so a deploy with new code replaces this resource and publishes (and snapshots) anew.
        "ApiFunctionVersion": {
            "Type": "AWS::Lambda::Version",
            "Condition": "ApiSnapStartOn",
            "Properties": {"FunctionName": ref("ApiFunction"), "Description": sub("jit-api code ${CodeKey}")},
        },
        "ApiFunctionLiveAlias": {
            "Type": "AWS::Lambda::Alias",
            "Condition": "ApiSnapStartOn",
            "Properties": {
                "FunctionName": ref("ApiFunction"),
                "FunctionVersion": getatt("ApiFunctionVersion", "Version"),
                "Name": API_ALIAS_NAME,
            },
        },
        "ReconcilerFunction": _function(
            RECONCILER_FUNCTION_NAME,
            "backend.handlers.reconciler.lambda_handler",
            "ReconcilerFunctionRole",
            "ReconcilerLogGroup",
            600,
        ),
        "ReconcilerSchedule": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "Name": "jit-reconciler-schedule",
                "ScheduleExpression": SCHEDULE,
                "State": "ENABLED",
                "Targets": [{"Id": "reconciler", "Arn": getatt("ReconcilerFunction", "Arn")}],
            },
        },
        "ReconcilerSchedulePermission": {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "Action": "lambda:InvokeFunction",
                "FunctionName": ref("ReconcilerFunction"),
                "Principal": "events.amazonaws.com",
                "SourceArn": getatt("ReconcilerSchedule", "Arn"),
            },
        },
    }


def state_machine() -> dict[str, Any]:
    definition = resources.files("backend.workflow").joinpath("access.asl.json").read_text(encoding="utf-8")
    return {
        "WorkflowRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "states.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
                "Policies": [
                    {
                        "PolicyName": "invoke-jit-api",
                        "PolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Action": "lambda:InvokeFunction",
                                    "Resource": [
                                        _function_arn(API_FUNCTION_NAME),
                                        _if(
                                            "ApiSnapStartOn",
                                            _function_arn(f"{API_FUNCTION_NAME}:{API_ALIAS_NAME}"),
                                            ref("AWS::NoValue"),
                                        ),
                                    ],
                                }
                            ],
                        },
                    }
                ],
            },
        },
        "StateMachine": {
            "Type": "AWS::StepFunctions::StateMachine",
            "Properties": {
                "StateMachineName": STATE_MACHINE_NAME,
                "StateMachineType": "STANDARD",
                "RoleArn": getatt("WorkflowRole", "Arn"),
                # The repo's ASL file; ${JitApiFunctionArn} is its only substitution.
                "DefinitionString": {
                    "Fn::Sub": [definition, {"JitApiFunctionArn": _api_target(getatt("ApiFunction", "Arn"))}]
                },
            },
        },
    }


def api_gateway() -> dict[str, Any]:
    invocations = (
        "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Target}/invocations"
    )
    integration = {
        "Type": "AWS_PROXY",
        "IntegrationHttpMethod": "POST",
        "Uri": {"Fn::Sub": [invocations, {"Target": _api_target(getatt("ApiFunction", "Arn"))}]},
    }

    def method(resource_id: Any) -> dict[str, Any]:
        return {
            "Type": "AWS::ApiGateway::Method",
            "Properties": {
                "RestApiId": ref("RestApi"),
                "ResourceId": resource_id,
                "HttpMethod": "ANY",
                "AuthorizationType": "NONE",  # every request is HMAC-verified by jit-api itself
                "Integration": integration,
            },
        }

    invoke_arn = "execute-api:/*"  # API Gateway expands this to the API's own ARN
    source_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": invoke_arn},
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "execute-api:Invoke",
                "Resource": invoke_arn,
                "Condition": {"NotIpAddress": {"aws:SourceIp": ref("ApiAllowedSourceCidrs")}},
            },
        ],
    }
    return {
        "RestApi": {
            "Type": "AWS::ApiGateway::RestApi",
            "Properties": {
                "Name": DEFAULT_API_NAME,
                "EndpointConfiguration": {"Types": ["REGIONAL"]},
                "MinimumCompressionSize": 1024,
                # Optional: only the bot's egress addresses reach the API at all (docs/deploy.md).
                "Policy": {"Fn::If": ["HasApiSourceCidrs", source_policy, ref("AWS::NoValue")]},
            },
        },
        "HealthResource": {
            "Type": "AWS::ApiGateway::Resource",
            "Properties": {
                "RestApiId": ref("RestApi"),
                "ParentId": getatt("RestApi", "RootResourceId"),
                "PathPart": "health",
            },
        },
        "HealthMethod": {
            "Type": "AWS::ApiGateway::Method",
            "Properties": {
                "RestApiId": ref("RestApi"),
                "ResourceId": ref("HealthResource"),
                "HttpMethod": "GET",
                "AuthorizationType": "NONE",  # /health is the one path jit-api answers unsigned
                "Integration": integration,
            },
        },
        "ProxyResource": {
            "Type": "AWS::ApiGateway::Resource",
            "Properties": {
                "RestApiId": ref("RestApi"),
                "ParentId": getatt("RestApi", "RootResourceId"),
                "PathPart": "{proxy+}",
            },
        },
        "RootMethod": method(getatt("RestApi", "RootResourceId")),
        "ProxyMethod": method(ref("ProxyResource")),
        # A deployment is a snapshot of the methods taken when it is created; switching SnapStart changes
        # every integration, so each setting has its own deployment and the stage takes the matching one.
        "ApiDeployment": {
            "Type": "AWS::ApiGateway::Deployment",
            "Condition": "ApiSnapStartOff",
            "DependsOn": ["RootMethod", "ProxyMethod", "HealthMethod"],
            "Properties": {"RestApiId": ref("RestApi")},
        },
        "ApiDeploymentViaAlias": {
            "Type": "AWS::ApiGateway::Deployment",
            "Condition": "ApiSnapStartOn",
            "DependsOn": ["RootMethod", "ProxyMethod", "HealthMethod"],
            "Properties": {"RestApiId": ref("RestApi"), "Description": "integrations call jit-api:live"},
        },
        "ApiStage": {
            "Type": "AWS::ApiGateway::Stage",
            "Properties": {
                "RestApiId": ref("RestApi"),
                "DeploymentId": _if("ApiSnapStartOn", ref("ApiDeploymentViaAlias"), ref("ApiDeployment")),
                "StageName": ref("StageName"),
                # The stage-wide limit protects the Lambda and DynamoDB from signed traffic; the paths an
                # unsigned caller can reach cheaply get their own, much lower limits (docs/deploy.md).
                "MethodSettings": [
                    {"ResourcePath": "/*", "HttpMethod": "*", "ThrottlingBurstLimit": 50, "ThrottlingRateLimit": 20},
                    {
                        "ResourcePath": "/~1health",
                        "HttpMethod": "GET",
                        "ThrottlingBurstLimit": 5,
                        "ThrottlingRateLimit": 1,
                    },
                    {"ResourcePath": "/", "HttpMethod": "*", "ThrottlingBurstLimit": 5, "ThrottlingRateLimit": 1},
                ],
            },
        },
        "ApiWebAclAssociation": {
            "Type": "AWS::WAFv2::WebACLAssociation",
            "Condition": "HasApiWebAcl",
            "DependsOn": ["ApiStage"],
            "Properties": {
                "ResourceArn": sub(
                    "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${RestApi}/stages/${StageName}"
                ),
                "WebACLArn": ref("ApiWebAclArn"),
            },
        },
        "ApiInvokePermission": {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "Action": "lambda:InvokeFunction",
                "FunctionName": _api_target(ref("ApiFunction")),
                "Principal": "apigateway.amazonaws.com",
                "SourceArn": sub("arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${RestApi}/*"),
            },
        },
    }


def _subscription(topic: str) -> dict[str, Any]:
    return {
        "Type": "AWS::SNS::Subscription",
        "Properties": {
            "TopicArn": ref(topic),
            "Protocol": "https",
            "Endpoint": sub("${BotBaseUrl}/sns"),
            # The bot may be restarting: retry for about an hour before the dead-letter queue.
            "DeliveryPolicy": {
                "healthyRetryPolicy": {
                    "numRetries": 40,
                    "numNoDelayRetries": 0,
                    "minDelayTarget": 5,
                    "maxDelayTarget": 300,
                    "numMinDelayRetries": 3,
                    "numMaxDelayRetries": 25,
                    "backoffFunction": "exponential",
                },
                "throttlePolicy": {"maxReceivesPerSecond": 10},
            },
            "RedrivePolicy": {"deadLetterTargetArn": getatt("DeliveryDeadLetterQueue", "Arn")},
        },
    }


_LAMBDA_ROLE_ARNS = [getatt("ApiFunctionRole", "Arn"), getatt("ReconcilerFunctionRole", "Arn")]


def _topic_policy(topic: str, *publish: dict[str, Any]) -> dict[str, Any]:
    """Who may publish (``publish``), and that only the bot's HTTPS /sns may subscribe: a genuinely
    signed SNS message is only as trustworthy as the topic's publishers and subscribers."""
    subscribe_only_the_bot = [
        {
            "Sid": f"OnlyTheBotSubscribes{condition}",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sns:Subscribe",
            "Resource": ref(topic),
            "Condition": {"StringNotEquals": {key: value}},
        }
        for condition, key, value in (
            ("Endpoint", "sns:Endpoint", sub("${BotBaseUrl}/sns")),
            ("Protocol", "sns:Protocol", "https"),
        )
    ]
    return {
        "Type": "AWS::SNS::TopicPolicy",
        "Properties": {
            "Topics": [ref(topic)],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [*publish, *subscribe_only_the_bot]},
        },
    }


def messaging() -> dict[str, Any]:
    return {
        "EventsTopic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": EVENTS_TOPIC_NAME}},
        "AlarmsTopic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": ALARMS_TOPIC_NAME}},
        "DeliveryDeadLetterQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": DELIVERY_DLQ_NAME,
                "MessageRetentionPeriod": 1209600,
                "SqsManagedSseEnabled": True,
            },
        },
        "DeliveryDeadLetterQueuePolicy": {
            "Type": "AWS::SQS::QueuePolicy",
            "Properties": {
                "Queues": [ref("DeliveryDeadLetterQueue")],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "sns.amazonaws.com"},
                            "Action": "sqs:SendMessage",
                            "Resource": getatt("DeliveryDeadLetterQueue", "Arn"),
                            "Condition": {"ArnEquals": {"aws:SourceArn": [ref("EventsTopic"), ref("AlarmsTopic")]}},
                        }
                    ],
                },
            },
        },
        "EventsTopicPolicy": _topic_policy(
            "EventsTopic",
            {
                "Sid": "OnlyTheLambdasPublish",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sns:Publish",
                "Resource": ref("EventsTopic"),
                "Condition": {"ArnNotEquals": {"aws:PrincipalArn": _LAMBDA_ROLE_ARNS}},
            },
            {
                "Sid": "LambdasPublish",
                "Effect": "Allow",
                "Principal": {"AWS": _LAMBDA_ROLE_ARNS},
                "Action": "sns:Publish",
                "Resource": ref("EventsTopic"),
            },
        ),
        "AlarmsTopicPolicy": _topic_policy(
            "AlarmsTopic",
            {
                "Sid": "OnlyCloudWatchPublishes",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sns:Publish",
                "Resource": ref("AlarmsTopic"),
                "Condition": {"StringNotEquals": {"aws:PrincipalServiceName": "cloudwatch.amazonaws.com"}},
            },
            {
                "Sid": "CloudWatchOfThisAccountPublishes",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": ref("AlarmsTopic"),
                "Condition": {"StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")}},
            },
        ),
        "EventsSubscription": _subscription("EventsTopic"),
        "AlarmsSubscription": _subscription("AlarmsTopic"),
        "KeysetSecret": {
            "Type": "AWS::SecretsManager::Secret",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "Name": ref("KeysetSecretName"),
                "Description": "JIT HMAC key set; rotate with jit-admin keys (runbook 02)",
                # Placeholder until `jit-admin keys add` + `promote` write the real set; jit-api refuses it.
                "SecretString": '{"keys": []}',
            },
        },
    }


# -- who watches the watcher (docs/runbooks/04-bot-unreachable.md) ---------------------------------

RUNBOOK_ALARMS_TO_FALLBACK = "RunbookAlarmsToFallbackEnabled"


def watchdog_parameters() -> dict[str, Any]:
    return {
        "FallbackProtocol": {
            "Type": "String",
            "Default": "email",
            "AllowedValues": ["email", "https"],
            "Description": "How jit-alarms-fallback reaches people when the bot cannot: e-mail or an HTTPS pager",
        },
        "FallbackEndpoint": {
            "Type": "String",
            "Description": "E-mail address or HTTPS pager URL for jit-alarms-fallback; never the bot",
            "AllowedPattern": "^([^@\\s]+@[^@\\s]+|https://\\S+)$",
        },
        "RunbookAlarmsToFallback": {
            "Type": "String",
            "Default": "false",
            "AllowedValues": ["false", "true"],
            "Description": "Also send the eight runbook alarms to jit-alarms-fallback (not only to the bot)",
        },
    }


def watchdog_conditions() -> dict[str, Any]:
    return {RUNBOOK_ALARMS_TO_FALLBACK: {"Fn::Equals": [ref("RunbookAlarmsToFallback"), "true"]}}


def runbook_alarm_extra_actions() -> tuple[Any, ...]:
    """The eight alarms' optional second action: the fallback topic, when the parameter says so."""
    return ({"Fn::If": [RUNBOOK_ALARMS_TO_FALLBACK, ref("FallbackTopic"), ref("AWS::NoValue")]},)


def watchdog() -> dict[str, Any]:
    """The fallback topic, its subscription (never the bot) and JIT-BotUnreachable, which notifies only it."""
    return {
        "FallbackTopic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": FALLBACK_TOPIC_NAME}},
        "FallbackTopicPolicy": {
            "Type": "AWS::SNS::TopicPolicy",
            "Properties": {
                "Topics": [ref("FallbackTopic")],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "CloudWatchAlarmsOfThisAccount",
                            "Effect": "Allow",
                            "Principal": {"Service": "cloudwatch.amazonaws.com"},
                            "Action": "sns:Publish",
                            "Resource": ref("FallbackTopic"),
                            "Condition": {"StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")}},
                        }
                    ],
                },
            },
        },
        "FallbackSubscription": {
            "Type": "AWS::SNS::Subscription",
            "Properties": {
                "TopicArn": ref("FallbackTopic"),
                "Protocol": ref("FallbackProtocol"),
                "Endpoint": ref("FallbackEndpoint"),
            },
        },
        **cloudformation_resources(
            topic_arn_ref=ref("FallbackTopic"),
            state_machine_arn_ref=STATE_MACHINE_ARN,
            api_name=DEFAULT_API_NAME,
            definitions=WATCHDOG,
        ),
    }


# -- what a security scanner asks of this template (checkov in `make test`) -------------------------
#
# One optional customer-managed KMS key (parameter ``KmsKeyArn``) encrypts the tables, the key-set
# secret, the topics, the dead-letter queues and the log groups; without it AWS-managed keys do,
# except for the two topics CloudWatch alarms publish to: CloudWatch cannot use the AWS-managed
# SNS key, so those get a key of this stack (``AlarmTopicsKey``). Skipped checks carry their reason
# in the resource's Metadata (checkov's inline skip syntax).

HAS_CUSTOMER_KEY = "CustomerManagedKeyGiven"
NO_CUSTOMER_KEY = "NoCustomerManagedKey"
TRACING = "XRayTracingEnabled"
CREATE_APIGW_ACCOUNT_ROLE = "CreateApiGatewayLoggingRole"
API_ACCESS_LOG_GROUP = "/aws/apigateway/jit-api/access"
RECONCILER_FAILURES_QUEUE = "jit-reconciler-failures"
NO_VALUE = {"Ref": "AWS::NoValue"}


def _if(condition: str, then: Any, otherwise: Any) -> dict[str, Any]:
    return {"Fn::If": [condition, then, otherwise]}


def security_parameters() -> dict[str, Any]:
    return {
        "KmsKeyArn": {
            "Type": "String",
            "Default": "",
            "AllowedPattern": "^$|^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[0-9a-f-]+$",
            "Description": "Customer-managed KMS key for tables, secret, topics, queues and logs "
            "(empty: AWS-managed keys; docs/deploy.md lists the key policy it needs)",
        },
        "XRayTracing": {
            "Type": "String",
            "Default": "false",
            "AllowedValues": ["false", "true"],
            "Description": "X-Ray tracing for the API stage and both Lambdas",
        },
        "ApiReservedConcurrency": {
            "Type": "Number",
            "Default": 10,
            "MinValue": 1,
            "Description": "Reserved concurrency of jit-api (a ceiling; the account keeps 100 unreserved)",
        },
        "ReconcilerReservedConcurrency": {
            "Type": "Number",
            "Default": 1,
            "MinValue": 1,
            "MaxValue": 1,
            "Description": "Reserved concurrency of jit-reconciler: 1, so two runs never overlap",
        },
        "ApiGatewayAccountLogging": {
            "Type": "String",
            "Default": "create",
            "AllowedValues": ["create", "existing"],
            "Description": "API Gateway needs an account-wide CloudWatch Logs role for access logs: "
            "create it here, or 'existing' if the account already has one",
        },
    }


def security_conditions() -> dict[str, Any]:
    return {
        HAS_CUSTOMER_KEY: {"Fn::Not": [{"Fn::Equals": [ref("KmsKeyArn"), ""]}]},
        NO_CUSTOMER_KEY: {"Fn::Equals": [ref("KmsKeyArn"), ""]},
        TRACING: {"Fn::Equals": [ref("XRayTracing"), "true"]},
        CREATE_APIGW_ACCOUNT_ROLE: {"Fn::Equals": [ref("ApiGatewayAccountLogging"), "create"]},
    }


def _skip(resource: dict[str, Any], **reasons: str) -> None:
    """Record checkov skips with their reason in the resource's Metadata."""
    skips = resource.setdefault("Metadata", {}).setdefault("checkov", {}).setdefault("skip", [])
    skips.extend({"id": check, "comment": reason} for check, reason in reasons.items())


def _alarm_topics_key() -> dict[str, Any]:
    return {
        "Type": "AWS::KMS::Key",
        "Condition": NO_CUSTOMER_KEY,
        "Properties": {
            "Description": "jit-alarms and jit-alarms-fallback: CloudWatch alarms cannot use the AWS-managed SNS key",
            "EnableKeyRotation": True,
            "KeyPolicy": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "AccountAdministersTheKey",
                        "Effect": "Allow",
                        "Principal": {"AWS": sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")},
                        "Action": "kms:*",
                        "Resource": "*",
                    },
                    {
                        "Sid": "CloudWatchAlarmsPublish",
                        "Effect": "Allow",
                        "Principal": {"Service": "cloudwatch.amazonaws.com"},
                        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                        "Resource": "*",
                        "Condition": {"StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")}},
                    },
                ],
            },
        },
    }


def _api_access_logging() -> dict[str, Any]:
    return {
        "ApiAccessLogGroup": {
            "Type": "AWS::Logs::LogGroup",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "LogGroupName": API_ACCESS_LOG_GROUP,
                "RetentionInDays": ref("LogRetentionDays"),
                "KmsKeyId": _if(HAS_CUSTOMER_KEY, ref("KmsKeyArn"), NO_VALUE),
            },
        },
        "ApiGatewayLoggingRole": {
            "Type": "AWS::IAM::Role",
            "Condition": CREATE_APIGW_ACCOUNT_ROLE,
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "apigateway.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
                "ManagedPolicyArns": [
                    sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs")
                ],
            },
        },
        "ApiGatewayAccount": {
            "Type": "AWS::ApiGateway::Account",
            "Condition": CREATE_APIGW_ACCOUNT_ROLE,
            "Properties": {"CloudWatchRoleArn": getatt("ApiGatewayLoggingRole", "Arn")},
        },
    }


# One JSON line per request: who called, what came back, how long it took (no bodies, no headers).
ACCESS_LOG_FORMAT = (
    '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","time":"$context.requestTime",'
    '"method":"$context.httpMethod","path":"$context.resourcePath","status":"$context.status",'
    '"length":"$context.responseLength","latencyMs":"$context.responseLatency",'
    '"integrationStatus":"$context.integration.status","error":"$context.error.message"}'
)


def _reconciler_failure_destination() -> dict[str, Any]:
    return {
        "ReconcilerFailureQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": RECONCILER_FAILURES_QUEUE,
                "MessageRetentionPeriod": 1209600,
                "KmsMasterKeyId": _if(HAS_CUSTOMER_KEY, ref("KmsKeyArn"), NO_VALUE),
                "SqsManagedSseEnabled": _if(HAS_CUSTOMER_KEY, NO_VALUE, True),
            },
        },
        "ReconcilerInvokeConfig": {
            "Type": "AWS::Lambda::EventInvokeConfig",
            "DependsOn": ["ReconcilerDestinationPolicy"],
            "Properties": {
                "FunctionName": ref("ReconcilerFunction"),
                "Qualifier": "$LATEST",
                "MaximumRetryAttempts": 2,
                "DestinationConfig": {"OnFailure": {"Destination": getatt("ReconcilerFailureQueue", "Arn")}},
            },
        },
    }


def _optional_lambda_policy(condition: str, name: str, statement: dict[str, Any]) -> dict[str, Any]:
    """A policy both Lambda roles get only with an option (a separate resource: a policy may not be empty)."""
    return {
        "Type": "AWS::IAM::Policy",
        "Condition": condition,
        "Properties": {
            "PolicyName": name,
            "Roles": [ref("ApiFunctionRole"), ref("ReconcilerFunctionRole")],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [statement]},
        },
    }


def _optional_lambda_policies() -> dict[str, Any]:
    return {
        "LambdaCustomerKeyPolicy": _optional_lambda_policy(
            HAS_CUSTOMER_KEY,
            "jit-use-the-customer-key",
            {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": ref("KmsKeyArn")},
        ),
        "LambdaTracingPolicy": _optional_lambda_policy(
            TRACING,
            "jit-xray-tracing",
            # X-Ray has no resource-level permissions.
            {"Effect": "Allow", "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"], "Resource": "*"},
        ),
    }


def _reconciler_destination_policy() -> dict[str, Any]:
    """Lambda sends failed asynchronous invocations with the function's own role."""
    return {
        "Type": "AWS::IAM::Policy",
        "Properties": {
            "PolicyName": "jit-reconciler-on-failure",
            "Roles": [ref("ReconcilerFunctionRole")],
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "ReconcilerFailureDestination",
                        "Effect": "Allow",
                        "Action": "sqs:SendMessage",
                        "Resource": getatt("ReconcilerFailureQueue", "Arn"),
                    }
                ],
            },
        },
    }


def security_resources() -> dict[str, Any]:
    return {
        "AlarmTopicsKey": _alarm_topics_key(),
        **_api_access_logging(),
        **_reconciler_failure_destination(),
        "ReconcilerDestinationPolicy": _reconciler_destination_policy(),
        **_optional_lambda_policies(),
    }


def _harden_lambdas(resources_: dict[str, Any]) -> None:
    concurrency = {"ApiFunction": "ApiReservedConcurrency", "ReconcilerFunction": "ReconcilerReservedConcurrency"}
    for logical, parameter in concurrency.items():
        function = resources_[logical]
        function["Properties"] |= {
            "ReservedConcurrentExecutions": ref(parameter),
            "TracingConfig": {"Mode": _if(TRACING, "Active", "PassThrough")},
            "KmsKeyArn": _if(HAS_CUSTOMER_KEY, ref("KmsKeyArn"), NO_VALUE),
        }
        _skip(
            function,
            CKV_AWS_117="No VPC: the functions call only AWS APIs (DynamoDB, Identity Center, Step Functions, "
            "SNS, Secrets Manager) and hold no network-reachable resources; a VPC would add NAT or six endpoints.",
            CKV_AWS_173="The environment holds names and ARNs only, no secrets (the HMAC keys are in Secrets "
            "Manager); Lambda encrypts it at rest, with KmsKeyArn when given.",
        )
    _skip(
        resources_["ApiFunction"],
        CKV_AWS_116="jit-api is invoked synchronously (API Gateway proxy, Step Functions tasks): the caller "
        "sees the error and retries; a dead-letter queue applies to asynchronous invocations only.",
    )
    _skip(
        resources_["ReconcilerFunction"],
        CKV_AWS_116="Asynchronous failures go to an on-failure destination (ReconcilerInvokeConfig -> "
        "jit-reconciler-failures), which carries more context than a dead-letter queue.",
    )
    for group in ("ApiLogGroup", "ReconcilerLogGroup"):
        resources_[group]["Properties"]["KmsKeyId"] = _if(HAS_CUSTOMER_KEY, ref("KmsKeyArn"), NO_VALUE)


def _harden_api(resources_: dict[str, Any]) -> None:
    stage = resources_["ApiStage"]
    stage["Properties"] |= {
        "TracingEnabled": _if(TRACING, True, False),
        "AccessLogSetting": {"DestinationArn": getatt("ApiAccessLogGroup", "Arn"), "Format": ACCESS_LOG_FORMAT},
    }
    _skip(
        stage,
        CKV_AWS_73="X-Ray tracing is an option (parameter XRayTracing, default off: it costs per trace); "
        "access logs and Lambda logs cover every request without it.",
        CKV_AWS_120="No caching: every request is unique (HMAC-signed with a one-time nonce); a cache would "
        "answer a request with another's response.",
    )
    for method in ("RootMethod", "ProxyMethod"):
        _skip(
            resources_[method],
            CKV_AWS_59="The only caller is the bot, which has no AWS identity; jit-api verifies every "
            "request's HMAC signature, audience, timestamp and nonce before anything else.",
        )
    _skip(
        resources_["HealthMethod"],
        CKV_AWS_59="GET /health is the liveness probe: it reads nothing and answers a constant, and the stage "
        "throttles it to 1 request/s (burst 5).",
    )


def _harden_storage(resources_: dict[str, Any]) -> None:
    for resource in resources_.values():
        if resource["Type"] == "AWS::DynamoDB::Table":
            # SSEEnabled without a key id: the AWS-managed key aws/dynamodb.
            resource["Properties"]["SSESpecification"] = {
                "SSEEnabled": True,
                "SSEType": _if(HAS_CUSTOMER_KEY, "KMS", NO_VALUE),
                "KMSMasterKeyId": _if(HAS_CUSTOMER_KEY, ref("KmsKeyArn"), NO_VALUE),
            }
    resources_["KeysetSecret"]["Properties"]["KmsKeyId"] = _if(HAS_CUSTOMER_KEY, ref("KmsKeyArn"), NO_VALUE)
    resources_["EventsTopic"]["Properties"]["KmsMasterKeyId"] = _if(HAS_CUSTOMER_KEY, ref("KmsKeyArn"), "alias/aws/sns")
    for topic in ("AlarmsTopic", "FallbackTopic"):
        resources_[topic]["Properties"]["KmsMasterKeyId"] = _if(
            HAS_CUSTOMER_KEY, ref("KmsKeyArn"), getatt("AlarmTopicsKey", "Arn")
        )
    # SNS cannot write to a queue under the AWS-managed SQS key: SQS-managed encryption by default.
    resources_["DeliveryDeadLetterQueue"]["Properties"] |= {
        "KmsMasterKeyId": _if(HAS_CUSTOMER_KEY, ref("KmsKeyArn"), NO_VALUE),
        "SqsManagedSseEnabled": _if(HAS_CUSTOMER_KEY, NO_VALUE, True),
    }


def harden(resources_: dict[str, Any]) -> dict[str, Any]:
    """Add the scanner's asks to the resources built above (kept apart so they stay reviewable)."""
    resources_ |= security_resources()
    _harden_lambdas(resources_)
    _harden_api(resources_)
    _harden_storage(resources_)
    return resources_


def outputs() -> dict[str, Any]:
    return {
        "ApiUrl": {"Value": sub("https://${RestApi}.execute-api.${AWS::Region}.amazonaws.com/${StageName}")},
        "Audience": {"Value": ref("Audience")},
        "KeysetSecretId": {"Value": ref("KeysetSecretName")},
        "StateMachineArn": {"Value": STATE_MACHINE_ARN},
        "EventsTopicArn": {"Value": ref("EventsTopic")},
        "AlarmsTopicArn": {"Value": ref("AlarmsTopic")},
        "FallbackTopicArn": {"Value": ref("FallbackTopic")},
        "IdentityCenterInstanceArn": {"Value": ref("IdentityCenterInstanceArn")},
        "IdentityStoreId": {"Value": ref("IdentityStoreId")},
    }


def build_template() -> dict[str, Any]:
    resources_: dict[str, Any] = {
        **dynamodb_tables(),
        **lambdas(),
        **state_machine(),
        **api_gateway(),
        **messaging(),
        **cloudformation_resources(
            topic_arn_ref=ref("AlarmsTopic"),
            state_machine_arn_ref=STATE_MACHINE_ARN,
            api_name=DEFAULT_API_NAME,
            extra_actions=runbook_alarm_extra_actions(),
        ),
        **watchdog(),
    }
    harden(resources_)
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "JIT access for Mattermost: API, workflow, reconciler, events and alarms (generated)",
        "Parameters": {**parameters(), **watchdog_parameters(), **security_parameters()},
        "Conditions": {**conditions(), **watchdog_conditions(), **security_conditions()},
        "Resources": resources_,
        "Outputs": outputs(),
    }


HEADER = "# GENERATED by `python -m infra.template_builder > infra/template.yaml`; do not edit by hand.\n"


class _NoAliasDumper(yaml.SafeDumper):
    """CloudFormation rejects YAML anchors/aliases: write shared values out in full."""

    def ignore_aliases(self, data: Any) -> bool:  # noqa: ARG002 - every value, whatever it is
        return True


def render() -> str:
    body = yaml.dump(build_template(), Dumper=_NoAliasDumper, sort_keys=False, width=120, allow_unicode=True)
    return HEADER + body


if __name__ == "__main__":
    sys.stdout.write(render())
