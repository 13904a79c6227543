"""The reviewer's pages: the list of assigned reviews and the review form (rubric, comments,
recommendation, conflict-of-interest declaration, declining)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from compute import services
from compute.models import MILLI, AppStatus, Recommendation, Review, ReviewStatus, Track
from gigafactory.audit import audit_trail_for
from gigafactory.models import AuditEvent
from hubs.models import Role
from tests.conftest import verified_user
from tests.factories import MembershipFactory

from .factories import ApplicationFactory, CallFactory, ProjectFactory, set_status

A = AppStatus
RUBRIC = [
    {"key": "excellence", "label": "Scientific or technical excellence"},
    {"key": "impact", "label": "Expected impact"},
    {"key": "feasibility", "label": "Feasibility and readiness to use the GPUs"},
]
GOOD = {
    "score_excellence": "5",
    "score_impact": "4",
    "score_feasibility": "3",
    "comment_for_applicant": "A clear plan.",
    "private_comment": "Fund it.",
    "recommendation": "approve",
    "no_conflict_declared": "on",
}


def reviewer_at(hub, name):
    user = verified_user(name=name)
    MembershipFactory(user=user, hub=hub, role=Role.REVIEWER)
    return user


@pytest.fixture
def call(hub):
    today = timezone.localdate()
    return CallFactory(
        hub=hub,
        track=Track.PEER_REVIEW,
        title="Large-scale research",
        min_reviewers=2,
        rubric=RUBRIC,
        review_cutoffs=[(today - timedelta(days=5)).isoformat(), (today + timedelta(days=12)).isoformat()],
        funded=1_000 * MILLI,
    )


@pytest.fixture
def application(call, hub, member):
    project = ProjectFactory(hub=hub, pi=member, title="Protein folding")
    app = ApplicationFactory(
        call=call, project=project, applicant=member, title="Folding at scale", abstract="We fold proteins."
    )
    return set_status(app, A.IN_REVIEW)


@pytest.fixture
def rita(hub):
    return reviewer_at(hub, "Rita Reviewer")


@pytest.fixture
def raul(hub):
    return reviewer_at(hub, "Raul Reviewer")


@pytest.fixture
def review(application, staff, rita):
    return services.review_assign(application=application, reviewer=rita, acting_user=staff)


def review_url(review):
    return reverse("compute:reviewer_review", args=[review.pk])


def test_my_reviews_lists_only_my_reviews_with_call_deadline_and_status(client, review, application, staff, raul):
    other = services.review_assign(application=application, reviewer=raul, acting_user=staff)
    client.force_login(review.reviewer)
    response = client.get(reverse("compute:reviewer_reviews"))
    assert response.status_code == 200
    assert [r.pk for r in response.context["page"]] == [review.pk]
    assert other.pk not in [r.pk for r in response.context["page"]]
    html = response.content.decode()
    assert "Folding at scale" in html
    assert "Large-scale research" in html
    # The deadline is the call's next cut-off, not a past one.
    next_cutoff = timezone.localdate() + timedelta(days=12)
    assert response.context["page"][0].deadline == next_cutoff
    assert next_cutoff.isoformat() in html
    assert "Assigned" in html


def test_my_reviews_has_a_fixed_number_of_queries(client, hub, staff, rita, member, call, django_assert_num_queries):
    def make(n):
        for _ in range(n):
            project = ProjectFactory(hub=hub, pi=member)
            app = set_status(ApplicationFactory(call=call, project=project, applicant=member), A.IN_REVIEW)
            services.review_assign(application=app, reviewer=rita, acting_user=staff)

    client.force_login(rita)
    url = reverse("compute:reviewer_reviews")
    make(2)
    # session, user, COUNT of my reviews, the page of reviews (with application, call, hub,
    # project); navigation: unread notifications, the user's hub roles
    with django_assert_num_queries(6):
        assert client.get(url).status_code == 200
    make(20)
    with django_assert_num_queries(6):
        response = client.get(url)
    assert len(response.context["page"]) == 22


def test_my_reviews_is_paginated(client, hub, staff, rita, member, call):
    for _ in range(27):
        project = ProjectFactory(hub=hub, pi=member)
        app = set_status(ApplicationFactory(call=call, project=project, applicant=member), A.IN_REVIEW)
        services.review_assign(application=app, reviewer=rita, acting_user=staff)
    client.force_login(rita)
    first = client.get(reverse("compute:reviewer_reviews"))
    second = client.get(reverse("compute:reviewer_reviews"), {"page": 2})
    assert len(first.context["page"]) == 25
    assert len(second.context["page"]) == 2


def test_the_review_form_shows_the_application_and_the_rubric(client, review, application):
    client.force_login(review.reviewer)
    response = client.get(review_url(review))
    assert response.status_code == 200
    html = response.content.decode()
    for text in (
        "We fold proteins.",
        application.justification,
        "Scientific or technical excellence",
        "Expected impact",
        "I have no conflict of interest",
        "Decline: I have a conflict",
        "Comment for the applicant",
        "Private comment for hub staff",
    ):
        assert text in html
    # Each criterion is a labelled group of radio buttons from 1 to 5.
    assert html.count('type="radio" name="score_excellence"') == 5
    assert '<label class="radio" for="id_score_impact_4">' in html


def test_another_reviewer_gets_404_for_a_review_not_assigned_to_them(client, review, raul, member):
    for user in (raul, member):
        client.force_login(user)
        assert client.get(review_url(review)).status_code == 404
        assert client.post(review_url(review), GOOD).status_code == 404
        decline = reverse("compute:reviewer_decline", args=[review.pk])
        assert client.post(decline, {"reason": "x"}).status_code == 404
    review.refresh_from_db()
    assert review.status == ReviewStatus.ASSIGNED


def test_anonymous_visitors_are_sent_to_log_in(client, review):
    response = client.get(review_url(review))
    assert response.status_code == 302
    assert "/accounts/login/" in response.url


def test_submitting_a_valid_review_saves_scores_and_tells_staff(client, review, application, staff, raul):
    second = services.review_assign(application=application, reviewer=raul, acting_user=staff)
    services.review_submit(
        review=second,
        acting_user=raul,
        scores={"excellence": 3, "impact": 3, "feasibility": 3},
        recommendation=Recommendation.REVISE,
        no_conflict_declared=True,
    )
    client.force_login(review.reviewer)
    response = client.post(review_url(review), GOOD)
    assert response.status_code == 302
    assert response.url == reverse("compute:reviewer_reviews")
    review.refresh_from_db()
    assert review.status == ReviewStatus.SUBMITTED
    assert review.scores == {"excellence": 5, "impact": 4, "feasibility": 3}
    assert (review.recommendation, review.no_conflict_declared) == (Recommendation.APPROVE, True)
    assert (review.comment_for_applicant, review.private_comment) == ("A clear plan.", "Fund it.")
    assert "review.submitted" in {e.action for e in audit_trail_for(review)}
    # With both reviews in, the hub's staff are told the application waits for a decision.
    assert staff.notifications.filter(kind="application.reviews_complete").exists()
    # The page now shows the submitted review, read-only.
    page = client.get(review_url(review))
    assert "Submitted on" in page.content.decode()
    assert page.context["can_review"] is False


def test_invalid_scores_give_per_field_errors_and_save_nothing(client, review):
    client.force_login(review.reviewer)
    events = AuditEvent.objects.count()
    data = GOOD | {"score_impact": "", "recommendation": "", "no_conflict_declared": ""}
    del data["score_feasibility"]
    response = client.post(review_url(review), data)
    assert response.status_code == 400
    form = response.context["form"]
    assert form.errors["score_impact"] == ["Score 'Expected impact' from 1 to 5."]
    assert form.errors["score_feasibility"] == ["Score 'Feasibility and readiness to use the GPUs' from 1 to 5."]
    assert form.errors["recommendation"] == ["Recommend approve, reject or revise."]
    assert "no_conflict_declared" in form.errors
    assert "score_excellence" not in form.errors
    html = response.content.decode()
    assert "Score &#x27;Expected impact&#x27; from 1 to 5." in html
    # What was typed stays in the form.
    assert 'value="5" id="id_score_excellence_4" checked' in html or 'id="id_score_excellence_4" checked' in html
    assert "A clear plan." in html
    review.refresh_from_db()
    assert (review.status, review.scores, review.comment_for_applicant) == (ReviewStatus.ASSIGNED, {}, "")
    assert AuditEvent.objects.count() == events


def test_a_score_out_of_range_is_refused_next_to_its_field(client, review):
    client.force_login(review.reviewer)
    response = client.post(review_url(review), GOOD | {"score_excellence": "9"})
    assert response.status_code == 400
    assert "score_excellence" in response.context["form"].errors
    review.refresh_from_db()
    assert review.status == ReviewStatus.ASSIGNED


def test_declining_with_a_reason(client, review, staff):
    client.force_login(review.reviewer)
    response = client.post(
        reverse("compute:reviewer_decline", args=[review.pk]), {"reason": "I co-authored with the PI."}
    )
    assert response.status_code == 302
    review.refresh_from_db()
    assert (review.status, review.private_comment) == (ReviewStatus.DECLINED, "I co-authored with the PI.")
    assert staff.notifications.filter(kind="review.declined").exists()
    # A declined review no longer opens the application to the reviewer, and cannot be submitted.
    assert client.get(review_url(review)).status_code == 200
    assert client.post(review_url(review), GOOD).status_code == 302
    review.refresh_from_db()
    assert review.status == ReviewStatus.DECLINED


def test_declining_without_a_reason_shows_the_error_and_changes_nothing(client, review):
    client.force_login(review.reviewer)
    response = client.post(reverse("compute:reviewer_decline", args=[review.pk]), {"reason": "  "})
    assert response.status_code == 400
    assert response.context["decline_form"].errors["reason"]
    review.refresh_from_db()
    assert review.status == ReviewStatus.ASSIGNED


def test_a_review_on_a_withdrawn_application_cannot_be_submitted(client, review, application, member):
    services.application_withdraw(application=application, acting_user=member)
    client.force_login(review.reviewer)
    response = client.post(review_url(review), GOOD, follow=True)
    assert response.status_code == 200
    assert "it no longer takes reviews" in response.content.decode()
    assert Review.objects.get(pk=review.pk).status == ReviewStatus.ASSIGNED
