"""Hub staff's review queue (/staff/queue/) and application page (/staff/applications/<pk>/):
filters, search, pagination, bulk actions through the services, assigning reviewers,
decisions, hub scoping and the MFA requirement."""

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from compute import services
from compute.models import (
    MILLI,
    Allocation,
    Application,
    AppStatus,
    Recommendation,
    Review,
    ReviewStatus,
    ScreeningResult,
    Track,
)
from gigafactory.audit import audit_trail_for
from hubs.models import Profile, Role
from tests.conftest import verified_user
from tests.factories import MembershipFactory, OrganisationFactory

from .factories import ApplicationFactory, CallFactory, ProjectFactory, set_status

A = AppStatus
HTMX = {"HX-Request": "true"}
QUEUE = reverse("compute:staff_queue")
BULK = reverse("compute:staff_queue_bulk")
SCORES = {"excellence": 4, "impact": 5, "feasibility": 3}


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def reviewer_at(hub, name, organisation=None):
    user = verified_user(name=name)
    MembershipFactory(user=user, hub=hub, role=Role.REVIEWER)
    if organisation is not None:
        Profile.objects.create(user=user, organisation=organisation)
    return user


def waiting(call, *, days=1, status=A.IN_REVIEW, title=None, applicant=None, project_title=None, **kwargs):
    """An application of ``call`` in ``status``, submitted ``days`` ago."""
    project_kwargs = {"hub": call.hub}
    if applicant is not None:
        project_kwargs["pi"] = applicant
    if project_title:
        project_kwargs["title"] = project_title
    project = ProjectFactory(**project_kwargs)
    app = ApplicationFactory(call=call, project=project, applicant=project.pi, **({"title": title} if title else {}))
    app = set_status(app, status)
    Application.objects.filter(pk=app.pk).update(submitted_at=timezone.now() - timedelta(days=days), **kwargs)
    app.refresh_from_db()
    return app


def ids_of(response):
    return [a.pk for a in response.context["page"]]


@pytest.fixture
def peer_call(hub):
    return CallFactory(hub=hub, track=Track.PEER_REVIEW, title="Research 2026", min_reviewers=2, funded=10_000 * MILLI)


@pytest.fixture
def fast_call(hub):
    return CallFactory(hub=hub, track=Track.FAST_LANE, title="Fast lane", funded=10_000 * MILLI)


@pytest.fixture
def other_call(other_hub):
    return CallFactory(hub=other_hub, track=Track.FAST_LANE, title="Helsinki fast lane", funded=10_000 * MILLI)


@pytest.fixture
def rita(hub):
    return reviewer_at(hub, "Rita Reviewer")


@pytest.fixture
def raul(hub):
    return reviewer_at(hub, "Raul Reviewer")


def reviewed(app, staff, reviewers, recommendation=Recommendation.APPROVE):
    for reviewer in reviewers:
        review = services.review_assign(application=app, reviewer=reviewer, acting_user=staff)
        services.review_submit(
            review=review,
            acting_user=reviewer,
            scores=SCORES,
            comment_for_applicant=f"Public note by {reviewer.name}",
            private_comment=f"Private note by {reviewer.name}",
            recommendation=recommendation,
            no_conflict_declared=True,
        )
    return app


# --- The queue ------------------------------------------------------------------------------


def test_the_queue_lists_waiting_applications_of_my_hubs_oldest_first(staff_client, fast_call, other_call, peer_call):
    old = waiting(fast_call, days=10, title="Old one")
    new = waiting(peer_call, days=1, title="New one")
    waiting(fast_call, status=A.APPROVED, title="Decided")
    waiting(fast_call, status=A.DRAFT, title="A draft")
    elsewhere = waiting(other_call, days=30, title="Helsinki's")
    response = staff_client.get(QUEUE)
    assert response.status_code == 200
    assert ids_of(response) == [old.pk, new.pk]
    assert response.context["waiting"] == 2
    html = response.content.decode()
    assert 'data-testid="waiting-count">2<' in html
    assert "Helsinki&#x27;s" not in html
    assert elsewhere.pk not in ids_of(response)
    # Each row: title, project, applicant, call and track, credits, age, reviews, screening.
    for text in ("Old one", old.project.title, old.applicant.email, "Fast lane", "100", "1\xa0day", "Research 2026"):
        assert text in html
    newest = staff_client.get(QUEUE, {"sort": "newest"})
    assert ids_of(newest) == [new.pk, old.pk]


