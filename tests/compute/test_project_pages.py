"""Projects in the browser: my projects, creating one, the team, allocations with their ledger
figures, the usage chart, the usage table and its CSV export, and the ledger statement."""

import csv
import datetime as dt
import io
import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from compute import charts
from compute.models import MILLI, Project, ProjectMember, ProjectRole, UsageRecord
from compute.usage import usage_ingest
from hubs.models import Role
from tests.conftest import verified_user
from tests.factories import HubFactory, MembershipFactory, OrganisationFactory

from .usage_factories import make_allocation, make_call, make_project, make_provider, make_resource, record

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def setup(hub, member):
    """A project of ``member`` with one allocation of 1,000 credits on a call with two resources."""
    provider = make_provider(hub=hub)
    h100 = make_resource(provider=provider, name="Jean Zay H100", rate=1000)
    h200 = make_resource(provider=provider, name="Jean Zay H200", rate=1300)
    call = make_call(hub=hub, resources=[h100, h200])
    project = make_project(hub=hub, pi=member)
    Project.objects.filter(pk=project.pk).update(title="Radiology foundation model")
    project.refresh_from_db()
    allocation = make_allocation(
        call=call,
        granted=1000 * MILLI,
        project=project,
        slurm_account="gf-rad",
        starts_on=dt.date(2026, 3, 1),
        ends_on=dt.date(2026, 8, 28),
    )
    return {"provider": provider, "h100": h100, "h200": h200, "call": call, "project": project, "alloc": allocation}


def ingest(setup, n, *, start=START, prefix="job", user=None, resource=None):
    records = []
    for i in range(n):
        r = record(
            resource or (setup["h100"] if i % 2 == 0 else setup["h200"]),
            setup["alloc"],
            f"{prefix}-{i}",
            gpu_hours=2,
            start=start + dt.timedelta(days=i),
        )
        if user is not None:
            r["user"] = user
        records.append(r)
    return usage_ingest(provider=setup["provider"], records=records, acting_label="test")


# --- My projects ---------------------------------------------------------------------------------


def test_my_projects_lists_the_projects_i_am_on_with_role_and_credits_left(client, member, hub, setup):
    other = make_project(hub=hub)
    teamed = make_project(hub=hub, members=[member])
    ingest(setup, 2)  # 2 h x 1 + 2 h x 1.3 = 4.6 credits used of 1,000
    client.force_login(member)
    page = client.get(reverse("compute:project_list")).content.decode()
    assert page.count('data-testid="project-row"') == 2
    assert "Radiology foundation model" in page
    assert teamed.title in page
    assert other.title not in page
    assert "Principal investigator" in page
    assert ">Member<" in page
    assert '<td class="num" data-label="Credits left">995.4</td>' in page


def test_my_projects_empty_state_points_to_creating_one(client, member):
    client.force_login(member)
    page = client.get(reverse("compute:project_list")).content.decode()
    assert 'data-testid="no-projects"' in page
    assert reverse("compute:project_create") in page


def test_my_projects_empty_state_without_a_hub_says_join_one_first(client):
    loner = verified_user()
    client.force_login(loner)
    page = client.get(reverse("compute:project_list")).content.decode()
    assert "join a hub" in page
    assert reverse("compute:project_create") not in page


@pytest.mark.parametrize("count", [1, 9])
def test_my_projects_query_count_does_not_grow(client, member, hub, count, django_assert_num_queries):
    provider = make_provider(hub=hub)
    resource = make_resource(provider=provider)
    call = make_call(hub=hub, resources=[resource])
    for _ in range(count):
        project = make_project(hub=hub, pi=member, members=[verified_user()])
        make_allocation(call=call, granted=50 * MILLI, project=project)
    client.force_login(member)
    # session, user, the user's hubs (access + nav), unread notifications, count, page with figures
    with django_assert_num_queries(6):
        response = client.get(reverse("compute:project_list"))
    assert response.content.decode().count('data-testid="project-row"') == count


# --- Creating a project --------------------------------------------------------------------------


