"""Screening checks, one by one, and the decision rule of each track."""

from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.utils import timezone

from compute import screening, services
from compute.models import MILLI, Allocation, AppStatus, ScreeningResult, Track
from gigafactory.audit import audit_trail_for
from hubs.models import MembershipStatus, OrganisationKind, Profile
from tests.conftest import verified_user
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory

from .factories import ApplicationFactory, CallFactory, ProjectFactory, budget_left, set_status

A = AppStatus
REQUEST = 100 * MILLI


@pytest.fixture
def call(hub):
    return CallFactory(hub=hub, track=Track.FAST_LANE, funded=10 * REQUEST)


@pytest.fixture
def project(hub, member):
    return ProjectFactory(hub=hub, pi=member)


@pytest.fixture
def application(call, project, member):
    return set_status(ApplicationFactory(call=call, project=project, applicant=member), A.SUBMITTED)


def run(check_key, application):
    check = {c.key: c for c in screening.checks()}[check_key]
    return check.run(application)


def test_the_checks_of_the_product_rules_are_registered_in_order():
    assert [c.key for c in screening.checks()][:6] == [
        "member_verified",
        "organisation_allowed",
        "civilian_use",
        "within_track_limit",
        "call_open",
        "budget_available",
    ]
    assert all(c.label for c in screening.checks())


# --- member_verified ------------------------------------------------------------------------


def test_member_with_verified_email_passes(application, member):
    passed, reason = run("member_verified", application)
    assert passed
    assert reason == f"{member} is an active member of Lyon AI Gigafactory with a verified e-mail ({member.email})."


def test_applicant_who_is_not_a_member_of_the_calls_hub_fails(call, other_hub):
    outsider = verified_user(name="Otto Outsider")
    MembershipFactory(user=outsider, hub=other_hub)
    application = ApplicationFactory(call=call, project=ProjectFactory(hub=other_hub, pi=outsider))
    assert run("member_verified", application) == (
        False,
        "Otto Outsider is not an active member of Lyon AI Gigafactory: join the hub first.",
    )


def test_suspended_member_fails(application, member):
    member.memberships.update(status=MembershipStatus.SUSPENDED)
    passed, reason = run("member_verified", application)
    assert not passed
    assert "not an active member" in reason


def test_member_without_verified_email_fails(application, member):
    EmailAddress.objects.filter(user=member).update(verified=False)
    assert run("member_verified", application) == (False, f"{member} has not verified an e-mail address.")


# --- organisation_allowed -------------------------------------------------------------------


def test_call_open_to_every_organisation_passes(application):
    assert run("organisation_allowed", application) == (True, "The call is open to every kind of organisation.")


def test_project_organisation_of_an_allowed_kind_passes(application, call):
    call.allowed_org_kinds = [OrganisationKind.UNIVERSITY, OrganisationKind.HOSPITAL]
    call.save()
    application.project.organisation = OrganisationFactory(name="Université de Lyon", kind=OrganisationKind.UNIVERSITY)
    application.project.save()
    assert run("organisation_allowed", application) == (
        True,
        "Université de Lyon (university) may apply to this call.",
    )


def test_project_organisation_of_another_kind_fails(application, call):
    call.allowed_org_kinds = [OrganisationKind.UNIVERSITY]
    call.save()
    application.project.organisation = OrganisationFactory(name="Acme AI", kind=OrganisationKind.STARTUP)
    application.project.save()
    assert run("organisation_allowed", application) == (
        False,
        "Acme AI is a startup; the call is open to: university.",
    )


def test_without_project_organisation_the_applicants_profile_counts(application, call, member):
    call.allowed_org_kinds = [OrganisationKind.HOSPITAL]
    call.save()
    Profile.objects.create(user=member, organisation=OrganisationFactory(name="CHU", kind=OrganisationKind.HOSPITAL))
    assert run("organisation_allowed", application)[0]
    Profile.objects.filter(user=member).update(organisation=OrganisationFactory(kind=OrganisationKind.INVESTOR))
    assert not run("organisation_allowed", application)[0]


def test_no_organisation_at_all_fails_when_the_call_restricts_kinds(application, call):
    call.allowed_org_kinds = [OrganisationKind.UNIVERSITY]
    call.save()
    passed, reason = run("organisation_allowed", application)
    assert not passed
    assert reason.startswith("No organisation is given")


# --- civilian_use ---------------------------------------------------------------------------


def test_civilian_use_declared_passes_and_missing_fails(application):
    assert run("civilian_use", application)[0]
    application.civilian_use = False
    assert run("civilian_use", application) == (False, "The civilian-use declaration is missing.")


