"""Every write about network news and subscriptions, and the fan-out that delivers news.

The fan-out writes one ``NewsDelivery`` and one inbox ``Notification`` per (item, person) with
``INSERT ... ON CONFLICT DO NOTHING`` (``bulk_create(ignore_conflicts=True)``) in batches, so a
retried or duplicated task delivers nothing twice. E-mails are claimed with a conditional
UPDATE of ``emailed_at`` before they are sent, and released if sending fails.
"""

import logging
from collections import defaultdict
from datetime import timedelta
from itertools import islice

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from gigafactory.audit import audit_record
from gigafactory.events import EVENT_TYPES, Event, emit
from hubs import access as hub_access
from hubs.models import STAFF_ROLES, Hub, Membership, MembershipStatus, Notification, Sector

from . import access
from .models import (
    EVENT_OF_KIND,
    KIND_OF_EVENT,
    POSTABLE_KINDS,
    Audience,
    Delivery,
    NetworkPreference,
    NewsDelivery,
    NewsDigest,
    NewsItem,
    NewsKind,
    Subscription,
)

log = logging.getLogger(__name__)

BATCH = 1000
EMAIL_BATCH = 200
SUBJECT_PREFIX = "[AI Gigafactory Network] "


def _batches(iterable, size):
    iterator = iter(iterable)
    while chunk := list(islice(iterator, size)):
        yield chunk


# --- Posting news ---------------------------------------------------------------------------


@transaction.atomic
def news_post(*, hub, kind, title, body, sector="", url="", acting_user) -> NewsItem:
    """Hub staff post an announcement or a lesson learned to the whole network."""
    if not hub_access.is_hub_staff(acting_user, hub):
        raise PermissionDenied(f"Only staff of {hub} can post news on its behalf.")
    errors = {}
    title, body = (title or "").strip(), (body or "").strip()
    if kind not in POSTABLE_KINDS:
        errors["kind"] = "Post an announcement or a lesson learned."
    if not title:
        errors["title"] = "Give the post a title."
    elif len(title) > 200:
        errors["title"] = "At most 200 characters."
    if not body:
        errors["body"] = "Write what you want the network to know."
    if sector and sector not in Sector.values:
        errors["sector"] = f"Unknown sector '{sector}'."
    if url and not (url.startswith(("https://", "http://")) or url.startswith("/")):
        errors["url"] = "Enter a link starting with https://, http:// or /."
    if errors:
        raise ValidationError(errors)
    payload = {"kind": kind, "title": title, "summary": body[:500], "author": acting_user.display_name}
    if url:
        payload["link"] = url
    event = emit(EVENT_OF_KIND[kind], hub=hub, payload=payload, sector=sector)
    item = NewsItem.objects.create(
        kind=kind,
        hub=hub,
        sector=sector,
        title=title,
        body=body,
        url=url,
        author=acting_user,
        event_id=event.id,
        event_type=event.type,
        payload=payload,
    )
    # The event is announced after commit: its listeners (webhooks, the fan-out) see these too.
    payload["news_item"] = item.pk
    payload["url"] = item.get_absolute_url()
    audit_record(item, "network.news_posted", actor=acting_user, after={"kind": kind, "title": title})
    return item


def news_from_event(event: Event) -> NewsItem | None:
    """The news item of a bus event (made once per event), or ``None`` if it is not news."""
    kind = KIND_OF_EVENT.get(event.type)
    if kind is None:
        return None
    existing = NewsItem.objects.filter(event_id=event.id).first()
    if existing is not None:
        return existing
    payload = event.payload or {}
    hub_id = event.hub_id if event.hub_id and Hub.objects.filter(pk=event.hub_id).exists() else None
    try:
        with transaction.atomic():
            return NewsItem.objects.create(
                kind=kind,
                hub_id=hub_id,
                sector=event.sector if event.sector in Sector.values else "",
                title=str(payload.get("title") or EVENT_TYPES[event.type])[:200],
                body=str(payload.get("summary") or ""),
                url=str(payload.get("url") or "")[:300],
                event_id=event.id,
                event_type=event.type,
                payload=payload,
            )
    except IntegrityError:  # the same event recorded concurrently
        return NewsItem.objects.get(event_id=event.id)


