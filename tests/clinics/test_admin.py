"""The clinics admin: slots with their bookings, bookings with their intake, recommendations;
scoped to the staff member's hubs, writes through the services, query counts pinned."""

from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from gigafactory.audit import audit_trail_for
from hubs.models import Role
from pilots.clinics import services
from pilots.clinics.models import BookingStatus, ClinicBooking, ClinicSlot, Recommendation, SlotStatus
from tests.conftest import verified_user
from tests.factories import MembershipFactory

from .factories import SlotFactory, book, in_days

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _content_types_cached():
    """The admin looks content types up once per process: warm the cache so counts do not depend on test order."""
    ContentType.objects.get_for_models(ClinicSlot, ClinicBooking, Recommendation)


@pytest.fixture
def expert(hub, staff):
    user = verified_user(name="Eva Expert")
    MembershipFactory(user=user, hub=hub, role=Role.MEMBER)
    services.expert_mark(hub=hub, user=user, expertise="Computer vision", acting_user=staff)
    return user


def followed_up_bookings(hub, expert, count, *, staff):
    """``count`` slots, each booked by a different business; the past ones followed up."""
    bookings = []
    for i in range(count):
        slot = SlotFactory(hub=hub, expert=expert, starts_at=in_days(2, hours=i))
        booking = book(slot, verified_user(name=f"Business {i}"), organisation_name=f"Bakery {i}")
        services.booking_follow_up(
            booking=booking,
            acting_user=staff,
            notes="Start with the till data.",
            recommendations=[("Apply to the playground call", "https://portal.example/calls/lyon-playground/")],
        )
        bookings.append(booking)
    return bookings


def split(dt) -> dict:
    local = timezone.localtime(dt)
    return {"0": local.strftime("%Y-%m-%d"), "1": local.strftime("%H:%M:%S")}


def slot_form(hub, expert, **changes):
    starts = changes.pop("starts_at", in_days(5))
    data = {
        "hub": hub.pk,
        "expert": expert.pk,
        "topic": "Forecasting for shops",
        "description": "Bring a year of sales.",
        "duration_minutes": 45,
        "mode": "on_site",
        "place": "Room 2.14",
        "link": "",
        "bookings-TOTAL_FORMS": "0",
        "bookings-INITIAL_FORMS": "0",
    }
    for part, text in split(starts).items():
        data[f"starts_at_{part}"] = text
    return data | changes


# --- Every page renders, with query counts that do not grow -----------------------------------


# Every page: session, user, MFA, roles, the user's and groups' permissions, the unread-notifications badge.
PAGES = {
    # + hub filter, count, total count, slots with hub, expert and booked flag, date hierarchy (range, days)
    "admin:clinics_clinicslot_changelist": 13,
    # + hub filter, count, total count, bookings with slot and booker, date hierarchy (range, days)
    "admin:clinics_clinicbooking_changelist": 13,
    # + hub filter, count, total count, recommendations with booking, slot, hub and author
    "admin:clinics_recommendation_changelist": 11,
}


@pytest.mark.parametrize("url_name", PAGES)
@pytest.mark.parametrize("count", [2, 7])
def test_changelists_render_with_a_pinned_query_count(
    staff_client, hub, staff, expert, url_name, count, django_assert_num_queries
):
    followed_up_bookings(hub, expert, count, staff=staff)
    with django_assert_num_queries(PAGES[url_name]):
        response = staff_client.get(reverse(url_name))
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == count


@pytest.mark.parametrize("rebookings", [1, 5])
def test_a_slots_page_lists_its_bookings_with_a_pinned_query_count(
    staff_client, hub, expert, rebookings, django_assert_num_queries
):
    slot = SlotFactory(hub=hub, expert=expert)
    for i in range(rebookings):
        booking = book(slot, verified_user(name=f"Business {i}"))
        services.booking_cancel(booking=booking, acting_user=booking.user, reason="Changed my mind")
    # + the slot with its booked flag, hub and expert, its bookings with their bookers
    with django_assert_num_queries(9):
        response = staff_client.get(reverse("admin:clinics_clinicslot_change", args=[slot.pk]))
    assert response.status_code == 200
    assert response.content.decode().count("Changed my mind") == 0  # the inline shows the facts, not the reasons
    assert len(response.context["inline_admin_formsets"][0].formset.forms) == rebookings


