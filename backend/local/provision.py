"""Create everything the backend needs on the local moto server, from config/."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from backend.adapters import tables
from backend.adapters.dynamodb_policy import DynamoPolicyStore
from backend.adapters.secrets_keyset import write_keyset
from backend.auth.keyset import KeySet, KeyStatus, generate_key
from backend.domain.policy import Policy
from backend.local.config import LocalStackConfig
from backend.wiring import Clients
from backend.workflow.definition import load_definition
from jitwire.models import Person
from jitwire.names import (
    ALARMS_TOPIC_NAME,
    DELIVERY_DLQ_NAME,
    EVENTS_TOPIC_NAME,
    FALLBACK_TOPIC_NAME,
    KEYSET_SECRET_NAME,
    STATE_MACHINE_NAME,
)

ACCOUNT_ID = "123456789012"  # moto's default account
SYSTEM = Person(user_id="local-stack", username="local-stack", email="local-stack@localhost")


@dataclass(frozen=True)
class Provisioned:
    state_machine_arn: str
    events_topic_arn: str
    alarms_topic_arn: str
    fallback_topic_arn: str  # JIT-BotUnreachable's only action (runbook 04)
    delivery_dlq_url: str
    delivery_dlq_arn: str
    instance_arn: str
    identity_store_id: str
    keyset_secret_id: str
    bot_key_id: str
    user_ids: dict[str, str]  # user name → Identity Center user id
    permission_set_arns: dict[str, str]


def function_arn(region: str, name: str) -> str:
    return f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}"


def provision(config: LocalStackConfig, clients: Clients, sqs: Any, now: datetime) -> Provisioned:
    """``sqs`` only for the delivery dead-letter queue (the backend itself never uses SQS)."""
    for name in tables.TABLE_DEFINITIONS:
        clients.dynamodb.create_table(**tables.create_table_kwargs(name))
    clients.dynamodb.update_time_to_live(
        TableName=tables.NONCES,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": tables.NONCE_TTL_ATTRIBUTE},
    )
    instance = clients.sso_admin.list_instances()["Instances"][0]
    instance_arn, store_id = instance["InstanceArn"], instance["IdentityStoreId"]
    user_ids = _seed_directory(config, clients, store_id)
    ps_arns = {
        name: clients.sso_admin.create_permission_set(InstanceArn=instance_arn, Name=name, SessionDuration="PT1H")[
            "PermissionSet"
        ]["PermissionSetArn"]
        for name in config.identity_center.permission_sets
    }
    for standing in config.standing_access:
        clients.sso_admin.create_account_assignment(
            InstanceArn=instance_arn,
            TargetId=standing.account,
            TargetType="AWS_ACCOUNT",
            PermissionSetArn=ps_arns[standing.permission_set],
            PrincipalType="USER",
            PrincipalId=user_ids[standing.user],
        )
    bot_key = generate_key(f"bot-local-{now:%Y%m%d}", status=KeyStatus.ACTIVE)
    write_keyset(clients.secretsmanager, KEYSET_SECRET_NAME, KeySet(keys=[bot_key]), create_if_missing=True)
    _write_bot_key(config, bot_key.id, bot_key.secret)
    events = clients.sns.create_topic(Name=EVENTS_TOPIC_NAME)["TopicArn"]
    alarms = clients.sns.create_topic(Name=ALARMS_TOPIC_NAME)["TopicArn"]
    fallback = clients.sns.create_topic(Name=FALLBACK_TOPIC_NAME)["TopicArn"]
    dlq_url, dlq_arn = _delivery_dlq(sqs)
    machine = clients.stepfunctions.create_state_machine(
        name=STATE_MACHINE_NAME,
        definition=load_definition(function_arn(config.region, "jit-api")),
        roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/jit-access-workflow",
        type="STANDARD",
    )["stateMachineArn"]
    policy = Policy.model_validate(yaml.safe_load(config.policy_file.read_text(encoding="utf-8")))
    emails = {user.email.lower(): user_ids[user.user_name] for user in config.identity_center.users}
    names = {user.user_name.lower(): user_ids[user.user_name] for user in config.identity_center.users}
    resolved = {n.lower(): emails.get(n.lower()) or names.get(n.lower()) for n in policy.named_users}
    if unknown := sorted(n for n, found in resolved.items() if found is None):
        raise ValueError(f"{config.policy_file} names users the local Identity Center does not have: {unknown}")
    policy = policy.model_copy(update={"user_ids": dict(sorted(resolved.items()))})
    DynamoPolicyStore(clients.dynamodb).put(policy, SYSTEM, now)
    return Provisioned(
        state_machine_arn=machine,
        events_topic_arn=events,
        alarms_topic_arn=alarms,
        fallback_topic_arn=fallback,
        delivery_dlq_url=dlq_url,
        delivery_dlq_arn=dlq_arn,
        instance_arn=instance_arn,
        identity_store_id=store_id,
        keyset_secret_id=KEYSET_SECRET_NAME,
        bot_key_id=bot_key.id,
        user_ids=user_ids,
        permission_set_arns=ps_arns,
    )


def _delivery_dlq(sqs: Any) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=DELIVERY_DLQ_NAME)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def _seed_directory(config: LocalStackConfig, clients: Clients, store_id: str) -> dict[str, str]:
    user_ids: dict[str, str] = {}
    group_ids: dict[str, str] = {}
    for user in config.identity_center.users:
        first, _, last = user.display_name.partition(" ")
        user_id = clients.identitystore.create_user(
            IdentityStoreId=store_id,
            UserName=user.user_name,
            DisplayName=user.display_name,
            Name={"GivenName": first, "FamilyName": last or first},
            Emails=[{"Value": user.email, "Type": "work", "Primary": True}],
        )["UserId"]
        user_ids[user.user_name] = user_id
        for group in user.groups:
            if group not in group_ids:
                group_ids[group] = clients.identitystore.create_group(IdentityStoreId=store_id, DisplayName=group)[
                    "GroupId"
                ]
            clients.identitystore.create_group_membership(
                IdentityStoreId=store_id, GroupId=group_ids[group], MemberId={"UserId": user_id}
            )
    return user_ids


def bot_key_path(config: LocalStackConfig) -> Path:
    return config.state_dir / "bot-key.json"


def _write_bot_key(config: LocalStackConfig, key_id: str, secret: str) -> None:
    """The bot's signing key, readable only by this user; never printed or logged."""
    path = bot_key_path(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload: dict[str, Any] = {"key_id": key_id, "secret": secret, "audience": config.audience}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(payload, handle)
