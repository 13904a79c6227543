"""API v1 for clinics: public slot list, publishing by experts and staff, booking with the
intake, cancel / move / follow-up, hub scoping and keys."""

import pytest

from hubs.models import Role
from pilots.clinics import services
from pilots.clinics.models import BookingStatus, ClinicBooking, ClinicSlot, Mode, SlotStatus
from tests.conftest import verified_user
from tests.factories import MembershipFactory, make_api_key

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


def results(response):
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_the_slot_list_is_public_with_filters(client, hub, other_hub, expert, business):
    booked = SlotFactory(hub=hub, expert=expert, topic="Vision for bakeries", starts_at=in_days(2))
    book(booked, business)
    SlotFactory(hub=other_hub, topic="Grid forecasting", mode=Mode.ONLINE, link="https://meet.example/x", place="")
    SlotFactory(hub=hub, expert=expert, starts_at=in_days(-3), topic="Past")
    items = results(client.get("/api/v1/clinic-slots/"))
    assert [i["topic"] for i in items] == ["Vision for bakeries", "Grid forecasting"]
    assert items[0]["is_booked"] is True
    assert items[0]["hub"] == {"slug": "lyon", "name": "Lyon AI Gigafactory"}
    assert items[0]["expert"] == {"id": expert.pk, "name": "Eva Expert"}
    assert items[1]["link"] == ""  # the video link is not public
    assert [i["topic"] for i in results(client.get("/api/v1/clinic-slots/?hub=helsinki"))] == ["Grid forecasting"]
    assert [i["topic"] for i in results(client.get("/api/v1/clinic-slots/?free=true"))] == ["Grid forecasting"]
    assert [i["topic"] for i in results(client.get("/api/v1/clinic-slots/?topic=vision"))] == ["Vision for bakeries"]


def test_the_slot_list_query_count_does_not_grow(client, hub, expert, business, django_assert_num_queries):
    for i in range(10):
        slot = SlotFactory(hub=hub, expert=expert, starts_at=in_days(2, hours=i))
        if i % 2:
            book(slot, business)
    with django_assert_num_queries(2):  # count, slots with hub, expert and booked flag
        assert len(results(client.get("/api/v1/clinic-slots/"))) == 10


