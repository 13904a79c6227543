"""Plumbing tasks."""

from celery import shared_task


@shared_task
def forget_expired_idempotency_keys() -> int:
    """Daily (beat): drop the stored answers of ``Idempotency-Key`` requests past their 24 hours."""
    from .idempotency import forget_expired

    return forget_expired()
