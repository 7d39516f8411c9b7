"""Custom metrics in the ``JIT/Access`` namespace (JIT-HMACAuthFailures watches one of them).

Each count is emitted without dimensions, which is what the alarms watch; HMAC failures are also
emitted per reason code for investigation. In Lambda they are CloudWatch embedded metric format
lines through Powertools; on the local stack they go to moto's CloudWatch with PutMetricData.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import TYPE_CHECKING, Final

from jitwire.names import HMAC_AUTH_FAILURES_METRIC, METRICS_NAMESPACE

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

HMAC_AUTH_FAILURES_BY_REASON: Final = "HMACAuthFailuresByReason"


class EmfMetrics:
    def count(self, name: str, value: float = 1.0, reason: str | None = None) -> None:
        from aws_lambda_powertools import single_metric
        from aws_lambda_powertools.metrics import MetricUnit

        with single_metric(name=name, unit=MetricUnit.Count, value=value, namespace=METRICS_NAMESPACE) as metric:
            if reason is not None:
                metric.add_dimension(name="Reason", value=reason)

    def record_auth_failure(self, reason: str) -> None:
        self.count(HMAC_AUTH_FAILURES_METRIC)
        self.count(HMAC_AUTH_FAILURES_BY_REASON, reason=reason)


class CloudWatchMetrics:
    def __init__(self, client: CloudWatchClient) -> None:
        self._client = client

    def count(self, name: str, value: float = 1.0) -> None:
        self._client.put_metric_data(
            Namespace=METRICS_NAMESPACE, MetricData=[{"MetricName": name, "Value": value, "Unit": "Count"}]
        )

    def record_auth_failure(self, reason: str) -> None:
        self._client.put_metric_data(
            Namespace=METRICS_NAMESPACE,
            MetricData=[
                {"MetricName": HMAC_AUTH_FAILURES_METRIC, "Value": 1, "Unit": "Count"},
                {
                    "MetricName": HMAC_AUTH_FAILURES_BY_REASON,
                    "Value": 1,
                    "Unit": "Count",
                    "Dimensions": [{"Name": "Reason", "Value": reason}],
                },
            ],
        )


class RecordingMetrics:
    """Counts in memory (tests and benchmarks)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.auth_failures: list[str] = []
        self._lock = threading.Lock()

    def count(self, name: str, value: float = 1.0) -> None:
        with self._lock:
            self.counts[name] += int(value)

    def record_auth_failure(self, reason: str) -> None:
        with self._lock:
            self.auth_failures.append(reason)
            self.counts[HMAC_AUTH_FAILURES_METRIC] += 1
