"""Projects, call funding, drafts and every application transition, through the services."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils import timezone

from compute import access, ledger, services
from compute.models import (
    MILLI,
    Account,
    Allocation,
    Application,
    AppStatus,
    Entry,
    ProjectMember,
    ProjectRole,
    Review,
    ReviewStatus,
    Track,
    Transaction,
    TransactionKind,
)
from gigafactory.audit import audit_trail_for
from gigafactory.errors import InvalidTransition
from gigafactory.models import AuditEvent
from hubs.models import Notification, Role
from tests.conftest import verified_user
from tests.factories import MembershipFactory, UserFactory

from .factories import (
    ApplicationFactory,
    CallFactory,
    ComputeProviderFactory,
    ComputeResourceFactory,
    ProjectFactory,
    budget_left,
    set_status,
)

A = AppStatus
REQUEST = 100 * MILLI  # what ApplicationFactory asks for: 100 GPU-hours at one credit


@pytest.fixture
def call(hub):
    return CallFactory(hub=hub, track=Track.FAST_LANE, funded=10 * REQUEST)


@pytest.fixture
def teammate(db):
    return verified_user(name="Tom Teammate")


@pytest.fixture
def project(hub, member, teammate):
    return ProjectFactory(hub=hub, pi=member, title="Radiology foundation model", members=[teammate])


@pytest.fixture
def application(call, project, member):
    return ApplicationFactory(call=call, project=project, applicant=member, title="Radiology at scale")


def audit_actions(obj):
    return list(audit_trail_for(obj).order_by("id").values_list("action", flat=True))


# --- Projects -------------------------------------------------------------------------------


def test_project_create_makes_the_creator_pi_and_first_member(hub, member):
    project = services.project_create(hub=hub, title="  Wind forecasts ", summary="Weather", acting_user=member)
    assert project.title == "Wind forecasts"
    assert project.pi == member
    assert list(project.members.values_list("user_id", "role")) == [(member.pk, ProjectRole.PI)]
    assert AuditEvent.objects.filter(action="project.created", object_id=str(project.pk), actor=member).exists()


def test_project_create_needs_an_active_membership_of_the_hub(hub, other_hub):
    outsider = verified_user()
    MembershipFactory(user=outsider, hub=other_hub)
    with pytest.raises(ValidationError) as exc:
        services.project_create(hub=hub, title="X", acting_user=outsider)
    assert "active member of Lyon AI Gigafactory" in exc.value.message_dict["hub"][0]


def test_project_create_needs_a_title(hub, member):
    with pytest.raises(ValidationError) as exc:
        services.project_create(hub=hub, title="   ", acting_user=member)
    assert "title" in exc.value.message_dict


def test_pi_adds_a_member_from_another_hub_who_is_told(project, member, other_hub, django_capture_on_commit_callbacks):
    colleague = verified_user(name="Hanna Helsinki")
    MembershipFactory(user=colleague, hub=other_hub)
    with django_capture_on_commit_callbacks(execute=True):
        services.project_add_member(project=project, user=colleague, acting_user=member)
    assert project.members.filter(user=colleague, role=ProjectRole.MEMBER).exists()
    assert colleague.notifications.get().title == "You were added to the project 'Radiology foundation model'"
    assert [m.to for m in mail.outbox] == [[colleague.email]]
    with pytest.raises(ValidationError, match="already on the team"):
        services.project_add_member(project=project, user=colleague, acting_user=member)


def test_hub_staff_may_add_members_but_a_plain_member_may_not(project, staff, teammate):
    newcomer = UserFactory()
    with pytest.raises(PermissionDenied):
        services.project_add_member(project=project, user=newcomer, acting_user=teammate)
    services.project_add_member(project=project, user=newcomer, acting_user=staff)
    assert project.members.filter(user=newcomer).exists()


def test_remove_member_and_the_pi_stays(project, member, teammate):
    with pytest.raises(ValidationError, match="principal investigator"):
        services.project_remove_member(project=project, user=member, acting_user=member)
    services.project_remove_member(project=project, user=teammate, acting_user=member)
    assert not project.members.filter(user=teammate).exists()
    assert "project.member_removed" in audit_actions(project)


def test_a_member_may_leave_but_not_remove_others(project, member, teammate):
    third = UserFactory()
    ProjectMember.objects.create(project=project, user=third)
    with pytest.raises(PermissionDenied):
        services.project_remove_member(project=project, user=third, acting_user=teammate)
    services.project_remove_member(project=project, user=teammate, acting_user=teammate)
    assert list(project.members.values_list("user_id", flat=True).order_by("user_id")) == sorted([member.pk, third.pk])


# --- Funding a call -------------------------------------------------------------------------


def test_call_fund_moves_credits_from_the_funding_source(hub, staff):
    call = CallFactory(hub=hub)
    txn = services.call_fund(call=call, amount_millicredits=5_000 * MILLI, acting_user=staff, idempotency_key="k1")
    assert txn.kind == TransactionKind.FUND
    assert budget_left(call) == 5_000 * MILLI
    assert ledger.funding_account(call.funding_source).balance == -5_000 * MILLI
    # Same key again: nothing changes.
    again = services.call_fund(call=call, amount_millicredits=5_000 * MILLI, acting_user=staff, idempotency_key="k1")
    assert again.pk == txn.pk
    assert budget_left(call) == 5_000 * MILLI
    assert AuditEvent.objects.filter(action="call.funded").count() == 1


def test_call_fund_is_for_staff_of_the_hub_and_positive_amounts(hub, other_staff, staff):
    call = CallFactory(hub=hub)
    with pytest.raises(PermissionDenied):
        services.call_fund(call=call, amount_millicredits=1000, acting_user=other_staff)
    for bad in (0, -5, 1.5, True):
        with pytest.raises(ValidationError):
            services.call_fund(call=call, amount_millicredits=bad, acting_user=staff)
    assert budget_left(call) == 0


# --- Drafts ---------------------------------------------------------------------------------


def test_application_create_starts_a_draft_by_the_acting_member(call, project, teammate):
    application = services.application_create(
        project=project, call=call, acting_user=teammate, title="Crop yields", civilian_use=True
    )
    assert application.status == A.DRAFT
    assert application.applicant == teammate
    assert application.hub == call.hub
    assert application.requested_millicredits == 0
    assert audit_actions(application) == ["application.created"]


def test_application_create_refuses_outsiders_closed_calls_and_bad_fields(hub, call, project):
    outsider = verified_user()
    MembershipFactory(user=outsider, hub=hub)
    with pytest.raises(PermissionDenied):
        services.application_create(project=project, call=call, acting_user=outsider, title="X")
    closed = CallFactory(
        hub=hub, opens_at=timezone.now() - timedelta(days=9), closes_at=timezone.now() - timedelta(days=1)
    )
    with pytest.raises(ValidationError, match="does not accept applications"):
        services.application_create(project=project, call=closed, acting_user=project.pi, title="X")
    with pytest.raises(ValidationError) as exc:
        services.application_create(project=project, call=call, acting_user=project.pi, data_sensitivity="secret")
    assert "data_sensitivity" in exc.value.message_dict
    with pytest.raises(TypeError):
        services.application_create(project=project, call=call, acting_user=project.pi, status=A.APPROVED)


def test_update_draft_replaces_rows_and_recomputes_the_request(hub, call, application, member):
    a100 = ComputeResourceFactory(provider=ComputeProviderFactory(hub=hub), rate_millicredits=600, gpu_model="A100")
    h100 = call.eligible_resources.get()
    call.eligible_resources.add(a100)
    services.application_update_draft(
        application=application,
        acting_user=member,
        resource_rows=[(h100, 10), (a100, 25)],
        abstract="New abstract",
    )
    assert application.requested_millicredits == 10 * 1000 + 25 * 600
    assert application.abstract == "New abstract"
    assert sorted(application.resource_requests.values_list("resource_id", "gpu_hours")) == sorted(
        [(h100.pk, 10), (a100.pk, 25)]
    )
    services.application_update_draft(application=application, acting_user=member, resource_rows=[(a100, 5)])
    assert application.requested_millicredits == 3_000
    assert application.resource_requests.count() == 1


def test_update_draft_names_the_bad_row_and_changes_nothing(hub, call, application, member):
    elsewhere = ComputeResourceFactory(name="not-in-this-call")
    h100 = call.eligible_resources.get()
    with pytest.raises(ValidationError) as exc:
        services.application_update_draft(
            application=application,
            acting_user=member,
            resource_rows=[(h100, 10), (elsewhere, 5), (h100, 0)],
            title="Changed",
        )
    messages = exc.value.message_dict["resource_rows"]
    assert messages[0] == "Row 2 (not-in-this-call): this resource is not offered by the call '" + call.title + "'."
    assert any(m.startswith("Row 3") and "already requested" in m for m in messages)
    assert any(m.startswith("Row 3") and "at least 1" in m for m in messages)
    application.refresh_from_db()
    assert application.title == "Radiology at scale"
    assert application.requested_millicredits == REQUEST
    assert list(application.resource_requests.values_list("gpu_hours", flat=True)) == [100]


def test_inactive_resources_are_not_eligible(call, application, member):
    h100 = call.eligible_resources.get()
    h100.active = False
    h100.save()
    with pytest.raises(ValidationError, match="Row 1"):
        services.application_update_draft(application=application, acting_user=member, resource_rows=[(h100, 1)])


@pytest.mark.parametrize("status", [A.SUBMITTED, A.SCREENING, A.IN_REVIEW, A.APPROVED, A.REJECTED, A.WITHDRAWN])
def test_only_drafts_and_changes_requested_can_be_edited(application, member, status):
    set_status(application, status)
    with pytest.raises(InvalidTransition, match="cannot be edited"):
        services.application_update_draft(application=application, acting_user=member, title="Changed")
    application.refresh_from_db()
    assert application.title == "Radiology at scale"


def test_an_answer_to_changes_requested_can_be_edited(application, member):
    set_status(application, A.CHANGES_REQUESTED)
    services.application_update_draft(application=application, acting_user=member, justification="Better")
    assert application.justification == "Better"


# --- Submitting -----------------------------------------------------------------------------


def test_submit_needs_title_abstract_and_a_resource_row(call, project, member):
    application = services.application_create(project=project, call=call, acting_user=member)
    with pytest.raises(ValidationError) as exc:
        services.application_submit(application=application, acting_user=member)
    assert set(exc.value.message_dict) == {"title", "abstract", "resource_rows"}
    application.refresh_from_db()
    assert application.status == A.DRAFT
    assert application.screening_round == 0


def test_submit_sets_the_time_and_round_and_screening_starts_on_commit(
    application, member, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        services.application_submit(application=application, acting_user=member)
    assert application.status == A.SUBMITTED
    assert application.screening_round == 1
    assert application.submitted_at is not None
    assert not application.screening_results.exists()  # nothing runs before the commit
    for callback in callbacks:
        callback()
    application.refresh_from_db()
    assert application.status == A.APPROVED
    assert application.screening_results.filter(round=1).exists()


def test_submit_is_refused_when_the_call_has_closed(application, member):
    call = application.call
    call.closes_at = timezone.now() - timedelta(minutes=1)
    call.opens_at = timezone.now() - timedelta(days=10)
    call.save()
    with pytest.raises(InvalidTransition, match="closed on"):
        services.application_submit(application=application, acting_user=member)
    application.refresh_from_db()
    assert application.status == A.DRAFT


def test_submit_recomputes_the_request_at_current_rates(application, member):
    resource = application.call.eligible_resources.get()
    resource.rate_millicredits = 1300
    resource.save()
    services.application_submit(application=application, acting_user=member)
    assert application.requested_millicredits == 100 * 1300


# --- Every transition, allowed and forbidden ------------------------------------------------


def _submit(app, *, member, staff):
    return services.application_submit(application=app, acting_user=member)


def _withdraw(app, *, member, staff):
    return services.application_withdraw(application=app, acting_user=member)


def _request_changes(app, *, member, staff):
    return services.application_request_changes(application=app, acting_user=staff, reason="Add a data plan.")


def _approve(app, *, member, staff):
    return services.application_approve(application=app, acting_user=staff)


def _approve_auto(app, *, member, staff):
    return services.application_approve(application=app)


def _reject(app, *, member, staff):
    return services.application_reject(application=app, acting_user=staff, reason="Out of scope.")


def _reject_auto(app, *, member, staff):
    return services.application_reject(application=app, reason="A check failed.")


def _send_to_review(app, *, member, staff):
    return services.application_send_to_review(application=app, reason="For staff.")


# action -> (function, audit action, allowed start states, end state, kind notified to the teammate)
TRANSITIONS = {
    "submit": (_submit, "application.submit", {A.DRAFT, A.CHANGES_REQUESTED}, A.SUBMITTED, "application.submitted"),
    "withdraw": (
        _withdraw,
        "application.withdraw",
        {A.DRAFT, A.SUBMITTED, A.SCREENING, A.IN_REVIEW, A.CHANGES_REQUESTED},
        A.WITHDRAWN,
        "application.withdrawn",
    ),
    "request_changes": (
        _request_changes,
        "application.request_changes",
        {A.IN_REVIEW, A.SCREENING},
        A.CHANGES_REQUESTED,
        "application.changes_requested",
    ),
    "approve": (_approve, "application.approve", {A.IN_REVIEW}, A.APPROVED, "application.approved"),
    "approve_auto": (_approve_auto, "application.approve", {A.SCREENING}, A.APPROVED, "application.approved"),
    "reject": (_reject, "application.reject", {A.IN_REVIEW}, A.REJECTED, "application.rejected"),
    "reject_auto": (_reject_auto, "application.reject", {A.SCREENING}, A.REJECTED, "application.rejected"),
    "send_to_review": (
        _send_to_review,
        "application.send_to_review",
        {A.SCREENING},
        A.IN_REVIEW,
        "application.in_review",
    ),
}

ALLOWED = [(name, start) for name, t in TRANSITIONS.items() for start in A.values if start in t[2]]
FORBIDDEN = [(name, start) for name, t in TRANSITIONS.items() for start in A.values if start not in t[2]]


@pytest.mark.parametrize(("name", "start"), ALLOWED)
def test_allowed_transition_moves_audits_and_notifies(application, member, teammate, staff, name, start):
    action, audit_action, _, end, kind = TRANSITIONS[name]
    set_status(application, start)
    result = action(application, member=member, staff=staff)
    assert result.status == end
    assert Application.objects.get(pk=application.pk).status == end
    event = audit_trail_for(application).get(action=audit_action)
    assert event.before == {"status": start}
    assert event.after["status"] == end
    expected_actor = {"approve_auto": None, "reject_auto": None, "send_to_review": None}.get(name, "acting")
    if expected_actor is None:
        assert event.actor is None
        assert event.actor_label == services.SYSTEM_LABEL
    else:
        assert event.actor == (staff if name in ("request_changes", "approve", "reject") else member)
    assert teammate.notifications.filter(kind=kind).count() == 1


@pytest.mark.parametrize(("name", "start"), FORBIDDEN)
def test_forbidden_transition_raises_and_changes_nothing(application, member, teammate, staff, name, start):
    action = TRANSITIONS[name][0]
    set_status(application, start)
    before = Application.objects.values().get(pk=application.pk)
    with pytest.raises(InvalidTransition) as exc:
        action(application, member=member, staff=staff)
    assert "cannot be" in exc.value.message
    assert Application.objects.values().get(pk=application.pk) == before
    assert not audit_trail_for(application).exists()
    assert not Notification.objects.exists()
    assert not Allocation.objects.exists()


def test_withdraw_is_for_the_applicant_or_the_pi(call, project, member, teammate):
    by_teammate = ApplicationFactory(call=call, project=project, applicant=teammate)
    by_pi = ApplicationFactory(call=call, project=project, applicant=member)
    with pytest.raises(PermissionDenied):
        services.application_withdraw(application=by_pi, acting_user=teammate)
    services.application_withdraw(application=by_teammate, acting_user=member)  # the PI
    services.application_withdraw(application=by_pi, acting_user=member)  # the applicant
    assert set(Application.objects.values_list("status", flat=True)) == {A.WITHDRAWN}


def test_withdrawing_an_application_in_review_tells_staff_and_assigned_reviewers(application, member, staff, hub):
    reviewer = verified_user(name="Rita Reviewer")
    MembershipFactory(user=reviewer, hub=hub, role=Role.REVIEWER)
    set_status(application, A.IN_REVIEW)
    Review.objects.create(application=application, reviewer=reviewer)
    services.application_withdraw(application=application, acting_user=member)
    assert staff.notifications.get().kind == "application.withdrawn"
    assert reviewer.notifications.get().title == "'Radiology at scale' was withdrawn by its applicant"
    assert not member.notifications.exists()  # the one who acted is not told


def test_staff_decisions_need_staff_of_the_hub_and_not_of_the_team(application, other_staff, hub, member):
    set_status(application, A.IN_REVIEW)
    for action in (_approve, _reject, _request_changes):
        with pytest.raises(PermissionDenied):
            action(application, member=member, staff=other_staff)
        with pytest.raises(PermissionDenied):
            action(application, member=member, staff=member)
    staff_on_team = verified_user()
    MembershipFactory(user=staff_on_team, hub=hub, role=Role.STAFF)
    ProjectMember.objects.create(project=application.project, user=staff_on_team)
    with pytest.raises(PermissionDenied, match="another staff member"):
        services.application_approve(application=application, acting_user=staff_on_team)
    assert Application.objects.get(pk=application.pk).status == A.IN_REVIEW


def test_staff_must_give_a_reason_to_reject_or_ask_for_changes(application, staff):
    set_status(application, A.IN_REVIEW)
    with pytest.raises(ValidationError) as exc:
        services.application_reject(application=application, acting_user=staff, reason="  ")
    assert "reason" in exc.value.message_dict
    with pytest.raises(ValidationError):
        services.application_request_changes(application=application, acting_user=staff, reason="")
    assert Application.objects.get(pk=application.pk).status == A.IN_REVIEW


def test_changes_requested_then_resubmitted_starts_a_new_screening_round(
    application, member, staff, django_capture_on_commit_callbacks
):
    services.application_update_draft(application=application, acting_user=member, civilian_use=False)
    with django_capture_on_commit_callbacks(execute=True):
        services.application_submit(application=application, acting_user=member)
    application.refresh_from_db()
    assert application.status == A.IN_REVIEW  # fast lane: a failed check sends it to staff
    services.application_request_changes(application=application, acting_user=staff, reason="Declare civilian use.")
    assert application.decision_reason == "Declare civilian use."
    assert member.notifications.get(kind="application.changes_requested").body == "Declare civilian use."
    services.application_update_draft(application=application, acting_user=member, civilian_use=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.application_submit(application=application, acting_user=member)
    application.refresh_from_db()
    assert application.screening_round == 2
    assert application.status == A.APPROVED
    assert not application.screening_results.get(round=1, check_key="civilian_use").passed
    assert application.screening_results.get(round=2, check_key="civilian_use").passed


# --- Approval, allocation and the ledger ----------------------------------------------------


def test_approval_creates_the_allocation_and_the_grant_in_the_ledger(application, staff, call):
    set_status(application, A.IN_REVIEW)
    services.application_approve(application=application, acting_user=staff, reason="Excellent")
    assert application.status == A.APPROVED
    assert application.granted_millicredits == REQUEST
    assert application.decided_by == staff
    assert application.decided_at is not None
    allocation = Allocation.objects.get(application=application)
    assert allocation.granted_millicredits == REQUEST
    assert allocation.starts_on == timezone.localdate()
    assert allocation.ends_on == timezone.localdate() + timedelta(days=call.allocation_days)
    assert allocation.slurm_account == f"gf-{allocation.pk}"
    assert (allocation.project, allocation.call, allocation.hub) == (application.project, call, call.hub)
    grant = Transaction.objects.get(idempotency_key=f"grant:{application.pk}")
    assert grant.kind == TransactionKind.GRANT
    assert grant.created_by == staff
    assert sorted(grant.entries.values_list("amount", flat=True)) == [-REQUEST, REQUEST]
    assert budget_left(call) == 9 * REQUEST
    assert ledger.allocation_account(allocation).balance == REQUEST


def test_balances_after_approvals_equal_the_sums_of_entries(call, project, member, staff):
    for hours in (10, 20, 30):
        app = ApplicationFactory(call=call, project=project, applicant=member, rows__gpu_hours=hours)
        set_status(app, A.IN_REVIEW)
        services.application_approve(application=app, acting_user=staff)
    assert budget_left(call) == 10 * REQUEST - 60 * MILLI
    for account in Account.objects.all():
        assert account.balance == ledger.balance_from_entries(account), account
    assert not ledger.unbalanced_transactions().exists()
    assert sum(Entry.objects.values_list("amount", flat=True)) == 0


def test_staff_may_grant_less_but_never_more_than_requested(application, staff, call):
    set_status(application, A.IN_REVIEW)
    for bad in (REQUEST + 1, 0, -1):
        with pytest.raises(ValidationError) as exc:
            services.application_approve(application=application, acting_user=staff, amount_millicredits=bad)
        assert "amount_millicredits" in exc.value.message_dict
    services.application_approve(application=application, acting_user=staff, amount_millicredits=REQUEST // 4)
    assert application.granted_millicredits == REQUEST // 4
    assert budget_left(call) == 10 * REQUEST - REQUEST // 4


def test_approval_beyond_the_budget_is_refused_and_writes_nothing(hub, project, member, staff):
    call = CallFactory(hub=hub, funded=REQUEST - 1)
    application = ApplicationFactory(call=call, project=project, applicant=member)
    set_status(application, A.IN_REVIEW)
    transactions = Transaction.objects.count()
    with pytest.raises(services.InsufficientBudget) as exc:
        services.application_approve(application=application, acting_user=staff)
    assert isinstance(exc.value, InvalidTransition)  # the API answers 409, pages show the message
    assert exc.value.message.startswith("The call's budget cannot cover this grant: 100 credits needed, 99.999 left.")
    assert Application.objects.get(pk=application.pk).status == A.IN_REVIEW
    assert not Allocation.objects.exists()
    assert Transaction.objects.count() == transactions
    assert budget_left(call) == REQUEST - 1
    assert not audit_trail_for(application).exists()
    assert not Notification.objects.exists()


def test_double_approve_changes_nothing(application, staff, call):
    set_status(application, A.IN_REVIEW)
    services.application_approve(application=application, acting_user=staff)
    with pytest.raises(InvalidTransition, match="is approved"):
        services.application_approve(application=application, acting_user=staff)
    with pytest.raises(InvalidTransition):
        services.application_approve(application=application)  # a repeated automatic decision
    assert Allocation.objects.count() == 1
    assert Transaction.objects.filter(kind=TransactionKind.GRANT).count() == 1
    assert budget_left(call) == 9 * REQUEST
    assert AuditEvent.objects.filter(action="application.approve").count() == 1


def test_the_decision_reaches_the_team_by_inbox_and_email(
    application, member, teammate, staff, django_capture_on_commit_callbacks
):
    set_status(application, A.IN_REVIEW)
    with django_capture_on_commit_callbacks(execute=True):
        services.application_approve(application=application, acting_user=staff)
    note = teammate.notifications.get()
    assert note.title == "'Radiology at scale' is approved: 100 credits"
    assert "Slurm account gf-" in note.body
    assert sorted(m.to[0] for m in mail.outbox) == sorted([member.email, teammate.email])


# --- End to end through the eager screening task --------------------------------------------


def test_fast_lane_application_is_approved_by_the_worker_on_submit(
    application, member, call, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.application_submit(application=application, acting_user=member)
    application.refresh_from_db()
    assert application.status == A.APPROVED
    assert application.decided_by is None
    assert application.allocation.granted_millicredits == REQUEST
    assert budget_left(call) == 9 * REQUEST
    assert audit_actions(application) == [
        "application.submit",
        "application.screening_started",
        "application.approve",
    ]
    assert member.notifications.filter(kind="application.approved").exists()
    assert any("is approved" in m.subject for m in mail.outbox)


def test_playground_application_gets_the_fixed_grant_automatically(
    hub, project, member, django_capture_on_commit_callbacks
):
    call = CallFactory(
        hub=hub,
        track=Track.PLAYGROUND,
        playground_grant_millicredits=50 * MILLI,
        max_request_millicredits=50 * MILLI,
        funded=1_000 * MILLI,
    )
    small = ApplicationFactory(call=call, project=project, applicant=member, rows__gpu_hours=20)
    exact = ApplicationFactory(call=call, project=project, applicant=member, rows__gpu_hours=50)
    with django_capture_on_commit_callbacks(execute=True):
        services.application_submit(application=small, acting_user=member)
        services.application_submit(application=exact, acting_user=member)
    small.refresh_from_db()
    exact.refresh_from_db()
    assert (small.status, small.granted_millicredits) == (A.APPROVED, 20 * MILLI)  # never more than asked for
    assert (exact.status, exact.granted_millicredits) == (A.APPROVED, 50 * MILLI)
    assert budget_left(call) == 930 * MILLI


def test_playground_application_over_the_grant_is_rejected_automatically_with_reasons(
    hub, project, member, django_capture_on_commit_callbacks
):
    call = CallFactory(hub=hub, track=Track.PLAYGROUND, playground_grant_millicredits=50 * MILLI, funded=10**9)
    application = ApplicationFactory(call=call, project=project, applicant=member, rows__gpu_hours=51)
    with django_capture_on_commit_callbacks(execute=True):
        services.application_submit(application=application, acting_user=member)
    application.refresh_from_db()
    assert application.status == A.REJECTED
    assert "the playground limit of this call is 50" in application.decision_reason
    assert member.notifications.get(kind="application.rejected").body == application.decision_reason


# --- Access -------------------------------------------------------------------------------


def test_applications_are_visible_to_the_team_assigned_reviewers_and_hub_staff(
    application, member, teammate, staff, other_staff, hub
):
    reviewer = verified_user()
    MembershipFactory(user=reviewer, hub=hub, role=Role.REVIEWER)
    unassigned = verified_user()
    MembershipFactory(user=unassigned, hub=hub, role=Role.REVIEWER)
    stranger = verified_user()
    MembershipFactory(user=stranger, hub=hub)
    superuser = UserFactory(is_superuser=True, is_staff=True)
    review = Review.objects.create(application=application, reviewer=reviewer)
    for user in (member, teammate, staff, reviewer, superuser):
        assert access.application_for(user, application.pk) == application
        assert list(access.applications_visible_to(user)) == [application]
    for user in (other_staff, unassigned, stranger):
        with pytest.raises(Http404):
            access.application_for(user, application.pk)
        assert not access.applications_visible_to(user).exists()
    # Reviewers read, they do not write; a declined review gives no access.
    with pytest.raises(Http404):
        access.application_for(reviewer, application.pk, for_write=True)
    assert access.application_for(teammate, application.pk, for_write=True) == application
    Review.objects.filter(pk=review.pk).update(status=ReviewStatus.DECLINED)
    with pytest.raises(Http404):
        access.application_for(reviewer, application.pk)
    with pytest.raises(Http404):
        access.application_for_staff(member, application.pk)
    assert access.application_for_staff(staff, application.pk) == application


def test_a_key_narrows_access_to_its_hub(application, member, other_hub):
    from tests.factories import make_api_key

    MembershipFactory(user=member, hub=other_hub)
    key_here, _ = make_api_key(hub=application.hub, user=member)
    key_there, _ = make_api_key(hub=other_hub, user=member)
    assert access.applications_visible_to(member, key_here).exists()
    assert not access.applications_visible_to(member, key_there).exists()


def test_projects_are_visible_to_members_and_hub_staff(project, member, staff, other_staff):
    assert access.project_for(member, project.pk) == project
    assert access.project_for(staff, project.pk) == project
    with pytest.raises(Http404):
        access.project_for(other_staff, project.pk)


def test_flags_follow_role_and_state(application, member, teammate, staff):
    assert access.can_edit(teammate, application)
    assert access.can_withdraw(member, application)
    assert not access.can_withdraw(teammate, application)
    assert not access.can_decide(staff, application)
    set_status(application, A.IN_REVIEW)
    assert access.can_decide(staff, application)
    assert access.can_request_changes(staff, application)
    assert not access.can_decide(member, application)
    assert not access.can_edit(member, application)
