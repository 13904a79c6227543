"""Events: published events are public (any signed-in person registers, at any hub); drafts
and registrations of a hub are its staff's; a person sees and cancels their own registration;
a startup claims and gives back pitch slots (staff may do it for them).

``member_a`` is registered for hub A's demo day as a startup holding a pitch slot
(``objects_events``).
"""

from pilots.events.models import Event, EventStatus, PitchSlot, Registration, RegistrationStatus
from tests.events.factories import in_days

from .matrix import OWNER_AND_STAFF, PUBLISHED, PUBLISHED_LIST, STAFF_OF_HUB, api, listing, page

# A key reads its own hub's public events only.
PUBLIC_API = PUBLISHED
# The registered person and the hub's staff; through the API also the person's key.
REGISTRANT = OWNER_AND_STAFF
REGISTRANT_API = {**OWNER_AND_STAFF, "personal": "yn"}
# Anyone signed in registers for an event they see, but only once (member_a is registered at A).
REGISTER = {**PUBLISHED, "anon": "nn", "member_a": "nn", "member_b": "yn"}
STAFF_LIST = {"default": "nn", "staff_a": "yh", "staff_b": "hy", "superuser": "yy"}


def slug(name):
    return lambda w, s: {"slug": getattr(s, name).slug}


def pk(name):
    return lambda w, s: {"pk": getattr(s, name).pk}


def event_status(name, status):
    return lambda w, s: Event.objects.get(pk=getattr(s, name).pk).status == status


def event_titled(title):
    return lambda w, s: Event.objects.filter(hub=s.hub, title=title).exists()


def registered(w, s):
    return s.event.registrations.filter(note="Matrix").exists()


def registration_cancelled(w, s):
    return Registration.objects.get(pk=s.registration.pk).status == RegistrationStatus.CANCELLED


def pitch_moved(w, s):
    return Registration.objects.get(pk=s.registration.pk).pitch_slot_id == s.free_pitch_slot.pk


def pitch_released(w, s):
    return Registration.objects.get(pk=s.registration.pk).pitch_slot_id is None


def attended(w, s):
    return Registration.objects.get(pk=s.live_registration.pk).attended is True


def pitch_slot_added(w, s):
    return PitchSlot.objects.filter(event=s.event).count() > 2


def local(moment):
    from django.utils import timezone

    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def event_form(w, s, title="Matrix event"):
    start = in_days(30).replace(hour=10, minute=0)
    return {
        "hub": s.hub.pk,
        "title": title,
        "kind": "workshop",
        "description": "Made by the matrix.",
        "starts_at": local(start),
        "ends_at": local(start.replace(hour=12)),
        "mode": "on_site",
        "place": "Room 1",
        "capacity": 20,
    }


def event_json(w, s):
    start = in_days(30).replace(hour=10, minute=0)
    return {
        "hub": s.hub.slug,
        "title": "Matrix event",
        "kind": "workshop",
        "starts_at": start.isoformat(),
        "ends_at": start.replace(hour=12).isoformat(),
        "mode": "on_site",
        "place": "Room 1",
        "capacity": 20,
    }


def pitch_time(w, s):
    return s.event.starts_at.replace(second=0) + (s.event.ends_at - s.event.starts_at) / 2


