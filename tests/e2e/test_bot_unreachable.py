"""Who watches the watcher: a stopped bot becomes a JIT-BotUnreachable notification on the fallback topic.

moto never evaluates alarms. The local stack records SNS's delivery metric as SNS does (every failed
HTTP delivery counts) and evaluates JIT-BotUnreachable as stored in CloudWatch (jitlocal/watchdog.py),
then publishes what CloudWatch would to the alarm's only action, jit-alarms-fallback.
"""

from __future__ import annotations

import json
from datetime import timedelta

import boto3
import pytest

from alarms.cloudwatch import parse_alarm_message
from tests.e2e.conftest import System, wait_until


@pytest.fixture
def fallback_inbox(system: System):
    """An SQS queue subscribed to jit-alarms-fallback stands in for the e-mail or pager subscription."""
    stack = system.stack
    sqs = boto3.client("sqs", endpoint_url=stack.moto_url, region_name=stack.config.region)
    url = sqs.create_queue(QueueName="pager")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    stack.clients.sns.subscribe(TopicArn=stack.provisioned.fallback_topic_arn, Protocol="sqs", Endpoint=arn)

    def received() -> list[dict]:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]

    return received


def _failed_deliveries(system: System, topic: str) -> float:
    stack = system.stack
    now = stack.clock()
    points = stack.clients.cloudwatch.get_metric_statistics(
        Namespace="AWS/SNS",
        MetricName="NumberOfNotificationsFailed",
        Dimensions=[{"Name": "TopicName", "Value": topic}],
        StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(minutes=1),
        Period=3600,
        Statistics=["Sum"],
    )["Datapoints"]
    return sum(p["Sum"] for p in points)


def _subscribe_alarms(system: System, bot) -> None:
    system.stack.subscribe_http(system.stack.provisioned.alarms_topic_arn, f"http://127.0.0.1:{bot.port}/sns")


def test_a_stopped_bot_pages_the_fallback_topic_and_never_the_bot(system: System, fallback_inbox) -> None:
    stack = system.stack
    bot = system.start_bot()
    _subscribe_alarms(system, bot)
    stack.run_reconciler()  # heartbeat delivered while the bot runs
    assert _failed_deliveries(system, "jit-events") == 0
    assert stack.check_bot_unreachable().state == "OK"

    bot.stop()
    stack.run_reconciler()  # heartbeat (and the standing drift) to a dead bot: SNS counts the failures
    assert _failed_deliveries(system, "jit-events") >= 1
    first = stack.check_bot_unreachable()
    assert first.datapoints[-1] >= 1
    assert first.state == "OK", "one failed period is a restart, not an outage"
    assert fallback_inbox() == []

    stack.advance(timedelta(minutes=15))
    stack.run_reconciler()  # the next heartbeat fails too: two periods in a row
    stack.advance(timedelta(seconds=1))
    result = stack.check_bot_unreachable()
    assert result.state == "ALARM" and result.changed
    assert all(point >= 1 for point in result.datapoints)

    [envelope] = wait_until(fallback_inbox, what="the fallback notification")
    assert envelope["TopicArn"] == stack.provisioned.fallback_topic_arn
    assert envelope["Subject"].startswith('ALARM: "JIT-BotUnreachable"')
    notification = parse_alarm_message(envelope["Message"])
    assert notification.alarm_name == "JIT-BotUnreachable"
    assert notification.new_state == "ALARM"
    # What SNS could not deliver waits in the dead-letter queue for the replay of runbook 04.
    waiting = stack.sqs.receive_message(QueueUrl=stack.provisioned.delivery_dlq_url, MaxNumberOfMessages=10)
    types = [json.loads(json.loads(m["Body"])["Message"])["type"] for m in waiting.get("Messages", [])]
    assert types.count("system.heartbeat") == 2
    assert stack.check_bot_unreachable().changed is False  # no second page while it stays down


def test_a_running_bot_acknowledges_heartbeats_without_posting(system: System) -> None:
    stack = system.stack
    system.start_bot()
    for _ in range(3):
        stack.run_reconciler()
        stack.advance(timedelta(minutes=15))
    wait_until(lambda: system.mm.posts("oncall"), what="the standing drift post (the bot is listening)")
    posted = [p["message"] for ch in ("oncall", "jit-approvals") for p in system.mm.posts(ch)]
    assert len(posted) == 1 and "Access drift" in posted[0], posted  # the drift once; no heartbeat line
    assert _failed_deliveries(system, "jit-events") == 0
    assert stack.check_bot_unreachable().state == "OK"
