"""AI clinics: public slots (anyone may look, anyone signed in may book another's slot), slots
managed by their expert and the hub's staff, bookings seen by the booker, the expert and the
hub's staff; only the booker moves a booking, only the expert and staff record the follow-up.

``reviewer_a`` is hub A's clinic expert and ``member_a`` booked one of its slots
(``objects_clinics``).
"""

from pilots.clinics.models import BookingStatus, ClinicBooking, ClinicSlot, SlotStatus
from tests.clinics.factories import INTAKE, in_days

from .matrix import PUBLISHED, PUBLISHED_LIST, STAFF_OF_HUB, api, listing, page

# The slot's expert (reviewer_a on hub A), staff of its hub, superusers.
MANAGERS = {**STAFF_OF_HUB, "reviewer_a": "yn"}
MANAGERS_API = MANAGERS  # a personal key is member_a's: no manager
# The booker (member_a / member_b), the slot's expert and staff of its hub.
BOOKING_READERS = {**MANAGERS, "member_a": "yn", "member_b": "ny"}
BOOKING_READERS_API = {**BOOKING_READERS, "personal": "yn"}
# Anyone signed in books a free slot they see, except its own expert; a key only at its hub.
BOOKERS = {**PUBLISHED, "anon": "nn", "reviewer_a": "nn"}


def pk(name):
    return lambda w, s: {"pk": getattr(s, name).pk}


def booked(w, s):
    return s.slot.bookings.filter(status=BookingStatus.BOOKED).exists()


def booking_status(status):
    return lambda w, s: ClinicBooking.objects.get(pk=s.booking.pk).status == status


def slot_withdrawn(w, s):
    return ClinicSlot.objects.get(pk=s.slot.pk).status == SlotStatus.WITHDRAWN


def slot_topic_is(topic):
    return lambda w, s: ClinicSlot.objects.get(pk=s.slot.pk).topic == topic


def followed_up(w, s):
    return ClinicBooking.objects.get(pk=s.booking.pk).followed_up_at is not None


def new_slot(w, s):
    return ClinicSlot.objects.filter(hub=s.hub, topic="Matrix clinic").exists()


def slot_form(w, s):
    start = in_days(20).replace(hour=10, minute=0)
    return {
        "hub": s.hub.pk,
        "expert": s.reviewer.pk,
        "topic": "Matrix clinic",
        "description": "Bring your data.",
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "duration_minutes": 45,
        "mode": "on_site",
        "place": "Room 1",
    }


def edited_slot_form(w, s):
    start = s.slot.starts_at
    return {**slot_form(w, s), "topic": "Renamed clinic", "starts_at": start.strftime("%Y-%m-%dT%H:%M")}


