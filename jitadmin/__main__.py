"""``jit-admin`` / ``python -m jitadmin``."""

from __future__ import annotations

from jitadmin.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
