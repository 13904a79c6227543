"""A peer-review application: submitted and screened, reviewed by two reviewers in the browser,
approved by hub staff with the Django admin's bulk action, and the applicant sees the
allocation and the notification."""

import re

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value, yield_hotp_counters_from_time

from compute import services
from compute.models import MILLI, Allocation, AppStatus, Review, ReviewStatus, Track
from hubs.models import Role
from tests.compute.factories import CallFactory, ComputeProviderFactory, ComputeResourceFactory
from tests.conftest import enable_mfa, verified_user
from tests.factories import HubFactory, MembershipFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery"  # tests.factories.UserFactory's password


def totp_now(secret: str) -> str:
    counter = next(iter(yield_hotp_counters_from_time()))
    return format_hotp_value(hotp_value(secret, counter))


def log_in(page, email, totp_secret=None):
    page.goto("/accounts/login/")
    page.locator("#id_login").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    if totp_secret:
        page.locator("#id_code").fill(totp_now(totp_secret))
        page.get_by_role("button", name="Sign In").click()
    page.get_by_role("link", name="Log in").wait_for(state="detached")


def review_in_browser(page, reviewer, title, scores, recommendation):
    log_in(page, reviewer.email)
    page.goto("/reviews/")
    row = page.get_by_test_id("review-row").filter(has_text=title)
    assert row.get_by_test_id("review-status").inner_text() == "Assigned"
    row.get_by_role("link", name=re.compile("^Review")).click()
    page.get_by_role("heading", name=title).wait_for()
    # The reviewer reads the application and its screening report before scoring.
    assert "Civilian use declared" in page.get_by_test_id("screening").inner_text()
    form = page.get_by_test_id("review-form")
    for criterion, score in scores.items():
        form.get_by_role("group", name=criterion).get_by_label(f"{score} (").check()
    form.get_by_label("Comment for the applicant").fill(f"{reviewer.name}: a convincing plan.")
    form.get_by_label("Private comment for hub staff").fill(f"{reviewer.name}: no concerns.")
    form.get_by_role("group", name="Your recommendation").get_by_label(recommendation).check()
    form.get_by_label("I have no conflict of interest").check()
    form.get_by_role("button", name="Submit the review").click()
    page.get_by_text(f"Thank you: your review of “{title}” is submitted.").wait_for()
    row = page.get_by_test_id("review-row").filter(has_text=title)
    assert row.get_by_test_id("review-status").inner_text() == "Submitted"


def test_peer_review_application_reviewed_twice_approved_in_the_admin_seen_by_the_applicant(new_page):
    hub = HubFactory(name="Lyon AI Gigafactory", slug="lyon", city="Lyon", country="FR")
    resource = ComputeResourceFactory(provider=ComputeProviderFactory(hub=hub, name="Lyon HPC"), name="H100 cluster")
    call = CallFactory(
        hub=hub,
        title="Lyon Large-Scale AI Research",
        track=Track.PEER_REVIEW,
        min_reviewers=2,
        resources=[resource],
        funded=500_000 * MILLI,
    )
    applicant = verified_user(email="sofia@uni-lyon.example.org", name="Sofia Moreau")
    MembershipFactory(user=applicant, hub=hub, role=Role.MEMBER)
    staff = verified_user(email="julien@lyon.example.org", name="Julien Staff")
    MembershipFactory(user=staff, hub=hub, role=Role.STAFF)
    staff.is_staff = True
    staff.save(update_fields=["is_staff"])
    secret = enable_mfa(staff)
    rita = verified_user(email="rita@review.example.org", name="Rita Reviewer")
    raul = verified_user(email="raul@review.example.org", name="Raul Reviewer")
    for reviewer in (rita, raul):
        MembershipFactory(user=reviewer, hub=hub, role=Role.REVIEWER)

    # The applicant applies through the services; screening runs eagerly on commit.
    project = services.project_create(hub=hub, title="Radiology foundation model", acting_user=applicant)
    title = "Radiology FM: multimodal scale-up"
    application = services.application_create(
        project=project,
        call=call,
        acting_user=applicant,
        title=title,
        abstract="Scaling an open radiology model with paired reports.",
        justification="Eight nodes for three weeks.",
        civilian_use=True,
    )
    services.application_update_draft(
        application=application, acting_user=applicant, resource_rows=[(resource, 120_000)]
    )
    services.application_submit(application=application, acting_user=applicant)
    application.refresh_from_db()
    assert application.status == AppStatus.IN_REVIEW
    for reviewer in (rita, raul):
        services.review_assign(application=application, reviewer=reviewer, acting_user=staff)

    # Two reviewers, each in their own browser, score the rubric and submit.
    review_in_browser(
        new_page(),
        rita,
        title,
        {"Scientific or technical excellence": 5, "Expected impact": 4, "Feasibility and readiness to use the GPUs": 4},
        "Approve",
    )
    review_in_browser(
        new_page(),
        raul,
        title,
        {"Scientific or technical excellence": 4, "Expected impact": 4, "Feasibility and readiness to use the GPUs": 3},
        "Approve",
    )
    assert set(Review.objects.values_list("status", flat=True)) == {ReviewStatus.SUBMITTED}
    assert Review.objects.get(reviewer=rita).scores == {"excellence": 5, "impact": 4, "feasibility": 4}

    # Hub staff log in with their second factor and approve it with the admin's bulk action.
    admin = new_page()
    log_in(admin, staff.email, totp_secret=secret)
    admin.goto("/admin/compute/application/?status__exact=in_review")
    row = admin.locator("#result_list tbody tr").filter(has_text=title)
    row.locator("input.action-select").check()
    admin.locator("select[name=action]").select_option("approve_applications")
    admin.get_by_role("button", name="Go").click()
    admin.get_by_text("1 approved.").wait_for()
    application.refresh_from_db()
    assert (application.status, application.decided_by) == (AppStatus.APPROVED, staff)
    allocation = Allocation.objects.get(application=application)
    assert allocation.granted_millicredits == 120_000 * MILLI

    # The applicant sees the decision, the allocation and the notification.
    page = new_page()
    log_in(page, applicant.email)
    page.goto("/inbox/")
    inbox = page.get_by_test_id("inbox")
    inbox.get_by_text(f"'{title}' is approved: 120,000 credits").wait_for()
    inbox.get_by_role("link", name=re.compile("is approved")).click()
    assert page.get_by_test_id("application-status").inner_text() == "Approved"
    assert page.get_by_test_id("allocation-granted").inner_text() == "120,000 credits"
    assert page.get_by_test_id("allocation-balance").inner_text() == "120,000 credits"
    comments = page.get_by_test_id("review-comments").inner_text()
    assert "Rita Reviewer: a convincing plan." in comments
    assert "no concerns" not in page.content()  # private comments stay with staff
    page.goto("/dashboard/")
    assert page.get_by_test_id("unread-count").is_visible()
