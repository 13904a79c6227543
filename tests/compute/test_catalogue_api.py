"""API v1 of the compute catalogue: calls and resources, public reads with ledger figures."""

from datetime import timedelta

import pytest
import yaml
from django.core.management import call_command
from django.utils import timezone

from compute.models import MILLI, Track
from hubs import services as hub_services
from hubs.models import OrganisationKind
from tests.conftest import verified_user
from tests.factories import HubFactory, MembershipFactory, make_api_key

from .test_catalogue_pages import budget_scenario, fund, grant, make_call, make_resource, use


def results(response):
    assert response.status_code == 200, response.content
    return response.json()["results"]


def slugs(response):
    return [c["slug"] for c in results(response)]


# --- Calls ---------------------------------------------------------------------------------------


def test_call_list_shows_budget_figures_in_millicredits_and_credits(client, hub):
    call = budget_scenario(hub)
    [item] = results(client.get("/api/v1/calls/"))
    assert item["slug"] == call.slug
    assert item["hub"] == {"slug": "lyon", "name": "Lyon AI Gigafactory"}
    assert item["track"] == "fast_lane"
    assert item["track_label"] == "Fast lane"
    assert item["phase"] == "open"
    assert item["funding_source"]["name"] == call.funding_source.name
    assert (item["budget_funded_millicredits"], item["budget_funded_credits"]) == (100_000_000, "100,000")
    assert (item["budget_granted_millicredits"], item["budget_granted_credits"]) == (50_000_500, "50,000.5")
    assert (item["budget_used_millicredits"], item["budget_used_credits"]) == (1_734_500, "1,734.5")
    assert (item["budget_left_millicredits"], item["budget_left_credits"]) == (49_999_500, "49,999.5")
    assert (item["max_request_millicredits"], item["max_request_credits"]) == (50_000_000, "50,000")
    assert item["web_url"] == f"http://testserver/calls/{call.slug}/"


@pytest.fixture
def calls(hub, other_hub):
    return {
        "lyon-open": make_call(hub, slug="lyon-open", title="Lyon open", closes_in_days=15),
        "lyon-sandbox": make_call(hub, slug="lyon-sandbox", track=Track.PLAYGROUND, closes_in_days=20),
        "lyon-soon": make_call(hub, slug="lyon-soon", track=Track.PEER_REVIEW, opens_in_days=5, closes_in_days=60),
        "lyon-past": make_call(hub, slug="lyon-past", opens_in_days=-400, closes_in_days=-30),
        "hel-climate": make_call(
            other_hub, slug="hel-climate", track=Track.PEER_REVIEW, description="grids", closes_in_days=10
        ),
        "hel-draft": make_call(other_hub, slug="hel-draft", published=False),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["hel-climate", "lyon-open", "lyon-sandbox", "lyon-soon", "lyon-past"]),
        ("?open=true", ["hel-climate", "lyon-open", "lyon-sandbox"]),
        ("?open=false", ["lyon-soon", "lyon-past"]),
        ("?phase=upcoming", ["lyon-soon"]),
        ("?phase=closed", ["lyon-past"]),
        ("?hub=helsinki", ["hel-climate"]),
        ("?hub=lyon&track=fast_lane", ["lyon-open", "lyon-past"]),
        ("?track=peer_review&open=true", ["hel-climate"]),
        ("?search=grids", ["hel-climate"]),
        ("?ordering=-closes_at", ["lyon-soon", "lyon-sandbox", "lyon-open", "hel-climate", "lyon-past"]),
    ],
)
def test_call_list_filters(client, calls, query, expected):
    assert slugs(client.get("/api/v1/calls/" + query)) == expected


def test_call_list_rejects_an_unknown_track_with_a_message(client, calls):
    response = client.get("/api/v1/calls/?track=gold")
    assert response.status_code == 400
    assert "track" in response.json()


def test_call_list_phase_labels(client, calls):
    phases = {c["slug"]: c["phase"] for c in results(client.get("/api/v1/calls/"))}
    assert phases == {
        "hel-climate": "open",
        "lyon-open": "open",
        "lyon-sandbox": "open",
        "lyon-soon": "upcoming",
        "lyon-past": "closed",
    }


def test_call_list_is_paginated(client, hub):
    for i in range(5):
        make_call(hub, slug=f"c{i}", closes_in_days=10 + i)
    first = client.get("/api/v1/calls/?page_size=2").json()
    assert first["count"] == 5
    assert [c["slug"] for c in first["results"]] == ["c0", "c1"]
    assert "page=2" in first["next"]


