"""Compute tasks. Each takes ids, re-reads, calls one service and is safe to run twice."""

from celery import shared_task


@shared_task(acks_late=True)
def screen_application(application_id: int, screening_round: int) -> str:
    """Run the screening checks of one submission round and apply the track's decision rule."""
    from .screening import screen_and_decide

    return screen_and_decide(application_id=application_id, screening_round=screening_round)


@shared_task
def expire_allocations() -> int:
    """Daily: expire allocations past their end date and return unused credits to the call budget."""
    from .usage import allocations_expire_due

    return allocations_expire_due()