# --- Fan-out --------------------------------------------------------------------------------


def _topic_matches(item: NewsItem) -> Q:
    return (
        (Q(hub__isnull=True) | Q(hub_id=item.hub_id))
        & (Q(sector="") | Q(sector=item.sector))
        & (Q(kind="") | Q(kind=item.kind))
    )


def recipients(item: NewsItem) -> dict[int, str]:
    """User id -> delivery mode for everyone whose subscriptions match ``item``.

    Immediate wins when a person matches several subscriptions. Items of a private hub reach
    only its members; the author does not receive their own post.
    """
    matching = Subscription.objects.filter(_topic_matches(item))
    chosen: dict[int, str] = {}
    undecided: set[int] = set()

    def add(user_id, delivery):
        if delivery == Delivery.IMMEDIATE or chosen.get(user_id) == Delivery.IMMEDIATE:
            chosen[user_id] = Delivery.IMMEDIATE
            undecided.discard(user_id)
        elif delivery == Delivery.DIGEST:
            chosen[user_id] = Delivery.DIGEST
            undecided.discard(user_id)
        elif user_id not in chosen:
            undecided.add(user_id)

    personal = matching.filter(user__isnull=False, user__is_active=True).values_list("user_id", "delivery")
    for user_id, delivery in personal.iterator(chunk_size=BATCH):
        add(user_id, delivery)
    hub_subs = list(matching.filter(subscriber_hub__isnull=False).values_list("subscriber_hub_id", "audience"))
    if hub_subs:
        staff_hubs = {h for h, audience in hub_subs if audience == Audience.STAFF}
        member_hubs = {h for h, audience in hub_subs if audience == Audience.MEMBERS}
        people = Membership.objects.filter(status=MembershipStatus.ACTIVE, user__is_active=True).filter(
            Q(hub_id__in=member_hubs) | Q(hub_id__in=staff_hubs, role__in=STAFF_ROLES)
        )
        for user_id in people.values_list("user_id", flat=True).distinct().iterator(chunk_size=BATCH):
            add(user_id, "")
    for chunk in _batches(sorted(undecided), BATCH):
        digesters = NetworkPreference.objects.filter(user_id__in=chunk, delivery=Delivery.DIGEST)
        digest_ids = set(digesters.values_list("user_id", flat=True))
        for user_id in chunk:
            chosen[user_id] = Delivery.DIGEST if user_id in digest_ids else Delivery.IMMEDIATE
    if item.hub_id is not None and not Hub.objects.filter(pk=item.hub_id, public=True).exists():
        members = set(
            Membership.objects.filter(hub_id=item.hub_id, status=MembershipStatus.ACTIVE).values_list(
                "user_id", flat=True
            )
        )
        chosen = {u: m for u, m in chosen.items() if u in members}
    chosen.pop(item.author_id, None)
    return chosen


def _inbox_title(item: NewsItem) -> str:
    where = f" ({item.hub.name})" if item.hub_id else ""
    return f"{item.get_kind_display()}{where}: {item.title}"[:200]


def news_fan_out(*, item_id: int) -> int:
    """Deliver an item to every matching subscriber, once. Returns the number of recipients.

    Safe to run again (after a crash, a retry, or twice at once): the unique (item, user) and
    (user, dedupe_key) keys make repeated inserts do nothing.
    """
    item = NewsItem.objects.select_related("hub").filter(pk=item_id).first()
    if item is None:
        return 0
    dedupe_key = f"network.news:{item.pk}"
    title = _inbox_title(item)
    body = item.body if len(item.body) <= 600 else item.body[:597] + "…"
    for chunk in _batches(recipients(item).items(), BATCH):
        with transaction.atomic():
            NewsDelivery.objects.bulk_create(
                [NewsDelivery(item=item, user_id=user_id, mode=mode) for user_id, mode in chunk],
                ignore_conflicts=True,
            )
            Notification.objects.bulk_create(
                [
                    Notification(
                        user_id=user_id,
                        kind=f"network.{item.kind}",
                        title=title,
                        body=body,
                        url=item.link,
                        dedupe_key=dedupe_key,
                    )
                    for user_id, _mode in chunk
                ],
                ignore_conflicts=True,
            )
    count = NewsDelivery.objects.filter(item=item).count()
    NewsItem.objects.filter(pk=item.pk).update(fanned_out_at=timezone.now(), recipient_count=count)
    return count


