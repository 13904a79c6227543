"""Demo webhooks: Lyon's HPC centre receives usage alerts and allocation events, with a few
logged deliveries (one retried before it got through). No HTTP request is made while seeding:
the log is written as it would have been. Idempotent."""

import uuid
from datetime import timedelta

from django.utils import timezone

from gigafactory.events import Event
from hubs.models import Hub, PartnerKind, PartnerSystem, User

from . import services, signing
from .models import Delivery, DeliveryAttempt, DeliveryStatus, Endpoint, EndpointScope

URL = "https://slurm-bridge.lyon-hpc.gigafactory.test/hooks/gigafactory"
EVENTS = ["allocation.created", "allocation.usage_threshold", "allocation.expired", "application.decided"]

# (event type, hours ago, payload, attempts as (status code or None, error, seconds after the event))
HISTORY = [
    (
        "allocation.created",
        240,
        {"allocation": 1, "project": 1, "title": "Lesion detection on CT scans", "granted_millicredits": 40_000_000},
        [(200, "", 1)],
    ),
    (
        "allocation.usage_threshold",
        72,
        {"allocation": 1, "project": 1, "title": "Lesion detection on CT scans", "threshold": 80, "over_limit": False},
        [(503, "HTTP 503", 1), (None, "ConnectionError: connection refused", 31), (200, "", 92)],
    ),
    (
        "allocation.usage_threshold",
        5,
        {"allocation": 1, "project": 1, "title": "Lesion detection on CT scans", "threshold": 100, "over_limit": True},
        [(200, "", 1)],
    ),
]


def seed(log) -> None:
    hub = Hub.objects.filter(slug="lyon").first()
    staff = User.objects.filter(email="lyon.staff@gigafactory.test").first()
    if hub is None or staff is None:
        log("no Lyon hub or staff: run the hubs seed first")
        return
    partner, _ = PartnerSystem.objects.get_or_create(
        hub=hub,
        name="Lyon HPC centre",
        defaults={"kind": PartnerKind.HPC_CENTRE, "contact_email": "ops@lyon-hpc.gigafactory.test"},
    )
    endpoint = Endpoint.objects.filter(hub=hub, url=URL).first()
    if endpoint is None:
        # Written directly rather than through endpoint_create, which would resolve the demo host.
        secret = signing.new_secret()
        endpoint = Endpoint.objects.create(
            hub=hub,
            partner=partner,
            url=URL,
            description="Slurm bridge: holds jobs of allocations past their credits",
            event_types=EVENTS,
            scope=EndpointScope.HUB,
            secret_encrypted=signing.encrypt(secret),
            secret_hint=secret[-4:],
            created_by=staff,
        )
    created = 0
    now = timezone.now()
    for index, (event_type, hours_ago, payload, attempts) in enumerate(HISTORY):
        occurred = now - timedelta(hours=hours_ago)
        event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{URL}#demo-{index}"))  # the same on every run
        if Delivery.objects.filter(endpoint=endpoint, event_id=event_id).exists():
            continue
        event = Event(type=event_type, hub_id=hub.pk, payload=payload, occurred_at=occurred, id=event_id)
        last_code = attempts[-1][0]
        delivered = last_code is not None and 200 <= last_code < 300
        delivery = Delivery.objects.create(
            endpoint=endpoint,
            event_id=event.id,
            event_type=event_type,
            body=services.event_body(event, hub),
            status=DeliveryStatus.SUCCEEDED if delivered else DeliveryStatus.FAILED,
            attempt_count=len(attempts),
            next_attempt_at=None,
            last_status_code=last_code,
            delivered_at=occurred + timedelta(seconds=attempts[-1][2]) if delivered else None,
            retry_until=occurred + services.RETRY_WINDOW,
        )
        Delivery.objects.filter(pk=delivery.pk).update(created_at=occurred)
        DeliveryAttempt.objects.bulk_create(
            [
                DeliveryAttempt(
                    delivery=delivery,
                    number=n,
                    started_at=occurred + timedelta(seconds=after),
                    duration_ms=40 + 7 * n,
                    status_code=code,
                    succeeded=code is not None and 200 <= code < 300,
                    error=error,
                    response_excerpt='{"ok": true}' if code == 200 else "",
                )
                for n, (code, error, after) in enumerate(attempts, start=1)
            ]
        )
        created += 1
    log(f"webhook endpoint for {partner.name}; deliveries logged: {created} new")


def logins() -> list[tuple[str, str]]:
    return [("lyon.staff@gigafactory.test", "Lyon's webhook endpoint and its delivery log (Webhooks)")]
