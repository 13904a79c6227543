"""Races on PostgreSQL with real threads and separate connections: one slot booked by many at
once, overlapping slots published at once, the reminder task running twice at once."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection

from gigafactory.errors import InvalidTransition
from hubs.models import Role, User
from pilots.clinics import services, tasks
from pilots.clinics.models import BookingStatus, ClinicBooking, ClinicSlot, Mode
from tests.factories import HubFactory, MembershipFactory, UserFactory
from tests.services import require

from .factories import INTAKE, BookingFactory, SlotFactory, in_days

pytestmark = pytest.mark.django_db(transaction=True)
THREADS = 10


@pytest.fixture(autouse=True)
def _postgres():
    require(connection.vendor == "postgresql", "PostgreSQL")


def in_threads(n, work):
    """Run ``work(i)`` in ``n`` threads released together; return each result or exception."""
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


def test_ten_people_booking_one_slot_at_once_make_exactly_one_booking():
    slot = SlotFactory(starts_at=in_days(2))
    people = [UserFactory().pk for _ in range(THREADS)]

    def attempt(i):
        return services.booking_create(
            slot=ClinicSlot.objects.get(pk=slot.pk), acting_user=User.objects.get(pk=people[i]), **INTAKE
        )

    outcomes = in_threads(THREADS, attempt)
    booked = [o for o in outcomes if isinstance(o, ClinicBooking)]
    refused = [o for o in outcomes if isinstance(o, InvalidTransition)]
    assert len(booked) == 1, outcomes
    assert len(refused) == THREADS - 1, outcomes
    assert ClinicBooking.objects.filter(slot=slot, status=BookingStatus.BOOKED).count() == 1
    assert ClinicBooking.objects.count() == 1


def test_overlapping_slots_published_at_once_for_one_expert_leave_one():
    hub = HubFactory(slug="race-clinic")
    expert = UserFactory()
    MembershipFactory(user=expert, hub=hub, role=Role.STAFF)
    start = in_days(3)

    def publish(i):
        return services.slot_create(
            hub=hub,
            expert=User.objects.get(pk=expert.pk),
            acting_user=User.objects.get(pk=expert.pk),
            topic=f"Clinic {i}",
            starts_at=start + timedelta(minutes=5 * i),
            duration_minutes=60,
            mode=Mode.ON_SITE,
            place="Room 1",
        )

    outcomes = in_threads(6, publish)
    assert sum(isinstance(o, ClinicSlot) for o in outcomes) == 1, outcomes
    assert all(isinstance(o, ClinicSlot | ValidationError) for o in outcomes), outcomes
    assert ClinicSlot.objects.filter(expert=expert).count() == 1


def test_the_reminder_task_running_twice_at_once_reminds_each_booking_once():
    bookings = []
    for _ in range(5):
        booking = BookingFactory(slot=SlotFactory(starts_at=in_days(0, hours=20)))
        ClinicBooking.objects.filter(pk=booking.pk).update(created_at=booking.created_at - timedelta(days=3))
        bookings.append(booking)
    mail.outbox.clear()

    outcomes = in_threads(4, lambda i: tasks.send_clinic_reminders())
    assert sum(outcomes) == 5, outcomes
    reminded = sorted(m.to[0] for m in mail.outbox if "Tomorrow" in m.subject)
    assert reminded == sorted(b.user.email for b in bookings)
