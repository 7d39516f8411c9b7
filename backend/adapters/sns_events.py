"""Lifecycle events to the ``jit-events`` topic."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient


class SnsEventBus:
    def __init__(self, client: SNSClient, topic_arn: str) -> None:
        self._client = client
        self._topic_arn = topic_arn

    def publish(self, event_id: str, event_type: str, payload: str) -> None:
        self._client.publish(
            TopicArn=self._topic_arn,
            Message=payload,
            Subject=event_type,
            MessageAttributes={
                "event_type": {"DataType": "String", "StringValue": event_type},
                "event_id": {"DataType": "String", "StringValue": event_id},
            },
        )
