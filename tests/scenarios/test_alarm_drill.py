"""Firing each of the eight alarms through the local stack yields a real-shaped notification."""

from __future__ import annotations

import json

import boto3
import pytest

from alarms.catalogue import CATALOGUE, CATALOGUE_BY_NAME, WATCHDOG
from alarms.cloudwatch import describe_reason, parse_alarm_message


@pytest.fixture
def alarm_queue(stack):
    sqs = boto3.client("sqs", endpoint_url=stack.moto_url, region_name=stack.config.region)
    url = sqs.create_queue(QueueName="alarms")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    stack.clients.sns.subscribe(TopicArn=stack.provisioned.alarms_topic_arn, Protocol="sqs", Endpoint=arn)

    def received():
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]

    return received


def test_the_local_stack_holds_the_eight_alarms_with_actions_to_jit_alarms(stack):
    alarms = {a["AlarmName"]: a for a in stack.clients.cloudwatch.describe_alarms()["MetricAlarms"]}
    assert sorted(alarms) == sorted(d.name for d in (*CATALOGUE, *WATCHDOG))
    assert all(alarms[d.name]["AlarmActions"] == [stack.provisioned.alarms_topic_arn] for d in CATALOGUE)
    # JIT-BotUnreachable must not depend on the bot: only the fallback topic hears of it.
    assert alarms["JIT-BotUnreachable"]["AlarmActions"] == [stack.provisioned.fallback_topic_arn]


@pytest.mark.parametrize("name", [d.name for d in CATALOGUE])
def test_firing_publishes_what_cloudwatch_would(stack, alarm_queue, name):
    stack.fire_alarm(name)
    [envelope] = alarm_queue()
    assert envelope["TopicArn"] == stack.provisioned.alarms_topic_arn
    assert envelope["Subject"].startswith(f'ALARM: "{name}"')
    notification = parse_alarm_message(envelope["Message"])
    assert notification.alarm_name == name
    assert notification.region == "eu-central-1"
    reason = describe_reason(notification, CATALOGUE_BY_NAME[name])
    assert ">" in reason
    state = stack.clients.cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"]
    assert state == "ALARM"


def test_ok_after_alarm_goes_to_the_ok_actions(stack, alarm_queue):
    stack.fire_alarm("JIT-LambdaErrorRate", value=7.3)
    stack.fire_alarm("JIT-LambdaErrorRate", "OK")
    alarm, ok = (parse_alarm_message(e["Message"]) for e in alarm_queue())
    assert describe_reason(alarm, CATALOGUE_BY_NAME["JIT-LambdaErrorRate"]) == "7.3 % > 5 %"
    assert ok.new_state == "OK"
    assert ok.old_state == "ALARM"


def test_an_unknown_alarm_is_refused_with_the_known_names(stack):
    with pytest.raises(ValueError, match="JIT-GrantRevokeFailed"):
        stack.fire_alarm("JIT-Nope")
