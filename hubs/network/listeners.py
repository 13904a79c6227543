"""Network news' ear on the event bus: runs after the emitting transaction commits.

The news item is written here, synchronously (one insert), and the fan-out is queued; if the
broker is away the item waits with ``fanned_out_at`` empty and the sweeper fans it out later.
"""

from gigafactory.events import Event

from .models import KIND_OF_EVENT


def on_event(event: Event) -> None:
    if event.type not in KIND_OF_EVENT:
        return
    from .services import news_from_event
    from .tasks import fan_out_news

    item = news_from_event(event)
    if item is not None and item.fanned_out_at is None:
        fan_out_news.delay(item.pk)
