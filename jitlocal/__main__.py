"""``python -m jitlocal``: run the whole backend on this machine until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
import time
from pathlib import Path

from jitlocal.config import default_config_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jitlocal", description=__doc__)
    parser.add_argument("--config", type=Path, default=default_config_path(), help="local stack settings (YAML)")
    parser.add_argument("--moto-port", type=int, help="AWS APIs port (default: from the config file)")
    parser.add_argument("--api-port", type=int, help="JIT API port (default: from the config file)")
    parser.add_argument("--reconcile-every", type=float, help="seconds between reconciler runs")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)

    # moto's state machine interpreter compares Wait timestamps with local time: run in UTC.
    os.environ["TZ"] = "UTC"
    time.tzset()
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    from jitlocal.stack import LocalStack, StackOptions

    stack = LocalStack(
        StackOptions(
            config_path=args.config,
            moto_port=args.moto_port,
            api_port=args.api_port,
            reconcile_every_seconds=args.reconcile_every,
        )
    ).start()
    print(describe(stack), flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    stopped.wait()
    stack.stop()
    return 0


def describe(stack: object) -> str:
    from jitlocal.stack import LocalStack

    assert isinstance(stack, LocalStack)
    users = ", ".join(f"{u.user_name} <{u.email}> {list(u.groups)}" for u in stack.config.identity_center.users)
    return "\n".join(
        [
            "JIT local stack is up.",
            f"  JIT API (as API Gateway):  {stack.api_url}",
            f"  AWS APIs (moto server):    {stack.moto_url}   (aws --endpoint-url {stack.moto_url} ...)",
            f"  Bot signing key:           {stack.key_file}   (key id {stack.provisioned.bot_key_id})",
            f"  Audience:                  {stack.config.audience}",
            f"  State machine:             {stack.provisioned.state_machine_arn}",
            f"  Identity Center users:     {users}",
            f"  Reconciler:                every {stack.reconcile_every_seconds:g} s",
            "Try: python -m jitlocal.cli --as alice request staging AdministratorAccess 2m 'try it'",
            "Stop with Ctrl-C.",
        ]
    )


if __name__ == "__main__":
    raise SystemExit(main())
