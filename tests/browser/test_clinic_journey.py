"""A business books a clinic slot and sees the confirmation: a signed-in local business finds
a free slot, fills the intake, books, gets the confirmation page and an e-mail with an
iCalendar invitation, moves the booking to another slot, then cancels it; both slots show as
free again."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from icalendar import Calendar

from hubs.models import Role
from pilots.clinics.models import BookingStatus, ClinicBooking
from tests.clinics.factories import SlotFactory
from tests.conftest import verified_user
from tests.factories import HubFactory, MembershipFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery"


def log_in(page, email):
    page.goto("/accounts/login/")
    page.locator("#id_login").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(re.compile(r"^(?!.*/accounts/login/).*$"))


def calendar_of(message):
    """The iCalendar attachment of an e-mail: (file name, METHOD, the VEVENT)."""
    (name, content, mimetype) = next(a for a in message.attachments if a[2].startswith("text/calendar"))
    calendar = Calendar.from_ical(content)
    return name, str(calendar["method"]), next(iter(calendar.walk("VEVENT"))), mimetype


def mails_to(address):
    return [m for m in mail.outbox if m.to == [address]]


def at(days, hour):
    local = timezone.localtime() + timedelta(days=days)
    return local.replace(hour=hour, minute=0, second=0, microsecond=0)


def test_a_business_books_a_clinic_slot_moves_it_then_cancels_it(new_page):
    lyon = HubFactory(name="Lyon AI Gigafactory", slug="lyon", city="Lyon", country="FR")
    helsinki = HubFactory(name="Helsinki AI Gigafactory", slug="helsinki", city="Helsinki", country="FI")
    expert = verified_user(name="Julien Martin")
    MembershipFactory(user=expert, hub=lyon, role=Role.STAFF)
    first = SlotFactory(
        hub=lyon,
        expert=expert,
        topic="Computer vision for quality control",
        starts_at=at(4, 10),
        ends_at=at(4, 10) + timedelta(minutes=45),
        place="Room 2.14, 1 Rue de la République, Lyon",
    )
    later = SlotFactory(
        hub=lyon,
        expert=expert,
        topic="Computer vision: your first model",
        starts_at=at(6, 14),
        ends_at=at(6, 14) + timedelta(minutes=45),
        place="Room 2.14, 1 Rue de la République, Lyon",
    )
    SlotFactory(hub=helsinki, topic="Forecasting energy demand", starts_at=at(5, 9))
    business = verified_user(email="anna@baeckerei-schmidt.example", name="Anna Schmidt")

    # A signed-in local business finds a free vision slot in Lyon.
    page = new_page()
    log_in(page, business.email)
    page.goto("/clinics/")
    page.get_by_label("Hub").select_option(label="Lyon AI Gigafactory")
    page.get_by_label("Topic").fill("quality")
    results = page.get_by_test_id("slot-results")
    card = results.get_by_test_id("slot-card").filter(has_text="Computer vision for quality control")
    card.wait_for()
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=slot-card]').length === 1"
    )  # the HTMX filter swapped the list
    assert "Forecasting energy demand" not in results.inner_text()
    assert card.get_by_test_id("slot-state").inner_text() == "Free"
    card.get_by_role("link", name="Book this slot").click()

    # The intake form: organisation, sector, problem, data. Leaving out the problem is refused.
    page.get_by_role("heading", name="Computer vision for quality control").wait_for()
    form = page.get_by_test_id("booking-form")
    form.get_by_label("Your business or organisation").fill("Bäckerei Schmidt")
    form.get_by_label("Sector").select_option(label="Manufacturing")
    form.get_by_label("The data you have").fill("Two years of photos of our loaves from the oven line, unlabelled.")
    form.get_by_role("button", name="Book this slot").click()
    page.get_by_text("Describe the problem you would like help with.").wait_for()
    assert not ClinicBooking.objects.exists()
    assert page.get_by_label("The data you have").input_value().startswith("Two years of photos")
    page.get_by_label("The problem you would like help with").fill(
        "We want a camera to spot burnt or misshapen loaves before they are packed."
    )
    page.get_by_test_id("booking-form").get_by_role("button", name="Book this slot").click()

    # The confirmation page.
    page.get_by_test_id("booking-confirmation").wait_for()
    assert page.get_by_test_id("booking-status").inner_text() == "Booked"
    page.get_by_text("A confirmation with a calendar file is on its way to anna@baeckerei-schmidt.example").wait_for()
    booking = ClinicBooking.objects.get(user=business)
    assert (booking.slot, booking.organisation_name, booking.sector) == (first, "Bäckerei Schmidt", "manufacturing")
    assert page.get_by_text("spot burnt or misshapen loaves").is_visible()

    # The confirmation e-mail carries an iCalendar invitation for the slot.
    (confirmation,) = mails_to(business.email)
    assert "Computer vision for quality control" in confirmation.subject
    name, method, event, mimetype = calendar_of(confirmation)
    assert (name, method, mimetype) == ("clinic.ics", "REQUEST", "text/calendar; method=REQUEST")
    assert event.decoded("dtstart") == first.starts_at
    assert "Computer vision for quality control" in str(event["summary"])
    uid = str(event["uid"])

    # Move the booking to the later slot: the calendar entry keeps its UID and moves.
    page.get_by_role("link", name="Move to another slot").click()
    option = page.get_by_test_id("reschedule-option").filter(has_text="Computer vision: your first model")
    option.get_by_role("link", name="Choose this slot").click()
    page.get_by_test_id("reschedule-confirm").wait_for()
    page.get_by_role("button", name="Yes, move my booking").click()
    page.get_by_text(re.compile(r"^Moved to ")).wait_for()
    page.get_by_role("heading", name="Computer vision: your first model").wait_for()
    assert page.get_by_test_id("booking-status").inner_text() == "Booked"
    moved = ClinicBooking.objects.get(user=business, status=BookingStatus.BOOKED)
    assert moved.slot == later
    _confirmation, update = mails_to(business.email)
    _name, method, event, _mimetype = calendar_of(update)
    assert (method, str(event["uid"]), event.decoded("dtstart")) == ("REQUEST", uid, later.starts_at)
    assert int(event["sequence"]) == 1

    # The first slot is free again while the later one is taken.
    page.goto("/clinics/?hub=lyon")
    cards = page.get_by_test_id("slot-card")
    assert cards.filter(has_text="Computer vision for quality control").get_by_test_id("slot-state").inner_text() == (
        "Free"
    )
    assert cards.filter(has_text="Computer vision: your first model").get_by_test_id("slot-state").inner_text() == (
        "Booked"
    )

    # Cancel from "My bookings", with a reason; the e-mail removes the entry from the calendar.
    page.get_by_role("link", name="My bookings").click()
    page.get_by_test_id("booking-row").filter(has_text="Computer vision: your first model").get_by_role(
        "link", name="Computer vision: your first model"
    ).click()
    page.get_by_role("link", name="Cancel booking").click()
    page.get_by_role("heading", name="Cancel this clinic booking?").wait_for()
    page.get_by_label("Reason").fill("Our oven line is being rebuilt that week.")
    page.get_by_role("button", name="Yes, cancel the booking").click()
    page.get_by_text("The booking is cancelled.").wait_for()
    assert page.get_by_test_id("booking-status").inner_text() == "Cancelled"
    *_earlier, cancellation = mails_to(business.email)
    _name, method, event, _mimetype = calendar_of(cancellation)
    assert (method, str(event["uid"]), str(event["status"])) == ("CANCEL", uid, "CANCELLED")

    # On a phone, "My bookings" shows one card per booking, every status on screen.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/clinics/bookings/")
    badges = page.get_by_test_id("booking-row").locator(".status")
    assert badges.all_inner_texts() == ["Cancelled", "Moved to another slot"]
    for badge in badges.all():
        box = badge.bounding_box()
        assert box["x"] + box["width"] <= 390

    # Both slots show as free again (on the phone, the filters' checkbox is a checkbox, not a wide field).
    page.goto("/clinics/?hub=lyon")
    assert page.get_by_label("Free slots only").bounding_box()["width"] < 40
    states = page.get_by_test_id("slot-card").get_by_test_id("slot-state")
    assert states.all_inner_texts() == ["Free", "Free"]
    assert not ClinicBooking.objects.filter(status=BookingStatus.BOOKED).exists()