def test_status_filter_shows_other_states_but_never_drafts(staff_client, fast_call):
    approved = waiting(fast_call, status=A.APPROVED)
    changes = waiting(fast_call, status=A.CHANGES_REQUESTED)
    draft = waiting(fast_call, status=A.DRAFT)
    assert ids_of(staff_client.get(QUEUE, {"status": "approved"})) == [approved.pk]
    assert ids_of(staff_client.get(QUEUE, {"status": "open"})) == [changes.pk]
    everything = ids_of(staff_client.get(QUEUE, {"status": "all"}))
    assert set(everything) == {approved.pk, changes.pk}
    assert draft.pk not in everything
    assert ids_of(staff_client.get(QUEUE, {"status": "draft"})) != [draft.pk]


def test_filters_by_hub_call_track_and_age(staff, client, hub, other_hub, fast_call, peer_call, other_call):
    MembershipFactory(user=staff, hub=other_hub, role=Role.STAFF)  # staff of both hubs
    client.force_login(staff)
    lyon_fast = waiting(fast_call, days=1)
    lyon_peer = waiting(peer_call, days=5)
    helsinki = waiting(other_call, days=20)
    assert set(ids_of(client.get(QUEUE))) == {lyon_fast.pk, lyon_peer.pk, helsinki.pk}
    assert set(ids_of(client.get(QUEUE, {"hub": "lyon"}))) == {lyon_fast.pk, lyon_peer.pk}
    assert ids_of(client.get(QUEUE, {"hub": "helsinki"})) == [helsinki.pk]
    assert ids_of(client.get(QUEUE, {"call": peer_call.pk})) == [lyon_peer.pk]
    assert ids_of(client.get(QUEUE, {"track": "peer_review"})) == [lyon_peer.pk]
    assert set(ids_of(client.get(QUEUE, {"track": "fast_lane"}))) == {lyon_fast.pk, helsinki.pk}
    assert set(ids_of(client.get(QUEUE, {"age": "2"}))) == {lyon_peer.pk, helsinki.pk}
    assert ids_of(client.get(QUEUE, {"age": "7"})) == [helsinki.pk]
    assert ids_of(client.get(QUEUE, {"age": "14"})) == [helsinki.pk]
    assert ids_of(client.get(QUEUE, {"age": "7", "hub": "lyon"})) == []
    # Nonsense filters fall back to no filter rather than failing.
    assert client.get(QUEUE, {"age": "x", "call": "abc", "status": "nope"}).status_code == 200


def test_search_by_title_applicant_email_and_project(staff_client, hub, fast_call):
    alice = verified_user(email="alice@uni-lyon.example.org")
    MembershipFactory(user=alice, hub=hub)
    by_title = waiting(fast_call, title="Protein folding at scale")
    by_email = waiting(fast_call, applicant=alice)
    by_project = waiting(fast_call, project_title="Wind turbines")
    assert ids_of(staff_client.get(QUEUE, {"q": "protein"})) == [by_title.pk]
    assert ids_of(staff_client.get(QUEUE, {"q": "uni-lyon"})) == [by_email.pk]
    assert ids_of(staff_client.get(QUEUE, {"q": "TURBINE"})) == [by_project.pk]
    assert ids_of(staff_client.get(QUEUE, {"q": "nothing like it"})) == []


def test_the_queue_is_paginated_by_25(staff_client, fast_call):
    for days in range(30):
        waiting(fast_call, days=days + 1)
    first = staff_client.get(QUEUE)
    second = staff_client.get(QUEUE, {"page": 2})
    assert len(first.context["page"]) == 25
    assert len(second.context["page"]) == 5
    assert first.context["waiting"] == 30
    assert set(ids_of(first)).isdisjoint(ids_of(second))


def test_htmx_filtering_returns_only_the_results(staff_client, fast_call):
    waiting(fast_call, title="Only row")
    response = staff_client.get(QUEUE, {"q": "only"}, headers=HTMX)
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="results"')
    assert "Only row" in html
    assert "<html" not in html
    assert "HX-Request" in response.headers["Vary"]


def test_rows_show_reviews_done_and_needed_and_screening_failures(staff_client, staff, peer_call, rita, raul):
    app = waiting(peer_call, days=3)
    reviewed(app, staff, [rita])
    services.review_assign(application=app, reviewer=raul, acting_user=staff)
    for key, passed in (("a", True), ("b", False), ("c", False)):
        ScreeningResult.objects.create(application=app, round=1, check_key=key, label=key, passed=passed, reason="-")
    ScreeningResult.objects.create(application=app, round=0, check_key="old", label="old", passed=False, reason="-")
    row = staff_client.get(QUEUE).context["page"][0]
    assert (row.reviews_done, row.reviews_open, row.reviews_needed, row.screening_failures) == (1, 1, 2, 2)
    html = staff_client.get(QUEUE).content.decode()
    assert "1/2" in html
    assert "2 failed" in html


