"""The applicant in the browser: applying (project, draft autosave, rows, estimate, submit),
withdrawing, answering "changes requested", the application page and "My applications"."""

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from compute import services
from compute.models import (
    MILLI,
    Application,
    AppStatus,
    Project,
    ProjectRole,
    ResourceRequest,
    Review,
    ReviewStatus,
    Track,
)
from hubs.models import Profile, Role
from tests.conftest import verified_user
from tests.factories import MembershipFactory, OrganisationFactory

from .factories import (
    ApplicationFactory,
    CallFactory,
    ComputeProviderFactory,
    ComputeResourceFactory,
    ProjectFactory,
    budget_left,
    set_status,
)

pytestmark = pytest.mark.django_db
A = AppStatus
TIMES = "\u00d7"  # the multiplication sign of "hours x rate"


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def resources(hub):
    provider = ComputeProviderFactory(hub=hub, name="Lyon HPC")
    h100 = ComputeResourceFactory(provider=provider, name="Jean Zay H100", rate_millicredits=1000)
    h200 = ComputeResourceFactory(
        provider=provider, name="Jean Zay H200", gpu_model="NVIDIA H200", rate_millicredits=1300
    )
    a100 = ComputeResourceFactory(
        provider=provider, name="Jean Zay A100", gpu_model="NVIDIA A100", rate_millicredits=600
    )
    return h100, h200, a100


@pytest.fixture
def call(hub, resources):
    return CallFactory(
        hub=hub, track=Track.FAST_LANE, title="Fast lane spring", resources=list(resources), funded=100_000 * MILLI
    )


@pytest.fixture
def project(hub, member):
    return ProjectFactory(hub=hub, pi=member, title="Radiology foundation model")


@pytest.fixture
def draft(call, project, member):
    return services.application_create(project=project, call=call, acting_user=member, title="Radiology at scale")


def form_data(*, rows=(), **fields):
    """What the application form posts: its fields, then one (key, resource, hours) per row."""
    data = {
        "title": "Radiology at scale",
        "abstract": "We fine-tune an open model on anonymised images.",
        "justification": "Ten epochs on eight GPUs.",
        "duration_days": "90",
        "data_sensitivity": "health",
        "ai_system_name": "RadAssist",
        "civilian_use": "on",
    } | fields
    data = {k: v for k, v in data.items() if v is not None}
    data["row_key"] = [key for key, _r, _h in rows]
    data["row_resource"] = [str(getattr(r, "pk", r)) for _k, r, _h in rows]
    data["row_hours"] = [str(h) for _k, _r, h in rows]
    return data


# --- Step one: the project ----------------------------------------------------------------


def test_apply_creates_a_project_at_the_calls_hub_and_opens_the_form(client, member, call):
    client.force_login(member)
    url = reverse("compute:application_create", args=[call.slug])
    page = client.get(url).content.decode()
    assert "Start a project" in page
    assert 'name="title"' in page

    response = client.post(url, {"action": "new_project", "title": "  Wind forecasts ", "summary": "Weather"})
    project = Project.objects.get()
    application = Application.objects.get()
    assert response["Location"] == reverse("compute:application_edit", args=[application.pk])
    assert (project.title, project.hub, project.pi) == ("Wind forecasts", call.hub, member)
    assert project.members.get().role == ProjectRole.PI
    assert (application.project, application.call, application.status) == (project, call, A.DRAFT)
    assert application.duration_days == call.allocation_days


def test_apply_with_an_existing_project_and_continue_a_draft(client, member, call, project):
    client.force_login(member)
    url = reverse("compute:application_create", args=[call.slug])
    page = client.get(url).content.decode()
    assert "Apply with one of your projects" in page
    assert "Radiology foundation model" in page
    response = client.post(url, {"action": "choose", "project": project.pk})
    application = Application.objects.get(project=project)
    assert response["Location"] == reverse("compute:application_edit", args=[application.pk])
    page = client.get(url).content.decode()
    assert "Continue where you left off" in page
    assert reverse("compute:application_edit", args=[application.pk]) in page


def test_apply_refuses_a_project_of_someone_else(client, member, call, hub):
    stranger_project = ProjectFactory(hub=hub)
    client.force_login(member)
    response = client.post(
        reverse("compute:application_create", args=[call.slug]), {"action": "choose", "project": stranger_project.pk}
    )
    assert response.status_code == 200
    assert not Application.objects.exists()


