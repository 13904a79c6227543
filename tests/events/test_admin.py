"""The events admin: scoped to the staff member's hubs, adding and editing through the
services, publish / cancel / attendance / release actions, CSV export; query counts pinned."""

from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone

from gigafactory.audit import audit_trail_for
from hubs.models import Notification
from pilots.events import services
from pilots.events.models import Event, EventKind, EventStatus, PitchSlot, Registration, RegistrationRole
from pilots.events.models import RegistrationStatus as R
from tests.factories import UserFactory

from .factories import EventFactory, PitchSlotFactory, RegistrationFactory, in_days

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _content_types_cached():
    """The admin looks content types up once per process: warm the cache so counts do not depend on test order."""
    ContentType.objects.get_for_models(Event, Registration, PitchSlot)


def register(event, user=None, **kwargs):
    return services.registration_create(event=event, acting_user=user or UserFactory(), **kwargs)


def split(dt) -> dict:
    local = timezone.localtime(dt)
    return {"0": local.strftime("%Y-%m-%d"), "1": local.strftime("%H:%M:%S")}


def event_form(hub, **changes):
    starts, ends = changes.pop("starts_at", in_days(14)), changes.pop("ends_at", None)
    ends = ends or starts + timedelta(hours=4)
    data = {
        "hub": hub.pk,
        "title": "Edge AI for farms",
        "kind": EventKind.WORKSHOP,
        "description": "Sensors, small models, field trials.",
        "mode": "on_site",
        "place": "Agri lab, Lyon",
        "link": "",
        "capacity": 25,
        "registrations-TOTAL_FORMS": "0",
        "registrations-INITIAL_FORMS": "0",
    }
    for name, value in (("starts_at", starts), ("ends_at", ends)):
        for part, text in split(value).items():
            data[f"{name}_{part}"] = text
    return data | changes


