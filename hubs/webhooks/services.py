"""Every write about webhook endpoints and deliveries, and the delivery attempt itself.

Deliveries are retried with exponential backoff until ``retry_until`` (24 hours after the
event). A pending delivery always has ``next_attempt_at``; ``attempt_delivery`` claims it with
a conditional UPDATE that pushes ``next_attempt_at`` forward by a lease, so two workers (or a
task and the sweeper) never send the same attempt twice. The HTTP request runs outside any
transaction; its result is recorded afterwards.
"""

import ipaddress
import json
import logging
import socket
import time
from datetime import timedelta
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from gigafactory.audit import audit_record
from gigafactory.errors import InvalidTransition
from gigafactory.events import EVENT_TYPES, PUBLIC_EVENT_TYPES, Event
from hubs.models import STAFF_ROLES, Hub, MembershipStatus, User
from hubs.services import notify

from . import access, signing
from .models import Delivery, DeliveryAttempt, DeliveryStatus, Endpoint, EndpointScope, EndpointStatus

log = logging.getLogger(__name__)

ALL_EVENTS = "*"
TEST_EVENT = "ping"
RETRY_WINDOW = timedelta(hours=24)
FIRST_RETRY = timedelta(seconds=30)
MAX_RETRY_DELAY = timedelta(hours=4)
# While an attempt runs, its delivery is not due: a crashed worker's attempt is retried after this.
ATTEMPT_LEASE = timedelta(minutes=2)
# An endpoint is disabled after this many failed attempts in a row spanning at least
# DISABLE_MIN_FAILING (so a short outage during a burst does not disable it), or when a
# delivery gives up after RETRY_WINDOW.
DISABLE_AFTER_FAILURES = 10
DISABLE_MIN_FAILING = timedelta(hours=1)
CONNECT_TIMEOUT = 3.05
READ_TIMEOUT = 10
USER_AGENT = "Gigafactory-Webhooks/1.0"
SWEEP_BATCH = 500


# --- Helpers --------------------------------------------------------------------------------


def _actor(acting_user):
    return acting_user if acting_user is not None and acting_user.is_authenticated else None


def _actor_label(api_key) -> str:
    if api_key is not None and api_key.partner_id is not None:
        return f"partner key {api_key}"
    return ""


def _require_manager(acting_user, hub, api_key):
    if not access.may_manage_hub(acting_user, hub, api_key):
        raise PermissionDenied(f"Only staff of {hub} (or its partner systems) manage its webhooks.")


def allow_private_addresses() -> bool:
    """Private, loopback and link-local targets: allowed in the embedded/dev mode (tests use
    127.0.0.1), refused in production unless ``WEBHOOKS_ALLOW_PRIVATE_ADDRESSES`` is set."""
    return getattr(settings, "WEBHOOKS_ALLOW_PRIVATE_ADDRESSES", not getattr(settings, "PROD", False))


def private_address_problem(url: str) -> str | None:
    """Why ``url`` may not be called (it resolves to a non-public address), or ``None``."""
    if allow_private_addresses():
        return None
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return f"The host {host!r} cannot be resolved."
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            return f"The host {host!r} resolves to a private or reserved address; use a public URL."
    return None


def clean_url(url: str) -> str:
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError({"url": "Enter an http:// or https:// URL with a host name."})
    if parts.username or parts.password:
        raise ValidationError({"url": "Do not put credentials in the URL; verify our signature instead."})
    if len(url) > 500:
        raise ValidationError({"url": "The URL is longer than 500 characters."})
    problem = private_address_problem(url)
    if problem:
        raise ValidationError({"url": problem})
    return url


def clean_event_types(event_types) -> list[str]:
    if isinstance(event_types, str) or not event_types:
        raise ValidationError({"event_types": "Choose at least one event type (or '*' for all)."})
    unknown = sorted({t for t in event_types if t != ALL_EVENTS and t not in EVENT_TYPES})
    if unknown:
        raise ValidationError({"event_types": f"Unknown event type(s): {', '.join(unknown)}."})
    return [ALL_EVENTS] if ALL_EVENTS in event_types else sorted(set(event_types))


