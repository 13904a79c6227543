"""API v1 usage records: partner systems post GPU usage in bulk and read their own records;
people read their projects' usage, hub staff their hubs'."""

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest

from compute.models import Entry, Transaction, UsageRecord
from compute.usage import MAX_RECORDS, usage_ingest
from tests.conftest import verified_user
from tests.factories import MembershipFactory, make_api_key

from .usage_factories import (
    assert_ledger_consistent,
    make_allocation,
    make_call,
    make_project,
    make_provider,
    make_resource,
    record,
    usage_setup,
)

URL = "/api/v1/usage-records/"


def bearer(plaintext):
    return {"Authorization": f"Bearer {plaintext}"}


def post(client, body, key):
    return client.post(URL, body, content_type="application/json", headers=bearer(key))


def get(client, key=None, **params):
    return client.get(URL, params, headers=bearer(key) if key else {})


def external_ids(response):
    assert response.status_code == 200, response.content
    return [row["external_id"] for row in response.json()["results"]]


@pytest.fixture
def member(hub):
    user = verified_user(name="Marie Member")
    MembershipFactory(user=user, hub=hub)
    return user


@pytest.fixture
def setup(hub, member):
    """Provider A at Lyon with one resource, a call and an allocation of 100 credits for the member's project."""
    return usage_setup(hub=hub, granted=100_000, members=[member])


@pytest.fixture
def provider(setup):
    return setup[0]


@pytest.fixture
def resource(setup):
    return setup[1]


@pytest.fixture
def allocation(setup):
    return setup[3]


@pytest.fixture
def write_key(hub, provider):
    return make_api_key(hub=hub, partner=provider.partner, scope="write")[1]


@pytest.fixture
def read_key(hub, provider):
    return make_api_key(hub=hub, partner=provider.partner, scope="read")[1]


@pytest.fixture
def provider_b(hub):
    """Provider B at the same hub, with its own partner system, resource, call and allocation."""
    provider = make_provider(hub=hub)
    resource = make_resource(provider=provider, rate=2000)
    call = make_call(hub=hub, resources=[resource])
    allocation = make_allocation(call=call, granted=50_000)
    key = make_api_key(hub=hub, partner=provider.partner, scope="write")[1]
    return provider, resource, allocation, key


# --- Posting --------------------------------------------------------------------------------


def test_partner_posts_a_batch_and_it_is_charged(client, provider, resource, allocation, write_key):
    records = [
        record(resource, allocation, "job-1", gpu_hours=2),
        record(resource, allocation, "job-2", gpu_seconds=1800),
        record(resource, allocation, "job-3", gpu_hours="0.25"),
    ]
    response = post(client, {"records": records}, write_key)
    assert response.status_code == 201, response.content
    assert response.json() == {"created": 3, "duplicates": 0, "millicredits": 2750, "overage_millicredits": 0}
    assert UsageRecord.objects.filter(provider=provider).count() == 3
    stored = UsageRecord.objects.get(external_id="job-1")
    assert (stored.gpu_seconds, stored.millicredits, stored.user_label) == (7200, 2000, "alice")
    assert_ledger_consistent()


def test_resending_a_batch_changes_nothing(client, resource, allocation, write_key):
    records = [record(resource, allocation, f"job-{i}") for i in range(5)]
    assert post(client, {"records": records}, write_key).json()["created"] == 5
    entries = Entry.objects.count()
    response = post(client, {"records": records}, write_key)
    assert response.status_code == 201
    assert response.json() == {"created": 0, "duplicates": 5, "millicredits": 0, "overage_millicredits": 0}
    more = [*records, record(resource, allocation, "job-new")]
    assert post(client, {"records": more}, write_key).json() == {
        "created": 1,
        "duplicates": 5,
        "millicredits": 1000,
        "overage_millicredits": 0,
    }
    assert Entry.objects.count() == entries + 2  # the new job: allocation debit, provider credit
    assert UsageRecord.objects.count() == 6