def test_the_queue_costs_the_same_queries_for_3_and_30_applications(
    staff_client, staff, peer_call, fast_call, rita, django_assert_num_queries
):
    def add(n):
        for i in range(n):
            app = waiting(peer_call if i % 2 else fast_call, days=i + 1)
            ScreeningResult.objects.create(application=app, round=1, check_key="x", label="x", passed=False, reason="")
            if i % 2:
                services.review_assign(application=app, reviewer=rita, acting_user=staff)

    add(3)
    # session, user, MFA authenticators (staff middleware), the user's hub roles, the calls for
    # the filters (with their hubs), COUNT for the pager (also the number waiting, as nothing is
    # filtered), the page of rows (counts annotated), unread notifications (navigation)
    with django_assert_num_queries(8):
        response = staff_client.get(QUEUE)
    assert len(response.context["page"]) == 3
    assert response.context["waiting"] == 3
    add(27)
    with django_assert_num_queries(8):
        response = staff_client.get(QUEUE, {"status": "waiting", "q": "", "age": ""})
    assert len(response.context["page"]) == 25
    assert response.context["waiting"] == 30
    # Filtered, the number waiting is a COUNT of its own.
    with django_assert_num_queries(9):
        response = staff_client.get(QUEUE, {"status": "waiting", "track": Track.PEER_REVIEW})
    assert response.context["page"].paginator.count == 14
    assert response.context["waiting"] == 30


def test_staff_of_another_hub_do_not_see_these_applications(client, other_staff, fast_call):
    app = waiting(fast_call)
    client.force_login(other_staff)
    response = client.get(QUEUE)
    assert response.status_code == 200
    assert ids_of(response) == []
    assert response.context["waiting"] == 0
    assert client.get(reverse("compute:staff_application", args=[app.pk])).status_code == 404
    assert client.post(reverse("compute:staff_application_decide", args=[app.pk, "approve"])).status_code == 404
    assert client.post(reverse("compute:staff_application_assign", args=[app.pk]), {"auto": "1"}).status_code == 404
    response = client.post(BULK, {"action": "approve", "ids": [app.pk], "confirmed": "1"})
    assert response.status_code == 302
    assert messages_of(response) == ["None of the selected applications is in your hubs."]
    app.refresh_from_db()
    assert app.status == A.IN_REVIEW


def test_members_who_are_not_staff_are_refused(client, member, fast_call):
    app = waiting(fast_call)
    client.force_login(member)
    assert client.get(QUEUE).status_code == 403
    assert client.post(BULK, {"action": "approve", "ids": [app.pk], "confirmed": "1"}).status_code == 403
    assert client.get(reverse("compute:staff_application", args=[app.pk])).status_code == 404


def test_staff_without_mfa_are_sent_to_set_it_up(client, hub, fast_call):
    app = waiting(fast_call)
    no_mfa = verified_user()
    MembershipFactory(user=no_mfa, hub=hub, role=Role.STAFF)
    client.force_login(no_mfa)
    for url in (QUEUE, reverse("compute:staff_application", args=[app.pk])):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url == reverse("mfa_activate_totp")
    response = client.post(BULK, {"action": "approve", "ids": [app.pk], "confirmed": "1"})
    assert response.url == reverse("mfa_activate_totp")
    app.refresh_from_db()
    assert app.status == A.IN_REVIEW


# --- Bulk actions -----------------------------------------------------------------------------


def test_a_bulk_action_asks_for_confirmation_first(staff_client, fast_call, other_call):
    apps = [waiting(fast_call), waiting(fast_call)]
    foreign = waiting(other_call)
    response = staff_client.post(BULK, {"action": "approve", "ids": [a.pk for a in apps] + [foreign.pk]})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Approve (full amount): 2 applications" in html
    assert "1 of the selected applications is not in your hubs" in html
    assert [a.pk for a in response.context["applications"]] == [a.pk for a in apps]
    assert set(Application.objects.values_list("status", flat=True)) == {A.IN_REVIEW}


