"""What the IaC scanner (checkov, `make scan` in `make test`) asks of the template, and every skip's reason.

`make scan` runs checkov itself on infra/template.yaml; these tests pin the fixes it relies on and
keep each skipped check deliberate and explained.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
IF_KEY = "CustomerManagedKeyGiven"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "infra" / "template.yaml").read_text(encoding="utf-8"))


def _resources(template: dict[str, Any]) -> dict[str, Any]:
    return template["Resources"]


def _if(condition: str, then: Any, otherwise: Any) -> dict[str, Any]:
    return {"Fn::If": [condition, then, otherwise]}


NO_VALUE = {"Ref": "AWS::NoValue"}
CUSTOMER_KEY = _if(IF_KEY, {"Ref": "KmsKeyArn"}, NO_VALUE)

# Every skip, by resource: what the scanner asks that does not apply here (the reason is in the template).
EXPECTED_SKIPS = {
    "ApiFunction": {"CKV_AWS_117", "CKV_AWS_173", "CKV_AWS_116"},
    "ReconcilerFunction": {"CKV_AWS_117", "CKV_AWS_173", "CKV_AWS_116"},
    "ApiStage": {"CKV_AWS_73", "CKV_AWS_120"},
    "RootMethod": {"CKV_AWS_59"},
    "ProxyMethod": {"CKV_AWS_59"},
    "HealthMethod": {"CKV_AWS_59"},
}


def test_every_skip_is_expected_and_explained(template):
    found: dict[str, set[str]] = {}
    for name, resource in _resources(template).items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert skip["id"].startswith("CKV_AWS_"), skip
            assert len(skip["comment"]) >= 60, f"{name} {skip['id']}: say why the check does not apply"
            found.setdefault(name, set()).add(skip["id"])
    assert found == EXPECTED_SKIPS


def test_api_access_logs_go_to_a_log_group_with_the_retention_parameter(template):
    resources = _resources(template)
    stage = resources["ApiStage"]["Properties"]
    assert stage["AccessLogSetting"]["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    assert '"status":"$context.status"' in stage["AccessLogSetting"]["Format"]
    group = resources["ApiAccessLogGroup"]["Properties"]
    assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert group["KmsKeyId"] == CUSTOMER_KEY
    # API Gateway writes logs only with the account-wide CloudWatch role; created unless one exists.
    assert resources["ApiGatewayAccount"]["Condition"] == "CreateApiGatewayLoggingRole"
    assert template["Parameters"]["ApiGatewayAccountLogging"]["AllowedValues"] == ["create", "existing"]


def test_xray_tracing_is_an_option_for_the_stage_and_both_lambdas(template):
    resources = _resources(template)
    assert template["Parameters"]["XRayTracing"]["AllowedValues"] == ["false", "true"]
    assert resources["ApiStage"]["Properties"]["TracingEnabled"] == _if("XRayTracingEnabled", True, False)
    for name in ("ApiFunction", "ReconcilerFunction"):
        assert resources[name]["Properties"]["TracingConfig"] == {
            "Mode": _if("XRayTracingEnabled", "Active", "PassThrough")
        }
    tracing = resources["LambdaTracingPolicy"]
    assert tracing["Condition"] == "XRayTracingEnabled"
    assert tracing["Properties"]["Roles"] == [{"Ref": "ApiFunctionRole"}, {"Ref": "ReconcilerFunctionRole"}]


def test_both_lambdas_have_reserved_concurrency_parameters(template):
    resources = _resources(template)
    assert resources["ApiFunction"]["Properties"]["ReservedConcurrentExecutions"] == {"Ref": "ApiReservedConcurrency"}
    assert resources["ReconcilerFunction"]["Properties"]["ReservedConcurrentExecutions"] == {
        "Ref": "ReconcilerReservedConcurrency"
    }
    assert template["Parameters"]["ReconcilerReservedConcurrency"]["MaxValue"] == 1  # runs never overlap


def test_topics_and_queues_are_encrypted_at_rest(template):
    resources = _resources(template)
    assert resources["EventsTopic"]["Properties"]["KmsMasterKeyId"] == _if(
        IF_KEY, {"Ref": "KmsKeyArn"}, "alias/aws/sns"
    )
    # CloudWatch alarms cannot publish under the AWS-managed SNS key: the alarm topics use a key it may use.
    for topic in ("AlarmsTopic", "FallbackTopic"):
        assert resources[topic]["Properties"]["KmsMasterKeyId"] == _if(
            IF_KEY, {"Ref": "KmsKeyArn"}, {"Fn::GetAtt": ["AlarmTopicsKey", "Arn"]}
        )
    key = resources["AlarmTopicsKey"]
    assert key["Condition"] == "NoCustomerManagedKey"
    assert key["Properties"]["EnableKeyRotation"] is True
    cloudwatch = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert cloudwatch and set(cloudwatch[0]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    for queue in ("DeliveryDeadLetterQueue", "ReconcilerFailureQueue"):
        props = resources[queue]["Properties"]
        assert props["KmsMasterKeyId"] == CUSTOMER_KEY
        assert props["SqsManagedSseEnabled"] == _if(IF_KEY, NO_VALUE, True)


def test_tables_secret_and_logs_take_the_customer_key_when_given(template):
    resources = _resources(template)
    tables = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::DynamoDB::Table"]
    assert len(tables) >= 6
    for props in tables:
        assert props["SSESpecification"] == {
            "SSEEnabled": True,
            "SSEType": _if(IF_KEY, "KMS", NO_VALUE),
            "KMSMasterKeyId": CUSTOMER_KEY,
        }
    assert resources["KeysetSecret"]["Properties"]["KmsKeyId"] == CUSTOMER_KEY
    for group in ("ApiLogGroup", "ReconcilerLogGroup"):
        assert resources[group]["Properties"]["KmsKeyId"] == CUSTOMER_KEY
    for name in ("ApiFunction", "ReconcilerFunction"):
        assert resources[name]["Properties"]["KmsKeyArn"] == CUSTOMER_KEY
    key_policy = resources["LambdaCustomerKeyPolicy"]
    assert key_policy["Condition"] == IF_KEY
    assert key_policy["Properties"]["PolicyDocument"]["Statement"][0]["Resource"] == {"Ref": "KmsKeyArn"}


def test_the_reconcilers_failed_async_invocations_go_to_an_on_failure_destination(template):
    resources = _resources(template)
    config = resources["ReconcilerInvokeConfig"]["Properties"]
    assert config["FunctionName"] == {"Ref": "ReconcilerFunction"}
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["ReconcilerFailureQueue", "Arn"]}
    policy = resources["ReconcilerDestinationPolicy"]["Properties"]
    assert policy["Roles"] == [{"Ref": "ReconcilerFunctionRole"}]  # the API role may not write there
    assert policy["PolicyDocument"]["Statement"] == [
        {
            "Sid": "ReconcilerFailureDestination",
            "Effect": "Allow",
            "Action": "sqs:SendMessage",
            "Resource": {"Fn::GetAtt": ["ReconcilerFailureQueue", "Arn"]},
        }
    ]