@pytest.mark.parametrize("count", [1, 4])
def test_a_bookings_page_shows_the_intake_and_recommendations(
    staff_client, hub, staff, expert, count, django_assert_num_queries
):
    booking = followed_up_bookings(hub, expert, 1, staff=staff)[0]
    for i in range(count - 1):
        services.booking_follow_up(
            booking=booking, acting_user=staff, notes="More.", recommendations=[(f"Read chapter {i}", "")]
        )
    # + the booking with slot, hub, expert and booker, its recommendations with their authors
    with django_assert_num_queries(9):
        response = staff_client.get(reverse("admin:clinics_clinicbooking_change", args=[booking.pk]))
    body = response.content.decode()
    assert booking.problem in body
    assert booking.data_description in body
    assert "Apply to the playground call" in body
    assert 'name="problem"' not in body  # the intake is read-only


def test_add_and_recommendation_pages(staff_client, hub, staff, expert):
    assert staff_client.get(reverse("admin:clinics_clinicslot_add")).status_code == 200
    assert staff_client.get(reverse("admin:clinics_clinicbooking_add")).status_code == 403
    assert staff_client.get(reverse("admin:clinics_recommendation_add")).status_code == 403
    recommendation = Recommendation.objects.get(booking=followed_up_bookings(hub, expert, 1, staff=staff)[0])
    page = staff_client.get(reverse("admin:clinics_recommendation_change", args=[recommendation.pk]))
    assert page.status_code == 200
    assert "playground call" in page.content.decode()


# --- Scoping -----------------------------------------------------------------------------------


def test_staff_of_another_hub_see_nothing_of_this_hub(client, hub, staff, expert, other_staff):
    booking = followed_up_bookings(hub, expert, 1, staff=staff)[0]
    recommendation = booking.recommendations.get()
    client.force_login(other_staff)
    for url_name in PAGES:
        response = client.get(reverse(url_name))
        assert list(response.context["cl"].result_list) == []
        assert "Bakery 0" not in response.content.decode()
    for name, pk in (
        ("clinicslot", booking.slot_id),
        ("clinicbooking", booking.pk),
        ("recommendation", recommendation.pk),
    ):
        assert client.get(reverse(f"admin:clinics_{name}_change", args=[pk])).status_code == 302
    client.post(
        reverse("admin:clinics_clinicbooking_changelist"),
        {"action": "cancel_bookings", "_selected_action": [booking.pk]},
    )
    booking.refresh_from_db()
    assert booking.status == BookingStatus.BOOKED
    response = client.post(reverse("admin:clinics_clinicslot_add"), slot_form(hub, expert))
    assert "Select a valid choice" in response.content.decode()
    assert ClinicSlot.objects.count() == 1


def test_members_have_no_clinics_admin(client, member):
    client.force_login(member)
    assert client.get(reverse("admin:clinics_clinicslot_changelist")).status_code == 302


# --- Writes through the services -----------------------------------------------------------------


def test_adding_a_slot_runs_the_service(staff_client, hub, staff, expert):
    response = staff_client.post(reverse("admin:clinics_clinicslot_add"), slot_form(hub, expert))
    assert response.status_code == 302, response.context["adminform"].form.errors
    slot = ClinicSlot.objects.get()
    assert (slot.expert, slot.created_by, slot.duration_minutes) == (expert, staff, 45)
    assert audit_trail_for(slot).filter(action="clinic_slot.published").exists()


def test_an_overlapping_slot_shows_the_error_on_the_start(staff_client, hub, expert):
    SlotFactory(hub=hub, expert=expert, starts_at=in_days(5), ends_at=in_days(5, hours=1))
    response = staff_client.post(
        reverse("admin:clinics_clinicslot_add"), slot_form(hub, expert, starts_at=in_days(5, minutes=30))
    )
    assert response.status_code == 200
    assert "cannot overlap" in " ".join(response.context["adminform"].form.errors["starts_at"])
    assert ClinicSlot.objects.count() == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"starts_at": in_days(-1)}, "starts_at"),
        ({"mode": "online"}, "link"),
        ({"duration_minutes": 5}, "duration_minutes"),
    ],
)
def test_bad_slots_show_the_error_on_the_field(staff_client, hub, expert, changes, field):
    response = staff_client.post(reverse("admin:clinics_clinicslot_add"), slot_form(hub, expert, **changes))
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not ClinicSlot.objects.exists()


