"""API v1 of the GPU-credit workflow: projects, applications, reviews, allocations and the
ledger statement, as people, hub staff, reviewers and partner systems use them."""

import pytest

from compute import services
from compute.models import (
    MILLI,
    Allocation,
    Application,
    AppStatus,
    ProjectMember,
    Recommendation,
    ResourceRequest,
    Review,
    Track,
    UsageRecord,
)
from compute.usage import usage_ingest
from hubs.models import Role
from tests.conftest import verified_user
from tests.factories import MembershipFactory, UserFactory, make_api_key

from .factories import (
    ApplicationFactory,
    CallFactory,
    ComputeProviderFactory,
    ComputeResourceFactory,
    ProjectFactory,
    set_status,
)
from .usage_factories import make_allocation, make_call, make_provider, make_resource, record

A = AppStatus
REQUEST = 100 * MILLI  # what ApplicationFactory asks for: 100 GPU-hours at one credit
SCORES = {"excellence": 5, "impact": 4, "feasibility": 3}


def bearer(plaintext):
    return {"Authorization": f"Bearer {plaintext}"}


def call_api(client, method, path, data=None, *, key=None):
    headers = bearer(key) if key else {}
    if method == "get":
        return client.get(path, data or {}, headers=headers)
    return getattr(client, method)(
        path, data if data is not None else {}, content_type="application/json", headers=headers
    )


def ok(response, code=200):
    assert response.status_code == code, response.content
    return response.json()


def ids(response):
    return [row["id"] for row in ok(response)["results"]]


# --- Fixtures -------------------------------------------------------------------------------


@pytest.fixture
def teammate(db):
    return verified_user(name="Tom Teammate")


@pytest.fixture
def resource(hub):
    return ComputeResourceFactory(provider=ComputeProviderFactory(hub=hub), name="h100-partition")


@pytest.fixture
def call(hub, resource):
    return CallFactory(hub=hub, track=Track.FAST_LANE, resources=[resource], funded=10 * REQUEST, slug="lyon-fast")


@pytest.fixture
def project(hub, member, teammate):
    return ProjectFactory(hub=hub, pi=member, title="Radiology foundation model", members=[teammate])


@pytest.fixture
def application(call, project, member):
    return ApplicationFactory(call=call, project=project, applicant=member, title="Radiology at scale")


@pytest.fixture
def in_review(application):
    return set_status(application, A.IN_REVIEW)


@pytest.fixture
def member_key(hub, member):
    return make_api_key(hub=hub, user=member, scope="write")[1]


@pytest.fixture
def member_read_key(hub, member):
    return make_api_key(hub=hub, user=member, scope="read")[1]


@pytest.fixture
def staff_key(hub, staff):
    return make_api_key(hub=hub, user=staff, scope="write")[1]


@pytest.fixture
def stranger(hub):
    """An active member of the hub who is on no team."""
    user = verified_user(name="Sven Stranger")
    MembershipFactory(user=user, hub=hub)
    return user


def reviewer_at(hub, name):
    user = verified_user(name=name)
    MembershipFactory(user=user, hub=hub, role=Role.REVIEWER)
    return user


@pytest.fixture
def rita(hub):
    return reviewer_at(hub, "Rita Reviewer")


# --- Authentication and kinds of caller -----------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/api/v1/projects/", "/api/v1/applications/", "/api/v1/reviews/", "/api/v1/allocations/"]
)
def test_lists_need_a_caller(client, db, path):
    assert client.get(path).status_code == 401


@pytest.mark.parametrize("path", ["/api/v1/projects/", "/api/v1/applications/", "/api/v1/reviews/"])
def test_partner_keys_see_no_projects_applications_or_reviews(client, hub, path):
    partner = make_provider(hub=hub).partner
    key = make_api_key(hub=hub, partner=partner, scope="write")[1]
    response = call_api(client, "get", path, key=key)
    assert response.status_code == 403
    assert "signed-in users" in response.json()["detail"]


# --- Projects -------------------------------------------------------------------------------


def test_member_creates_a_project_and_becomes_its_pi(client, hub, member, member_key):
    body = ok(
        call_api(
            client,
            "post",
            "/api/v1/projects/",
            {"hub": "lyon", "title": "  Wind forecasts ", "summary": "Weather"},
            key=member_key,
        ),
        201,
    )
    assert body["title"] == "Wind forecasts"
    assert body["hub"] == {"slug": "lyon", "name": "Lyon AI Gigafactory"}
    assert body["pi"] == {"id": member.pk, "name": "Marie Member"}
    assert body["members"] == [
        {"user": {"id": member.pk, "name": "Marie Member"}, "role": "pi", "added_at": body["members"][0]["added_at"]}
    ]
    assert body["member_count"] == 1
    assert body["can_manage"] is True
    assert body["web_url"] == f"http://testserver/projects/{body['id']}/"
    assert ids(call_api(client, "get", "/api/v1/projects/", key=member_key)) == [body["id"]]


def test_project_create_needs_membership_of_the_hub(client, other_hub, member):
    client.force_login(member)
    response = client.post(
        "/api/v1/projects/", {"hub": "helsinki", "title": "Elsewhere"}, content_type="application/json"
    )
    assert response.status_code == 400
    assert "active member of Helsinki" in response.json()["hub"][0]


def test_project_create_with_a_key_stays_at_the_keys_hub(client, hub, other_hub, member, member_key):
    MembershipFactory(user=member, hub=other_hub)
    response = call_api(client, "post", "/api/v1/projects/", {"hub": "helsinki", "title": "X"}, key=member_key)
    assert response.status_code == 400
    assert response.json()["hub"] == ["This API key only works for Lyon AI Gigafactory."]


def test_project_create_reports_each_bad_field(client, member, member_key):
    response = call_api(client, "post", "/api/v1/projects/", {"hub": "atlantis", "title": ""}, key=member_key)
    assert response.status_code == 400
    assert set(response.json()) == {"hub", "title"}


