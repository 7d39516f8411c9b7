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

from alarms.catalogue import CATALOGUE, cloudformation_resources
from backend.adapters import tables
from backend.admin.context import STACK_OUTPUTS, settings_from_outputs
from backend.workflow.definition import load_definition
from infra import template_builder

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
    expected = cloudformation_resources(
        topic_arn_ref={"Ref": "AlarmsTopic"},
        state_machine_arn_ref=template_builder.STATE_MACHINE_ARN,
        api_name="jit-api",
    )
    assert _of_type(template, "AWS::CloudWatch::Alarm") == expected
    assert sorted(a["Properties"]["AlarmName"] for a in expected.values()) == sorted(d.name for d in CATALOGUE)


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
    assert set(groups) == {"/aws/lambda/jit-api", "/aws/lambda/jit-reconciler"}
    assert all(g["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"} for g in groups.values())
    (rule,) = _of_type(template, "AWS::Events::Rule").values()
    assert rule["Properties"]["ScheduleExpression"] == "rate(15 minutes)"
    topics = {t["Properties"]["TopicName"] for t in _of_type(template, "AWS::SNS::Topic").values()}
    assert topics == {"jit-events", "jit-alarms"}
    subscriptions = list(_of_type(template, "AWS::SNS::Subscription").values())
    assert sorted(s["Properties"]["TopicArn"]["Ref"] for s in subscriptions) == ["AlarmsTopic", "EventsTopic"]
    for subscription in subscriptions:
        props = subscription["Properties"]
        assert props["Protocol"] == "https"
        assert props["Endpoint"] == {"Fn::Sub": "${BotBaseUrl}/sns"}
        assert props["DeliveryPolicy"]["healthyRetryPolicy"]["numRetries"] > 0
        assert props["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["DeliveryDeadLetterQueue", "Arn"]}


def test_state_machine_is_the_repos_asl_file(template):
    props = template["Resources"]["StateMachine"]["Properties"]
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
    assert definition == json.loads(load_definition("arn:aws:lambda:eu-central-1:123456789012:function:jit-api"))
    topics = {t["TopicArn"].rsplit(":", 1)[-1] for t in stack.clients.sns.list_topics()["Topics"]}
    assert {"jit-events", "jit-alarms"} <= topics
    rule = client["events"].describe_rule(Name="jit-reconciler-schedule")
    assert rule["ScheduleExpression"] == "rate(15 minutes)"

    outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
    assert set(STACK_OUTPUTS) <= set(outputs)  # `jit-admin --stack` finds its settings here
    settings = settings_from_outputs(outputs, stack.settings.region)
    assert settings.state_machine_arn == machine_arn