def clean_scope(scope: str) -> str:
    if scope not in EndpointScope.values:
        raise ValidationError({"scope": f"Choose one of: {', '.join(EndpointScope.values)}."})
    return scope


def endpoint_secret(endpoint: Endpoint) -> str:
    return signing.decrypt(endpoint.secret_encrypted)


def wants(endpoint: Endpoint, event_type: str) -> bool:
    return ALL_EVENTS in endpoint.event_types or event_type in endpoint.event_types


# --- Endpoints ------------------------------------------------------------------------------


@transaction.atomic
def endpoint_create(
    *, hub, url, event_types, description="", scope=EndpointScope.HUB, partner=None, acting_user, api_key=None
) -> tuple[Endpoint, str]:
    """Register an endpoint; returns it with its signing secret, which is shown to the caller once."""
    _require_manager(acting_user, hub, api_key)
    if api_key is not None and api_key.partner_id is not None:
        partner = api_key.partner
    if partner is not None and partner.hub_id != hub.pk:
        raise ValidationError({"partner": f"{partner} belongs to another hub."})
    errors = {}
    cleaned = {}
    for field, cleaner, value in (
        ("url", clean_url, url),
        ("event_types", clean_event_types, event_types),
        ("scope", clean_scope, scope),
    ):
        try:
            cleaned[field] = cleaner(value)
        except ValidationError as exc:
            errors |= exc.message_dict
    if len(description) > 200:
        errors["description"] = ["At most 200 characters."]
    if errors:
        raise ValidationError(errors)
    secret = signing.new_secret()
    endpoint = Endpoint.objects.create(
        hub=hub,
        partner=partner,
        description=description.strip(),
        secret_encrypted=signing.encrypt(secret),
        secret_hint=secret[-4:],
        created_by=_actor(acting_user),
        **cleaned,
    )
    audit_record(
        endpoint,
        "webhook.endpoint_created",
        actor=_actor(acting_user),
        actor_label=_actor_label(api_key),
        after={"url": endpoint.url, "event_types": endpoint.event_types, "scope": endpoint.scope},
    )
    return endpoint, secret


@transaction.atomic
def endpoint_update(*, endpoint, acting_user, api_key=None, **fields) -> Endpoint:
    """Change url, event_types, scope or description (other fields are refused)."""
    _require_manager(acting_user, endpoint.hub, api_key)
    allowed = {"url": clean_url, "event_types": clean_event_types, "scope": clean_scope, "description": str.strip}
    unknown = set(fields) - set(allowed)
    if unknown:
        raise ValidationError({f: "This field cannot be changed." for f in sorted(unknown)})
    before = {f: getattr(endpoint, f) for f in fields}
    errors = {}
    for field, value in fields.items():
        try:
            setattr(endpoint, field, allowed[field](value))
        except ValidationError as exc:
            errors |= exc.message_dict
    if len(endpoint.description) > 200:
        errors["description"] = ["At most 200 characters."]
    if errors:
        endpoint.refresh_from_db()
        raise ValidationError(errors)
    endpoint.save(update_fields=[*fields, "updated_at"])
    audit_record(
        endpoint,
        "webhook.endpoint_updated",
        actor=_actor(acting_user),
        actor_label=_actor_label(api_key),
        before=before,
        after={f: getattr(endpoint, f) for f in fields},
    )
    return endpoint


@transaction.atomic
def endpoint_rotate_secret(*, endpoint, acting_user, api_key=None) -> tuple[Endpoint, str]:
    """A new secret, effective at once for the next attempt; returned once."""
    _require_manager(acting_user, endpoint.hub, api_key)
    secret = signing.new_secret()
    Endpoint.objects.filter(pk=endpoint.pk).update(
        secret_encrypted=signing.encrypt(secret), secret_hint=secret[-4:], updated_at=timezone.now()
    )
    endpoint.refresh_from_db()
    audit_record(endpoint, "webhook.secret_rotated", actor=_actor(acting_user), actor_label=_actor_label(api_key))
    return endpoint, secret


