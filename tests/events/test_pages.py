"""Event pages: the public list, an event's page with registration, my registrations, the
staff pages (create, publish, attendance) and who may use them."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from hubs.models import Role
from pilots.events import services
from pilots.events.models import Event, EventKind, EventStatus, Registration, RegistrationRole, RegistrationStatus
from tests.conftest import verified_user
from tests.factories import MembershipFactory, UserFactory

from .factories import EventFactory, PitchSlotFactory, RegistrationFactory, in_days

R = RegistrationStatus


def login(client, user):
    client.force_login(user)
    return client


# --- The public list -----------------------------------------------------------------------------


def test_the_event_list_shows_published_upcoming_events(client, hub, other_hub):
    EventFactory(hub=hub, title="Lyon Demo Day", kind=EventKind.DEMO_DAY)
    EventFactory(hub=other_hub, title="Grid AI training", kind=EventKind.TRAINING)
    EventFactory(hub=hub, title="Secret draft", status=EventStatus.DRAFT, published_at=None)
    EventFactory(hub=hub, title="Last year", starts_at=in_days(-300), ends_at=in_days(-299))
    text = client.get(reverse("events:event_list")).content.decode()
    assert "Lyon Demo Day" in text
    assert "Grid AI training" in text
    assert "Secret draft" not in text
    assert "Last year" not in text


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ("?hub=helsinki", "Grid AI training", "Lyon Demo Day"),
        ("?kind=demo_day", "Lyon Demo Day", "Grid AI training"),
        ("?q=grid", "Grid AI training", "Lyon Demo Day"),
        ("?when=past", "Last year", "Lyon Demo Day"),
    ],
)
def test_the_event_list_filters(client, hub, other_hub, query, shown, hidden):
    EventFactory(hub=hub, title="Lyon Demo Day", kind=EventKind.DEMO_DAY)
    EventFactory(hub=other_hub, title="Grid AI training", kind=EventKind.TRAINING)
    EventFactory(hub=hub, title="Last year", starts_at=in_days(-300), ends_at=in_days(-299))
    text = client.get(reverse("events:event_list") + query).content.decode()
    assert shown in text
    assert hidden not in text


def test_the_event_list_empty_state(client, db):
    assert b"No upcoming event right now" in client.get(reverse("events:event_list")).content
    assert b"No event matches these filters" in client.get(reverse("events:event_list") + "?q=zzz").content


def test_the_event_list_is_paginated_and_its_query_count_does_not_grow(client, hub, django_assert_max_num_queries):
    for i in range(23):
        event = EventFactory(hub=hub, starts_at=in_days(5 + i), capacity=2)
        for _ in range(i % 3):
            RegistrationFactory(event=event)
    with django_assert_max_num_queries(3):  # hubs for the filter, count, events with hub and counts
        first = client.get(reverse("events:event_list")).content.decode()
    assert first.count('data-testid="event-card"') == 20
    assert "Page 1 of 2" in first
    second = client.get(reverse("events:event_list") + "?page=2").content.decode()
    assert second.count('data-testid="event-card"') == 3


def test_a_full_event_says_so(client, hub):
    event = EventFactory(hub=hub, capacity=1)
    RegistrationFactory(event=event)
    assert b'data-testid="event-full"' in client.get(reverse("events:event_list")).content


# --- An event's page and registration ------------------------------------------------------------


def test_an_event_page_invites_visitors_to_log_in(client, hub):
    event = EventFactory(hub=hub, title="Edge AI workshop")
    text = client.get(event.get_absolute_url()).content.decode()
    assert "Edge AI workshop" in text
    assert "Log in to register" in text


def test_a_draft_is_hidden_from_the_public(client, hub, member):
    event = EventFactory(hub=hub, status=EventStatus.DRAFT, published_at=None)
    assert client.get(event.get_absolute_url()).status_code == 404
    login(client, member)
    assert client.get(event.get_absolute_url()).status_code == 404


def test_registering_from_the_page_and_joining_the_waiting_list(client, hub, member):
    event = EventFactory(hub=hub, capacity=1)
    login(client, member)
    response = client.post(reverse("events:event_register", args=[event.slug]), {"role": "attendee"}, follow=True)
    assert "You are registered" in response.content.decode()
    other = verified_user()
    login(client, other)
    page = client.get(event.get_absolute_url()).content.decode()
    assert "Join the waiting list" in page
    response = client.post(reverse("events:event_register", args=[event.slug]), {"role": "attendee"}, follow=True)
    assert "you are number 1 on the waiting list" in response.content.decode()
    assert Registration.objects.get(user=other).status == R.WAITLISTED


def test_cancelling_asks_first_and_promotes_the_next_person(client, hub, member):
    event = EventFactory(hub=hub, capacity=1)
    mine = services.registration_create(event=event, acting_user=member)
    waiting = services.registration_create(event=event, acting_user=UserFactory())
    login(client, member)
    url = reverse("events:registration_cancel", args=[mine.pk])
    assert b"Your place goes to the next person" in client.get(url).content
    assert Registration.objects.get(pk=mine.pk).status == R.CONFIRMED
    client.post(url)
    assert Registration.objects.get(pk=mine.pk).status == R.CANCELLED
    assert Registration.objects.get(pk=waiting.pk).status == R.CONFIRMED


def test_someone_elses_registration_cannot_be_cancelled(client, hub, member):
    theirs = RegistrationFactory(event=EventFactory(hub=hub))
    login(client, member)
    assert client.post(reverse("events:registration_cancel", args=[theirs.pk])).status_code == 404
    assert Registration.objects.get(pk=theirs.pk).status == R.CONFIRMED


def test_a_demo_day_takes_investors_and_startups_pick_pitch_slots(client, hub, member):
    event = EventFactory(hub=hub, kind=EventKind.DEMO_DAY)
    slot = PitchSlotFactory(event=event)
    login(client, member)
    client.post(
        reverse("events:event_register", args=[event.slug]),
        {"role": "startup", "organisation_name": "Spreewald Robotics", "note": "Robotic picking"},
    )
    registration = Registration.objects.get(user=member)
    assert registration.role == RegistrationRole.STARTUP
    client.post(reverse("events:pitch_claim", args=[registration.pk]), {"pitch_slot": slot.pk})
    registration.refresh_from_db()
    assert registration.pitch_slot == slot
    text = client.get(event.get_absolute_url()).content.decode()
    assert 'data-testid="pitch-holder">Spreewald Robotics' in text


def test_the_event_calendar_file_is_public(client, hub):
    event = EventFactory(hub=hub)
    response = client.get(reverse("events:event_ics", args=[event.slug]))
    assert response["Content-Type"].startswith("text/calendar")
    [vevent] = Calendar.from_ical(response.content).walk("VEVENT")
    assert vevent.decoded("dtstart") == event.starts_at


def test_my_registrations_lists_mine_with_the_waiting_position(client, hub, member, django_assert_max_num_queries):
    full = EventFactory(hub=hub, capacity=1, title="Full workshop")
    RegistrationFactory(event=full)
    services.registration_create(event=full, acting_user=member)
    for i in range(5):
        services.registration_create(event=EventFactory(hub=hub, starts_at=in_days(3 + i)), acting_user=member)
    RegistrationFactory(event=EventFactory(hub=hub, title="Someone else's"))
    login(client, member)
    with django_assert_max_num_queries(8):  # session, user, nav (3), count, registrations with events
        text = client.get(reverse("events:my_registrations")).content.decode()
    assert text.count('data-testid="registration-row"') == 6
    assert "(number 1)" in text
    assert "Someone else&#x27;s" not in text


# --- Staff pages --------------------------------------------------------------------------------


def test_staff_of_two_hubs_create_an_event_at_the_second_one(client, hub, other_hub, staff):
    # Regression: the view looked the chosen hub up with a generator that popped the form's
    # "hub" once per hub, so any hub after the first in the list answered a 500.
    MembershipFactory(user=staff, hub=other_hub, role=Role.STAFF)
    login(client, staff)
    second = max(hub, other_hub, key=lambda h: h.name)
    start = (timezone.localtime() + timedelta(days=30)).replace(hour=9, minute=0)
    response = client.post(
        reverse("events:staff_event_create"),
        {
            "hub": second.pk,
            "title": "Applied ML training",
            "kind": "training",
            "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (start + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M"),
            "mode": "online",
            "link": "https://meet.example/ml",
            "capacity": 25,
        },
    )
    assert response.status_code == 302
    assert Event.objects.get().hub == second


def test_staff_create_a_draft_then_publish_it_after_confirming(client, hub, staff):
    login(client, staff)
    start = (timezone.localtime() + timedelta(days=30)).replace(hour=9, minute=0)
    response = client.post(
        reverse("events:staff_event_create"),
        {
            "hub": hub.pk,
            "title": "Applied ML training",
            "kind": "training",
            "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (start + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M"),
            "mode": "online",
            "link": "https://meet.example/ml",
            "capacity": 25,
        },
    )
    event = Event.objects.get()
    assert response["Location"] == event.get_absolute_url()
    assert event.status == EventStatus.DRAFT
    publish = reverse("events:staff_event_publish", args=[event.slug])
    assert b"Yes, publish and announce" in client.get(publish).content
    client.post(publish)
    event.refresh_from_db()
    assert event.status == EventStatus.PUBLISHED


def test_the_event_form_names_bad_fields(client, hub, staff):
    login(client, staff)
    start = timezone.localtime() + timedelta(days=30)
    response = client.post(
        reverse("events:staff_event_create"),
        {
            "hub": hub.pk,
            "title": "Zero places",
            "kind": "workshop",
            "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (start - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            "mode": "on_site",
            "place": "Room 1",
            "capacity": 0,
        },
    )
    assert response.status_code == 200
    assert {"capacity", "ends_at"} <= set(response.context["form"].errors)
    assert not Event.objects.exists()


def test_staff_of_another_hub_cannot_edit_publish_or_mark(client, hub, other_staff):
    event = EventFactory(hub=hub, status=EventStatus.DRAFT, published_at=None)
    login(client, other_staff)
    for name in ("staff_event_edit", "staff_event_publish", "staff_attendance", "staff_event_cancel"):
        assert client.get(reverse(f"events:{name}", args=[event.slug])).status_code == 404, name
        assert client.post(reverse(f"events:{name}", args=[event.slug]), {"title": "x"}).status_code == 404, name
    event.refresh_from_db()
    assert event.status == EventStatus.DRAFT


def test_a_member_has_no_staff_pages(client, member):
    login(client, member)
    assert client.get(reverse("events:staff_events")).status_code == 404
    assert client.get(reverse("events:staff_event_create")).status_code == 404


def test_staff_mark_attendance_on_the_attendance_page(client, hub, staff, django_assert_max_num_queries):
    event = EventFactory(hub=hub, starts_at=in_days(0, hours=-1), ends_at=in_days(0, hours=3), capacity=6)
    regs = [RegistrationFactory(event=event) for _ in range(6)]
    RegistrationFactory(event=event, status=R.WAITLISTED)
    login(client, staff)
    url = reverse("events:staff_attendance", args=[event.slug])
    with django_assert_max_num_queries(12):
        page = client.get(url).content.decode()
    assert page.count('data-testid="registration-row"') == 7
    client.post(url, {"shown": [r.pk for r in regs], "present": [regs[0].pk, regs[2].pk]})
    attended = set(Registration.objects.filter(attended=True).values_list("pk", flat=True))
    assert attended == {regs[0].pk, regs[2].pk}
    assert Registration.objects.filter(attended=False).count() == 4


def test_the_staff_event_list_shows_drafts_of_my_hubs_only(client, hub, other_hub, staff):
    EventFactory(hub=hub, title="Our draft", status=EventStatus.DRAFT, published_at=None)
    EventFactory(hub=other_hub, title="Their draft", status=EventStatus.DRAFT, published_at=None)
    login(client, staff)
    text = client.get(reverse("events:staff_events")).content.decode()
    assert "Our draft" in text
    assert "Their draft" not in text
