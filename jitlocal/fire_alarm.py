"""``python -m jitlocal.fire_alarm NAME [--state OK] [--value 7.3]``: fire one of the eight
alarms on the running local stack (moto never fires alarms by itself), for demos and drills."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import boto3

from alarms.catalogue import CATALOGUE, WATCHDOG
from jitlocal.alarm_drill import fire
from jitlocal.config import LocalStackConfig, default_config_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jitlocal.fire_alarm", description=__doc__)
    parser.add_argument("alarm", choices=[d.name for d in (*CATALOGUE, *WATCHDOG)])
    parser.add_argument("--state", choices=["ALARM", "OK", "INSUFFICIENT_DATA"], default="ALARM")
    parser.add_argument("--value", type=float, help="the datapoint to report (default: one that crosses)")
    parser.add_argument("--config", type=Path, default=default_config_path())
    args = parser.parse_args(argv)
    config = LocalStackConfig.load(args.config)
    try:
        endpoints = json.loads((config.state_dir / "endpoints.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        print("The local stack is not running; start it with `make run`.", file=sys.stderr)
        return 2
    session = boto3.Session(
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - moto accepts any credentials
        region_name=config.region,
    )
    url = endpoints["moto_url"]
    message = fire(
        session.client("cloudwatch", endpoint_url=url),
        session.client("sns", endpoint_url=url),
        args.alarm,
        args.state,
        args.value,
        config.region,
    )
    print(f"{args.alarm} -> {args.state}: {message['NewStateReason']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