def _set_status(endpoint, action, *, allowed, to, acting_user, api_key, extra=None):
    _require_manager(acting_user, endpoint.hub, api_key)
    won = Endpoint.objects.filter(pk=endpoint.pk, status__in=allowed).update(
        status=to, updated_at=timezone.now(), **(extra or {})
    )
    if won != 1:
        endpoint.refresh_from_db()
        raise InvalidTransition(endpoint, action, f"Cannot {action} this endpoint while it is {endpoint.status}.")
    before = endpoint.status
    endpoint.refresh_from_db()
    audit_record(
        endpoint,
        f"webhook.endpoint_{action}d" if action.endswith("e") else f"webhook.endpoint_{action}ed",
        actor=_actor(acting_user),
        actor_label=_actor_label(api_key),
        before={"status": before},
        after={"status": endpoint.status},
    )
    return endpoint


@transaction.atomic
def endpoint_pause(*, endpoint, acting_user, api_key=None) -> Endpoint:
    """Stop sending (pending deliveries wait, and give up after their 24 hours)."""
    return _set_status(
        endpoint,
        "pause",
        allowed=[EndpointStatus.ACTIVE],
        to=EndpointStatus.PAUSED,
        acting_user=acting_user,
        api_key=api_key,
    )


@transaction.atomic
def endpoint_enable(*, endpoint, acting_user, api_key=None) -> Endpoint:
    """Paused or disabled -> active; the failure count starts again, waiting deliveries resume."""
    endpoint = _set_status(
        endpoint,
        "enable",
        allowed=[EndpointStatus.PAUSED, EndpointStatus.DISABLED],
        to=EndpointStatus.ACTIVE,
        acting_user=acting_user,
        api_key=api_key,
        extra={"consecutive_failures": 0, "disabled_at": None, "disabled_reason": "", "failing_since": None},
    )
    now = timezone.now()
    Delivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING).update(
        next_attempt_at=now, retry_until=now + RETRY_WINDOW
    )
    _enqueue_due(endpoint)
    return endpoint


@transaction.atomic
def endpoint_delete(*, endpoint, acting_user, api_key=None) -> None:
    _require_manager(acting_user, endpoint.hub, api_key)
    audit_record(
        endpoint,
        "webhook.endpoint_deleted",
        actor=_actor(acting_user),
        actor_label=_actor_label(api_key),
        before={"url": endpoint.url, "event_types": endpoint.event_types},
    )
    endpoint.delete()


def _enqueue_due(endpoint):
    from .tasks import attempt_delivery

    for pk in Delivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.PENDING).values_list("pk", flat=True):
        attempt_delivery.delay_on_commit(pk)


# --- Deliveries -----------------------------------------------------------------------------


def event_body(event: Event, hub: Hub | None) -> str:
    """The JSON document POSTed for ``event``: the same bytes for every endpoint and retry."""
    document = {
        "id": event.id,
        "type": event.type,
        "created_at": event.occurred_at,
        "hub": {"id": hub.pk, "slug": hub.slug, "name": hub.name} if hub else None,
        "sector": event.sector or None,
        "data": event.payload,
    }
    return json.dumps(document, cls=DjangoJSONEncoder, separators=(",", ":"), sort_keys=True)


def endpoints_for_events(events: list[Event]) -> dict[str, list[Endpoint]]:
    """For each event id, the active endpoints that want it: those of its hub, and network-scoped
    ones for public news. One query for all the events."""
    from django.db.models import Q

    where = Q(pk__in=[])
    hubs = {e.hub_id for e in events if e.hub_id is not None}
    if hubs:
        where |= Q(hub_id__in=hubs)
    if any(e.type in PUBLIC_EVENT_TYPES for e in events):
        where |= Q(scope=EndpointScope.NETWORK)
    candidates = list(Endpoint.objects.filter(where, status=EndpointStatus.ACTIVE).order_by("pk"))
    # event_types is a small JSON list; filtering it in Python works on SQLite and PostgreSQL alike.
    return {
        e.id: [
            endpoint
            for endpoint in candidates
            if (
                (e.hub_id is not None and endpoint.hub_id == e.hub_id)
                or (e.type in PUBLIC_EVENT_TYPES and endpoint.scope == EndpointScope.NETWORK)
            )
            and wants(endpoint, e.type)
        ]
        for e in events
    }


