"""The one access layer for AI clinics: pages, the API, the admin and tasks fetch slots and
bookings here.

- Published slots of the hubs a visitor may see are public (anyone may look; booking needs an account).
- A slot is managed by its expert and by staff of its hub.
- A booking is seen by the person who booked it, the slot's expert and staff of the slot's hub.

An API key narrows everything to the key's hub.
"""

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from hubs.access import member_hub_ids, staff_hub_ids, visible_hubs
from hubs.models import STAFF_ROLES, Membership, MembershipStatus, User

from .models import BookingStatus, ClinicBooking, ClinicExpert, ClinicSlot, SlotStatus

# --- Experts -------------------------------------------------------------------------------


def expert_hub_ids(user, api_key=None) -> set[int] | None:
    """Hubs where ``user`` may publish clinic slots: the hubs they run, and the hubs that
    marked them as an expert while they are an active member. ``None``: every hub (superuser)."""
    if not user.is_authenticated:
        return set()
    staff_ids = staff_hub_ids(user, api_key)
    if staff_ids is None:
        return None
    marked = set(
        ClinicExpert.objects.filter(user=user, active=True, hub_id__in=member_hub_ids(user, api_key)).values_list(
            "hub_id", flat=True
        )
    )
    return set(staff_ids) | marked


def is_expert_at(user, hub, api_key=None) -> bool:
    ids = expert_hub_ids(user, api_key)
    return ids is None or hub.pk in ids


def eligible_experts(hub) -> QuerySet:
    """People who may give clinic advice at ``hub``: its active staff and its marked experts."""
    staff = Membership.objects.filter(hub=hub, status=MembershipStatus.ACTIVE, role__in=STAFF_ROLES).values("user_id")
    marked = ClinicExpert.objects.filter(
        hub=hub,
        active=True,
        user__memberships__hub=hub,
        user__memberships__status=MembershipStatus.ACTIVE,
    ).values("user_id")
    return User.objects.filter(Q(pk__in=staff) | Q(pk__in=marked), is_active=True).order_by("name", "email")


# --- Slots ---------------------------------------------------------------------------------


def public_slots(user) -> QuerySet:
    """Published slots of the hubs ``user`` may see (public hubs, plus private hubs they belong to)."""
    return ClinicSlot.objects.filter(status=SlotStatus.PUBLISHED, hub__in=visible_hubs(user))


def slot_for_visitor(user, pk) -> ClinicSlot:
    return get_object_or_404(public_slots(user).select_related("hub", "expert"), pk=pk)


def slots_managed_by(user, api_key=None) -> QuerySet:
    """Slots ``user`` may change: their own as the expert, and every slot of the hubs they run."""
    qs = ClinicSlot.objects.all()
    if not user.is_authenticated:
        return qs.none()
    if api_key is not None:
        qs = qs.filter(hub_id=api_key.hub_id)
    ids = staff_hub_ids(user, api_key)
    if ids is None:
        return qs
    return qs.filter(Q(expert=user) | Q(hub_id__in=ids))


def slot_for_manager(user, pk, *, api_key=None, for_write=False) -> ClinicSlot:
    qs = slots_managed_by(user, api_key).select_related("hub", "expert")
    if for_write:
        qs = qs.select_for_update(of=("self",))
    return get_object_or_404(qs, pk=pk)


def can_manage_slot(user, slot, api_key=None) -> bool:
    if not user.is_authenticated:
        return False
    ids = staff_hub_ids(user, api_key)
    if api_key is not None and slot.hub_id != api_key.hub_id:
        return False
    return ids is None or slot.hub_id in ids or slot.expert_id == user.pk


# --- Bookings ------------------------------------------------------------------------------


def bookings_visible_to(user, api_key=None) -> QuerySet:
    qs = ClinicBooking.objects.all()
    if not user.is_authenticated:
        return qs.none()
    if api_key is not None:
        qs = qs.filter(slot__hub_id=api_key.hub_id)
    ids = staff_hub_ids(user, api_key)
    if ids is None:
        return qs
    visible = Q(user=user) | Q(slot__expert=user)
    if ids:
        visible |= Q(slot__hub_id__in=ids)
    return qs.filter(visible)


def booking_for(user, pk, *, api_key=None, for_write=False) -> ClinicBooking:
    qs = bookings_visible_to(user, api_key).select_related("slot", "slot__hub", "slot__expert", "user")
    if for_write:
        qs = qs.select_for_update(of=("self",))
    return get_object_or_404(qs, pk=pk)


def is_advisor(user, booking, api_key=None) -> bool:
    """The slot's expert or staff of the slot's hub: they see the intake and record the follow-up."""
    return user.is_authenticated and (booking.slot.expert_id == user.pk or can_manage_slot(user, booking.slot, api_key))


def can_cancel(user, booking, now=None) -> bool:
    now = now or timezone.now()
    return (
        booking.status == BookingStatus.BOOKED
        and booking.slot.starts_at > now
        and (booking.user_id == user.pk or is_advisor(user, booking))
    )


def can_reschedule(user, booking, now=None) -> bool:
    now = now or timezone.now()
    return booking.status == BookingStatus.BOOKED and booking.slot.starts_at > now and booking.user_id == user.pk


def can_follow_up(user, booking) -> bool:
    return booking.status == BookingStatus.BOOKED and is_advisor(user, booking)