# --- E-mail ---------------------------------------------------------------------------------


def _wants_email(user) -> bool:
    profile = getattr(user, "profile", None)
    return user.is_active and bool(user.email) and (profile is None or profile.email_notifications)


def _claim_batch(qs, size) -> list[int]:
    """Mark up to ``size`` rows of ``qs`` as e-mailed and return their ids (skipping rows
    another worker holds)."""
    with transaction.atomic():
        ids = list(qs.select_for_update(skip_locked=True).values_list("pk", flat=True)[:size])
        if ids:
            NewsDelivery.objects.filter(pk__in=ids, emailed_at__isnull=True).update(emailed_at=timezone.now())
    return ids


def news_send_immediate(*, item_id: int) -> int:
    """E-mail the item to its immediate recipients, in batches over one SMTP connection each.
    Returns how many e-mails went out. A second run sends nothing already sent."""
    item = NewsItem.objects.select_related("hub").filter(pk=item_id).first()
    if item is None:
        return 0
    pending = NewsDelivery.objects.filter(item=item, mode=Delivery.IMMEDIATE, emailed_at__isnull=True).order_by("pk")
    sent = 0
    while ids := _claim_batch(pending, EMAIL_BATCH):
        deliveries = NewsDelivery.objects.filter(pk__in=ids).select_related("user", "user__profile")
        messages = [
            EmailMessage(
                subject=SUBJECT_PREFIX + _inbox_title(item),
                body=render_to_string(
                    "email/network_item.txt", {"item": item, "user": d.user, "site_url": settings.SITE_URL}
                ),
                to=[d.user.email],
            )
            for d in deliveries
            if _wants_email(d.user)
        ]
        try:
            if messages:
                get_connection().send_messages(messages)
        except OSError:
            NewsDelivery.objects.filter(pk__in=ids).update(emailed_at=None)
            raise
        sent += len(messages)
    return sent


def digest_prepare(*, day) -> int:
    """Gather each person's waiting digest items into their digest of ``day`` (one per person
    and day). Items arriving after a person's digest was sent wait for the next day."""
    user_ids = (
        NewsDelivery.objects.filter(mode=Delivery.DIGEST, emailed_at__isnull=True, digest__isnull=True)
        .values_list("user_id", flat=True)
        .distinct()
    )
    prepared = 0
    for user_id in list(user_ids):
        with transaction.atomic():
            digest, _created = NewsDigest.objects.get_or_create(user_id=user_id, day=day)
            if digest.sent_at is not None:
                continue
            NewsDelivery.objects.filter(
                user_id=user_id, mode=Delivery.DIGEST, emailed_at__isnull=True, digest__isnull=True
            ).update(digest=digest)
            prepared += 1
    return prepared


def _digest_sections(deliveries) -> list[tuple[str, list[NewsItem]]]:
    groups = defaultdict(list)
    for delivery in deliveries:
        groups[delivery.item.kind].append(delivery.item)
    labels = dict(NewsKind.choices)
    return [(labels[kind], groups[kind]) for kind in NewsKind.values if kind in groups]