def test_read_only_key_cannot_create_a_project(client, member, member_read_key):
    response = call_api(client, "post", "/api/v1/projects/", {"hub": "lyon", "title": "X"}, key=member_read_key)
    assert response.status_code == 403
    assert "read-only" in response.json()["detail"]


def test_project_list_and_detail_are_scoped(client, hub, other_hub, project, member, stranger, staff, other_staff):
    elsewhere = ProjectFactory(hub=other_hub)
    client.force_login(stranger)
    assert ids(client.get("/api/v1/projects/")) == []
    assert client.get(f"/api/v1/projects/{project.pk}/").status_code == 404
    client.force_login(other_staff)
    assert ids(client.get("/api/v1/projects/")) == [elsewhere.pk]
    assert client.get(f"/api/v1/projects/{project.pk}/").status_code == 404
    client.force_login(staff)
    assert ids(client.get("/api/v1/projects/")) == [project.pk]
    detail = ok(client.get(f"/api/v1/projects/{project.pk}/"))
    assert [(m["user"]["name"], m["role"]) for m in detail["members"]] == [
        ("Marie Member", "pi"),
        ("Tom Teammate", "member"),
    ]
    assert detail["can_manage"] is True
    client.force_login(member)
    assert ok(client.get("/api/v1/projects/?search=radiology"))["count"] == 1
    assert ok(client.get("/api/v1/projects/?hub=helsinki"))["count"] == 0


def test_pi_adds_and_removes_a_member(client, project, member, member_key):
    newcomer = UserFactory(email="nina@cnrs.fr", name="Nina Newcomer")
    body = ok(
        call_api(client, "post", f"/api/v1/projects/{project.pk}/members/", {"email": "NINA@cnrs.fr"}, key=member_key),
        201,
    )
    assert body["user"] == {"id": newcomer.pk, "name": "Nina Newcomer"}
    assert body["role"] == "member"
    again = call_api(
        client, "post", f"/api/v1/projects/{project.pk}/members/", {"email": "nina@cnrs.fr"}, key=member_key
    )
    assert again.status_code == 400
    assert "already on the team" in again.json()["email"][0]
    response = call_api(client, "delete", f"/api/v1/projects/{project.pk}/members/{newcomer.pk}/", key=member_key)
    assert response.status_code == 204
    assert not ProjectMember.objects.filter(project=project, user=newcomer).exists()


def test_adding_an_unknown_person_is_a_field_error(client, project, member_key):
    response = call_api(
        client, "post", f"/api/v1/projects/{project.pk}/members/", {"email": "ghost@x.org"}, key=member_key
    )
    assert response.status_code == 400
    assert "No one has an account with ghost@x.org" in response.json()["email"][0]


def test_a_team_member_who_is_not_pi_cannot_add_people(client, project, teammate):
    UserFactory(email="nina@cnrs.fr")
    client.force_login(teammate)
    response = client.post(
        f"/api/v1/projects/{project.pk}/members/", {"email": "nina@cnrs.fr"}, content_type="application/json"
    )
    assert response.status_code == 403


def test_the_pi_cannot_be_removed(client, project, member, member_key):
    response = call_api(client, "delete", f"/api/v1/projects/{project.pk}/members/{member.pk}/", key=member_key)
    assert response.status_code == 400
    assert "principal investigator" in response.json()["user"][0]


def test_members_of_other_projects_cannot_touch_a_team(client, project, stranger, teammate):
    client.force_login(stranger)
    response = client.delete(f"/api/v1/projects/{project.pk}/members/{teammate.pk}/")
    assert response.status_code == 404


# --- Applications: drafts -------------------------------------------------------------------


def draft_body(call, project, resource, **extra):
    return {
        "project": project.pk,
        "call": call.slug,
        "title": "Radiology at scale",
        "abstract": "We fine-tune an open model on anonymised images.",
        "justification": "Ten epochs on 8 GPUs.",
        "civilian_use": True,
        "data_sensitivity": "health",
        "resource_rows": [{"resource": resource.pk, "gpu_hours": 120}],
    } | extra


def test_member_creates_a_draft_with_rows_and_an_estimate(client, call, project, resource, member, member_key):
    body = ok(
        call_api(client, "post", "/api/v1/applications/", draft_body(call, project, resource), key=member_key), 201
    )
    assert body["status"] == "draft"
    assert body["call"] == {"slug": "lyon-fast", "title": call.title, "track": "fast_lane"}
    assert body["project"] == {"id": project.pk, "title": "Radiology foundation model"}
    assert body["applicant"]["id"] == member.pk
    assert body["data_sensitivity"] == "health"
    assert body["resource_rows"] == [
        {
            "resource": {"id": resource.pk, "name": "h100-partition", "gpu_model": "NVIDIA H100 80GB"},
            "gpu_hours": 120,
            "rate_millicredits": 1000,
            "millicredits": 120_000,
            "credits": "120",
        }
    ]
    assert (body["estimate_millicredits"], body["estimate_credits"]) == (120_000, "120")
    assert (body["requested_millicredits"], body["requested_credits"]) == (120_000, "120")
    assert body["granted_millicredits"] is None
    assert body["allocation"] is None
    assert body["screening"] == []
    assert body["allowed_actions"] == ["edit", "submit", "withdraw"]


def test_a_row_the_call_does_not_offer_creates_nothing(client, hub, call, project, resource, member_key):
    elsewhere = ComputeResourceFactory(provider=ComputeProviderFactory(hub=hub), name="not-in-call")
    body = draft_body(call, project, resource, resource_rows=[{"resource": elsewhere.pk, "gpu_hours": 5}])
    response = call_api(client, "post", "/api/v1/applications/", body, key=member_key)
    assert response.status_code == 400
    assert "not offered by the call" in response.json()["resource_rows"][0]
    assert not Application.objects.exists()


