from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from alarms.catalogue import (
    BOT_UNREACHABLE,
    CATALOGUE,
    CATALOGUE_BY_NAME,
    WATCHDOG,
    AlarmDefinition,
    Dimension,
    MetricMath,
    SingleMetric,
    cloudformation_resources,
    definition_for,
    logical_id,
    to_cloudformation,
    to_put_metric_alarm_kwargs,
)
from alarms.runbook import Runbook, load_runbook, slugify
from jitwire.names import HMAC_AUTH_FAILURES_METRIC
from jitwire.names import METRICS_NAMESPACE as CUSTOM_NAMESPACE

RUNBOOKS = Path(__file__).parents[2] / "docs" / "runbooks"
RUNBOOK = RUNBOOKS / "01-monitoring-alarms.md"
SFN_ARN = "arn:aws:states:eu-central-1:123456789012:stateMachine:jit-grant-revoke"
TOPIC_ARN = "arn:aws:sns:eu-central-1:123456789012:jit-alarms"


@pytest.fixture(scope="module")
def runbook() -> Runbook:
    return load_runbook(RUNBOOK, docs_base_url="https://docs.example.com/runbooks")


def test_catalogue_equals_runbook_index(runbook: Runbook) -> None:
    from_runbook = [(r.name, r.severity, r.metric_text, r.threshold_text, r.anchor) for r in runbook.index]
    from_catalogue = [
        (d.name, d.severity, d.index_metric_text, d.index_threshold_text, d.runbook_anchor) for d in CATALOGUE
    ]
    assert from_catalogue == from_runbook
    assert len(CATALOGUE) == 8


def test_every_alarm_has_its_four_runbook_sections(runbook: Runbook) -> None:
    for defn in CATALOGUE:
        section = runbook.sections[defn.name]
        assert section.anchor == defn.runbook_anchor == slugify(section.name)
        assert section.what_triggered
        assert section.impact
        assert section.investigation
        assert section.resolution


def _threshold_text(defn: AlarmDefinition) -> str:
    """Render the catalogue's numbers the way the runbook index writes them."""
    value = defn.threshold / 1000 if defn.display_unit == "milliseconds" else defn.threshold
    unit = {"percent": "%", "milliseconds": "s", "count": ""}[defn.display_unit]
    return f"> {value:g}{unit} in {defn.period_seconds // 60} min"


@pytest.mark.parametrize("defn", CATALOGUE, ids=lambda d: d.name)
def test_numbers_match_the_index_text(defn: AlarmDefinition) -> None:
    # index_threshold_text is copied from the runbook; this proves threshold and period agree with it.
    assert _threshold_text(defn) == defn.index_threshold_text
    assert defn.comparison == "GreaterThanThreshold"
    assert defn.evaluation_periods == defn.datapoints_to_alarm == 1
    assert defn.treat_missing_data == "notBreaching"


def test_metric_shapes_follow_the_design() -> None:
    by = {d.name: d.metric for d in CATALOGUE}
    hmac = by["JIT-HMACAuthFailures"]
    assert isinstance(hmac, SingleMetric)
    assert (
        (hmac.namespace, hmac.metric_name)
        == (CUSTOM_NAMESPACE, HMAC_AUTH_FAILURES_METRIC)
        == (
            "JIT/Access",
            "HMACAuthFailures",
        )
    )
    duration = by["JIT-LambdaDuration"]
    assert isinstance(duration, SingleMetric)
    assert duration.extended_statistic == "p99"
    for name in ("JIT-LambdaErrorRate", "JIT-API4xxRate", "JIT-API5xxRate"):
        math = by[name]
        assert isinstance(math, MetricMath)
        ids = {i.id for i in math.inputs}
        # every variable the expression uses is an input, and the expression guards against 0 traffic
        assert set(re.findall(r"[a-z][a-zA-Z0-9_]*", math.expression)) - {"IF"} <= ids
        assert math.expression.startswith("IF(")
    assert definition_for("JIT-API5xxRate") is not None
    assert definition_for("nope") is None