def digest_send(*, digest_id: int) -> bool:
    """Send one prepared digest, once (the conditional UPDATE of ``sent_at`` claims it)."""
    now = timezone.now()
    if not NewsDigest.objects.filter(pk=digest_id, sent_at__isnull=True).update(sent_at=now):
        return False
    digest = NewsDigest.objects.select_related("user", "user__profile").get(pk=digest_id)
    deliveries = list(
        digest.deliveries.filter(emailed_at__isnull=True)
        .select_related("item", "item__hub")
        .order_by("item__created_at", "item_id")
    )
    if not deliveries:
        NewsDigest.objects.filter(pk=digest_id).update(item_count=0)
        return False
    sections = _digest_sections(deliveries)
    try:
        if _wants_email(digest.user):
            context = {"digest": digest, "user": digest.user, "sections": sections, "count": len(deliveries)}
            EmailMessage(
                subject=f"{SUBJECT_PREFIX}Network news: {len(deliveries)} item{'s' if len(deliveries) != 1 else ''}"
                f" for {digest.day:%d %B %Y}",
                body=render_to_string("email/network_digest.txt", context | {"site_url": settings.SITE_URL}),
                to=[digest.user.email],
            ).send()
    except OSError:
        NewsDigest.objects.filter(pk=digest_id).update(sent_at=None)
        raise
    NewsDelivery.objects.filter(pk__in=[d.pk for d in deliveries]).update(emailed_at=now)
    NewsDigest.objects.filter(pk=digest_id).update(item_count=len(deliveries))
    return True


def digests_send_daily(*, day=None) -> int:
    """Prepare and send the digests of ``day`` (default: today); also sends earlier digests a
    failure left unsent. Returns how many digests went out. Safe to run any number of times."""
    day = day or timezone.localdate()
    digest_prepare(day=day)
    sent = 0
    for digest_id in NewsDigest.objects.filter(sent_at__isnull=True).values_list("pk", flat=True):
        sent += digest_send(digest_id=digest_id)
    return sent


# --- Subscriptions --------------------------------------------------------------------------

ALREADY_FOLLOWED = "This topic is already followed; change its delivery instead."


@transaction.atomic
def subscription_create(
    *, acting_user, user=None, subscriber_hub=None, audience=Audience.STAFF, hub=None, sector="", kind="", delivery=""
) -> Subscription:
    """Follow a topic: a person for themselves, or hub staff for their hub."""
    if (user is None) == (subscriber_hub is None):
        raise ValueError("A subscription belongs to a person or to a hub.")
    if user is not None and user.pk != acting_user.pk:
        raise PermissionDenied("People choose their own subscriptions.")
    if subscriber_hub is not None and not hub_access.is_hub_staff(acting_user, subscriber_hub):
        raise PermissionDenied(f"Only staff of {subscriber_hub} manage its subscriptions.")
    errors = {}
    if hub is None and not sector and not kind:
        errors["__all__"] = "Choose at least one of: a hub, a sector, a kind of news."
    if hub is not None and not access.hub_visible(acting_user, hub):
        errors["hub"] = "No such hub."
    if sector and sector not in Sector.values:
        errors["sector"] = f"Unknown sector '{sector}'."
    if kind and kind not in NewsKind.values:
        errors["kind"] = f"Unknown kind of news '{kind}'."
    if delivery and delivery not in Delivery.values:
        errors["delivery"] = f"Choose one of: {', '.join(Delivery.values)}."
    if audience not in Audience.values:
        errors["audience"] = f"Choose one of: {', '.join(Audience.values)}."
    if errors:
        raise ValidationError(errors)
    subscription = Subscription(
        user=user,
        subscriber_hub=subscriber_hub,
        audience=audience if subscriber_hub is not None else Audience.STAFF,
        hub=hub,
        sector=sector,
        kind=kind,
        delivery=delivery if user is not None else "",
        created_by=acting_user,
    )
    same = Subscription.objects.filter(user=user, subscriber_hub=subscriber_hub, hub=hub, sector=sector, kind=kind)
    if same.exists():
        raise ValidationError({"__all__": ALREADY_FOLLOWED})
    try:
        with transaction.atomic():
            subscription.save()
    except IntegrityError as exc:  # the same topic followed concurrently
        raise ValidationError({"__all__": ALREADY_FOLLOWED}) from exc
    audit_record(
        subscription,
        "network.subscribed",
        actor=acting_user,
        hub=subscriber_hub,
        after={"topic": subscription.topic_label, "delivery": subscription.delivery},
    )
    return subscription


