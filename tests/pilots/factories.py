"""Pilot factories: rows are created directly; workflows go through the services in the tests."""

import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone

from hubs.models import Sector
from pilots.models import CaseStudy, Milestone, OutcomeMetric, PartnerRole, Pilot, PilotPartner, PilotStatus
from tests.factories import HubFactory


class PilotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Pilot
        skip_postgeneration_save = True

    hub = factory.SubFactory(HubFactory)
    title = factory.Sequence(lambda n: f"Pilot {n}: predicting water needs")
    summary = "Farmers and a co-operative predict irrigation needs from weather and soil data."
    sector = Sector.AGRICULTURE
    status = PilotStatus.PROPOSED
    starts_on = factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=30))
    ends_on = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=300))

    @factory.post_generation
    def team(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.team.set(extracted)


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PilotPartner

    pilot = factory.SubFactory(PilotFactory)
    name = factory.Sequence(lambda n: f"Co-operative {n}")
    role = PartnerRole.FARM_COOPERATIVE


class MilestoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Milestone

    pilot = factory.SubFactory(PilotFactory)
    title = factory.Sequence(lambda n: f"Milestone {n}")
    due_on = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=60))


class MetricFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OutcomeMetric

    pilot = factory.SubFactory(PilotFactory)
    name = factory.Sequence(lambda n: f"Water used {n}")
    unit = "m³/ha"
    baseline = Decimal("5200")
    target = Decimal("4200")
    achieved = Decimal("4500")


def publish(pilot, *, by, headline=None, story="How it went."):
    """Publish ``pilot`` (made active first if needed) through the service."""
    from pilots import services

    if pilot.status == PilotStatus.PROPOSED:
        pilot = services.pilot_start(pilot=pilot, acting_user=by)
    return services.case_study_publish(
        pilot=pilot, headline=headline or f"{pilot.title} works", story=story, acting_user=by
    )


def case_study(**pilot_kwargs) -> CaseStudy:
    """A published case study created directly (no service, no events)."""
    pilot = PilotFactory(status=PilotStatus.COMPLETED, **pilot_kwargs)
    return CaseStudy.objects.create(
        pilot=pilot,
        slug=f"cs-{pilot.pk}",
        headline=f"{pilot.title}: the story",
        story="What changed.",
        published_at=timezone.now(),
    )
