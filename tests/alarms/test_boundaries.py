"""alarms/ is a library for the bot: it imports neither bot nor backend, and reads no settings."""

from __future__ import annotations

import ast
from pathlib import Path

ALARMS = Path(__file__).parents[2] / "alarms"


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_alarms_imports_neither_bot_nor_backend_nor_clients() -> None:
    files = sorted(ALARMS.glob("*.py"))
    assert len(files) >= 6
    for path in files:
        roots = {name.split(".")[0] for name in _imported_modules(path)}
        assert not roots & {"bot", "backend", "boto3", "botocore", "requests", "mattermostdriver", "os"}, path