def test_a_bad_record_rejects_the_batch_with_its_index_and_nothing_is_written(client, resource, allocation, write_key):
    good = record(resource, allocation, "job-1")
    late = record(resource, allocation, "job-2") | {"end": "2026-02-01T00:00:00+00:00"}
    bare = {"resource": resource.pk, "allocation": allocation.pk, "external_id": "job-3"}
    response = post(client, {"records": [good, late, bare]}, write_key)
    assert response.status_code == 400
    errors = response.json()["records"]
    assert {"index": 1, "field": "end", "message": "The job ends before it starts."} in errors
    assert {(e["index"], e["field"]) for e in errors if e["index"] == 2} == {(2, "gpu_hours"), (2, "start"), (2, "end")}
    assert all(e["index"] != 0 for e in errors)
    assert not UsageRecord.objects.exists()
    assert not Transaction.objects.filter(kind="usage").exists()


def test_an_unknown_allocation_is_named(client, resource, write_key):
    response = post(client, {"records": [record(resource, type("A", (), {"pk": 999_999})(), "j")]}, write_key)
    assert response.status_code == 400
    assert response.json() == {"records": [{"index": 0, "field": "allocation", "message": "No such allocation."}]}


def test_body_shape_errors(client, write_key, provider):
    assert post(client, {}, write_key).json() == {"records": ["Give a list of usage records."]}
    assert post(client, {"records": "many"}, write_key).status_code == 400
    response = client.post(URL, [1, 2], content_type="application/json", headers=bearer(write_key))
    assert response.status_code == 400
    assert "records" in response.json()
    assert post(client, {"records": [42]}, write_key).json() == {
        "records": [{"index": 0, "field": "record", "message": "Must be an object."}]
    }


def test_a_batch_over_the_limit_is_refused_naming_the_limit(client, resource, allocation, write_key):
    one = record(resource, allocation, "x")
    records = [one | {"external_id": str(i)} for i in range(MAX_RECORDS + 1)]
    response = post(client, {"records": records}, write_key)
    assert response.status_code == 400
    [error] = response.json()["records"]
    assert error["index"] is None
    assert error["message"] == "At most 10,000 records per batch; this one has 10,001."
    assert not UsageRecord.objects.exists()


def test_a_read_only_partner_key_cannot_post(client, resource, allocation, read_key):
    response = post(client, {"records": [record(resource, allocation, "j")]}, read_key)
    assert response.status_code == 403
    assert "read-only" in response.json()["detail"]
    assert not UsageRecord.objects.exists()


def test_people_cannot_post_usage(client, hub, member, resource, allocation):
    key = make_api_key(hub=hub, user=member, scope="write")[1]
    response = post(client, {"records": [record(resource, allocation, "j")]}, key)
    assert response.status_code == 403
    assert "partner system" in response.json()["detail"]
    client.force_login(member)
    response = client.post(URL, {"records": []}, content_type="application/json")
    assert response.status_code == 403


def test_anonymous_callers_are_asked_to_authenticate(client, db):
    assert client.post(URL, {"records": []}, content_type="application/json").status_code == 401
    assert client.get(URL).status_code == 401


def test_provider_a_cannot_post_to_provider_bs_resource(client, resource, allocation, write_key, provider_b):
    _b, b_resource, b_allocation, _b_key = provider_b
    response = post(client, {"records": [record(b_resource, b_allocation, "steal")]}, write_key)
    assert response.status_code == 400
    assert {"index": 0, "field": "resource", "message": "Not one of this provider's resources."} in response.json()[
        "records"
    ]
    # Its own resource on another provider's allocation: the allocation's call does not include it.
    response = post(client, {"records": [record(resource, b_allocation, "cross")]}, write_key)
    assert response.status_code == 400
    assert response.json()["records"][0]["field"] == "allocation"
    assert not UsageRecord.objects.exists()


def test_a_partner_with_several_providers_says_which(client, hub, provider, resource, allocation, write_key):
    second = make_provider(hub=hub)
    second.partner = provider.partner
    second.save(update_fields=["partner"])
    batch = {"records": [record(resource, allocation, "j1")]}
    response = post(client, batch, write_key)
    assert response.status_code == 400
    assert "several providers" in response.json()["provider"][0]
    response = post(client, batch | {"provider": 999_999}, write_key)
    assert response.json() == {"provider": ["Not one of your partner system's providers."]}
    response = post(client, batch | {"provider": second.pk}, write_key)
    assert response.json()["records"][0]["message"] == "Not one of this provider's resources."
    response = post(client, batch | {"provider": provider.pk}, write_key)
    assert response.status_code == 201
    assert UsageRecord.objects.get().provider == provider