def demo_day_with_people(hub, people):
    event = EventFactory(hub=hub, kind=EventKind.DEMO_DAY, capacity=max(1, people // 2))
    for i in range(people):
        slot = PitchSlotFactory(event=event)
        registration = register(event, role=RegistrationRole.STARTUP, organisation_name=f"Startup {i}")
        if registration.status == R.CONFIRMED:
            services.pitch_slot_claim(registration=registration, pitch_slot=slot, acting_user=registration.user)
    return event


# --- Every page renders, with query counts that do not grow -----------------------------------


# Every page: session, user, MFA, roles, the user's and groups' permissions, the unread-notifications badge.
PAGES = {
    # + hub filter, count, total count, events with hubs and counts, date hierarchy (range, days)
    "admin:events_event_changelist": 13,
    # + hub and event filters, count, total count, registrations with people, events and slots, date hierarchy
    "admin:events_registration_changelist": 14,
    # + hub and event filters, count, total count, slots with events and holders
    "admin:events_pitchslot_changelist": 12,
}


@pytest.mark.parametrize("url_name", PAGES)
@pytest.mark.parametrize("people", [2, 8])
def test_changelists_render_with_a_pinned_query_count(staff_client, hub, url_name, people, django_assert_num_queries):
    for _ in range(2):
        demo_day_with_people(hub, people)
    with django_assert_num_queries(PAGES[url_name]):
        response = staff_client.get(reverse(url_name))
    assert response.status_code == 200
    rows = response.context["cl"].result_list
    assert len(rows) == {"event": 2, "registration": 2 * people, "pitchslot": 2 * people}[url_name.split("_")[1]]


@pytest.mark.parametrize("people", [2, 8])
def test_the_event_page_lists_its_registrations_with_a_pinned_query_count(
    staff_client, hub, people, django_assert_num_queries
):
    event = demo_day_with_people(hub, people)
    # session, user, MFA, roles, event with hub and counts, registrations with people, events and slots,
    # permissions (user, groups), notifications badge
    with django_assert_num_queries(9):
        response = staff_client.get(reverse("admin:events_event_change", args=[event.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert body.count("Startup ") >= people
    assert "registrations</a>" in body


@pytest.mark.parametrize("people", [2, 8])
def test_registration_and_pitch_slot_pages_render(staff_client, hub, people, django_assert_num_queries):
    event = demo_day_with_people(hub, people)
    registration = event.registrations.first()
    slot = event.pitch_slots.first()
    # session, user, MFA, roles, the registration with its event, person and slot, permissions (user, groups),
    # notifications badge
    with django_assert_num_queries(8):
        assert staff_client.get(reverse("admin:events_registration_change", args=[registration.pk])).status_code == 200
    with django_assert_num_queries(8):  # the same, with the slot, its event and its holder
        assert staff_client.get(reverse("admin:events_pitchslot_change", args=[slot.pk])).status_code == 200


def test_add_pages_render(staff_client, hub):
    EventFactory(hub=hub, kind=EventKind.DEMO_DAY, title="Demo day to pitch at")
    assert staff_client.get(reverse("admin:events_event_add")).status_code == 200
    body = staff_client.get(reverse("admin:events_pitchslot_add")).content.decode()
    assert "Demo day to pitch at" in body
    assert staff_client.get(reverse("admin:events_registration_add")).status_code == 403


# --- Scoping -----------------------------------------------------------------------------------


def test_staff_of_another_hub_see_nothing_of_this_hub(client, hub, other_staff):
    event = demo_day_with_people(hub, 2)
    registration, slot = event.registrations.first(), event.pitch_slots.first()
    client.force_login(other_staff)
    for url_name in PAGES:
        body = client.get(reverse(url_name)).content.decode()
        assert event.title not in body
        assert "Startup 0" not in body
    assert client.get(reverse("admin:events_event_change", args=[event.pk])).status_code == 302
    assert client.get(reverse("admin:events_registration_change", args=[registration.pk])).status_code == 302
    assert client.get(reverse("admin:events_pitchslot_change", args=[slot.pk])).status_code == 302
    # nor can they add here: the hub and the demo day are not among their choices
    response = client.post(reverse("admin:events_event_add"), event_form(hub))
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    add_slot = client.post(
        reverse("admin:events_pitchslot_add"),
        {"event": event.pk, "starts_at_0": split(event.starts_at)["0"], "starts_at_1": "23:00:00", "minutes": 10},
    )
    assert "Select a valid choice" in add_slot.content.decode()
    assert Event.objects.count() == 1


def test_actions_on_another_hubs_rows_change_nothing(client, hub, other_staff):
    draft = EventFactory(hub=hub, status=EventStatus.DRAFT, published_at=None)
    client.force_login(other_staff)
    client.post(reverse("admin:events_event_changelist"), {"action": "publish_events", "_selected_action": [draft.pk]})
    draft.refresh_from_db()
    assert draft.status == EventStatus.DRAFT


def test_members_have_no_events_admin(client, member, hub):
    client.force_login(member)
    assert client.get(reverse("admin:events_event_changelist")).status_code == 302


# --- Adding and editing through the services ----------------------------------------------------


def test_adding_an_event_runs_the_service(staff_client, hub, staff):
    response = staff_client.post(reverse("admin:events_event_add"), event_form(hub))
    assert response.status_code == 302, response.content.decode()[:3000]
    event = Event.objects.get()
    assert (event.status, event.created_by, event.capacity) == (EventStatus.DRAFT, staff, 25)
    assert event.slug.startswith("edge-ai-for-farms-")
    assert audit_trail_for(event).filter(action="event.created").exists()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"starts_at": in_days(-3)}, "starts_at", "in the past"),
        ({"mode": "online"}, "link", "streaming or video-call link"),
        ({"mode": "hybrid", "link": "https://meet.example/x", "place": ""}, "place", "venue and address"),
    ],
)
def test_a_refused_event_shows_the_error_on_its_field(staff_client, hub, changes, field, message):
    response = staff_client.post(reverse("admin:events_event_add"), event_form(hub, **changes))
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert message in " ".join(form.errors[field])
    assert not Event.objects.exists()


def test_editing_runs_the_service_and_promotes_the_waiting_list(staff_client, hub):
    event = EventFactory(hub=hub, capacity=1)
    register(event)
    waiting = register(event)
    data = event_form(hub, title=event.title, capacity=2, starts_at=event.starts_at, ends_at=event.ends_at)
    data.pop("hub")
    data["registrations-INITIAL_FORMS"] = "0"
    response = staff_client.post(reverse("admin:events_event_change", args=[event.pk]), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    waiting.refresh_from_db()
    assert waiting.status == R.CONFIRMED
    assert audit_trail_for(event).filter(action="event.updated").exists()


def test_the_capacity_cannot_go_below_the_confirmed_places(staff_client, hub):
    event = EventFactory(hub=hub, capacity=3)
    register(event)
    register(event)
    data = event_form(hub, title=event.title, capacity=1, starts_at=event.starts_at, ends_at=event.ends_at)
    data.pop("hub")
    response = staff_client.post(reverse("admin:events_event_change", args=[event.pk]), data)
    assert response.status_code == 200
    assert "2 people already have a confirmed place" in " ".join(response.context["adminform"].form.errors["capacity"])
    event.refresh_from_db()
    assert event.capacity == 3


def test_a_cancelled_event_is_view_only(staff_client, hub):
    event = EventFactory(hub=hub, status=EventStatus.CANCELLED)
    body = staff_client.get(reverse("admin:events_event_change", args=[event.pk])).content.decode()
    assert 'name="title"' not in body


# --- Actions -----------------------------------------------------------------------------------


def test_publish_and_cancel_actions_run_the_services(staff_client, hub, django_capture_on_commit_callbacks):
    draft = EventFactory(hub=hub, status=EventStatus.DRAFT, published_at=None, title="Draft one")
    live = EventFactory(hub=hub, title="Live one")
    attendee = register(live)
    changelist = reverse("admin:events_event_changelist")
    response = staff_client.post(
        changelist, {"action": "publish_events", "_selected_action": [draft.pk, live.pk]}, follow=True
    )
    draft.refresh_from_db()
    assert draft.status == EventStatus.PUBLISHED
    assert audit_trail_for(draft).filter(action="event.published").exists()
    assert "Live one: This event is published already." in response.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(changelist, {"action": "cancel_events", "_selected_action": [live.pk]})
    live.refresh_from_db()
    assert live.status == EventStatus.CANCELLED
    assert Notification.objects.filter(user=attendee.user, kind="event.cancelled").exists()


def test_attendance_actions_run_the_service(staff_client, hub, staff):
    event = EventFactory(hub=hub, starts_at=in_days(0, hours=-1), ends_at=in_days(0, hours=3))
    came = RegistrationFactory(event=event)
    stayed_home = RegistrationFactory(event=event)
    waiting = RegistrationFactory(event=event, status=R.WAITLISTED)
    changelist = reverse("admin:events_registration_changelist")
    staff_client.post(changelist, {"action": "mark_present", "_selected_action": [came.pk, waiting.pk]})
    staff_client.post(changelist, {"action": "mark_absent", "_selected_action": [stayed_home.pk]})
    came.refresh_from_db()
    stayed_home.refresh_from_db()
    waiting.refresh_from_db()
    assert (came.attended, came.attendance_marked_by, stayed_home.attended) == (True, staff, False)
    assert waiting.attended is None  # only confirmed participants are marked
    assert audit_trail_for(came).filter(action="event.attendance_marked").exists()


def test_cancelling_registrations_promotes_the_next_person(staff_client, hub):
    event = EventFactory(hub=hub, capacity=1)
    first, second = register(event), register(event)
    staff_client.post(
        reverse("admin:events_registration_changelist"),
        {"action": "cancel_registrations", "_selected_action": [first.pk]},
    )
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (R.CANCELLED, R.CONFIRMED)


def test_registrations_export_as_csv_without_other_hubs(staff_client, hub, other_hub):
    ours = register(EventFactory(hub=hub, title="Ours"), organisation_name="=HYPERLINK(evil)")
    theirs = register(EventFactory(hub=other_hub, title="Theirs"))
    response = staff_client.post(
        reverse("admin:events_registration_changelist"),
        {"action": "export_csv", "_selected_action": [ours.pk, theirs.pk]},
    )
    text = response.content.decode()
    assert response["Content-Type"] == "text/csv"
    assert ours.user.email in text
    assert "'=HYPERLINK(evil)" in text  # spreadsheet formulas are neutralised
    assert theirs.user.email not in text


def test_pitch_slots_are_added_and_released_through_the_services(staff_client, hub):
    event = EventFactory(hub=hub, kind=EventKind.DEMO_DAY)
    at = event.starts_at + timedelta(minutes=20)
    response = staff_client.post(
        reverse("admin:events_pitchslot_add"),
        {"event": event.pk, "starts_at_0": split(at)["0"], "starts_at_1": split(at)["1"], "minutes": 12},
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    slot = PitchSlot.objects.get()
    assert (slot.starts_at, slot.minutes) == (at, 12)
    outside = event.ends_at + timedelta(hours=2)
    refused = staff_client.post(
        reverse("admin:events_pitchslot_add"),
        {"event": event.pk, "starts_at_0": split(outside)["0"], "starts_at_1": split(outside)["1"], "minutes": 12},
    )
    assert "within the event" in " ".join(refused.context["adminform"].form.errors["starts_at"])
    holder = register(event, role=RegistrationRole.STARTUP, organisation_name="Spreewald Robotics")
    services.pitch_slot_claim(registration=holder, pitch_slot=slot, acting_user=holder.user)
    assert "Spreewald Robotics" in staff_client.get(reverse("admin:events_pitchslot_changelist")).content.decode()
    staff_client.post(
        reverse("admin:events_pitchslot_changelist"), {"action": "release_pitch_slots", "_selected_action": [slot.pk]}
    )
    assert not Registration.objects.filter(pitch_slot=slot).exists()
    assert audit_trail_for(holder).filter(action="event.pitch_slot_released").exists()
