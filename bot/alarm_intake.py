"""The seam for CloudWatch alarms arriving on ``/sns`` (issue 4 posts them to the on-call channel).

Until then an alarm is answered 501 (SNS retries and the message is not lost silently) and logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from alarms.sns import SnsMessage

log = logging.getLogger("bot.alarms")


@dataclass(frozen=True)
class AlarmOutcome:
    handled: bool
    status_code: int
    detail: str


async def handle_alarm(message: SnsMessage) -> AlarmOutcome:
    """Post one verified alarm notification. Not built yet: says so, loudly, with 501."""
    log.error(
        "alarm notification NOT handled (alarm posting is not implemented yet) message_id=%s topic=%s",
        message.message_id,
        message.topic_arn,
    )
    return AlarmOutcome(handled=False, status_code=501, detail="alarm posting is not implemented yet")
