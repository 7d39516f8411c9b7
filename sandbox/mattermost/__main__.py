"""`python -m sandbox.mattermost --port 8065`: run the sandbox until interrupted."""

from __future__ import annotations

import argparse
import contextlib
import threading
from pathlib import Path

from sandbox.mattermost.server import MattermostEmulator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.mattermost")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8065)
    parser.add_argument("--seed", type=Path, default=None, help="sandbox YAML (default config/...)")
    parser.add_argument("--spec", type=Path, default=None, help="OpenAPI file (default: the committed contract)")
    args = parser.parse_args(argv)
    emulator = MattermostEmulator(host=args.host, port=args.port, seed_path=args.seed, spec_path=args.spec)
    with emulator:
        print(f"Mattermost sandbox on {emulator.url} (team {emulator.team_id})", flush=True)
        for user in emulator.mm.store.users.values():
            print(f"  {user.username:<8} id={user.id} bot={user.is_bot}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    for violation in emulator.violations:
        print(f"VIOLATION {violation!r}")


if __name__ == "__main__":
    main()
