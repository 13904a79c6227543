"""Reads for webhook pages and the API."""

from datetime import timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from . import access
from .models import Delivery, DeliveryStatus


def endpoint_list(user, api_key=None):
    return (
        access.endpoints_for(user, api_key)
        .annotate(
            failed_count=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.FAILED)),
            pending_count=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.PENDING)),
        )
        .order_by("hub__name", "url", "pk")
    )


def endpoint_deliveries(endpoint, *, status="", event_type=""):
    qs = Delivery.objects.filter(endpoint=endpoint)
    if status:
        qs = qs.filter(status=status)
    if event_type:
        qs = qs.filter(event_type=event_type)
    return qs.order_by("-created_at", "-id")


def daily_outcomes(endpoint, days=14) -> list[tuple]:
    """(day, delivered, failed, pending) for the last ``days`` days, oldest first."""
    today = timezone.localdate()
    start = today - timedelta(days=days - 1)
    rows = (
        Delivery.objects.filter(endpoint=endpoint, created_at__date__gte=start)
        .annotate(day=TruncDate("created_at"))
        .values("day", "status")
        .annotate(n=Count("pk"))
    )
    table = {}
    for row in rows:
        table.setdefault(row["day"], {})[row["status"]] = row["n"]
    out = []
    for i in range(days):
        day = start + timedelta(days=i)
        counts = table.get(day, {})
        out.append(
            (
                day,
                counts.get(DeliveryStatus.SUCCEEDED, 0),
                counts.get(DeliveryStatus.FAILED, 0),
                counts.get(DeliveryStatus.PENDING, 0),
            )
        )
    return out