def test_apply_new_project_without_a_title_explains(client, member, call):
    client.force_login(member)
    response = client.post(reverse("compute:application_create", args=[call.slug]), {"action": "new_project"})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not Project.objects.exists()


def test_someone_outside_the_hub_is_asked_to_join_first(client, call, other_hub):
    outsider = verified_user()
    MembershipFactory(user=outsider, hub=other_hub)
    client.force_login(outsider)
    page = client.get(reverse("compute:application_create", args=[call.slug])).content.decode()
    assert 'data-testid="not-member"' in page
    assert "Join Lyon AI Gigafactory first" in page
    client.post(reverse("compute:application_create", args=[call.slug]), {"action": "new_project", "title": "X"})
    assert not Project.objects.exists()


def test_the_call_page_links_to_apply(client, member, call):
    page = client.get(call.get_absolute_url()).content.decode()
    assert f'href="{reverse("compute:application_create", args=[call.slug])}"' in page


# --- The form: autosave, rows, estimate ---------------------------------------------------------


def test_edit_page_shows_the_calls_resources_and_one_row_to_fill(client, member, draft, resources):
    client.force_login(member)
    page = client.get(reverse("compute:application_edit", args=[draft.pk])).content.decode()
    assert page.count('data-testid="resource-row"') == 1
    for resource in resources:
        assert resource.name in page
    assert "1.3 credits per GPU-hour" in page
    assert "1 credit per GPU-hour" in page
    assert 'hx-trigger="input changed delay:800ms' in page
    assert reverse("compute:application_autosave", args=[draft.pk]) in page
    assert "<script>" not in page  # the CSP allows no inline script
    assert "style=" not in page  # nor inline styles