def deliveries_create_for_events(events: list[Event]) -> None:
    """One pending delivery per event and matching endpoint; running it again adds nothing."""
    from .tasks import attempt_delivery

    wanted = endpoints_for_events(events)
    events = [e for e in events if wanted[e.id]]
    if not events:
        return
    hubs = Hub.objects.in_bulk({e.hub_id for e in events if e.hub_id is not None})
    now = timezone.now()
    with transaction.atomic():
        Delivery.objects.bulk_create(
            [
                Delivery(
                    endpoint=endpoint,
                    event_id=e.id,
                    event_type=e.type,
                    body=event_body(e, hubs.get(e.hub_id)),
                    next_attempt_at=now,
                    retry_until=e.occurred_at + RETRY_WINDOW,
                )
                for e in events
                for endpoint in wanted[e.id]
            ],
            ignore_conflicts=True,
        )
        waiting = Delivery.objects.filter(
            event_id__in=[e.id for e in events], status=DeliveryStatus.PENDING, attempt_count=0
        ).values_list("pk", flat=True)
        for pk in waiting:
            attempt_delivery.delay_on_commit(pk)


def deliveries_create_for_event(event: Event) -> int:
    """One pending delivery per matching endpoint; running it again adds nothing. Returns the
    number of deliveries that exist for the event."""
    deliveries_create_for_events([event])
    return Delivery.objects.filter(event_id=event.id).count()


@transaction.atomic
def send_test_event(*, endpoint, acting_user, api_key=None) -> Delivery:
    """Queue a ``ping`` to the endpoint (also when paused, never when disabled)."""
    from .tasks import attempt_delivery

    _require_manager(acting_user, endpoint.hub, api_key)
    now = timezone.now()
    event = Event(
        type=TEST_EVENT,
        hub_id=endpoint.hub_id,
        payload={"message": "A test event from the AI Gigafactory Network portal.", "endpoint": endpoint.pk},
    )
    delivery = Delivery.objects.create(
        endpoint=endpoint,
        event_id=event.id,
        event_type=TEST_EVENT,
        body=event_body(event, endpoint.hub),
        next_attempt_at=now,
        retry_until=now + RETRY_WINDOW,
    )
    audit_record(
        endpoint,
        "webhook.test_sent",
        actor=_actor(acting_user),
        actor_label=_actor_label(api_key),
        after={"delivery": delivery.pk},
    )
    attempt_delivery.delay_on_commit(delivery.pk, True)
    return delivery


@transaction.atomic
def delivery_redeliver(*, delivery, acting_user, api_key=None) -> Delivery:
    """Send the same body again now (new timestamp and signature), with a fresh 24-hour window."""
    from .tasks import attempt_delivery

    endpoint = delivery.endpoint
    _require_manager(acting_user, endpoint.hub, api_key)
    if endpoint.status == EndpointStatus.DISABLED:
        raise InvalidTransition(
            delivery, "redeliver", "The endpoint is disabled after repeated failures; enable it first."
        )
    now = timezone.now()
    before = delivery.status
    Delivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.PENDING, next_attempt_at=now, retry_until=now + RETRY_WINDOW
    )
    delivery.refresh_from_db()
    audit_record(
        delivery,
        "webhook.redelivered",
        actor=_actor(acting_user),
        actor_label=_actor_label(api_key),
        hub=endpoint.hub,
        before={"status": before},
        after={"status": delivery.status},
    )
    attempt_delivery.delay_on_commit(delivery.pk, True, _actor(acting_user).pk if _actor(acting_user) else None)
    return delivery


