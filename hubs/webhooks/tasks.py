"""Webhook tasks. Each takes ids (or a serialised event), re-reads, and is safe to run twice."""

from celery import shared_task

from gigafactory.events import Event


@shared_task(acks_late=True)
def deliver_event(event: dict) -> int:
    """Create the deliveries of one bus event (unique per endpoint and event) and queue them."""
    from .services import deliveries_create_for_event

    return deliveries_create_for_event(Event.from_dict(event))


@shared_task(acks_late=True)
def attempt_delivery(delivery_id: int, force: bool = False, requested_by_id: int | None = None) -> bool | None:
    """One HTTP attempt of a due delivery; a second run finds it not due and does nothing."""
    from .services import attempt_delivery as attempt

    return attempt(delivery_id, force=force, requested_by_id=requested_by_id)


@shared_task
def deliver_due() -> int:
    """Every minute (beat): queue the deliveries whose next attempt is due. Retries live in the
    database, so they survive worker restarts."""
    from .services import due_delivery_ids, give_up_expired

    give_up_expired()
    ids = due_delivery_ids()
    for pk in ids:
        attempt_delivery.delay(pk)
    return len(ids)
