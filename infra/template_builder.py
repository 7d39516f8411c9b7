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

from alarms.catalogue import API_FUNCTION_NAME, DEFAULT_API_NAME, RECONCILER_FUNCTION_NAME, cloudformation_resources
from backend.adapters import tables
from backend.names import ALARMS_TOPIC_NAME, EVENTS_TOPIC_NAME, KEYSET_SECRET_NAME, STATE_MACHINE_NAME

SCHEDULE = "rate(15 minutes)"
RUNTIME = "python3.12"

# Which DynamoDB actions each Lambda needs, per table. jit_audit is append-only: PutItem, never
# UpdateItem or DeleteItem (the code adds attribute_not_exists so it cannot overwrite either).
_READ = ["dynamodb:GetItem", "dynamodb:Query"]
API_TABLE_ACTIONS: dict[str, list[str]] = {
    tables.REQUESTS: [*_READ, "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"],
    tables.AUDIT: [*_READ, "dynamodb:PutItem"],
    tables.ASSIGNMENTS: [*_READ, "dynamodb:UpdateItem", "dynamodb:Scan"],
    tables.NONCES: ["dynamodb:PutItem"],
    tables.OUTBOX: ["dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Scan"],
    tables.CONFIG: [*_READ, "dynamodb:PutItem"],
    tables.BUDGET: ["dynamodb:UpdateItem"],
}
RECONCILER_TABLE_ACTIONS: dict[str, list[str]] = {
    name: actions for name, actions in API_TABLE_ACTIONS.items() if name != tables.NONCES
}
ASSIGNMENT_WRITE_ACTIONS = ["sso:CreateAccountAssignment", "sso:DeleteAccountAssignment"]


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
    return [
        {
            "Sid": "AssignManagedPermissionSetsOnly",
            "Effect": "Allow",
            "Action": ASSIGNMENT_WRITE_ACTIONS,
            # [instance ARN, *managed permission set ARNs]: a list parameter cannot be concatenated directly.
            "Resource": {
                "Fn::Split": [
                    ",",
                    {
                        "Fn::Join": [
                            ",",
                            [ref("IdentityCenterInstanceArn"), {"Fn::Join": [",", ref("ManagedPermissionSetArns")]}],
                        ]
                    },
                ]
            },
        },
        {
            "Sid": "AssignInManagedAccountsOnly",
            "Effect": "Allow",
            "Action": ASSIGNMENT_WRITE_ACTIONS,
            "Resource": accounts,
        },
        {
            "Sid": "ReadAssignments",
            "Effect": "Allow",
            "Action": [
                "sso:DescribeAccountAssignmentCreationStatus",
                "sso:DescribeAccountAssignmentDeletionStatus",
                "sso:DescribePermissionSet",
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
            "POWERTOOLS_METRICS_NAMESPACE": "JIT/Access",
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
        "ApiFunction": _function(
            API_FUNCTION_NAME, "backend.handlers.api.lambda_handler", "ApiFunctionRole", "ApiLogGroup", 60
        ),
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
                                    "Resource": _function_arn(API_FUNCTION_NAME),
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
                "DefinitionString": {"Fn::Sub": [definition, {"JitApiFunctionArn": getatt("ApiFunction", "Arn")}]},
            },
        },
    }


def api_gateway() -> dict[str, Any]:
    integration = {
        "Type": "AWS_PROXY",
        "IntegrationHttpMethod": "POST",
        "Uri": sub(
            "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
            "${ApiFunction.Arn}/invocations"
        ),
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

    return {
        "RestApi": {
            "Type": "AWS::ApiGateway::RestApi",
            "Properties": {
                "Name": DEFAULT_API_NAME,
                "EndpointConfiguration": {"Types": ["REGIONAL"]},
                "MinimumCompressionSize": 1024,
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
        "ApiDeployment": {
            "Type": "AWS::ApiGateway::Deployment",
            "DependsOn": ["RootMethod", "ProxyMethod"],
            "Properties": {"RestApiId": ref("RestApi")},
        },
        "ApiStage": {
            "Type": "AWS::ApiGateway::Stage",
            "Properties": {
                "RestApiId": ref("RestApi"),
                "DeploymentId": ref("ApiDeployment"),
                "StageName": ref("StageName"),
                "MethodSettings": [
                    {"ResourcePath": "/*", "HttpMethod": "*", "ThrottlingBurstLimit": 50, "ThrottlingRateLimit": 20}
                ],
            },
        },
        "ApiInvokePermission": {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "Action": "lambda:InvokeFunction",
                "FunctionName": ref("ApiFunction"),
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


def messaging() -> dict[str, Any]:
    return {
        "EventsTopic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": EVENTS_TOPIC_NAME}},
        "AlarmsTopic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": ALARMS_TOPIC_NAME}},
        "DeliveryDeadLetterQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": "jit-sns-delivery-dlq",
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


def outputs() -> dict[str, Any]:
    return {
        "ApiUrl": {"Value": sub("https://${RestApi}.execute-api.${AWS::Region}.amazonaws.com/${StageName}")},
        "Audience": {"Value": ref("Audience")},
        "KeysetSecretId": {"Value": ref("KeysetSecretName")},
        "StateMachineArn": {"Value": STATE_MACHINE_ARN},
        "EventsTopicArn": {"Value": ref("EventsTopic")},
        "AlarmsTopicArn": {"Value": ref("AlarmsTopic")},
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
            topic_arn_ref=ref("AlarmsTopic"), state_machine_arn_ref=STATE_MACHINE_ARN, api_name=DEFAULT_API_NAME
        ),
    }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "JIT access for Mattermost: API, workflow, reconciler, events and alarms (generated)",
        "Parameters": parameters(),
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
