"""The eight alarms on the local stack, and firing them for demos and drills.

moto stores CloudWatch alarms but never evaluates them nor publishes their state changes, so a
drill sets the state and publishes the notification CloudWatch would send to ``jit-alarms``
(same JSON shape as the real service: single metric, percentile and metric-math triggers).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

from alarms.catalogue import CATALOGUE, WATCHDOG, to_put_metric_alarm_kwargs

State = Literal["ALARM", "OK", "INSUFFICIENT_DATA"]

REGION_NAMES = {"eu-central-1": "EU (Frankfurt)", "us-east-1": "US East (N. Virginia)", "eu-west-1": "EU (Ireland)"}
_WORDS = {
    "GreaterThanThreshold": "greater than",
    "GreaterThanOrEqualToThreshold": "greater than or equal to",
    "LessThanThreshold": "less than",
    "LessThanOrEqualToThreshold": "less than or equal to",
}


def provision_alarms(
    cloudwatch: Any, alarms_topic_arn: str, state_machine_arn: str, fallback_topic_arn: str | None = None
) -> list[str]:
    """The eight runbook alarms notify jit-alarms; JIT-BotUnreachable notifies only the fallback topic."""
    for definition in CATALOGUE:
        cloudwatch.put_metric_alarm(
            **to_put_metric_alarm_kwargs(definition, topic_arn=alarms_topic_arn, state_machine_arn=state_machine_arn)
        )
    if fallback_topic_arn is None:
        return [d.name for d in CATALOGUE]
    for definition in WATCHDOG:
        cloudwatch.put_metric_alarm(
            **to_put_metric_alarm_kwargs(definition, topic_arn=fallback_topic_arn, state_machine_arn=state_machine_arn)
        )
    return [d.name for d in (*CATALOGUE, *WATCHDOG)]


def _crossing_value(threshold: float, state: State) -> float:
    if state == "OK":
        return round(threshold / 2, 1)
    return round(max(threshold * 1.46, threshold + 3), 1)


def _reason(alarm: dict[str, Any], state: State, value: float, at: datetime) -> str:
    if state == "INSUFFICIENT_DATA":
        return "Insufficient Data: 1 datapoint was unknown."
    word = _WORDS.get(alarm["ComparisonOperator"], "compared with")
    verb = "was" if state == "ALARM" else "was not"
    transition = "OK -> ALARM" if state == "ALARM" else "ALARM -> OK"
    return (
        f"Threshold Crossed: 1 out of the last 1 datapoints [{value} ({at:%d/%m/%y %H:%M:%S})] {verb} {word} "
        f"the threshold ({float(alarm['Threshold'])}) (minimum 1 datapoint for {transition} transition)."
    )


def _trigger(alarm: dict[str, Any]) -> dict[str, Any]:
    trigger: dict[str, Any] = {
        "Period": alarm.get("Period", 300),
        "EvaluationPeriods": alarm["EvaluationPeriods"],
        "DatapointsToAlarm": alarm.get("DatapointsToAlarm", alarm["EvaluationPeriods"]),
        "ComparisonOperator": alarm["ComparisonOperator"],
        "Threshold": float(alarm["Threshold"]),
        "TreatMissingData": alarm.get("TreatMissingData", "missing"),
        "EvaluateLowSampleCountPercentile": "",
    }
    if alarm.get("Metrics"):
        trigger.pop("Period")
        trigger["Period"] = max(int(m.get("MetricStat", {}).get("Period", 0)) for m in alarm["Metrics"]) or 300
        trigger["Metrics"] = [_math_input(m) for m in alarm["Metrics"]]
        return trigger
    dimensions = [{"value": d["Value"], "name": d["Name"]} for d in alarm.get("Dimensions", [])]
    trigger.update({"MetricName": alarm["MetricName"], "Namespace": alarm["Namespace"], "Unit": None})
    if alarm.get("ExtendedStatistic"):
        trigger.update({"StatisticType": "ExtendedStatistic", "ExtendedStatistic": alarm["ExtendedStatistic"]})
    else:
        trigger.update({"StatisticType": "Statistic", "Statistic": str(alarm.get("Statistic", "Sum")).upper()})
    trigger["Dimensions"] = dimensions
    return trigger


def _math_input(metric: dict[str, Any]) -> dict[str, Any]:
    if "Expression" in metric:
        out = {"Expression": metric["Expression"], "Id": metric["Id"], "ReturnData": metric.get("ReturnData", True)}
        if metric.get("Label"):
            out["Label"] = metric["Label"]
        return out
    stat = metric["MetricStat"]
    return {
        "Id": metric["Id"],
        "MetricStat": {
            "Metric": {
                "Dimensions": [{"value": d["Value"], "name": d["Name"]} for d in stat["Metric"].get("Dimensions", [])],
                "MetricName": stat["Metric"]["MetricName"],
                "Namespace": stat["Metric"]["Namespace"],
            },
            "Period": stat["Period"],
            "Stat": stat["Stat"],
        },
        "ReturnData": metric.get("ReturnData", False),
    }


def notification(
    alarm: dict[str, Any], state: State, old_state: str, value: float | None, region: str, at: datetime
) -> dict[str, Any]:
    """The ``Message`` CloudWatch publishes to SNS for this state change (metric alarms)."""
    crossing = _crossing_value(float(alarm["Threshold"]), state) if value is None else value
    return {
        "AlarmName": alarm["AlarmName"],
        "AlarmDescription": alarm.get("AlarmDescription"),
        "AWSAccountId": alarm["AlarmArn"].split(":")[4],
        "AlarmConfigurationUpdatedTimestamp": f"{at:%Y-%m-%dT%H:%M:%S.000+0000}",
        "NewStateValue": state,
        "NewStateReason": _reason(alarm, state, crossing, at),
        "StateChangeTime": f"{at:%Y-%m-%dT%H:%M:%S}.{at.microsecond // 1000:03d}+0000",
        "Region": REGION_NAMES.get(region, region),
        "AlarmArn": alarm["AlarmArn"],
        "OldStateValue": old_state,
        "OKActions": alarm.get("OKActions", []),
        "AlarmActions": alarm.get("AlarmActions", []),
        "InsufficientDataActions": alarm.get("InsufficientDataActions", []),
        "Trigger": _trigger(alarm),
    }


def fire(
    cloudwatch: Any,
    sns: Any,
    alarm_name: str,
    state: State = "ALARM",
    value: float | None = None,
    region: str = "eu-central-1",
    at: datetime | None = None,
) -> dict[str, Any]:
    """Set the alarm's state and publish its notification to the alarm's actions, as CloudWatch would."""
    found = cloudwatch.describe_alarms(AlarmNames=[alarm_name])["MetricAlarms"]
    if not found:
        known = ", ".join(d.name for d in (*CATALOGUE, *WATCHDOG))
        raise ValueError(f"no alarm named {alarm_name!r}; the alarms are: {known}")
    alarm = found[0]
    old_state = str(alarm.get("StateValue", "OK"))
    # CloudWatch's StateChangeTime is to the millisecond: an OK set within the second of its ALARM
    # is still later than it (the bot ignores a change no later than the episode's start).
    moment = at or datetime.now(UTC)
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    message = notification(alarm, state, old_state, value, region, moment)
    cloudwatch.set_alarm_state(AlarmName=alarm_name, StateValue=state, StateReason=message["NewStateReason"])
    actions = {"ALARM": "AlarmActions", "OK": "OKActions", "INSUFFICIENT_DATA": "InsufficientDataActions"}[state]
    subject = f'{state}: "{alarm_name}" in {message["Region"]}'
    for topic_arn in alarm.get(actions, []):
        sns.publish(TopicArn=topic_arn, Subject=subject[:100], Message=json.dumps(message))
    return message
