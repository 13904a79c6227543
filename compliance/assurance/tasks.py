"""Assurance tasks. Each takes an id, re-reads, calls one service and is safe to run twice."""

from datetime import timedelta

from celery import shared_task
from django.utils import timezone


@shared_task(acks_late=True)
def compute_fairness_check(check_id: int) -> str:
    """Compute the fairness metrics of one pending run (a finished run is left alone)."""
    from .services import fairness_check_compute

    check = fairness_check_compute(check_id=check_id)
    return "missing" if check is None else check.status


@shared_task(acks_late=True)
def compute_drift_batch(batch_id: int) -> str:
    """Compare one pending batch with its trust anchor (a finished batch is left alone)."""
    from .services import drift_batch_compute

    batch = drift_batch_compute(batch_id=batch_id)
    return "missing" if batch is None else batch.status


@shared_task
def resend_pending(older_than_seconds: int = 300, limit: int = 500) -> int:
    """Periodic: re-send runs still pending after a while (their first send may have been lost)."""
    from .models import DriftBatch, FairnessCheck, RunStatus

    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    sent = 0
    for pk in FairnessCheck.objects.filter(status=RunStatus.PENDING, created_at__lt=cutoff).values_list(
        "pk", flat=True
    )[:limit]:
        compute_fairness_check.delay(pk)
        sent += 1
    for pk in DriftBatch.objects.filter(status=RunStatus.PENDING, created_at__lt=cutoff).values_list("pk", flat=True)[
        :limit
    ]:
        compute_drift_batch.delay(pk)
        sent += 1
    return sent