def test_autosave_saves_the_draft_and_answers_draft_saved(client, member, draft, resources):
    h100, h200, _ = resources
    client.force_login(member)
    data = form_data(title="Radiology v2", rows=[("ra", h100, 500), ("rb", h200, "1,000")])
    response = client.post(reverse("compute:application_autosave", args=[draft.pk]), data, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert re.search(r"Draft saved at \d\d:\d\d", html)
    assert 'id="err-row-ra-gpu_hours" class="field-error" hx-swap-oob="true"></p>' in html  # cleared
    draft.refresh_from_db()
    assert draft.title == "Radiology v2"
    assert draft.data_sensitivity == "health"
    assert draft.civilian_use is True
    assert draft.ai_system_name == "RadAssist"
    assert sorted(draft.resource_requests.values_list("resource__name", "gpu_hours")) == [
        ("Jean Zay H100", 500),
        ("Jean Zay H200", 1000),
    ]
    assert draft.requested_millicredits == 500 * 1000 + 1000 * 1300


def test_autosave_bad_gpu_hours_gives_a_per_field_error_and_saves_nothing(client, member, draft, resources):
    h100, h200, _ = resources
    services.application_update_draft(application=draft, acting_user=member, title="Kept", resource_rows=[(h100, 10)])
    client.force_login(member)
    data = form_data(title="Changed", rows=[("ok1", h100, 20), ("bad1", h200, "lots")])
    html = client.post(reverse("compute:application_autosave", args=[draft.pk]), data).content.decode()
    assert "Not saved yet" in html
    assert "Draft saved" not in html
    assert (
        '<p id="err-row-bad1-gpu_hours" class="field-error" hx-swap-oob="true">'
        "Enter a whole number of GPU-hours, e.g. 500.</p>" in html
    )
    assert '<p id="err-row-ok1-gpu_hours" class="field-error" hx-swap-oob="true"></p>' in html
    draft.refresh_from_db()
    assert draft.title == "Kept"
    assert list(draft.resource_requests.values_list("resource_id", "gpu_hours")) == [(h100.pk, 10)]
    assert draft.requested_millicredits == 10 * 1000


@pytest.mark.parametrize(
    ("hours", "message"),
    [("0", "GPU-hours must be at least 1."), ("-5", "GPU-hours must be at least 1."), ("2.5", "whole number")],
)
def test_autosave_refuses_hours_that_are_not_a_positive_whole_number(client, member, draft, resources, hours, message):
    client.force_login(member)
    data = form_data(rows=[("r1", resources[0], hours)])
    html = client.post(reverse("compute:application_autosave", args=[draft.pk]), data).content.decode()
    assert message in html
    assert not ResourceRequest.objects.exists()


def test_autosave_refuses_a_resource_the_call_does_not_offer_and_a_duplicate_row(client, member, draft, resources, hub):
    elsewhere = ComputeResourceFactory(provider=ComputeProviderFactory(hub=hub), name="Not in the call")
    client.force_login(member)
    data = form_data(rows=[("r1", elsewhere, 5), ("r2", resources[0], 5), ("r3", resources[0], 6)])
    html = client.post(reverse("compute:application_autosave", args=[draft.pk]), data).content.decode()
    assert "This resource is not offered by the call." in html
    assert "This resource already has a row" in html
    assert not ResourceRequest.objects.exists()


def test_autosave_reports_field_errors_per_field(client, member, draft, resources):
    client.force_login(member)
    data = form_data(duration_days="zero", title="x" * 201, rows=[("r1", resources[0], 5)])
    html = client.post(reverse("compute:application_autosave", args=[draft.pk]), data).content.decode()
    assert '<p id="err-duration_days" class="field-error" hx-swap-oob="true">Enter a whole number.</p>' in html
    assert 'id="err-title" class="field-error" hx-swap-oob="true">Ensure this value has at most 200' in html
    draft.refresh_from_db()
    assert draft.title == "Radiology at scale"


def test_rows_without_hours_are_neither_an_error_nor_saved(client, member, draft, resources):
    client.force_login(member)
    data = form_data(rows=[("r1", resources[0], 8), ("r2", resources[1], "")])
    html = client.post(reverse("compute:application_autosave", args=[draft.pk]), data).content.decode()
    assert "Draft saved at" in html
    assert list(draft.resource_requests.values_list("gpu_hours", flat=True)) == [8]


def test_autosave_after_submission_saves_nothing_and_says_why(client, member, draft):
    set_status(draft, A.IN_REVIEW)
    client.force_login(member)
    html = client.post(reverse("compute:application_autosave", args=[draft.pk]), form_data(title="Late")).content
    assert b"can no longer be edited" in html
    draft.refresh_from_db()
    assert draft.title == "Radiology at scale"


def test_estimate_partial_shows_hours_times_rate_per_row_and_the_total(client, member, draft, resources):
    h100, h200, a100 = resources
    client.force_login(member)
    data = form_data(rows=[("r1", h200, 500), ("r2", a100, "1000"), ("r3", h100, "")])
    response = client.post(reverse("compute:application_estimate", args=[draft.pk]), data, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "<html" not in html  # only the partial
    assert f"500 {TIMES} 1.3" in html
    assert "650" in html
    assert f"1,000 {TIMES} 0.6" in html
    assert "600" in html
    assert 'data-testid="estimate-total">1,250</strong> credits' in html
    assert "Limit: 50,000 credits per application." in html
    assert not ResourceRequest.objects.exists()  # estimating writes nothing


def test_estimate_warns_when_the_request_is_over_the_fast_lane_limit(client, member, draft, resources):
    client.force_login(member)
    data = form_data(rows=[("r1", resources[0], 60_000)])
    html = client.post(reverse("compute:application_estimate", args=[draft.pk]), data).content.decode()
    assert "More than the fast-lane limit of 50,000 credits" in html


def test_add_row_fetches_a_row_with_the_next_unused_resource(client, member, draft, resources):
    h100, h200, a100 = resources
    client.force_login(member)
    url = reverse("compute:application_row_new", args=[draft.pk])
    html = client.get(url, {"row_resource": [h200.pk, a100.pk]}, HTTP_HX_REQUEST="true").content.decode()
    assert html.count('data-testid="resource-row"') == 1
    assert f'<option value="{h100.pk}" selected>' in html
    assert 'name="row_hours"' in html
    assert "data-focus" in html


def test_without_javascript_rows_can_be_added_and_removed(client, member, draft, resources):
    client.force_login(member)
    url = reverse("compute:application_edit", args=[draft.pk])
    data = form_data(rows=[("r1", resources[0], 5)]) | {"action": "add_row"}
    page = client.post(url, data).content.decode()
    assert page.count('data-testid="resource-row"') == 2
    data = form_data(rows=[("r1", resources[0], 5), ("r2", resources[1], 7)]) | {"remove_row": "r1"}
    page = client.post(url, data).content.decode()
    assert page.count('data-testid="resource-row"') == 1
    assert 'value="r2"' in page
    assert not ResourceRequest.objects.exists()  # nothing saved until "Save draft"
    response = client.post(url, form_data(rows=[("r2", resources[1], 7)]) | {"action": "save"})
    assert response.status_code == 302
    assert "Draft saved." in messages_of(response)
    assert list(draft.resource_requests.values_list("gpu_hours", flat=True)) == [7]


# --- Submit --------------------------------------------------------------------------------------


def test_submit_fast_lane_is_approved_and_the_page_shows_allocation_and_balance(
    client, member, draft, call, resources, django_capture_on_commit_callbacks
):
    h100, h200, _ = resources
    client.force_login(member)
    url = reverse("compute:application_edit", args=[draft.pk])
    data = form_data(rows=[("r1", h100, 1000), ("r2", h200, 500)]) | {"action": "submit"}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, data)
    assert response["Location"] == draft.get_absolute_url()
    draft.refresh_from_db()
    assert draft.status == A.APPROVED
    assert draft.granted_millicredits == 1000 * 1000 + 500 * 1300
    assert budget_left(call) == 100_000 * MILLI - 1650 * MILLI

    page = client.get(draft.get_absolute_url()).content.decode()
    assert 'data-testid="application-status">Approved</span>' in page
    assert 'data-testid="allocation-granted">1,650 credits' in page
    assert 'data-testid="allocation-balance"><strong>1,650</strong> credits' in page
    assert "Every check passed." in page
    assert page.count('class="check check-pass"') >= 6
    assert "Approved automatically: every screening check passed." in page
    assert "every 2s" not in page  # decided: no polling
    timeline = page[page.index('data-testid="timeline"') :]
    for label in ("Draft started", "Submitted", "Automatic screening started", "Approved"):
        assert label in timeline
    assert timeline.index("Submitted") < timeline.index("Approved")


def test_submitting_an_incomplete_draft_keeps_it_and_says_what_is_missing(client, member, draft, resources):
    client.force_login(member)
    data = form_data(abstract="", rows=[("r1", resources[0], 10)]) | {"action": "submit"}
    response = client.post(reverse("compute:application_edit", args=[draft.pk]), data)
    assert response.status_code == 400
    html = response.content.decode()
    assert "Your draft is saved, but it cannot be submitted yet" in " ".join(messages_of(response))
    assert "Write an abstract: what you will do with the GPUs." in html
    draft.refresh_from_db()
    assert draft.status == A.DRAFT
    assert draft.requested_millicredits == 10 * MILLI


def test_submit_needs_at_least_one_row(client, member, draft):
    client.force_login(member)
    response = client.post(reverse("compute:application_edit", args=[draft.pk]), form_data() | {"action": "submit"})
    assert "Request GPU-hours on at least one resource." in response.content.decode()
    assert Application.objects.get().status == A.DRAFT


def test_submit_form_asks_for_confirmation(client, member, draft):
    client.force_login(member)
    page = client.get(reverse("compute:application_edit", args=[draft.pk])).content.decode()
    assert re.search(r'value="submit" data-confirm="Submit this application to “Fast lane spring”\?', page)


def test_a_submitted_application_can_no_longer_be_edited(client, member, draft):
    set_status(draft, A.SUBMITTED)
    client.force_login(member)
    response = client.get(reverse("compute:application_edit", args=[draft.pk]))
    assert response["Location"] == draft.get_absolute_url()
    response = client.post(reverse("compute:application_edit", args=[draft.pk]), form_data(title="Late"))
    draft.refresh_from_db()
    assert draft.title == "Radiology at scale"


def test_screening_failures_send_a_fast_lane_application_to_staff_and_show_the_reasons(
    client, member, call, project, django_capture_on_commit_callbacks
):
    application = ApplicationFactory(call=call, project=project, applicant=member, civilian_use=False)
    client.force_login(member)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("compute:application_submit", args=[application.pk]))
    application.refresh_from_db()
    assert application.status == A.IN_REVIEW
    page = client.get(application.get_absolute_url()).content.decode()
    assert "1 check did not pass." in page
    assert 'class="check check-fail"' in page
    assert "The civilian-use declaration is missing." in page
    assert "Handed to the hub&#x27;s staff" in page


