"""Process-wide test setup.

moto's Step Functions interpreter compares TimestampPath waits with naive local time, so the
whole suite runs in UTC (docs/architecture.md, "Local runtime").
"""

import os
import time

os.environ["TZ"] = "UTC"
time.tzset()
# No test may reach real AWS: fixed dummy credentials and region for every boto3 client.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "eu-central-1")
os.environ.pop("AWS_PROFILE", None)

pytest_plugins = ["tests.stack_fixtures"]
