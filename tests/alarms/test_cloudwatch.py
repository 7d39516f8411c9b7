from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from alarms.catalogue import definition_for
from alarms.cloudwatch import describe_reason, latest_datapoint, number, parse_alarm_message
from tests.alarms.conftest import fixture_text


@pytest.mark.parametrize(
    ("fixture", "alarm", "expected"),
    [
        ("jit-lambdaerrorrate.alarm.message.json", "JIT-LambdaErrorRate", "7.3 % > 5 %"),
        ("jit-lambdaerrorrate.ok.message.json", "JIT-LambdaErrorRate", "0.4 % <= 5 %"),
        ("jit-lambdaduration.alarm.message.json", "JIT-LambdaDuration", "p99 12.4 s > 10 s"),
        ("jit-grantrevokefailed.alarm.message.json", "JIT-GrantRevokeFailed", "3 > 0"),
        ("jit-api5xxrate.insufficient-data.message.json", "JIT-API5xxRate", "no data (alarm when value > 1 %)"),
    ],
)
def test_reason_in_units(fixture: str, alarm: str, expected: str) -> None:
    notification = parse_alarm_message(fixture_text(fixture))
    assert describe_reason(notification, definition_for(alarm)) == expected


def test_parses_real_single_metric_sample() -> None:
    n = parse_alarm_message(fixture_text("cloudforet-ec2-cpu-alarm.message.json"))
    assert n.region == "ap-northeast-2"
    assert n.region_name == "Asia Pacific (Seoul)"
    assert n.alarm_description is None
    assert n.trigger.dimensions[0].name == "InstanceId"
    assert n.state_change_time == datetime(2021, 6, 23, 8, 41, 6, 622000, tzinfo=UTC)
    assert describe_reason(n, None) == "17.3 > 15"


def test_parses_real_metric_math_sample() -> None:
    n = parse_alarm_message(fixture_text("aws-lambda-go-metric-math-example.message.json"))
    assert n.trigger.is_metric_math
    assert n.trigger.metrics[0].expression == "m1*1"
    assert n.trigger.all_dimensions() == {"InstanceId": "TestInstance"}
    assert describe_reason(n, None) == "1234 > 0"


def test_extended_statistic_sample_without_percentile() -> None:
    n = parse_alarm_message(fixture_text("skipq-url-latency-alarm.message.json"))
    assert n.region == "us-east-2"
    assert n.trigger.stat_label == "Average"
    assert describe_reason(n, None) == "0.34 > 0.28"


def test_anomaly_band_falls_back_to_cloudwatch_sentence() -> None:
    n = parse_alarm_message(fixture_text("cloudforet-containerinsights-anomaly-band-ok.message.json"))
    assert n.trigger.threshold is None
    assert describe_reason(n, None) == n.reason


def test_region_comes_from_the_arn_not_the_display_name() -> None:
    n = parse_alarm_message(fixture_text("jit-lambdaduration.alarm.message.json"))
    assert (n.region, n.region_name) == ("eu-central-1", "EU (Frankfurt)")


def test_latest_datapoint_picks_newest_of_several() -> None:
    reason = (
        "Threshold Crossed: 2 out of the last 3 datapoints [9.5 (27/11/26 14:10:00), 12.25 (27/11/26 14:15:00),"
        " 3.0 (27/11/26 14:05:00)] were greater than the threshold (5.0)"
    )
    assert latest_datapoint(reason) == 12.25
    assert latest_datapoint("Insufficient Data: 1 datapoint was unknown.") is None


def test_missing_datapoint_treated_as_breaching() -> None:
    data = json.loads(fixture_text("jit-grantrevokefailed.alarm.message.json"))
    data["NewStateReason"] = (
        "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint "
        "was treated as [Breaching]."
    )
    n = parse_alarm_message(json.dumps(data))
    assert describe_reason(n, definition_for("JIT-GrantRevokeFailed")) == "no datapoint (alarm when value > 0)"


@pytest.mark.parametrize(
    ("value", "text"), [(7.3, "7.3"), (12.4, "12.4"), (10.0, "10"), (0.0, "0"), (0.337675, "0.34"), (1234.0, "1234")]
)
def test_number(value: float, text: str) -> None:
    assert number(value) == text


def test_garbage_is_rejected() -> None:
    with pytest.raises(ValidationError):
        parse_alarm_message('{"AlarmName": "x"}')
