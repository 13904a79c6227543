"""API v1 for events: the public list and detail, staff create / edit / publish / cancel,
registration with the waiting list, my registrations, cancel with promotion, the staff
registration list and attendance, demo-day pitch slots; keys, MFA and hub scoping."""

from datetime import datetime, timedelta

import pytest
from django.core import mail
from rest_framework.test import APIClient

from hubs.access import forget_roles
from hubs.models import Notification, PartnerSystem, Role
from pilots.events import services
from pilots.events.models import (
    Event,
    EventKind,
    EventMode,
    EventStatus,
    PitchSlot,
    Registration,
    RegistrationRole,
    RegistrationStatus,
)
from tests.conftest import verified_user
from tests.factories import MembershipFactory, UserFactory, make_api_key

from .factories import EventFactory, PitchSlotFactory, RegistrationFactory, in_days

R = RegistrationStatus
pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


def signed_in(api, user):
    api.force_login(user)
    return api


def bearer(api, secret):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return api


def results(response):
    assert response.status_code == 200, response.content
    return response.json()["results"]


def register(event, user=None, **kwargs):
    return services.registration_create(event=event, acting_user=user or UserFactory(), **kwargs)


NEW_EVENT = {
    "hub": "lyon",
    "title": "GPU programming for beginners",
    "kind": "training",
    "description": "CUDA basics to multi-GPU training.",
    "mode": "hybrid",
    "place": "Training room, Lyon AI Gigafactory",
    "link": "https://meet.example/gpu-101",
    "capacity": 24,
}


def new_event(**changes):
    return NEW_EVENT | {"starts_at": in_days(20).isoformat(), "ends_at": in_days(20, hours=4).isoformat()} | changes


# --- The public list and detail ----------------------------------------------------------------


def test_the_event_list_is_public_soonest_first_without_drafts(api, hub, other_hub):
    EventFactory(hub=hub, title="Lyon demo day", kind=EventKind.DEMO_DAY, starts_at=in_days(12))
    EventFactory(hub=other_hub, title="Grid AI training", kind=EventKind.TRAINING, starts_at=in_days(5))
    EventFactory(hub=hub, title="Secret draft", status=EventStatus.DRAFT, published_at=None)
    items = results(api.get("/api/v1/events/"))
    assert [i["title"] for i in items] == ["Grid AI training", "Lyon demo day"]
    first = items[1]
    assert first["hub"] == {"slug": "lyon", "name": "Lyon AI Gigafactory"}
    assert first["kind"] == "demo_day"
    assert (first["confirmed_count"], first["places_left"], first["status"]) == (0, 30, "published")
    assert first["calendar_url"].endswith(f"/events/{first['slug']}/event.ics")


@pytest.mark.parametrize(
    ("query", "titles"),
    [
        ("?hub=helsinki", ["Grid AI training"]),
        ("?kind=demo_day", ["Last year's demo day", "Lyon demo day"]),
        ("?search=grid", ["Grid AI training"]),
        ("?upcoming=true", ["Grid AI training", "Lyon demo day", "Cancelled meetup"]),
        ("?upcoming=false", ["Last year's demo day"]),
        ("?status=cancelled", ["Cancelled meetup"]),
    ],
)
def test_the_event_list_filters(api, hub, other_hub, query, titles):
    EventFactory(hub=hub, title="Lyon demo day", kind=EventKind.DEMO_DAY, starts_at=in_days(12))
    EventFactory(hub=other_hub, title="Grid AI training", kind=EventKind.TRAINING, starts_at=in_days(5))
    EventFactory(hub=hub, title="Cancelled meetup", starts_at=in_days(40), status=EventStatus.CANCELLED)
    EventFactory(hub=hub, title="Last year's demo day", kind=EventKind.DEMO_DAY, starts_at=in_days(-300))
    assert [i["title"] for i in results(api.get("/api/v1/events/" + query))] == titles


def test_the_event_list_filters_by_date_range(api, hub):
    EventFactory(hub=hub, title="Early", starts_at=in_days(3))
    EventFactory(hub=hub, title="Middle", starts_at=in_days(10))
    EventFactory(hub=hub, title="Late", starts_at=in_days(30))
    window = {"starts_after": in_days(5).isoformat(), "starts_before": in_days(20).isoformat()}
    assert [i["title"] for i in results(api.get("/api/v1/events/", window))] == ["Middle"]
    bad = api.get("/api/v1/events/", {"starts_after": "next tuesday"})
    assert bad.status_code == 400
    assert "starts_after" in bad.json()


