"""``jit-admin`` / ``python -m backend.admin``."""

from __future__ import annotations

from backend.admin.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
