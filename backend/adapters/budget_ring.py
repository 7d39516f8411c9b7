"""The call budget's queue as pure decisions: when a ticket may go, and what to do meanwhile.

Calls take tickets in order. With ``places`` calls allowed per window (``rate`` per second, a
window of ``places/rate`` seconds: 1 s at any whole rate), ticket ``i`` uses place ``i mod places``
of a ring and follows ticket ``i - places``, the call that used the place before it. A call may
start once its predecessor's start is a window (plus a small send margin) in the past. Each place
then starts at most one call per window, so no window holds more than ``places`` calls, and a
burst goes out in groups of ``places``, one window apart.

A start is recorded after the call (``Place``): nothing is booked ahead, so a slow table or a busy
host delays calls but never wastes a slot. A call that never records its start (its instance died)
would hold its place up forever, so every ticket has a deadline: it must start within ``grace``
of the moment it was allowed to, or not at all. Once that deadline is past, the next ticket at the
place records the missing one as gone at its deadline (``Skip``) and goes one window later.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Place:
    """What one place of the ring records: the last ticket there and when it started (for a
    skipped ticket, the latest it could have; for a ticket that gave up, its predecessor's start)."""

    ticket: int
    started: Decimal


@dataclass(frozen=True)
class Go:
    """Start at ``at``; if woken after ``deadline``, give the ticket up instead."""

    at: Decimal
    deadline: Decimal


@dataclass(frozen=True)
class Look:
    """The predecessor has not recorded its start yet: read the place again at ``at``."""

    at: Decimal


@dataclass(frozen=True)
class Skip:
    """The predecessor ``missing`` overran its deadline: record it as started at ``started``."""

    missing: Place
    expected: int  # the ticket the place must still hold for the skip to apply


@dataclass(frozen=True)
class Lost:
    """This ticket overran its own deadline and was skipped: take another."""


Plan = Go | Look | Skip | Lost


@dataclass(frozen=True)
class Ring:
    places: int
    window: Decimal  # seconds between two starts at one place (``places/rate`` plus the send margin)
    grace: Decimal  # how long after it may start a ticket may still start
    send_margin: Decimal  # from the start recorded to the request being on the wire
    look_every: Decimal  # between two reads while the predecessor is due

    def place_of(self, ticket: int) -> int:
        return ticket % self.places

    def unused(self, ticket: int) -> Place:
        """What a place that no ticket has used yet stands for: a start long ago, before ticket 0."""
        return Place(self.place_of(ticket) - self.places, Decimal(0))

    def plan(self, ticket: int, seen: Place, asked: Decimal, issued: Decimal, now: Decimal) -> Plan:
        """Decide for ``ticket`` given what its place holds (``seen``) and the time now.

        ``asked`` is when the ticket was asked for and ``issued`` when it came back. A ticket's own
        deadline counts from ``asked``; an earlier ticket's from ``issued``, which no earlier ticket's
        ``asked`` can exceed. So a ticket is never skipped before its own deadline has passed.
        """
        predecessor = ticket - self.places
        if seen.ticket >= ticket:
            return Lost()
        allowed = seen.started + self.window  # when the ticket after ``seen`` may start
        if seen.ticket == predecessor:
            return Go(max(now, allowed), max(allowed, asked) + self.grace)
        overdue = max(allowed, issued) + self.grace  # the latest the ticket after ``seen`` may start
        if now > overdue:  # it is gone, or will give up when it wakes
            return Skip(Place(seen.ticket + self.places, overdue + self.send_margin), seen.ticket)
        # Tickets in between start a window apart: the predecessor records its start about then.
        behind = (predecessor - seen.ticket) // self.places - 1
        due = max(allowed, now) + behind * self.window + self.look_every
        return Look(min(max(due, now + self.look_every), overdue + self.look_every))