def test_bulk_approve_grants_through_the_service(staff_client, staff, fast_call, peer_call, rita, raul):
    ready = [waiting(fast_call), waiting(fast_call)]
    unreviewed = waiting(peer_call)
    ids = [a.pk for a in [*ready, unreviewed]]
    response = staff_client.post(BULK, {"action": "approve", "ids": ids, "confirmed": "1", "next": QUEUE + "?q=x"})
    assert response.status_code == 302
    assert response.url == QUEUE + "?q=x"
    for app in ready:
        app.refresh_from_db()
        assert (app.status, app.decided_by, app.granted_millicredits) == (A.APPROVED, staff, 100 * MILLI)
        assert Allocation.objects.filter(application=app).exists()
        assert "application.approve" in {e.action for e in audit_trail_for(app)}
    unreviewed.refresh_from_db()
    assert unreviewed.status == A.IN_REVIEW
    texts = messages_of(response)
    assert "2 applications approved." in texts
    assert any("Peer review needs 2 submitted reviews" in t for t in texts)


def test_bulk_reject_needs_a_reason_and_sends_it(staff_client, staff, fast_call):
    apps = [waiting(fast_call), waiting(fast_call)]
    ids = [a.pk for a in apps]
    response = staff_client.post(BULK, {"action": "reject", "ids": ids, "confirmed": "1", "reason": " "})
    assert response.status_code == 400
    assert response.context["form"].errors["reason"]
    assert set(Application.objects.values_list("status", flat=True)) == {A.IN_REVIEW}
    response = staff_client.post(BULK, {"action": "reject", "ids": ids, "confirmed": "1", "reason": "Out of scope."})
    assert response.status_code == 302
    for app in apps:
        app.refresh_from_db()
        assert (app.status, app.decision_reason) == (A.REJECTED, "Out of scope.")
        assert "application.reject" in {e.action for e in audit_trail_for(app)}
        assert app.applicant.notifications.get(kind="application.rejected").body == "Out of scope."
    assert "2 applications rejected." in messages_of(response)


def test_bulk_request_changes(staff_client, fast_call):
    app = waiting(fast_call)
    decided = waiting(fast_call, status=A.APPROVED)
    response = staff_client.post(
        BULK,
        {"action": "request_changes", "ids": [app.pk, decided.pk], "confirmed": "1", "reason": "Split the request."},
    )
    app.refresh_from_db()
    assert (app.status, app.decision_reason) == (A.CHANGES_REQUESTED, "Split the request.")
    assert "application.request_changes" in {e.action for e in audit_trail_for(app)}
    texts = messages_of(response)
    assert "1 application sent back for changes." in texts
    assert any(t.startswith(f"“{decided}”: This application is approved") for t in texts)


def test_bulk_auto_assign_picks_eligible_reviewers(staff_client, staff, peer_call, rita, raul, hub):
    colleague_org = OrganisationFactory()
    apps = [waiting(peer_call), waiting(peer_call)]
    Profile.objects.update_or_create(user=apps[0].applicant, defaults={"organisation": colleague_org})
    reviewer_at(hub, "Conflicted Carla", organisation=colleague_org)
    response = staff_client.post(BULK, {"action": "auto_assign", "ids": [a.pk for a in apps], "confirmed": "1"})
    assert "2 applications given reviewers." in messages_of(response)
    # Reviewers, staff and admins of the hub may review, least loaded first; never someone with a
    # conflict of interest (Carla shares the first applicant's organisation).
    first, second = (set(Review.objects.filter(application=a).values_list("reviewer__name", flat=True)) for a in apps)
    assert len(first) == 2
    assert first <= {"Rita Reviewer", "Raul Reviewer", "Sam Staff"}
    assert "Conflicted Carla" in second  # the least loaded for the second one
    for app in apps:
        for review in Review.objects.filter(application=app):
            assert audit_trail_for(review).get().action == "review.assigned"
    assert Review.objects.filter(assigned_by=staff).count() == 4
    # Once every application has its reviewers, running it again changes nothing.
    again = staff_client.post(BULK, {"action": "auto_assign", "ids": [a.pk for a in apps], "confirmed": "1"})
    assert Review.objects.count() == 4
    assert sum("already has the reviewers it needs" in t for t in messages_of(again)) == 2


