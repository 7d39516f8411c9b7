"""CloudWatch alarm notification (the SNS ``Message`` JSON) and its human-readable reason."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from alarms.catalogue import AlarmDefinition

AlarmState = Literal["OK", "ALARM", "INSUFFICIENT_DATA"]


class _AwsPayload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class TriggerDimension(_AwsPayload):
    # CloudWatch writes these keys in lower case inside SNS messages.
    name: str
    value: str


class TriggerMetric(_AwsPayload):
    name: str = Field(alias="MetricName")
    namespace: str = Field(alias="Namespace")
    dimensions: tuple[TriggerDimension, ...] = Field(default=(), alias="Dimensions")


class TriggerMetricStat(_AwsPayload):
    metric: TriggerMetric = Field(alias="Metric")
    period: int | None = Field(default=None, alias="Period")
    stat: str | None = Field(default=None, alias="Stat")


class TriggerQuery(_AwsPayload):
    id: str = Field(alias="Id")
    expression: str | None = Field(default=None, alias="Expression")
    label: str | None = Field(default=None, alias="Label")
    metric_stat: TriggerMetricStat | None = Field(default=None, alias="MetricStat")
    return_data: bool = Field(default=True, alias="ReturnData")


class Trigger(_AwsPayload):
    metric_name: str | None = Field(default=None, alias="MetricName")
    namespace: str | None = Field(default=None, alias="Namespace")
    statistic_type: str | None = Field(default=None, alias="StatisticType")
    statistic: str | None = Field(default=None, alias="Statistic")
    extended_statistic: str | None = Field(default=None, alias="ExtendedStatistic")
    unit: str | None = Field(default=None, alias="Unit")
    dimensions: tuple[TriggerDimension, ...] = Field(default=(), alias="Dimensions")
    metrics: tuple[TriggerQuery, ...] = Field(default=(), alias="Metrics")
    period: int = Field(alias="Period")
    evaluation_periods: int = Field(alias="EvaluationPeriods")
    datapoints_to_alarm: int | None = Field(default=None, alias="DatapointsToAlarm")
    comparison_operator: str = Field(alias="ComparisonOperator")
    threshold: float | None = Field(default=None, alias="Threshold")
    threshold_metric_id: str | None = Field(default=None, alias="ThresholdMetricId")
    treat_missing_data: str | None = Field(default=None, alias="TreatMissingData")

    @property
    def is_metric_math(self) -> bool:
        return bool(self.metrics)

    @property
    def stat_label(self) -> str | None:
        if self.statistic_type == "ExtendedStatistic" and self.extended_statistic:
            return self.extended_statistic
        return self.statistic.lower() if self.statistic else None

    def all_dimensions(self) -> dict[str, str]:
        dims = {d.name: d.value for d in self.dimensions}
        for query in self.metrics:
            if query.metric_stat is not None:
                dims |= {d.name: d.value for d in query.metric_stat.metric.dimensions}
        return dims


class AlarmNotification(_AwsPayload):
    alarm_name: str = Field(alias="AlarmName")
    alarm_description: str | None = Field(default=None, alias="AlarmDescription")
    account_id: str = Field(alias="AWSAccountId")
    new_state: AlarmState = Field(alias="NewStateValue")
    old_state: AlarmState = Field(alias="OldStateValue")
    reason: str = Field(alias="NewStateReason")
    state_change_time: AwareDatetime = Field(alias="StateChangeTime")
    region_name: str = Field(alias="Region")
    alarm_arn: str = Field(alias="AlarmArn")
    trigger: Trigger = Field(alias="Trigger")

    @property
    def region(self) -> str:
        """Region code from the ARN; ``Region`` only carries a display name like "EU (Frankfurt)"."""
        parts = self.alarm_arn.split(":")
        return parts[3] if len(parts) > 3 and parts[0] == "arn" else ""


def parse_alarm_message(message: str) -> AlarmNotification:
    """Parse the SNS ``Message`` string of a CloudWatch metric alarm (raises pydantic.ValidationError)."""
    return AlarmNotification.model_validate_json(message)


_DATAPOINT = re.compile(r"(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*\((\d{2}/\d{2}/\d{2} \d{2}:\d{2}:\d{2})\)")
_DATAPOINT_LIST = re.compile(r"datapoints?\s*\[([^\]]*)\]")


def latest_datapoint(reason: str) -> float | None:
    """The newest datapoint quoted in NewStateReason (CloudWatch writes ``[v (dd/mm/yy hh:mm:ss), ...]``)."""
    listed = _DATAPOINT_LIST.search(reason)
    if listed is None:
        return None
    points = [
        (datetime.strptime(when, "%d/%m/%y %H:%M:%S").replace(tzinfo=UTC), float(value))
        for value, when in _DATAPOINT.findall(listed.group(1))
    ]
    return max(points)[1] if points else None


_SYMBOL = {
    "GreaterThanThreshold": ">",
    "GreaterThanOrEqualToThreshold": ">=",
    "LessThanThreshold": "<",
    "LessThanOrEqualToThreshold": "<=",
}
_NEGATED = {">": "<=", ">=": "<", "<": ">=", "<=": ">"}


def number(value: float) -> str:
    """Short human number: 7.3, 12.4, 0.34, 10, 1234."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    text = f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"
    return text.rstrip("0").rstrip(".")


def _with_unit(value: float, unit: str) -> str:
    if unit == "percent":
        return f"{number(value)} %"
    if unit == "milliseconds":
        return f"{number(value / 1000)} s" if abs(value) >= 1000 or value == 0 else f"{number(value)} ms"
    return number(value)


def describe_reason(notification: AlarmNotification, definition: AlarmDefinition | None) -> str:
    """The value against the threshold in units, e.g. "7.3 % > 5 %", "p99 12.4 s > 10 s", "3 > 0"."""
    trigger = notification.trigger
    unit = definition.display_unit if definition is not None else "count"
    threshold = trigger.threshold
    if threshold is None and definition is not None and trigger.threshold_metric_id is None:
        threshold = definition.threshold
    symbol = _SYMBOL.get(trigger.comparison_operator)
    stat = trigger.stat_label
    prefix = f"{stat} " if stat and stat.startswith("p") else ""
    if symbol is None or threshold is None:
        # Anomaly bands and other threshold shapes: CloudWatch's own sentence is the best we have.
        return notification.reason
    limit = f"{symbol} {_with_unit(threshold, unit)}"
    if notification.new_state == "INSUFFICIENT_DATA":
        return f"no data (alarm when {prefix}value {limit})"
    value = latest_datapoint(notification.reason)
    if value is None:
        return f"no datapoint (alarm when {prefix}value {limit})"
    relation = symbol if notification.new_state == "ALARM" else _NEGATED[symbol]
    return f"{prefix}{_with_unit(value, unit)} {relation} {_with_unit(threshold, unit)}"
