"""The public call catalogue in the browser: the list of calls and a call's page.

Budget figures are built through the ledger itself (fund, grant, usage transactions), so
the pages must show what the ledger says.
"""

import itertools
import re
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from compute import ledger, selectors, views
from compute.models import (
    MILLI,
    AccountKind,
    Allocation,
    Application,
    AppStatus,
    Call,
    CallTotals,
    ComputeProvider,
    ComputeResource,
    Entry,
    FundingSource,
    Project,
    Track,
    TransactionKind,
)
from hubs.models import OrganisationKind
from tests.conftest import verified_user
from tests.factories import HubFactory, MembershipFactory

HTMX = {"HX-Request": "true"}
_seq = itertools.count(1)


# --- Local builders (through the ledger, as the services do) ---------------------------------


def make_funding(hub=None, name=None, **kwargs) -> FundingSource:
    return FundingSource.objects.create(name=name or f"Programme {next(_seq)}", hub=hub, **kwargs)


def make_resource(hub, *, name=None, gpu_model="NVIDIA H100 80GB", rate=1000, provider=None, **kwargs):
    provider = provider or ComputeProvider.objects.create(hub=hub, name=f"Provider {next(_seq)}")
    return ComputeResource.objects.create(
        provider=provider,
        hub=hub,
        name=name or f"Partition {next(_seq)}",
        gpu_model=gpu_model,
        rate_millicredits=rate,
        **kwargs,
    )


def make_call(
    hub,
    *,
    title=None,
    slug=None,
    track=Track.FAST_LANE,
    opens_in_days=-10,
    closes_in_days=20,
    funding=None,
    resources=(),
    **kwargs,
) -> Call:
    n = next(_seq)
    now = timezone.now()
    kwargs.setdefault("max_request_millicredits", 50_000 * MILLI)
    call = Call.objects.create(
        hub=hub,
        funding_source=funding or make_funding(hub),
        title=title or f"Call {n}",
        slug=slug or f"call-{n}",
        track=track,
        opens_at=now + timedelta(days=opens_in_days),
        closes_at=now + timedelta(days=closes_in_days),
        **kwargs,
    )
    call.eligible_resources.set(resources)
    return call


def fund(call, millicredits):
    return ledger.transfer(
        kind=TransactionKind.FUND,
        idempotency_key=f"test-fund-{call.pk}-{next(_seq)}",
        source=ledger.funding_account(call.funding_source),
        target=ledger.call_account(call),
        amount=millicredits,
    )


def grant(call, millicredits, *, applicant=None) -> Allocation:
    """An approved application with its allocation, the grant moved call -> allocation account."""
    applicant = applicant or verified_user()
    project = Project.objects.create(hub=call.hub, title=f"Project {next(_seq)}", pi=applicant)
    application = Application.objects.create(
        project=project,
        call=call,
        hub=call.hub,
        applicant=applicant,
        title=f"Application {next(_seq)}",
        status=AppStatus.APPROVED,
        requested_millicredits=millicredits,
        granted_millicredits=millicredits,
        submitted_at=timezone.now(),
    )
    today = timezone.localdate()
    allocation = Allocation.objects.create(
        application=application,
        project=project,
        call=call,
        hub=call.hub,
        granted_millicredits=millicredits,
        starts_on=today,
        ends_on=today + timedelta(days=call.allocation_days),
    )
    ledger.transfer(
        kind=TransactionKind.GRANT,
        idempotency_key=f"test-grant-{allocation.pk}",
        source=ledger.call_account(call),
        target=ledger.allocation_account(allocation),
        amount=millicredits,
    )
    return allocation


def use(allocation, millicredits, *, beyond=0, provider=None):
    """A usage transaction with balanced entries: allocation (and overage) -> provider."""
    provider = provider or ComputeProvider.objects.filter(hub=allocation.hub).first()
    provider = provider or ComputeProvider.objects.create(hub=allocation.hub, name=f"Provider {next(_seq)}")
    postings = [ledger.Posting(ledger.provider_account(provider), millicredits + beyond)]
    postings.append(ledger.Posting(ledger.allocation_account(allocation), -millicredits))
    if beyond:
        postings.append(ledger.Posting(ledger.overage_account(allocation), -beyond))
    txn, _ = ledger.post(kind=TransactionKind.USAGE, idempotency_key=f"test-usage-{next(_seq)}", postings=postings)
    return txn