def test_a_non_expert_cannot_be_given_a_slot(staff_client, hub, member):
    response = staff_client.post(reverse("admin:clinics_clinicslot_add"), slot_form(hub, member))
    assert "not an expert" in " ".join(response.context["adminform"].form.errors["expert"])


def test_editing_a_slot_runs_the_service_and_a_booked_slot_keeps_its_time(staff_client, hub, expert, member):
    slot = SlotFactory(hub=hub, expert=expert, topic="Old topic")
    data = slot_form(hub, expert, topic="New topic", starts_at=slot.starts_at)
    for key in ("hub", "expert"):
        data.pop(key)
    assert staff_client.post(reverse("admin:clinics_clinicslot_change", args=[slot.pk]), data).status_code == 302
    slot.refresh_from_db()
    assert slot.topic == "New topic"
    assert audit_trail_for(slot).filter(action="clinic_slot.updated").exists()
    book(slot, member)
    data["starts_at_1"] = split(slot.starts_at + timedelta(hours=1))["1"]
    response = staff_client.post(reverse("admin:clinics_clinicslot_change", args=[slot.pk]), data)
    assert response.status_code == 200
    assert "is booked" in " ".join(response.context["adminform"].form.errors["starts_at"])
    moved = ClinicSlot.objects.get(pk=slot.pk)
    assert moved.starts_at == slot.starts_at


def test_withdrawing_slots_cancels_their_booking_and_tells_the_booker(
    staff_client, hub, expert, member, django_capture_on_commit_callbacks
):
    slot = SlotFactory(hub=hub, expert=expert)
    booking = book(slot, member)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(
            reverse("admin:clinics_clinicslot_changelist"), {"action": "withdraw_slots", "_selected_action": [slot.pk]}
        )
    slot.refresh_from_db()
    booking.refresh_from_db()
    assert (slot.status, booking.status) == (SlotStatus.WITHDRAWN, BookingStatus.CANCELLED)
    assert [m.to for m in mail.outbox] == [[member.email]]
    page = staff_client.get(reverse("admin:clinics_clinicslot_change", args=[slot.pk])).content.decode()
    assert 'name="topic"' not in page  # a withdrawn slot is view-only


def test_cancelling_bookings_runs_the_service(staff_client, hub, expert, member, django_capture_on_commit_callbacks):
    upcoming = book(SlotFactory(hub=hub, expert=expert), member)
    response = staff_client.post(
        reverse("admin:clinics_clinicbooking_changelist"),
        {"action": "cancel_bookings", "_selected_action": [upcoming.pk]},
        follow=True,
    )
    upcoming.refresh_from_db()
    assert upcoming.status == BookingStatus.CANCELLED
    assert upcoming.cancel_reason == "Cancelled by the hub."
    assert audit_trail_for(upcoming).filter(action="clinic_booking.cancelled").exists()
    assert "1 cancelled" in response.content.decode()
    again = staff_client.post(
        reverse("admin:clinics_clinicbooking_changelist"),
        {"action": "cancel_bookings", "_selected_action": [upcoming.pk]},
        follow=True,
    )
    assert "already cancelled" in again.content.decode()


def test_bookings_and_recommendations_export_as_csv(staff_client, hub, staff, expert, other_hub):
    ours = followed_up_bookings(hub, expert, 2, staff=staff)
    theirs = book(SlotFactory(hub=other_hub), verified_user(name="Far away"), organisation_name="Elsewhere Oy")
    response = staff_client.post(
        reverse("admin:clinics_clinicbooking_changelist"),
        {"action": "export_csv", "_selected_action": [b.pk for b in ours] + [theirs.pk]},
    )
    text = response.content.decode()
    assert "Bakery 0" in text
    assert "Bakery 1" in text
    assert "Elsewhere Oy" not in text
    recommendations = staff_client.post(
        reverse("admin:clinics_recommendation_changelist"),
        {"action": "export_csv", "_selected_action": list(Recommendation.objects.values_list("pk", flat=True))},
    ).content.decode()
    assert recommendations.count("Apply to the playground call") == 2
