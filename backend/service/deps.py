"""The ports a use case works with, bundled once per process by the entry point."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from backend.domain.ports import AuditEntry
from backend.domain.wire import lifecycle_event

if TYPE_CHECKING:
    from datetime import datetime

    from backend.domain.models import AccessRequest
    from backend.domain.ports import (
        AssignmentGateway,
        Clock,
        Directory,
        EventBus,
        HolderLedger,
        IdentityBindings,
        Metrics,
        PolicyStore,
        RequestStore,
        SessionPolicies,
        Workflow,
    )
    from jitwire.models import Person, RequestStatus

log = logging.getLogger("backend.service")


@dataclass
class Deps:
    store: RequestStore
    ledger: HolderLedger
    assignments: AssignmentGateway
    directory: Directory
    identities: IdentityBindings
    workflow: Workflow
    events: EventBus
    policies: PolicyStore
    metrics: Metrics
    clock: Clock
    sessions: SessionPolicies | None = None  # ends live AWS sessions at revoke; None: not wired

    def now(self) -> datetime:
        return self.clock()

    def entry(
        self,
        event_type: str,
        actor: Person | None,
        before: RequestStatus | None,
        after: RequestStatus,
        detail: str | None = None,
    ) -> AuditEntry:
        return AuditEntry(
            event_id=uuid.uuid4().hex,
            type=event_type,
            at=self.now(),
            actor=actor,
            from_status=before,
            to_status=after,
            detail=detail,
        )

    def commit(self, before: AccessRequest, after: AccessRequest, entry: AuditEntry) -> AccessRequest:
        """One conditional write (request + audit + outbox), then publish the event."""
        payload = lifecycle_event(entry, after).model_dump_json()
        self.store.save(before, after, entry, payload)
        self.deliver(entry.event_id, entry.type, payload)
        return after

    def deliver(self, event_id: str, event_type: str, payload: str) -> None:
        """Publish and clear the outbox entry; on failure the reconciler republishes it."""
        try:
            self.events.publish(event_id, event_type, payload)
        except Exception:  # the outbox keeps the event; never fail the transition that committed
            log.exception("ERROR publishing event %s (%s); left in the outbox", event_id, event_type)
            self.metrics.count("EventPublishFailures")
            return
        self.store.delete_outbox(event_id)