def test_dimension_needs_exactly_one_value() -> None:
    with pytest.raises(ValueError, match="either"):
        Dimension(name="X")


def test_cloudformation_properties_shape() -> None:
    topic = {"Ref": "AlarmTopic"}
    sfn = {"Ref": "GrantRevokeStateMachine"}
    props = to_cloudformation(
        CATALOGUE_BY_NAME["JIT-GrantRevokeFailed"],
        topic_arn_ref=topic,
        state_machine_arn_ref=sfn,
    )
    assert props["AlarmActions"] == props["OKActions"] == [topic]
    assert props["Dimensions"] == [{"Name": "StateMachineArn", "Value": sfn}]
    assert props["Statistic"] == "Sum"
    resources = cloudformation_resources(topic_arn_ref=topic, state_machine_arn_ref=sfn, api_name="prod-api")
    assert len(resources) == 8
    assert all(re.fullmatch(r"[A-Za-z0-9]+", lid) for lid in resources)
    rate = resources[logical_id(CATALOGUE_BY_NAME["JIT-API4xxRate"])]["Properties"]
    assert {q["MetricStat"]["Metric"]["Dimensions"][0]["Value"] for q in rate["Metrics"][1:]} == {"prod-api"}


def _normalise(alarm: Mapping[str, Any]) -> dict[str, Any]:
    keys = [
        "AlarmName", "ComparisonOperator", "EvaluationPeriods", "DatapointsToAlarm", "Threshold",
        "TreatMissingData", "AlarmActions", "OKActions", "Namespace", "MetricName", "Period",
        "Statistic", "ExtendedStatistic",
    ]  # fmt: skip
    out = {k: alarm[k] for k in keys if alarm.get(k) not in (None, [])}
    out["Dimensions"] = sorted((d["Name"], d["Value"]) for d in alarm.get("Dimensions", []))
    out["Metrics"] = [
        {
            "Id": q["Id"],
            "Expression": q.get("Expression"),
            "ReturnData": q.get("ReturnData"),
            "Metric": q.get("MetricStat", {}).get("Metric"),
            "Stat": q.get("MetricStat", {}).get("Stat"),
            "Period": q.get("MetricStat", {}).get("Period"),
        }
        for q in alarm.get("Metrics", [])
    ]
    return out


def test_put_metric_alarm_kwargs_round_trip_through_moto() -> None:
    with mock_aws():
        cloudwatch = boto3.client("cloudwatch", region_name="eu-central-1")
        sent: dict[str, dict[str, Any]] = {}
        for defn in CATALOGUE:
            kwargs = to_put_metric_alarm_kwargs(defn, topic_arn=TOPIC_ARN, state_machine_arn=SFN_ARN)
            cloudwatch.put_metric_alarm(**kwargs)
            sent[defn.name] = kwargs
        stored = cloudwatch.describe_alarms()["MetricAlarms"]
    assert {a["AlarmName"] for a in stored} == {d.name for d in CATALOGUE}
    for alarm in stored:
        assert _normalise(alarm) == _normalise(sent[alarm["AlarmName"]])
        assert alarm["AlarmActions"] == alarm["OKActions"] == [TOPIC_ARN]


def test_cloudformation_and_put_metric_alarm_are_the_same_alarm() -> None:
    for defn in CATALOGUE:
        cfn = to_cloudformation(defn, topic_arn_ref=TOPIC_ARN, state_machine_arn_ref=SFN_ARN)
        assert cfn == to_put_metric_alarm_kwargs(defn, topic_arn=TOPIC_ARN, state_machine_arn=SFN_ARN)


# -- JIT-BotUnreachable: runbook 04, and a window the 15-minute heartbeat always fills ----------------


