"""Peer review: assigning reviewers without conflicts of interest, scoring, and the decision."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from compute import access, services
from compute.models import MILLI, AppStatus, Recommendation, Review, ReviewStatus, Track
from gigafactory.audit import audit_trail_for
from gigafactory.errors import InvalidTransition
from hubs.models import MembershipStatus, Profile, Role
from tests.conftest import verified_user
from tests.factories import MembershipFactory, OrganisationFactory

from .factories import ApplicationFactory, CallFactory, ProjectFactory, set_status

A = AppStatus
REQUEST = 100 * MILLI
SCORES = {"excellence": 5, "impact": 4, "feasibility": 3}


def reviewer_at(hub, *, name=None, role=Role.REVIEWER, organisation=None):
    user = verified_user(**({"name": name} if name else {}))
    MembershipFactory(user=user, hub=hub, role=role)
    if organisation is not None:
        Profile.objects.create(user=user, organisation=organisation)
    return user


@pytest.fixture
def university(db):
    return OrganisationFactory(name="Université Lumière")


@pytest.fixture
def call(hub):
    return CallFactory(hub=hub, track=Track.PEER_REVIEW, min_reviewers=2, funded=10 * REQUEST)


@pytest.fixture
def project(hub, member):
    return ProjectFactory(hub=hub, pi=member, title="Protein folding")


@pytest.fixture
def application(call, project, member):
    return set_status(ApplicationFactory(call=call, project=project, applicant=member, title="Folding"), A.IN_REVIEW)


@pytest.fixture
def rita(hub):
    return reviewer_at(hub, name="Rita Reviewer")


@pytest.fixture
def raul(hub):
    return reviewer_at(hub, name="Raul Reviewer")


def submit(review, reviewer, **overrides):
    values = {
        "scores": SCORES,
        "comment_for_applicant": "Solid plan.",
        "private_comment": "Fund it.",
        "recommendation": Recommendation.APPROVE,
        "no_conflict_declared": True,
    } | overrides
    return services.review_submit(review=review, acting_user=reviewer, **values)


# --- Assigning ------------------------------------------------------------------------------


def test_staff_assign_a_reviewer_who_is_told(application, staff, rita, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        review = services.review_assign(application=application, reviewer=rita, acting_user=staff)
    assert (review.status, review.reviewer, review.assigned_by) == (ReviewStatus.ASSIGNED, rita, staff)
    assert rita.notifications.get().title == f"Please review 'Folding' ({application.call})"
    assert audit_trail_for(review).get().action == "review.assigned"
    assert access.review_for_reviewer(rita, review.pk) == review
    assert access.application_for(rita, application.pk) == application


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.STAFF, Role.ADMIN])
def test_reviewers_staff_and_admins_of_the_hub_may_review(application, staff, hub, role):
    services.review_assign(application=application, reviewer=reviewer_at(hub, role=role), acting_user=staff)
    assert application.reviews.count() == 1


def test_plain_members_inactive_memberships_and_other_hubs_may_not_review(application, staff, hub, other_hub):
    plain = reviewer_at(hub, role=Role.MEMBER)
    suspended = reviewer_at(hub)
    suspended.memberships.update(status=MembershipStatus.SUSPENDED)
    elsewhere = reviewer_at(other_hub)
    for user in (plain, suspended, elsewhere):
        with pytest.raises(ValidationError) as exc:
            services.review_assign(application=application, reviewer=user, acting_user=staff)
        assert exc.value.message_dict["reviewer"] == [f"{user} is not a reviewer of Lyon AI Gigafactory."]
    assert not application.reviews.exists()


def test_a_member_of_the_project_is_refused_for_conflict_of_interest(application, staff, hub, member):
    colleague = reviewer_at(hub, name="Cora Colleague")
    application.project.members.create(user=colleague)
    member.memberships.update(role=Role.REVIEWER)  # the applicant may review, but not this
    for user, text in ((colleague, "Cora Colleague"), (member, str(member))):
        with pytest.raises(ValidationError) as exc:
            services.review_assign(application=application, reviewer=user, acting_user=staff)
        assert exc.value.message_dict["reviewer"] == [f"{text} is on the project's team (conflict of interest)."]


def test_a_reviewer_from_the_applicants_organisation_is_refused(application, staff, hub, member, university):
    Profile.objects.create(user=member, organisation=university)
    same = reviewer_at(hub, name="Sam Same-Org", organisation=university)
    with pytest.raises(ValidationError) as exc:
        services.review_assign(application=application, reviewer=same, acting_user=staff)
    assert exc.value.message_dict["reviewer"] == [
        "Sam Same-Org belongs to Université Lumière, as the applicant or the project does (conflict of interest)."
    ]


def test_a_reviewer_from_the_projects_organisation_is_refused(application, staff, hub, university):
    application.project.organisation = university
    application.project.save()
    same = reviewer_at(hub, organisation=university)
    other = reviewer_at(hub, organisation=OrganisationFactory())
    with pytest.raises(ValidationError, match="conflict of interest"):
        services.review_assign(application=application, reviewer=same, acting_user=staff)
    services.review_assign(application=application, reviewer=other, acting_user=staff)


def test_only_staff_of_the_hub_assign_and_only_in_review(application, rita, other_staff, member, staff):
    for user in (other_staff, member):
        with pytest.raises(PermissionDenied):
            services.review_assign(application=application, reviewer=rita, acting_user=user)
    set_status(application, A.APPROVED)
    with pytest.raises(InvalidTransition, match="this one is approved"):
        services.review_assign(application=application, reviewer=rita, acting_user=staff)
    with pytest.raises(InvalidTransition):
        services.reviews_auto_assign(application=application, acting_user=staff)
    assert not application.reviews.exists()


def test_the_same_reviewer_is_not_assigned_twice(application, staff, rita):
    services.review_assign(application=application, reviewer=rita, acting_user=staff)
    with pytest.raises(ValidationError, match="already assigned"):
        services.review_assign(application=application, reviewer=rita, acting_user=staff)


# --- Automatic assignment -------------------------------------------------------------------


def _load(reviewer, n, *, call, hub, status=A.IN_REVIEW):
    for _ in range(n):
        other = set_status(ApplicationFactory(call=call, project=ProjectFactory(hub=hub)), status)
        Review.objects.create(application=other, reviewer=reviewer)


def test_auto_assign_picks_the_least_loaded_eligible_reviewers(application, staff, hub, call, university, member):
    busy = reviewer_at(hub, name="Busy")
    idle = reviewer_at(hub, name="Idle")
    some = reviewer_at(hub, name="Some")
    conflicted = reviewer_at(hub, name="Conflicted", organisation=university)
    Profile.objects.create(user=member, organisation=university)
    _load(busy, 3, call=call, hub=hub)
    _load(some, 1, call=call, hub=hub)
    _load(idle, 4, call=call, hub=hub, status=A.APPROVED)  # reviews on closed applications are no load
    _load(staff, 5, call=call, hub=hub)
    reviews = services.reviews_auto_assign(application=application, acting_user=staff)
    assert [r.reviewer for r in reviews] == [idle, some]
    assert conflicted not in [r.reviewer for r in reviews]
    # Enough reviewers now: nothing more unless asked.
    assert services.reviews_auto_assign(application=application, acting_user=staff) == []
    more = services.reviews_auto_assign(application=application, acting_user=staff, count=1)
    assert [r.reviewer for r in more] == [busy]


def test_auto_assign_replaces_declined_reviews(application, staff, rita, raul, hub):
    first = services.review_assign(application=application, reviewer=rita, acting_user=staff)
    services.review_decline(review=first, acting_user=rita, reason="My former student.")
    reviews = services.reviews_auto_assign(application=application, acting_user=staff)
    assert len(reviews) == 2
    assert rita not in [r.reviewer for r in reviews]
    assert application.reviews.filter(status=ReviewStatus.ASSIGNED).count() == 2


def test_auto_assign_without_eligible_reviewers_says_so(application, staff, university):
    # The only possible reviewer is the staff member, who works where the project does.
    Profile.objects.create(user=staff, organisation=university)
    application.project.organisation = university
    application.project.save()
    with pytest.raises(ValidationError) as exc:
        services.reviews_auto_assign(application=application, acting_user=staff)
    assert exc.value.message_dict["reviewer"] == [
        "No eligible reviewer without a conflict of interest at Lyon AI Gigafactory."
    ]
    assert not application.reviews.exists()


# --- Submitting and declining ---------------------------------------------------------------


def test_the_assigned_reviewer_submits_scores_and_a_recommendation(application, staff, rita):
    review = services.review_assign(application=application, reviewer=rita, acting_user=staff)
    submit(review, rita)
    review.refresh_from_db()
    assert review.status == ReviewStatus.SUBMITTED
    assert review.scores == SCORES
    assert review.average_score == 4.0
    assert review.submitted_at is not None
    assert review.no_conflict_declared
    assert "review.submitted" in audit_trail_for(review).values_list("action", flat=True)


def test_only_the_assigned_reviewer_may_submit(application, staff, rita, raul):
    review = services.review_assign(application=application, reviewer=rita, acting_user=staff)
    with pytest.raises(PermissionDenied):
        submit(review, raul)
    with pytest.raises(PermissionDenied):
        submit(review, staff)


@pytest.mark.parametrize(
    ("scores", "field", "message"),
    [
        (
            {"excellence": 5, "impact": 4},
            "score_feasibility",
            "Score 'Feasibility and readiness to use the GPUs' from 1 to 5.",
        ),
        ({**SCORES, "impact": 0}, "score_impact", "Score 'Expected impact' from 1 to 5."),
        ({**SCORES, "impact": 6}, "score_impact", "Score 'Expected impact' from 1 to 5."),
        ({**SCORES, "impact": "high"}, "score_impact", "Score 'Expected impact' from 1 to 5."),
        ({**SCORES, "impact": True}, "score_impact", "Score 'Expected impact' from 1 to 5."),
        ({**SCORES, "impact": 3.5}, "score_impact", "Score 'Expected impact' from 1 to 5."),
        ({**SCORES, "beauty": 5}, "scores", "Not a criterion of this call: beauty."),
    ],
)
def test_every_criterion_must_be_scored_from_1_to_5(application, staff, rita, scores, field, message):
    review = services.review_assign(application=application, reviewer=rita, acting_user=staff)
    with pytest.raises(ValidationError) as exc:
        submit(review, rita, scores=scores)
    assert exc.value.message_dict == {field: [message]}
    review.refresh_from_db()
    assert review.status == ReviewStatus.ASSIGNED


def test_scores_given_as_digits_are_accepted(application, staff, rita):
    review = services.review_assign(application=application, reviewer=rita, acting_user=staff)
    submit(review, rita, scores={"excellence": "5", "impact": "4", "feasibility": 3})
    review.refresh_from_db()
    assert review.scores == SCORES


def test_the_conflict_declaration_and_a_recommendation_are_required(application, staff, rita):
    review = services.review_assign(application=application, reviewer=rita, acting_user=staff)
    with pytest.raises(ValidationError) as exc:
        submit(review, rita, no_conflict_declared=False, recommendation="maybe")
    assert set(exc.value.message_dict) == {"no_conflict_declared", "recommendation"}


def test_a_review_is_submitted_once_and_only_while_in_review(application, staff, rita, raul):
    review = services.review_assign(application=application, reviewer=rita, acting_user=staff)
    submit(review, rita)
    with pytest.raises(InvalidTransition, match="already submitted"):
        submit(review, rita)
    late = services.review_assign(application=application, reviewer=raul, acting_user=staff)
    set_status(application, A.WITHDRAWN)
    with pytest.raises(InvalidTransition, match="no longer takes reviews"):
        submit(late, raul)


def test_staff_hear_when_enough_reviews_are_in(application, staff, rita, raul):
    first = services.review_assign(application=application, reviewer=rita, acting_user=staff)
    second = services.review_assign(application=application, reviewer=raul, acting_user=staff)
    submit(first, rita)
    assert not staff.notifications.filter(kind="application.reviews_complete").exists()
    submit(second, raul)
    assert staff.notifications.get(kind="application.reviews_complete").title == (
        "'Folding' has 2 reviews and waits for your decision"
    )


def test_declining_declares_a_conflict_and_tells_staff(application, staff, rita):
    review = services.review_assign(application=application, reviewer=rita, acting_user=staff)
    with pytest.raises(ValidationError):
        services.review_decline(review=review, acting_user=rita, reason=" ")
    services.review_decline(review=review, acting_user=rita, reason="I co-authored with the PI.")
    review.refresh_from_db()
    assert review.status == ReviewStatus.DECLINED
    assert staff.notifications.get(kind="review.declined").body == "I co-authored with the PI."
    with pytest.raises(InvalidTransition):
        submit(review, rita)
    with pytest.raises(InvalidTransition):
        services.review_decline(review=review, acting_user=rita, reason="again")


# --- The decision ---------------------------------------------------------------------------


def test_peer_review_approval_needs_the_minimum_of_submitted_reviews(application, staff, rita, raul, hub):
    first = services.review_assign(application=application, reviewer=rita, acting_user=staff)
    second = services.review_assign(application=application, reviewer=raul, acting_user=staff)
    with pytest.raises(InvalidTransition) as exc:
        services.application_approve(application=application, acting_user=staff)
    assert exc.value.message == (
        "Peer review needs 2 submitted reviews before approval; 0 so far. Assign reviewers or wait for their reviews."
    )
    submit(first, rita)
    services.review_decline(review=second, acting_user=raul, reason="Conflict")  # declined reviews do not count
    with pytest.raises(InvalidTransition, match="1 so far"):
        services.application_approve(application=application, acting_user=staff)
    assert access.reviews_missing(application) == 1
    third = services.review_assign(application=application, reviewer=reviewer_at(hub), acting_user=staff)
    submit(third, third.reviewer, recommendation=Recommendation.REVISE)
    assert access.reviews_missing(application) == 0
    services.application_approve(application=application, acting_user=staff, amount_millicredits=REQUEST // 2)
    assert application.status == A.APPROVED
    assert application.allocation.granted_millicredits == REQUEST // 2


def test_staff_may_reject_a_peer_review_application_without_reviews(application, staff):
    services.application_reject(application=application, acting_user=staff, reason="Outside the call's scope.")
    assert application.status == A.REJECTED


def test_reviews_are_visible_only_to_their_reviewer(application, staff, rita, raul):
    review = services.review_assign(application=application, reviewer=rita, acting_user=staff)
    with pytest.raises(Http404):
        access.review_for_reviewer(raul, review.pk)
    with pytest.raises(Http404):
        access.application_for(raul, application.pk)
    assert access.can_review(rita, review)
    assert not access.can_review(raul, review)