def test_staff_see_their_hubs_drafts_in_the_list_and_others_do_not(api, hub, staff, other_staff, member):
    EventFactory(hub=hub, title="Lyon draft", status=EventStatus.DRAFT, published_at=None)
    assert [i["title"] for i in results(signed_in(api, staff).get("/api/v1/events/?status=draft"))] == ["Lyon draft"]
    assert results(signed_in(api, other_staff).get("/api/v1/events/?status=draft")) == []
    assert results(signed_in(api, member).get("/api/v1/events/?status=draft")) == []


def test_the_event_list_is_paginated(api, hub):
    for i in range(7):
        EventFactory(hub=hub, starts_at=in_days(3 + i))
    body = api.get("/api/v1/events/?page_size=5").json()
    assert (body["count"], len(body["results"])) == (7, 5)
    assert len(api.get("/api/v1/events/?page_size=5&page=2").json()["results"]) == 2


@pytest.mark.parametrize("size", [3, 12])
def test_the_event_list_query_count_does_not_grow(api, hub, size, django_assert_num_queries):
    for i in range(size):
        event = EventFactory(hub=hub, starts_at=in_days(3 + i), capacity=2)
        for _ in range(i % 3):
            RegistrationFactory(event=event)
    with django_assert_num_queries(2):  # count, events with hub and registration counts
        assert len(results(api.get("/api/v1/events/"))) == size


@pytest.mark.parametrize("size", [3, 12])
def test_the_event_list_query_count_for_staff_does_not_grow(api, hub, staff, size, django_assert_num_queries):
    for i in range(size):
        EventFactory(hub=hub, starts_at=in_days(3 + i), mode=EventMode.HYBRID, link="https://meet.example/x")
    signed_in(api, staff)
    with django_assert_num_queries(5):  # session, user, roles, count, events with hub and counts
        items = results(api.get("/api/v1/events/"))
    assert len(items) == size
    assert items[0]["link"] == "https://meet.example/x"  # the hub's staff see the link


def test_the_detail_hides_drafts_and_links_from_the_public(api, hub, staff, other_staff):
    live = EventFactory(hub=hub, mode=EventMode.ONLINE, place="", link="https://meet.example/live")
    draft = EventFactory(hub=hub, status=EventStatus.DRAFT, published_at=None)
    body = api.get(f"/api/v1/events/{live.slug}/").json()
    assert (body["slug"], body["link"]) == (live.slug, "")
    assert api.get(f"/api/v1/events/{draft.slug}/").status_code == 404
    assert signed_in(api, other_staff).get(f"/api/v1/events/{draft.slug}/").status_code == 404
    staff_view = signed_in(api, staff).get(f"/api/v1/events/{draft.slug}/")
    assert staff_view.status_code == 200
    assert staff_view.json()["status"] == "draft"
    assert api.get("/api/v1/events/no-such-event/").status_code == 404


# --- Staff: create, edit, publish, cancel -------------------------------------------------------