def test_a_partner_without_a_provider_is_refused(client, hub, staff):
    from hubs import services as hub_services

    partner = hub_services.partner_system_create(hub=hub, name="Funder dashboard", acting_user=staff)
    key = make_api_key(hub=hub, partner=partner, scope="write")[1]
    response = post(client, {"records": []}, key)
    assert response.status_code == 403
    assert "runs no compute provider" in response.json()["detail"]


def test_usage_past_the_grant_is_overage(client, resource, allocation, write_key):
    response = post(client, {"records": [record(resource, allocation, "big", gpu_hours=130)]}, write_key)
    assert response.json() == {"created": 1, "duplicates": 0, "millicredits": 130_000, "overage_millicredits": 30_000}
    assert_ledger_consistent()


# --- Reading --------------------------------------------------------------------------------


def ingest(provider, resource, allocation, *names, start=None):
    usage_ingest(
        provider=provider,
        records=[record(resource, allocation, n, start=start) for n in names],
        acting_label="test",
    )


def test_partners_read_only_their_own_records(client, provider, resource, allocation, read_key, provider_b):
    b, b_resource, b_allocation, b_key = provider_b
    ingest(provider, resource, allocation, "a-1", "a-2")
    ingest(b, b_resource, b_allocation, "b-1")
    assert sorted(external_ids(get(client, read_key))) == ["a-1", "a-2"]
    assert external_ids(get(client, b_key)) == ["b-1"]
    assert external_ids(get(client, read_key, allocation=b_allocation.pk)) == []
    assert external_ids(get(client, read_key, external_id="b-1")) == []


def test_list_shows_each_record(client, provider, resource, allocation, read_key):
    ingest(provider, resource, allocation, "a-1")
    [row] = get(client, read_key).json()["results"]
    assert row["provider"]["id"] == provider.pk
    assert row["resource"] == {"id": resource.pk, "name": resource.name, "gpu_model": "NVIDIA H100 80GB"}
    assert (row["allocation"], row["external_id"], row["user"]) == (allocation.pk, "a-1", "alice")
    assert (row["gpu_seconds"], row["gpu_hours"], row["millicredits"], row["credits"]) == (3600, 1.0, 1000, "1")
    assert row["start"].startswith("2026-03-01T")


def test_list_filters(client, provider, resource, allocation, read_key):
    march = dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC)
    ingest(provider, resource, allocation, "early", start=march)
    ingest(provider, resource, allocation, "late", start=march + dt.timedelta(days=10))
    other_resource = make_resource(provider=provider)
    assert external_ids(get(client, read_key)) == ["late", "early"]  # newest job first
    assert external_ids(get(client, read_key, started_after="2026-03-05T00:00:00Z")) == ["late"]
    assert external_ids(get(client, read_key, started_before="2026-03-05T00:00:00Z")) == ["early"]
    assert external_ids(get(client, read_key, external_id="early")) == ["early"]
    assert external_ids(get(client, read_key, allocation=allocation.pk, resource=resource.pk)) == ["late", "early"]
    assert external_ids(get(client, read_key, resource=other_resource.pk)) == []
    assert get(client, read_key, started_after="yesterday").status_code == 400
    past_bigint = get(client, read_key, resource="9.3e18")  # SQLite could not even bind it (a 500)
    assert past_bigint.status_code == 400
    assert list(past_bigint.json()) == ["resource"]


def test_a_statement_line_leads_to_the_jobs_it_charged(client, member, provider, resource, allocation, read_key):
    ingest(provider, resource, allocation, "a-1", "a-2")  # one report: one statement line
    ingest(provider, resource, allocation, "b-1")
    client.force_login(member)
    statement = client.get(f"/api/v1/allocations/{allocation.pk}/statement/").json()["results"]
    usage = [line for line in statement if line["kind"] == "usage"]
    assert [line["amount_millicredits"] for line in usage] == [-2000, -1000]
    client.logout()
    assert sorted(external_ids(get(client, read_key, transaction=usage[0]["transaction"]))) == ["a-1", "a-2"]
    [row] = get(client, read_key, transaction=usage[1]["transaction"]).json()["results"]
    assert (row["external_id"], row["transaction"]) == ("b-1", usage[1]["transaction"])


