"""The compute admin as hub staff use it: scoped lists, ledger figures, funding a call."""

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from compute import ledger
from compute.models import (
    MILLI,
    Account,
    Allocation,
    Application,
    AppStatus,
    Call,
    ComputeProvider,
    ComputeResource,
    FundingSource,
    Project,
    ProjectMember,
    ResourceRequest,
    Review,
    ScreeningResult,
    Transaction,
    TransactionKind,
    UsageRecord,
)
from gigafactory.models import AuditEvent
from hubs.models import Role, User
from tests.conftest import enable_mfa, verified_user
from tests.factories import HubFactory, MembershipFactory

from .test_catalogue_pages import budget_scenario, fund, grant, make_call, make_funding, make_resource, use

NOT_FOUND = "doesn\u2019t exist"  # the admin's message for an object outside the staff member's hubs


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def rows(response):
    assert response.status_code == 200, response.status_code
    return list(response.context["cl"].result_list)


@pytest.fixture
def superuser(db):
    user = User.objects.create_superuser(email="root@example.org", password="x" * 12)
    enable_mfa(user)
    return user


@pytest.fixture
def other_staff_client(client, other_staff):
    client.force_login(other_staff)
    return client


def usage_record(allocation, resource, millicredits, external_id):
    txn = use(allocation, millicredits, provider=resource.provider)
    Transaction.objects.filter(pk=txn.pk).update(allocation=allocation)  # as an ingest names it
    return UsageRecord.objects.create(
        provider=resource.provider,
        resource=resource,
        allocation=allocation,
        external_id=external_id,
        gpu_seconds=3600,
        started_at=txn.created_at,
        ended_at=txn.created_at,
        millicredits=millicredits,
        transaction=txn,
    )


@pytest.fixture
def two_hubs(hub, other_hub):
    """Each hub with a funded call, an approved application with an allocation and usage."""
    data = {}
    for h in (hub, other_hub):
        resource = make_resource(h, name=f"{h.city} H100")
        call = make_call(h, title=f"{h.city} fast lane", resources=[resource])
        fund(call, 10_000 * MILLI)
        allocation = grant(call, 1_000 * MILLI)
        application = allocation.application
        ResourceRequest.objects.create(application=application, resource=resource, gpu_hours=1000)
        ScreeningResult.objects.create(
            application=application, round=1, check_key="civilian_use", label="Civilian use", passed=True, reason="ok"
        )
        record = usage_record(allocation, resource, 250 * MILLI, f"job-{h.slug}")
        data[h.slug] = {
            "call": call,
            "application": application,
            "allocation": allocation,
            "resource": resource,
            "record": record,
        }
    return data


# --- Calls: budget figures from the ledger ----------------------------------------------------------


def test_call_changelist_shows_funded_granted_used_left(staff_client, hub):
    call = budget_scenario(hub)
    response = staff_client.get("/admin/compute/call/")
    [row] = rows(response)
    assert row == call
    assert (row.funded_millicredits, row.granted_millicredits, row.used_millicredits, row.left_millicredits) == (
        100_000_000,
        50_000_500,
        1_734_500,
        49_999_500,
    )
    html = response.content.decode()
    for figure in ["100,000", "50,000.5", "1,734.5", "49,999.5"]:
        assert f">{figure}</td>" in html, figure


@pytest.mark.parametrize("count", [2, 12])
def test_call_changelist_query_count_does_not_grow(staff_client, hub, other_hub, count, django_assert_num_queries):
    resource = make_resource(hub)
    for i in range(count):
        call = make_call(hub, resources=[resource])
        fund(call, 1000 * MILLI)
        if i % 3 == 0:
            use(grant(call, 100 * MILLI), 10 * MILLI)
    make_call(other_hub)
    # session, user, MFA check, staff roles, the permissions of other apps' admins in the side bar (2),
    # hub filter choices, funding source filter choices, filtered count, full count,
    # calls with budget figures, unread notifications
    with django_assert_num_queries(12):
        response = staff_client.get("/admin/compute/call/")
    assert response.context["cl"].result_count == count


def test_call_change_form_shows_the_budget(staff_client, hub):
    call = budget_scenario(hub)
    html = staff_client.get(f"/admin/compute/call/{call.pk}/change/").content.decode()
    assert "left <strong>49,999.5</strong> credits" in html
    assert reverse("admin:compute_call_fund", args=[call.pk]) in html