def test_an_expert_publishes_a_slot(client, hub, expert):
    client.force_login(expert)
    response = client.post(
        "/api/v1/clinic-slots/",
        {
            "hub": "lyon",
            "topic": "Vision for bakeries",
            "starts_at": in_days(3).isoformat(),
            "duration_minutes": 30,
            "mode": "online",
            "link": "https://meet.example/eva",
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["duration_minutes"] == 30
    assert body["link"] == "https://meet.example/eva"  # the expert sees their link
    assert ClinicSlot.objects.get().expert == expert


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"starts_at": in_days(-1).isoformat()}, "starts_at"),
        ({"duration_minutes": 0}, "duration_minutes"),
        ({"mode": "online", "link": ""}, "link"),
        ({"mode": "on_site", "place": ""}, "place"),
        ({"hub": "atlantis"}, "hub"),
    ],
)
def test_bad_slot_input_answers_400_naming_the_field(client, hub, expert, changes, field):
    client.force_login(expert)
    payload = {
        "hub": "lyon",
        "topic": "X",
        "starts_at": in_days(3).isoformat(),
        "duration_minutes": 30,
        "mode": "on_site",
        "place": "Room 1",
    } | changes
    response = client.post("/api/v1/clinic-slots/", payload, content_type="application/json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not ClinicSlot.objects.exists()


def test_an_overlapping_slot_answers_400_on_the_start_time(client, hub, expert):
    SlotFactory(hub=hub, expert=expert, starts_at=in_days(3), ends_at=in_days(3, hours=1))
    client.force_login(expert)
    response = client.post(
        "/api/v1/clinic-slots/",
        {
            "hub": "lyon",
            "topic": "Again",
            "starts_at": in_days(3, minutes=30).isoformat(),
            "duration_minutes": 30,
            "place": "Room",
        },
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "starts_at" in response.json()


def test_staff_of_another_hub_cannot_publish_edit_or_withdraw_here(client, hub, expert, other_staff):
    slot = SlotFactory(hub=hub, expert=expert, topic="Original")
    client.force_login(other_staff)
    response = client.post(
        "/api/v1/clinic-slots/",
        {"hub": "lyon", "topic": "X", "starts_at": in_days(3).isoformat(), "duration_minutes": 30, "place": "R"},
        content_type="application/json",
    )
    assert response.status_code == 403
    patch = client.patch(f"/api/v1/clinic-slots/{slot.pk}/", {"topic": "Hijacked"}, content_type="application/json")
    assert patch.status_code == 404
    assert client.post(f"/api/v1/clinic-slots/{slot.pk}/withdraw/").status_code == 404
    slot.refresh_from_db()
    assert (slot.topic, slot.status) == ("Original", SlotStatus.PUBLISHED)


def test_booking_through_the_api_and_409_when_taken(client, hub, expert, business, member):
    slot = SlotFactory(hub=hub, expert=expert)
    client.force_login(business)
    response = client.post(f"/api/v1/clinic-slots/{slot.pk}/book/", INTAKE, content_type="application/json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "booked"
    assert body["problem"] == INTAKE["problem"]
    assert body["slot"]["is_booked"] is True
    assert body["calendar_url"].endswith(f"/clinics/bookings/{body['id']}/clinic.ics")
    client.force_login(member)
    again = client.post(f"/api/v1/clinic-slots/{slot.pk}/book/", INTAKE, content_type="application/json")
    assert again.status_code == 409
    assert "someone has just booked" in again.json()["detail"]


def test_an_incomplete_intake_answers_400(client, hub, expert, business):
    slot = SlotFactory(hub=hub, expert=expert)
    client.force_login(business)
    response = client.post(
        f"/api/v1/clinic-slots/{slot.pk}/book/", {"sector": "space", "problem": ""}, content_type="application/json"
    )
    assert response.status_code == 400
    assert {"sector", "problem", "data_description"} <= set(response.json())


def test_booking_a_past_slot_answers_400_on_the_slot(client, hub, expert, business):
    slot = SlotFactory(hub=hub, expert=expert, starts_at=in_days(-1))
    client.force_login(business)
    response = client.post(f"/api/v1/clinic-slots/{slot.pk}/book/", INTAKE, content_type="application/json")
    assert response.status_code == 400
    assert "slot" in response.json()


def test_anonymous_callers_cannot_book(client, hub, expert):
    slot = SlotFactory(hub=hub, expert=expert)
    assert client.post(
        f"/api/v1/clinic-slots/{slot.pk}/book/", INTAKE, content_type="application/json"
    ).status_code in (
        401,
        403,
    )


def test_bookings_list_mine_and_my_slots(client, hub, expert, business, member, django_assert_max_num_queries):
    for i in range(6):
        book(SlotFactory(hub=hub, expert=expert, starts_at=in_days(2, hours=i)), business)
    book(SlotFactory(hub=hub, starts_at=in_days(3)), member)
    client.force_login(business)
    with django_assert_max_num_queries(6):  # session, user, roles, count, bookings with slots, recommendations
        mine = results(client.get("/api/v1/clinic-bookings/"))
    assert len(mine) == 6
    client.force_login(expert)
    assert len(results(client.get("/api/v1/clinic-bookings/"))) == 6  # the expert sees their slots' bookings
    client.force_login(member)
    assert len(results(client.get("/api/v1/clinic-bookings/"))) == 1


def test_cancel_move_and_follow_up_through_the_api(client, hub, expert, business):
    first = SlotFactory(hub=hub, expert=expert, starts_at=in_days(2))
    later = SlotFactory(hub=hub, expert=expert, starts_at=in_days(4))
    booking = book(first, business)
    client.force_login(business)
    moved = client.post(
        f"/api/v1/clinic-bookings/{booking.pk}/reschedule/", {"slot": later.pk}, content_type="application/json"
    )
    assert moved.status_code == 201, moved.content
    new_id = moved.json()["id"]
    assert moved.json()["rescheduled_from"] == booking.pk
    assert client.get(f"/api/v1/clinic-bookings/{booking.pk}/").json()["status"] == "rescheduled"
    # the booker may not write the follow-up; the expert may
    follow = {"notes": "Start small.", "recommendations": [{"text": "Apply to the playground call", "link": ""}]}
    assert (
        client.post(f"/api/v1/clinic-bookings/{new_id}/follow-up/", follow, content_type="application/json").status_code
        == 403
    )
    client.force_login(expert)
    response = client.post(f"/api/v1/clinic-bookings/{new_id}/follow-up/", follow, content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["recommendations"][0]["text"] == "Apply to the playground call"
    client.force_login(business)
    cancelled = client.post(
        f"/api/v1/clinic-bookings/{new_id}/cancel/", {"reason": "Done"}, content_type="application/json"
    )
    assert cancelled.json()["status"] == "cancelled"
    again = client.post(f"/api/v1/clinic-bookings/{new_id}/cancel/", {}, content_type="application/json")
    assert again.status_code == 409


def test_a_personal_key_books_and_a_read_key_cannot(client, hub, expert, member):
    slot = SlotFactory(hub=hub, expert=expert)
    _key, read = make_api_key(hub=hub, user=member, scope="read")
    _key, write = make_api_key(hub=hub, user=member, scope="write", name="write key")
    url = f"/api/v1/clinic-slots/{slot.pk}/book/"
    refused = client.post(url, INTAKE, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {read}")
    assert refused.status_code == 403
    ok = client.post(url, INTAKE, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {write}")
    assert ok.status_code == 201, ok.content
    assert ClinicBooking.objects.get().status == BookingStatus.BOOKED


def test_a_key_for_one_hub_sees_only_that_hubs_bookings(client, hub, other_hub, expert, member):
    MembershipFactory(user=member, hub=other_hub)
    book(SlotFactory(hub=hub, expert=expert), member)
    book(SlotFactory(hub=other_hub), member)
    _key, raw = make_api_key(hub=other_hub, user=member)
    items = results(client.get("/api/v1/clinic-bookings/", HTTP_AUTHORIZATION=f"Bearer {raw}"))
    assert [i["slot"]["hub"]["slug"] for i in items] == ["helsinki"]


def test_a_key_for_one_hub_reads_only_that_hubs_slots(client, hub, other_hub, expert, member):
    # Regression: the slot list was narrowed to the key's hub but one slot was not.
    here, there = SlotFactory(hub=hub, expert=expert), SlotFactory(hub=other_hub)
    _key, raw = make_api_key(hub=hub, user=member)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    assert client.get(f"/api/v1/clinic-slots/{here.pk}/", **auth).status_code == 200
    assert client.get(f"/api/v1/clinic-slots/{there.pk}/", **auth).status_code == 404
    assert client.get(f"/api/v1/clinic-slots/{there.pk}/").status_code == 200  # public without a key
