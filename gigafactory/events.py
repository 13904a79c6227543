"""The portal's event bus: apps say what happened; webhooks and network news listen.

A service calls ``emit("pilot.adapted", hub=pilot.hub, payload={...})`` inside its transaction.
Listeners run only after the transaction commits (``transaction.on_commit``), so a rolled-back
change never announces itself. Listeners must be quick: they enqueue Celery tasks and return.

Listeners register in their app's ``AppConfig.ready()`` with ``listen(handler)``; a handler takes
one ``Event``.
"""

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

log = logging.getLogger(__name__)

# Every event type the portal emits, with a one-line description (used in docs and forms).
EVENT_TYPES: dict[str, str] = {
    "call.opened": "A call for applications opened",
    "application.submitted": "An application was submitted",
    "application.decided": "An application was approved or rejected",
    "allocation.created": "An allocation was created from an approved application",
    "allocation.usage_threshold": "An allocation's usage crossed 50, 80 or 100 % of its credits",
    "allocation.expired": "An allocation expired and its balance returned to the call",
    "pilot.published": "A pilot was published as a case study",
    "pilot.adapted": "A case study was adapted by another hub",
    "lesson.learned": "A hub shared a lesson learned",
    "announcement.posted": "A hub posted an announcement to the network",
    "event.announced": "An event (demo day, training, workshop) was announced",
    "booking.made": "An AI clinic slot was booked",
    "booking.cancelled": "An AI clinic booking was cancelled",
    "system.classified": "An AI system's AI Act classification was submitted",
    "board.decided": "An ethics board decided on an AI system",
    "drift.detected": "A drift batch crossed its thresholds",
}


@dataclass(frozen=True)
class Event:
    type: str
    hub_id: int | None
    payload: dict
    sector: str = ""
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    occurred_at: datetime = field(default_factory=timezone.now)


Handler = Callable[[Event], None]
_listeners: list[Handler] = []


def listen(handler: Handler) -> Handler:
    """Register ``handler`` for every event (idempotent, so ``ready()`` may run twice)."""
    if handler not in _listeners:
        _listeners.append(handler)
    return handler


def emit(event_type: str, *, hub=None, payload: dict, sector: str = "") -> Event:
    """Announce ``event_type`` once the current transaction commits. ``payload`` must be JSON-ready."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"Unknown event type {event_type!r}; add it to gigafactory.events.EVENT_TYPES.")
    event = Event(type=event_type, hub_id=getattr(hub, "pk", hub), payload=payload, sector=sector)

    def deliver():
        for handler in list(_listeners):
            try:
                handler(event)
            except Exception:
                # One broken listener must not stop the others, nor fail the committed request.
                log.exception("event listener %s failed for %s", handler, event.type)

    transaction.on_commit(deliver)
    return event
