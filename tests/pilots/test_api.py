"""API v1: pilots (scoped reads, writes for staff and leads), case studies (public), statistics."""

import pytest
from rest_framework.test import APIClient

from pilots.models import Pilot, PilotStatus
from tests.factories import HubFactory, make_api_key

from .conftest import make_member
from .factories import MetricFactory, MilestoneFactory, PartnerFactory, PilotFactory, case_study, publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


def bearer(api, key):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return api


NEW_PILOT = {
    "hub": "lyon",
    "title": "Wind-farm output forecasting",
    "summary": "Forecasts for the grid operator.",
    "sector": "energy",
    "starts_on": "2026-02-01",
    "ends_on": "2026-11-30",
    "partners": [{"name": "Skellefteå Kraft", "role": "utility"}],
    "milestones": [{"title": "Turbine data flowing", "due_on": "2026-03-15"}],
    "metrics": [{"name": "Forecast error", "unit": "%", "baseline": "18", "target": "9"}],
}


def test_staff_create_and_read_a_pilot_with_a_write_key(api, hub, staff):
    _key, secret = make_api_key(hub=hub, user=staff, scope="write")
    response = bearer(api, secret).post("/api/v1/pilots/", NEW_PILOT, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "proposed"
    assert body["hub"]["slug"] == "lyon"
    assert body["partners"] == [{"name": "Skellefteå Kraft", "role": "utility", "website": "", "contribution": ""}]
    assert body["metrics"][0]["target"] == "9.000"
    assert body["lead"]["id"] == staff.pk


def test_a_read_key_cannot_write(api, hub, staff):
    _key, secret = make_api_key(hub=hub, user=staff, scope="read")
    assert bearer(api, secret).post("/api/v1/pilots/", NEW_PILOT, format="json").status_code == 403
    assert not Pilot.objects.exists()


def test_bad_rows_get_a_message_per_row(api, hub, staff):
    api.force_authenticate(staff)
    data = NEW_PILOT | {
        "metrics": [{"name": "ok", "baseline": 1, "target": 2}, {"name": "Flat", "baseline": 3, "target": 3}]
    }
    response = api.post("/api/v1/pilots/", data, format="json")
    assert response.status_code == 400, response.json()
    # Errors per row, keyed by the row's index.
    assert response.json()["metrics"]["1"] == {"target": ["The target must differ from the baseline."]}
    assert not Pilot.objects.exists()


def test_staff_of_another_hub_cannot_create_read_or_change(api, hub, other_staff):
    pilot = PilotFactory(hub=hub, title="Lyon pilot")
    api.force_authenticate(other_staff)
    assert api.post("/api/v1/pilots/", NEW_PILOT, format="json").status_code == 403
    assert api.get(f"/api/v1/pilots/{pilot.pk}/").status_code == 404
    assert api.patch(f"/api/v1/pilots/{pilot.pk}/", {"title": "Hijacked"}, format="json").status_code == 404
    assert api.post(f"/api/v1/pilots/{pilot.pk}/start/").status_code == 404
    assert api.get("/api/v1/pilots/").json()["count"] == 0
    pilot.refresh_from_db()
    assert (pilot.title, pilot.status) == ("Lyon pilot", PilotStatus.PROPOSED)


def test_patch_replaces_given_lists_and_transitions_answer_409(api, hub, staff):
    pilot = PilotFactory(hub=hub)
    PartnerFactory(pilot=pilot, name="Old")
    MilestoneFactory(pilot=pilot)
    api.force_authenticate(staff)
    response = api.patch(
        f"/api/v1/pilots/{pilot.pk}/", {"partners": [{"name": "New", "role": "school"}]}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert [p["name"] for p in response.json()["partners"]] == ["New"]
    assert len(response.json()["milestones"]) == 1
    response = api.post(f"/api/v1/pilots/{pilot.pk}/complete/")
    assert response.status_code == 409
    assert "Cannot complete" in response.json()["detail"]
    assert api.post(f"/api/v1/pilots/{pilot.pk}/start/").json()["status"] == "active"
    response = api.post(f"/api/v1/pilots/{pilot.pk}/stop/", {"reason": ""}, format="json")
    assert response.status_code == 400
    assert "reason" in response.json()


def test_a_partner_key_reads_its_hubs_pilots(api, hub, other_hub):
    from hubs.models import PartnerSystem

    PilotFactory(hub=hub, title="Ours")
    PilotFactory(hub=other_hub, title="Theirs")
    partner = PartnerSystem.objects.create(hub=hub, name="Funder dashboard", kind="funder")
    _key, secret = make_api_key(hub=hub, partner=partner)
    body = bearer(api, secret).get("/api/v1/pilots/").json()
    assert [p["title"] for p in body["results"]] == ["Ours"]


def test_anonymous_callers_get_no_pilots_but_public_case_studies(api, hub):
    PilotFactory(hub=hub)
    assert api.get("/api/v1/pilots/").status_code in (401, 403)
    cs = case_study(hub=hub, sector="health")
    body = api.get("/api/v1/case-studies/", {"sector": "health"}).json()
    assert [c["slug"] for c in body["results"]] == [cs.slug]
    assert api.get("/api/v1/case-studies/", {"country": "PT"}).json()["count"] == 0
    detail = api.get(f"/api/v1/case-studies/{cs.slug}/").json()
    assert detail["headline"] == cs.headline


def test_pilot_list_query_count_is_constant(api, hub, member, django_assert_max_num_queries):
    for i in range(8):
        pilot = PilotFactory(hub=hub, title=f"Pilot {i}", team=[member])
        PartnerFactory(pilot=pilot)
        MilestoneFactory(pilot=pilot)
        MetricFactory(pilot=pilot)
    api.force_authenticate(member)
    # roles, count, page, then one each: partners, milestones, metrics, team, projects, allocations, AI systems
    with django_assert_max_num_queries(11):
        body = api.get("/api/v1/pilots/").json()
    assert body["count"] == 8
    assert all(len(p["partners"]) == 1 for p in body["results"])


def test_case_study_list_query_count_is_constant(api, django_assert_max_num_queries):
    zagreb = HubFactory(slug="zagreb", city="Zagreb")
    for _ in range(10):
        cs = case_study()
        PilotFactory(hub=zagreb, adapted_from=cs.pilot)
    with django_assert_max_num_queries(3):  # count, page, adaptations
        body = api.get("/api/v1/case-studies/").json()
    assert body["count"] == 10
    assert body["results"][0]["adapted_in"][0]["slug"] == "zagreb"
    assert body["results"][0]["adaptation_count"] == 1


def test_adapt_through_the_api_is_idempotent(api, lisbon, lisbon_staff, zagreb, zagreb_staff):
    cs = publish(PilotFactory(hub=lisbon), by=lisbon_staff)
    _key, secret = make_api_key(hub=zagreb, user=zagreb_staff, scope="write")
    bearer(api, secret)
    first = api.post(f"/api/v1/case-studies/{cs.slug}/adapt/", {"hub": "zagreb"}, format="json")
    assert first.status_code == 201, first.json()
    again = api.post(f"/api/v1/case-studies/{cs.slug}/adapt/", {"hub": "zagreb"}, format="json")
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert first.json()["adapted_from"]["hub"]["slug"] == "lisbon"
    # The key is Zagreb's: adapting at Lisbon with it is refused.
    assert api.post(f"/api/v1/case-studies/{cs.slug}/adapt/", {"hub": "lisbon"}, format="json").status_code == 403


def test_members_cannot_adapt_or_publish(api, lisbon, lisbon_staff, zagreb):
    pilot = PilotFactory(hub=lisbon, status=PilotStatus.ACTIVE)
    cs = publish(pilot, by=lisbon_staff)
    api.force_authenticate(make_member(zagreb))
    assert api.post(f"/api/v1/case-studies/{cs.slug}/adapt/", {"hub": "zagreb"}, format="json").status_code == 403
    api.force_authenticate(make_member(lisbon))
    response = api.post(f"/api/v1/pilots/{pilot.pk}/case-study/", {"headline": "x", "story": "y"}, format="json")
    assert response.status_code == 403


def test_staff_publish_through_the_api(api, hub, staff, other_staff):
    pilot = PilotFactory(hub=hub, status=PilotStatus.COMPLETED)
    api.force_authenticate(other_staff)
    url = f"/api/v1/pilots/{pilot.pk}/case-study/"
    assert api.post(url, {"headline": "x", "story": "y"}, format="json").status_code == 404
    api.force_authenticate(staff)
    response = api.post(url, {"headline": "Irrigation down 20 %", "story": "Farmers..."}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["headline"] == "Irrigation down 20 %"
    proposed = PilotFactory(hub=hub)
    response = api.post(f"/api/v1/pilots/{proposed.pk}/case-study/", {"headline": "x", "story": "y"}, format="json")
    assert response.status_code == 409
