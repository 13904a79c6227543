"""The demo clinics seed: slots ahead (some booked, one booking cancelled), past sessions with
the expert's follow-up and recommendations linking to real calls; no mail; idempotent."""

import pytest
from django.conf import settings
from django.core import mail
from django.urls import resolve
from django.utils import timezone

from compute import demo as compute_demo
from compute.models import Call
from hubs import demo as hubs_demo
from pilots import demo as pilots_demo
from pilots.clinics import demo
from pilots.clinics.models import BookingStatus, ClinicBooking, ClinicSlot, Recommendation
from pilots.models import CaseStudy

pytestmark = pytest.mark.django_db


def snapshot():
    return (
        sorted(ClinicSlot.objects.values_list("hub__slug", "expert__email", "topic", "starts_at", "status")),
        sorted(ClinicBooking.objects.values_list("slot__topic", "user__email", "status", "followed_up_at")),
        sorted(Recommendation.objects.values_list("booking__slot__topic", "text", "link")),
    )


@pytest.fixture
def network(django_capture_on_commit_callbacks):
    lines = []
    with django_capture_on_commit_callbacks(execute=True):
        hubs_demo.seed(lines.append)
        compute_demo.seed(lines.append)
        pilots_demo.seed(lines.append)
    mail.outbox.clear()
    return lines


def test_the_seed_makes_slots_ahead_and_sessions_behind_and_sends_no_mail(network, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        demo.seed(network.append)
    now = timezone.now()
    upcoming = ClinicSlot.objects.filter(starts_at__gt=now)
    past = ClinicSlot.objects.filter(starts_at__lte=now)
    assert upcoming.count() == 8
    assert past.count() == 3
    assert upcoming.filter(bookings__status=BookingStatus.BOOKED).count() == 3
    assert {s.hub.slug for s in upcoming} == {"lyon", "helsinki", "lisbon", "zagreb"}
    cancelled = ClinicBooking.objects.get(status=BookingStatus.CANCELLED)
    assert cancelled.user.email == "teacher@gigafactory.test"
    assert not cancelled.slot.bookings.filter(status=BookingStatus.BOOKED).exists()  # the slot is free again
    for slot in past:
        booking = slot.bookings.get()
        assert booking.followed_up_at is not None
        assert booking.follow_up_notes
        assert booking.recommendations.exists()
    assert mail.outbox == []  # the demo addresses are not real
    assert "clinic slots: 11 (11 new" in network[-1]


def test_recommendations_link_to_the_real_calls_and_case_study(network):
    demo.seed(network.append)
    playground = Recommendation.objects.filter(text__startswith="Apply to the playground call")
    assert playground.count() == 2
    for recommendation in Recommendation.objects.exclude(link=""):
        path = recommendation.link.removeprefix(settings.SITE_URL)
        match = resolve(path)
        if match.url_name == "call_detail":
            assert Call.objects.filter(slug=match.kwargs["slug"]).exists()
        else:
            assert CaseStudy.objects.filter(slug=match.kwargs["slug"], pilot__hub__slug="zaragoza").exists()
    assert not Recommendation.objects.filter(link="").exists()


def test_running_the_seed_twice_changes_nothing(network):
    demo.seed(network.append)
    first = snapshot()
    demo.seed(network.append)
    assert snapshot() == first
    assert "(0 new" in network[-1]


def test_without_the_hubs_seed_it_says_so(db):
    lines = []
    demo.seed(lines.append)
    assert not ClinicSlot.objects.exists()
    assert "run the hubs seed first" in lines[0]