def test_create_a_project_at_one_of_my_hubs(client, member, hub, other_hub):
    organisation = OrganisationFactory(name="CHU Lyon")
    client.force_login(member)
    page = client.get(reverse("compute:project_create")).content.decode()
    assert hub.name in page
    assert other_hub.name not in page  # not a member there
    response = client.post(
        reverse("compute:project_create"),
        {"hub": hub.pk, "title": "Wind forecasts", "summary": "Weather", "organisation": organisation.pk},
    )
    project = Project.objects.get()
    assert response["Location"] == project.get_absolute_url()
    assert (project.hub, project.pi, project.organisation) == (hub, member, organisation)
    assert project.members.get().role == ProjectRole.PI


def test_create_a_project_refuses_a_hub_i_am_not_member_of(client, member, other_hub):
    client.force_login(member)
    response = client.post(reverse("compute:project_create"), {"hub": other_hub.pk, "title": "Sneaky"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Project.objects.exists()


# --- The team -----------------------------------------------------------------------------------


def test_pi_adds_a_member_from_another_hub_by_email(client, member, setup, other_hub):
    colleague = verified_user(email="hanna@helsinki.example.org", name="Hanna Helsinki")
    MembershipFactory(user=colleague, hub=other_hub)
    project = setup["project"]
    client.force_login(member)
    response = client.post(
        reverse("compute:project_member_add", args=[project.pk]), {"email": "HANNA@helsinki.example.org"}
    )
    assert response.status_code == 302
    assert "Hanna Helsinki is now on the team" in " ".join(messages_of(response))
    assert ProjectMember.objects.filter(project=project, user=colleague, role=ProjectRole.MEMBER).exists()
    page = client.get(project.get_absolute_url()).content.decode()
    assert page.count('data-testid="member"') == 2
    assert "Hanna Helsinki" in page


def test_adding_an_unknown_email_or_a_member_twice_explains(client, member, setup):
    project = setup["project"]
    client.force_login(member)
    url = reverse("compute:project_member_add", args=[project.pk])
    response = client.post(url, {"email": "nobody@example.org"})
    assert response.status_code == 400
    assert "No one has an account with nobody@example.org" in response.content.decode()
    response = client.post(url, {"email": member.email})
    assert "is already on the team" in response.content.decode()
    response = client.post(url, {"email": "not an address"})
    assert "Enter a valid email address." in response.content.decode()
    assert project.members.count() == 1


def test_a_plain_member_cannot_change_the_team(client, setup):
    project = setup["project"]
    teammate = verified_user(name="Tom Teammate")
    third = verified_user(name="Third Person")
    ProjectMember.objects.create(project=project, user=teammate)
    ProjectMember.objects.create(project=project, user=third)
    client.force_login(teammate)
    page = client.get(project.get_absolute_url()).content.decode()
    assert "Add a member" not in page
    assert "Only the principal investigator and the hub's staff can change the team." in page
    newcomer = verified_user()
    response = client.post(reverse("compute:project_member_add", args=[project.pk]), {"email": newcomer.email})
    assert "Only the project's PI or hub staff can change the team." in messages_of(response)
    assert not project.members.filter(user=newcomer).exists()
    response = client.post(reverse("compute:project_member_remove", args=[project.pk, third.pk]))
    assert "Only the project's PI or hub staff" in " ".join(messages_of(response))
    assert project.members.filter(user=third).exists()


def test_pi_removes_a_member_after_confirmation_and_cannot_remove_themself(client, member, setup):
    project = setup["project"]
    teammate = verified_user(name="Tom Teammate")
    ProjectMember.objects.create(project=project, user=teammate)
    client.force_login(member)
    page = client.get(project.get_absolute_url()).content.decode()
    assert 'data-confirm="Remove Tom Teammate from the team of “Radiology foundation model”?"' in page
    response = client.post(reverse("compute:project_member_remove", args=[project.pk, teammate.pk]))
    assert "Tom Teammate was removed from the team." in messages_of(response)
    assert not project.members.filter(user=teammate).exists()
    response = client.post(reverse("compute:project_member_remove", args=[project.pk, member.pk]))
    assert "cannot be removed" in " ".join(messages_of(response))
    assert project.members.filter(user=member).exists()


def test_a_member_may_leave_the_project(client, setup):
    project = setup["project"]
    teammate = verified_user()
    ProjectMember.objects.create(project=project, user=teammate)
    client.force_login(teammate)
    assert "Leave the project" in client.get(project.get_absolute_url()).content.decode()
    response = client.post(reverse("compute:project_member_remove", args=[project.pk, teammate.pk]))
    assert response["Location"] == reverse("compute:project_list")
    assert client.get(project.get_absolute_url()).status_code == 404


def test_hub_staff_can_manage_the_team(client, staff, setup):
    client.force_login(staff)
    page = client.get(setup["project"].get_absolute_url()).content.decode()
    assert "Add a member" in page


# --- Allocations, chart, usage, statement -------------------------------------------------------------


def test_allocations_show_granted_used_and_balance_from_the_ledger(client, member, setup):
    ingest(setup, 4)  # 2 x 2 h x 1.0 + 2 x 2 h x 1.3 = 9.2 credits
    client.force_login(member)
    page = client.get(setup["project"].get_absolute_url()).content.decode()
    row = page[page.index('data-testid="allocation-row"') :]
    assert '<td class="num" data-label="Granted">1,000</td>' in row
    assert '<td class="num" data-label="Used">9.2 <small class="muted">(1%)</small>' in row
    assert 'data-testid="allocation-balance"><strong>990.8</strong>' in row
    assert "gf-rad" in row


def test_usage_beyond_the_allocation_is_shown(client, member, setup):
    big = record(setup["h100"], setup["alloc"], "huge", gpu_hours=1200, start=START)
    usage_ingest(provider=setup["provider"], records=[big], acting_label="test")
    client.force_login(member)
    page = client.get(setup["project"].get_absolute_url()).content.decode()
    assert "200 beyond the allocation" in page
    assert 'data-testid="allocation-balance"><strong>0</strong>' in page


def test_usage_chart_is_an_accessible_svg_with_a_line_per_resource_and_the_allocation(client, member, setup):
    ingest(setup, 6)
    client.force_login(member)
    page = client.get(setup["project"].get_absolute_url()).content.decode()
    chart = page[page.index('data-testid="usage-chart"') :]
    chart = chart[: chart.index("</svg>")]
    assert 'role="img"' in chart
    assert re.search(r"<title id=\"chart-\d+-title\">Credits used over time", chart)
    assert "<desc" in chart
    assert "In all 13.8 of 1,000 allocated credits used (1%)." in chart
    assert "Jean Zay H100: 6 credits" in chart
    assert "Jean Zay H200: 7.8 credits" in chart
    assert chart.count('class="chart-line"') == 3  # two resources and their total
    assert 'class="chart-limit"' in chart
    assert "Allocation (1,000 credits)" in chart
    assert "Credits used" in chart  # y axis label
    assert ">Mar<" in chart  # x axis ticks
    assert "style=" not in chart
    assert "<script>" not in page


def test_no_usage_yet_shows_an_empty_state_instead_of_a_chart(client, member, setup):
    client.force_login(member)
    page = client.get(setup["project"].get_absolute_url()).content.decode()
    assert 'data-testid="usage-chart"' not in page
    assert "No usage reported yet." in page
    assert 'data-testid="usage-csv"' not in page


def test_usage_table_is_paginated_newest_first(client, member, setup):
    ingest(setup, 30)
    client.force_login(member)
    url = setup["project"].get_absolute_url()
    page = client.get(url).content.decode()
    table = page[page.index('data-testid="usage"') : page.index("</table>", page.index('data-testid="usage"'))]
    assert table.count('<tr><th scope="row">') == 25
    assert table.index("job-29") < table.index("job-28")
    assert "Page 1 of 2 · 30 jobs" in page
    second = client.get(url, {"usage_page": 2}).content.decode()
    table = second[second.index('data-testid="usage"') :]
    assert "job-4<" in table
    assert "job-0<" in table


def test_statement_lists_entries_oldest_first_with_running_balance_kind_and_memo(client, member, setup):
    ingest(setup, 1)  # job-0 on the H100: 2 credits
    ingest(setup, 1, prefix="later", resource=setup["h200"])  # 2.6 credits
    ingest(setup, 2, prefix="batch")  # one report, two jobs: one line of 4.6 credits
    client.force_login(member)
    page = client.get(setup["project"].get_absolute_url()).content.decode()
    statement = page[
        page.index('data-testid="statement"') : page.index("</table>", page.index('data-testid="statement"'))
    ]
    rows = re.findall(r"<tr><td>.*?</tr>", statement, flags=re.S)
    assert len(rows) == 4
    assert "Allocation granted" in rows[0]
    assert "+1,000" in rows[0]
    assert "GPU usage" in rows[1]
    assert 'data-label="Amount">-2<' in rows[1]
    assert 'data-label="Balance">998<' in rows[1]
    assert 'data-label="Amount">-2.6<' in rows[2]
    assert 'data-label="Balance">995.4<' in rows[2]
    assert "2 jobs (batch-0 to batch-1)" in rows[3]
    assert 'data-label="Amount">-4.6<' in rows[3]
    assert 'data-label="Balance">990.8<' in rows[3]


def test_statement_switches_between_allocations(client, member, setup):
    second = make_allocation(call=setup["call"], granted=300 * MILLI, project=setup["project"])
    client.force_login(member)
    page = client.get(setup["project"].get_absolute_url(), {"statement": second.pk}).content.decode()
    statement = page[page.index('data-testid="statement"') :]
    assert "+300" in statement[: statement.index("</table>")]
    assert 'aria-current="page"' in page


def test_usage_csv_contains_every_record_and_neutralises_formulas(client, member, setup):
    ingest(setup, 3, user='=HYPERLINK("http://evil")')
    usage_ingest(
        provider=setup["provider"],
        records=[
            record(setup["h100"], setup["alloc"], job, gpu_hours=1, start=START) for job in ("+cmd", "-2", "@sum")
        ],
        acting_label="test",
    )
    client.force_login(member)
    response = client.get(reverse("compute:project_usage_csv", args=[setup["project"].pk]))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert re.match(
        r'attachment; filename="usage-radiology-foundation-model-\d{4}-\d\d-\d\d\.csv"', response["Content-Disposition"]
    )
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == [
        "job_id",
        "resource",
        "gpu_model",
        "allocation",
        "slurm_account",
        "user",
        "started_at",
        "ended_at",
        "gpu_hours",
        "credits",
    ]
    assert len(rows) == 1 + 6
    by_job = {row[0]: row for row in rows[1:]}
    assert set(by_job) == {"job-0", "job-1", "job-2", "'+cmd", "'-2", "'@sum"}
    job1 = by_job["job-1"]
    assert job1[1] == "Jean Zay H200"
    assert job1[3] == str(setup["alloc"].pk)
    assert job1[4] == "gf-rad"
    assert job1[5] == '\'=HYPERLINK("http://evil")'
    assert job1[6] == "2026-03-03T09:00:00+00:00"
    assert job1[8] == "2.0000"
    assert job1[9] == "2.6"


def test_a_statement_line_links_to_the_csv_of_the_jobs_it_charged(client, member, setup):
    ingest(setup, 2, prefix="first")
    ingest(setup, 3, prefix="second")
    client.force_login(member)
    page = client.get(setup["project"].get_absolute_url()).content.decode()
    links = re.findall(r'href="([^"]+)" download data-testid="statement-jobs"', page)
    assert len(links) == 2  # one per usage line; the grant line has none

    def jobs(url):
        response = client.get(url.replace("&amp;", "&"))
        assert response.status_code == 200
        assert "-transaction-" in response["Content-Disposition"]
        rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
        return sorted(row[0] for row in rows[1:])

    assert jobs(links[0]) == ["first-0", "first-1"]
    assert jobs(links[1]) == ["second-0", "second-1", "second-2"]
    csv_url = reverse("compute:project_usage_csv", args=[setup["project"].pk])
    for bad in ("abc", "²", "9" * 30):
        assert client.get(csv_url, {"transaction": bad}).status_code == 404


def test_csv_safe_neutralises_every_formula_prefix():
    from compute.applicant_views import csv_safe

    for value in ("=1+1", "+1", "-1", "@A1", "\tx", "\rx"):
        assert csv_safe(value) == "'" + value
    assert csv_safe("job 1") == "job 1"
    assert csv_safe(12) == 12


@pytest.mark.parametrize("jobs", [2, 40])
def test_project_page_query_count_does_not_grow(client, member, setup, jobs, django_assert_num_queries):
    ingest(setup, jobs)
    make_allocation(call=setup["call"], granted=10 * MILLI, project=setup["project"])
    ProjectMember.objects.create(project=setup["project"], user=verified_user())
    client.force_login(member)
    # session, user, the user's hubs, the team joined to its project, applications, allocations
    # with their ledger figures and their usage and statement counts (the pagers' counts),
    # chart data (per allocation, resource and day), usage page, statement page, unread
    # notifications
    with django_assert_num_queries(10):
        response = client.get(setup["project"].get_absolute_url())
    assert response.status_code == 200
    usage, statement = response.context["usage"], response.context["statement"]
    assert usage.paginator.count == UsageRecord.objects.filter(allocation__project=setup["project"]).count()
    assert (
        statement.paginator.count
        == response.context["statement_allocation"].accounts.get(kind="allocation").entries.count()
    )
    assert len(response.context["members"]) == 2


@pytest.mark.parametrize("jobs", [2, 40])
def test_usage_csv_query_count_does_not_grow(client, member, setup, jobs, django_assert_num_queries):
    ingest(setup, jobs)
    client.force_login(member)
    # session, user, the user's hubs, project, usage records (streamed)
    with django_assert_num_queries(5):
        response = client.get(reverse("compute:project_usage_csv", args=[setup["project"].pk]))
        lines = b"".join(response.streaming_content).decode().strip().splitlines()
    assert len(lines) == jobs + 1


# --- Authorization ----------------------------------------------------------------------------------


def test_someone_else_gets_404_on_a_project_its_csv_and_its_team(client, setup, hub):
    outsider = verified_user()
    MembershipFactory(user=outsider, hub=hub)
    project = setup["project"]
    client.force_login(outsider)
    assert client.get(project.get_absolute_url()).status_code == 404
    assert client.get(reverse("compute:project_usage_csv", args=[project.pk])).status_code == 404
    response = client.post(reverse("compute:project_member_add", args=[project.pk]), {"email": outsider.email})
    assert response.status_code == 404
    assert not project.members.filter(user=outsider).exists()


def test_staff_of_another_hub_get_404(client, setup):
    other = HubFactory(slug="warsaw", name="Warsaw AI Gigafactory")
    foreign_staff = verified_user()
    MembershipFactory(user=foreign_staff, hub=other, role=Role.STAFF)
    client.force_login(foreign_staff)
    assert client.get(setup["project"].get_absolute_url()).status_code == 404


# --- The chart builder ----------------------------------------------------------------------------


def test_cumulative_adds_up_per_day_in_order():
    d = dt.date
    series = charts.cumulative("A", [(d(2026, 3, 3), 500), (d(2026, 3, 1), 1000), (d(2026, 3, 3), 250)])
    assert series.points == [(d(2026, 3, 1), 1000), (d(2026, 3, 3), 1750)]
    total = charts.total_of([series, charts.cumulative("B", [(d(2026, 3, 2), 100)])])
    assert total.points == [(d(2026, 3, 1), 1000), (d(2026, 3, 2), 1100), (d(2026, 3, 3), 1850)]


def test_nice_steps_and_compact_labels():
    assert charts.nice_step(1080, 5) == 250
    assert charts.nice_step(9, 5) == 2
    assert charts.compact(2500) == "2.5k"
    assert charts.compact(40000) == "40k"
    assert charts.compact(1_200_000) == "1.2M"
    assert charts.compact(750) == "750"


def test_chart_escapes_labels_and_has_title_desc_and_legend():
    series = [charts.cumulative("<script>alert(1)</script>", [(dt.date(2026, 3, 2), 5 * MILLI)])]
    svg = charts.usage_chart(
        chart_id="c1",
        series=series,
        limit_millicredits=10 * MILLI,
        start=dt.date(2026, 3, 1),
        end=dt.date(2026, 3, 31),
        today=dt.date(2026, 3, 10),
        title="Usage & more",
    )
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert '<title id="c1-title">Usage &amp; more</title>' in svg
    assert 'aria-labelledby="c1-title c1-desc"' in svg
    assert ">Today<" in svg
    assert "Allocation (10 credits)" in svg
    narrow = charts.usage_chart(
        chart_id="c2",
        series=series,
        limit_millicredits=None,
        start=dt.date(2026, 3, 1),
        end=dt.date(2026, 3, 31),
        width=360,
        narrow=True,
    )
    assert 'viewBox="0 0 360 ' in narrow
    assert "chart-limit" not in narrow