# --- within_track_limit ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("track", "limit", "grant", "hours", "passed"),
    [
        (Track.FAST_LANE, 100 * MILLI, 0, 100, True),
        (Track.FAST_LANE, 100 * MILLI, 0, 101, False),
        (Track.PEER_REVIEW, 10_000 * MILLI, 0, 10_000, True),
        (Track.PEER_REVIEW, 10_000 * MILLI, 0, 10_001, False),
        (Track.PLAYGROUND, 10_000 * MILLI, 50 * MILLI, 50, True),
        (Track.PLAYGROUND, 10_000 * MILLI, 50 * MILLI, 51, False),  # the fixed grant is the limit
        (Track.PLAYGROUND, 80 * MILLI, 0, 81, False),  # no fixed grant: the call's limit
    ],
)
def test_request_within_the_track_limit(hub, project, track, limit, grant, hours, passed):
    call = CallFactory(hub=hub, track=track, max_request_millicredits=limit, playground_grant_millicredits=grant)
    application = ApplicationFactory(call=call, project=project, rows__gpu_hours=hours)
    result, reason = run("within_track_limit", application)
    assert result is passed
    assert f"{hours:,} credits requested" in reason
    assert ("within" in reason) is passed


def test_an_empty_request_fails_the_limit_check(application):
    application.requested_millicredits = 0
    assert run("within_track_limit", application) == (False, "The application requests no credits.")


# --- call_open ------------------------------------------------------------------------------


def test_submitted_while_open_passes(application):
    assert run("call_open", application)[0]


@pytest.mark.parametrize(
    ("delta", "expected"), [(timedelta(days=-8), "before the call opened"), (timedelta(days=31), "after the call")]
)
def test_submitted_outside_the_window_fails(application, delta, expected):
    application.submitted_at = timezone.now() + delta
    passed, reason = run("call_open", application)
    assert not passed
    assert expected in reason


def test_unpublished_call_fails(application, call):
    call.published = False
    call.save()
    assert not run("call_open", application)[0]


# --- budget_available -----------------------------------------------------------------------


def test_budget_that_covers_the_request_passes(application):
    assert run("budget_available", application) == (True, "100 credits needed; the call's budget has 1,000 left.")


def test_budget_short_of_the_request_fails(hub, project):
    call = CallFactory(hub=hub, funded=99_500)
    application = ApplicationFactory(call=call, project=project)
    assert run("budget_available", application) == (False, "100 credits needed; the call's budget has 99.5 left.")
    unfunded = ApplicationFactory(call=CallFactory(hub=hub), project=project)
    assert run("budget_available", unfunded) == (False, "100 credits needed; the call's budget has 0 left.")


# --- Recording and idempotency --------------------------------------------------------------


def test_each_check_is_recorded_once_per_round_with_its_reason(application):
    assert screening.screen_and_decide(application_id=application.pk, screening_round=1) == "approved"
    results = list(ScreeningResult.objects.filter(application=application))
    assert [r.check_key for r in results] == [c.key for c in screening.checks()]
    assert all(r.round == 1 and r.passed and r.reason and r.label for r in results)


def test_running_the_task_twice_changes_nothing(application, call):
    assert screening.screen_and_decide(application_id=application.pk, screening_round=1) == "approved"
    assert screening.screen_and_decide(application_id=application.pk, screening_round=1) == "skipped"
    assert ScreeningResult.objects.filter(application=application).count() == len(screening.checks())
    assert Allocation.objects.count() == 1
    assert budget_left(call) == 9 * REQUEST


def test_stale_missing_and_unsubmitted_rounds_are_skipped(application, call, project):
    assert screening.screen_and_decide(application_id=application.pk, screening_round=2) == "skipped"
    assert screening.screen_and_decide(application_id=10**9, screening_round=1) == "skipped"
    draft = ApplicationFactory(call=call, project=project)
    assert screening.screen_and_decide(application_id=draft.pk, screening_round=0) == "skipped"
    set_status(application, A.WITHDRAWN)
    assert screening.screen_and_decide(application_id=application.pk, screening_round=1) == "skipped"
    assert not ScreeningResult.objects.exists()


def test_after_a_crash_between_screening_and_decision_a_rerun_finishes_the_decision(application, monkeypatch):
    def crash(*args):
        raise SystemExit("worker lost")

    monkeypatch.setattr(screening, "_decide", crash)
    with pytest.raises(SystemExit):
        screening.screen_and_decide(application_id=application.pk, screening_round=1)
    application.refresh_from_db()
    assert application.status == A.SCREENING
    recorded = list(ScreeningResult.objects.values_list("pk", flat=True))
    assert len(recorded) == len(screening.checks())

    monkeypatch.undo()
    assert screening.screen_and_decide(application_id=application.pk, screening_round=1) == "approved"
    assert list(ScreeningResult.objects.values_list("pk", flat=True)) == recorded  # not redone
    assert screening.screen_and_decide(application_id=application.pk, screening_round=1) == "skipped"


def test_a_check_that_errors_leaves_the_application_submitted_for_a_retry(application, monkeypatch):
    monkeypatch.setattr(screening, "_REGISTRY", dict(screening._REGISTRY))
    calls = []

    @screening.screening_check("flaky", "A flaky check")
    def flaky(app):
        calls.append(app.pk)
        if len(calls) == 1:
            raise ConnectionError("registry down")
        return True, "fine"

    with pytest.raises(ConnectionError):
        screening.screen_and_decide(application_id=application.pk, screening_round=1)
    application.refresh_from_db()
    assert application.status == A.SUBMITTED
    assert not ScreeningResult.objects.exists()
    assert screening.screen_and_decide(application_id=application.pk, screening_round=1) == "approved"