def test_draft_input_errors_come_per_field(client, call, project, resource, member_key):
    body = draft_body(
        call,
        project,
        resource,
        data_sensitivity="secret",
        duration_days=0,
        resource_rows=[{"resource": resource.pk, "gpu_hours": 0}],
    )
    response = call_api(client, "post", "/api/v1/applications/", body, key=member_key)
    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {"data_sensitivity", "duration_days", "resource_rows"}
    assert errors["resource_rows"] == {"0": {"gpu_hours": ["Ensure this value is greater than or equal to 1."]}}


def test_draft_needs_a_project_of_mine_and_an_open_call(client, hub, call, project, resource, stranger):
    closed = CallFactory(hub=hub, slug="closed", resources=[resource])
    closed.closes_at = closed.opens_at.replace(year=closed.opens_at.year - 1)
    closed.opens_at = closed.closes_at.replace(month=1, day=1)
    closed.save()
    client.force_login(stranger)
    response = client.post(
        "/api/v1/applications/", draft_body(call, project, resource), content_type="application/json"
    )
    assert response.status_code == 400
    assert "project" in response.json()
    mine = ProjectFactory(hub=hub, pi=stranger)
    response = client.post("/api/v1/applications/", draft_body(closed, mine, resource), content_type="application/json")
    assert response.status_code == 400
    assert "does not accept applications" in response.json()["call"][0]


def test_update_draft_changes_fields_and_replaces_rows(client, hub, application, resource, member_key):
    second = ComputeResourceFactory(provider=resource.provider, name="a100", rate_millicredits=600)
    application.call.eligible_resources.add(second)
    rows = [{"resource": second.pk, "gpu_hours": 50}]
    body = ok(
        call_api(
            client,
            "patch",
            f"/api/v1/applications/{application.pk}/",
            {"title": "Renamed", "resource_rows": rows},
            key=member_key,
        )
    )
    assert body["title"] == "Renamed"
    assert [(r["resource"]["id"], r["gpu_hours"]) for r in body["resource_rows"]] == [(second.pk, 50)]
    assert body["estimate_millicredits"] == body["requested_millicredits"] == 30_000
    assert body["abstract"] == application.abstract  # untouched
    body = ok(call_api(client, "patch", f"/api/v1/applications/{application.pk}/", {"abstract": "New"}, key=member_key))
    assert len(body["resource_rows"]) == 1  # rows left alone when not given


def test_update_of_a_submitted_application_is_a_conflict(client, in_review, member_key):
    response = call_api(client, "patch", f"/api/v1/applications/{in_review.pk}/", {"title": "X"}, key=member_key)
    assert response.status_code == 409
    assert response.json() == {
        "detail": "This application is in review; it cannot be edited now.",
        "code": "invalid_transition",
    }


def test_others_cannot_read_or_change_an_application(client, application, stranger, other_staff):
    for person in (stranger, other_staff):
        client.force_login(person)
        assert client.get(f"/api/v1/applications/{application.pk}/").status_code == 404
        response = client.patch(
            f"/api/v1/applications/{application.pk}/", {"title": "X"}, content_type="application/json"
        )
        assert response.status_code == 404
        assert client.post(f"/api/v1/applications/{application.pk}/submit/").status_code == 404


def test_read_only_key_reads_but_cannot_submit(client, application, member_read_key):
    assert (
        ok(call_api(client, "get", f"/api/v1/applications/{application.pk}/", key=member_read_key))["id"]
        == application.pk
    )
    response = call_api(client, "post", f"/api/v1/applications/{application.pk}/submit/", key=member_read_key)
    assert response.status_code == 403
    assert Application.objects.get(pk=application.pk).status == A.DRAFT


def test_submit_with_missing_parts_answers_per_field(client, call, project, member_key):
    draft = ApplicationFactory(call=call, project=project, applicant=project.pi, abstract="", rows=[])
    response = call_api(client, "post", f"/api/v1/applications/{draft.pk}/submit/", key=member_key)
    assert response.status_code == 400
    assert set(response.json()) == {"abstract", "resource_rows"}


def test_fast_lane_application_made_through_the_api_is_approved_by_the_worker(
    client, call, project, resource, member_key, django_capture_on_commit_callbacks
):
    created = ok(
        call_api(client, "post", "/api/v1/applications/", draft_body(call, project, resource), key=member_key), 201
    )
    with django_capture_on_commit_callbacks(execute=True):
        submitted = ok(call_api(client, "post", f"/api/v1/applications/{created['id']}/submit/", key=member_key))
    assert submitted["status"] in ("submitted", "approved")
    body = ok(call_api(client, "get", f"/api/v1/applications/{created['id']}/", key=member_key))
    assert body["status"] == "approved"
    assert (body["granted_millicredits"], body["granted_credits"]) == (120_000, "120")
    assert body["decided_at"] is not None
    assert body["screening_round"] == 1
    assert body["screening"]
    assert all(check["passed"] for check in body["screening"])
    assert {check["check"] for check in body["screening"]} >= {"member_verified", "civilian_use", "budget_available"}
    allocation = body["allocation"]
    assert allocation["status"] == "active"
    assert (
        allocation["granted_millicredits"],
        allocation["balance_millicredits"],
        allocation["used_millicredits"],
    ) == (
        120_000,
        120_000,
        0,
    )
    assert allocation["resources"] == [{"id": resource.pk, "name": "h100-partition", "gpu_model": "NVIDIA H100 80GB"}]
    assert body["allowed_actions"] == []


def test_withdraw_then_withdraw_again_is_a_conflict(client, application, member_key):
    body = ok(call_api(client, "post", f"/api/v1/applications/{application.pk}/withdraw/", key=member_key))
    assert body["status"] == "withdrawn"
    response = call_api(client, "post", f"/api/v1/applications/{application.pk}/withdraw/", key=member_key)
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"


