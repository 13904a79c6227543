"""Bulk workflow actions on applications in the Django admin (the same services as the pages),
and the Slurm import upload on usage records."""

from pathlib import Path

import pytest
from django.contrib.admin import helpers
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from compute import services
from compute.models import MILLI, Allocation, Application, AppStatus, Recommendation, Review, Track, UsageRecord
from gigafactory.audit import audit_trail_for
from hubs.models import Role
from tests.conftest import verified_user
from tests.factories import MembershipFactory

from .factories import ApplicationFactory, CallFactory, ProjectFactory, set_status
from .usage_factories import make_allocation, make_provider, make_resource
from .usage_factories import make_call as make_usage_call

A = AppStatus
CHANGELIST = reverse("admin:compute_application_changelist")
SACCT = Path(__file__).parent / "data" / "sacct_sample.txt"


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def in_review(call, **kwargs):
    project = ProjectFactory(hub=call.hub)
    return set_status(ApplicationFactory(call=call, project=project, applicant=project.pi, **kwargs), A.IN_REVIEW)


def act(client, action, apps, **extra):
    data = {"action": action, helpers.ACTION_CHECKBOX_NAME: [a.pk for a in apps], "index": "0"} | extra
    return client.post(CHANGELIST, data)


def confirm(client, action, apps, **extra):
    """The intermediate page's form posts back without "index", with "apply"."""
    data = {"action": action, helpers.ACTION_CHECKBOX_NAME: [a.pk for a in apps], "apply": "1"} | extra
    return client.post(CHANGELIST, data)


@pytest.fixture
def fast_call(hub):
    return CallFactory(hub=hub, track=Track.FAST_LANE, funded=10_000 * MILLI)


@pytest.fixture
def peer_call(hub):
    return CallFactory(hub=hub, track=Track.PEER_REVIEW, min_reviewers=2, funded=10_000 * MILLI)


def reviewer_at(hub, name):
    user = verified_user(name=name)
    MembershipFactory(user=user, hub=hub, role=Role.REVIEWER)
    return user


def test_the_changelist_offers_the_workflow_actions(staff_client):
    response = staff_client.get(CHANGELIST)
    assert response.status_code == 200
    actions = dict(response.context["action_form"].fields["action"].choices)
    for name in (
        "auto_assign_reviewers",
        "approve_applications",
        "reject_applications",
        "request_changes_on_applications",
        "export_csv",
    ):
        assert name in actions


def test_approve_action_grants_the_full_amount_through_the_service(staff_client, staff, fast_call, peer_call):
    apps = [in_review(fast_call), in_review(fast_call)]
    unreviewed = in_review(peer_call)
    response = act(staff_client, "approve_applications", [*apps, unreviewed])
    assert response.status_code == 302
    for app in apps:
        app.refresh_from_db()
        assert (app.status, app.granted_millicredits, app.decided_by) == (A.APPROVED, app.requested_millicredits, staff)
        assert Allocation.objects.get(application=app).granted_millicredits == app.requested_millicredits
        assert "application.approve" in {e.action for e in audit_trail_for(app)}
    unreviewed.refresh_from_db()
    assert unreviewed.status == A.IN_REVIEW
    texts = messages_of(response)
    assert "2 approved." in texts
    assert any(t.startswith(f"{unreviewed}: Peer review needs 2 submitted reviews") for t in texts)


def test_reject_action_asks_for_a_reason_on_an_intermediate_page(staff_client, fast_call):
    apps = [in_review(fast_call, title="First"), in_review(fast_call, title="Second")]
    page = act(staff_client, "reject_applications", apps)
    assert page.status_code == 200
    assert page.templates[0].name == "compute/staff/admin_reason.html"
    html = page.content.decode()
    assert "First" in html
    assert "Second" in html
    assert 'name="reason"' in html
    assert set(Application.objects.values_list("status", flat=True)) == {A.IN_REVIEW}

    empty = confirm(staff_client, "reject_applications", apps, reason="")
    assert empty.status_code == 200
    assert empty.context["form"].errors["reason"]
    assert set(Application.objects.values_list("status", flat=True)) == {A.IN_REVIEW}

    done = confirm(staff_client, "reject_applications", apps, reason="The budget is spent on this topic.")
    assert done.status_code == 302
    assert done.url == CHANGELIST
    for app in apps:
        app.refresh_from_db()
        assert (app.status, app.decision_reason) == (A.REJECTED, "The budget is spent on this topic.")
        assert "application.reject" in {e.action for e in audit_trail_for(app)}
        assert app.applicant.notifications.filter(kind="application.rejected").exists()
    assert "2 rejected." in messages_of(done)


def test_request_changes_action_with_a_reason(staff_client, fast_call):
    app = in_review(fast_call)
    already = set_status(in_review(fast_call), A.REJECTED)
    page = act(staff_client, "request_changes_on_applications", [app, already])
    assert page.status_code == 200
    done = confirm(staff_client, "request_changes_on_applications", [app, already], reason="Add a data plan.")
    assert done.status_code == 302
    app.refresh_from_db()
    assert (app.status, app.decision_reason) == (A.CHANGES_REQUESTED, "Add a data plan.")
    texts = messages_of(done)
    assert "1 sent back for changes." in texts
    assert any(t.startswith(f"{already}: This application is rejected") for t in texts)


