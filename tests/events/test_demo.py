"""The demo events seed: a demo day with investors and pitching startups, a full training
programme with a waiting list, a past workshop with its attendance, a draft; no mail; idempotent."""

import pytest
from django.core import mail
from django.utils import timezone

from hubs import demo as hubs_demo
from pilots.events import demo
from pilots.events.models import Event, EventKind, EventStatus, Registration, RegistrationRole, RegistrationStatus

pytestmark = pytest.mark.django_db
R = RegistrationStatus


def snapshot():
    return (
        sorted(Event.objects.values_list("hub__slug", "title", "slug", "starts_at", "status", "capacity")),
        sorted(
            Registration.objects.values_list(
                "event__title", "user__email", "role", "status", "pitch_slot__starts_at", "attended"
            )
        ),
    )


@pytest.fixture
def seeded(django_capture_on_commit_callbacks):
    lines = []
    hubs_demo.seed(lines.append)
    with django_capture_on_commit_callbacks(execute=True):
        demo.seed(lines.append)
    return lines


def test_the_demo_day_has_investors_and_startups_in_their_pitch_slots(seeded):
    demo_day = Event.objects.get(kind=EventKind.DEMO_DAY)
    assert (demo_day.hub.slug, demo_day.status) == ("lyon", EventStatus.PUBLISHED)
    assert demo_day.starts_at > timezone.now()
    investors = demo_day.registrations.filter(role=RegistrationRole.INVESTOR, status=R.CONFIRMED)
    assert set(investors.values_list("organisation_name", flat=True)) == {
        "Nordic Deep Tech Ventures",
        "Rhône Health Capital",
        "Vistula Ventures",
    }
    pitching = demo_day.registrations.filter(pitch_slot__isnull=False).order_by("pitch_slot__starts_at")
    assert list(pitching.values_list("organisation_name", flat=True)) == ["Spreewald Robotics", "Tejo Analytics"]
    assert demo_day.pitch_slots.count() == 8


def test_the_training_programme_is_full_with_a_waiting_list_in_order(seeded):
    training = Event.objects.get(kind=EventKind.TRAINING, status=EventStatus.PUBLISHED)
    assert training.registrations.filter(status=R.CONFIRMED).count() == training.capacity == 3
    waiting = training.registrations.filter(status=R.WAITLISTED).order_by("created_at", "pk")
    assert list(waiting.values_list("user__email", flat=True)) == [
        "farmer@gigafactory.test",
        "teacher@gigafactory.test",
    ]


def test_the_past_workshop_has_its_attendance_and_the_draft_stays_a_draft(seeded):
    past = Event.objects.get(ends_at__lte=timezone.now())
    marks = dict(past.registrations.values_list("user__email", "attended"))
    assert marks == {
        "founder@gigafactory.test": True,
        "researcher@gigafactory.test": True,
        "farmer@gigafactory.test": False,
    }
    assert Event.objects.get(status=EventStatus.DRAFT).title == "Lyon summer school on trustworthy AI"


def test_the_seed_sends_no_mail_and_running_it_twice_changes_nothing(seeded, django_capture_on_commit_callbacks):
    assert mail.outbox == []  # the demo addresses are not real
    assert "events: 5 (5 new; 1 draft)" in seeded[-1]
    first = snapshot()
    with django_capture_on_commit_callbacks(execute=True):
        demo.seed(seeded.append)
    assert snapshot() == first
    assert "(0 new;" in seeded[-1]
    assert mail.outbox == []


def test_without_the_hubs_seed_it_says_so(db):
    lines = []
    demo.seed(lines.append)
    assert not Event.objects.exists()
    assert "run the hubs seed first" in lines[0]