def budget_scenario(hub):
    """Funded 100,000; granted 30,000 + 20,000.5; used 1,234.5 + 500 (+ 250 beyond an allocation)."""
    a100 = make_resource(hub, name="Jean Zay A100", gpu_model="NVIDIA A100 40GB", rate=600)
    h100 = make_resource(hub, name="Jean Zay H100", gpu_model="NVIDIA H100 80GB", rate=1000)
    call = make_call(hub, title="Lyon fast lane", slug="lyon-fast-lane", resources=[a100, h100])
    fund(call, 100_000 * MILLI)
    first = grant(call, 30_000 * MILLI)
    second = grant(call, 20_000_500)
    use(first, 1_234_500)
    use(second, 500 * MILLI)
    return call


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def cards(response):
    return [c.title for c in response.context["page"]]


# --- Budget figures -----------------------------------------------------------------------------


def test_budget_figures_come_from_the_ledger(hub):
    call = budget_scenario(hub)
    other = make_call(hub, title="Unfunded")
    figures = {c.pk: c for c in selectors.calls_list(phase="")}
    assert figures[call.pk].funded_millicredits == 100_000_000
    assert figures[call.pk].granted_millicredits == 50_000_500
    assert figures[call.pk].used_millicredits == 1_734_500
    assert figures[call.pk].left_millicredits == 49_999_500 == ledger.call_account(call).balance
    assert (
        figures[other.pk].funded_millicredits,
        figures[other.pk].granted_millicredits,
        figures[other.pk].used_millicredits,
        figures[other.pk].left_millicredits,
    ) == (0, 0, 0, 0)


def test_usage_beyond_an_allocation_counts_as_used_and_expiry_returns_to_the_budget(hub):
    call = make_call(hub)
    fund(call, 1000 * MILLI)
    allocation = grant(call, 100 * MILLI)
    use(allocation, 60 * MILLI)
    use(allocation, 40 * MILLI, beyond=5 * MILLI)
    figures = selectors.call_detail(call.slug)
    assert figures.used_millicredits == 105 * MILLI
    # Unused credits of another allocation come back: the budget left grows, granted does not shrink.
    second = grant(call, 200 * MILLI)
    use(second, 50 * MILLI)
    ledger.transfer(
        kind=TransactionKind.EXPIRY,
        idempotency_key=f"test-expiry-{second.pk}",
        source=ledger.allocation_account(second),
        target=ledger.call_account(call),
        amount=150 * MILLI,
    )
    figures = selectors.call_detail(call.slug)
    assert figures.granted_millicredits == 300 * MILLI
    assert figures.used_millicredits == 155 * MILLI
    assert figures.left_millicredits == (1000 - 300 + 150) * MILLI


def test_open_calls_are_published_and_inside_their_window(hub):
    now = timezone.now()
    open_call = make_call(hub, title="Open")
    make_call(hub, title="Upcoming", opens_in_days=3, closes_in_days=30)
    make_call(hub, title="Closed", opens_in_days=-30, closes_in_days=-1)
    make_call(hub, title="Hidden", published=False)
    edge = make_call(hub, title="Opens exactly now", opens_in_days=0, closes_in_days=2)
    Call.objects.filter(pk=edge.pk).update(opens_at=now)
    assert set(selectors.open_calls(now=now)) == {open_call, edge}
    assert set(selectors.open_calls(now=edge.closes_at)) == {open_call}  # closes_at itself is closed


def test_landing_page_counts_open_calls(client, hub):
    make_call(hub)
    make_call(hub)
    make_call(hub, opens_in_days=5, closes_in_days=10)
    make_call(hub, published=False)
    html = client.get("/").content.decode()
    assert re.search(r'<span class="value">2</span><span class="label">open calls</span>', html)


