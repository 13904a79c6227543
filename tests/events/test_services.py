"""Event services: drafts and publishing, registration with a waiting list, promotion,
pitch slots, attendance, the calendar file."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from icalendar import Calendar

from gigafactory import events as bus
from gigafactory.errors import InvalidTransition
from gigafactory.models import AuditEvent
from hubs.models import Notification
from pilots.events import services
from pilots.events.ical import event_calendar
from pilots.events.models import (
    Event,
    EventKind,
    EventMode,
    EventStatus,
    Registration,
    RegistrationRole,
    RegistrationStatus,
)
from tests.factories import UserFactory

from .factories import EventFactory, PitchSlotFactory, RegistrationFactory, in_days

R = RegistrationStatus


@pytest.fixture
def emitted():
    seen = []

    def handler(event):
        seen.append(event)

    bus.listen(handler)
    yield seen
    bus._listeners.remove(handler)


def draft(hub, staff, **changes):
    values = {
        "title": "Lyon Health AI Demo Day",
        "kind": EventKind.DEMO_DAY,
        "description": "Ten startups pitch to investors.",
        "starts_at": in_days(20),
        "ends_at": in_days(20, hours=5),
        "mode": EventMode.HYBRID,
        "place": "Hôtel-Dieu, Lyon",
        "link": "https://stream.example/demo-day",
        "capacity": 3,
    } | changes
    return services.event_create(hub=hub, acting_user=staff, **values)


def register(event, user=None, **kwargs):
    return services.registration_create(event=event, acting_user=user or UserFactory(), **kwargs)


# --- Creating and publishing ----------------------------------------------------------------------


def test_staff_create_a_draft_and_publishing_announces_it(hub, staff, emitted, django_capture_on_commit_callbacks):
    event = draft(hub, staff)
    assert event.status == EventStatus.DRAFT
    assert event.slug.startswith("lyon-health-ai-demo-day-")
    with django_capture_on_commit_callbacks(execute=True):
        services.event_publish(event=event, acting_user=staff)
    event.refresh_from_db()
    assert event.status == EventStatus.PUBLISHED
    assert event.published_at is not None
    [announced] = [e for e in emitted if e.type == "event.announced"]
    assert announced.hub_id == hub.pk
    assert announced.payload["event"] == event.slug
    assert announced.payload["kind"] == "demo_day"
    assert AuditEvent.objects.filter(action="event.published", object_id=str(event.pk)).exists()


def test_publishing_twice_is_refused(hub, staff):
    event = draft(hub, staff)
    services.event_publish(event=event, acting_user=staff)
    with pytest.raises(InvalidTransition):
        services.event_publish(event=event, acting_user=staff)


def test_staff_of_another_hub_cannot_create_edit_or_publish(hub, staff, other_staff):
    with pytest.raises(PermissionDenied):
        draft(hub, other_staff)
    event = draft(hub, staff)
    with pytest.raises(PermissionDenied):
        services.event_update(event=event, acting_user=other_staff, title="Ours now")
    with pytest.raises(PermissionDenied):
        services.event_publish(event=event, acting_user=other_staff)
    event.refresh_from_db()
    assert (event.title, event.status) == ("Lyon Health AI Demo Day", EventStatus.DRAFT)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"capacity": 0}, "capacity"),
        ({"capacity": -5}, "capacity"),
        ({"starts_at": in_days(-2), "ends_at": in_days(-1)}, "starts_at"),
        ({"ends_at": in_days(19)}, "ends_at"),
        ({"title": ""}, "title"),
        ({"kind": "party"}, "kind"),
        ({"mode": EventMode.ONLINE, "link": ""}, "link"),
        ({"mode": EventMode.ON_SITE, "place": ""}, "place"),
        ({"mode": EventMode.HYBRID, "link": "ftp:/x"}, "link"),
    ],
)
def test_bad_event_input_names_the_field_and_writes_nothing(hub, staff, changes, field):
    with pytest.raises(ValidationError) as exc:
        draft(hub, staff, **changes)
    assert field in exc.value.message_dict, exc.value.message_dict
    assert not Event.objects.exists()


def test_the_database_refuses_capacity_zero_and_a_published_event_without_a_time(hub):
    with pytest.raises(IntegrityError), transaction.atomic():
        EventFactory(hub=hub, capacity=0)
    with pytest.raises(IntegrityError), transaction.atomic():
        EventFactory(hub=hub, published_at=None)


# --- Registration and the waiting list ------------------------------------------------------------


def test_registrations_beyond_capacity_join_the_waiting_list_in_order(hub, django_capture_on_commit_callbacks):
    event = EventFactory(hub=hub, capacity=2)
    with django_capture_on_commit_callbacks(execute=True):
        regs = [register(event) for _ in range(4)]
    assert [r.status for r in regs] == [R.CONFIRMED, R.CONFIRMED, R.WAITLISTED, R.WAITLISTED]
    assert [services.waiting_position(r) for r in regs] == [None, None, 1, 2]
    # confirmed people get a calendar file; waiting people their position
    confirmed_mail = next(m for m in mail.outbox if m.to == [regs[0].user.email])
    [(name, content, _)] = confirmed_mail.attachments
    assert name == "event.ics"
    assert Calendar.from_ical(content).walk("VEVENT")[0].decoded("dtstart") == event.starts_at
    waiting_mail = next(m for m in mail.outbox if m.to == [regs[3].user.email])
    assert "waiting list (number 2)" in waiting_mail.body
    assert not waiting_mail.attachments


def test_a_cancellation_promotes_exactly_the_next_person_and_tells_them(hub):
    event = EventFactory(hub=hub, capacity=2)
    first, _second, third, fourth = [register(event) for _ in range(4)]
    services.registration_cancel(registration=first, acting_user=first.user)
    statuses = dict(Registration.objects.values_list("pk", "status"))
    assert statuses[first.pk] == R.CANCELLED
    assert statuses[third.pk] == R.CONFIRMED
    assert statuses[fourth.pk] == R.WAITLISTED
    assert Registration.objects.filter(event=event, status=R.CONFIRMED).count() == 2
    note = Notification.objects.get(kind="event.promoted")
    assert note.user == third.user
    assert event.title in note.title
    fourth.refresh_from_db()
    assert services.waiting_position(fourth) == 1


def test_leaving_the_waiting_list_promotes_nobody(hub):
    event = EventFactory(hub=hub, capacity=1)
    _confirmed, waiting, last = [register(event) for _ in range(3)]
    services.registration_cancel(registration=waiting, acting_user=waiting.user)
    assert not Notification.objects.filter(kind="event.promoted").exists()
    last.refresh_from_db()
    assert last.status == R.WAITLISTED


def test_raising_the_capacity_promotes_from_the_waiting_list(hub, staff):
    event = EventFactory(hub=hub, capacity=1)
    regs = [register(event) for _ in range(4)]
    services.event_update(event=event, acting_user=staff, capacity=3)
    assert Registration.objects.filter(event=event, status=R.CONFIRMED).count() == 3
    regs[3].refresh_from_db()
    assert regs[3].status == R.WAITLISTED


def test_the_capacity_cannot_go_below_the_confirmed_places(hub, staff):
    event = EventFactory(hub=hub, capacity=3)
    for _ in range(3):
        register(event)
    with pytest.raises(ValidationError) as exc:
        services.event_update(event=event, acting_user=staff, capacity=2)
    assert "capacity" in exc.value.message_dict


def test_one_registration_per_person(hub, member):
    event = EventFactory(hub=hub)
    register(event, member)
    with pytest.raises(InvalidTransition, match="already registered"):
        register(event, member)
    # after cancelling, one may register again (at the back of the line)
    services.registration_cancel(registration=Registration.objects.get(user=member), acting_user=member)
    assert register(event, member).status == R.CONFIRMED


def test_the_database_refuses_two_active_registrations_of_one_person(hub, member):
    event = EventFactory(hub=hub)
    RegistrationFactory(event=event, user=member)
    with pytest.raises(IntegrityError), transaction.atomic():
        RegistrationFactory(event=event, user=member, status=R.WAITLISTED)


@pytest.mark.parametrize(
    ("event_changes", "kwargs", "field"),
    [
        ({"starts_at": in_days(-1)}, {}, "event"),
        ({"kind": EventKind.WORKSHOP}, {"role": RegistrationRole.INVESTOR}, "role"),
        ({"kind": EventKind.DEMO_DAY}, {"role": "spectator"}, "role"),
        ({"kind": EventKind.DEMO_DAY}, {"role": RegistrationRole.STARTUP}, "organisation_name"),
    ],
)
def test_bad_registrations_name_the_field(hub, event_changes, kwargs, field):
    event = EventFactory(hub=hub, **event_changes)
    with pytest.raises(ValidationError) as exc:
        register(event, **kwargs)
    assert field in exc.value.message_dict
    assert not Registration.objects.exists()


def test_drafts_and_cancelled_events_take_no_registrations(hub, staff):
    event = EventFactory(hub=hub, status=EventStatus.DRAFT, published_at=None)
    with pytest.raises(InvalidTransition):
        register(event)
    event = EventFactory(hub=hub)
    someone = register(event)
    services.event_cancel(event=event, acting_user=staff, reason="The venue flooded.")
    with pytest.raises(InvalidTransition):
        register(event)
    note = Notification.objects.get(user=someone.user, kind="event.cancelled")
    assert note.body == "The venue flooded."


def test_the_confirmation_email_is_sent_once_when_the_task_runs_twice(hub):
    from pilots.events.tasks import send_registration_email

    registration = RegistrationFactory(event=EventFactory(hub=hub))
    assert send_registration_email(registration.pk) is True
    assert send_registration_email(registration.pk) is False
    assert len(mail.outbox) == 1


# --- Demo days: investors and pitch slots ---------------------------------------------------------


def test_investors_register_and_startups_take_one_pitch_slot_each(hub):
    event = EventFactory(hub=hub, kind=EventKind.DEMO_DAY, capacity=10)
    first_slot, second_slot = PitchSlotFactory(event=event), PitchSlotFactory(event=event)
    investor = register(event, role=RegistrationRole.INVESTOR, organisation_name="Nordic Deep Tech Ventures")
    assert investor.role == RegistrationRole.INVESTOR
    startup = register(event, role=RegistrationRole.STARTUP, organisation_name="Spreewald Robotics")
    rival = register(event, role=RegistrationRole.STARTUP, organisation_name="Tejo Analytics")
    services.pitch_slot_claim(registration=startup, pitch_slot=first_slot, acting_user=startup.user)
    with pytest.raises(InvalidTransition, match="taken"):
        services.pitch_slot_claim(registration=rival, pitch_slot=first_slot, acting_user=rival.user)
    services.pitch_slot_claim(registration=rival, pitch_slot=second_slot, acting_user=rival.user)
    # moving to another slot frees the first
    services.registration_cancel(registration=rival, acting_user=rival.user)
    services.pitch_slot_claim(registration=startup, pitch_slot=second_slot, acting_user=startup.user)
    assert Registration.objects.get(pk=startup.pk).pitch_slot == second_slot
    assert not Registration.objects.filter(pitch_slot=first_slot).exists()


def test_investors_and_waiting_startups_do_not_pitch(hub):
    event = EventFactory(hub=hub, kind=EventKind.DEMO_DAY, capacity=1)
    slot = PitchSlotFactory(event=event)
    investor = register(event, role=RegistrationRole.INVESTOR)
    waiting = register(event, role=RegistrationRole.STARTUP, organisation_name="Late Startup")
    for registration in (investor, waiting):
        with pytest.raises(ValidationError) as exc:
            services.pitch_slot_claim(registration=registration, pitch_slot=slot, acting_user=registration.user)
        assert "pitch_slot" in exc.value.message_dict


def test_releasing_a_pitch_slot_frees_it_for_another_startup(hub, staff):
    event = EventFactory(hub=hub, kind=EventKind.DEMO_DAY, capacity=10)
    slot = PitchSlotFactory(event=event)
    startup = register(event, role=RegistrationRole.STARTUP, organisation_name="Spreewald Robotics")
    rival = register(event, role=RegistrationRole.STARTUP, organisation_name="Tejo Analytics")
    services.pitch_slot_claim(registration=startup, pitch_slot=slot, acting_user=startup.user)
    with pytest.raises(PermissionDenied):
        services.pitch_slot_release(pitch_slot=slot, acting_user=rival.user)
    released = services.pitch_slot_release(pitch_slot=slot, acting_user=startup.user)
    assert released.pk == startup.pk
    assert Registration.objects.get(pk=startup.pk).pitch_slot is None
    assert AuditEvent.objects.filter(action="event.pitch_slot_released").count() == 1
    with pytest.raises(InvalidTransition, match="free already"):
        services.pitch_slot_release(pitch_slot=slot, acting_user=startup.user)
    services.pitch_slot_claim(registration=rival, pitch_slot=slot, acting_user=rival.user)
    services.pitch_slot_release(pitch_slot=slot, acting_user=staff)  # hub staff may free any slot
    assert not Registration.objects.filter(pitch_slot=slot).exists()


def test_the_database_lets_one_registration_hold_a_pitch_slot(hub):
    event = EventFactory(hub=hub, kind=EventKind.DEMO_DAY)
    slot = PitchSlotFactory(event=event)
    RegistrationFactory(event=event, role=RegistrationRole.STARTUP, pitch_slot=slot)
    with pytest.raises(IntegrityError), transaction.atomic():
        RegistrationFactory(event=event, role=RegistrationRole.STARTUP, pitch_slot=slot)
    with pytest.raises(IntegrityError), transaction.atomic():  # investors do not hold pitch slots
        RegistrationFactory(event=event, role=RegistrationRole.INVESTOR, pitch_slot=PitchSlotFactory(event=event))


def test_pitch_slots_lie_within_a_demo_day(hub, staff):
    workshop = EventFactory(hub=hub)
    with pytest.raises(ValidationError) as exc:
        services.pitch_slot_add(event=workshop, starts_at=workshop.starts_at, acting_user=staff)
    assert "event" in exc.value.message_dict
    demo = EventFactory(hub=hub, kind=EventKind.DEMO_DAY)
    with pytest.raises(ValidationError) as exc:
        services.pitch_slot_add(event=demo, starts_at=demo.ends_at + timedelta(hours=1), acting_user=staff)
    assert "starts_at" in exc.value.message_dict
    services.pitch_slot_add(event=demo, starts_at=demo.starts_at, minutes=8, acting_user=staff)


# --- Attendance -----------------------------------------------------------------------------------


def test_staff_mark_attendance_once_the_event_has_started(hub, staff, other_staff):
    event = EventFactory(hub=hub, starts_at=in_days(0, hours=-1), ends_at=in_days(0, hours=2))
    registration = RegistrationFactory(event=event)
    services.attendance_mark(registration=registration, attended=True, acting_user=staff)
    registration.refresh_from_db()
    assert registration.attended is True
    assert registration.attendance_marked_by == staff
    with pytest.raises(Http404):
        services.attendance_mark(registration=registration, attended=False, acting_user=other_staff)


def test_attendance_is_not_marked_before_the_start_or_for_waiting_people(hub, staff):
    upcoming = RegistrationFactory(event=EventFactory(hub=hub))
    with pytest.raises(ValidationError) as exc:
        services.attendance_mark(registration=upcoming, attended=True, acting_user=staff)
    assert "attended" in exc.value.message_dict
    started = EventFactory(hub=hub, starts_at=in_days(0, hours=-1), ends_at=in_days(0, hours=2))
    waiting = RegistrationFactory(event=started, status=R.WAITLISTED)
    with pytest.raises(ValidationError):
        services.attendance_mark(registration=waiting, attended=True, acting_user=staff)


# --- The calendar file ----------------------------------------------------------------------------


def test_the_event_calendar_file_parses_back(hub):
    event = EventFactory(hub=hub, mode=EventMode.HYBRID, link="https://stream.example/ws", title="Edge AI workshop")
    cal = Calendar.from_ical(event_calendar(event))
    assert str(cal["method"]) == "PUBLISH"
    [vevent] = cal.walk("VEVENT")
    assert vevent.decoded("dtstart") == event.starts_at
    assert vevent.decoded("dtend") == event.ends_at
    assert "Edge AI workshop" in str(vevent["summary"])
    assert str(vevent["location"]) == event.place
    assert "https://stream.example/ws" in str(vevent["description"])
    assert str(vevent["uid"]).startswith(f"event-{event.pk}@")
    assert str(vevent["url"]).endswith(f"/events/{event.slug}/")
