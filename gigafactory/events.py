"""The portal's event bus: apps say what happened; webhooks and network news listen.

A service calls ``emit("pilot.adapted", hub=pilot.hub, payload={...})`` inside its transaction.
Listeners run only after the transaction commits (``transaction.on_commit``), so a rolled-back
change never announces itself. Listeners must be quick: they enqueue Celery tasks and return.

Listeners register in their app's ``AppConfig.ready()`` with ``listen(handler)``; a handler takes
one ``Event``.

Payload convention (network news and webhook receivers read it): ids of the objects concerned
(``"pilot": 12``), plus ``"title"`` (one human line, e.g. the pilot's title) and ``"url"`` (the
page's path, e.g. ``pilot.get_absolute_url()``) when there is a page, and ``"summary"`` for news.
Never put secrets or personal data beyond names in a payload: it leaves the portal by webhook.
"""

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

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
    "case_study.published": "A case study was published to the network showcase",
    "lesson.learned": "A hub shared a lesson learned",
    "announcement.posted": "A hub posted an announcement to the network",
    "event.announced": "An event (demo day, training, workshop) was announced",
    "booking.made": "An AI clinic slot was booked",
    "booking.cancelled": "An AI clinic booking was cancelled",
    "system.classified": "An AI system's AI Act classification was submitted",
    "board.decided": "An ethics board decided on an AI system",
    "drift.detected": "A drift batch crossed its thresholds",
}


# Events about the network's public life: an endpoint or subscriber anywhere in the network may
# receive them. Every other type stays inside the hub it happened in.
PUBLIC_EVENT_TYPES = frozenset(
    {
        "call.opened",
        "pilot.published",
        "pilot.adapted",
        "case_study.published",
        "lesson.learned",
        "announcement.posted",
        "event.announced",
    }
)


@dataclass(frozen=True)
class Event:
    type: str
    hub_id: int | None
    payload: dict
    sector: str = ""
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    occurred_at: datetime = field(default_factory=timezone.now)

    def as_dict(self) -> dict:
        """JSON-ready form, for Celery task arguments."""
        return {
            "id": self.id,
            "type": self.type,
            "hub_id": self.hub_id,
            "payload": self.payload,
            "sector": self.sector,
            "occurred_at": self.occurred_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Event":
        return cls(
            type=data["type"],
            hub_id=data.get("hub_id"),
            payload=data.get("payload") or {},
            sector=data.get("sector") or "",
            id=data["id"],
            occurred_at=datetime.fromisoformat(data["occurred_at"]),
        )


Handler = Callable[[Event], None]
_listeners: list[Handler] = []


def listen(handler: Handler) -> Handler:
    """Register ``handler`` for every event (idempotent, so ``ready()`` may run twice).

    A handler may also offer ``handler.many(events)``; it then gets the events of one commit
    together (``emit_many``), so it can look things up once for all of them.
    """
    if handler not in _listeners:
        _listeners.append(handler)
    return handler


def event(event_type: str, *, hub=None, payload: dict, sector: str = "") -> Event:
    """An ``Event`` checked against ``EVENT_TYPES``, for ``emit_many``."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"Unknown event type {event_type!r}; add it to gigafactory.events.EVENT_TYPES.")
    return Event(type=event_type, hub_id=getattr(hub, "pk", hub), payload=payload, sector=sector)


def emit(event_type: str, *, hub=None, payload: dict, sector: str = "") -> Event:
    """Announce ``event_type`` once the current transaction commits. ``payload`` must be JSON-ready."""
    announced = event(event_type, hub=hub, payload=payload, sector=sector)
    emit_many([announced])
    return announced


def _deliver(events: list[Event]) -> None:
    for handler in list(_listeners):
        many = getattr(handler, "many", None)
        batches = [events] if many is not None else [[e] for e in events]
        for batch in batches:
            try:
                many(batch) if many is not None else handler(batch[0])
            except Exception:
                # One broken listener must not stop the others, nor fail the committed request.
                log.exception("event listener %s failed for %s", handler, ", ".join(e.type for e in batch))


def emit_many(events: list[Event]) -> None:
    """Announce ``events`` (built with ``event``) together once the current transaction commits."""
    if events:
        transaction.on_commit(partial(_deliver, list(events)))