# --- The call list ------------------------------------------------------------------------------


def test_call_list_shows_budget_left_and_limits(client, hub):
    budget_scenario(hub)
    make_call(hub, title="Sandbox", track=Track.PLAYGROUND, playground_grant_millicredits=500 * MILLI)
    response = client.get(reverse("compute:call_list"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Lyon fast lane" in html
    assert "49,999.5 credits" in html
    assert "50,000 credits per application" in html
    assert "500 credits per application" in html
    assert "Lyon AI Gigafactory" in html
    assert response.headers["Vary"].count("HX-Request") == 1


def test_call_list_is_in_the_navigation(client, db):
    html = client.get(reverse("hubs:directory")).content.decode()
    assert f'href="{reverse("compute:call_list")}"' in html


@pytest.fixture
def catalogue(hub, other_hub):
    make_call(hub, title="Lyon open fast lane", track=Track.FAST_LANE, closes_in_days=15)
    make_call(hub, title="Lyon sandbox", track=Track.PLAYGROUND, playground_grant_millicredits=MILLI)
    make_call(hub, title="Lyon peer review spring", track=Track.PEER_REVIEW, opens_in_days=5, closes_in_days=60)
    make_call(hub, title="Lyon last year", track=Track.FAST_LANE, opens_in_days=-400, closes_in_days=-30)
    make_call(
        other_hub,
        title="Helsinki climate models",
        track=Track.PEER_REVIEW,
        description="Weather and grids",
        closes_in_days=10,
    )
    make_call(other_hub, title="Helsinki draft call", published=False)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["Helsinki climate models", "Lyon open fast lane", "Lyon sandbox", "Lyon peer review spring"]),
        ("?status=open", ["Helsinki climate models", "Lyon open fast lane", "Lyon sandbox"]),
        ("?status=upcoming", ["Lyon peer review spring"]),
        ("?status=closed", ["Lyon last year"]),
        (
            "?status=all",
            [
                "Helsinki climate models",
                "Lyon open fast lane",
                "Lyon sandbox",
                "Lyon peer review spring",
                "Lyon last year",
            ],
        ),
        ("?hub=helsinki", ["Helsinki climate models"]),
        ("?track=fast_lane", ["Lyon open fast lane"]),
        ("?track=fast_lane&status=all", ["Lyon open fast lane", "Lyon last year"]),
        ("?track=peer_review&hub=lyon", ["Lyon peer review spring"]),
        ("?q=grids", ["Helsinki climate models"]),
        ("?q=sandbox&hub=helsinki", []),
        ("?status=nonsense&track=nonsense", None),  # bad values are ignored, not an error
    ],
)
def test_call_list_filters(client, catalogue, query, expected):
    response = client.get(reverse("compute:call_list") + query)
    assert response.status_code == 200
    if expected is None:
        expected = cards(client.get(reverse("compute:call_list")))
    # Open calls first (soonest deadline first), then upcoming, then closed.
    assert cards(response) == expected


def test_closed_and_upcoming_calls_are_labelled(client, catalogue):
    response = client.get(reverse("compute:call_list") + "?status=all")
    phases = {c.title: c.phase for c in response.context["page"]}
    assert phases["Lyon peer review spring"] == "upcoming"
    assert phases["Lyon last year"] == "closed"
    assert phases["Lyon open fast lane"] == "open"
    html = response.content.decode()
    labels = re.findall(r'<span class="status status-(\w+)" data-testid="call-phase">(\w+)</span>', html)
    assert sorted(set(labels)) == [("closed", "Closed"), ("open", "Open"), ("upcoming", "Upcoming")]
    assert "Opens" in html


