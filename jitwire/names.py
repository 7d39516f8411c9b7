"""Names of the deployed resources other than tables (those are in ``backend.adapters.tables``,
``jit_identities`` included), and of the custom metrics the alarms watch.

One source for the template (infra/), the local stack, the backend that emits the metrics and the
bot's alarm intake that routes by topic name.
"""

from __future__ import annotations

from typing import Final

STATE_MACHINE_NAME: Final = "jit-access"
EVENTS_TOPIC_NAME: Final = "jit-events"
ALARMS_TOPIC_NAME: Final = "jit-alarms"
FALLBACK_TOPIC_NAME: Final = "jit-alarms-fallback"  # JIT-BotUnreachable notifies it, never the bot
DELIVERY_DLQ_NAME: Final = "jit-sns-delivery-dlq"
KEYSET_SECRET_NAME: Final = "jit/hmac-keyset"  # noqa: S105 - the secret's name, not a secret
IDENTITY_CENTER_BUDGET: Final = "identity-center"  # the jit_budget item every instance books its calls on

# The backend emits HMAC rejections under these names; JIT-HMACAuthFailures watches exactly them.
METRICS_NAMESPACE: Final = "JIT/Access"
HMAC_AUTH_FAILURES_METRIC: Final = "HMACAuthFailures"
