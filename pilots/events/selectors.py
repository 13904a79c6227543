"""Reads for event pages and the API, with joins and counts applied (query counts do not grow with rows)."""

from django.db.models import Case, Count, IntegerField, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from . import access
from .models import Event, PitchSlot, Registration, RegistrationStatus

R = RegistrationStatus


def with_counts(qs):
    return qs.annotate(
        confirmed_count=Count("registrations", filter=Q(registrations__status=R.CONFIRMED), distinct=True),
        waiting_count=Count("registrations", filter=Q(registrations__status=R.WAITLISTED), distinct=True),
    )


def event_list(*, user, q: str = "", hub: str = "", kind: str = "", when: str = "upcoming"):
    qs = with_counts(access.public_events(user).select_related("hub"))
    now = timezone.now()
    if when == "upcoming":
        qs = qs.filter(ends_at__gt=now).order_by("starts_at", "pk")
    elif when == "past":
        qs = qs.filter(ends_at__lte=now).order_by("-starts_at", "-pk")
    else:
        qs = qs.order_by("-starts_at", "-pk")
    if hub:
        qs = qs.filter(hub__slug=hub)
    if kind:
        qs = qs.filter(kind=kind)
    if q:
        qs = qs.filter(Q(title__icontains=q) | Q(description__icontains=q))
    return qs


def events_for_api(*, user, api_key=None):
    """Public events plus the drafts the caller manages, with their counts; a key narrows to its hub."""
    managed = access.events_for_staff(user, api_key)
    qs = Event.objects.filter(Q(pk__in=access.public_events(user).values("pk")) | Q(pk__in=managed.values("pk")))
    if api_key is not None:
        qs = qs.filter(hub_id=api_key.hub_id)
    return with_counts(qs.select_related("hub")).order_by("starts_at", "pk")


def pitch_slots_of(event):
    """The event's pitch slots with their holder (one registration at most: a unique constraint)."""
    holder = Registration.objects.filter(pitch_slot=OuterRef("pk"))
    return (
        PitchSlot.objects.filter(event=event)
        .annotate(
            holder_id=Subquery(holder.values("pk")[:1], output_field=IntegerField()),
            holder_user_id=Subquery(holder.values("user_id")[:1], output_field=IntegerField()),
            holder_name=Subquery(holder.values("organisation_name")[:1]),
        )
        .order_by("starts_at", "pk")
    )


def _ahead():
    return Subquery(
        Registration.objects.filter(event=OuterRef("event"), status=R.WAITLISTED)
        .filter(Q(created_at__lt=OuterRef("created_at")) | Q(created_at=OuterRef("created_at"), pk__lt=OuterRef("pk")))
        .order_by()
        .values("event")
        .annotate(c=Count("pk"))
        .values("c"),
        output_field=IntegerField(),
    )


def with_position(qs):
    """Each registration with ``ahead``: how many people wait before it (waiting list only)."""
    return qs.annotate(ahead=Coalesce(_ahead(), Value(0)))


def registrations_of(user):
    return with_position(
        Registration.objects.filter(user=user).select_related("event", "event__hub", "pitch_slot")
    ).order_by("-event__starts_at", "-pk")


def registrations_of_event(event):
    return with_position(
        Registration.objects.filter(event=event).select_related("user", "pitch_slot", "attendance_marked_by")
    ).order_by(Case(When(status=R.CONFIRMED, then=0), When(status=R.WAITLISTED, then=1), default=2), "created_at", "pk")
