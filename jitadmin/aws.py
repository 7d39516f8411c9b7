"""The real context: boto3 with the operator's own AWS credentials (no API, no bot)."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

import boto3

from backend.wiring import build_unit_of_work, make_clients, utc_now
from jitadmin.context import (
    AdminContext,
    ConfigurationError,
    operator_person,
    settings_from_env,
    settings_from_outputs,
)

if TYPE_CHECKING:
    from rich.console import Console

    from backend.settings import BackendSettings


def _stack_outputs(session: boto3.Session, stack_name: str, endpoint_url: str | None) -> dict[str, str]:
    client = session.client("cloudformation", endpoint_url=endpoint_url)
    stacks = client.describe_stacks(StackName=stack_name)["Stacks"]
    if not stacks:
        raise ConfigurationError(f"no stack {stack_name!r}")
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", []) if "OutputKey" in o}


def resolve_settings(args: argparse.Namespace, session: boto3.Session) -> BackendSettings:
    if args.stack:
        region = session.region_name
        if not region:
            raise ConfigurationError("pass --region (or set AWS_REGION) to read the stack")
        return settings_from_outputs(_stack_outputs(session, args.stack, args.endpoint_url), region, args.endpoint_url)
    return settings_from_env(os.environ, args.region, args.endpoint_url)


def aws_context(args: argparse.Namespace, console: Console) -> AdminContext:
    region = args.region or os.environ.get("JIT_REGION") or os.environ.get("AWS_REGION")
    session = boto3.Session(region_name=region) if region else boto3.Session()
    settings = resolve_settings(args, session)
    clients = make_clients(settings, boto3.Session(region_name=settings.region))
    return AdminContext(
        settings=settings,
        clients=clients,
        uow=build_unit_of_work(settings, clients),
        console=console,
        prompt=input,
        journal_dir=args.journal_dir,
        operator=operator_person(args.operator) if args.operator else None,
        now=utc_now,
    )