def test_staff_create_a_call_with_allowed_kinds_and_resources(staff_client, hub):
    funding = make_funding(hub)
    resource = make_resource(hub)
    response = staff_client.post(
        "/admin/compute/call/add/",
        {
            "hub": hub.pk,
            "funding_source": funding.pk,
            "title": "Lyon playground",
            "slug": "lyon-playground",
            "track": "playground",
            "published": "on",
            "opens_at_0": "2026-01-01",
            "opens_at_1": "09:00:00",
            "closes_at_0": "2026-12-31",
            "closes_at_1": "17:00:00",
            "max_request_millicredits": "500000",
            "playground_grant_millicredits": "500000",
            "allocation_days": "90",
            "allowed_org_kinds": ["university", "startup"],
            "eligible_resources": [resource.pk],
            "min_reviewers": "2",
            "review_cutoffs": '["2026-09-01", "2026-03-01"]',
            "rubric": '[{"key": "impact", "label": "Impact"}]',
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    call = Call.objects.get(slug="lyon-playground")
    assert call.allowed_org_kinds == ["university", "startup"]
    assert call.review_cutoffs == ["2026-03-01", "2026-09-01"]
    assert list(call.eligible_resources.all()) == [resource]


def test_a_call_cannot_use_another_hubs_funding_source(staff_client, hub, other_hub):
    theirs = make_funding(other_hub)
    response = staff_client.post(
        "/admin/compute/call/add/",
        {"hub": hub.pk, "funding_source": theirs.pk, "title": "x", "slug": "x", "track": "fast_lane"},
    )
    assert response.status_code == 200
    assert "funding_source" in response.context["adminform"].form.errors
    assert not Call.objects.filter(slug="x").exists()


# --- Funding a call ---------------------------------------------------------------------------------


def test_fund_a_call_moves_credits_through_the_ledger_once(staff_client, staff, hub):
    call = make_call(hub)
    url = reverse("admin:compute_call_fund", args=[call.pk])
    form = staff_client.get(url)
    assert form.status_code == 200
    nonce = form.context["form"].initial["nonce"]
    response = staff_client.post(url, {"amount": "2500.5", "nonce": nonce}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("admin:compute_call_change", args=[call.pk])
    assert "Budget left: 2,500.5 credits" in " ".join(messages_of(response))
    assert ledger.call_account(call).balance == 2_500_500
    txn = Transaction.objects.get(kind=TransactionKind.FUND)
    assert txn.created_by == staff
    assert ledger.balance_from_entries(ledger.funding_account(call.funding_source)) == -2_500_500
    event = AuditEvent.objects.get(action="call.funded")
    assert event.actor == staff
    assert event.hub == hub
    # The same form sent twice (a double click, a reload) funds the call once.
    staff_client.post(url, {"amount": "2500.5", "nonce": nonce})
    assert ledger.call_account(call).balance == 2_500_500
    assert Transaction.objects.filter(kind=TransactionKind.FUND).count() == 1


@pytest.mark.parametrize("amount", ["0", "-5", "abc", "1.0001"])
def test_fund_a_call_refuses_bad_amounts(staff_client, hub, amount):
    call = make_call(hub)
    response = staff_client.post(reverse("admin:compute_call_fund", args=[call.pk]), {"amount": amount, "nonce": "n"})
    assert response.status_code == 200
    assert response.context["form"].errors["amount"]
    assert not Transaction.objects.exists()


def test_staff_cannot_fund_another_hubs_call(other_staff_client, hub):
    call = make_call(hub)
    response = other_staff_client.post(
        reverse("admin:compute_call_fund", args=[call.pk]), {"amount": "100", "nonce": "n"}
    )
    assert response.status_code == 404
    assert not Transaction.objects.exists()


# --- Hub scoping ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "key"),
    [("application", "application"), ("allocation", "allocation"), ("call", "call"), ("usagerecord", "record")],
)
def test_staff_of_one_hub_cannot_see_another_hubs_rows(other_staff_client, two_hubs, model, key):
    listed = rows(other_staff_client.get(f"/admin/compute/{model}/"))
    assert listed == [two_hubs["helsinki"][key]]
    theirs = two_hubs["lyon"][key]
    response = other_staff_client.get(f"/admin/compute/{model}/{theirs.pk}/change/", follow=True)
    assert NOT_FOUND in " ".join(messages_of(response))


def test_staff_see_only_their_hubs_ledger(other_staff_client, two_hubs):
    accounts = rows(other_staff_client.get("/admin/compute/account/"))
    lyon = two_hubs["lyon"]
    assert ledger.call_account(lyon["call"]) not in accounts
    assert ledger.call_account(two_hubs["helsinki"]["call"]) in accounts
    transactions = rows(other_staff_client.get("/admin/compute/transaction/"))
    lyon_grant = Transaction.objects.get(idempotency_key=f"test-grant-{lyon['allocation'].pk}")
    assert lyon_grant not in transactions
    assert {t.kind for t in transactions} == {"fund", "grant", "usage"}
    response = other_staff_client.get(f"/admin/compute/transaction/{lyon_grant.pk}/change/", follow=True)
    assert NOT_FOUND in " ".join(messages_of(response))


def test_superuser_sees_every_hub(client, superuser, two_hubs):
    client.force_login(superuser)
    assert len(rows(client.get("/admin/compute/application/"))) == 2
    assert len(rows(client.get("/admin/compute/allocation/"))) == 2


def test_members_cannot_enter_the_compute_admin(client, member):
    client.force_login(member)
    response = client.get("/admin/compute/call/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("model", ["application", "allocation", "call"])
def test_hub_filter_offers_only_the_staff_members_hubs(staff_client, staff, two_hubs, hub, model):
    zagreb = HubFactory(slug="zagreb", name="Zagreb AI Gigafactory")
    MembershipFactory(user=staff, hub=zagreb, role=Role.STAFF)
    call = make_call(zagreb)
    fund(call, 100 * MILLI)
    grant(call, 10 * MILLI)
    response = staff_client.get(f"/admin/compute/{model}/")
    [hub_filter] = [f for f in response.context["cl"].filter_specs if getattr(f, "field_path", "") == "hub"]
    assert hub_filter.lookup_choices == [(hub.pk, "Lyon AI Gigafactory"), (zagreb.pk, "Zagreb AI Gigafactory")]
    assert "Helsinki" not in response.content.decode()


# --- Applications -----------------------------------------------------------------------------------


def test_application_change_page_is_read_only_with_inlines(staff_client, two_hubs):
    application = two_hubs["lyon"]["application"]
    Review.objects.create(application=application, reviewer=verified_user(), private_comment="Strong team")
    response = staff_client.get(f"/admin/compute/application/{application.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Strong team" in html
    assert "Civilian use" in html
    assert "1,000" in html  # requested credits and the resource row
    form = response.context["adminform"].form
    assert "status" not in form.fields  # read-only
    # A POST cannot move the status: transitions go through the services.
    staff_client.post(f"/admin/compute/application/{application.pk}/change/", {"status": "rejected"})
    application.refresh_from_db()
    assert application.status == AppStatus.APPROVED


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?status__exact=approved", 1),
        ("?status__exact=draft", 0),
        ("?call__track__exact=fast_lane", 1),
        ("?call__track__exact=peer_review", 0),
    ],
)
def test_application_filters(staff_client, two_hubs, query, expected):
    assert len(rows(staff_client.get("/admin/compute/application/" + query))) == expected


def test_application_search_by_applicant_email(staff_client, two_hubs):
    application = two_hubs["lyon"]["application"]
    found = rows(staff_client.get(f"/admin/compute/application/?q={application.applicant.email}"))
    assert found == [application]
    assert rows(staff_client.get("/admin/compute/application/?q=nobody@example.org")) == []


@pytest.mark.parametrize("count", [2, 12])
def test_application_changelist_query_count_does_not_grow(staff_client, hub, count, django_assert_num_queries):
    call = make_call(hub)
    fund(call, 100_000 * MILLI)
    for _ in range(count):
        grant(call, 10 * MILLI)
    # session, user, MFA check, staff roles, side bar permissions (2), hub filter, call filter,
    # date hierarchy (2), filtered count, full count, applications with people and calls, unread notifications
    with django_assert_num_queries(14):
        response = staff_client.get("/admin/compute/application/")
    assert response.context["cl"].result_count == count


# --- Allocations, usage, funding sources, resources ------------------------------------------------


def test_allocation_list_shows_ledger_balances(staff_client, two_hubs):
    allocation = two_hubs["lyon"]["allocation"]
    use(allocation, 750 * MILLI, beyond=50 * MILLI)  # 250 were used already
    [row] = rows(staff_client.get("/admin/compute/allocation/"))
    assert row.balance_millicredits == 0
    assert row.overage_balance == -50 * MILLI
    html = staff_client.get("/admin/compute/allocation/").content.decode()
    assert re.search(r">50</td>", html)


def test_staff_may_set_only_the_slurm_account_of_an_allocation(staff_client, two_hubs):
    allocation = two_hubs["lyon"]["allocation"]
    response = staff_client.post(
        f"/admin/compute/allocation/{allocation.pk}/change/",
        {"slurm_account": "lyon-proj-7", "granted_millicredits": "999999999", "status": "closed"},
    )
    assert response.status_code == 302
    allocation.refresh_from_db()
    assert allocation.slurm_account == "lyon-proj-7"
    assert allocation.granted_millicredits == 1_000 * MILLI
    assert allocation.status == "active"


@pytest.mark.parametrize("count", [2, 12])
def test_allocation_changelist_query_count_does_not_grow(staff_client, hub, count, django_assert_num_queries):
    call = make_call(hub)
    fund(call, 100_000 * MILLI)
    for _ in range(count):
        use(grant(call, 10 * MILLI), MILLI)
    # session, user, MFA check, staff roles, side bar permissions (2), hub filter, call filter,
    # date hierarchy (2), filtered count, full count, allocations with balances, unread notifications
    with django_assert_num_queries(14):
        response = staff_client.get("/admin/compute/allocation/")
    assert response.context["cl"].result_count == count


def test_usage_records_are_read_only(staff_client, two_hubs):
    record = two_hubs["lyon"]["record"]
    response = staff_client.get("/admin/compute/usagerecord/")
    assert rows(response) == [record]
    assert response.context["cl"].model_admin.show_full_result_count is False
    assert staff_client.get("/admin/compute/usagerecord/add/").status_code == 403
    staff_client.post(f"/admin/compute/usagerecord/{record.pk}/change/", {"millicredits": "1"})
    record.refresh_from_db()
    assert record.millicredits == 250 * MILLI
    assert staff_client.post(f"/admin/compute/usagerecord/{record.pk}/delete/", {"post": "yes"}).status_code == 403


def test_ledger_is_read_only(staff_client, two_hubs):
    account = ledger.call_account(two_hubs["lyon"]["call"])
    txn = Transaction.objects.filter(kind=TransactionKind.FUND).first()
    assert staff_client.get("/admin/compute/transaction/add/").status_code == 403
    assert staff_client.post(f"/admin/compute/transaction/{txn.pk}/delete/", {"post": "yes"}).status_code == 403
    response = staff_client.get(f"/admin/compute/account/{account.pk}/change/")
    assert response.status_code == 200
    assert "9,000" in response.content.decode()  # 10,000 funded - 1,000 granted
    assert Account.objects.get(pk=account.pk).balance == 9_000 * MILLI


def test_funding_sources_of_the_hub_and_network_wide_ones(staff_client, hub, other_hub):
    ours = make_funding(hub, name="Région Auvergne-Rhône-Alpes")
    network = make_funding(None, name="EuroHPC AI Factories")
    theirs = make_funding(other_hub, name="Business Finland")
    assert set(rows(staff_client.get("/admin/compute/fundingsource/"))) == {ours, network}
    # Network-wide sources are read-only for hub staff.
    response = staff_client.get(f"/admin/compute/fundingsource/{network.pk}/change/")
    assert response.status_code == 200
    assert "name" not in response.context["adminform"].form.fields
    staff_client.post(f"/admin/compute/fundingsource/{network.pk}/change/", {"name": "Renamed", "kind": "eu"})
    network.refresh_from_db()
    assert network.name == "EuroHPC AI Factories"
    response = staff_client.get(f"/admin/compute/fundingsource/{theirs.pk}/change/", follow=True)
    assert NOT_FOUND in " ".join(messages_of(response))
    # Hub staff cannot create a network-wide source.
    response = staff_client.post("/admin/compute/fundingsource/add/", {"name": "Nobody's", "kind": "eu"})
    assert response.status_code == 200
    assert "hub" in response.context["adminform"].form.errors


def test_funding_source_list_shows_what_it_committed(staff_client, hub):
    call = make_call(hub)
    fund(call, 1_234 * MILLI)
    [row] = rows(staff_client.get("/admin/compute/fundingsource/"))
    assert row.committed_millicredits == 1_234 * MILLI
    assert row.call_count == 1


def test_resource_must_be_at_its_providers_hub(staff_client, hub, other_hub):
    provider = ComputeProvider.objects.create(hub=hub, name="IDRIS")
    data = {
        "provider": provider.pk,
        "hub": hub.pk,
        "name": "A100 partition",
        "gpu_model": "NVIDIA A100",
        "rate_millicredits": "600",
        "monthly_capacity_gpu_hours": "1000",
        "active": "on",
    }
    assert staff_client.post("/admin/compute/computeresource/add/", data).status_code == 302
    assert ComputeResource.objects.get(name="A100 partition").rate_credits == "0.6"
    response = staff_client.post("/admin/compute/computeresource/add/", {**data, "name": "B", "hub": other_hub.pk})
    assert response.status_code == 200
    assert "hub" in response.context["adminform"].form.errors


def test_a_resource_with_usage_stays_with_its_provider(staff_client, hub):
    from compute.usage import usage_ingest

    from .usage_factories import record, usage_setup

    provider, resource, _call, allocation = usage_setup(hub=hub)
    other = ComputeProvider.objects.create(hub=hub, name="CINES")
    idle = ComputeResource.objects.create(
        provider=provider, hub=hub, name="Idle partition", gpu_model="NVIDIA A100", rate_millicredits=600
    )
    usage_ingest(provider=provider, records=[record(resource, allocation, "job-1")], acting_label="test")

    def move(r):
        data = {
            "provider": other.pk,
            "hub": hub.pk,
            "name": r.name,
            "gpu_model": r.gpu_model,
            "rate_millicredits": r.rate_millicredits,
            "monthly_capacity_gpu_hours": "0",
            "active": "on",
        }
        return staff_client.post(f"/admin/compute/computeresource/{r.pk}/change/", data)

    response = move(resource)
    assert response.status_code == 200
    [error] = response.context["adminform"].form.errors["provider"]
    assert error.startswith(f"{resource.name} has usage reported by {provider}, so it stays with them.")
    resource.refresh_from_db()
    assert resource.provider == provider

    assert move(idle).status_code == 302  # no usage yet: it may move
    idle.refresh_from_db()
    assert idle.provider == other


def test_project_admin_lists_members(staff_client, two_hubs):
    allocation = two_hubs["lyon"]["allocation"]
    project = Project.objects.get(pk=allocation.project_id)
    ProjectMember.objects.create(project=project, user=project.pi, role="pi")
    [row] = rows(staff_client.get("/admin/compute/project/"))
    assert row.member_count == 1
    html = staff_client.get(f"/admin/compute/project/{project.pk}/change/").content.decode()
    assert str(project.pi) in html
    assert "Principal investigator" in html


def test_every_compute_admin_page_renders_for_staff(staff_client, two_hubs):
    application = two_hubs["lyon"]["application"]
    objects = {
        "fundingsource": FundingSource.objects.filter(hub__slug="lyon").first(),
        "computeprovider": two_hubs["lyon"]["resource"].provider,
        "computeresource": two_hubs["lyon"]["resource"],
        "call": two_hubs["lyon"]["call"],
        "project": application.project,
        "application": application,
        "allocation": two_hubs["lyon"]["allocation"],
        "usagerecord": two_hubs["lyon"]["record"],
        "account": ledger.call_account(two_hubs["lyon"]["call"]),
        "transaction": Transaction.objects.get(idempotency_key=f"test-grant-{two_hubs['lyon']['allocation'].pk}"),
    }
    for name, obj in objects.items():
        assert staff_client.get(f"/admin/compute/{name}/").status_code == 200, name
        assert staff_client.get(f"/admin/compute/{name}/{obj.pk}/change/").status_code == 200, name
    assert Application.objects.count() == 2
    assert Allocation.objects.count() == 2