# --- Withdraw, changes requested -----------------------------------------------------------------


def test_withdraw_asks_for_confirmation_and_withdraws(client, member, draft):
    set_status(draft, A.IN_REVIEW)
    client.force_login(member)
    page = client.get(draft.get_absolute_url()).content.decode()
    assert 'data-confirm="Withdraw “Radiology at scale”?' in page
    response = client.post(reverse("compute:application_withdraw", args=[draft.pk]))
    assert response["Location"] == draft.get_absolute_url()
    draft.refresh_from_db()
    assert draft.status == A.WITHDRAWN
    page = client.get(draft.get_absolute_url()).content.decode()
    assert 'data-testid="application-status">Withdrawn' in page
    assert 'data-testid="withdraw"' not in page
    response = client.post(reverse("compute:application_withdraw", args=[draft.pk]), follow=True)
    assert "it cannot be withdrawn now" in " ".join(messages_of(response))


def test_a_team_member_who_is_not_the_applicant_cannot_withdraw(client, draft, project):
    teammate = verified_user()
    project.members.create(user=teammate)
    client.force_login(teammate)
    page = client.get(draft.get_absolute_url()).content.decode()
    assert 'data-testid="withdraw"' not in page
    response = client.post(reverse("compute:application_withdraw", args=[draft.pk]), follow=True)
    assert "Only the applicant or the project's PI" in " ".join(messages_of(response))
    assert Application.objects.get().status == A.DRAFT


