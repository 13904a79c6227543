"""Capacity under concurrent registration and exactly-one promotion, on PostgreSQL with real
threads and separate connections."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from gigafactory.errors import InvalidTransition
from hubs.models import Notification, User
from pilots.events import services
from pilots.events.models import Event, EventKind, PitchSlot, Registration, RegistrationRole, RegistrationStatus
from tests.factories import UserFactory
from tests.services import require

from .factories import EventFactory, PitchSlotFactory, RegistrationFactory

R = RegistrationStatus
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgres():
    require(connection.vendor == "postgresql", "PostgreSQL")


def in_threads(n, work):
    barrier = threading.Barrier(n)

    def one(i):
        try:
            barrier.wait(timeout=30)
            return work(i)
        except Exception as exc:
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n)))


def test_twelve_registrations_for_five_places_confirm_five_and_queue_seven():
    event = EventFactory(capacity=5)
    people = [UserFactory().pk for _ in range(12)]

    def attempt(i):
        return services.registration_create(
            event=Event.objects.get(pk=event.pk), acting_user=User.objects.get(pk=people[i])
        )

    outcomes = in_threads(12, attempt)
    assert all(isinstance(o, Registration) for o in outcomes), outcomes
    assert Registration.objects.filter(event=event, status=R.CONFIRMED).count() == 5
    assert Registration.objects.filter(event=event, status=R.WAITLISTED).count() == 7
    positions = sorted(services.waiting_position(r) for r in Registration.objects.filter(status=R.WAITLISTED))
    assert positions == list(range(1, 8))


def test_concurrent_cancellations_each_promote_exactly_one():
    event = EventFactory(capacity=4)
    confirmed = [RegistrationFactory(event=event).pk for _ in range(4)]
    waiting = [RegistrationFactory(event=event, status=R.WAITLISTED).pk for _ in range(6)]

    def cancel(i):
        registration = Registration.objects.select_related("user").get(pk=confirmed[i])
        return services.registration_cancel(registration=registration, acting_user=registration.user)

    outcomes = in_threads(3, cancel)
    assert all(isinstance(o, Registration) for o in outcomes), outcomes
    assert Registration.objects.filter(event=event, status=R.CONFIRMED).count() == 4
    promoted = list(Registration.objects.filter(promoted_at__isnull=False).values_list("pk", flat=True))
    assert sorted(promoted) == waiting[:3]  # the first three in line, nobody twice
    assert Notification.objects.filter(kind="event.promoted").count() == 3


def test_one_cancellation_sent_twice_at_once_promotes_one_person():
    event = EventFactory(capacity=1)
    leaving = RegistrationFactory(event=event)
    waiting = [RegistrationFactory(event=event, status=R.WAITLISTED).pk for _ in range(3)]

    def cancel(i):
        registration = Registration.objects.select_related("user").get(pk=leaving.pk)
        return services.registration_cancel(registration=registration, acting_user=registration.user)

    outcomes = in_threads(4, cancel)
    assert sum(isinstance(o, Registration) for o in outcomes) == 1, outcomes
    assert sum(isinstance(o, InvalidTransition) for o in outcomes) == 3, outcomes
    assert list(Registration.objects.filter(status=R.CONFIRMED).values_list("pk", flat=True)) == [waiting[0]]


def test_two_startups_racing_for_one_pitch_slot_leave_one_holder():
    event = EventFactory(kind=EventKind.DEMO_DAY)
    slot = PitchSlotFactory(event=event)
    startups = [RegistrationFactory(event=event, role=RegistrationRole.STARTUP).pk for _ in range(6)]

    def claim(i):
        registration = Registration.objects.select_related("user").get(pk=startups[i])
        return services.pitch_slot_claim(
            registration=registration, pitch_slot=PitchSlot.objects.get(pk=slot.pk), acting_user=registration.user
        )

    outcomes = in_threads(6, claim)
    assert sum(isinstance(o, Registration) for o in outcomes) == 1, outcomes
    assert Registration.objects.filter(pitch_slot=slot).count() == 1
