"""The CloudFormation template: generated from the code, cfn-lint clean, least privilege, and deployable on moto."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from alarms.catalogue import BOT_UNREACHABLE, CATALOGUE, WATCHDOG, cloudformation_resources, logical_id
from backend.adapters import tables
from backend.workflow.definition import load_definition
from infra import template_builder
from jitadmin.context import STACK_OUTPUTS, settings_from_outputs

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "infra" / "template.yaml"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return yaml.safe_load(TEMPLATE_PATH.read_text(encoding="utf-8"))


def _of_type(template: dict[str, Any], type_: str) -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def test_committed_template_is_the_generated_one():
    assert TEMPLATE_PATH.read_text(encoding="utf-8") == template_builder.render(), (
        "infra/template.yaml is stale: run `.venv/bin/python -m infra.template_builder > infra/template.yaml`"
    )


def test_cfn_lint_is_clean():
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run([str(cfn_lint), str(TEMPLATE_PATH)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_alarms_are_exactly_the_catalogue(template):
    to_fallback_if_asked = {
        "Fn::If": ["RunbookAlarmsToFallbackEnabled", {"Ref": "FallbackTopic"}, {"Ref": "AWS::NoValue"}]
    }
    expected = cloudformation_resources(
        topic_arn_ref={"Ref": "AlarmsTopic"},
        state_machine_arn_ref=template_builder.STATE_MACHINE_ARN,
        api_name="jit-api",
        extra_actions=(to_fallback_if_asked,),
    )
    watchdog = cloudformation_resources(
        topic_arn_ref={"Ref": "FallbackTopic"},
        state_machine_arn_ref=template_builder.STATE_MACHINE_ARN,
        definitions=WATCHDOG,
    )
    assert _of_type(template, "AWS::CloudWatch::Alarm") == expected | watchdog
    assert sorted(a["Properties"]["AlarmName"] for a in expected.values()) == sorted(d.name for d in CATALOGUE)
    assert template["Conditions"]["RunbookAlarmsToFallbackEnabled"] == {
        "Fn::Equals": [{"Ref": "RunbookAlarmsToFallback"}, "true"]
    }
    assert template["Parameters"]["RunbookAlarmsToFallback"]["Default"] == "false"


def test_bot_unreachable_notifies_only_the_fallback_topic_which_never_reaches_the_bot(template):
    alarm = template["Resources"][logical_id(BOT_UNREACHABLE)]["Properties"]
    assert alarm["AlarmName"] == "JIT-BotUnreachable"
    assert alarm["AlarmActions"] == alarm["OKActions"] == [{"Ref": "FallbackTopic"}]
    assert template["Resources"]["FallbackTopic"]["Properties"]["TopicName"] == "jit-alarms-fallback"
    fallback_subscriptions = [
        s["Properties"]
        for s in _of_type(template, "AWS::SNS::Subscription").values()
        if s["Properties"]["TopicArn"] == {"Ref": "FallbackTopic"}
    ]
    assert fallback_subscriptions == [
        {
            "TopicArn": {"Ref": "FallbackTopic"},
            "Protocol": {"Ref": "FallbackProtocol"},
            "Endpoint": {"Ref": "FallbackEndpoint"},
        }
    ]
    assert template["Parameters"]["FallbackProtocol"]["AllowedValues"] == ["email", "https"]
    assert "Default" not in template["Parameters"]["FallbackEndpoint"]  # the deployer must name a person or pager
    # The alarm watches what the bot's subscriptions and their dead-letter queue report.
    watched = {
        (
            q["MetricStat"]["Metric"]["Namespace"],
            q["MetricStat"]["Metric"]["MetricName"],
            q["MetricStat"]["Metric"]["Dimensions"][0]["Value"],
        )
        for q in alarm["Metrics"]
        if "MetricStat" in q
    }
    dlq_name = template["Resources"]["DeliveryDeadLetterQueue"]["Properties"]["QueueName"]
    bot_topics = {
        template["Resources"][s["Properties"]["TopicArn"]["Ref"]]["Properties"]["TopicName"]
        for s in _of_type(template, "AWS::SNS::Subscription").values()
        if s["Properties"]["Endpoint"] == {"Fn::Sub": "${BotBaseUrl}/sns"}
    }
    assert bot_topics == {"jit-events", "jit-alarms"}
    assert watched == {
        *(("AWS/SNS", "NumberOfNotificationsFailed", topic) for topic in bot_topics),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", dlq_name),
    }


def test_tables_and_indexes_have_exactly_the_codes_names(template):
    found = {t["Properties"]["TableName"]: t["Properties"] for t in _of_type(template, "AWS::DynamoDB::Table").values()}
    assert set(found) == set(tables.TABLE_DEFINITIONS)
    for name, props in found.items():
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["KeySchema"] == tables.TABLE_DEFINITIONS[name]["KeySchema"]
        assert props.get("GlobalSecondaryIndexes") == tables.TABLE_DEFINITIONS[name].get("GlobalSecondaryIndexes")
    indexes = {i["IndexName"] for i in found[tables.REQUESTS]["GlobalSecondaryIndexes"]}
    assert {"gsi_status_endtime", "gsi_status_created", "gsi_requester", "gsi_session_deny"} == indexes
    assert found[tables.NONCES]["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_log_groups_schedule_topics_and_subscriptions(template):
    groups = {g["Properties"]["LogGroupName"]: g for g in _of_type(template, "AWS::Logs::LogGroup").values()}
    assert set(groups) == {"/aws/lambda/jit-api", "/aws/lambda/jit-reconciler", "/aws/apigateway/jit-api/access"}
    assert all(g["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"} for g in groups.values())
    (rule,) = _of_type(template, "AWS::Events::Rule").values()
    assert rule["Properties"]["ScheduleExpression"] == "rate(15 minutes)"
    topics = {t["Properties"]["TopicName"] for t in _of_type(template, "AWS::SNS::Topic").values()}
    assert topics == {"jit-events", "jit-alarms", "jit-alarms-fallback"}
    subscriptions = [
        s for s in _of_type(template, "AWS::SNS::Subscription").values() if s["Properties"]["Protocol"] == "https"
    ]
    assert sorted(s["Properties"]["TopicArn"]["Ref"] for s in subscriptions) == ["AlarmsTopic", "EventsTopic"]
    for subscription in subscriptions:
        props = subscription["Properties"]
        assert props["Protocol"] == "https"
        assert props["Endpoint"] == {"Fn::Sub": "${BotBaseUrl}/sns"}
        assert props["DeliveryPolicy"]["healthyRetryPolicy"]["numRetries"] > 0
        assert props["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["DeliveryDeadLetterQueue", "Arn"]}


def test_state_machine_is_the_repos_asl_file(template):
    props = _with_snapstart(template, on=False)["Resources"]["StateMachine"]["Properties"]
    text, variables = props["DefinitionString"]["Fn::Sub"]
    assert variables == {"JitApiFunctionArn": {"Fn::GetAtt": ["ApiFunction", "Arn"]}}
    assert text.replace("${JitApiFunctionArn}", "arn:x") == load_definition("arn:x")


def _lambda_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for name in ("ApiFunctionRole", "ReconcilerFunctionRole"):
        for policy in template["Resources"][name]["Properties"]["Policies"]:
            statements.extend(policy["PolicyDocument"]["Statement"])
    return statements


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def test_no_lambda_statement_allows_everything(template):
    for statement in _lambda_statements(template):
        assert statement["Resource"] != "*", statement
        assert not any(a.endswith(":*") or a == "*" for a in _actions(statement)), statement


def test_assignment_writes_are_scoped_to_the_managed_permission_sets_and_accounts(template):
    writes = [
        s
        for s in _lambda_statements(template)
        if any("AccountAssignment" in a and not a.startswith(("sso:Describe", "sso:List")) for a in _actions(s))
    ]
    assert len(writes) == 4  # two statements per function
    dumped = [json.dumps(s["Resource"]) for s in writes]
    assert all('"*"' not in d for d in dumped)
    assert sum('"ManagedPermissionSetArns"' in d for d in dumped) == 2
    assert sum('"ManagedAccountIds"' in d for d in dumped) == 2


def test_the_audit_table_is_append_only_for_the_lambdas(template):
    audit_arn = json.dumps(template_builder._table_arn(tables.AUDIT))
    audit = [s for s in _lambda_statements(template) if audit_arn in json.dumps(s["Resource"])]
    assert len(audit) == 2
    for statement in audit:
        # Scan reads the whole trail for GET /audit/report; nothing may update or delete.
        assert set(_actions(statement)) == {"dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"}


def _lambda_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("backend/__init__.py", "")
    return buffer.getvalue()


@pytest.mark.filterwarnings("ignore:Tried to parse")
def test_moto_deploys_the_supported_part(stack):
    """moto skips alarms, the secret, subscriptions and the API stage; everything else must be made."""
    import boto3

    session = boto3.Session(region_name=stack.settings.region)
    client = {n: session.client(n, endpoint_url=stack.moto_url) for n in ("s3", "cloudformation", "lambda", "events")}
    # The stack fixture provisioned the same names; make room (the next test's reset re-provisions).
    for name in tables.TABLE_DEFINITIONS:
        stack.clients.dynamodb.delete_table(TableName=name)
    stack.clients.stepfunctions.delete_state_machine(stateMachineArn=stack.provisioned.state_machine_arn)
    stack.sqs.delete_queue(QueueUrl=stack.provisioned.delivery_dlq_url)
    client["s3"].create_bucket(
        Bucket="jit-code", CreateBucketConfiguration={"LocationConstraint": stack.settings.region}
    )
    client["s3"].put_object(Bucket="jit-code", Key="jit.zip", Body=_lambda_zip())
    parameters = {
        "Audience": "jit-test",
        "BotBaseUrl": "https://bot.example.com",
        "IdentityCenterInstanceArn": stack.provisioned.instance_arn,
        "IdentityStoreId": stack.provisioned.identity_store_id,
        "ManagedPermissionSetArns": ",".join(stack.provisioned.permission_set_arns.values()),
        "ManagedAccountIds": "111111111111,222222222222",
        "CodeBucket": "jit-code",
        "CodeKey": "jit.zip",
        "FallbackEndpoint": "oncall@example.com",
    }
    client["cloudformation"].create_stack(
        StackName="jit-access",
        TemplateBody=TEMPLATE_PATH.read_text(encoding="utf-8"),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    described = client["cloudformation"].describe_stacks(StackName="jit-access")["Stacks"][0]
    assert described["StackStatus"] == "CREATE_COMPLETE"

    for name, definition in tables.TABLE_DEFINITIONS.items():
        table = stack.clients.dynamodb.describe_table(TableName=name)["Table"]
        assert table["KeySchema"] == definition["KeySchema"]
        made = {i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])}
        assert made == {i["IndexName"] for i in definition.get("GlobalSecondaryIndexes", [])}
    for function in ("jit-api", "jit-reconciler"):
        config = client["lambda"].get_function(FunctionName=function)["Configuration"]
        env = config["Environment"]["Variables"]
        assert env["JIT_AUDIENCE"] == "jit-test"
        assert env["JIT_STATE_MACHINE_ARN"].endswith(":stateMachine:jit-access")
        assert env["JIT_KEYSET_SECRET_ID"] == "jit/hmac-keyset"
    resources = client["cloudformation"].list_stack_resources(StackName="jit-access")["StackResourceSummaries"]
    machine_arn = next(r["PhysicalResourceId"] for r in resources if r["LogicalResourceId"] == "StateMachine")
    # moto's CloudFormation writes to its plain Step Functions backend, not the executing one the
    # local stack's API serves, so look there (same process: the server is threaded).
    from moto.stepfunctions.models import stepfunctions_backends

    made = stepfunctions_backends["123456789012"][stack.settings.region].describe_state_machine(machine_arn)
    definition = json.loads(made.definition)
    assert definition["States"]["Grant"]["Resource"] == "arn:aws:lambda:eu-central-1:123456789012:function:jit-api"
    expected = load_definition("arn:aws:lambda:eu-central-1:123456789012:function:jit-api")
    # moto's Fn::Sub runs Python's string.Template, which reads "$$" as an escaped "$"; CloudFormation
    # substitutes only ${...}, so AWS keeps the context-object paths ("$$.Execution.Name") as written.
    assert definition == json.loads(expected.replace('"$$.', '"$.'))
    topics = {t["TopicArn"].rsplit(":", 1)[-1] for t in stack.clients.sns.list_topics()["Topics"]}
    assert {"jit-events", "jit-alarms", "jit-alarms-fallback"} <= topics
    rule = client["events"].describe_rule(Name="jit-reconciler-schedule")
    assert rule["ScheduleExpression"] == "rate(15 minutes)"

    outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
    assert set(STACK_OUTPUTS) <= set(outputs)  # `jit-admin --stack` finds its settings here
    settings = settings_from_outputs(outputs, stack.settings.region)
    assert settings.state_machine_arn == machine_arn


def _statements(template: dict[str, Any], topic: str) -> list[dict[str, Any]]:
    [policy] = [
        p for p in _of_type(template, "AWS::SNS::TopicPolicy").values() if p["Properties"]["Topics"] == [{"Ref": topic}]
    ]
    return list(policy["Properties"]["PolicyDocument"]["Statement"])


LAMBDA_ROLES = [{"Fn::GetAtt": ["ApiFunctionRole", "Arn"]}, {"Fn::GetAtt": ["ReconcilerFunctionRole", "Arn"]}]


def test_only_the_two_lambdas_may_publish_lifecycle_events(template):
    statements = {s["Sid"]: s for s in _statements(template, "EventsTopic")}
    deny = statements["OnlyTheLambdasPublish"]
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "sns:Publish")
    assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": LAMBDA_ROLES}}
    assert statements["LambdasPublish"]["Principal"] == {"AWS": LAMBDA_ROLES}


def test_only_cloudwatch_of_this_account_may_publish_alarms(template):
    statements = {s["Sid"]: s for s in _statements(template, "AlarmsTopic")}
    deny = statements["OnlyCloudWatchPublishes"]
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "sns:Publish")
    assert deny["Condition"] == {"StringNotEquals": {"aws:PrincipalServiceName": "cloudwatch.amazonaws.com"}}
    allow = statements["CloudWatchOfThisAccountPublishes"]
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert allow["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


@pytest.mark.parametrize("topic", ["EventsTopic", "AlarmsTopic"])
def test_only_the_bots_https_endpoint_may_subscribe(template, topic):
    denies = [s for s in _statements(template, topic) if s["Action"] == "sns:Subscribe"]
    assert all(s["Effect"] == "Deny" and s["Principal"] == "*" for s in denies)
    conditions = [s["Condition"]["StringNotEquals"] for s in denies]
    assert {"sns:Endpoint": {"Fn::Sub": "${BotBaseUrl}/sns"}} in conditions
    assert {"sns:Protocol": "https"} in conditions


def test_unsigned_paths_have_their_own_low_throttle_and_the_api_can_be_fenced(template):
    resources = template["Resources"]
    settings = {(m["ResourcePath"], m["HttpMethod"]): m for m in resources["ApiStage"]["Properties"]["MethodSettings"]}
    assert settings[("/*", "*")]["ThrottlingRateLimit"] == 20
    for unsigned in (("/~1health", "GET"), ("/", "*")):
        assert settings[unsigned]["ThrottlingRateLimit"] < settings[("/*", "*")]["ThrottlingRateLimit"]
        assert settings[unsigned]["ThrottlingBurstLimit"] < settings[("/*", "*")]["ThrottlingBurstLimit"]
    assert resources["HealthResource"]["Properties"]["PathPart"] == "health"
    # Optional fences, off by default: a source-address resource policy and a WAF web ACL.
    assert template["Parameters"]["ApiAllowedSourceCidrs"]["Default"] == ""
    assert template["Parameters"]["ApiWebAclArn"]["Default"] == ""
    policy = resources["RestApi"]["Properties"]["Policy"]["Fn::If"]
    assert policy[0] == "HasApiSourceCidrs"
    assert policy[2] == {"Ref": "AWS::NoValue"}
    [deny] = [s for s in policy[1]["Statement"] if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"NotIpAddress": {"aws:SourceIp": {"Ref": "ApiAllowedSourceCidrs"}}}
    association = resources["ApiWebAclAssociation"]
    assert association["Condition"] == "HasApiWebAcl"
    assert association["Properties"]["WebACLArn"] == {"Ref": "ApiWebAclArn"}


def _with_snapstart(template: dict[str, Any], on: bool) -> dict[str, Any]:
    """The template as CloudFormation sees it with ApiSnapStart=true/false (only that condition resolved)."""

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if list(node) == ["Fn::If"] and node["Fn::If"][0] == "ApiSnapStartOn":
                return resolve(node["Fn::If"][1 if on else 2])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node if item != {"Ref": "AWS::NoValue"}]
        return node

    wanted = {"ApiSnapStartOn": on, "ApiSnapStartOff": not on}
    resources = {
        name: resource
        for name, resource in template["Resources"].items()
        if wanted.get(resource.get("Condition", ""), True)
    }
    return dict(resolve({**template, "Resources": resources}))


def _api_callers(template: dict[str, Any]) -> dict[str, Any]:
    """What API Gateway, its invoke permission, the stage and the state machine point at."""
    resources = template["Resources"]
    methods = _of_type(template, "AWS::ApiGateway::Method")
    return {
        "integrations": {json.dumps(m["Properties"]["Integration"]["Uri"]["Fn::Sub"][1]) for m in methods.values()},
        "permission": resources["ApiInvokePermission"]["Properties"]["FunctionName"],
        "deployment": resources["ApiStage"]["Properties"]["DeploymentId"],
        "workflow": resources["StateMachine"]["Properties"]["DefinitionString"]["Fn::Sub"][1]["JitApiFunctionArn"],
        "snapstart": resources["ApiFunction"]["Properties"]["SnapStart"]["ApplyOn"],
    }


def test_snapstart_is_off_by_default_and_callers_invoke_the_function(template):
    assert template["Parameters"]["ApiSnapStart"]["Default"] == "false"
    off = _with_snapstart(template, on=False)
    assert not _of_type(off, "AWS::Lambda::Version") and not _of_type(off, "AWS::Lambda::Alias")
    assert _api_callers(off) == {
        "integrations": {json.dumps({"Target": {"Fn::GetAtt": ["ApiFunction", "Arn"]}})},
        "permission": {"Ref": "ApiFunction"},
        "deployment": {"Ref": "ApiDeployment"},
        "workflow": {"Fn::GetAtt": ["ApiFunction", "Arn"]},
        "snapstart": "None",
    }


def test_snapstart_on_publishes_a_version_and_every_caller_invokes_its_alias(template):
    on = _with_snapstart(template, on=True)
    [version] = _of_type(on, "AWS::Lambda::Version").values()
    [alias] = _of_type(on, "AWS::Lambda::Alias").values()
    # A new code key (content-hashed by infra/deploy.sh) replaces the version: new code is snapshotted.
    assert version["Properties"]["Description"] == {"Fn::Sub": "jit-api code ${CodeKey}"}
    assert alias["Properties"]["FunctionVersion"] == {"Fn::GetAtt": ["ApiFunctionVersion", "Version"]}
    assert _api_callers(on) == {
        "integrations": {json.dumps({"Target": {"Ref": "ApiFunctionLiveAlias"}})},
        "permission": {"Ref": "ApiFunctionLiveAlias"},
        "deployment": {"Ref": "ApiDeploymentViaAlias"},
        "workflow": {"Ref": "ApiFunctionLiveAlias"},
        "snapstart": "PublishedVersions",
    }
    invoke = on["Resources"]["WorkflowRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][0]
    assert {"Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:jit-api:live"} in (
        invoke["Resource"]
    )