def test_auto_assign_action_assigns_the_calls_minimum(staff_client, staff, peer_call, hub):
    reviewers = [reviewer_at(hub, "Rita"), reviewer_at(hub, "Raul"), reviewer_at(hub, "Rosa")]
    app = in_review(peer_call)
    response = act(staff_client, "auto_assign_reviewers", [app])
    assert response.status_code == 302
    assert Review.objects.filter(application=app).count() == 2
    assert set(Review.objects.values_list("assigned_by", flat=True)) == {staff.pk}
    assert "1 applications given reviewers." in messages_of(response)
    for review in Review.objects.all():
        assert review.reviewer in [*reviewers, staff]
        assert audit_trail_for(review).get().action == "review.assigned"


def test_the_peer_review_flow_ends_with_the_admin_approve_action(staff_client, staff, peer_call, hub):
    app = in_review(peer_call)
    rita, raul = reviewer_at(hub, "Rita"), reviewer_at(hub, "Raul")
    for reviewer in (rita, raul):
        review = services.review_assign(application=app, reviewer=reviewer, acting_user=staff)
        services.review_submit(
            review=review,
            acting_user=reviewer,
            scores={"excellence": 4, "impact": 4, "feasibility": 4},
            recommendation=Recommendation.APPROVE,
            no_conflict_declared=True,
        )
    act(staff_client, "approve_applications", [app])
    app.refresh_from_db()
    assert app.status == A.APPROVED


def test_staff_of_another_hub_cannot_act_on_these_applications(client, other_staff, fast_call):
    app = in_review(fast_call)
    client.force_login(other_staff)
    act(client, "approve_applications", [app])
    confirm(client, "reject_applications", [app], reason="No.")
    app.refresh_from_db()
    assert app.status == A.IN_REVIEW
    assert client.get(reverse("admin:compute_application_change", args=[app.pk])).status_code == 302


# --- Slurm import ---------------------------------------------------------------------------


@pytest.fixture
def cluster(hub):
    provider = make_provider(hub=hub, name="Lyon HPC")
    h100 = make_resource(provider=provider, name="H100 partition", rate=1000, partition="gpu-h100")
    a100 = make_resource(provider=provider, name="A100 partition", rate=600, partition="gpu-a100")
    make_allocation(call=make_usage_call(hub=hub, resources=[h100]), granted=200_000, slurm_account="p-climate")
    make_allocation(call=make_usage_call(hub=hub, resources=[a100]), granted=200_000, slurm_account="p-genomics")
    return provider


def upload(client, provider, **extra):
    data = {"provider": provider.pk, "file": SimpleUploadedFile("sacct.txt", SACCT.read_bytes())} | extra
    return client.post(reverse("admin:compute_usagerecord_import_sacct"), data)


def test_the_usage_list_links_to_the_slurm_import(staff_client):
    html = staff_client.get(reverse("admin:compute_usagerecord_changelist")).content.decode()
    assert reverse("admin:compute_usagerecord_import_sacct") in html
    assert staff_client.get(reverse("admin:compute_usagerecord_import_sacct")).status_code == 200


def test_slurm_upload_imports_and_reports_unmapped_rows_with_line_numbers(staff_client, cluster):
    dry = upload(staff_client, cluster, dry_run="on")
    assert dry.status_code == 200
    assert dry.context["report"].created > 0
    assert not UsageRecord.objects.exists()

    response = upload(staff_client, cluster)
    assert response.status_code == 200
    report = response.context["report"]
    assert report.created == UsageRecord.objects.count() > 0
    assert report.duplicates == 0
    html = response.content.decode()
    for note in report.unmapped:
        assert f"<td>{note.line}</td>" in html
    assert "unknown Slurm account &#x27;p-nobody&#x27;" in html

    again = upload(staff_client, cluster)
    assert (again.context["report"].created, again.context["report"].duplicates) == (0, report.created)
    assert UsageRecord.objects.count() == report.created


def test_slurm_upload_offers_only_providers_of_my_hubs(client, other_staff, cluster):
    client.force_login(other_staff)
    response = upload(client, cluster)
    assert response.status_code == 200
    assert "provider" in response.context["form"].errors
    assert not UsageRecord.objects.exists()


def test_a_file_that_is_not_sacct_output_is_an_error_next_to_the_file(staff_client, cluster):
    data = {"provider": cluster.pk, "file": SimpleUploadedFile("x.csv", b"a,b,c\n1,2,3\n")}
    response = staff_client.post(reverse("admin:compute_usagerecord_import_sacct"), data)
    assert response.status_code == 200
    assert response.context["form"].errors["file"]
    assert not UsageRecord.objects.exists()
