"""``make bench``: run every benchmark module in its own process and print one table.

One process each because the local stack patches moto for the whole process.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULES = ("bench.bench_backend", "bench.bench_sessions", "bench.bench_scale", "bench.bench_bot", "bench.bench_alarms")
_RUN_ONE = "import json, sys, {name} as m; rows = m.run(); sys.stdout.write('\\n@@ROWS@@' + json.dumps(rows))"


def _rows(name: str) -> list[list[str]]:
    result = subprocess.run(
        [sys.executable, "-c", _RUN_ONE.format(name=name)], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if result.returncode != 0 or "@@ROWS@@" not in result.stdout:
        sys.stderr.write(result.stderr[-3000:])
        return [[name, "FAILED", f"exit {result.returncode}; see the error above"]]
    return list(json.loads(result.stdout.rsplit("@@ROWS@@", 1)[1]))


def main() -> int:
    sys.path.insert(0, str(ROOT))
    rows: list[list[str]] = []
    for name in MODULES:
        if importlib.util.find_spec(name) is not None:
            rows.extend(_rows(name))
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    print(f"{'metric'.ljust(width)} | {'value'.ljust(value_width)} | note")
    print(f"{'-' * width}-|-{'-' * value_width}-|-----")
    for metric, value, note in rows:
        print(f"{metric.ljust(width)} | {value.ljust(value_width)} | {note}")
    return 1 if any(r[1] == "FAILED" for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
