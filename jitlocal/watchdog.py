"""JIT-BotUnreachable on the local stack: the check CloudWatch would run, and its fallback notification.

moto stores alarms but never evaluates them. This evaluates the one alarm whose expression is a sum
of filled inputs (``FILL(a, 0) + FILL(b, 0) + ...``, asserted by tests/alarms/test_catalogue.py)
over its evaluation periods, from the metrics in moto's CloudWatch: the SNS delivery failures the
local stack records (jitlocal/moto_runtime.py) and the dead-letter queue's depth, sampled here
as SQS does every minute. On a state change it publishes what CloudWatch would to the alarm's
actions (the fallback topic), the same way ``fire_alarm`` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from alarms.catalogue import BOT_UNREACHABLE, AlarmDefinition, MetricMath
from jitlocal.alarm_drill import State, fire


@dataclass(frozen=True)
class CheckResult:
    alarm_name: str
    datapoints: tuple[float, ...]  # oldest first, one per evaluation period
    state: State
    changed: bool


def sample_queue_depth(cloudwatch: Any, sqs: Any, queue_url: str, queue_name: str, at: datetime) -> int:
    """Publish the queue's visible messages as ``AWS/SQS ApproximateNumberOfMessagesVisible`` (SQS's own metric)."""
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    depth = int(attributes["Attributes"]["ApproximateNumberOfMessages"])
    cloudwatch.put_metric_data(
        Namespace="AWS/SQS",
        MetricData=[
            {
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Dimensions": [{"Name": "QueueName", "Value": queue_name}],
                "Timestamp": at,
                "Value": depth,
                "Unit": "Count",
            }
        ],
    )
    return depth


def _input_value(cloudwatch: Any, query: dict[str, Any], start: datetime, end: datetime) -> float:
    stat = query["MetricStat"]
    found = cloudwatch.get_metric_statistics(
        Namespace=stat["Metric"]["Namespace"],
        MetricName=stat["Metric"]["MetricName"],
        Dimensions=stat["Metric"]["Dimensions"],
        StartTime=start,
        EndTime=end,
        Period=int(end.timestamp() - start.timestamp()),
        Statistics=[stat["Stat"]],
    )["Datapoints"]
    values = [float(d[stat["Stat"]]) for d in found]
    if not values:
        return 0.0  # FILL(x, 0)
    return max(values) if stat["Stat"] == "Maximum" else sum(values)


def evaluate(cloudwatch: Any, alarm: dict[str, Any], now: datetime, period_seconds: int) -> tuple[float, ...]:
    """One datapoint per evaluation period, the last one ending with the current second: the sum of the inputs."""
    inputs = [q for q in alarm["Metrics"] if "MetricStat" in q]
    period = timedelta(seconds=period_seconds)
    end = now.replace(microsecond=0) + timedelta(seconds=1)
    points = []
    for back in range(int(alarm["EvaluationPeriods"]), 0, -1):
        start = end - back * period
        points.append(sum(_input_value(cloudwatch, q, start, start + period) for q in inputs))
    return tuple(points)


def check(
    cloudwatch: Any,
    sns: Any,
    now: datetime,
    region: str,
    definition: AlarmDefinition = BOT_UNREACHABLE,
) -> CheckResult:
    """Evaluate the alarm as stored in CloudWatch; on a change publish its notification to its actions."""
    if not isinstance(definition.metric, MetricMath):
        raise TypeError("the local check evaluates metric-math sums only")
    alarm = cloudwatch.describe_alarms(AlarmNames=[definition.name])["MetricAlarms"][0]
    points = evaluate(cloudwatch, alarm, now, definition.period_seconds)
    breaching = sum(p > float(alarm["Threshold"]) for p in points) >= int(alarm["DatapointsToAlarm"])
    state: State = "ALARM" if breaching else "OK"
    changed = state != str(alarm.get("StateValue", "INSUFFICIENT_DATA"))
    if changed:
        fire(cloudwatch, sns, definition.name, state, points[-1], region, now)
    return CheckResult(definition.name, points, state, changed)
