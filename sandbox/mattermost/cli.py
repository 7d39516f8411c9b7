"""Drive a running sandbox by hand.

python -m sandbox.mattermost.cli as alice /jit help
python -m sandbox.mattermost.cli click bob <post_id> approve
python -m sandbox.mattermost.cli read jit-approvals
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import requests


def _show(response: requests.Response) -> None:
    payload: Any = response.json() if response.content else None
    print(json.dumps(payload, indent=2, ensure_ascii=False))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.mattermost.cli")
    parser.add_argument("--url", default="http://127.0.0.1:8065")
    commands = parser.add_subparsers(dest="verb", required=True)
    as_user = commands.add_parser("as", help="run a slash command as a user")
    as_user.add_argument("user")
    as_user.add_argument("text", nargs=argparse.REMAINDER)
    as_user.add_argument("--channel", default="jit-approvals")
    click = commands.add_parser("click", help="click a button as a user")
    click.add_argument("user")
    click.add_argument("post_id")
    click.add_argument("action_id")
    read = commands.add_parser("read", help="list a channel's posts")
    read.add_argument("channel")
    seen = commands.add_parser("ephemerals", help="ephemeral messages a user received")
    seen.add_argument("user")
    args = parser.parse_args(argv)
    base = args.url.rstrip("/") + "/_sandbox"
    if args.verb == "as":
        body = {"user": args.user, "channel": args.channel, "text": " ".join(args.text)}
        _show(requests.post(f"{base}/command", json=body, timeout=60))
    elif args.verb == "click":
        body = {"user": args.user, "post_id": args.post_id, "action_id": args.action_id}
        _show(requests.post(f"{base}/click", json=body, timeout=60))
    elif args.verb == "read":
        _show(requests.get(f"{base}/channel/{args.channel}", timeout=60))
    else:
        _show(requests.get(f"{base}/ephemerals/{args.user}", timeout=60))


if __name__ == "__main__":
    main()
