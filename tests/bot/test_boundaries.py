"""The bot holds no AWS credentials and imports no AWS SDK (docs/architecture.md, "Components").

The import contracts in pyproject.toml (``lint-imports``) hold the project's own imports; this probe
also catches an installed library that pulls in the AWS SDK or the backend when the bot starts.
"""

from __future__ import annotations

import subprocess
import sys


def test_the_bot_process_loads_no_aws_sdk_and_no_backend_module() -> None:
    probe = (
        "import sys, bot.__main__, bot.runtime, bot.app\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'moto', 'backend')))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == "[]"