ROWS = [
    # --- Public events and registering -----------------------------------------------------------
    page("GET", "events:event_list", **PUBLISHED_LIST, marker=lambda w, s: s.event.title),
    page("GET", "events:event_list", "hh", variant="draft", marker=lambda w, s: s.draft_event.title),
    page("GET", "events:event_detail", **PUBLISHED, args=slug("event")),
    page(
        "GET",
        "events:event_detail",
        **STAFF_OF_HUB,
        variant="draft",
        args=slug("draft_event"),
        note="a draft is its hub's staff's preview",
    ),
    page("GET", "events:event_ics", **PUBLISHED, args=slug("event")),
    page(
        "POST",
        "events:event_register",
        **REGISTER,
        args=slug("event"),
        data={"role": "attendee", "note": "Matrix"},
        effect=registered,
    ),
    page(
        "GET",
        "events:my_registrations",
        "hh",
        anon="nn",
        member_a="yh",
        member_b="hy",
        marker=lambda w, s: s.event.title,
    ),
    page("GET", "events:registration_cancel", **REGISTRANT, args=pk("registration")),
    page("POST", "events:registration_cancel", **REGISTRANT, args=pk("registration"), effect=registration_cancelled),
    page(
        "POST",
        "events:pitch_claim",
        **REGISTRANT,
        args=pk("registration"),
        data=lambda w, s: {"pitch_slot": s.free_pitch_slot.pk},
        effect=pitch_moved,
    ),
    # --- Hub staff ---------------------------------------------------------------------------------
    page("GET", "events:staff_events", **STAFF_LIST, marker=lambda w, s: s.draft_event.title),
    page("GET", "events:staff_event_create", "n", staff_a="y", staff_b="y", superuser="y"),
    page("POST", "events:staff_event_create", **STAFF_OF_HUB, data=event_form, effect=event_titled("Matrix event")),
    page("GET", "events:staff_event_edit", **STAFF_OF_HUB, args=slug("draft_event")),
    page(
        "POST",
        "events:staff_event_edit",
        **STAFF_OF_HUB,
        args=slug("draft_event"),
        data=lambda w, s: event_form(w, s, "Renamed event"),
        effect=event_titled("Renamed event"),
    ),
    page("GET", "events:staff_event_publish", **STAFF_OF_HUB, args=slug("draft_event")),
    page(
        "POST",
        "events:staff_event_publish",
        **STAFF_OF_HUB,
        args=slug("draft_event"),
        effect=event_status("draft_event", EventStatus.PUBLISHED),
    ),
    page("GET", "events:staff_event_cancel", **STAFF_OF_HUB, args=slug("event")),
    page(
        "POST",
        "events:staff_event_cancel",
        **STAFF_OF_HUB,
        args=slug("event"),
        data={"reason": "Matrix"},
        effect=event_status("event", EventStatus.CANCELLED),
    ),
    page("GET", "events:staff_attendance", **STAFF_OF_HUB, args=slug("live_event")),
    page(
        "POST",
        "events:staff_attendance",
        **STAFF_OF_HUB,
        args=slug("live_event"),
        data=lambda w, s: {"shown": [s.live_registration.pk], "present": [s.live_registration.pk]},
        effect=attended,
    ),
    page(
        "POST",
        "events:staff_pitch_slot_add",
        **STAFF_OF_HUB,
        args=slug("event"),
        data=lambda w, s: {"starts_at": local(pitch_time(w, s)), "minutes": 10},
        effect=pitch_slot_added,
    ),
    # --- API ---------------------------------------------------------------------------------------
    api("GET", "api-event-list", **listing(PUBLIC_API, refused=()), marker=lambda w, s: s.event.slug),
    api(
        "GET",
        "api-event-list",
        **listing(STAFF_OF_HUB, refused=()),
        variant="draft",
        marker=lambda w, s: s.draft_event.slug,
    ),
    api("POST", "api-event-list", **STAFF_OF_HUB, data=event_json, effect=event_titled("Matrix event")),
    api("GET", "api-event-detail", **PUBLIC_API, args=slug("event")),
    api("GET", "api-event-detail", **STAFF_OF_HUB, variant="draft", args=slug("draft_event")),
    api(
        "PATCH",
        "api-event-detail",
        **STAFF_OF_HUB,
        args=slug("draft_event"),
        data={"title": "Renamed event"},
        effect=event_titled("Renamed event"),
    ),
    api(
        "POST",
        "api-event-publish",
        **STAFF_OF_HUB,
        args=slug("draft_event"),
        effect=event_status("draft_event", EventStatus.PUBLISHED),
    ),
    api(
        "POST",
        "api-event-cancel",
        **STAFF_OF_HUB,
        args=slug("event"),
        data={"reason": "Matrix"},
        effect=event_status("event", EventStatus.CANCELLED),
    ),
    api(
        "POST",
        "api-event-register",
        **REGISTER,
        partner_a="nn",
        personal="nn",
        args=slug("event"),
        data={"role": "attendee", "note": "Matrix"},
        effect=registered,
        note="a key registers only at its own hub (member_a is registered there already)",
    ),
    api("GET", "api-event-registration-list", **STAFF_OF_HUB, args=slug("event")),
    api("GET", "api-event-pitch-slot-list", **PUBLIC_API, args=slug("event")),
    api(
        "POST",
        "api-event-pitch-slot-list",
        **STAFF_OF_HUB,
        args=slug("event"),
        data=lambda w, s: {"starts_at": pitch_time(w, s).isoformat(), "minutes": 10},
        effect=pitch_slot_added,
    ),
    api(
        "GET",
        "api-event-my-registrations",
        "hh",
        anon="nn",
        partner_a="nn",
        member_a="yh",
        member_b="hy",
        personal="yh",
        marker=lambda w, s: s.event.slug,
        note="one's own registrations only",
    ),
    api("GET", "api-event-registration", **REGISTRANT_API, args=pk("registration")),
    api(
        "POST",
        "api-event-registration-cancel",
        **REGISTRANT_API,
        args=pk("registration"),
        effect=registration_cancelled,
    ),
    api(
        "POST",
        "api-event-registration-attendance",
        **STAFF_OF_HUB,
        args=pk("live_registration"),
        data={"attended": True},
        effect=attended,
    ),
    api(
        "POST",
        "api-event-pitch-slot-claim",
        **REGISTRANT_API,
        args=pk("free_pitch_slot"),
        data=lambda w, s: {"registration": s.registration.pk},
        effect=pitch_moved,
    ),
    api("POST", "api-event-pitch-slot-release", **REGISTRANT_API, args=pk("pitch_slot"), effect=pitch_released),
]