ROWS = [
    # --- Public slots and booking ----------------------------------------------------------------
    page("GET", "clinics:slot_list", **PUBLISHED_LIST, marker=lambda w, s: s.slot.topic),
    page("GET", "clinics:slot_detail", **PUBLISHED, args=pk("slot")),
    page("GET", "clinics:slot_detail", "nn", variant="withdrawn", args=pk("withdrawn_slot")),
    page(
        "POST",
        "clinics:slot_detail",
        **BOOKERS,
        args=pk("slot"),
        data=INTAKE,
        effect=booked,
        note="booking a slot: anyone signed in, not the slot's own expert",
    ),
    # --- Experts and staff manage slots ------------------------------------------------------------
    page(
        "GET",
        "clinics:expert_slots",
        "nn",
        reviewer_a="yh",
        staff_a="yh",
        staff_b="hy",
        superuser="yy",
        marker=lambda w, s: s.slot.topic,
        note="the expert's own slots; staff also their hubs' slots",
    ),
    page("GET", "clinics:slot_create", "y", anon="n", member_a="n", member_b="n", note="clinic experts and hub staff"),
    page("POST", "clinics:slot_create", **MANAGERS, data=slot_form, effect=new_slot),
    page("GET", "clinics:slot_edit", **MANAGERS, args=pk("slot")),
    page(
        "POST",
        "clinics:slot_edit",
        **MANAGERS,
        args=pk("slot"),
        data=edited_slot_form,
        effect=slot_topic_is("Renamed clinic"),
    ),
    page("GET", "clinics:slot_withdraw", **MANAGERS, args=pk("slot")),
    page("POST", "clinics:slot_withdraw", **MANAGERS, args=pk("slot"), data={"reason": "Ill."}, effect=slot_withdrawn),
    # --- Bookings --------------------------------------------------------------------------------
    page(
        "GET",
        "clinics:booking_list",
        "hh",
        anon="nn",
        member_a="yh",
        member_b="hy",
        marker=lambda w, s: s.booked_slot.topic,
        note="the user's own bookings",
    ),
    page("GET", "clinics:booking_detail", **BOOKING_READERS, args=pk("booking")),
    page(
        "POST",
        "clinics:booking_detail",
        **MANAGERS,
        args=pk("booking"),
        data={"notes": "Try a pretrained model."},
        effect=followed_up,
        note="the follow-up: the expert and the hub's staff, not the booker",
    ),
    page("GET", "clinics:booking_ics", **BOOKING_READERS, args=pk("booking")),
    page("GET", "clinics:booking_cancel", **BOOKING_READERS, args=pk("booking")),
    page(
        "POST",
        "clinics:booking_cancel",
        **BOOKING_READERS,
        args=pk("booking"),
        data={"reason": "Matrix"},
        effect=booking_status(BookingStatus.CANCELLED),
    ),
    page(
        "GET",
        "clinics:booking_reschedule",
        "nn",
        member_a="yn",
        member_b="ny",
        reviewer_a="hn",
        staff_a="hn",
        staff_b="nh",
        superuser="hh",
        args=pk("booking"),
        marker=lambda w, s: s.spare_slot.topic,
        note="only the booker moves a booking (advisors are sent back to it)",
    ),
    page(
        "POST",
        "clinics:booking_reschedule",
        "nn",
        member_a="yn",
        member_b="ny",
        args=pk("booking"),
        data=lambda w, s: {"slot": s.spare_slot.pk},
        effect=booking_status(BookingStatus.RESCHEDULED),
    ),
    # --- API -------------------------------------------------------------------------------------
    api(
        "GET", "api-clinic-slot-list", **PUBLISHED_LIST, partner_a="yh", personal="yh", marker=lambda w, s: s.slot.topic
    ),
    api(
        "POST",
        "api-clinic-slot-list",
        **MANAGERS_API,
        data=lambda w, s: {
            "hub": s.hub.slug,
            "expert": s.reviewer.pk,
            "topic": "Matrix clinic",
            "starts_at": in_days(20).replace(hour=10, minute=0).isoformat(),
            "duration_minutes": 45,
            "mode": "on_site",
            "place": "Room 1",
        },
        effect=new_slot,
    ),
    api(
        "GET",
        "api-clinic-slot-detail",
        **PUBLISHED,
        partner_a="yn",
        personal="yn",
        args=pk("slot"),
        note="a key reads its own hub's slots",
    ),
    api(
        "GET",
        "api-clinic-slot-detail",
        **MANAGERS_API,
        variant="withdrawn",
        args=pk("withdrawn_slot"),
        note="a withdrawn slot: only those who manage it",
    ),
    api(
        "PATCH",
        "api-clinic-slot-detail",
        **MANAGERS_API,
        args=pk("slot"),
        data={"topic": "Renamed clinic"},
        effect=slot_topic_is("Renamed clinic"),
    ),
    api(
        "POST",
        "api-clinic-slot-withdraw",
        **MANAGERS_API,
        args=pk("slot"),
        data={"reason": "Ill."},
        effect=slot_withdrawn,
    ),
    api(
        "POST",
        "api-clinic-slot-book",
        **BOOKERS,
        partner_a="nn",
        personal="yn",
        args=pk("slot"),
        data=INTAKE,
        effect=booked,
    ),
    api(
        "GET",
        "api-clinic-booking-list",
        **listing(BOOKING_READERS_API, refused=("anon", "partner_a")),
        marker=lambda w, s: s.booked_slot.topic,
    ),
    api("GET", "api-clinic-booking-detail", **BOOKING_READERS_API, args=pk("booking")),
    api(
        "POST",
        "api-clinic-booking-cancel",
        **BOOKING_READERS_API,
        args=pk("booking"),
        data={"reason": "Matrix"},
        effect=booking_status(BookingStatus.CANCELLED),
    ),
    api(
        "POST",
        "api-clinic-booking-reschedule",
        "nn",
        member_a="yn",
        member_b="ny",
        personal="yn",
        args=pk("booking"),
        data=lambda w, s: {"slot": s.spare_slot.pk},
        effect=booking_status(BookingStatus.RESCHEDULED),
    ),
    api(
        "POST",
        "api-clinic-booking-follow-up",
        **MANAGERS_API,
        args=pk("booking"),
        data={"notes": "Try a pretrained model."},
        effect=followed_up,
    ),
]
