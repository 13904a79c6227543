"""Network statistics: figures per hub and for the network, medians per track, page, CSV, API."""

import csv
import datetime as dt
import io

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from compute.models import Application, AppStatus, Track
from compute.usage import usage_ingest
from hubs.models import MembershipStatus
from pilots.models import PilotStatus
from pilots.statistics import compute, network_statistics
from tests.compute.usage_factories import make_allocation, make_call, make_project, record, usage_setup
from tests.factories import HubFactory, MembershipFactory, UserFactory

from .factories import PilotFactory, case_study

pytestmark = pytest.mark.django_db


def decided(call, *, waited_hours, status=AppStatus.APPROVED):
    """An application of ``call`` decided ``waited_hours`` after its submission."""
    project = make_project(hub=call.hub)
    submitted = timezone.now() - dt.timedelta(days=30)
    return Application.objects.create(
        project=project,
        call=call,
        hub=call.hub,
        applicant=project.pi,
        title="Decided",
        status=status,
        requested_millicredits=1000,
        granted_millicredits=1000 if status == AppStatus.APPROVED else None,
        civilian_use=True,
        submitted_at=submitted,
        decided_at=submitted + dt.timedelta(hours=waited_hours),
    )


@pytest.fixture
def network(db):
    lisbon = HubFactory(slug="lisbon", name="Lisbon AI Gigafactory", city="Lisbon", country="PT")
    zagreb = HubFactory(slug="zagreb", name="Zagreb AI Gigafactory", city="Zagreb", country="HR")
    hidden = HubFactory(slug="hidden", name="Private Hub", public=False)
    both = UserFactory()
    MembershipFactory(user=both, hub=lisbon)
    MembershipFactory(user=both, hub=zagreb)
    MembershipFactory(hub=lisbon)
    MembershipFactory(hub=lisbon, status=MembershipStatus.REQUESTED)
    MembershipFactory(hub=hidden)
    # Lisbon: 2 open calls; 100 credits granted on one allocation, of which 3 GPU-hours used.
    provider, resource, call, allocation = usage_setup(hub=lisbon, granted=100_000)
    make_call(hub=lisbon, resources=[resource], track=Track.PEER_REVIEW)
    usage_ingest(
        provider=provider,
        records=[
            record(resource, allocation, "job-1", gpu_hours=2),
            record(resource, allocation, "job-2", gpu_hours=1),
        ],
        acting_label="test",
    )
    # Fast lane decisions at Lisbon after 2, 4 and 30 hours (median 4 h); peer review at Zagreb 10 and 20 days.
    for hours in (2, 4, 30):
        decided(call, waited_hours=hours, status=AppStatus.REJECTED)
    peer = make_call(hub=zagreb, track=Track.PEER_REVIEW)
    for days in (10, 20):
        decided(peer, waited_hours=24 * days)
    make_allocation(call=peer, granted=50_000)
    # Pilots, a case study and its adaptation.
    cs = case_study(hub=lisbon, sector="education")
    PilotFactory(hub=lisbon, sector="health", status=PilotStatus.ACTIVE)
    PilotFactory(hub=zagreb, sector="education", adapted_from=cs.pilot)
    PilotFactory(hub=hidden, sector="health")
    return lisbon, zagreb


def test_figures_per_hub_and_for_the_network(network):
    stats = compute()
    lisbon, zagreb = stats["hubs"]
    assert [h["slug"] for h in stats["hubs"]] == ["lisbon", "zagreb"]  # private hubs are not listed
    assert lisbon["members"] == 2
    assert zagreb["members"] == 1
    assert lisbon["open_calls"] == 2
    assert lisbon["granted"] == 100_000
    assert lisbon["used"] == 3_000
    assert zagreb["granted"] == 50_000
    assert lisbon["pilots_by_status"] == {"proposed": 0, "active": 1, "completed": 1, "stopped": 0}
    assert lisbon["case_studies"] == 1
    assert lisbon["adapted_elsewhere"] == 1
    assert zagreb["adaptations_started"] == 1
    assert lisbon["median_days"]["fast_lane"] == {"days": round(4 / 24, 1), "decisions": 3}
    assert zagreb["median_days"]["peer_review"] == {"days": 15.0, "decisions": 2}
    network = stats["network"]
    assert network["members"] == 2  # the person in two hubs counts once
    assert network["granted"] == 150_000
    assert network["pilots"] == 3
    assert network["adaptations"] == 1
    assert set(network["median_days"]) == {"fast_lane", "peer_review"}
    assert stats["sector_status"]["education"] == {"proposed": 1, "active": 0, "completed": 1, "stopped": 0}


def test_statistics_take_five_queries_however_many_rows(network, django_assert_num_queries):
    for _ in range(5):
        HubFactory()
        PilotFactory()
    # hubs with their figures, pilots by hub/sector/status, medians per hub and track,
    # medians per track, distinct members
    with django_assert_num_queries(5):
        compute()


def test_statistics_are_cached_briefly(network, django_assert_num_queries):
    network_statistics()
    with django_assert_num_queries(0):
        network_statistics()
    with django_assert_num_queries(5):
        network_statistics(fresh=True)


def test_statistics_page_shows_figures_and_charts(client, network, django_assert_max_num_queries):
    cache.clear()
    with django_assert_max_num_queries(5):
        response = client.get(reverse("pilots:statistics"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Network statistics" in body
    assert body.count('data-testid="hub-stats-row"') == 2
    assert 'data-chart="stats-sectors"' in body
    assert 'data-chart="stats-medians"' in body
    assert "Private Hub" not in body


def test_statistics_page_has_empty_states(client, db):
    cache.clear()
    body = client.get(reverse("pilots:statistics")).content.decode()
    assert "No application has been decided yet." in body
    assert "No public hub yet." in body


def test_csv_export_has_a_row_per_hub_and_the_network_and_neutralises_formulas(client, network):
    lisbon, _zagreb = network
    lisbon.name = '=HYPERLINK("http://evil")'
    lisbon.save()
    cache.clear()
    response = client.get(reverse("pilots:statistics_csv"))
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["hub"] for r in rows] == ['\'=HYPERLINK("http://evil")', "Zagreb AI Gigafactory", "Whole network"]
    assert rows[0]["credits_granted"] == "100"
    assert rows[0]["credits_used"] == "3"
    assert rows[1]["median_days_to_decision_peer_review"] == "15.0"
    assert rows[2]["members"] == "2"
    assert rows[2]["adaptations_started"] == "1"


def test_statistics_api(client, network):
    cache.clear()
    body = client.get("/api/v1/network-statistics/").json()
    assert body["network"]["members"] == 2
    assert body["network"]["credits_granted"] == "150"
    lisbon = body["hubs"][0]
    assert lisbon["slug"] == "lisbon"
    assert lisbon["median_days_to_decision"]["fast_lane"]["decisions"] == 3
    assert lisbon["pilots_by_status"]["active"] == 1
    assert body["pilots_by_sector_and_status"]["education"]["completed"] == 1