def test_a_bulk_post_without_selection_or_with_an_unknown_action_changes_nothing(staff_client, fast_call):
    app = waiting(fast_call)
    response = staff_client.post(BULK, {"action": "approve", "confirmed": "1"})
    assert response.status_code == 302
    assert "Select at least one application." in messages_of(response)
    response = staff_client.post(BULK, {"action": "delete_everything", "ids": [app.pk], "confirmed": "1"})
    assert response.status_code == 302
    response = staff_client.post(
        BULK, {"action": "approve", "ids": [app.pk], "confirmed": "1", "next": "https://evil.example/"}
    )
    assert response.url == QUEUE
    app.refresh_from_db()
    assert app.status == A.APPROVED


# --- One application ----------------------------------------------------------------------


def test_the_application_page_shows_everything_to_staff(staff_client, staff, peer_call, rita, raul):
    app = reviewed(waiting(peer_call), staff, [rita, raul])
    ScreeningResult.objects.create(
        application=app, round=1, check_key="civilian_use", label="Civilian use declared", passed=True, reason="Ok."
    )
    response = staff_client.get(reverse("compute:staff_application", args=[app.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    for text in (
        app.title,
        app.abstract,
        app.justification,
        "Civilian use declared",
        "Rita Reviewer",
        rita.email,
        "Private note by Rita Reviewer",
        "Public note by Raul Reviewer",
        "2 of 2 required reviews submitted.",
        "4.0",  # average of the scores
    ):
        assert text in html, text
    assert response.context["can_approve"] is True
    assert 'data-testid="approve-form"' in html


@pytest.mark.parametrize("reviews", [1, 6])
def test_the_application_page_costs_the_same_queries_whatever_its_reviews_and_history(
    staff_client, staff, peer_call, hub, reviews, django_assert_num_queries
):
    org = OrganisationFactory(name="Université Lumière")
    app = waiting(peer_call)
    Profile.objects.update_or_create(user=app.applicant, defaults={"organisation": org})
    reviewers = [reviewer_at(hub, f"Reviewer {i}") for i in range(reviews)]
    reviewed(app, staff, reviewers)
    declined = reviewer_at(hub, "Dora Declined")
    services.review_decline(
        review=services.review_assign(application=app, reviewer=declined, acting_user=staff),
        acting_user=declined,
        reason="No time.",
    )
    reviewer_at(hub, "Sam Same-Org", organisation=org)
    reviewer_at(hub, "Free Reviewer")
    for i in range(reviews):
        ScreeningResult.objects.create(
            application=app, round=1, check_key=f"check_{i}", label=f"Check {i}", passed=i != 0, reason=f"Reason {i}."
        )
    Application.objects.filter(pk=app.pk).update(screening_round=1)
    # session, user, MFA authenticators, the user's hub roles, the application (with the viewer's
    # team role and its latest screening round as one JSON column), its reviews (reviewers and
    # their organisations), the hub's reviewers with their conflicts and load, the requested
    # resources, the timeline (application and review events), unread notifications
    with django_assert_num_queries(10):
        response = staff_client.get(reverse("compute:staff_application", args=[app.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert [r.label for r in response.context["screening"]] == [f"Check {i}" for i in range(reviews)]
    assert response.context["screening_failures"] == 1
    assert "Reason 0." in html
    options = {o.user.name: o.problem for o in response.context["reviewer_options"]}
    assert options["Free Reviewer"] == ""
    assert options["Dora Declined"] == "already declined (conflict of interest)"
    assert options["Reviewer 0"] == "already submitted"
    assert options["Sam Same-Org"].startswith("belongs to Université Lumière")
    assert response.context["reviews_done"] == reviews
    assert len(response.context["trail"]) >= 2 * reviews


def test_assigning_a_reviewer_by_hand_with_conflicts_explained(staff_client, staff, peer_call, rita, hub):
    org = OrganisationFactory(name="Université Lumière")
    app = waiting(peer_call)
    Profile.objects.update_or_create(user=app.applicant, defaults={"organisation": org})
    reviewer_at(hub, "Sam Same-Org", organisation=org)
    url = reverse("compute:staff_application", args=[app.pk])
    response = staff_client.get(url)
    options = {o.user.name: o.problem for o in response.context["reviewer_options"]}
    assert options["Rita Reviewer"] == ""
    assert options["Sam Same-Org"].startswith("belongs to Université Lumière")
    assert "Sam Same-Org" in response.content.decode()
    choices = [label for _, label in response.context["assign_form"].fields["reviewer"].choices]
    assert any("Rita Reviewer" in c for c in choices)
    assert not any("Sam Same-Org" in c for c in choices)
    response = staff_client.post(reverse("compute:staff_application_assign", args=[app.pk]), {"reviewer": rita.pk})
    assert response.status_code == 302
    review = Review.objects.get(application=app)
    assert (review.reviewer, review.assigned_by, review.status) == (rita, staff, ReviewStatus.ASSIGNED)
    assert audit_trail_for(review).get().action == "review.assigned"
    page = staff_client.get(url)
    assert {o.user.name: o.problem for o in page.context["reviewer_options"]}["Rita Reviewer"] == "already assigned"


def test_assigning_someone_not_eligible_shows_an_error(staff_client, peer_call, hub):
    app = waiting(peer_call)
    outsider = verified_user()
    response = staff_client.post(reverse("compute:staff_application_assign", args=[app.pk]), {"reviewer": outsider.pk})
    assert response.status_code == 400
    assert response.context["assign_form"].errors["reviewer"]
    assert not Review.objects.exists()


def test_approving_with_a_reduced_amount(staff_client, staff, peer_call, rita, raul):
    app = reviewed(waiting(peer_call), staff, [rita, raul])
    url = reverse("compute:staff_application_decide", args=[app.pk, "approve"])
    too_much = staff_client.post(url, {"amount": "150"})
    assert too_much.status_code == 400
    assert "cannot exceed the request" in too_much.context["approve_form"].errors["amount"][0]
    response = staff_client.post(url, {"amount": "60.5", "reason": "Start smaller."})
    assert response.status_code == 302
    app.refresh_from_db()
    assert (app.status, app.granted_millicredits, app.decision_reason) == (A.APPROVED, 60_500, "Start smaller.")
    assert app.allocation.granted_millicredits == 60_500
    assert "is approved: 60.5 credits granted" in messages_of(response)[0]


def test_approving_without_the_reviews_is_refused_with_a_message(staff_client, staff, peer_call, rita):
    app = reviewed(waiting(peer_call), staff, [rita])
    page = staff_client.get(reverse("compute:staff_application", args=[app.pk]))
    assert page.context["can_approve"] is False
    assert "Approval needs 1 more submitted review" in page.content.decode()
    response = staff_client.post(reverse("compute:staff_application_decide", args=[app.pk, "approve"]), {})
    assert response.status_code == 302
    assert messages_of(response) == [
        "Peer review needs 2 submitted reviews before approval; 1 so far. Assign reviewers or wait for their reviews."
    ]
    app.refresh_from_db()
    assert app.status == A.IN_REVIEW


def test_reject_and_request_changes_need_a_reason(staff_client, fast_call):
    app = waiting(fast_call)
    reject = reverse("compute:staff_application_decide", args=[app.pk, "reject"])
    response = staff_client.post(reject, {"reject-reason": ""})
    assert response.status_code == 400
    assert response.context["reject_form"].errors["reason"]
    response = staff_client.post(
        reverse("compute:staff_application_decide", args=[app.pk, "request_changes"]),
        {"changes-reason": "Add a data-management plan."},
    )
    assert response.status_code == 302
    app.refresh_from_db()
    assert (app.status, app.decision_reason) == (A.CHANGES_REQUESTED, "Add a data-management plan.")


def test_a_refused_transition_shows_a_message_never_an_error_page(staff_client, fast_call):
    app = waiting(fast_call, status=A.APPROVED)
    for action, data in (("reject", {"reject-reason": "No."}), ("request_changes", {"changes-reason": "No."})):
        response = staff_client.post(reverse("compute:staff_application_decide", args=[app.pk, action]), data)
        assert response.status_code == 302
        assert messages_of(response)[0].startswith("This application is approved; it cannot be")
    response = staff_client.post(reverse("compute:staff_application_assign", args=[app.pk]), {"auto": "1"})
    assert response.status_code == 302
    assert "Reviewers are assigned while an application is in review" in messages_of(response)[-1]
    assert staff_client.post(reverse("compute:staff_application_decide", args=[app.pk, "destroy"])).status_code == 404


def test_staff_on_the_project_team_cannot_decide(client, staff, fast_call):
    app = waiting(fast_call)
    app.project.members.create(user=staff)
    client.force_login(staff)
    page = client.get(reverse("compute:staff_application", args=[app.pk]))
    assert page.context["on_team"] is True
    assert page.context["can_decide"] is False
    response = client.post(reverse("compute:staff_application_decide", args=[app.pk, "reject"]), {"reject-reason": "x"})
    assert "another staff member must decide" in messages_of(response)[0]
    app.refresh_from_db()
    assert app.status == A.IN_REVIEW