def test_changes_requested_then_edited_and_resubmitted(
    client, member, staff, call, project, resources, django_capture_on_commit_callbacks
):
    application = ApplicationFactory(call=call, project=project, applicant=member, civilian_use=False)
    with django_capture_on_commit_callbacks(execute=True):
        services.application_submit(application=application, acting_user=member)
    services.application_request_changes(
        application=application, acting_user=staff, reason="Please declare civilian use and halve the hours."
    )
    client.force_login(member)
    page = client.get(application.get_absolute_url()).content.decode()
    assert 'data-testid="application-status">Changes requested' in page
    assert "Please declare civilian use and halve the hours." in page
    assert "Edit and resubmit" in page

    edit = client.get(reverse("compute:application_edit", args=[application.pk])).content.decode()
    assert "What the hub's staff ask you to change" in edit
    assert "Please declare civilian use and halve the hours." in edit
    assert "Submit again" in edit
    data = form_data(rows=[("r1", resources[0], 50)]) | {"action": "submit"}
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("compute:application_edit", args=[application.pk]), data)
    application.refresh_from_db()
    assert application.status == A.APPROVED
    assert application.screening_round == 2
    page = client.get(application.get_absolute_url()).content.decode()
    timeline = page[page.index('data-testid="timeline"') :]
    for label in ("Submitted", "Changes requested", "Resubmitted", "Approved"):
        assert label in timeline
    assert f"Staff of {call.hub}" in timeline  # staff are not named to the applicant
    assert staff.display_name not in timeline
    assert "Screening (round 2)" in page


# --- The application page: polling, comments ---------------------------------------------------


