"""The JIT alarms as data: one source for CloudFormation, put_metric_alarm and the chat posts.

``CATALOGUE`` holds the eight runbook alarms that reach on-call through the bot; their names,
severities and thresholds follow the Alarm Index of docs/runbooks/01-monitoring-alarms.md.
``WATCHDOG`` holds the alarm that must not depend on the bot (JIT-BotUnreachable, index of
docs/runbooks/04-bot-unreachable.md); it notifies the fallback topic instead.
tests/alarms/test_catalogue.py proves catalogue and runbooks agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from jitwire.names import (
    ALARMS_TOPIC_NAME,
    DELIVERY_DLQ_NAME,
    EVENTS_TOPIC_NAME,
    HMAC_AUTH_FAILURES_METRIC,
    METRICS_NAMESPACE,
)

API_FUNCTION_NAME = "jit-api"
RECONCILER_FUNCTION_NAME = "jit-reconciler"
DEFAULT_API_NAME = "jit-api"
RUNBOOK_FILE = "01-monitoring-alarms.md"
WATCHDOG_RUNBOOK_FILE = "04-bot-unreachable.md"

# What the watchdog watches: the bot's two HTTPS subscriptions and their dead-letter queue.
WATCHED_TOPICS = (EVENTS_TOPIC_NAME, ALARMS_TOPIC_NAME)

Severity = Literal["High", "Medium", "Low"]
DisplayUnit = Literal["count", "percent", "milliseconds"]
ComparisonOperator = Literal[
    "GreaterThanThreshold",
    "GreaterThanOrEqualToThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
]
TreatMissingData = Literal["breaching", "notBreaching", "ignore", "missing"]

# Every metric here is only published when something happens (an execution, an invocation, a
# request, a rejection), so a missing datapoint means "nothing failed"; notBreaching keeps quiet
# periods OK instead of INSUFFICIENT_DATA, and the rate expressions return 0 without traffic.
NOT_BREACHING: TreatMissingData = "notBreaching"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Param(StrEnum):
    """Dimension values only known at deploy time."""

    STATE_MACHINE_ARN = "state_machine_arn"
    API_NAME = "api_name"


class Dimension(_Frozen):
    name: str
    value: str | None = None
    param: Param | None = None

    @model_validator(mode="after")
    def _exactly_one_value(self) -> Dimension:
        if (self.value is None) == (self.param is None):
            raise ValueError("a dimension has either a fixed value or a deploy-time parameter")
        return self


class SingleMetric(_Frozen):
    kind: Literal["single"] = "single"
    namespace: str
    metric_name: str
    dimensions: tuple[Dimension, ...]
    statistic: Literal["Sum", "Average", "Maximum", "Minimum", "SampleCount"] | None = None
    extended_statistic: str | None = Field(default=None, pattern=r"^p\d{1,2}(\.\d+)?$")

    @model_validator(mode="after")
    def _one_statistic(self) -> SingleMetric:
        if (self.statistic is None) == (self.extended_statistic is None):
            raise ValueError("set statistic or extended_statistic, not both")
        return self

    @property
    def stat_label(self) -> str:
        return self.extended_statistic or str(self.statistic)


class MetricInput(_Frozen):
    """One input of a metric-math expression (its id is the variable name in the expression)."""

    id: str = Field(pattern=r"^[a-z][a-zA-Z0-9_]*$")
    namespace: str
    metric_name: str
    dimensions: tuple[Dimension, ...]
    stat: Literal["Sum", "Average", "Maximum", "Minimum", "SampleCount"]


class MetricMath(_Frozen):
    kind: Literal["math"] = "math"
    expression_id: str = Field(default="rate", pattern=r"^[a-z][a-zA-Z0-9_]*$")
    expression: str
    label: str
    inputs: tuple[MetricInput, ...]


class AlarmDefinition(_Frozen):
    name: str
    severity: Severity
    description: str
    metric: SingleMetric | MetricMath = Field(discriminator="kind")
    threshold: float
    display_unit: DisplayUnit
    period_seconds: int
    evaluation_periods: int = 1
    datapoints_to_alarm: int = 1
    comparison: ComparisonOperator = "GreaterThanThreshold"
    treat_missing_data: TreatMissingData = NOT_BREACHING
    runbook_anchor: str
    index_metric_text: str
    index_threshold_text: str
    runbook_file: str = RUNBOOK_FILE


def _sum(namespace: str, metric: str, *dims: Dimension) -> SingleMetric:
    return SingleMetric(namespace=namespace, metric_name=metric, dimensions=dims, statistic="Sum")


def _rate(expression: str, label: str, *inputs: MetricInput) -> MetricMath:
    return MetricMath(expression=expression, label=label, inputs=inputs)


_SFN = Dimension(name="StateMachineArn", param=Param.STATE_MACHINE_ARN)
_API_FN = Dimension(name="FunctionName", value=API_FUNCTION_NAME)
_RECONCILER_FN = Dimension(name="FunctionName", value=RECONCILER_FUNCTION_NAME)
_API_GW = Dimension(name="ApiName", param=Param.API_NAME)


def _api_gw_rate(error_metric: str, label: str) -> MetricMath:
    return _rate(
        "IF(requests > 0, 100 * errors / requests, 0)",
        label,
        MetricInput(
            id="errors", namespace="AWS/ApiGateway", metric_name=error_metric, dimensions=(_API_GW,), stat="Sum"
        ),
        MetricInput(id="requests", namespace="AWS/ApiGateway", metric_name="Count", dimensions=(_API_GW,), stat="Sum"),
    )


CATALOGUE: tuple[AlarmDefinition, ...] = (
    AlarmDefinition(
        name="JIT-GrantRevokeFailed",
        severity="High",
        description="A Step Functions grant/revoke execution failed.",
        metric=_sum("AWS/States", "ExecutionsFailed", _SFN),
        threshold=0,
        display_unit="count",
        period_seconds=300,
        runbook_anchor="jit-grantrevokefailed",
        index_metric_text="Step Function execution failures",
        index_threshold_text="> 0 in 5 min",
    ),
    AlarmDefinition(
        name="JIT-ReconcilerErrors",
        severity="High",
        description="The reconciler Lambda reported errors.",
        metric=_sum("AWS/Lambda", "Errors", _RECONCILER_FN),
        threshold=0,
        display_unit="count",
        period_seconds=900,
        runbook_anchor="jit-reconcilererrors",
        index_metric_text="Reconciler Lambda errors",
        index_threshold_text="> 0 in 15 min",
    ),
    AlarmDefinition(
        name="JIT-HMACAuthFailures",
        severity="Medium",
        description="More than 10 HMAC validation rejections in 5 minutes.",
        metric=_sum(METRICS_NAMESPACE, HMAC_AUTH_FAILURES_METRIC),
        threshold=10,
        display_unit="count",
        period_seconds=300,
        runbook_anchor="jit-hmacauthfailures",
        index_metric_text="HMAC validation rejections",
        index_threshold_text="> 10 in 5 min",
    ),
    AlarmDefinition(
        name="JIT-StepFunctionTimeout",
        severity="High",
        description="A Step Functions grant/revoke execution timed out.",
        metric=_sum("AWS/States", "ExecutionsTimedOut", _SFN),
        threshold=0,
        display_unit="count",
        period_seconds=900,
        runbook_anchor="jit-stepfunctiontimeout",
        index_metric_text="SFN execution timeouts",
        index_threshold_text="> 0 in 15 min",
    ),
    AlarmDefinition(
        name="JIT-LambdaErrorRate",
        severity="High",
        description="API Lambda error rate (errors / invocations) above 5 %.",
        metric=_rate(
            "IF(invocations > 0, 100 * errors / invocations, 0)",
            "API Lambda error rate (%)",
            MetricInput(id="errors", namespace="AWS/Lambda", metric_name="Errors", dimensions=(_API_FN,), stat="Sum"),
            MetricInput(
                id="invocations",
                namespace="AWS/Lambda",
                metric_name="Invocations",
                dimensions=(_API_FN,),
                stat="Sum",
            ),
        ),
        threshold=5,
        display_unit="percent",
        period_seconds=300,
        runbook_anchor="jit-lambdaerrorrate",
        index_metric_text="API Lambda error rate",
        index_threshold_text="> 5% in 5 min",
    ),
    AlarmDefinition(
        name="JIT-LambdaDuration",
        severity="Medium",
        description="API Lambda p99 duration above 10 seconds.",
        metric=SingleMetric(
            namespace="AWS/Lambda",
            metric_name="Duration",
            dimensions=(_API_FN,),
            extended_statistic="p99",
        ),
        threshold=10_000,
        display_unit="milliseconds",
        period_seconds=300,
        runbook_anchor="jit-lambdaduration",
        index_metric_text="API Lambda p99 duration",
        index_threshold_text="> 10s in 5 min",
    ),
    AlarmDefinition(
        name="JIT-API4xxRate",
        severity="Low",
        description="More than 20 % of API Gateway requests answered 4xx.",
        metric=_api_gw_rate("4XXError", "API Gateway 4xx rate (%)"),
        threshold=20,
        display_unit="percent",
        period_seconds=300,
        runbook_anchor="jit-api4xxrate",
        index_metric_text="API Gateway 4xx rate",
        index_threshold_text="> 20% in 5 min",
    ),
    AlarmDefinition(
        name="JIT-API5xxRate",
        severity="High",
        description="More than 1 % of API Gateway requests answered 5xx.",
        metric=_api_gw_rate("5XXError", "API Gateway 5xx rate (%)"),
        threshold=1,
        display_unit="percent",
        period_seconds=300,
        runbook_anchor="jit-api5xxrate",
        index_metric_text="API Gateway 5xx rate",
        index_threshold_text="> 1% in 5 min",
    ),
)


# SNS counts every failed HTTPS delivery attempt, retries included (AWS/SNS NumberOfNotificationsFailed);
# the reconciler's heartbeat goes to jit-events every 15 minutes and SNS retries it for about an hour,
# so while the bot is unreachable every 15-minute period holds failures. Two such periods in a row
# (30 minutes, always filled by a heartbeat) page; one bot restart inside one period does not.
# Messages in the dead-letter queue are deliveries given up on: lost to chat until replayed.
_BOT_UNREACHABLE_PERIOD = 900


def _delivery_failures(input_id: str, topic: str) -> MetricInput:
    return MetricInput(
        id=input_id,
        namespace="AWS/SNS",
        metric_name="NumberOfNotificationsFailed",
        dimensions=(Dimension(name="TopicName", value=topic),),
        stat="Sum",
    )


BOT_UNREACHABLE = AlarmDefinition(
    name="JIT-BotUnreachable",
    severity="High",
    description="SNS cannot deliver to the bot's /sns (failed HTTPS deliveries or dead letters): "
    "alarms and events are not reaching chat.",
    metric=MetricMath(
        expression_id="undelivered",
        # FILL: a topic with no failures reports no datapoint; the sum must still be a number.
        expression="FILL(events_failed, 0) + FILL(alarms_failed, 0) + FILL(dead_letters, 0)",
        label="Failed deliveries to the bot + dead letters",
        inputs=(
            _delivery_failures("events_failed", WATCHED_TOPICS[0]),
            _delivery_failures("alarms_failed", WATCHED_TOPICS[1]),
            MetricInput(
                id="dead_letters",
                namespace="AWS/SQS",
                metric_name="ApproximateNumberOfMessagesVisible",
                dimensions=(Dimension(name="QueueName", value=DELIVERY_DLQ_NAME),),
                stat="Maximum",
            ),
        ),
    ),
    threshold=0,
    display_unit="count",
    period_seconds=_BOT_UNREACHABLE_PERIOD,
    evaluation_periods=2,
    datapoints_to_alarm=2,
    runbook_anchor="jit-botunreachable",
    index_metric_text="Failed SNS deliveries to the bot + delivery DLQ depth",
    index_threshold_text="> 0 in 2 consecutive 15 min periods",
    runbook_file=WATCHDOG_RUNBOOK_FILE,
)

WATCHDOG: tuple[AlarmDefinition, ...] = (BOT_UNREACHABLE,)

CATALOGUE_BY_NAME: Mapping[str, AlarmDefinition] = MappingProxyType({d.name: d for d in CATALOGUE})


def definition_for(alarm_name: str) -> AlarmDefinition | None:
    return next((d for d in CATALOGUE if d.name == alarm_name), None)


def logical_id(defn: AlarmDefinition) -> str:
    """CloudFormation logical id (alphanumeric only), e.g. ``AlarmJITLambdaErrorRate``."""
    return "Alarm" + "".join(ch for ch in defn.name if ch.isalnum())


def _dimensions(dims: tuple[Dimension, ...], params: dict[Param, Any]) -> list[dict[str, Any]]:
    return [{"Name": d.name, "Value": d.value if d.param is None else params[d.param]} for d in dims]


def _alarm_properties(
    defn: AlarmDefinition, topic: Any, params: dict[Param, Any], extra_actions: tuple[Any, ...] = ()
) -> dict[str, Any]:
    actions = [topic, *extra_actions]
    props: dict[str, Any] = {
        "AlarmName": defn.name,
        "AlarmDescription": f"{defn.description} Runbook: {defn.runbook_file}#{defn.runbook_anchor}",
        "ActionsEnabled": True,
        "AlarmActions": actions,
        "OKActions": list(actions),
        "ComparisonOperator": defn.comparison,
        "EvaluationPeriods": defn.evaluation_periods,
        "DatapointsToAlarm": defn.datapoints_to_alarm,
        "Threshold": defn.threshold,
        "TreatMissingData": defn.treat_missing_data,
    }
    metric = defn.metric
    if isinstance(metric, SingleMetric):
        props |= {
            "Namespace": metric.namespace,
            "MetricName": metric.metric_name,
            "Dimensions": _dimensions(metric.dimensions, params),
            "Period": defn.period_seconds,
        }
        if metric.extended_statistic is not None:
            props["ExtendedStatistic"] = metric.extended_statistic
        else:
            props["Statistic"] = metric.statistic
        return props
    queries: list[dict[str, Any]] = [
        {"Id": metric.expression_id, "Expression": metric.expression, "Label": metric.label, "ReturnData": True}
    ]
    queries += [
        {
            "Id": inp.id,
            "MetricStat": {
                "Metric": {
                    "Namespace": inp.namespace,
                    "MetricName": inp.metric_name,
                    "Dimensions": _dimensions(inp.dimensions, params),
                },
                "Period": defn.period_seconds,
                "Stat": inp.stat,
            },
            "ReturnData": False,
        }
        for inp in metric.inputs
    ]
    props["Metrics"] = queries
    return props


def to_cloudformation(
    defn: AlarmDefinition,
    *,
    topic_arn_ref: Any,
    state_machine_arn_ref: Any,
    api_name: Any = DEFAULT_API_NAME,
    extra_actions: tuple[Any, ...] = (),
) -> dict[str, Any]:
    """Properties of an ``AWS::CloudWatch::Alarm``; refs may be intrinsics such as ``{"Ref": "AlarmTopic"}``.

    ``extra_actions`` are further alarm/OK actions (the template's optional copy to the fallback topic).
    """
    return _alarm_properties(
        defn, topic_arn_ref, {Param.STATE_MACHINE_ARN: state_machine_arn_ref, Param.API_NAME: api_name}, extra_actions
    )


def cloudformation_resources(
    *,
    topic_arn_ref: Any,
    state_machine_arn_ref: Any,
    api_name: Any = DEFAULT_API_NAME,
    extra_actions: tuple[Any, ...] = (),
    definitions: tuple[AlarmDefinition, ...] = CATALOGUE,
) -> dict[str, dict[str, Any]]:
    """The alarms (by default the eight runbook alarms) as template ``Resources`` entries keyed by logical id."""
    return {
        logical_id(d): {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": to_cloudformation(
                d,
                topic_arn_ref=topic_arn_ref,
                state_machine_arn_ref=state_machine_arn_ref,
                api_name=api_name,
                extra_actions=extra_actions,
            ),
        }
        for d in definitions
    }


def to_put_metric_alarm_kwargs(
    defn: AlarmDefinition,
    *,
    topic_arn: str,
    state_machine_arn: str,
    api_name: str = DEFAULT_API_NAME,
) -> dict[str, Any]:
    """Keyword arguments for boto3 ``cloudwatch.put_metric_alarm`` (the local stack uses this)."""
    return _alarm_properties(defn, topic_arn, {Param.STATE_MACHINE_ARN: state_machine_arn, Param.API_NAME: api_name})