@transaction.atomic
def subscription_update(*, subscription, acting_user, delivery=None, audience=None) -> Subscription:
    access.require_subscription_owner(acting_user, subscription)
    errors = {}
    if delivery is not None and delivery and delivery not in Delivery.values:
        errors["delivery"] = f"Choose one of: {', '.join(Delivery.values)}."
    if audience is not None and audience not in Audience.values:
        errors["audience"] = f"Choose one of: {', '.join(Audience.values)}."
    if errors:
        raise ValidationError(errors)
    before = {"delivery": subscription.delivery, "audience": subscription.audience}
    if delivery is not None and subscription.user_id:
        subscription.delivery = delivery
    if audience is not None and subscription.subscriber_hub_id:
        subscription.audience = audience
    subscription.save(update_fields=["delivery", "audience"])
    audit_record(
        subscription,
        "network.subscription_changed",
        actor=acting_user,
        hub=subscription.subscriber_hub,
        before=before,
        after={"delivery": subscription.delivery, "audience": subscription.audience},
    )
    return subscription


@transaction.atomic
def subscription_delete(*, subscription, acting_user) -> None:
    access.require_subscription_owner(acting_user, subscription)
    audit_record(
        subscription,
        "network.unsubscribed",
        actor=acting_user,
        hub=subscription.subscriber_hub,
        before={"topic": subscription.topic_label},
    )
    subscription.delete()


@transaction.atomic
def preference_set(*, user, delivery) -> NetworkPreference:
    if delivery not in Delivery.values:
        raise ValidationError({"delivery": f"Choose one of: {', '.join(Delivery.values)}."})
    preference, _ = NetworkPreference.objects.update_or_create(user=user, defaults={"delivery": delivery})
    return preference


def preference_of(user) -> str:
    value = NetworkPreference.objects.filter(user=user).values_list("delivery", flat=True).first()
    return value or Delivery.IMMEDIATE


def stalled_email_item_ids(now=None, older_than=timedelta(minutes=10)) -> list[int]:
    """Items with immediate e-mails still owed long after their fan-out (the message was lost)."""
    now = now or timezone.now()
    return list(
        NewsDelivery.objects.filter(mode=Delivery.IMMEDIATE, emailed_at__isnull=True, created_at__lte=now - older_than)
        .values_list("item_id", flat=True)
        .distinct()[:500]
    )


def stalled_item_ids(now=None, older_than=timedelta(minutes=2)) -> list[int]:
    """Items whose fan-out has not run (its message was lost): the news items are the outbox."""
    now = now or timezone.now()
    return list(
        NewsItem.objects.filter(fanned_out_at__isnull=True, created_at__lte=now - older_than).values_list(
            "pk", flat=True
        )[:500]
    )


# --- Calls opening --------------------------------------------------------------------------


def calls_announce_opened(now=None) -> int:
    """Emit ``call.opened`` once for each published call whose window has begun (and not ended).
    The unique ``CallAnnouncement`` row makes it once per call, also when two runs overlap."""
    from compute.models import Call

    from .models import CallAnnouncement

    now = now or timezone.now()
    due = (
        Call.objects.filter(published=True, opens_at__lte=now, closes_at__gt=now)
        .exclude(pk__in=CallAnnouncement.objects.values("call_id"))
        .select_related("hub")
    )
    count = 0
    for call in due:
        with transaction.atomic():
            _announcement, created = CallAnnouncement.objects.get_or_create(call=call)
            if not created:
                continue
            emit(
                "call.opened",
                hub=call.hub,
                payload={
                    "call": call.pk,
                    "slug": call.slug,
                    "title": call.title,
                    "track": call.track,
                    "summary": (
                        f"{call.hub.name} opened a {call.get_track_display().lower()} call; applications close "
                        f"on {timezone.localtime(call.closes_at):%d %B %Y}."
                    ),
                    "opens_at": call.opens_at.isoformat(),
                    "closes_at": call.closes_at.isoformat(),
                    "url": call.get_absolute_url(),
                },
            )
            count += 1
    return count
