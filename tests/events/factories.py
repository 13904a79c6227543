from datetime import timedelta

import factory
from django.utils import timezone

from pilots.events.models import Event, EventKind, EventMode, EventStatus, PitchSlot, Registration, RegistrationStatus
from tests.factories import HubFactory, UserFactory


def in_days(days=0, hours=0):
    return (timezone.now() + timedelta(days=days, hours=hours)).replace(second=0, microsecond=0)


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    hub = factory.SubFactory(HubFactory)
    slug = factory.Sequence(lambda n: f"event-{n}")
    title = factory.Sequence(lambda n: f"Computer vision workshop {n}")
    kind = EventKind.WORKSHOP
    description = "Hands-on with open models."
    starts_at = factory.LazyFunction(lambda: in_days(10))
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + timedelta(hours=3))
    mode = EventMode.ON_SITE
    place = "Auditorium, 1 Rue de la République"
    capacity = 30
    status = EventStatus.PUBLISHED
    published_at = factory.LazyFunction(timezone.now)


class PitchSlotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PitchSlot

    event = factory.SubFactory(EventFactory, kind=EventKind.DEMO_DAY)
    starts_at = factory.LazyAttributeSequence(lambda o, n: o.event.starts_at + timedelta(minutes=10 * n))
    minutes = 10


class RegistrationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Registration

    event = factory.SubFactory(EventFactory)
    user = factory.SubFactory(UserFactory)
    status = RegistrationStatus.CONFIRMED