def test_unpublished_calls_and_private_hubs_are_hidden(client, hub):
    make_call(hub, slug="public")
    make_call(hub, slug="draft", published=False)
    hidden = HubFactory(slug="hidden", public=False)
    make_call(hidden, slug="members-only")
    assert slugs(client.get("/api/v1/calls/")) == ["public"]
    assert client.get("/api/v1/calls/draft/").status_code == 404
    assert client.get("/api/v1/calls/members-only/").status_code == 404
    # A member of the private hub, with a personal key, sees its calls (not the drafts).
    insider = verified_user()
    MembershipFactory(user=insider, hub=hidden)
    _key, secret = make_api_key(hub=hidden, user=insider)
    auth = {"Authorization": f"Bearer {secret}"}
    assert sorted(slugs(client.get("/api/v1/calls/", headers=auth))) == ["members-only", "public"]
    assert client.get("/api/v1/calls/members-only/", headers=auth).status_code == 200
    assert client.get("/api/v1/calls/draft/", headers=auth).status_code == 404


def test_partner_key_sees_the_calls_of_its_private_hub(client, db, staff):
    hidden = HubFactory(slug="hidden", public=False)
    MembershipFactory(user=staff, hub=hidden, role="staff")
    partner = hub_services.partner_system_create(hub=hidden, name="Hidden HPC", acting_user=staff)
    _key, secret = make_api_key(hub=hidden, partner=partner)
    make_call(hidden, slug="members-only")
    response = client.get("/api/v1/calls/", headers={"Authorization": f"Bearer {secret}"})
    assert slugs(response) == ["members-only"]


def test_call_detail_has_rules_and_eligible_resources(client, hub):
    call = budget_scenario(hub)
    call.allowed_org_kinds = [OrganisationKind.UNIVERSITY, OrganisationKind.SME]
    call.review_cutoffs = ["2026-06-01"]
    call.save()
    inactive = make_resource(hub, name="Old partition", active=False)
    call.eligible_resources.add(inactive)
    response = client.get(f"/api/v1/calls/{call.slug}/")
    assert response.status_code == 200
    data = response.json()
    assert data["budget_left_millicredits"] == 49_999_500
    assert data["budget_left_credits"] == "49,999.5"
    assert data["allowed_org_kinds"] == ["university", "sme"]
    assert data["review_cutoffs"] == ["2026-06-01"]
    assert data["min_reviewers"] == 2
    assert [c["key"] for c in data["rubric"]] == ["excellence", "impact", "feasibility"]
    assert [
        (r["name"], r["gpu_model"], r["rate_millicredits"], r["rate_credits"]) for r in data["eligible_resources"]
    ] == [
        ("Jean Zay A100", "NVIDIA A100 40GB", 600, "0.6"),
        ("Jean Zay H100", "NVIDIA H100 80GB", 1000, "1"),
    ]
    assert data["eligible_resources"][0]["hub"]["slug"] == "lyon"
    assert data["eligible_resources"][0]["provider"]["name"]


def test_call_detail_of_an_unknown_call_is_a_json_404(client, db):
    response = client.get("/api/v1/calls/nope/")
    assert response.status_code == 404
    assert "detail" in response.json()


def test_calls_are_read_only(client, hub, member):
    call = make_call(hub)
    client.force_login(member)
    assert client.post("/api/v1/calls/", {}).status_code == 405
    assert client.delete(f"/api/v1/calls/{call.slug}/").status_code == 405


def _calls_with_ledger(hub, other_hub, rows):
    for i in range(rows):
        call = make_call(hub if i % 2 else other_hub, resources=[make_resource(hub)])
        fund(call, 1000 * MILLI)
        if i % 3 == 0:
            use(grant(call, 100 * MILLI), 10 * MILLI)


@pytest.mark.parametrize("rows", [2, 12])
def test_call_list_query_count_does_not_grow(client, hub, other_hub, rows, django_assert_num_queries):
    _calls_with_ledger(hub, other_hub, rows)
    with django_assert_num_queries(2):  # count, calls with hub, funding source and budget figures
        response = client.get("/api/v1/calls/")
    assert response.json()["count"] == rows
    assert all(c["budget_funded_credits"] == "1,000" for c in response.json()["results"])