def backoff(attempt_number: int) -> timedelta:
    """30 s, 1 min, 2 min, 4 min ... capped at 4 hours: about 12 attempts in 24 hours."""
    return min(FIRST_RETRY * 2 ** max(attempt_number - 1, 0), MAX_RETRY_DELAY)


def _claim(delivery_id: int, now, *, force: bool) -> Delivery | None:
    """Take the delivery's next attempt, or ``None`` if it is not due (or not ours to send)."""
    qs = Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
    allowed = [EndpointStatus.ACTIVE, EndpointStatus.PAUSED] if force else [EndpointStatus.ACTIVE]
    qs = qs.filter(endpoint__status__in=allowed)
    won = qs.update(next_attempt_at=now + ATTEMPT_LEASE, attempt_count=F("attempt_count") + 1)
    if won != 1:
        return None
    return Delivery.objects.select_related("endpoint", "endpoint__hub", "endpoint__partner").get(pk=delivery_id)


def _post(endpoint: Endpoint, delivery: Delivery, now) -> tuple[int | None, str, str]:
    """POST the delivery; returns (status code, error, response excerpt). Never raises."""
    problem = private_address_problem(endpoint.url)
    if problem:
        return None, problem[:300], ""
    try:
        secret = endpoint_secret(endpoint)
    except ValueError as exc:
        return None, str(exc)[:300], ""
    body = delivery.body.encode()
    timestamp = int(now.timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Gigafactory-Event": delivery.event_type,
        "X-Gigafactory-Delivery": str(delivery.pk),
        "X-Gigafactory-Event-Id": str(delivery.event_id),
        "X-Gigafactory-Timestamp": str(timestamp),
        "X-Gigafactory-Signature": signing.signature(secret, timestamp, body),
    }
    try:
        with requests.post(
            endpoint.url,
            data=body,
            headers=headers,
            timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
            allow_redirects=False,
            stream=True,
        ) as response:
            excerpt = response.raw.read(500, decode_content=True).decode("utf-8", "replace")
            code = response.status_code
    except requests.RequestException as exc:
        return None, f"{type(exc).__name__}: {_short(exc)}"[:300], ""
    error = "" if 200 <= code < 300 else f"HTTP {code}"
    return code, error, excerpt[:500]


def _short(exc) -> str:
    text = str(exc)
    return text if len(text) < 200 else text[:197] + "…"


def attempt_delivery(delivery_id: int, *, force: bool = False, requested_by_id=None, now=None) -> bool | None:
    """Make the next attempt of a due delivery. ``True``: delivered; ``False``: failed (a retry is
    scheduled or it gave up); ``None``: nothing to do (not due, done, or claimed by another worker).
    ``force`` lets manual sends (test event, redeliver) through a paused endpoint."""
    now = now or timezone.now()
    delivery = _claim(delivery_id, now, force=force)
    if delivery is None:
        return None
    endpoint = delivery.endpoint
    started = time.monotonic()
    code, error, excerpt = _post(endpoint, delivery, now)
    duration = int((time.monotonic() - started) * 1000)
    ok = not error
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery=delivery,
            number=delivery.attempt_count,
            started_at=now,
            duration_ms=duration,
            status_code=code,
            succeeded=ok,
            error=error,
            response_excerpt=excerpt,
            requested_by_id=requested_by_id,
        )
        if ok:
            Delivery.objects.filter(pk=delivery.pk).update(
                status=DeliveryStatus.SUCCEEDED,
                delivered_at=now,
                next_attempt_at=None,
                last_status_code=code,
                last_error="",
            )
            Endpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=0, failing_since=None)
            return True
        gave_up = now + backoff(delivery.attempt_count) > delivery.retry_until
        Delivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.FAILED if gave_up else DeliveryStatus.PENDING,
            next_attempt_at=None if gave_up else now + backoff(delivery.attempt_count),
            last_status_code=code,
            last_error=error,
        )
        _count_failure(endpoint, now, gave_up=gave_up)
    log.info("webhook delivery %s to endpoint %s failed: %s", delivery.pk, endpoint.pk, error)
    return False


