"""Reads for clinic pages and the API, with their joins applied (query counts do not grow with rows)."""

from datetime import datetime, time

from django.db.models import Exists, OuterRef, Prefetch, Q
from django.utils import timezone

from . import access
from .models import BookingStatus, ClinicBooking, ClinicSlot, SlotStatus


def _active_booking():
    return ClinicBooking.objects.filter(slot=OuterRef("pk"), status=BookingStatus.BOOKED)


def slot_list(*, user, hub: str = "", topic: str = "", date: str = "", mode: str = "", free: bool = False):
    """Upcoming published slots (from ``date`` on, else from now), soonest first, each with ``is_booked``."""
    qs = access.public_slots(user).select_related("hub", "expert").annotate(is_booked=Exists(_active_booking()))
    start = timezone.now()
    if date:
        day = timezone.make_aware(datetime.combine(datetime.fromisoformat(date).date(), time.min))
        start = max(start, day)
    qs = qs.filter(starts_at__gt=start)
    if hub:
        qs = qs.filter(hub__slug=hub)
    if topic:
        qs = qs.filter(Q(topic__icontains=topic) | Q(description__icontains=topic))
    if mode:
        qs = qs.filter(mode=mode)
    if free:
        qs = qs.filter(is_booked=False)
    return qs.order_by("starts_at", "pk")


def open_slots_for_reschedule(booking, user):
    """Free, upcoming slots of the booking's hub other than its own."""
    return (
        slot_list(user=user, free=True)
        .filter(hub_id=booking.slot.hub_id)
        .exclude(pk=booking.slot_id)
        .exclude(expert=user)
    )


def bookings_of(user):
    return (
        ClinicBooking.objects.filter(user=user)
        .select_related("slot", "slot__hub", "slot__expert")
        .order_by("-slot__starts_at", "-pk")
    )


def expert_slots(user, *, when: str = "upcoming"):
    """Slots the user gives advice in (as the expert), with the active booking and its booker."""
    active = Prefetch(
        "bookings",
        queryset=ClinicBooking.objects.filter(status=BookingStatus.BOOKED).select_related("user"),
        to_attr="active_bookings",
    )
    qs = ClinicSlot.objects.filter(expert=user).select_related("hub", "expert").prefetch_related(active)
    now = timezone.now()
    if when == "past":
        return qs.filter(starts_at__lte=now).order_by("-starts_at", "-pk")
    return qs.filter(starts_at__gt=now, status=SlotStatus.PUBLISHED).order_by("starts_at", "pk")


def hub_slots_for_staff(user, *, hub_ids):
    active = Prefetch(
        "bookings",
        queryset=ClinicBooking.objects.filter(status=BookingStatus.BOOKED).select_related("user"),
        to_attr="active_bookings",
    )
    return (
        ClinicSlot.objects.filter(hub_id__in=hub_ids, starts_at__gt=timezone.now())
        .exclude(expert=user)
        .select_related("hub", "expert")
        .prefetch_related(active)
        .order_by("starts_at", "pk")
    )
