"""Events about the system rather than one request (drift, heartbeats, wide session denies).

They carry no actor and no request; the bot posts them to on-call (or, for heartbeats, only
acknowledges them).
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING

from jitwire.timefmt import iso_z

if TYPE_CHECKING:
    from backend.service.unit_of_work import UnitOfWork


def publish_system_event(uow: UnitOfWork, event_type: str, detail: str) -> None:
    event_id = uuid.uuid4().hex
    payload = json.dumps(
        {
            "event_id": event_id,
            "type": event_type,
            "occurred_at": iso_z(uow.now()),
            "actor": None,
            "request": None,
            "detail": detail,
        }
    )
    uow.events.publish(event_id, event_type, payload)