def test_call_detail_query_count(client, hub, django_assert_num_queries):
    call = budget_scenario(hub)
    with django_assert_num_queries(2):  # call with budget figures, eligible resources
        client.get(f"/api/v1/calls/{call.slug}/")


# --- Resources -------------------------------------------------------------------------------------


@pytest.fixture
def resources(hub, other_hub):
    a100 = make_resource(hub, name="Lyon A100", gpu_model="NVIDIA A100 40GB", rate=600)
    h200 = make_resource(hub, name="Lyon H200", gpu_model="NVIDIA H200 141GB", rate=1300)
    hel = make_resource(other_hub, name="LUMI MI250X", gpu_model="AMD MI250X", rate=800)
    hidden = make_resource(HubFactory(slug="hidden", public=False), name="Secret", gpu_model="NVIDIA H100")
    call = make_call(hub, slug="lyon-call", resources=[a100])
    return {"a100": a100, "h200": h200, "hel": hel, "hidden": hidden, "call": call}


def test_resource_list_shows_provider_hub_gpu_and_rate(client, resources):
    items = results(client.get("/api/v1/resources/"))
    assert [r["name"] for r in items] == ["LUMI MI250X", "Lyon A100", "Lyon H200"]
    a100 = items[1]
    assert a100["gpu_model"] == "NVIDIA A100 40GB"
    assert a100["hub"] == {"slug": "lyon", "name": "Lyon AI Gigafactory"}
    assert a100["provider"] == {
        "id": resources["a100"].provider_id,
        "name": resources["a100"].provider.name,
        "website": "",
    }
    assert (a100["rate_millicredits"], a100["rate_credits"]) == (600, "0.6")
    assert items[2]["rate_credits"] == "1.3"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?hub=lyon", ["Lyon A100", "Lyon H200"]),
        ("?gpu_model=h200", ["Lyon H200"]),
        ("?call=lyon-call", ["Lyon A100"]),
        ("?search=lumi", ["LUMI MI250X"]),
        ("?ordering=-rate_millicredits", ["Lyon H200", "LUMI MI250X", "Lyon A100"]),
    ],
)
def test_resource_list_filters(client, resources, query, expected):
    assert [r["name"] for r in results(client.get("/api/v1/resources/" + query))] == expected


def test_resource_detail(client, resources):
    response = client.get(f"/api/v1/resources/{resources['h200'].pk}/")
    assert response.status_code == 200
    assert response.json()["rate_credits"] == "1.3"
    assert client.get(f"/api/v1/resources/{resources['hidden'].pk}/").status_code == 404
    assert client.get("/api/v1/resources/999999/").status_code == 404


@pytest.mark.parametrize("rows", [2, 12])
def test_resource_list_query_count_does_not_grow(client, hub, other_hub, rows, django_assert_num_queries):
    for i in range(rows):
        make_resource(hub if i % 2 else other_hub)
    with django_assert_num_queries(2):  # count, resources with providers and hubs
        response = client.get("/api/v1/resources/")
    assert response.json()["count"] == rows


# --- The schema ----------------------------------------------------------------------------------


def test_catalogue_is_documented_in_a_valid_schema(tmp_path, db):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    schema = yaml.safe_load(target.read_text())
    for path in ["/api/v1/calls/", "/api/v1/calls/{slug}/", "/api/v1/resources/", "/api/v1/resources/{id}/"]:
        assert "get" in schema["paths"][path], path
    list_op = schema["paths"]["/api/v1/calls/"]["get"]
    params = {p["name"] for p in list_op["parameters"]}
    assert {"hub", "track", "open", "phase", "search", "page", "page_size"} <= params
    content = list_op["responses"]["200"]["content"]["application/json"]
    assert content["examples"]
    call_props = schema["components"]["schemas"]["Call"]["properties"]
    assert {"budget_left_millicredits", "budget_left_credits", "max_request_credits"} <= set(call_props)


def test_open_window_edges(client, hub):
    """A call is open from ``opens_at`` (included) until ``closes_at`` (excluded)."""
    call = make_call(hub, slug="edge")
    now = timezone.now()
    call.opens_at = now - timedelta(seconds=1)
    call.closes_at = now + timedelta(hours=1)
    call.save()
    assert slugs(client.get("/api/v1/calls/?open=true")) == ["edge"]
    call.closes_at = timezone.now()
    call.save()
    assert slugs(client.get("/api/v1/calls/?open=true")) == []
    assert results(client.get("/api/v1/calls/"))[0]["phase"] == "closed"
