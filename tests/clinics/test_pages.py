"""Clinic pages: the public list, booking, my bookings, cancel and move, the expert's view."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from hubs.models import Role
from pilots.clinics import services
from pilots.clinics.models import BookingStatus, ClinicBooking, ClinicSlot, Mode, Recommendation, SlotStatus
from tests.conftest import enable_mfa, verified_user
from tests.factories import HubFactory, MembershipFactory

from .factories import INTAKE, SlotFactory, book, in_days


@pytest.fixture
def expert(hub, staff):
    user = verified_user(name="Eva Expert")
    MembershipFactory(user=user, hub=hub, role=Role.MEMBER)
    services.expert_mark(hub=hub, user=user, expertise="Computer vision", acting_user=staff)
    return user


@pytest.fixture
def business(db):
    return verified_user(name="Bea Business", email="bea@bakery.example")


def login(client, user):
    client.force_login(user)
    return client


# --- The public list -----------------------------------------------------------------------------


def test_the_slot_list_shows_upcoming_slots_to_anyone(client, hub, other_hub, expert):
    SlotFactory(hub=hub, expert=expert, topic="Vision for bakeries", starts_at=in_days(2))
    SlotFactory(hub=other_hub, topic="Grid forecasting", starts_at=in_days(3))
    SlotFactory(hub=hub, expert=expert, topic="Long gone", starts_at=in_days(-2))
    SlotFactory(hub=hub, expert=expert, topic="Withdrawn one", status=SlotStatus.WITHDRAWN, starts_at=in_days(4))
    response = client.get(reverse("clinics:slot_list"))
    assert response.status_code == 200
    text = response.content.decode()
    assert "AI clinics" in text
    assert "Vision for bakeries" in text
    assert "Grid forecasting" in text
    assert "Long gone" not in text
    assert "Withdrawn one" not in text


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ("?hub=helsinki", ["Grid forecasting"], ["Vision for bakeries"]),
        ("?topic=vision", ["Vision for bakeries"], ["Grid forecasting"]),
        ("?mode=online", ["Grid forecasting"], ["Vision for bakeries"]),
        ("?free=on", ["Grid forecasting"], ["Vision for bakeries"]),
    ],
)
def test_the_slot_list_filters(client, hub, other_hub, expert, business, query, shown, hidden):
    booked = SlotFactory(hub=hub, expert=expert, topic="Vision for bakeries", starts_at=in_days(2))
    book(booked, business)
    SlotFactory(hub=other_hub, topic="Grid forecasting", mode=Mode.ONLINE, link="https://meet.example/x", place="")
    text = client.get(reverse("clinics:slot_list") + query).content.decode()
    for topic in shown:
        assert topic in text
    for topic in hidden:
        assert topic not in text


def test_the_date_filter_starts_the_list_on_that_day(client, hub, expert):
    SlotFactory(hub=hub, expert=expert, topic="Soon", starts_at=in_days(1))
    SlotFactory(hub=hub, expert=expert, topic="Later", starts_at=in_days(9))
    day = timezone.localdate() + timedelta(days=5)
    text = client.get(reverse("clinics:slot_list") + f"?date={day.isoformat()}").content.decode()
    assert "Later" in text
    assert "Soon" not in text


def test_the_empty_list_says_so(client, db):
    response = client.get(reverse("clinics:slot_list"))
    assert b'data-testid="no-slots"' in response.content
    assert b"No clinic slot is published right now" in response.content
    filtered = client.get(reverse("clinics:slot_list") + "?topic=quantum")
    assert b"No upcoming slot matches these filters" in filtered.content


def test_the_slot_list_is_paginated(client, hub, expert):
    for i in range(25):
        SlotFactory(hub=hub, expert=expert, starts_at=in_days(2, hours=i))
    first = client.get(reverse("clinics:slot_list")).content.decode()
    assert first.count('data-testid="slot-card"') == 20
    assert "Page 1 of 2" in first
    second = client.get(reverse("clinics:slot_list") + "?page=2").content.decode()
    assert second.count('data-testid="slot-card"') == 5


def test_the_htmx_filter_returns_only_the_results(client, hub, expert):
    SlotFactory(hub=hub, expert=expert, topic="Vision for bakeries")
    response = client.get(reverse("clinics:slot_list") + "?topic=vision", HTTP_HX_REQUEST="true")
    text = response.content.decode()
    assert text.lstrip().startswith('<div id="results"')
    assert "Vision for bakeries" in text


def test_the_slot_list_query_count_does_not_grow(
    client, hub, other_hub, expert, business, django_assert_max_num_queries
):
    for i in range(12):
        slot = SlotFactory(hub=hub if i % 2 else other_hub, starts_at=in_days(2, hours=i))
        if i % 3 == 0:
            book(slot, business)
    with django_assert_max_num_queries(4):  # hubs for the filter, count, slots with hub, expert and booked flag
        response = client.get(reverse("clinics:slot_list"))
    assert response.content.decode().count('data-testid="slot-card"') == 12


# --- Booking -------------------------------------------------------------------------------------


def test_an_anonymous_visitor_is_asked_to_log_in(client, hub, expert):
    slot = SlotFactory(hub=hub, expert=expert)
    response = client.get(slot.get_absolute_url())
    assert b"Log in to book" in response.content
    response = client.post(slot.get_absolute_url(), INTAKE)
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]
    assert not ClinicBooking.objects.exists()


def test_a_business_books_a_slot_and_sees_the_confirmation(client, hub, expert, business):
    slot = SlotFactory(hub=hub, expert=expert, topic="Vision for bakeries")
    login(client, business)
    response = client.post(slot.get_absolute_url(), INTAKE, follow=True)
    booking = ClinicBooking.objects.get()
    assert response.redirect_chain[-1][0] == booking.get_absolute_url()
    text = response.content.decode()
    assert "Booked: Vision for bakeries" in text
    assert 'data-testid="booking-confirmation"' in text
    assert business.email in text
    assert booking.problem == INTAKE["problem"]


def test_a_booking_form_with_missing_answers_names_them(client, hub, expert, business):
    slot = SlotFactory(hub=hub, expert=expert)
    login(client, business)
    response = client.post(slot.get_absolute_url(), INTAKE | {"problem": "", "sector": ""})
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) == {"problem", "sector"}
    assert not ClinicBooking.objects.exists()


def test_a_taken_slot_says_so_and_books_nothing(client, hub, expert, business, member):
    slot = SlotFactory(hub=hub, expert=expert)
    book(slot, member)
    login(client, business)
    assert b'data-testid="slot-taken"' in client.get(slot.get_absolute_url()).content
    response = client.post(slot.get_absolute_url(), INTAKE, follow=True)
    assert "someone has just booked" in response.content.decode()
    assert ClinicBooking.objects.count() == 1


def test_a_past_slot_cannot_be_booked_from_its_page(client, hub, expert, business):
    slot = SlotFactory(hub=hub, expert=expert, starts_at=in_days(-1))
    login(client, business)
    response = client.post(slot.get_absolute_url(), INTAKE, follow=True)
    assert "already started" in response.content.decode()
    assert not ClinicBooking.objects.exists()


def test_my_bookings_lists_mine_only(client, hub, expert, business, member):
    book(SlotFactory(hub=hub, expert=expert, topic="Mine"), business)
    book(SlotFactory(hub=hub, expert=expert, topic="Not mine"), member)
    login(client, business)
    text = client.get(reverse("clinics:booking_list")).content.decode()
    assert "Mine" in text
    assert "Not mine" not in text


def test_my_bookings_empty_state(client, business):
    login(client, business)
    assert b'data-testid="no-bookings"' in client.get(reverse("clinics:booking_list")).content


def test_my_bookings_query_count_does_not_grow(client, hub, expert, business, django_assert_max_num_queries):
    for i in range(8):
        book(SlotFactory(hub=hub, expert=expert, starts_at=in_days(2, hours=i)), business)
    login(client, business)
    with django_assert_max_num_queries(8):  # session, user, nav (3), count, bookings with slots
        response = client.get(reverse("clinics:booking_list"))
    assert response.content.decode().count('data-testid="booking-row"') == 8


def test_someone_elses_booking_is_not_found(client, hub, expert, business, member):
    booking = book(SlotFactory(hub=hub, expert=expert), business)
    login(client, member)
    assert client.get(booking.get_absolute_url()).status_code == 404
    assert client.get(reverse("clinics:booking_ics", args=[booking.pk])).status_code == 404


def test_the_booking_calendar_file_downloads(client, hub, expert, business):
    from icalendar import Calendar

    booking = book(SlotFactory(hub=hub, expert=expert), business)
    login(client, business)
    response = client.get(reverse("clinics:booking_ics", args=[booking.pk]))
    assert response["Content-Type"].startswith("text/calendar")
    [vevent] = Calendar.from_ical(response.content).walk("VEVENT")
    assert vevent.decoded("dtstart") == booking.slot.starts_at


# --- Cancel and move ---------------------------------------------------------------------------


def test_cancelling_asks_first_then_cancels(client, hub, expert, business):
    booking = book(SlotFactory(hub=hub, expert=expert), business)
    login(client, business)
    url = reverse("clinics:booking_cancel", args=[booking.pk])
    page = client.get(url)
    assert b"Cancel this clinic booking?" in page.content
    booking.refresh_from_db()
    assert booking.status == BookingStatus.BOOKED  # a GET changes nothing
    response = client.post(url, {"reason": "Plans changed"}, follow=True)
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    assert "The booking is cancelled" in response.content.decode()


def test_moving_a_booking_lists_free_slots_then_confirms(client, hub, expert, business, member):
    booking = book(SlotFactory(hub=hub, expert=expert, starts_at=in_days(2)), business)
    free = SlotFactory(hub=hub, expert=expert, topic="Free later", starts_at=in_days(4))
    taken = SlotFactory(hub=hub, expert=expert, topic="Taken later", starts_at=in_days(5))
    book(taken, member)
    login(client, business)
    url = reverse("clinics:booking_reschedule", args=[booking.pk])
    text = client.get(url).content.decode()
    assert "Free later" in text
    assert "Taken later" not in text
    confirm = client.get(url + f"?slot={free.pk}").content.decode()
    assert "Move to this slot?" in confirm
    response = client.post(url, {"slot": free.pk}, follow=True)
    moved = ClinicBooking.objects.get(status=BookingStatus.BOOKED, user=business)
    assert moved.slot == free
    assert response.redirect_chain[-1][0] == moved.get_absolute_url()


# --- Experts ------------------------------------------------------------------------------------


def test_the_expert_sees_their_slots_with_the_intake(client, hub, expert, business):
    slot = SlotFactory(hub=hub, expert=expert, topic="Vision for bakeries")
    book(slot, business)
    SlotFactory(hub=hub, expert=expert, topic="Still free")
    login(client, expert)
    text = client.get(reverse("clinics:expert_slots")).content.decode()
    assert "Vision for bakeries" in text
    assert "Still free" in text
    assert INTAKE["problem"] in text
    assert "Bea Business" in text


def test_the_expert_page_query_count_does_not_grow(client, hub, expert, business, django_assert_max_num_queries):
    for i in range(8):
        slot = SlotFactory(hub=hub, expert=expert, starts_at=in_days(2, hours=i))
        if i % 2:
            book(slot, business)
    login(client, expert)
    # session, user, roles, expert hubs, unread count, count, slots with hub and expert, their bookings with bookers
    with django_assert_max_num_queries(9):
        response = client.get(reverse("clinics:expert_slots"))
    assert response.content.decode().count('data-testid="expert-slot"') == 8


def test_a_plain_member_has_no_expert_page(client, member):
    login(client, member)
    assert client.get(reverse("clinics:expert_slots")).status_code == 404
    assert client.get(reverse("clinics:slot_create")).status_code == 404


def test_an_expert_publishes_a_slot_from_the_form(client, hub, expert):
    login(client, expert)
    start = (timezone.localtime() + timedelta(days=3)).replace(hour=10, minute=0)
    response = client.post(
        reverse("clinics:slot_create"),
        {
            "hub": hub.pk,
            "expert": expert.pk,
            "topic": "Vision for bakeries",
            "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
            "duration_minutes": 45,
            "mode": "online",
            "link": "https://meet.example/eva",
        },
    )
    assert response.status_code == 302
    slot = ClinicSlot.objects.get()
    assert (slot.mode, slot.link, slot.duration_minutes) == ("online", "https://meet.example/eva", 45)


def test_staff_of_two_hubs_publish_at_the_second_one(client, hub, other_hub, staff):
    # Regression: the view looked the chosen hub up with a generator that popped the form's
    # "hub" once per hub, so any hub after the first in the list answered a 500.
    MembershipFactory(user=staff, hub=other_hub, role=Role.STAFF)
    login(client, staff)
    second = max(hub, other_hub, key=lambda h: h.name)
    start = (timezone.localtime() + timedelta(days=3)).replace(hour=10, minute=0)
    response = client.post(
        reverse("clinics:slot_create"),
        {
            "hub": second.pk,
            "expert": staff.pk,
            "topic": "Vision for bakeries",
            "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
            "duration_minutes": 45,
            "mode": "on_site",
            "place": "Room 1",
        },
    )
    assert response.status_code == 302
    assert ClinicSlot.objects.get().hub == second


def test_the_slot_form_names_bad_fields(client, hub, expert):
    login(client, expert)
    past = (timezone.localtime() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        reverse("clinics:slot_create"),
        {"hub": hub.pk, "expert": expert.pk, "topic": "X", "starts_at": past, "duration_minutes": 5, "mode": "online"},
    )
    assert response.status_code == 200
    assert {"starts_at", "duration_minutes"} <= set(response.context["form"].errors)
    assert not ClinicSlot.objects.exists()


def test_the_expert_records_the_follow_up_from_the_booking_page(client, hub, expert, business):
    booking = book(SlotFactory(hub=hub, expert=expert), business)
    login(client, expert)
    response = client.post(
        booking.get_absolute_url(),
        {
            "notes": "Good data; start small.",
            "rec_text_1": "Apply to the playground call",
            "rec_link_1": "https://portal.example/calls/lyon-playground/",
        },
        follow=True,
    )
    assert "Follow-up saved" in response.content.decode()
    assert Recommendation.objects.get().text == "Apply to the playground call"
    # the booker reads it
    login(client, business)
    text = client.get(booking.get_absolute_url()).content.decode()
    assert "Good data; start small." in text
    assert "https://portal.example/calls/lyon-playground/" in text


def test_the_booker_cannot_post_a_follow_up(client, hub, expert, business):
    booking = book(SlotFactory(hub=hub, expert=expert), business)
    login(client, business)
    assert client.post(booking.get_absolute_url(), {"notes": "Great expert"}).status_code == 403
    assert not ClinicBooking.objects.get().follow_up_notes


def test_staff_of_another_hub_cannot_edit_or_withdraw_a_slot(client, hub, expert, other_staff):
    slot = SlotFactory(hub=hub, expert=expert, topic="Vision for bakeries")
    login(client, other_staff)
    assert client.get(reverse("clinics:slot_edit", args=[slot.pk])).status_code == 404
    assert client.post(reverse("clinics:slot_edit", args=[slot.pk]), {"topic": "Mine"}).status_code == 404
    assert client.post(reverse("clinics:slot_withdraw", args=[slot.pk])).status_code == 404
    slot.refresh_from_db()
    assert (slot.topic, slot.status) == ("Vision for bakeries", SlotStatus.PUBLISHED)


def test_hub_staff_withdraw_a_booked_slot_after_confirming(client, hub, expert, business, staff):
    slot = SlotFactory(hub=hub, expert=expert)
    booking = book(slot, business)
    login(client, staff)
    page = client.get(reverse("clinics:slot_withdraw", args=[slot.pk]))
    assert b'data-testid="withdraw-booked"' in page.content
    client.post(reverse("clinics:slot_withdraw", args=[slot.pk]), {"reason": "Expert ill"})
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED


def test_a_private_hubs_slots_are_hidden_from_outsiders(client, expert, business):
    private = HubFactory(slug="private", public=False)
    staffer = verified_user()
    MembershipFactory(user=staffer, hub=private, role=Role.STAFF)
    enable_mfa(staffer)
    slot = SlotFactory(hub=private, expert=staffer, topic="Members only")
    assert b"Members only" not in client.get(reverse("clinics:slot_list")).content
    assert client.get(slot.get_absolute_url()).status_code == 404
