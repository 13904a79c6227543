"""AI clinic services: publishing slots, booking, cancelling, moving, follow-up, reminders."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from icalendar import Calendar

from gigafactory import events
from gigafactory.errors import InvalidTransition
from gigafactory.models import AuditEvent
from hubs.models import Notification, Role
from pilots.clinics import services, tasks
from pilots.clinics.models import BookingStatus, ClinicBooking, ClinicSlot, Mode, Recommendation, SlotStatus
from tests.conftest import verified_user
from tests.factories import MembershipFactory

from .factories import BookingFactory, SlotFactory, book, in_days


@pytest.fixture
def emitted():
    seen = []

    def handler(event):
        seen.append(event)

    events.listen(handler)
    yield seen
    events._listeners.remove(handler)


@pytest.fixture
def expert(hub, staff):
    """A member of the hub whom staff marked as a clinic expert."""
    user = verified_user(name="Eva Expert")
    MembershipFactory(user=user, hub=hub, role=Role.MEMBER)
    services.expert_mark(hub=hub, user=user, expertise="Computer vision", acting_user=staff)
    return user


@pytest.fixture
def business(db):
    return verified_user(name="Bea Business", email="bea@bakery.example")


def publish(hub, expert, acting_user=None, **changes):
    values = {
        "topic": "Computer vision for quality control",
        "starts_at": in_days(2),
        "duration_minutes": 45,
        "mode": Mode.ON_SITE,
        "place": "Room 2.14",
    } | changes
    return services.slot_create(hub=hub, expert=expert, acting_user=acting_user or expert, **values)


def parse_ics(message) -> Calendar:
    [(name, content, mimetype)] = message.attachments
    assert name == "clinic.ics"
    assert mimetype.startswith("text/calendar")
    return Calendar.from_ical(content)


# --- Publishing slots ---------------------------------------------------------------------------


def test_an_expert_publishes_a_slot_with_an_audit_event(hub, expert):
    slot = publish(hub, expert)
    assert slot.status == SlotStatus.PUBLISHED
    assert slot.duration_minutes == 45
    assert slot.ends_at - slot.starts_at == timedelta(minutes=45)
    assert AuditEvent.objects.filter(action="clinic_slot.published", object_id=str(slot.pk), actor=expert).exists()


def test_staff_publish_for_an_expert_of_their_hub(hub, staff, expert):
    slot = publish(hub, expert, acting_user=staff)
    assert slot.expert == expert
    assert slot.created_by == staff


def test_an_expert_cannot_publish_for_someone_else(hub, staff, expert):
    with pytest.raises(PermissionDenied):
        publish(hub, staff, acting_user=expert)


def test_a_member_who_is_not_an_expert_cannot_publish(hub, member):
    with pytest.raises(PermissionDenied):
        publish(hub, member)
    assert not ClinicSlot.objects.exists()


def test_staff_of_another_hub_cannot_publish_here(hub, other_staff, expert):
    with pytest.raises(PermissionDenied):
        publish(hub, expert, acting_user=other_staff)


def test_staff_cannot_make_a_non_expert_give_advice(hub, staff, member):
    with pytest.raises(ValidationError) as exc:
        publish(hub, member, acting_user=staff)
    assert "expert" in exc.value.message_dict


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"starts_at": in_days(-1)}, "starts_at"),
        ({"duration_minutes": 0}, "duration_minutes"),
        ({"duration_minutes": 600}, "duration_minutes"),
        ({"topic": "  "}, "topic"),
        ({"mode": Mode.ON_SITE, "place": ""}, "place"),
        ({"mode": Mode.ONLINE, "link": ""}, "link"),
        ({"mode": Mode.ONLINE, "link": "not a link"}, "link"),
        ({"mode": "teleport"}, "mode"),
    ],
)
def test_bad_slot_input_names_the_field_and_writes_nothing(hub, expert, changes, field):
    with pytest.raises(ValidationError) as exc:
        publish(hub, expert, **changes)
    assert field in exc.value.message_dict, exc.value.message_dict
    assert not ClinicSlot.objects.exists()
    assert not AuditEvent.objects.filter(action="clinic_slot.published").exists()


def test_overlapping_slots_of_one_expert_are_refused_on_the_start_time(hub, expert):
    first = publish(hub, expert, starts_at=in_days(2))
    with pytest.raises(ValidationError) as exc:
        publish(hub, expert, starts_at=first.starts_at + timedelta(minutes=30))
    assert "already has a slot" in exc.value.message_dict["starts_at"][0]
    # back to back is fine, and so is a withdrawn slot's time
    publish(hub, expert, starts_at=first.ends_at)
    services.slot_withdraw(slot=first, acting_user=expert)
    publish(hub, expert, starts_at=first.starts_at)
    assert ClinicSlot.objects.filter(status=SlotStatus.PUBLISHED).count() == 2


@pytest.mark.skipif(connection.vendor != "postgresql", reason="exclusion constraints are PostgreSQL's")
def test_the_database_refuses_overlapping_slots_of_one_expert(hub, expert):
    first = SlotFactory(hub=hub, expert=expert, starts_at=in_days(4))
    with pytest.raises(IntegrityError), transaction.atomic():
        SlotFactory(hub=hub, expert=expert, starts_at=first.starts_at + timedelta(minutes=10))
    # another expert at the same time is fine
    SlotFactory(hub=hub, starts_at=first.starts_at)


def test_the_database_refuses_a_slot_that_ends_before_it_starts(hub, expert):
    with pytest.raises(IntegrityError), transaction.atomic():
        SlotFactory(hub=hub, expert=expert, ends_at=in_days(1), starts_at=in_days(2))


def test_the_database_refuses_an_online_slot_without_a_link(hub, expert):
    with pytest.raises(IntegrityError), transaction.atomic():
        SlotFactory(hub=hub, expert=expert, mode=Mode.ONLINE, link="", place="")


def test_a_booked_slot_keeps_its_time(hub, expert, business):
    slot = publish(hub, expert)
    book(slot, business)
    with pytest.raises(ValidationError) as exc:
        services.slot_update(slot=slot, acting_user=expert, starts_at=slot.starts_at + timedelta(hours=2))
    assert "starts_at" in exc.value.message_dict
    services.slot_update(slot=slot, acting_user=expert, place="Room 3.01")
    slot.refresh_from_db()
    assert slot.place == "Room 3.01"


def test_staff_of_another_hub_cannot_edit_or_withdraw_a_slot(hub, expert, other_staff):
    from django.http import Http404

    slot = publish(hub, expert)
    with pytest.raises(Http404):
        services.slot_update(slot=slot, acting_user=other_staff, topic="Hijacked")
    with pytest.raises(Http404):
        services.slot_withdraw(slot=slot, acting_user=other_staff)
    slot.refresh_from_db()
    assert (slot.topic, slot.status) == ("Computer vision for quality control", SlotStatus.PUBLISHED)


# --- Booking ------------------------------------------------------------------------------------


def test_booking_confirms_by_email_with_a_calendar_file_tells_the_expert_and_emits(
    hub, expert, business, emitted, django_capture_on_commit_callbacks
):
    slot = publish(hub, expert)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        booking = book(slot, business)
    assert booking.status == BookingStatus.BOOKED
    confirmation = next(m for m in mail.outbox if m.to == [business.email])
    assert "Your AI clinic is booked" in confirmation.subject
    assert "We want to spot scratches" in confirmation.body
    cal = parse_ics(confirmation)
    assert str(cal["method"]) == "REQUEST"
    [vevent] = cal.walk("VEVENT")
    assert vevent.decoded("dtstart") == slot.starts_at
    assert vevent.decoded("dtend") == slot.ends_at
    assert str(vevent["uid"]) == booking.ical_uid
    assert str(vevent["status"]) == "CONFIRMED"
    assert "Computer vision for quality control" in str(vevent["summary"])
    assert str(vevent["location"]) == "Room 2.14"
    assert str(vevent["attendee"]) == f"mailto:{business.email}"
    # the expert gets an inbox item (and its e-mail)
    note = Notification.objects.get(user=expert, kind="clinic.booked")
    assert "Bea Business" in note.title
    assert "12,000 labelled photos" in note.body
    [event] = [e for e in emitted if e.type == "booking.made"]
    assert event.hub_id == hub.pk
    assert event.payload["booking_id"] == booking.pk
    assert event.payload["slot_id"] == slot.pk
    assert event.sector == "manufacturing"
    assert "problem" not in event.payload  # the intake stays private


def test_the_confirmation_task_sends_once_when_it_runs_twice(hub, expert, business):
    booking = BookingFactory(slot=publish(hub, expert), user=business)
    assert tasks.send_booking_email(booking.pk, "confirmed") is True
    assert tasks.send_booking_email(booking.pk, "confirmed") is False
    assert len([m for m in mail.outbox if m.to == [business.email]]) == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"problem": ""}, "problem"), ({"data_description": " "}, "data_description"), ({"sector": "space"}, "sector")],
)
def test_an_incomplete_intake_names_the_field_and_books_nothing(hub, expert, business, changes, field):
    slot = publish(hub, expert)
    with pytest.raises(ValidationError) as exc:
        book(slot, business, **changes)
    assert field in exc.value.message_dict
    assert not ClinicBooking.objects.exists()


def test_a_past_slot_cannot_be_booked(hub, expert, business):
    slot = SlotFactory(hub=hub, expert=expert, starts_at=in_days(-1))
    with pytest.raises(ValidationError) as exc:
        book(slot, business)
    assert "already started" in exc.value.message_dict["slot"][0]


def test_a_withdrawn_slot_cannot_be_booked(hub, expert, business):
    slot = publish(hub, expert)
    services.slot_withdraw(slot=slot, acting_user=expert)
    with pytest.raises(ValidationError) as exc:
        book(slot, business)
    assert "slot" in exc.value.message_dict


def test_an_expert_cannot_book_their_own_slot(hub, expert):
    with pytest.raises(ValidationError):
        book(publish(hub, expert), expert)


def test_a_booked_slot_is_not_booked_again(hub, expert, business, member):
    slot = publish(hub, expert)
    book(slot, business)
    with pytest.raises(InvalidTransition, match="someone has just booked"):
        book(slot, member)
    assert ClinicBooking.objects.filter(slot=slot).count() == 1


def test_the_database_refuses_two_active_bookings_of_one_slot(hub, expert, business, member):
    slot = SlotFactory(hub=hub, expert=expert)
    BookingFactory(slot=slot, user=business)
    with pytest.raises(IntegrityError), transaction.atomic():
        BookingFactory(slot=slot, user=member)


# --- Cancelling and moving ------------------------------------------------------------------------


def test_cancelling_frees_the_slot_and_sends_a_calendar_cancellation(
    hub, expert, business, member, emitted, django_capture_on_commit_callbacks
):
    slot = publish(hub, expert)
    booking = book(slot, business)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.booking_cancel(booking=booking, acting_user=business, reason="We found a partner.")
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    assert booking.cancel_reason == "We found a partner."
    message = next(m for m in mail.outbox if m.to == [business.email])
    cal = parse_ics(message)
    assert str(cal["method"]) == "CANCEL"
    [vevent] = cal.walk("VEVENT")
    assert str(vevent["status"]) == "CANCELLED"
    assert str(vevent["uid"]) == booking.ical_uid
    assert Notification.objects.filter(user=expert, kind="clinic.cancelled").exists()
    assert [e.type for e in emitted].count("booking.cancelled") == 1
    # the slot can be booked again
    assert book(slot, member).status == BookingStatus.BOOKED


def test_a_cancelled_booking_cannot_be_cancelled_again(hub, expert, business):
    booking = book(publish(hub, expert), business)
    services.booking_cancel(booking=booking, acting_user=business)
    with pytest.raises(InvalidTransition):
        services.booking_cancel(booking=booking, acting_user=business)


def test_a_stranger_cannot_cancel_someone_elses_booking(hub, expert, business, other_staff):
    from django.http import Http404

    booking = book(publish(hub, expert), business)
    with pytest.raises(Http404):
        services.booking_cancel(booking=booking, acting_user=other_staff)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.BOOKED


def test_withdrawing_a_booked_slot_cancels_the_booking_and_tells_the_booker(
    hub, expert, business, django_capture_on_commit_callbacks
):
    slot = publish(hub, expert)
    booking = book(slot, business)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.slot_withdraw(slot=slot, acting_user=expert, reason="I am ill, sorry.")
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    [message] = [m for m in mail.outbox if m.to == [business.email]]
    assert "I am ill, sorry." in message.body


def test_moving_a_booking_keeps_the_intake_and_the_calendar_uid(
    hub, expert, business, emitted, django_capture_on_commit_callbacks
):
    first = publish(hub, expert, starts_at=in_days(2))
    later = publish(hub, expert, starts_at=in_days(5), topic="Forecasting clinic")
    booking = book(first, business)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        moved = services.booking_reschedule(booking=booking, new_slot=later, acting_user=business)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.RESCHEDULED
    assert moved.slot == later
    assert moved.rescheduled_from == booking
    assert (moved.problem, moved.sector) == (booking.problem, booking.sector)
    [message] = [m for m in mail.outbox if m.to == [business.email]]
    assert "moved" in message.body
    [vevent] = parse_ics(message).walk("VEVENT")
    assert str(vevent["uid"]) == booking.ical_uid
    assert int(vevent["sequence"]) == 1
    assert vevent.decoded("dtstart") == later.starts_at
    assert [e.type for e in emitted] == ["booking.cancelled", "booking.made"]  # inside the capture
    # the first slot is free again
    assert not first.bookings.filter(status=BookingStatus.BOOKED).exists()


def test_a_booking_cannot_move_to_a_taken_slot(hub, expert, business, member):
    first = publish(hub, expert, starts_at=in_days(2))
    taken = publish(hub, expert, starts_at=in_days(3))
    book(taken, member)
    booking = book(first, business)
    with pytest.raises(InvalidTransition):
        services.booking_reschedule(booking=booking, new_slot=taken, acting_user=business)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.BOOKED  # nothing half-done


def test_a_booking_moves_only_within_its_hub(hub, other_hub, expert, business):
    booking = book(publish(hub, expert), business)
    elsewhere = SlotFactory(hub=other_hub)
    with pytest.raises(ValidationError) as exc:
        services.booking_reschedule(booking=booking, new_slot=elsewhere, acting_user=business)
    assert "slot" in exc.value.message_dict


# --- Follow-up ----------------------------------------------------------------------------------


def test_the_expert_records_notes_and_recommendations_and_the_booker_is_told(hub, expert, business):
    booking = book(publish(hub, expert), business)
    services.booking_follow_up(
        booking=booking,
        acting_user=expert,
        notes="Your photos are enough for a first model.",
        recommendations=[("Apply to the playground call", "https://portal.example/calls/lyon-playground/"), ("", "")],
    )
    booking.refresh_from_db()
    assert booking.follow_up_notes == "Your photos are enough for a first model."
    [rec] = Recommendation.objects.filter(booking=booking)
    assert (rec.text, rec.link) == ("Apply to the playground call", "https://portal.example/calls/lyon-playground/")
    note = Notification.objects.get(user=business, kind="clinic.follow_up")
    assert "Apply to the playground call" in note.body


def test_only_the_expert_or_hub_staff_record_the_follow_up(hub, expert, business, staff):
    booking = book(publish(hub, expert), business)
    with pytest.raises(PermissionDenied):
        services.booking_follow_up(booking=booking, acting_user=business, notes="I rate myself 10/10")
    services.booking_follow_up(booking=booking, acting_user=staff, notes="Staff notes")


@pytest.mark.parametrize(
    ("notes", "recommendations"),
    [("", []), ("ok", [("", "https://x.example")]), ("ok", [("Apply", "not a link")])],
)
def test_bad_follow_up_input_names_the_field(hub, expert, business, notes, recommendations):
    booking = book(publish(hub, expert), business)
    with pytest.raises(ValidationError) as exc:
        services.booking_follow_up(booking=booking, acting_user=expert, notes=notes, recommendations=recommendations)
    assert set(exc.value.message_dict) <= {"notes", "recommendations"}
    assert not Recommendation.objects.exists()


# --- Reminders ----------------------------------------------------------------------------------


def _booked_days_ago(slot, user, days=3):
    booking = BookingFactory(slot=slot, user=user)
    ClinicBooking.objects.filter(pk=booking.pk).update(created_at=booking.created_at - timedelta(days=days))
    return booking


def test_the_reminder_goes_out_once_the_day_before(hub, expert, business, member):
    tomorrow = SlotFactory(hub=hub, expert=expert, starts_at=in_days(0, hours=20))
    next_week = SlotFactory(hub=hub, expert=expert, starts_at=in_days(7))
    due = _booked_days_ago(tomorrow, business)
    _booked_days_ago(next_week, member)
    assert tasks.send_clinic_reminders() == 1
    assert tasks.send_clinic_reminders() == 0  # the task ran twice: still one reminder
    reminders = [m for m in mail.outbox if "Tomorrow" in m.subject]
    assert [m.to for m in reminders] == [[business.email]]
    assert parse_ics(reminders[0]).walk("VEVENT")[0].decoded("dtstart") == tomorrow.starts_at
    due.refresh_from_db()
    assert due.reminder_sent_at is not None


def test_no_reminder_for_cancelled_or_last_minute_bookings(hub, expert, business, member):
    cancelled = _booked_days_ago(SlotFactory(hub=hub, expert=expert, starts_at=in_days(0, hours=10)), business)
    services.booking_cancel(booking=cancelled, acting_user=business)
    BookingFactory(slot=SlotFactory(hub=hub, expert=expert, starts_at=in_days(0, hours=12)), user=member)
    assert tasks.send_clinic_reminders() == 0
    assert not [m for m in mail.outbox if "Tomorrow" in m.subject]


def test_a_failed_reminder_is_retried_by_the_next_run(hub, expert, business, settings):
    _booked_days_ago(SlotFactory(hub=hub, expert=expert, starts_at=in_days(0, hours=20)), business)
    # A real SMTP connection to a closed port on this machine: the send fails with an OSError.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 5
    assert tasks.send_clinic_reminders() == 0
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert tasks.send_clinic_reminders() == 1


def test_intake_is_required_by_the_database(hub, expert, business):
    with pytest.raises(IntegrityError), transaction.atomic():
        BookingFactory(slot=SlotFactory(hub=hub, expert=expert), user=business, problem="")


def test_marking_an_expert_requires_an_active_member(hub, staff, other_staff):
    with pytest.raises(ValidationError) as exc:
        services.expert_mark(hub=hub, user=other_staff, expertise="Grids", acting_user=staff)
    assert "user" in exc.value.message_dict
