"""The demo pilots seed: the essay's pilots, their case studies and the Lisbon tool adapted in Zagreb."""

import pytest

from hubs import demo as hubs_demo
from hubs.models import Notification
from pilots import demo
from pilots.models import CaseStudy, Pilot, PilotStatus

pytestmark = pytest.mark.django_db


def test_seed_is_complete_and_idempotent(django_capture_on_commit_callbacks):
    lines = []
    hubs_demo.seed(lines.append)
    with django_capture_on_commit_callbacks(execute=True):
        demo.seed(lines.append)
    counts = (Pilot.objects.count(), CaseStudy.objects.count())
    assert counts == (6, 5)
    assert set(Pilot.objects.values_list("hub__slug", flat=True)) == {
        "lyon",
        "helsinki",
        "zaragoza",
        "lulea",
        "lisbon",
        "zagreb",
    }
    zagreb = Pilot.objects.get(hub__slug="zagreb")
    assert zagreb.adapted_from.hub.slug == "lisbon"
    assert zagreb.status == PilotStatus.ACTIVE
    assert zagreb.partners.get().name == "City of Zagreb"
    lisbon_note = Notification.objects.get(user__email="lisbon.staff@gigafactory.test", kind="pilot.adapted")
    assert lisbon_note.emailed_at is not None  # demo addresses get no mail
    lyon = Pilot.objects.get(hub__slug="lyon")
    assert lyon.metrics.count() == 3
    assert lyon.milestones.filter(done=True).count() == 4
    demo.seed(lines.append)
    assert (Pilot.objects.count(), CaseStudy.objects.count()) == counts