def test_status_area_polls_while_screening_and_stops_once_decided(
    client, member, draft, resources, django_capture_on_commit_callbacks
):
    ResourceRequest.objects.create(application=draft, resource=resources[0], gpu_hours=10)
    Application.objects.filter(pk=draft.pk).update(requested_millicredits=10 * MILLI, civilian_use=True)
    set_status(draft, A.SUBMITTED)
    client.force_login(member)
    page = client.get(draft.get_absolute_url()).content.decode()
    match = re.search(r'hx-get="([^"]+)" hx-trigger="every 2s"', page)
    assert match
    poll_url = match.group(1).replace("&amp;", "&")

    # Nothing changed: 204, and htmx leaves the page alone.
    assert client.get(poll_url, HTTP_HX_REQUEST="true").status_code == 204

    # The worker decides; the next poll brings the decision, the allocation, and stops polling.
    from compute.screening import screen_and_decide

    with django_capture_on_commit_callbacks(execute=True):
        assert screen_and_decide(application_id=draft.pk, screening_round=draft.screening_round) == "approved"
    response = client.get(poll_url, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert html.lstrip().startswith('<div id="application-live"')
    assert "every 2s" not in html
    assert 'data-testid="application-status">Approved' in html
    assert 'data-testid="allocation-balance"><strong>10</strong> credits' in html
    assert 'id="status-announcer" hx-swap-oob="innerHTML">Status: Approved.' in html
    assert "HX-Request" in response["Vary"]


def test_reviewer_comments_for_the_applicant_are_shown_with_the_decision_and_nothing_private(
    client, member, draft, staff
):
    reviewer = verified_user(name="Rita Reviewer")
    MembershipFactory(user=reviewer, hub=draft.hub, role=Role.REVIEWER)
    set_status(draft, A.IN_REVIEW)
    Review.objects.create(
        application=draft,
        reviewer=reviewer,
        status=ReviewStatus.SUBMITTED,
        scores={"excellence": 4},
        comment_for_applicant="A clear plan; please report energy use.",
        private_comment="Team is weak on MLOps; PRIVATE-NOTE.",
        recommendation="approve",
        no_conflict_declared=True,
        submitted_at=timezone.now(),
    )
    client.force_login(member)
    page = client.get(draft.get_absolute_url()).content.decode()
    assert "A clear plan" not in page  # shared with the decision, not while staff decide
    services.application_request_changes(application=draft, acting_user=staff, reason="Add an energy plan.")
    page = client.get(draft.get_absolute_url()).content.decode()
    assert "A clear plan; please report energy use." in page
    assert "PRIVATE-NOTE" not in page
    assert "Rita" not in page
    assert reviewer.email not in page
    assert "Reviewer 1" in page


# --- Authorization ---------------------------------------------------------------------------------


def test_someone_else_gets_404_on_an_application_and_its_form(client, draft, resources):
    outsider = verified_user()
    MembershipFactory(user=outsider, hub=draft.hub)
    client.force_login(outsider)
    pk = draft.pk
    for name in ("application_detail", "application_edit", "application_row_new"):
        assert client.get(reverse(f"compute:{name}", args=[pk])).status_code == 404, name
    for name in ("application_autosave", "application_estimate", "application_submit", "application_withdraw"):
        response = client.post(reverse(f"compute:{name}", args=[pk]), form_data(rows=[("r1", resources[0], 5)]))
        assert response.status_code == 404, name
    draft.refresh_from_db()
    assert (draft.status, draft.title) == (A.DRAFT, "Radiology at scale")


def test_pages_need_a_login(client, draft):
    for url in (reverse("compute:application_list"), draft.get_absolute_url()):
        response = client.get(url)
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]


# --- My applications ------------------------------------------------------------------------------


def test_my_applications_lists_mine_with_status_call_track_and_credits(client, member, call, project, hub):
    mine = ApplicationFactory(call=call, project=project, applicant=member, title="Mine approved", rows__gpu_hours=40)
    set_status(mine, A.APPROVED)
    ApplicationFactory(call=call, project=project, applicant=member, title="Mine draft")
    ApplicationFactory(call=call, title="Somebody else's")
    client.force_login(member)
    page = client.get(reverse("compute:application_list")).content.decode()
    assert page.count('data-testid="application-row"') == 2
    assert "Mine approved" in page
    assert "Mine draft" in page
    assert "Somebody else" not in page
    assert "Fast lane spring" in page
    assert "track-fast_lane" in page
    assert '<td class="num" data-label="Requested">40</td>' in page
    assert '<td class="num" data-label="Granted">40</td>' in page

    filtered = client.get(reverse("compute:application_list"), {"status": "approved"}).content.decode()
    assert filtered.count('data-testid="application-row"') == 1
    assert "Mine approved" in filtered
    none = client.get(reverse("compute:application_list"), {"status": "rejected"}).content.decode()
    assert "No application matches this filter." in none