def test_unpublished_calls_and_private_hubs_are_hidden_from_the_public(client, hub, member):
    make_call(hub, title="Published call")
    draft = make_call(hub, title="Secret draft", published=False)
    hidden_hub = HubFactory(slug="hidden", name="Hidden Hub", public=False)
    private = make_call(hidden_hub, title="Members-only call")
    response = client.get(reverse("compute:call_list") + "?status=all")
    assert cards(response) == ["Published call"]
    assert "Secret draft" not in response.content.decode()
    assert client.get(draft.get_absolute_url()).status_code == 404
    assert client.get(private.get_absolute_url()).status_code == 404
    # A member of the private hub sees its calls; a member of another hub still no drafts.
    insider = verified_user()
    MembershipFactory(user=insider, hub=hidden_hub)
    client.force_login(insider)
    assert sorted(cards(client.get(reverse("compute:call_list")))) == ["Members-only call", "Published call"]
    client.force_login(member)
    assert client.get(draft.get_absolute_url()).status_code == 404


def test_staff_preview_unpublished_calls_of_their_hub(client, hub, staff, other_staff):
    draft = make_call(hub, title="Secret draft", published=False)
    client.force_login(other_staff)
    assert client.get(draft.get_absolute_url()).status_code == 404
    client.force_login(staff)
    response = client.get(draft.get_absolute_url())
    assert response.status_code == 200
    assert "This call is not published" in response.content.decode()
    assert "Secret draft" not in [c.title for c in client.get(reverse("compute:call_list")).context["page"]]


def test_empty_states(client, hub, other_hub):
    html = client.get(reverse("compute:call_list")).content.decode()
    assert "No call is open or coming up right now" in html
    make_call(hub, title="Lyon call")
    html = client.get(reverse("compute:call_list") + "?hub=helsinki").content.decode()
    assert "No call matches these filters" in html