def _count_failure(endpoint: Endpoint, now, *, gave_up: bool) -> None:
    Endpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(failing_since=now)
    Endpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=F("consecutive_failures") + 1)
    endpoint.refresh_from_db(fields=["consecutive_failures", "failing_since", "status"])
    streak = endpoint.consecutive_failures >= DISABLE_AFTER_FAILURES and (
        now - endpoint.failing_since >= DISABLE_MIN_FAILING
    )
    if gave_up:
        endpoint_disable(
            endpoint=endpoint,
            reason="A delivery failed on every attempt for 24 hours.",
            now=now,
        )
    elif streak:
        endpoint_disable(
            endpoint=endpoint,
            reason=f"{endpoint.consecutive_failures} attempts in a row failed since "
            f"{timezone.localtime(endpoint.failing_since):%d %B %Y, %H:%M}.",
            now=now,
        )


def _owners(endpoint: Endpoint):
    staff = User.objects.filter(
        memberships__hub=endpoint.hub_id,
        memberships__status=MembershipStatus.ACTIVE,
        memberships__role__in=STAFF_ROLES,
        is_active=True,
    )
    people = set(staff)
    if endpoint.created_by_id and endpoint.created_by.is_active:
        people.add(endpoint.created_by)
    return people


@transaction.atomic
def endpoint_disable(*, endpoint: Endpoint, reason: str, now=None) -> bool:
    """Active -> disabled by the system; tells the owner (inbox and e-mail) once."""
    now = now or timezone.now()
    won = Endpoint.objects.filter(pk=endpoint.pk, status=EndpointStatus.ACTIVE).update(
        status=EndpointStatus.DISABLED, disabled_at=now, disabled_reason=reason[:300], updated_at=now
    )
    if won != 1:
        return False
    endpoint.refresh_from_db()
    audit_record(
        endpoint,
        "webhook.endpoint_disabled",
        actor_label="webhook delivery",
        before={"status": EndpointStatus.ACTIVE},
        after={"status": EndpointStatus.DISABLED, "reason": reason},
    )
    title = f"Webhook endpoint disabled: {endpoint.url}"
    body = (
        f"We stopped sending events to {endpoint.url} ({endpoint.hub}): {reason}\n"
        "Events are kept for 24 hours. Fix the receiver, then enable the endpoint again on its page; "
        "waiting deliveries are sent when you do."
    )
    notify(
        users=_owners(endpoint),
        kind="webhook.disabled",
        title=title,
        body=body,
        url=endpoint.get_absolute_url(),
        dedupe_key=f"webhook.disabled:{endpoint.pk}:{now.isoformat()}",
    )
    if endpoint.partner_id and endpoint.partner.contact_email:
        transaction.on_commit(
            lambda: send_mail(
                subject=f"[AI Gigafactory Network] {title}",
                message=body,
                from_email=None,
                recipient_list=[endpoint.partner.contact_email],
            ),
            robust=True,
        )
    return True


def due_delivery_ids(now=None, limit=SWEEP_BATCH) -> list[int]:
    now = now or timezone.now()
    return list(
        Delivery.objects.filter(
            status=DeliveryStatus.PENDING, next_attempt_at__lte=now, endpoint__status=EndpointStatus.ACTIVE
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


def give_up_expired(now=None) -> int:
    """Pending deliveries of paused endpoints past their window are marked failed (without disabling)."""
    now = now or timezone.now()
    return Delivery.objects.filter(
        status=DeliveryStatus.PENDING,
        retry_until__lt=now,
        endpoint__status__in=[EndpointStatus.PAUSED, EndpointStatus.DISABLED],
    ).update(status=DeliveryStatus.FAILED, next_attempt_at=None, last_error="Gave up: not delivered within 24 hours.")