def test_a_teammate_who_is_not_applicant_or_pi_cannot_withdraw(client, application, teammate):
    client.force_login(teammate)
    assert client.post(f"/api/v1/applications/{application.pk}/withdraw/").status_code == 403


# --- Applications: lists --------------------------------------------------------------------


def test_application_list_is_scoped_and_filterable(
    client, hub, other_hub, call, project, member, stranger, staff, other_staff, resource
):
    mine = ApplicationFactory(call=call, project=project, applicant=member, title="Radiology")
    submitted = set_status(
        ApplicationFactory(call=call, project=project, applicant=member, title="Genomics"), A.IN_REVIEW
    )
    peer = CallFactory(hub=hub, track=Track.PEER_REVIEW, slug="lyon-peer", resources=[resource])
    peer_app = ApplicationFactory(call=peer, project=project, applicant=member, title="Climate")
    other = ApplicationFactory(call=CallFactory(hub=other_hub), title="Elsewhere")

    client.force_login(member)
    assert ids(client.get("/api/v1/applications/")) == [peer_app.pk, submitted.pk, mine.pk]
    assert ids(client.get("/api/v1/applications/?status=in_review")) == [submitted.pk]
    assert ids(client.get("/api/v1/applications/?call=lyon-peer")) == [peer_app.pk]
    assert ids(client.get("/api/v1/applications/?track=fast_lane")) == [submitted.pk, mine.pk]
    assert ids(client.get("/api/v1/applications/?hub=helsinki")) == []
    assert ids(client.get("/api/v1/applications/?search=genom")) == [submitted.pk]
    assert ids(client.get("/api/v1/applications/?ordering=title")) == [peer_app.pk, submitted.pk, mine.pk]
    assert client.get("/api/v1/applications/?status=lost").status_code == 400

    client.force_login(stranger)
    assert ids(client.get("/api/v1/applications/")) == []
    client.force_login(staff)
    assert set(ids(client.get("/api/v1/applications/"))) == {mine.pk, submitted.pk, peer_app.pk}
    client.force_login(other_staff)
    assert ids(client.get("/api/v1/applications/")) == [other.pk]


def test_a_personal_key_narrows_to_its_hub(client, hub, other_hub, member, application, member_key):
    MembershipFactory(user=member, hub=other_hub)
    elsewhere_project = ProjectFactory(hub=other_hub, pi=member)
    elsewhere = ApplicationFactory(call=CallFactory(hub=other_hub), project=elsewhere_project, applicant=member)
    assert ids(call_api(client, "get", "/api/v1/applications/", key=member_key)) == [application.pk]
    assert call_api(client, "get", f"/api/v1/applications/{elsewhere.pk}/", key=member_key).status_code == 404
    client.force_login(member)
    assert set(ids(client.get("/api/v1/applications/"))) == {application.pk, elsewhere.pk}


# --- Applications: staff decisions ----------------------------------------------------------


def test_staff_approve_a_reduced_amount_in_millicredits(client, in_review, staff_key):
    body = ok(
        call_api(
            client,
            "post",
            f"/api/v1/applications/{in_review.pk}/approve/",
            {"amount_millicredits": 60_000, "reason": "Half to start with."},
            key=staff_key,
        )
    )
    assert body["status"] == "approved"
    assert (body["granted_millicredits"], body["granted_credits"]) == (60_000, "60")
    assert body["decision_reason"] == "Half to start with."
    assert body["allocation"]["balance_millicredits"] == 60_000
    assert Allocation.objects.get(application=in_review).granted_millicredits == 60_000


def test_approve_without_amount_grants_the_request(client, in_review, staff_key):
    body = ok(call_api(client, "post", f"/api/v1/applications/{in_review.pk}/approve/", key=staff_key))
    assert body["granted_millicredits"] == REQUEST


def test_approve_more_than_requested_is_a_field_error(client, in_review, staff_key):
    response = call_api(
        client,
        "post",
        f"/api/v1/applications/{in_review.pk}/approve/",
        {"amount_millicredits": REQUEST + 1},
        key=staff_key,
    )
    assert response.status_code == 400
    assert "cannot exceed the request" in response.json()["amount_millicredits"][0]
    response = call_api(
        client, "post", f"/api/v1/applications/{in_review.pk}/approve/", {"amount_millicredits": 0}, key=staff_key
    )
    assert response.status_code == 400
    assert "amount_millicredits" in response.json()


def test_approve_a_draft_is_a_conflict(client, application, staff_key):
    response = call_api(client, "post", f"/api/v1/applications/{application.pk}/approve/", key=staff_key)
    assert response.status_code == 409
    assert response.json()["detail"] == "This application is draft; it cannot be approved now."