def test_staff_create_a_draft_with_a_write_key(api, hub, staff):
    _key, secret = make_api_key(hub=hub, user=staff, scope="write")
    response = bearer(api, secret).post("/api/v1/events/", new_event(), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["kind"], body["mode"], body["capacity"]) == ("draft", "training", "hybrid", 24)
    assert body["link"] == "https://meet.example/gpu-101"
    event = Event.objects.get()
    assert (event.hub, event.created_by, event.slug) == (hub, staff, body["slug"])


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"starts_at": in_days(-2).isoformat(), "ends_at": in_days(-2, hours=2).isoformat()}, "starts_at"),
        ({"ends_at": in_days(19).isoformat()}, "ends_at"),
        ({"capacity": 0}, "capacity"),
        ({"kind": "party"}, "kind"),
        ({"mode": "online", "link": ""}, "link"),
        ({"mode": "online", "link": "not a link"}, "link"),
        ({"mode": "on_site", "place": ""}, "place"),
        ({"title": ""}, "title"),
        ({"hub": "atlantis"}, "hub"),
    ],
)
def test_bad_event_input_answers_400_naming_the_field(api, hub, staff, changes, field):
    response = signed_in(api, staff).post("/api/v1/events/", new_event(**changes), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Event.objects.exists()


def test_who_may_not_create_events(api, hub, other_hub, staff, other_staff, member):
    assert signed_in(api, member).post("/api/v1/events/", new_event(), format="json").status_code == 403
    # staff of another hub cannot create events here
    assert signed_in(api, other_staff).post("/api/v1/events/", new_event(), format="json").status_code == 403
    no_mfa = verified_user(name="Nina No-MFA")
    MembershipFactory(user=no_mfa, hub=hub, role=Role.STAFF)
    refused = signed_in(api, no_mfa).post("/api/v1/events/", new_event(), format="json")
    assert refused.status_code == 403
    assert "two-factor" in refused.json()["detail"]
    api.logout()
    _key, read = make_api_key(hub=hub, user=staff, scope="read")
    assert bearer(api, read).post("/api/v1/events/", new_event(), format="json").status_code == 403
    MembershipFactory(user=staff, hub=other_hub, role=Role.STAFF)
    forget_roles(staff)
    _key, elsewhere = make_api_key(hub=other_hub, user=staff, scope="write", name="helsinki key")
    assert bearer(api, elsewhere).post("/api/v1/events/", new_event(), format="json").status_code == 403
    assert not Event.objects.exists()


def test_staff_edit_an_event_and_more_places_promote_the_waiting_list(api, hub, staff):
    event = EventFactory(hub=hub, capacity=1)
    register(event)
    waiting = register(event)
    assert waiting.status == R.WAITLISTED
    response = signed_in(api, staff).patch(
        f"/api/v1/events/{event.slug}/", {"title": "Bigger workshop", "capacity": 2}, format="json"
    )
    assert response.status_code == 200, response.content
    assert (response.json()["title"], response.json()["confirmed_count"]) == ("Bigger workshop", 2)
    waiting.refresh_from_db()
    assert waiting.status == R.CONFIRMED


def test_the_capacity_cannot_go_below_the_confirmed_places(api, hub, staff):
    event = EventFactory(hub=hub, capacity=3)
    register(event)
    register(event)
    response = signed_in(api, staff).patch(f"/api/v1/events/{event.slug}/", {"capacity": 1}, format="json")
    assert response.status_code == 400
    assert "2 people" in response.json()["capacity"][0]
    event.refresh_from_db()
    assert event.capacity == 3


def test_another_hubs_staff_cannot_edit_publish_or_cancel(api, hub, other_staff):
    event = EventFactory(hub=hub, title="Original", status=EventStatus.DRAFT, published_at=None)
    signed_in(api, other_staff)
    assert api.patch(f"/api/v1/events/{event.slug}/", {"title": "Hijacked"}, format="json").status_code == 404
    assert api.post(f"/api/v1/events/{event.slug}/publish/").status_code == 404
    assert api.post(f"/api/v1/events/{event.slug}/cancel/").status_code == 404
    event.refresh_from_db()
    assert (event.title, event.status) == ("Original", EventStatus.DRAFT)


def test_publish_then_cancel_and_409_when_repeated(api, hub, staff, django_capture_on_commit_callbacks):
    event = EventFactory(hub=hub, status=EventStatus.DRAFT, published_at=None)
    signed_in(api, staff)
    published = api.post(f"/api/v1/events/{event.slug}/publish/")
    assert published.status_code == 200, published.content
    assert published.json()["status"] == "published"
    assert api.post(f"/api/v1/events/{event.slug}/publish/").status_code == 409
    attendee = register(event)
    with django_capture_on_commit_callbacks(execute=True):
        cancelled = api.post(f"/api/v1/events/{event.slug}/cancel/", {"reason": "The venue flooded."}, format="json")
    assert cancelled.json()["status"] == "cancelled"
    assert Notification.objects.filter(user=attendee.user, kind="event.cancelled").exists()
    again = api.post(f"/api/v1/events/{event.slug}/cancel/")
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"
    edit = api.patch(f"/api/v1/events/{event.slug}/", {"title": "Back on"}, format="json")
    assert edit.status_code == 409


# --- Registration ------------------------------------------------------------------------------


def test_register_a_place_then_the_waiting_list_when_full(api, hub, member, django_capture_on_commit_callbacks):
    event = EventFactory(hub=hub, capacity=1)
    signed_in(api, member)
    with django_capture_on_commit_callbacks(execute=True):
        first = api.post(f"/api/v1/events/{event.slug}/register/", {}, format="json")
    assert first.status_code == 201, first.content
    assert (first.json()["status"], first.json()["waiting_position"]) == ("confirmed", None)
    assert first.json()["person"]["id"] == member.pk
    assert len(mail.outbox) == 1
    assert mail.outbox[0].attachments[0][0] == "event.ics"
    register(event)  # someone else waits first
    late = verified_user(name="Lea Late")
    second = signed_in(api, late).post(f"/api/v1/events/{event.slug}/register/", {}, format="json")
    assert second.status_code == 201
    assert (second.json()["status"], second.json()["waiting_position"]) == ("waitlisted", 2)


def test_registering_twice_or_for_a_cancelled_event_is_409(api, hub, member):
    event = EventFactory(hub=hub)
    signed_in(api, member)
    assert api.post(f"/api/v1/events/{event.slug}/register/").status_code == 201
    twice = api.post(f"/api/v1/events/{event.slug}/register/")
    assert twice.status_code == 409
    assert "already registered" in twice.json()["detail"]
    cancelled = EventFactory(hub=hub, status=EventStatus.CANCELLED)
    assert api.post(f"/api/v1/events/{cancelled.slug}/register/").status_code == 409
    draft = EventFactory(hub=hub, status=EventStatus.DRAFT, published_at=None)
    assert api.post(f"/api/v1/events/{draft.slug}/register/").status_code == 404
    assert Registration.objects.count() == 1


@pytest.mark.parametrize(
    ("kind", "payload", "field"),
    [
        (EventKind.WORKSHOP, {"role": "investor"}, "role"),
        (EventKind.DEMO_DAY, {"role": "startup", "organisation_name": ""}, "organisation_name"),
        (EventKind.DEMO_DAY, {"role": "journalist"}, "role"),
    ],
)
def test_bad_registrations_answer_400_naming_the_field(api, hub, member, kind, payload, field):
    event = EventFactory(hub=hub, kind=kind)
    response = signed_in(api, member).post(f"/api/v1/events/{event.slug}/register/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Registration.objects.exists()


def test_investors_register_for_demo_days(api, hub, member):
    event = EventFactory(hub=hub, kind=EventKind.DEMO_DAY)
    payload = {"role": "investor", "organisation_name": "Nordic Seed Fund", "note": "Climate, seed"}
    response = signed_in(api, member).post(f"/api/v1/events/{event.slug}/register/", payload, format="json")
    assert response.status_code == 201
    assert (response.json()["role"], response.json()["organisation_name"]) == ("investor", "Nordic Seed Fund")


def test_who_may_not_register(api, hub, member):
    event = EventFactory(hub=hub)
    assert api.post(f"/api/v1/events/{event.slug}/register/").status_code in (401, 403)
    _key, read = make_api_key(hub=hub, user=member, scope="read")
    assert bearer(api, read).post(f"/api/v1/events/{event.slug}/register/").status_code == 403
    partner = PartnerSystem.objects.create(hub=hub, name="Lyon HPC", kind="hpc_centre")
    _key, partner_secret = make_api_key(hub=hub, partner=partner, scope="write", name="partner key")
    assert bearer(api, partner_secret).post(f"/api/v1/events/{event.slug}/register/").status_code == 403
    assert not Registration.objects.exists()


def test_a_personal_write_key_registers(api, hub, member):
    event = EventFactory(hub=hub)
    _key, write = make_api_key(hub=hub, user=member, scope="write")
    assert bearer(api, write).post(f"/api/v1/events/{event.slug}/register/").status_code == 201


def test_my_registrations_lists_only_mine_with_the_waiting_position(api, hub, member):
    full = EventFactory(hub=hub, capacity=1, title="Full", starts_at=in_days(5))
    register(full)
    register(full, member)
    register(EventFactory(hub=hub, title="Roomy", starts_at=in_days(9)), member)
    register(EventFactory(hub=hub, title="Not mine"))
    items = results(signed_in(api, member).get("/api/v1/event-registrations/"))
    assert [(i["event"]["title"], i["status"], i["waiting_position"]) for i in items] == [
        ("Roomy", "confirmed", None),
        ("Full", "waitlisted", 1),
    ]
    assert [i["event"]["title"] for i in results(api.get("/api/v1/event-registrations/?status=waitlisted"))] == ["Full"]


@pytest.mark.parametrize("size", [2, 9])
def test_my_registrations_query_count_does_not_grow(api, hub, member, size, django_assert_num_queries):
    for i in range(size):
        event = EventFactory(hub=hub, capacity=1 + i % 2, starts_at=in_days(3 + i))
        if i % 2 == 0:
            register(event)
        register(event, member)
    signed_in(api, member)
    with django_assert_num_queries(4):  # session, user, count, registrations with events, hubs and positions
        assert len(results(api.get("/api/v1/event-registrations/"))) == size


def test_a_key_for_one_hub_lists_only_that_hubs_registrations(api, hub, other_hub, member):
    MembershipFactory(user=member, hub=other_hub)
    register(EventFactory(hub=hub), member)
    register(EventFactory(hub=other_hub), member)
    _key, secret = make_api_key(hub=other_hub, user=member)
    items = results(bearer(api, secret).get("/api/v1/event-registrations/"))
    assert [i["event"]["hub"]["slug"] for i in items] == ["helsinki"]


def test_cancelling_promotes_the_next_person_and_twice_is_409(api, hub, member):
    event = EventFactory(hub=hub, capacity=1)
    mine = register(event, member)
    next_in_line = register(event)
    after_them = register(event)
    signed_in(api, member)
    response = api.post(f"/api/v1/event-registrations/{mine.pk}/cancel/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    next_in_line.refresh_from_db()
    after_them.refresh_from_db()
    assert (next_in_line.status, after_them.status) == (R.CONFIRMED, R.WAITLISTED)
    assert api.post(f"/api/v1/event-registrations/{mine.pk}/cancel/").status_code == 409


def test_nobody_else_cancels_my_registration(api, hub, member, other_staff):
    mine = register(EventFactory(hub=hub), member)
    stranger = verified_user(name="Stan Stranger")
    assert signed_in(api, stranger).post(f"/api/v1/event-registrations/{mine.pk}/cancel/").status_code == 404
    assert signed_in(api, other_staff).post(f"/api/v1/event-registrations/{mine.pk}/cancel/").status_code == 404
    assert signed_in(api, stranger).get(f"/api/v1/event-registrations/{mine.pk}/").status_code == 404
    mine.refresh_from_db()
    assert mine.status == R.CONFIRMED


def test_the_online_link_is_shown_once_the_place_is_confirmed(api, hub, member):
    event = EventFactory(hub=hub, capacity=1, mode=EventMode.ONLINE, place="", link="https://meet.example/w")
    register(event)
    waiting = register(event, member)
    signed_in(api, member)
    assert api.get(f"/api/v1/event-registrations/{waiting.pk}/").json()["online_link"] == ""
    services.event_update(event=event, acting_user=hub_staff(hub), capacity=2)
    assert api.get(f"/api/v1/event-registrations/{waiting.pk}/").json()["online_link"] == "https://meet.example/w"


def hub_staff(hub):
    user = UserFactory()
    MembershipFactory(user=user, hub=hub, role=Role.STAFF)
    return user


# --- Staff: registrations of an event and attendance ---------------------------------------------


def test_staff_list_an_events_registrations_confirmed_first(api, hub, staff):
    event = EventFactory(hub=hub, capacity=1)
    first = register(event)
    waiting = register(event)
    items = results(signed_in(api, staff).get(f"/api/v1/events/{event.slug}/registrations/"))
    assert [(i["id"], i["status"], i["waiting_position"]) for i in items] == [
        (first.pk, "confirmed", None),
        (waiting.pk, "waitlisted", 1),
    ]
    assert items[0]["person"]["email"] == first.user.email
    assert len(results(api.get(f"/api/v1/events/{event.slug}/registrations/?status=waitlisted"))) == 1


def test_only_the_hubs_staff_list_registrations(api, hub, member, other_staff):
    event = EventFactory(hub=hub)
    register(event)
    assert signed_in(api, member).get(f"/api/v1/events/{event.slug}/registrations/").status_code == 403
    assert signed_in(api, other_staff).get(f"/api/v1/events/{event.slug}/registrations/").status_code == 404
    api.logout()
    assert api.get(f"/api/v1/events/{event.slug}/registrations/").status_code in (401, 403)


@pytest.mark.parametrize("size", [3, 12])
def test_the_registration_list_query_count_does_not_grow(api, hub, staff, size, django_assert_num_queries):
    event = EventFactory(hub=hub, capacity=size // 2, kind=EventKind.DEMO_DAY)
    for _ in range(size):
        register(event)
    signed_in(api, staff)
    # session, user, roles, MFA authenticator, event, count, registrations with people and positions
    with django_assert_num_queries(7):
        assert len(results(api.get(f"/api/v1/events/{event.slug}/registrations/"))) == size


def test_staff_mark_attendance_from_the_start(api, hub, staff, other_staff):
    event = EventFactory(hub=hub, starts_at=in_days(2))
    registration = register(event)
    signed_in(api, staff)
    early = api.post(f"/api/v1/event-registrations/{registration.pk}/attendance/", {"attended": True}, format="json")
    assert early.status_code == 400
    assert "attended" in early.json()
    Event.objects.filter(pk=event.pk).update(starts_at=in_days(0, hours=-1), ends_at=in_days(0, hours=2))
    assert (
        signed_in(api, other_staff)
        .post(f"/api/v1/event-registrations/{registration.pk}/attendance/", {"attended": True}, format="json")
        .status_code
        == 404
    )
    marked = signed_in(api, staff).post(
        f"/api/v1/event-registrations/{registration.pk}/attendance/", {"attended": True}, format="json"
    )
    assert marked.status_code == 200, marked.content
    assert marked.json()["attended"] is True
    registration.refresh_from_db()
    assert (registration.attended, registration.attendance_marked_by) == (True, staff)
    missing = api.post(f"/api/v1/event-registrations/{registration.pk}/attendance/", {}, format="json")
    assert missing.status_code == 400
    assert "attended" in missing.json()


def test_attendees_cannot_mark_their_own_attendance(api, hub, member):
    event = EventFactory(hub=hub, starts_at=in_days(0, hours=-1), ends_at=in_days(0, hours=2))
    registration = RegistrationFactory(event=event, user=member)
    response = signed_in(api, member).post(
        f"/api/v1/event-registrations/{registration.pk}/attendance/", {"attended": True}, format="json"
    )
    assert response.status_code == 403
    registration.refresh_from_db()
    assert registration.attended is None


# --- Pitch slots -------------------------------------------------------------------------------


@pytest.fixture
def demo_day(hub):
    return EventFactory(hub=hub, kind=EventKind.DEMO_DAY, title="Lyon demo day", capacity=50)


def startup(event, name):
    user = verified_user(name=f"{name} founder")
    return register(event, user, role=RegistrationRole.STARTUP, organisation_name=name)


def test_pitch_slots_are_public_with_their_holder(api, demo_day):
    first, second = PitchSlotFactory(event=demo_day), PitchSlotFactory(event=demo_day)
    holder = startup(demo_day, "Spreewald Robotics")
    services.pitch_slot_claim(registration=holder, pitch_slot=first, acting_user=holder.user)
    items = results(api.get(f"/api/v1/events/{demo_day.slug}/pitch-slots/"))
    assert [(i["id"], i["taken"], i["holder"], i["yours"]) for i in items] == [
        (first.pk, True, "Spreewald Robotics", False),
        (second.pk, False, None, False),
    ]
    assert datetime.fromisoformat(items[0]["ends_at"]) == first.starts_at + timedelta(minutes=10)
    assert results(signed_in(api, holder.user).get(f"/api/v1/events/{demo_day.slug}/pitch-slots/"))[0]["yours"]


@pytest.mark.parametrize("size", [2, 10])
def test_the_pitch_slot_list_query_count_does_not_grow(api, demo_day, size, django_assert_num_queries):
    for i in range(size):
        slot = PitchSlotFactory(event=demo_day)
        if i % 2:
            holder = startup(demo_day, f"Startup {i}")
            services.pitch_slot_claim(registration=holder, pitch_slot=slot, acting_user=holder.user)
    with django_assert_num_queries(3):  # event, count, slots with their holder
        assert len(results(api.get(f"/api/v1/events/{demo_day.slug}/pitch-slots/"))) == size


def test_a_startup_claims_a_slot_and_a_taken_slot_is_409(api, demo_day):
    slot = PitchSlotFactory(event=demo_day)
    first, rival = startup(demo_day, "Spreewald Robotics"), startup(demo_day, "Tejo Analytics")
    claimed = signed_in(api, first.user).post(f"/api/v1/event-pitch-slots/{slot.pk}/claim/")
    assert claimed.status_code == 200, claimed.content
    assert (claimed.json()["holder"], claimed.json()["yours"]) == ("Spreewald Robotics", True)
    taken = signed_in(api, rival.user).post(f"/api/v1/event-pitch-slots/{slot.pk}/claim/")
    assert taken.status_code == 409
    assert "taken" in taken.json()["detail"]
    assert Registration.objects.get(pitch_slot=slot) == first


def test_releasing_a_slot_lets_another_startup_claim_it(api, demo_day):
    slot = PitchSlotFactory(event=demo_day)
    first, rival = startup(demo_day, "Spreewald Robotics"), startup(demo_day, "Tejo Analytics")
    services.pitch_slot_claim(registration=first, pitch_slot=slot, acting_user=first.user)
    assert signed_in(api, rival.user).post(f"/api/v1/event-pitch-slots/{slot.pk}/release/").status_code == 403
    released = signed_in(api, first.user).post(f"/api/v1/event-pitch-slots/{slot.pk}/release/")
    assert released.status_code == 200, released.content
    assert (released.json()["taken"], released.json()["holder"]) == (False, None)
    assert api.post(f"/api/v1/event-pitch-slots/{slot.pk}/release/").status_code == 409
    assert signed_in(api, rival.user).post(f"/api/v1/event-pitch-slots/{slot.pk}/claim/").status_code == 200
    assert Registration.objects.get(pitch_slot=slot) == rival


def test_only_confirmed_startups_claim(api, demo_day, member):
    slot = PitchSlotFactory(event=demo_day)
    signed_in(api, member)
    unregistered = api.post(f"/api/v1/event-pitch-slots/{slot.pk}/claim/")
    assert unregistered.status_code == 400
    assert "registration" in unregistered.json()
    register(demo_day, member, role=RegistrationRole.INVESTOR)
    investor = api.post(f"/api/v1/event-pitch-slots/{slot.pk}/claim/")
    assert investor.status_code == 400
    assert "pitch_slot" in investor.json()
    assert not Registration.objects.filter(pitch_slot=slot).exists()


def test_staff_claim_for_a_startup_and_add_pitch_slots(api, demo_day, staff, other_staff):
    holder = startup(demo_day, "Spreewald Robotics")
    signed_in(api, staff)
    added = api.post(
        f"/api/v1/events/{demo_day.slug}/pitch-slots/",
        {"starts_at": (demo_day.starts_at + timedelta(minutes=30)).isoformat(), "minutes": 15},
        format="json",
    )
    assert added.status_code == 201, added.content
    slot_id = added.json()["id"]
    outside = api.post(
        f"/api/v1/events/{demo_day.slug}/pitch-slots/",
        {"starts_at": (demo_day.ends_at + timedelta(hours=1)).isoformat()},
        format="json",
    )
    assert outside.status_code == 400
    assert "starts_at" in outside.json()
    claimed = api.post(f"/api/v1/event-pitch-slots/{slot_id}/claim/", {"registration": holder.pk}, format="json")
    assert claimed.status_code == 200, claimed.content
    assert claimed.json()["holder"] == "Spreewald Robotics"
    signed_in(api, other_staff)
    assert api.post(f"/api/v1/event-pitch-slots/{slot_id}/release/").status_code == 403
    assert (
        api.post(
            f"/api/v1/events/{demo_day.slug}/pitch-slots/", {"starts_at": demo_day.starts_at.isoformat()}, format="json"
        ).status_code
        == 404
    )
    assert PitchSlot.objects.count() == 1
