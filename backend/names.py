"""Names of the deployed resources other than tables (those are in ``backend.adapters.tables``,
``jit_identities`` included).

One source for the template (infra/) and the local stack; ``alarms.sns`` keeps its own copy of the
topic names (it imports nothing from backend) and a test holds the two equal.
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
