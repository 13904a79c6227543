"""Clinic factories. Slots and bookings are plain rows (the services are tested on their own);
``book`` goes through the service, as a user would."""

from datetime import timedelta

import factory
from django.utils import timezone

from hubs.models import Sector
from pilots.clinics import services
from pilots.clinics.models import ClinicBooking, ClinicSlot, Mode
from tests.factories import HubFactory, UserFactory


def in_days(days=0, hours=0, minutes=0):
    return (timezone.now() + timedelta(days=days, hours=hours, minutes=minutes)).replace(second=0, microsecond=0)


class SlotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ClinicSlot

    hub = factory.SubFactory(HubFactory)
    expert = factory.SubFactory(UserFactory)
    topic = factory.Sequence(lambda n: f"Computer vision clinic {n}")
    description = "Bring your images."
    starts_at = factory.Sequence(lambda n: in_days(3, hours=n))
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + timedelta(minutes=45))
    mode = Mode.ON_SITE
    place = "Room 2.14, 1 Rue de la République"


class BookingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ClinicBooking

    slot = factory.SubFactory(SlotFactory)
    user = factory.SubFactory(UserFactory)
    sector = Sector.MANUFACTURING
    problem = "Spot scratches on painted parts."
    data_description = "12,000 photos from the line."
    ical_uid = factory.Sequence(lambda n: f"clinic-test-{n}@testserver")


INTAKE = {
    "sector": Sector.MANUFACTURING,
    "problem": "We want to spot scratches on painted parts before shipping.",
    "data_description": "About 12,000 labelled photos from two cameras on the line.",
    "organisation_name": "Bäckerei Schmidt GmbH",
}


def book(slot, user, **changes):
    return services.booking_create(slot=slot, acting_user=user, **(INTAKE | changes))
