"""The webhooks' ear on the event bus: runs after the emitting transaction commits.

The deliveries are written here, synchronously (a couple of queries): the rows are the outbox,
so an event is never lost when the broker is away; the sweeper sends what is due.
"""

from gigafactory.events import Event


def on_event(event: Event) -> None:
    from .services import deliveries_create_for_event

    deliveries_create_for_event(event)


def _on_events(events: list[Event]) -> None:
    from .services import deliveries_create_for_events

    deliveries_create_for_events(events)


on_event.many = _on_events  # the events of one commit together (gigafactory.events.emit_many)
