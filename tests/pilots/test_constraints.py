"""The database says no: every rule of the pilot models holds without the services, and two
adaptations of one pilot at one hub at the same moment make one."""

import datetime as dt
import threading

import pytest
from django.db import IntegrityError, close_old_connections, connection, transaction

from hubs.models import Notification
from pilots import services
from pilots.models import CaseStudy, Milestone, OutcomeMetric, Pilot, PilotPartner
from tests.factories import HubFactory

from .conftest import make_staff
from .factories import MetricFactory, PartnerFactory, PilotFactory, publish

pytestmark = pytest.mark.django_db


def refused(make):
    with pytest.raises(IntegrityError), transaction.atomic():
        make()


def test_status_and_sector_must_be_known(hub):
    pilot = PilotFactory(hub=hub)
    refused(lambda: Pilot.objects.filter(pk=pilot.pk).update(status="paused"))
    refused(lambda: Pilot.objects.filter(pk=pilot.pk).update(sector="gambling"))


def test_end_date_not_before_start(hub):
    pilot = PilotFactory(hub=hub)
    refused(lambda: Pilot.objects.filter(pk=pilot.pk).update(ends_on=pilot.starts_on - dt.timedelta(days=1)))
    Pilot.objects.filter(pk=pilot.pk).update(ends_on=pilot.starts_on)  # same day is fine


def test_one_adaptation_of_a_pilot_per_hub(hub, other_hub):
    original = PilotFactory(hub=hub)
    PilotFactory(hub=other_hub, adapted_from=original)
    refused(lambda: PilotFactory(hub=other_hub, adapted_from=original))
    PilotFactory(hub=HubFactory(), adapted_from=original)  # another hub may


def test_a_pilot_is_not_its_own_original(hub):
    pilot = PilotFactory(hub=hub)
    refused(lambda: Pilot.objects.filter(pk=pilot.pk).update(adapted_from=pilot.pk))


def test_rows_rules(hub):
    pilot = PilotFactory(hub=hub)
    PartnerFactory(pilot=pilot, name="Helen Oy")
    refused(lambda: PartnerFactory(pilot=pilot, name="HELEN OY"))
    refused(lambda: PilotPartner.objects.create(pilot=pilot, name="X", role="spy"))
    refused(lambda: Milestone.objects.create(pilot=pilot, title="Done?", due_on=dt.date(2026, 1, 1), done=True))
    refused(
        lambda: Milestone.objects.create(
            pilot=pilot, title="Not done", due_on=dt.date(2026, 1, 1), done_on=dt.date(2026, 1, 1)
        )
    )
    MetricFactory(pilot=pilot, name="Waste")
    refused(lambda: MetricFactory(pilot=pilot, name="waste"))
    refused(lambda: OutcomeMetric.objects.create(pilot=pilot, name="", baseline=1, target=2))


def test_one_case_study_per_pilot_with_a_unique_slug(hub):
    from django.utils import timezone

    pilot = PilotFactory(hub=hub)
    CaseStudy.objects.create(pilot=pilot, slug="s", headline="h", story="s", published_at=timezone.now())
    refused(
        lambda: CaseStudy.objects.create(pilot=pilot, slug="t", headline="h", story="s", published_at=timezone.now())
    )
    refused(
        lambda: CaseStudy.objects.create(
            pilot=PilotFactory(hub=hub), slug="s", headline="h", story="s", published_at=timezone.now()
        )
    )


@pytest.mark.django_db(transaction=True)
def test_two_staff_adapting_at_once_make_one_pilot_and_one_notice_each():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's concurrent transactions")
    lisbon = HubFactory(slug="lisbon", city="Lisbon")
    zagreb = HubFactory(slug="zagreb", city="Zagreb")
    lisbon_staff = make_staff(lisbon)
    original = publish(PilotFactory(hub=lisbon), by=lisbon_staff).pilot
    adapters = [make_staff(zagreb, "First"), make_staff(zagreb, "Second")]
    barrier = threading.Barrier(2)
    results, errors = [], []

    def adapt(user):
        try:
            barrier.wait(timeout=10)
            results.append(services.pilot_adapt(original=original, hub=zagreb, acting_user=user))
        except Exception as exc:
            errors.append(exc)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=adapt, args=(u,)) for u in adapters]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert Pilot.objects.filter(adapted_from=original, hub=zagreb).count() == 1
    assert sorted(created for _pilot, created in results) == [False, True]
    assert len({pilot.pk for pilot, _ in results}) == 1
    assert Notification.objects.filter(user=lisbon_staff, kind="pilot.adapted").count() == 1