def test_a_page_far_past_the_last_is_empty(client, provider, resource, allocation, read_key):
    ingest(provider, resource, allocation, "a-1")
    response = get(client, read_key, page=184467440737095518)  # found by Schemathesis: OFFSET overflowed bigint
    assert response.status_code == 200
    body = response.json()
    assert (body["results"], body["next"]) == ([], None)
    assert body["previous"] is not None
    assert external_ids(get(client, read_key, page=2)) == []


def query(url):
    assert url.startswith("http://testserver/api/v1/usage-records/?")
    return parse_qs(urlsplit(url).query)


def test_list_pages_without_a_count(client, provider, resource, allocation, read_key):
    ingest(provider, resource, allocation, *[f"j{i}" for i in range(5)])
    first = get(client, read_key, page_size=2).json()
    assert "count" not in first
    assert len(first["results"]) == 2
    assert first["previous"] is None
    assert query(first["next"]) == {"page": ["2"], "page_size": ["2"]}
    second = client.get(first["next"], headers=bearer(read_key)).json()
    assert query(second["previous"]) == {"page_size": ["2"]}
    last = client.get(second["next"], headers=bearer(read_key)).json()
    assert len(last["results"]) == 1
    assert last["next"] is None
    assert query(last["previous"]) == {"page": ["2"], "page_size": ["2"]}
    assert len(get(client, read_key, page_size=1000).json()["results"]) == 5  # capped at 100
    assert get(client, read_key, page=0).status_code == 400


def test_people_read_their_projects_usage_and_staff_their_hubs(
    client, hub, other_hub, member, staff, other_staff, provider, resource, allocation, provider_b
):
    b, b_resource, b_allocation, _ = provider_b
    ingest(provider, resource, allocation, "mine")
    ingest(b, b_resource, b_allocation, "someone-elses")
    client.force_login(member)
    assert external_ids(get(client)) == ["mine"]
    client.force_login(staff)
    assert sorted(external_ids(get(client))) == ["mine", "someone-elses"]
    client.force_login(other_staff)
    assert external_ids(get(client)) == []
    key = make_api_key(hub=hub, user=member, scope="read")[1]
    assert external_ids(get(client, key)) == ["mine"]


def test_a_personal_key_for_another_hub_sees_no_usage_here(
    client, hub, other_hub, member, provider, resource, allocation
):
    ingest(provider, resource, allocation, "mine")
    MembershipFactory(user=member, hub=other_hub)
    key = make_api_key(hub=other_hub, user=member, scope="read")[1]
    assert external_ids(get(client, key)) == []


# --- Query counts ---------------------------------------------------------------------------


def warm(client, key):
    """A first request sets the key's ``last_used_at``; later ones within a minute do not write."""
    get(client, key, page_size=1)


@pytest.mark.parametrize("rows", [3, 25])
@pytest.mark.parametrize("page_size", [None, 100])
def test_partner_usage_list_query_count(
    client, provider, resource, allocation, read_key, rows, page_size, django_assert_num_queries
):
    ingest(provider, resource, allocation, *[f"j{i}" for i in range(rows)])
    warm(client, read_key)
    with django_assert_num_queries(2):  # key, one page of records with provider and resource (no count)
        response = get(client, read_key, **({"page_size": page_size} if page_size else {}))
    assert len(external_ids(response)) == rows


@pytest.mark.parametrize("rows", [3, 25])
@pytest.mark.parametrize("page_size", [None, 100])
def test_member_usage_list_query_count(
    client, hub, member, provider, resource, rows, page_size, django_assert_num_queries
):
    call = make_call(hub=hub, resources=[resource])
    for i in range(rows):
        project = make_project(hub=hub, members=[member]) if i % 2 else make_project(hub=hub, pi=member)
        allocation = make_allocation(call=call, granted=10_000, project=project)
        ingest(provider, resource, allocation, f"j{i}")
    client.force_login(member)
    with django_assert_num_queries(4):  # session, user, member's roles, one page of records
        response = get(client, **({"page_size": page_size} if page_size else {}))
    assert len(external_ids(response)) == rows