def test_a_new_check_is_one_decorator_away(application, monkeypatch, staff):
    monkeypatch.setattr(screening, "_REGISTRY", dict(screening._REGISTRY))

    @screening.screening_check("ai_act", "AI system assessed under the AI Act")
    def ai_act(app):
        return False, f"'{app.ai_system_name or 'The AI system'}' has no risk assessment yet."

    assert screening.screen_and_decide(application_id=application.pk, screening_round=1) == "in_review"
    result = ScreeningResult.objects.get(application=application, check_key="ai_act")
    assert (result.label, result.passed) == ("AI system assessed under the AI Act", False)
    application.refresh_from_db()
    assert "has no risk assessment yet" in application.decision_reason
    assert "has no risk assessment yet" in staff.notifications.get().body


# --- Decision rules -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("track", "all_pass", "outcome"),
    [
        (Track.PLAYGROUND, True, A.APPROVED),
        (Track.PLAYGROUND, False, A.REJECTED),
        (Track.FAST_LANE, True, A.APPROVED),
        (Track.FAST_LANE, False, A.IN_REVIEW),
        (Track.PEER_REVIEW, True, A.IN_REVIEW),
        (Track.PEER_REVIEW, False, A.IN_REVIEW),
    ],
)
def test_decision_rule_of_each_track(hub, project, member, track, all_pass, outcome):
    call = CallFactory(hub=hub, track=track, playground_grant_millicredits=REQUEST, funded=10 * REQUEST)
    application = ApplicationFactory(call=call, project=project, applicant=member, civilian_use=all_pass)
    set_status(application, A.SUBMITTED)
    assert screening.screen_and_decide(application_id=application.pk, screening_round=1) == outcome
    application.refresh_from_db()
    assert application.status == outcome
    assert Allocation.objects.filter(application=application).exists() is (outcome == A.APPROVED)
    assert budget_left(call) == (9 if outcome == A.APPROVED else 10) * REQUEST
    actions = list(audit_trail_for(application).order_by("id").values_list("action", "actor"))
    assert actions[0] == ("application.screening_started", None)
    assert len(actions) == 2
    assert actions[1][1] is None
    if not all_pass:
        assert "Civilian use declared: The civilian-use declaration is missing." in application.decision_reason


def test_fast_lane_failure_goes_to_staff_who_are_told_why(application, staff, member):
    application.civilian_use = False
    application.save()
    screening.screen_and_decide(application_id=application.pk, screening_round=1)
    note = staff.notifications.get()
    assert note.kind == "application.waiting"
    assert note.title.endswith("waits for you to decide")
    assert "civilian-use declaration is missing" in note.body
    assert member.notifications.get().kind == "application.in_review"


def test_peer_review_goes_to_staff_to_assign_reviewers(hub, project, member, staff):
    call = CallFactory(hub=hub, track=Track.PEER_REVIEW, funded=10 * REQUEST)
    application = set_status(ApplicationFactory(call=call, project=project, applicant=member), A.SUBMITTED)
    assert screening.screen_and_decide(application_id=application.pk, screening_round=1) == A.IN_REVIEW
    assert staff.notifications.get().title.endswith("waits for you to assign reviewers")


def test_automatic_approval_without_budget_goes_to_staff_with_the_reason(hub, project, member, staff, monkeypatch):
    # The budget check passed, but by the time of the decision the budget is gone (another approval won).
    monkeypatch.delitem(screening._REGISTRY, "budget_available")
    call = CallFactory(hub=hub, track=Track.FAST_LANE, funded=REQUEST // 2)
    application = set_status(ApplicationFactory(call=call, project=project, applicant=member), A.SUBMITTED)
    assert screening.screen_and_decide(application_id=application.pk, screening_round=1) == "in_review"
    application.refresh_from_db()
    assert application.status == A.IN_REVIEW
    assert application.decision_reason.startswith("Every screening check passed, but the automatic approval failed")
    assert "100 credits needed, 50 left" in application.decision_reason
    assert not Allocation.objects.exists()
    assert budget_left(call) == REQUEST // 2
    assert "automatic approval failed" in staff.notifications.get().body


def test_playground_rejection_lists_every_failed_check(hub, member):
    stranger = UserFactory()  # no membership, no verified e-mail
    call = CallFactory(hub=hub, track=Track.PLAYGROUND, playground_grant_millicredits=REQUEST, funded=10 * REQUEST)
    application = ApplicationFactory(call=call, project=ProjectFactory(hub=hub, pi=stranger), civilian_use=False)
    set_status(application, A.SUBMITTED)
    assert screening.screen_and_decide(application_id=application.pk, screening_round=1) == A.REJECTED
    application.refresh_from_db()
    assert application.decision_reason.startswith("Rejected automatically by screening.")
    assert "Active hub member with a verified e-mail" in application.decision_reason
    assert "Civilian use declared" in application.decision_reason
    assert "Call budget available" not in application.decision_reason
    assert audit_trail_for(application).get(action="application.reject").actor_label == services.SYSTEM_LABEL
