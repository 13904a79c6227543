"""The one access layer for events: pages, the API, the admin and tasks fetch events and
registrations here.

- Published (and cancelled) events of the hubs a visitor may see are public.
- Hub staff manage their hubs' events, drafts included, and see their registrations.
- A person sees their own registrations.

An API key narrows everything to the key's hub.
"""

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from hubs.access import is_hub_staff, staff_hub_ids, visible_hubs

from .models import Event, EventStatus, PitchSlot, Registration


def public_events(user) -> QuerySet:
    return Event.objects.filter(status__in=[EventStatus.PUBLISHED, EventStatus.CANCELLED], hub__in=visible_hubs(user))


def events_for_staff(user, api_key=None) -> QuerySet:
    qs = Event.objects.all()
    if not user.is_authenticated:
        return qs.none()
    ids = staff_hub_ids(user, api_key)
    return qs if ids is None else qs.filter(hub_id__in=ids)


def event_for_visitor(user, slug) -> Event:
    """A public event, or a draft the user may manage."""
    qs = Event.objects.filter(
        Q(pk__in=public_events(user).values("pk")) | Q(pk__in=events_for_staff(user).values("pk"))
    )
    return get_object_or_404(qs.select_related("hub"), slug=slug)


def event_for_staff(user, slug, *, api_key=None, for_write=False) -> Event:
    qs = events_for_staff(user, api_key).select_related("hub")
    if for_write:
        qs = qs.select_for_update(of=("self",))
    return get_object_or_404(qs, slug=slug)


def can_manage_event(user, event, api_key=None) -> bool:
    return user.is_authenticated and is_hub_staff(user, event.hub, api_key)


def registrations_visible_to(user, api_key=None) -> QuerySet:
    qs = Registration.objects.all()
    if not user.is_authenticated:
        return qs.none()
    if api_key is not None:
        qs = qs.filter(event__hub_id=api_key.hub_id)
    ids = staff_hub_ids(user, api_key)
    if ids is None:
        return qs
    visible = Q(user=user)
    if ids:
        visible |= Q(event__hub_id__in=ids)
    return qs.filter(visible)


def registration_for(user, pk, *, api_key=None, for_write=False) -> Registration:
    qs = registrations_visible_to(user, api_key).select_related("event", "event__hub", "user", "pitch_slot")
    if for_write:
        qs = qs.select_for_update(of=("self",))
    return get_object_or_404(qs, pk=pk)


def pitch_slot_for_visitor(user, pk, *, api_key=None, for_write=False) -> PitchSlot:
    """A pitch slot of an event the user may see (a public one, or one they manage)."""
    events = Event.objects.filter(
        Q(pk__in=public_events(user).values("pk")) | Q(pk__in=events_for_staff(user, api_key).values("pk"))
    )
    if api_key is not None:
        events = events.filter(hub_id=api_key.hub_id)
    qs = PitchSlot.objects.filter(event__in=events).select_related("event", "event__hub")
    if for_write:
        qs = qs.select_for_update(of=("self",))
    return get_object_or_404(qs, pk=pk)