def test_htmx_filter_returns_only_the_results(client, catalogue):
    response = client.get(reverse("compute:call_list") + "?hub=helsinki", headers=HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="results"')
    assert "<html" not in html
    assert "Helsinki climate models" in html
    assert "Lyon sandbox" not in html


def test_call_list_is_paginated(client, hub):
    for i in range(views.PAGE_SIZE + 3):
        make_call(hub, title=f"Call {i:02d}", closes_in_days=10 + i)
    first = client.get(reverse("compute:call_list"))
    assert len(first.context["page"].object_list) == views.PAGE_SIZE
    assert "Page 1 of 2" in first.content.decode()
    second = client.get(reverse("compute:call_list") + "?page=2&status=current")
    assert cards(second) == [f"Call {i:02d}" for i in range(views.PAGE_SIZE, views.PAGE_SIZE + 3)]


def _calls_with_ledger(hub, other_hub, rows):
    for i in range(rows):
        call = make_call(hub if i % 2 else other_hub, resources=[make_resource(hub)])
        fund(call, 1000 * MILLI)
        if i % 3 == 0:
            use(grant(call, 100 * MILLI), 10 * MILLI)


@pytest.mark.parametrize("rows", [2, 12])
def test_call_list_query_count_does_not_grow(client, hub, other_hub, rows, django_assert_num_queries):
    _calls_with_ledger(hub, other_hub, rows)
    with django_assert_num_queries(3):  # hubs for the filter, count, calls with budget figures
        response = client.get(reverse("compute:call_list"))
    assert response.context["page"].paginator.count == rows


@pytest.mark.parametrize("rows", [2, 12])
def test_call_list_query_count_for_a_member(client, hub, other_hub, member, rows, django_assert_num_queries):
    _calls_with_ledger(hub, other_hub, rows)
    client.force_login(member)
    # session, user, the member's hubs, hubs for the filter, count, calls, unread notifications
    with django_assert_num_queries(7):
        response = client.get(reverse("compute:call_list"))
    assert response.context["page"].paginator.count == rows


# --- A call's page --------------------------------------------------------------------------------


def test_call_page_shows_what_an_applicant_needs(client, hub):
    call = budget_scenario(hub)
    call.allowed_org_kinds = [OrganisationKind.UNIVERSITY, OrganisationKind.STARTUP]
    call.description = "GPU time for Lyon's researchers and startups."
    call.allocation_days = 120
    call.save()
    response = client.get(call.get_absolute_url())
    assert response.status_code == 200
    html = response.content.decode()
    assert "Lyon fast lane" in html
    assert "Lyon AI Gigafactory" in html
    assert call.funding_source.name in html
    assert "Fast lane" in html
    assert "approved at once" in html  # the plain-language explanation of the track
    assert "49,999.5</strong> credits" in html  # budget left, from the ledger
    assert "100,000 credits funded" in html
    assert "50,000 credits" in html  # limit per application
    assert "120 days from approval" in html
    assert "University" in html
    assert "Startup" in html
    assert "SME" not in html
    # Eligible resources, cheapest first, with GPU model and rate in credits per GPU-hour.
    resources = response.context["resources"]
    assert [(r.name, r.gpu_model, r.rate_credits) for r in resources] == [
        ("Jean Zay A100", "NVIDIA A100 40GB", "0.6"),
        ("Jean Zay H100", "NVIDIA H100 80GB", "1"),
    ]
    assert [r.hours_per_application for r in resources] == [83_333, 50_000]
    assert re.search(r"<td class=\"num\" data-label=\"Credits per GPU-hour\">0.6</td>", html)
    assert "to apply" in html  # time left
    assert response.context["phase"] == "open"


def test_call_page_of_a_peer_review_call_shows_reviewers_rubric_and_cutoffs(client, hub):
    today = timezone.localdate()
    call = make_call(
        hub,
        track=Track.PEER_REVIEW,
        min_reviewers=3,
        review_cutoffs=[(today + timedelta(days=40)).isoformat(), (today - timedelta(days=5)).isoformat()],
        rubric=[{"key": "excellence", "label": "Excellence"}, {"key": "impact", "label": "Impact on society"}],
    )
    response = client.get(call.get_absolute_url())
    html = response.content.decode()
    assert "independent reviewers" in html
    assert "at least <strong>3</strong> reviewers" in html
    assert "Impact on society" in html
    assert [c["past"] for c in response.context["cutoffs"]] == [True, False]
    assert response.context["next_cutoff"] == today + timedelta(days=40)
    assert "next batch of decisions" in html


def test_call_page_of_a_playground_call_shows_the_fixed_grant(client, hub):
    call = make_call(hub, track=Track.PLAYGROUND, playground_grant_millicredits=250 * MILLI)
    html = client.get(call.get_absolute_url()).content.decode()
    assert "decides within seconds" in html
    assert "Fixed grant" in html
    assert "250 credits" in html
    assert "Any kind of organisation" in html


@pytest.mark.parametrize(
    ("opens", "closes", "label", "text"),
    [(3, 30, "Upcoming", "Opens in"), (-30, -2, "Closed", "This call is closed")],
)
def test_call_page_labels_upcoming_and_closed_calls(client, hub, monkeypatch, opens, closes, label, text):
    monkeypatch.setattr(views, "applications_enabled", lambda: True)
    call = make_call(hub, opens_in_days=opens, closes_in_days=closes)
    response = client.get(call.get_absolute_url())
    html = response.content.decode()
    assert f'data-testid="call-phase">{label}</span>' in html
    assert text in html
    assert 'data-testid="apply"' not in html


def test_apply_button_appears_only_when_the_application_workflow_exists(client, hub, monkeypatch):
    call = make_call(hub)
    monkeypatch.setattr(views, "applications_enabled", lambda: False)
    assert 'data-testid="apply"' not in client.get(call.get_absolute_url()).content.decode()
    monkeypatch.setattr(views, "applications_enabled", lambda: True)
    html = client.get(call.get_absolute_url()).content.decode()
    assert f'href="{reverse("compute:application_create", args=[call.slug])}"' in html


def test_apply_needs_a_login_and_explains_when_applications_are_not_available(client, hub, member, monkeypatch):
    call = make_call(hub)
    url = reverse("compute:application_create", args=[call.slug])
    response = client.get(url)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
    client.force_login(member)
    monkeypatch.setattr(views, "applications_enabled", lambda: False)
    response = client.get(url, follow=True)
    assert response.redirect_chain[-1][0] == call.get_absolute_url()
    assert "not available yet" in " ".join(messages_of(response))
    closed = make_call(hub, opens_in_days=-20, closes_in_days=-1)
    response = client.get(reverse("compute:application_create", args=[closed.slug]), follow=True)
    assert "is not open for applications" in " ".join(messages_of(response))


@pytest.mark.parametrize("logged_in", [False, True])
def test_call_page_query_count(client, hub, member, logged_in, django_assert_num_queries):
    call = budget_scenario(hub)
    if logged_in:
        client.force_login(member)
        # session, user, the member's hubs, call with budget, resources, unread notifications
        expected = 6
    else:
        expected = 2  # call with budget figures, resources
    with django_assert_num_queries(expected):
        response = client.get(call.get_absolute_url())
    assert response.status_code == 200


def test_apply_hands_over_to_the_application_workflow_once_it_exists(client, hub, member, monkeypatch):
    from django.http import HttpResponse

    call = make_call(hub)
    seen = []

    def form_view(request, *, call):
        seen.append(call)
        return HttpResponse("the application form")

    monkeypatch.setattr(views, "_application_form_view", lambda: form_view)
    monkeypatch.setattr(views, "applications_enabled", lambda: True)
    client.force_login(member)
    response = client.get(reverse("compute:application_create", args=[call.slug]))
    assert response.content == b"the application form"
    assert seen == [call]


def test_apply_button_needs_both_the_service_and_the_form_view(client, hub, monkeypatch):
    from compute import services

    call = make_call(hub)
    monkeypatch.setattr(views, "_application_form_view", lambda: None)
    assert views.applications_enabled() is False
    monkeypatch.setattr(views, "_application_form_view", lambda: lambda request, *, call: None)
    monkeypatch.setattr(services, "application_create", lambda **kwargs: None, raising=False)
    assert views.applications_enabled() is True
    monkeypatch.delattr(services, "application_create")
    assert views.applications_enabled() is False
    assert 'data-testid="apply"' not in client.get(call.get_absolute_url()).content.decode()


def test_the_call_totals_kept_by_the_database_equal_the_ledger_entries(hub):
    """``CallTotals`` is written by a trigger only (PostgreSQL and SQLite): funded, granted and
    used must equal the fund and grant entries of the call's budget and the usage debits of its
    allocation and overage accounts, whatever mix of funding, grants, usage and overage happened."""
    first_call, second_call = make_call(hub, title="First"), make_call(hub, title="Second")
    fund(first_call, 1000 * MILLI)
    fund(second_call, 1000 * MILLI)
    fund(second_call, 5 * MILLI)
    a, b = grant(first_call, 100 * MILLI), grant(second_call, 50 * MILLI)
    grant(second_call, 20 * MILLI)
    use(a, 30 * MILLI)
    use(a, 70 * MILLI, beyond=10 * MILLI)
    use(b, 7 * MILLI)

    def from_entries(call, kind, accounts):
        entries = Entry.objects.filter(transaction__kind=kind, account__kind__in=accounts)
        if accounts == [AccountKind.CALL_BUDGET]:
            entries = entries.filter(account__call=call)
        else:
            entries = entries.filter(account__allocation__call=call)
        return entries.aggregate(total=Sum("amount"))["total"] or 0

    def expected(call):
        return (
            from_entries(call, TransactionKind.FUND, [AccountKind.CALL_BUDGET]),
            -from_entries(call, TransactionKind.GRANT, [AccountKind.CALL_BUDGET]),
            -from_entries(call, TransactionKind.USAGE, [AccountKind.ALLOCATION, AccountKind.OVERAGE]),
        )

    totals = {
        row[0]: row[1:]
        for row in CallTotals.objects.values_list(
            "call_id", "funded_millicredits", "granted_millicredits", "used_millicredits"
        )
    }
    assert totals == {first_call.pk: expected(first_call), second_call.pk: expected(second_call)}
    assert totals == {
        first_call.pk: (1000 * MILLI, 100 * MILLI, 110 * MILLI),
        second_call.pk: (1005 * MILLI, 70 * MILLI, 7 * MILLI),
    }
