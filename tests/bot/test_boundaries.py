"""The bot holds no AWS credentials and imports no AWS SDK (docs/architecture.md, "Components")."""

from __future__ import annotations

import subprocess
import sys


def test_the_bot_never_imports_boto3_or_backend_internals() -> None:
    probe = (
        "import sys, bot.__main__, bot.runtime, bot.app\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'moto')"
        " or (m.startswith('backend.') and m not in ('backend.api', 'backend.api.contract', 'backend.api.signing',"
        " 'backend.api.client', 'backend.domain', 'backend.domain.models', 'backend.domain.timefmt',"
        " 'backend.domain.assignment', 'backend.api.report')))\n"
        "print(bad)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == "[]"