def test_approve_beyond_the_budget_is_a_conflict(client, hub, project, member, resource, staff_key):
    poor = CallFactory(hub=hub, resources=[resource], funded=REQUEST // 2)
    app = set_status(ApplicationFactory(call=poor, project=project, applicant=member), A.IN_REVIEW)
    response = call_api(client, "post", f"/api/v1/applications/{app.pk}/approve/", key=staff_key)
    assert response.status_code == 409
    assert "budget cannot cover" in response.json()["detail"]
    assert not Allocation.objects.exists()


def test_only_staff_decide(client, in_review, member_key):
    response = call_api(client, "post", f"/api/v1/applications/{in_review.pk}/approve/", key=member_key)
    assert response.status_code == 403
    assert response.json()["detail"] == "Only hub staff can do this."


def test_staff_without_mfa_cannot_decide(client, hub, in_review):
    unsafe = verified_user(name="No MFA")
    MembershipFactory(user=unsafe, hub=hub, role=Role.STAFF)
    client.force_login(unsafe)
    response = client.post(f"/api/v1/applications/{in_review.pk}/approve/")
    assert response.status_code == 403
    assert "two-factor" in response.json()["detail"]


def test_staff_of_another_hub_get_404(client, in_review, other_staff):
    client.force_login(other_staff)
    for action in ("approve", "reject", "request-changes", "assign-reviewers"):
        response = client.post(
            f"/api/v1/applications/{in_review.pk}/{action}/",
            {"reason": "x", "auto": True},
            content_type="application/json",
        )
        assert response.status_code == 404, action


def test_staff_on_the_team_cannot_decide_their_own(client, hub, in_review, staff):
    ProjectMember.objects.create(project=in_review.project, user=staff)
    client.force_login(staff)
    assert client.post(f"/api/v1/applications/{in_review.pk}/approve/").status_code == 403


def test_staff_read_only_key_cannot_decide(client, hub, staff, in_review):
    key = make_api_key(hub=hub, user=staff, scope="read")[1]
    assert call_api(client, "post", f"/api/v1/applications/{in_review.pk}/approve/", key=key).status_code == 403


def test_staff_reject_needs_a_reason(client, in_review, staff_key):
    response = call_api(client, "post", f"/api/v1/applications/{in_review.pk}/reject/", {"reason": ""}, key=staff_key)
    assert response.status_code == 400
    assert "reason" in response.json()
    body = ok(
        call_api(
            client, "post", f"/api/v1/applications/{in_review.pk}/reject/", {"reason": "Out of scope."}, key=staff_key
        )
    )
    assert (body["status"], body["decision_reason"]) == ("rejected", "Out of scope.")
    again = call_api(
        client, "post", f"/api/v1/applications/{in_review.pk}/reject/", {"reason": "Again."}, key=staff_key
    )
    assert again.status_code == 409


def test_staff_request_changes_and_the_applicant_resubmits(
    client, in_review, staff_key, member_key, django_capture_on_commit_callbacks
):
    body = ok(
        call_api(
            client,
            "post",
            f"/api/v1/applications/{in_review.pk}/request-changes/",
            {"reason": "Ask for fewer hours."},
            key=staff_key,
        )
    )
    assert (body["status"], body["decision_reason"]) == ("changes_requested", "Ask for fewer hours.")
    mine = ok(call_api(client, "get", f"/api/v1/applications/{in_review.pk}/", key=member_key))
    assert mine["allowed_actions"] == ["edit", "submit", "withdraw"]
    with django_capture_on_commit_callbacks(execute=True):
        ok(call_api(client, "post", f"/api/v1/applications/{in_review.pk}/submit/", key=member_key))
    assert ok(call_api(client, "get", f"/api/v1/applications/{in_review.pk}/", key=member_key))["status"] == "approved"


def test_request_changes_on_a_draft_is_a_conflict(client, application, staff_key):
    response = call_api(
        client, "post", f"/api/v1/applications/{application.pk}/request-changes/", {"reason": "x"}, key=staff_key
    )
    assert response.status_code == 409


# --- Reviewers: assigning -------------------------------------------------------------------


@pytest.fixture
def peer_call(hub, resource):
    return CallFactory(hub=hub, track=Track.PEER_REVIEW, slug="lyon-peer", resources=[resource], funded=10 * REQUEST)


@pytest.fixture
def peer_app(peer_call, project, member):
    return set_status(
        ApplicationFactory(call=peer_call, project=project, applicant=member, title="Folding"), A.IN_REVIEW
    )


def test_staff_assign_reviewers_by_id(client, peer_app, staff_key, rita):
    raul = reviewer_at(peer_app.hub, "Raul Reviewer")
    body = ok(
        call_api(
            client,
            "post",
            f"/api/v1/applications/{peer_app.pk}/assign-reviewers/",
            {"reviewers": [rita.pk, raul.pk]},
            key=staff_key,
        )
    )
    assert [(r["reviewer"]["name"], r["status"]) for r in body["assigned"]] == [
        ("Rita Reviewer", "assigned"),
        ("Raul Reviewer", "assigned"),
    ]
    detail = ok(call_api(client, "get", f"/api/v1/applications/{peer_app.pk}/", key=staff_key))
    assert [r["reviewer"]["id"] for r in detail["reviews"]] == [rita.pk, raul.pk]
    assert detail["allowed_actions"] == ["approve", "reject", "assign_reviewers", "request_changes"]


def test_staff_assign_reviewers_automatically(client, peer_app, staff_key, rita):
    reviewer_at(peer_app.hub, "Raul Reviewer")
    body = ok(
        call_api(client, "post", f"/api/v1/applications/{peer_app.pk}/assign-reviewers/", {"auto": True}, key=staff_key)
    )
    assert len(body["assigned"]) == 2  # the call's min_reviewers
    assert Review.objects.filter(application=peer_app).count() == 2


def test_assigning_a_team_member_is_refused_and_nothing_is_assigned(client, peer_app, staff_key, teammate, rita):
    MembershipFactory(user=teammate, hub=peer_app.hub, role=Role.REVIEWER)
    response = call_api(
        client,
        "post",
        f"/api/v1/applications/{peer_app.pk}/assign-reviewers/",
        {"reviewers": [rita.pk, teammate.pk]},
        key=staff_key,
    )
    assert response.status_code == 400
    assert "conflict of interest" in response.json()["reviewers"][0]
    assert not Review.objects.exists()


def test_assign_reviewers_input_errors(client, peer_app, staff_key, other_staff):
    url = f"/api/v1/applications/{peer_app.pk}/assign-reviewers/"
    assert "reviewers" in call_api(client, "post", url, {}, key=staff_key).json()
    assert "auto" in call_api(client, "post", url, {"reviewers": [1], "auto": True}, key=staff_key).json()
    response = call_api(client, "post", url, {"reviewers": [other_staff.pk]}, key=staff_key)
    assert response.status_code == 400
    assert response.json()["reviewers"] == [f"User {other_staff.pk} is not a member of Lyon AI Gigafactory."]


def test_assigning_reviewers_to_a_draft_is_a_conflict(client, application, staff_key, rita):
    response = call_api(
        client,
        "post",
        f"/api/v1/applications/{application.pk}/assign-reviewers/",
        {"reviewers": [rita.pk]},
        key=staff_key,
    )
    assert response.status_code == 409


# --- Reviews --------------------------------------------------------------------------------


@pytest.fixture
def review(peer_app, staff, rita):
    return services.review_assign(application=peer_app, reviewer=rita, acting_user=staff)


@pytest.fixture
def rita_key(hub, rita):
    return make_api_key(hub=hub, user=rita, scope="write")[1]


def test_reviewer_lists_and_reads_assigned_reviews(client, review, rita_key, peer_app):
    [item] = ok(call_api(client, "get", "/api/v1/reviews/", key=rita_key))["results"]
    assert item["id"] == review.pk
    assert item["status"] == "assigned"
    assert item["application"]["title"] == "Folding"
    assert item["application"]["call"]["track"] == "peer_review"
    body = ok(call_api(client, "get", f"/api/v1/reviews/{review.pk}/", key=rita_key))
    assert [c["key"] for c in body["rubric"]] == ["excellence", "impact", "feasibility"]
    assert body["application"]["abstract"] == peer_app.abstract
    assert body["application"]["resource_rows"][0]["gpu_hours"] == 100
    assert body["can_submit"] is True
    assert ok(call_api(client, "get", "/api/v1/reviews/?status=submitted", key=rita_key))["count"] == 0


def test_reviewer_submits_a_review(client, review, rita_key):
    payload = {
        "scores": SCORES,
        "comment_for_applicant": "Solid plan.",
        "private_comment": "Fund it.",
        "recommendation": "approve",
        "no_conflict_declared": True,
    }
    body = ok(call_api(client, "post", f"/api/v1/reviews/{review.pk}/submit/", payload, key=rita_key))
    assert (body["status"], body["recommendation"], body["scores"]) == ("submitted", "approve", SCORES)
    assert body["can_submit"] is False
    again = call_api(client, "post", f"/api/v1/reviews/{review.pk}/submit/", payload, key=rita_key)
    assert again.status_code == 409


def test_review_errors_come_per_criterion(client, review, rita_key):
    payload = {"scores": {"excellence": 5, "impact": 9}, "recommendation": "maybe", "no_conflict_declared": True}
    response = call_api(client, "post", f"/api/v1/reviews/{review.pk}/submit/", payload, key=rita_key)
    assert response.status_code == 400
    assert set(response.json()) == {"scores", "recommendation"}
    payload = {"scores": {"excellence": 5}, "recommendation": "approve", "no_conflict_declared": False}
    response = call_api(client, "post", f"/api/v1/reviews/{review.pk}/submit/", payload, key=rita_key)
    assert response.status_code == 400
    assert set(response.json()) == {"score_impact", "score_feasibility", "no_conflict_declared"}


def test_reviewer_declines_with_a_reason(client, review, rita_key):
    assert "reason" in call_api(client, "post", f"/api/v1/reviews/{review.pk}/decline/", {}, key=rita_key).json()
    body = ok(
        call_api(client, "post", f"/api/v1/reviews/{review.pk}/decline/", {"reason": "I know the PI."}, key=rita_key)
    )
    assert body["status"] == "declined"
    assert (
        call_api(client, "post", f"/api/v1/reviews/{review.pk}/decline/", {"reason": "x"}, key=rita_key).status_code
        == 409
    )


def test_other_people_cannot_see_a_review(client, review, member, staff):
    for person in (member, staff):
        client.force_login(person)
        assert client.get(f"/api/v1/reviews/{review.pk}/").status_code == 404
        assert (
            client.post(
                f"/api/v1/reviews/{review.pk}/decline/", {"reason": "x"}, content_type="application/json"
            ).status_code
            == 404
        )
        assert ok(client.get("/api/v1/reviews/"))["count"] == 0


def test_peer_review_end_to_end_and_the_applicant_sees_the_comments(client, hub, peer_app, staff_key, member_key):
    reviewers = [reviewer_at(hub, "Rita Reviewer"), reviewer_at(hub, "Raul Reviewer")]
    ok(
        call_api(
            client,
            "post",
            f"/api/v1/applications/{peer_app.pk}/assign-reviewers/",
            {"reviewers": [r.pk for r in reviewers]},
            key=staff_key,
        )
    )
    early = call_api(client, "post", f"/api/v1/applications/{peer_app.pk}/approve/", key=staff_key)
    assert early.status_code == 409
    for n, reviewer in enumerate(reviewers):
        review = Review.objects.get(application=peer_app, reviewer=reviewer)
        client.force_login(reviewer)
        payload = {
            "scores": SCORES,
            "comment_for_applicant": f"Comment {n}",
            "private_comment": "secret",
            "recommendation": Recommendation.APPROVE,
            "no_conflict_declared": True,
        }
        ok(client.post(f"/api/v1/reviews/{review.pk}/submit/", payload, content_type="application/json"))
    client.logout()
    mine = ok(call_api(client, "get", f"/api/v1/applications/{peer_app.pk}/", key=member_key))
    assert mine["reviewer_comments"] == []  # not while staff decide
    assert mine["reviews"] == []
    ok(call_api(client, "post", f"/api/v1/applications/{peer_app.pk}/approve/", key=staff_key))
    mine = ok(call_api(client, "get", f"/api/v1/applications/{peer_app.pk}/", key=member_key))
    assert mine["status"] == "approved"
    assert mine["reviewer_comments"] == ["Comment 0", "Comment 1"]
    assert "secret" not in str(mine)


# --- Allocations and statements -------------------------------------------------------------


@pytest.fixture
def provider(hub):
    return make_provider(hub=hub)


@pytest.fixture
def gpu(provider):
    return make_resource(provider=provider, rate=1000)


@pytest.fixture
def budget_call(hub, gpu):
    return make_call(hub=hub, resources=[gpu])


@pytest.fixture
def allocation(budget_call, project):
    return make_allocation(call=budget_call, granted=100_000, project=project)


@pytest.fixture
def partner_key(hub, provider):
    return make_api_key(hub=hub, partner=provider.partner, scope="read")[1]


def charge(provider, gpu, allocation, *external_ids, gpu_seconds=3600):
    usage_ingest(
        provider=provider,
        records=[record(gpu, allocation, e, gpu_seconds=gpu_seconds) for e in external_ids],
        acting_label="test",
    )


def test_member_sees_allocation_with_balance(client, provider, gpu, allocation, member_key):
    charge(provider, gpu, allocation, "j1", "j2", gpu_seconds=5400)  # 1.5 GPU-hours each
    [item] = ok(call_api(client, "get", "/api/v1/allocations/", key=member_key))["results"]
    assert item["id"] == allocation.pk
    assert (item["granted_millicredits"], item["used_millicredits"], item["balance_millicredits"]) == (
        100_000,
        3000,
        97_000,
    )
    assert (item["granted_credits"], item["used_credits"], item["balance_credits"]) == ("100", "3", "97")
    assert item["used_percent"] == 3
    assert item["overage_millicredits"] == 0
    assert item["resources"] == [{"id": gpu.pk, "name": gpu.name, "gpu_model": "NVIDIA H100 80GB"}]
    assert ok(call_api(client, "get", f"/api/v1/allocations/{allocation.pk}/", key=member_key)) == item


def test_overage_is_shown(client, provider, gpu, allocation, member_key):
    charge(provider, gpu, allocation, "big", gpu_seconds=3600 * 120)  # 120 credits on a 100-credit grant
    body = ok(call_api(client, "get", f"/api/v1/allocations/{allocation.pk}/", key=member_key))
    assert (body["used_millicredits"], body["balance_millicredits"], body["overage_millicredits"]) == (
        120_000,
        0,
        20_000,
    )
    assert body["used_percent"] == 120


def test_allocation_list_is_scoped(client, hub, other_hub, allocation, stranger, staff, other_staff):
    elsewhere = make_allocation(
        call=make_call(hub=other_hub, resources=[make_resource(provider=make_provider(hub=other_hub))]), granted=5000
    )
    client.force_login(stranger)
    assert ids(client.get("/api/v1/allocations/")) == []
    assert client.get(f"/api/v1/allocations/{allocation.pk}/").status_code == 404
    client.force_login(staff)
    assert ids(client.get("/api/v1/allocations/")) == [allocation.pk]
    client.force_login(other_staff)
    assert ids(client.get("/api/v1/allocations/")) == [elsewhere.pk]
    assert client.get(f"/api/v1/allocations/{allocation.pk}/statement/").status_code == 404


def test_allocation_filters(client, hub, budget_call, project, allocation, member):
    other = make_allocation(call=budget_call, granted=5000, project=project, slurm_account="acct-x")
    client.force_login(member)
    assert ids(client.get("/api/v1/allocations/?slurm_account=acct-x")) == [other.pk]
    assert set(ids(client.get(f"/api/v1/allocations/?project={project.pk}&status=active"))) == {allocation.pk, other.pk}
    assert ids(client.get("/api/v1/allocations/?status=expired")) == []
    assert ids(client.get("/api/v1/allocations/?hub=helsinki")) == []


def test_partner_key_sees_only_allocations_on_its_resources(client, hub, provider, allocation, partner_key):
    other_provider = make_provider(hub=hub)
    other_call = make_call(hub=hub, resources=[make_resource(provider=other_provider)])
    foreign = make_allocation(call=other_call, granted=5000)
    assert ids(call_api(client, "get", "/api/v1/allocations/", key=partner_key)) == [allocation.pk]
    assert call_api(client, "get", f"/api/v1/allocations/{allocation.pk}/", key=partner_key).status_code == 200
    assert call_api(client, "get", f"/api/v1/allocations/{foreign.pk}/", key=partner_key).status_code == 404
    assert call_api(client, "get", f"/api/v1/allocations/{foreign.pk}/statement/", key=partner_key).status_code == 404
    assert ok(call_api(client, "get", f"/api/v1/allocations/{allocation.pk}/statement/", key=partner_key))["count"] == 1


def test_statement_lists_entries_with_running_balance(client, provider, gpu, allocation, member_key):
    charge(provider, gpu, allocation, "j1", gpu_seconds=3600 * 30)
    charge(provider, gpu, allocation, "j2", gpu_seconds=3600 * 90)  # 70 from the allocation, 20 overage
    body = ok(call_api(client, "get", f"/api/v1/allocations/{allocation.pk}/statement/", key=member_key))
    assert body["count"] == 3
    rows = [(r["kind"], r["amount_millicredits"], r["balance_after_millicredits"]) for r in body["results"]]
    assert rows == [("grant", 100_000, 100_000), ("usage", -30_000, 70_000), ("usage", -70_000, 0)]
    assert body["results"][1]["amount_credits"] == "-30"
    assert body["results"][0]["kind_label"] == "Allocation granted"
    overage = ok(
        call_api(client, "get", f"/api/v1/allocations/{allocation.pk}/statement/?account=overage", key=member_key)
    )
    assert [(r["amount_millicredits"], r["balance_after_millicredits"]) for r in overage["results"]] == [
        (-20_000, -20_000)
    ]
    page = ok(
        call_api(client, "get", f"/api/v1/allocations/{allocation.pk}/statement/?page_size=2&page=2", key=member_key)
    )
    assert [r["balance_after_millicredits"] for r in page["results"]] == [0]
    bad = call_api(client, "get", f"/api/v1/allocations/{allocation.pk}/statement/?account=bank", key=member_key)
    assert bad.status_code == 400
    assert "account" in bad.json()


# --- Query counts: they do not grow with rows ------------------------------------------------


@pytest.fixture
def warm_key(client):
    """Use a key once so that the next request does not update ``last_used_at``."""

    def warm(plaintext):
        assert call_api(client, "get", "/api/v1/me/", key=plaintext).status_code in (200, 403)
        return plaintext

    return warm


@pytest.mark.parametrize("rows", [3, 25])
@pytest.mark.parametrize("page_size", [None, 100])
def test_project_list_query_count(client, hub, member, rows, page_size, django_assert_num_queries):
    for i in range(rows):
        project = ProjectFactory(hub=hub, pi=member if i % 2 else UserFactory())
        ProjectMember.objects.get_or_create(project=project, user=member)
    client.force_login(member)
    with django_assert_num_queries(5):  # session, user, member's roles, count, projects with hub/pi/org and members
        response = client.get("/api/v1/projects/", {"page_size": page_size} if page_size else {})
    assert ok(response)["count"] == rows


@pytest.mark.parametrize("rows", [3, 25])
@pytest.mark.parametrize("page_size", [None, 100])
def test_application_list_query_count(
    client, hub, call, project, member, member_key, rows, page_size, warm_key, django_assert_num_queries
):
    for i in range(rows):
        app = ApplicationFactory(call=call, project=project, applicant=member)
        if i % 3 == 0:
            set_status(app, A.IN_REVIEW)
    warm_key(member_key)
    with django_assert_num_queries(4):  # key, member's roles, count, applications with call/hub/project/applicant
        response = call_api(
            client, "get", "/api/v1/applications/", {"page_size": page_size} if page_size else {}, key=member_key
        )
    assert ok(response)["count"] == rows


@pytest.mark.parametrize("rows", [3, 25])
def test_staff_application_list_query_count(client, hub, call, staff, rows, django_assert_num_queries):
    for _ in range(rows):
        ApplicationFactory(call=call)
    client.force_login(staff)
    with django_assert_num_queries(5):  # session, user, staff's roles, count, applications
        response = client.get("/api/v1/applications/", {"page_size": 100})
    assert ok(response)["count"] == rows


@pytest.mark.parametrize("rows", [3, 25])
def test_review_list_query_count(client, hub, peer_call, staff, rita, rows, django_assert_num_queries):
    for _ in range(rows):
        app = set_status(ApplicationFactory(call=peer_call), A.IN_REVIEW)
        services.review_assign(application=app, reviewer=rita, acting_user=staff)
    client.force_login(rita)
    with django_assert_num_queries(4):  # session, user, count, reviews with application/call/hub/project
        response = client.get("/api/v1/reviews/", {"page_size": 100})
    assert ok(response)["count"] == rows


@pytest.mark.parametrize("rows", [3, 25])
@pytest.mark.parametrize("page_size", [None, 100])
def test_allocation_list_query_count(
    client, hub, provider, gpu, budget_call, project, member, rows, page_size, django_assert_num_queries
):
    for i in range(rows):
        allocation = make_allocation(call=budget_call, granted=10_000, project=project)
        if i % 2:
            charge(provider, gpu, allocation, f"job-{i}")
    client.force_login(member)
    # session, user, member's roles, count, allocations with ledger figures, the calls' resources
    with django_assert_num_queries(6):
        response = client.get("/api/v1/allocations/", {"page_size": page_size} if page_size else {})
    assert ok(response)["count"] == rows


@pytest.mark.parametrize("rows", [3, 25])
def test_partner_allocation_list_query_count(
    client, hub, provider, gpu, budget_call, partner_key, rows, warm_key, django_assert_num_queries
):
    for _ in range(rows):
        make_allocation(call=budget_call, granted=10_000)
    warm_key(partner_key)
    with django_assert_num_queries(4):  # key, count, allocations with ledger figures, the calls' resources
        response = call_api(client, "get", "/api/v1/allocations/", {"page_size": 100}, key=partner_key)
    assert ok(response)["count"] == rows


@pytest.mark.parametrize("rows", [3, 25])
@pytest.mark.parametrize("page_size", [None, 100])
def test_statement_query_count(client, provider, gpu, allocation, member, rows, page_size, django_assert_num_queries):
    for i in range(rows - 1):  # one report each: a statement line each
        charge(provider, gpu, allocation, f"job-{i}", gpu_seconds=60)
    client.force_login(member)
    with django_assert_num_queries(6):  # session, user, member's roles, allocation, count, entries with transactions
        response = client.get(
            f"/api/v1/allocations/{allocation.pk}/statement/", {"page_size": page_size} if page_size else {}
        )
    assert ok(response)["count"] == rows
    assert UsageRecord.objects.count() == rows - 1


def test_resource_request_rows_are_replaced_not_added(client, application, resource, member_key):
    rows = [{"resource": resource.pk, "gpu_hours": 7}]
    ok(call_api(client, "patch", f"/api/v1/applications/{application.pk}/", {"resource_rows": rows}, key=member_key))
    ok(call_api(client, "patch", f"/api/v1/applications/{application.pk}/", {"resource_rows": rows}, key=member_key))
    assert list(ResourceRequest.objects.filter(application=application).values_list("gpu_hours", flat=True)) == [7]


def test_staff_key_for_another_hub_sees_nothing_here(client, hub, other_hub, staff, in_review):
    MembershipFactory(user=staff, hub=other_hub, role=Role.STAFF)
    key = make_api_key(hub=other_hub, user=staff, scope="write")[1]
    assert call_api(client, "get", f"/api/v1/applications/{in_review.pk}/", key=key).status_code == 404
    assert call_api(client, "post", f"/api/v1/applications/{in_review.pk}/approve/", key=key).status_code == 404