@pytest.fixture(scope="module")
def watchdog_runbook() -> Runbook:
    return load_runbook(RUNBOOKS / "04-bot-unreachable.md", docs_base_url="https://docs.example.com/runbooks")


def test_watchdog_equals_runbook_04_index(watchdog_runbook: Runbook) -> None:
    from_runbook = [(r.name, r.severity, r.metric_text, r.threshold_text, r.anchor) for r in watchdog_runbook.index]
    from_catalogue = [
        (d.name, d.severity, d.index_metric_text, d.index_threshold_text, d.runbook_anchor) for d in WATCHDOG
    ]
    assert (
        from_catalogue
        == from_runbook
        == [
            (
                "JIT-BotUnreachable",
                "High",
                "Failed SNS deliveries to the bot + delivery DLQ depth",
                "> 0 in 2 consecutive 15 min periods",
                "jit-botunreachable",
            )
        ]
    )
    section = watchdog_runbook.sections["JIT-BotUnreachable"]
    assert section.what_triggered and section.impact and section.investigation and section.resolution
    assert all(d.runbook_file == "04-bot-unreachable.md" for d in WATCHDOG)
    assert all(d.runbook_file == "01-monitoring-alarms.md" for d in CATALOGUE)
    assert not {d.name for d in WATCHDOG} & {d.name for d in CATALOGUE}


def test_runbooks_01_to_04_are_covered() -> None:
    names = sorted(p.name[:2] for p in RUNBOOKS.glob("*.md"))
    assert names == ["01", "02", "03", "04"]


def test_bot_unreachable_watches_both_bot_subscriptions_and_the_dlq() -> None:
    from infra import template_builder

    metric = BOT_UNREACHABLE.metric
    assert isinstance(metric, MetricMath)
    watched = {(i.namespace, i.metric_name, i.dimensions[0].value, i.stat) for i in metric.inputs}
    assert watched == {
        ("AWS/SNS", "NumberOfNotificationsFailed", "jit-events", "Sum"),
        ("AWS/SNS", "NumberOfNotificationsFailed", "jit-alarms", "Sum"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "jit-sns-delivery-dlq", "Maximum"),
    }
    # The local check (backend/local/watchdog.py) evaluates exactly this: the sum of every input, 0 if missing.
    assert metric.expression == " + ".join(f"FILL({i.id}, 0)" for i in metric.inputs)
    # Every evaluated period is at least the heartbeat interval, so each one holds a heartbeat delivery.
    heartbeat_seconds = int(re.fullmatch(r"rate\((\d+) minutes\)", template_builder.SCHEDULE).group(1)) * 60
    assert BOT_UNREACHABLE.period_seconds >= heartbeat_seconds
    assert BOT_UNREACHABLE.evaluation_periods == BOT_UNREACHABLE.datapoints_to_alarm == 2
    assert BOT_UNREACHABLE.threshold == 0 and BOT_UNREACHABLE.comparison == "GreaterThanThreshold"
    assert BOT_UNREACHABLE.treat_missing_data == "notBreaching"


def test_bot_unreachable_round_trips_through_moto() -> None:
    fallback = "arn:aws:sns:eu-central-1:123456789012:jit-alarms-fallback"
    kwargs = to_put_metric_alarm_kwargs(BOT_UNREACHABLE, topic_arn=fallback, state_machine_arn=SFN_ARN)
    with mock_aws():
        cloudwatch = boto3.client("cloudwatch", region_name="eu-central-1")
        cloudwatch.put_metric_alarm(**kwargs)
        [stored] = cloudwatch.describe_alarms(AlarmNames=["JIT-BotUnreachable"])["MetricAlarms"]
    assert _normalise(stored) == _normalise(kwargs)
    assert stored["AlarmActions"] == stored["OKActions"] == [fallback]
    assert stored["AlarmDescription"].endswith("Runbook: 04-bot-unreachable.md#jit-botunreachable")