def test_my_applications_empty_state(client, member):
    client.force_login(member)
    page = client.get(reverse("compute:application_list")).content.decode()
    assert "You have no application yet." in page


def test_my_applications_is_paginated(client, member, call, project):
    for i in range(23):
        ApplicationFactory(call=call, project=project, applicant=member, title=f"App {i:02d}", rows=[])
    client.force_login(member)
    first = client.get(reverse("compute:application_list")).content.decode()
    assert first.count('data-testid="application-row"') == 20
    assert "Page 1 of 2" in first
    second = client.get(reverse("compute:application_list"), {"page": 2}).content.decode()
    assert second.count('data-testid="application-row"') == 3


@pytest.mark.parametrize("count", [1, 12])
def test_my_applications_query_count_does_not_grow(client, member, call, count, django_assert_num_queries):
    for i in range(count):
        project = ProjectFactory(hub=call.hub, pi=member, title=f"P{i}")
        application = ApplicationFactory(call=call, project=project, applicant=member)
        if i % 2:
            set_status(application, A.APPROVED)
    client.force_login(member)
    # session, user, the user's hubs (nav), unread notifications, count, page (with call and project)
    with django_assert_num_queries(6):
        response = client.get(reverse("compute:application_list"))
    assert response.content.decode().count('data-testid="application-row"') == count


@pytest.mark.parametrize("resubmissions", [0, 4])
def test_the_application_page_query_count_does_not_grow_with_its_history(
    client, member, draft, resources, resubmissions, django_capture_on_commit_callbacks, django_assert_num_queries
):
    h100, _, _ = resources
    client.force_login(member)
    url = reverse("compute:application_edit", args=[draft.pk])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, form_data(rows=[("r1", h100, 10)]) | {"action": "autosave"})
    staff = verified_user(name="Stella Staff")
    MembershipFactory(user=staff, hub=draft.hub, role=Role.STAFF)
    for _ in range(resubmissions):  # a longer timeline: submitted, changes requested, resubmitted
        draft.refresh_from_db()
        services.application_submit(application=draft, acting_user=member)
        draft.refresh_from_db()
        Application.objects.filter(pk=draft.pk).update(status=A.IN_REVIEW)
        draft.refresh_from_db()
        services.application_request_changes(application=draft, acting_user=staff, reason="More detail, please.")
    draft.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        services.application_submit(application=draft, acting_user=member)
    draft.refresh_from_db()
    assert draft.status == A.APPROVED
    # session, user, the user's hubs, the application (call, project, hub, applicant, the
    # viewer's team role, its allocation with the ledger figures), the latest screening, the
    # requested resources, comments for the applicant, the timeline (with whether each actor is
    # on the team), the linked AI systems, unread notifications
    with django_assert_num_queries(10):
        response = client.get(draft.get_absolute_url())
    page = response.content.decode()
    assert 'data-testid="allocation-granted">10 credits' in page
    assert response.context["is_team"] is True
    timeline = response.context["timeline"]
    assert [e["label"] for e in timeline].count("Changes requested") == resubmissions
    assert {e["who"] for e in timeline if e["label"] == "Changes requested"} <= {f"Staff of {draft.hub}"}
    assert {e["who"] for e in timeline if e["label"] == "Draft started"} == {member.display_name}


def test_a_draft_without_title_is_listed_as_untitled(client, member, call, project):
    ApplicationFactory(call=call, project=project, applicant=member, title="", rows=[])
    client.force_login(member)
    assert "Untitled draft" in client.get(reverse("compute:application_list")).content.decode()


def test_project_organisation_is_offered_from_the_profile(client, member, call):
    organisation = OrganisationFactory(name="Université de Lyon")
    Profile.objects.update_or_create(user=member, defaults={"organisation": organisation})
    client.force_login(member)
    page = client.get(reverse("compute:application_create", args=[call.slug])).content.decode()
    assert f'<option value="{organisation.pk}" selected>Université de Lyon</option>' in page


def test_staff_see_the_application_page_but_cannot_edit(client, staff, draft):
    client.force_login(staff)
    page = client.get(draft.get_absolute_url()).content.decode()
    assert "Radiology at scale" in page
    assert 'data-testid="edit"' not in page
    assert client.get(reverse("compute:application_edit", args=[draft.pk])).status_code == 302
