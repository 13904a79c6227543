"""Every write about projects, call budgets, applications and reviews.

Each application transition is one function: it checks who acts, moves the status with a
conditional UPDATE (a second, concurrent or repeated attempt matches no row and raises
``InvalidTransition``), writes the audit trail and queues notifications in the same database
transaction, and enqueues Celery work after commit (``gigafactory.outbox.send_on_commit``).

Application states (PRODUCT.md): draft -> submitted -> screening -> (in_review |
changes_requested) -> approved | rejected; withdrawn from any open state. Automatic
decisions (``acting_user=None``) are taken by the screening task from ``screening``;
staff decide from ``in_review``.

``Application.decision_reason`` holds the latest message for the applicant: why changes
are requested, why it was rejected, a note on the approval, or why it went to staff.
"""

import uuid
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Case, CharField, Count, Exists, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Cast, Concat
from django.urls import NoReverseMatch
from django.utils import timezone

from gigafactory.audit import audit_event, audit_record
from gigafactory.errors import InvalidTransition
from gigafactory.events import emit, emit_many, event
from gigafactory.models import AuditEvent
from hubs import access as hub_access
from hubs.models import STAFF_ROLES, MembershipStatus, Profile, Role, User
from hubs.services import Notice, notify, notify_many

from . import access, ledger
from .models import (
    OPEN_STATUSES,
    Account,
    AccountKind,
    Allocation,
    Application,
    AppStatus,
    ComputeResource,
    Project,
    ProjectMember,
    ProjectRole,
    Recommendation,
    ResourceRequest,
    Review,
    ReviewStatus,
    Track,
    TransactionKind,
    credits,
)

A = AppStatus
SYSTEM_LABEL = "automatic screening"
REVIEWER_ROLES = (Role.REVIEWER, *STAFF_ROLES)
EDITABLE = (A.DRAFT, A.CHANGES_REQUESTED)
APPLICANT_FIELDS = frozenset(
    {"title", "abstract", "justification", "duration_days", "data_sensitivity", "civilian_use", "ai_system_name"}
)


class InsufficientBudget(InvalidTransition):
    """The call's budget cannot cover a grant. Nothing was written; the API answers 409."""

    def __init__(self, application, shortfall: ledger.InsufficientFunds):
        self.needed = shortfall.needed
        self.available = shortfall.available
        super().__init__(
            application,
            "approve",
            f"The call's budget cannot cover this grant: {credits(shortfall.needed)} credits needed, "
            f"{credits(shortfall.available)} left. Grant a smaller amount or fund the call first.",
        )


# --- Small helpers --------------------------------------------------------------------------


def _link(obj) -> str:
    try:
        return obj.get_absolute_url()
    except NoReverseMatch:  # pages not wired yet; the inbox item still says what happened
        return ""


def _hub_staff(hub):
    return User.objects.filter(
        memberships__hub=hub,
        memberships__status=MembershipStatus.ACTIVE,
        memberships__role__in=STAFF_ROLES,
        is_active=True,
    )


def _project_users(project, *, exclude=None):
    qs = User.objects.filter(project_memberships__project=project, is_active=True)
    if exclude is not None and exclude.is_authenticated:
        qs = qs.exclude(pk=exclude.pk)
    return qs


def _require_hub_staff(acting_user, hub):
    if acting_user is None or not hub_access.is_hub_staff(acting_user, hub):
        raise PermissionDenied(f"You are not staff of {hub}.")


def _require_decider(acting_user, application):
    _require_hub_staff(acting_user, application.hub)
    if access.is_project_member(acting_user, application.project):
        raise PermissionDenied("You are on this project's team: another staff member must decide.")


def _require_project_member(acting_user, project):
    if not access.is_project_member(acting_user, project):
        raise PermissionDenied(f"You are not a member of the project '{project}'.")


def _decision_payload(app, decision, granted, automatic) -> dict:
    return {
        "application": app.pk,
        "title": app.title,
        "project": app.project_id,
        "call": app.call.slug,
        "decision": decision,
        "granted_millicredits": granted,
        "automatic": automatic,
        "url": _link(app),
    }


def _positive_int(value, field, label):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValidationError({field: f"{label} must be a whole, positive number of millicredits."})
    return value


def _copy_into(target, source) -> None:
    """Give the caller's instance the state the service left, without another query."""
    if target is not source:
        for field in Application._meta.concrete_fields:
            setattr(target, field.attname, getattr(source, field.attname))


def _locked(application) -> Application:
    """The application's current row, locked until the end of the transaction."""
    return (
        Application.objects.select_for_update(of=("self",))
        .select_related("call", "project", "hub")
        .get(pk=application.pk)
    )


STATE_WORDS = {
    "submit": "submitted",
    "withdraw": "withdrawn",
    "request_changes": "sent back for changes",
    "approve": "approved",
    "reject": "rejected",
    "send_to_review": "sent to staff",
    "edit": "edited",
}


def _refusal(application, action) -> InvalidTransition:
    return InvalidTransition(
        application,
        action,
        f"This application is {application.get_status_display().lower()}; "
        f"it cannot be {STATE_WORDS.get(action, action)} now.",
    )


def _move_many(apps, action, *, allowed, to, actor=None, values=None, after=None, each=None) -> list[Application]:
    """Move ``apps`` (locked by the caller) from one of ``allowed`` to ``to`` in one UPDATE.

    ``values`` are written on every row, ``each`` maps an application's pk to the values of its own
    row (e.g. its grant). ``after`` (a dict, or a function of the application that returns one) goes
    into each audit event with the new status. The conditional UPDATE is the guard: if another
    transaction moved one first, nothing changes and it raises ``InvalidTransition``.
    """
    if not apps:
        return apps
    each = each or {}
    common = {"status": to, "updated_at": timezone.now()} | (values or {})
    changes = dict(common)
    for name in {name for own in each.values() for name in own}:
        field = Application._meta.get_field(name)
        changes[name] = Case(*(When(pk=pk, then=Value(own[name])) for pk, own in each.items()), output_field=field)
    before = {app.pk: app.status for app in apps}
    won = Application.objects.filter(pk__in=before, status__in=allowed).update(**changes)
    if won != len(apps):
        for app in apps:
            app.refresh_from_db()
            if app.status not in allowed:
                raise _refusal(app, action)
        raise _refusal(apps[0], action)
    events = []
    for app in apps:
        own = each.get(app.pk, {})
        for field, value in (common | own).items():  # what the UPDATE wrote; no need to read it back
            setattr(app, field, value)
        events.append(
            audit_event(
                app,
                f"application.{action}",
                actor=actor,
                actor_label="" if actor is not None else SYSTEM_LABEL,
                before={"status": before[app.pk]},
                after={"status": to} | ((after(app) if callable(after) else after) or {}),
            )
        )
    AuditEvent.objects.bulk_create(events)
    return apps


def _move(application, action, *, allowed, to, actor=None, values=None, after=None) -> Application:
    """Move ``application`` (already locked by the caller) from one of ``allowed`` to ``to``."""
    return _move_many([application], action, allowed=allowed, to=to, actor=actor, values=values, after=after)[0]


def _team_ids(apps) -> dict[int, tuple[int, ...]]:
    """The active users of each application's project team, by project id (one query)."""
    teams: dict[int, list[int]] = {}
    rows = ProjectMember.objects.filter(project_id__in={a.project_id for a in apps}, user__is_active=True)
    for project_id, user_id in rows.order_by("pk").values_list("project_id", "user_id"):
        teams.setdefault(project_id, []).append(user_id)
    return {project_id: tuple(users) for project_id, users in teams.items()}


# --- Projects -------------------------------------------------------------------------------


@transaction.atomic
def project_create(*, hub, title, summary="", organisation=None, acting_user) -> Project:
    """Create a project team at ``hub``; ``acting_user`` (an active member of the hub) is its PI."""
    if hub_access.role_in(acting_user, hub) is None:
        raise ValidationError({"hub": f"You must be an active member of {hub} to start a project there."})
    project = Project(hub=hub, title=(title or "").strip(), summary=summary, pi=acting_user, organisation=organisation)
    project.clean_fields(exclude=["hub", "pi", "organisation"])
    project.save()
    ProjectMember.objects.create(project=project, user=acting_user, role=ProjectRole.PI)
    audit_record(
        project,
        "project.created",
        actor=acting_user,
        after={"title": project.title, "pi": acting_user.pk, "organisation": organisation.pk if organisation else None},
    )
    return project


@transaction.atomic
def project_add_member(*, project, user, acting_user) -> ProjectMember:
    """Add ``user`` (from any hub) to the team. The PI and the hub's staff may do this."""
    if not access.can_manage_project(acting_user, project):
        raise PermissionDenied("Only the project's PI or hub staff can change the team.")
    if not user.is_active:
        raise ValidationError({"user": f"{user} has no active account."})
    try:
        with transaction.atomic():
            member = ProjectMember.objects.create(project=project, user=user, role=ProjectRole.MEMBER)
    except IntegrityError as exc:
        raise ValidationError({"user": f"{user} is already on the team."}) from exc
    audit_record(project, "project.member_added", actor=acting_user, after={"user": user.pk, "role": member.role})
    notify(
        users=[user],
        kind="project.member_added",
        title=f"You were added to the project '{project}'",
        body=f"{acting_user.display_name} added you to the team of '{project}' at {project.hub}.",
        url=_link(project),
        dedupe_key=f"project.member_added:{project.pk}:{user.pk}:{member.pk}",
    )
    return member


@transaction.atomic
def project_remove_member(*, project, user, acting_user) -> None:
    """Remove ``user`` from the team: the PI or hub staff, or the member themself (leaving)."""
    if acting_user.pk != user.pk and not access.can_manage_project(acting_user, project):
        raise PermissionDenied("Only the project's PI or hub staff can change the team.")
    member = ProjectMember.objects.select_for_update().filter(project=project, user=user).first()
    if member is None:
        raise ValidationError({"user": f"{user} is not on the team."})
    if member.role == ProjectRole.PI or project.pi_id == user.pk:
        raise ValidationError({"user": "The principal investigator cannot be removed from the project."})
    member.delete()
    audit_record(project, "project.member_removed", actor=acting_user, before={"user": user.pk, "role": member.role})


# --- Call budgets ---------------------------------------------------------------------------


@transaction.atomic
def call_fund(*, call, amount_millicredits, acting_user, idempotency_key=None):
    """Move credits from the call's funding source into its budget. Returns the ledger transaction.

    With an ``idempotency_key`` (e.g. an API ``Idempotency-Key``) a repeated request changes nothing.
    """
    _require_hub_staff(acting_user, call.hub)
    amount = _positive_int(amount_millicredits, "amount_millicredits", "The amount")
    key = f"fund:{call.pk}:{idempotency_key or uuid.uuid4().hex}"
    txn, created = ledger.transfer(
        kind=TransactionKind.FUND,
        idempotency_key=key,
        source=ledger.funding_account(call.funding_source),
        target=ledger.call_account(call),
        amount=amount,
        memo=f"{call.funding_source} funds {call}",
        created_by=acting_user,
    )
    if created:
        audit_record(
            call, "call.funded", actor=acting_user, after={"amount_millicredits": amount, "transaction": txn.pk}
        )
    return txn


# --- Drafts ---------------------------------------------------------------------------------


def _validate_fields(application, fields):
    unknown = set(fields) - APPLICANT_FIELDS
    if unknown:
        raise TypeError(f"Unknown application fields: {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        setattr(application, name, value.strip() if name == "title" and isinstance(value, str) else value)
    try:
        application.clean_fields(exclude=["project", "call", "hub", "applicant", "decided_by"])
    except ValidationError as exc:
        errors = exc.message_dict
        if application.title == "":  # a draft may be untitled until it is submitted
            errors.pop("title", None)
        if errors:
            raise ValidationError(errors) from exc


def _check_rows(call, rows):
    """Validate ``(resource, gpu_hours)`` rows against the call; return clean rows."""
    eligible = set(call.eligible_resources.filter(active=True).values_list("pk", flat=True))
    errors, clean, seen = [], [], set()
    for number, row in enumerate(rows, start=1):
        try:
            resource, gpu_hours = row
        except (TypeError, ValueError):
            errors.append(f"Row {number}: give a resource and a number of GPU-hours.")
            continue
        name = getattr(resource, "name", resource)
        if not isinstance(resource, ComputeResource) or resource.pk not in eligible:
            errors.append(f"Row {number} ({name}): this resource is not offered by the call '{call}'.")
        elif resource.pk in seen:
            errors.append(f"Row {number} ({name}): this resource is already requested in another row.")
        if isinstance(gpu_hours, bool) or not isinstance(gpu_hours, int) or gpu_hours < 1:
            errors.append(f"Row {number} ({name}): GPU-hours must be a whole number of at least 1.")
        if isinstance(resource, ComputeResource):
            seen.add(resource.pk)
        clean.append((resource, gpu_hours))
    if errors:
        raise ValidationError({"resource_rows": errors})
    return clean


def _requested_total(application) -> int:
    rows = ResourceRequest.objects.filter(application=application).select_related("resource")
    return sum(row.gpu_hours * row.resource.rate_millicredits for row in rows)


@transaction.atomic
def application_create(*, project, call, acting_user, **fields) -> Application:
    """Start a draft application of ``project`` to ``call``; ``acting_user`` becomes the applicant."""
    _require_project_member(acting_user, project)
    if not call.published or call.closes_at <= timezone.now():
        raise ValidationError({"call": f"The call '{call}' does not accept applications."})
    application = Application(project=project, call=call, hub=call.hub, applicant=acting_user, title="")
    _validate_fields(application, fields)
    application.save()
    audit_record(application, "application.created", actor=acting_user, after={"status": A.DRAFT})
    return application


@transaction.atomic
def application_update_draft(*, application, acting_user, resource_rows=None, **fields) -> Application:
    """Save a draft (or an answer to "changes requested"). ``resource_rows`` replaces every row."""
    app = _locked(application)
    _require_project_member(acting_user, app.project)
    if app.status not in EDITABLE:
        raise _refusal(app, "edit")
    _validate_fields(app, fields)
    if resource_rows is not None:
        rows = _check_rows(app.call, list(resource_rows))
        ResourceRequest.objects.filter(application=app).delete()
        ResourceRequest.objects.bulk_create(
            ResourceRequest(application=app, resource=resource, gpu_hours=hours) for resource, hours in rows
        )
    app.requested_millicredits = _requested_total(app)
    app.save(update_fields=[*fields, "requested_millicredits", "updated_at"])
    _copy_into(application, app)
    return application


# --- Transitions ----------------------------------------------------------------------------


@transaction.atomic
def application_submit(*, application, acting_user) -> Application:
    """draft | changes_requested -> submitted; screening starts when the transaction commits."""
    from . import screening  # screening imports this module

    app = _locked(application)
    _require_project_member(acting_user, app.project)
    if app.status not in EDITABLE:
        raise _refusal(app, "submit")
    rows = list(app.resource_requests.select_related("resource"))
    errors = {}
    if not app.title.strip():
        errors["title"] = "Give the application a title."
    if not app.abstract.strip():
        errors["abstract"] = "Write an abstract: what you will do with the GPUs."
    if not rows:
        errors["resource_rows"] = "Request GPU-hours on at least one resource."
    else:
        try:
            _check_rows(app.call, [(row.resource, row.gpu_hours) for row in rows])
        except ValidationError as exc:
            errors |= exc.message_dict
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    call = app.call
    if not call.is_open_at(now):
        when = call.opens_at if now < call.opens_at else call.closes_at
        verb = "opens" if now < call.opens_at else "closed"
        raise InvalidTransition(
            app, "submit", f"The call '{call}' {verb} on {timezone.localtime(when):%d %B %Y, %H:%M}; submit it then."
        )
    requested = sum(row.gpu_hours * row.resource.rate_millicredits for row in rows)
    new_round = app.screening_round + 1
    _move(
        app,
        "submit",
        allowed=EDITABLE,
        to=A.SUBMITTED,
        actor=acting_user,
        values={
            "submitted_at": now,
            "screening_round": new_round,
            "requested_millicredits": requested,
            "decision_reason": "",
        },
        after={"round": new_round, "requested_millicredits": requested},
    )
    notify(
        users=_project_users(app.project),
        kind="application.submitted",
        title=f"'{app}' was submitted to {call}",
        body=f"{acting_user.display_name} submitted it; screening starts now.",
        url=_link(app),
        dedupe_key=f"application.submitted:{app.pk}:{new_round}",
    )
    emit(
        "application.submitted",
        hub=app.hub,
        payload={
            "application": app.pk,
            "title": app.title,
            "project": app.project_id,
            "call": call.slug,
            "track": call.track,
            "round": new_round,
            "requested_millicredits": requested,
            "url": _link(app),
        },
    )
    # A worker screens it (with whatever else is waiting) once this commits. Never fails the
    # request if the broker is away: resend_stalled_screenings sends what is owed later.
    screening.kick_on_commit()
    _copy_into(application, app)
    return application


@transaction.atomic
def application_withdraw(*, application, acting_user) -> Application:
    """Any open state -> withdrawn, by the applicant or the project's PI."""
    app = _locked(application)
    if not access.may_withdraw(acting_user, app):
        raise PermissionDenied("Only the applicant or the project's PI can withdraw an application.")
    was = app.status
    _move(app, "withdraw", allowed=OPEN_STATUSES, to=A.WITHDRAWN, actor=acting_user)
    key = f"application.withdrawn:{app.pk}"
    notify(
        users=_project_users(app.project, exclude=acting_user),
        kind="application.withdrawn",
        title=f"'{app}' was withdrawn",
        body=f"{acting_user.display_name} withdrew it.",
        url=_link(app),
        dedupe_key=key,
    )
    if was in (A.SCREENING, A.IN_REVIEW):
        reviewers = User.objects.filter(reviews__application=app, reviews__status=ReviewStatus.ASSIGNED)
        notify(
            users={*_hub_staff(app.hub), *reviewers},
            kind="application.withdrawn",
            title=f"'{app}' was withdrawn by its applicant",
            body="It no longer needs a review or a decision.",
            url=_link(app),
            dedupe_key=key,
        )
    _copy_into(application, app)
    return application


@transaction.atomic
def application_request_changes(*, application, acting_user, reason) -> Application:
    """in_review | screening -> changes_requested (staff), with a reason for the applicant."""
    app = _locked(application)
    _require_decider(acting_user, app)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Tell the applicant what to change."})
    _move(
        app,
        "request_changes",
        allowed=[A.IN_REVIEW, A.SCREENING],
        to=A.CHANGES_REQUESTED,
        actor=acting_user,
        values={"decision_reason": reason},
        after={"reason": reason},
    )
    notify(
        users=_project_users(app.project),
        kind="application.changes_requested",
        title=f"Changes requested on '{app}'",
        body=reason,
        url=_link(app),
        dedupe_key=f"application.changes_requested:{app.pk}:{app.screening_round}",
    )
    _copy_into(application, app)
    return application


def expected_grant(application) -> int:
    """What an approval grants by default: the request; on a playground call the fixed grant,
    capped by the request (a grant never exceeds what was asked for)."""
    requested = application.requested_millicredits
    grant = application.call.playground_grant_millicredits
    if application.call.track == Track.PLAYGROUND and grant > 0:
        return min(grant, requested)
    return requested


def submitted_reviews(application) -> int:
    return Review.objects.filter(application=application, status=ReviewStatus.SUBMITTED).count()


@transaction.atomic
def application_approve(*, application, acting_user=None, amount_millicredits=None, reason="") -> Application:
    """in_review -> approved (staff), or screening -> approved (``acting_user=None``: the screening task).

    Creates the allocation and moves the grant from the call budget to it, in the same
    transaction. Raises ``InsufficientBudget`` (and writes nothing) if the budget cannot
    cover it. The grant defaults to ``expected_grant``; staff may reduce it, never raise it.
    """
    app = _locked(application)
    automatic = acting_user is None
    if not automatic:
        _require_decider(acting_user, app)
    allowed = [A.SCREENING] if automatic else [A.IN_REVIEW]
    if app.status not in allowed:
        raise _refusal(app, "approve")
    call = app.call
    if not automatic:  # other apps' guards (e.g. the AI Act gate); screening covers automatic approvals
        from .screening import approval_problem  # screening imports this module

        problem = approval_problem(app)
        if problem:
            raise InvalidTransition(app, "approve", problem)
    if not automatic and call.track == Track.PEER_REVIEW:
        done = submitted_reviews(app)
        if done < call.min_reviewers:
            raise InvalidTransition(
                app,
                "approve",
                f"Peer review needs {call.min_reviewers} submitted reviews before approval; "
                f"{done} so far. Assign reviewers or wait for their reviews.",
            )
    amount = expected_grant(app) if amount_millicredits is None else amount_millicredits
    amount = _positive_int(amount, "amount_millicredits", "The grant")
    if amount > app.requested_millicredits:
        raise ValidationError(
            {
                "amount_millicredits": f"The grant cannot exceed the request "
                f"({credits(app.requested_millicredits)} credits)."
            }
        )
    was = Application(**{f.attname: getattr(app, f.attname) for f in Application._meta.concrete_fields})
    try:
        _grant_many([(app, amount)], allowed=allowed, actor=acting_user, reason=reason)
    except ledger.InsufficientFunds as exc:
        _copy_into(app, was)  # what the database holds again once the exception rolls back
        raise InsufficientBudget(app, exc) from exc
    _copy_into(application, app)
    return application


def applications_approve_automatically(apps, *, reason) -> list[tuple[Application, InsufficientBudget]]:
    """screening -> approved for many applications (locked by the caller: the screening batch).

    The grants are taken from each call's budget in the order given; the budget is locked once
    per batch. Returns the applications it could not cover, with the shortfall, unchanged.
    """
    budgets = {call.pk: ledger.call_account(call) for call in {a.call_id: a.call for a in apps}.values()}
    locked = Account.objects.select_for_update().filter(pk__in=[b.pk for b in budgets.values()]).order_by("pk")
    left = {account.call_id: account.balance for account in locked}
    grants, short = [], []
    for app in apps:
        amount = _positive_int(expected_grant(app), "amount_millicredits", "The grant")
        if amount > left[app.call_id]:
            shortfall = ledger.InsufficientFunds(budgets[app.call_id], amount, left[app.call_id])
            short.append((app, InsufficientBudget(app, shortfall)))
            continue
        left[app.call_id] -= amount
        grants.append((app, amount))
    _grant_many(grants, allowed=[A.SCREENING], actor=None, reason=reason)
    return short


def _grant_many(grants, *, allowed, actor, reason) -> None:
    """Approve each ``(application, amount)``: its allocation, the grant through the ledger (one
    post for all), the audit trail, the team's inbox and the events. Raises
    ``ledger.InsufficientFunds`` (nothing is written) if a call budget cannot cover them."""
    if not grants:
        return
    apps = [app for app, _ in grants]
    now = timezone.now()
    _move_many(
        apps,
        "approve",
        allowed=allowed,
        to=A.APPROVED,
        actor=actor,
        values={"decided_by": actor, "decided_at": now, "decision_reason": reason},
        each={app.pk: {"granted_millicredits": amount} for app, amount in grants},
        after=lambda app: {"granted_millicredits": app.granted_millicredits, "reason": reason},
    )
    today = timezone.localdate(now)
    allocations = Allocation.objects.bulk_create(
        Allocation(
            application=app,
            project=app.project,
            call=app.call,
            hub=app.hub,
            granted_millicredits=amount,
            starts_on=today,
            ends_on=today + timedelta(days=app.call.allocation_days),
        )
        for app, amount in grants
    )
    Allocation.objects.filter(pk__in=[a.pk for a in allocations]).update(
        slurm_account=Concat(Value("gf-"), Cast("pk", CharField()))
    )
    accounts = Account.objects.bulk_create(
        Account(kind=AccountKind.ALLOCATION, allocation=allocation) for allocation in allocations
    )
    budgets = {call.pk: ledger.call_account(call) for call in {app.call_id: app.call for app in apps}.values()}
    posted = ledger.post_many(
        [
            ledger.Movement(
                kind=TransactionKind.GRANT,
                idempotency_key=f"grant:{app.pk}",
                postings=[ledger.Posting(budgets[app.call_id], -amount), ledger.Posting(account, amount)],
                memo=f"Grant for '{app}'",
                created_by=actor,
            )
            for (app, amount), account in zip(grants, accounts, strict=True)
        ]
    )
    for (app, _), (_txn, created) in zip(grants, posted, strict=True):
        if not created:  # only possible if rows were changed by hand: refuse rather than grant twice
            raise InvalidTransition(app, "approve", "This application has already received its grant.")
    teams = _team_ids(apps)
    events, notices, announced = [], [], []
    for (app, amount), allocation in zip(grants, allocations, strict=True):
        allocation.slurm_account = f"gf-{allocation.pk}"
        events.append(
            audit_event(
                allocation,
                "allocation.created",
                actor=actor,
                actor_label="" if actor else SYSTEM_LABEL,
                after={"granted_millicredits": amount, "ends_on": allocation.ends_on, "application": app.pk},
            )
        )
        notices.append(
            Notice(
                user_ids=teams.get(app.project_id, ()),
                kind="application.approved",
                title=f"'{app}' is approved: {credits(amount)} credits",
                body=(reason + "\n\n" if reason else "") + f"Your allocation runs until {allocation.ends_on:%d %B %Y} "
                f"(Slurm account {allocation.slurm_account}).",
                url=_link(app),
                dedupe_key=f"application.approved:{app.pk}",
            )
        )
        payload = _decision_payload(app, "approved", amount, actor is None)
        announced.append(event("application.decided", hub=app.hub, payload=payload))
        payload = {
            "allocation": allocation.pk,
            "application": app.pk,
            "project": app.project_id,
            "call": app.call.slug,
            "title": str(app.project),
            "granted_millicredits": amount,
            "starts_on": allocation.starts_on.isoformat(),
            "ends_on": allocation.ends_on.isoformat(),
            "slurm_account": allocation.slurm_account,
        }
        announced.append(event("allocation.created", hub=app.hub, payload=payload))
    AuditEvent.objects.bulk_create(events)
    notify_many(notices)
    emit_many(announced)


@transaction.atomic
def application_reject(*, application, acting_user=None, reason="") -> Application:
    """in_review -> rejected (staff, with a reason), or screening -> rejected (the screening task)."""
    app = _locked(application)
    reason = (reason or "").strip()
    if acting_user is not None:
        _require_decider(acting_user, app)
        if not reason:
            raise ValidationError({"reason": "Tell the applicant why the application is rejected."})
    _reject_many([(app, reason)], actor=acting_user)
    _copy_into(application, app)
    return application


def applications_reject_automatically(rejections) -> None:
    """screening -> rejected for many ``(application, reason)`` (locked by the caller: the screening batch)."""
    _reject_many(rejections, actor=None)


def _reject_many(rejections, *, actor) -> None:
    if not rejections:
        return
    apps = [app for app, _ in rejections]
    _move_many(
        apps,
        "reject",
        allowed=[A.SCREENING] if actor is None else [A.IN_REVIEW],
        to=A.REJECTED,
        actor=actor,
        values={"decided_by": actor, "decided_at": timezone.now()},
        each={app.pk: {"decision_reason": reason} for app, reason in rejections},
        after=lambda app: {"reason": app.decision_reason},
    )
    teams = _team_ids(apps)
    notify_many(
        Notice(
            user_ids=teams.get(app.project_id, ()),
            kind="application.rejected",
            title=f"'{app}' was not approved",
            body=reason,
            url=_link(app),
            dedupe_key=f"application.rejected:{app.pk}",
        )
        for app, reason in rejections
    )
    emit_many(
        [
            event("application.decided", hub=app.hub, payload=_decision_payload(app, "rejected", 0, actor is None))
            for app in apps
        ]
    )


@transaction.atomic
def application_send_to_review(*, application, reason="") -> Application:
    """screening -> in_review: the screening task hands the application to the hub's staff."""
    app = _locked(application)
    applications_send_to_review([(app, reason)])
    _copy_into(application, app)
    return application


def applications_send_to_review(handovers) -> None:
    """screening -> in_review for many ``(application, reason)`` (locked by the caller): the
    team is told, and the hub's staff are asked to assign reviewers or decide."""
    if not handovers:
        return
    apps = [app for app, _ in handovers]
    _move_many(
        apps,
        "send_to_review",
        allowed=[A.SCREENING],
        to=A.IN_REVIEW,
        each={app.pk: {"decision_reason": reason} for app, reason in handovers},
        after=lambda app: {"reason": app.decision_reason},
    )
    teams = _team_ids(apps)
    staff = {
        hub.pk: tuple(_hub_staff(hub).values_list("pk", flat=True)) for hub in {a.hub_id: a.hub for a in apps}.values()
    }
    notices = []
    for app, reason in handovers:
        key = f"application.in_review:{app.pk}:{app.screening_round}"
        what = "assign reviewers" if app.call.track == Track.PEER_REVIEW else "decide"
        notices += [
            Notice(
                user_ids=teams.get(app.project_id, ()),
                kind="application.in_review",
                title=f"'{app}' is with the staff of {app.hub}",
                body=reason,
                url=_link(app),
                dedupe_key=key,
            ),
            Notice(
                user_ids=staff[app.hub_id],
                kind="application.waiting",
                title=f"'{app}' ({app.call}) waits for you to {what}",
                body=reason,
                url=_link(app),
                dedupe_key=key,
            ),
        ]
    notify_many(notices)


# --- Reviews --------------------------------------------------------------------------------


def _organisations_of(application) -> set[int]:
    ids = {application.project.organisation_id}
    ids |= set(Profile.objects.filter(user_id=application.applicant_id).values_list("organisation_id", flat=True))
    return {i for i in ids if i is not None}


def conflict_of_interest(application, reviewer) -> str | None:
    """Why ``reviewer`` may not review ``application``, or ``None``: they are on the project's
    team, or share the organisation of the applicant (profile) or of the project."""
    if reviewer.pk == application.applicant_id or access.is_project_member(reviewer, application.project):
        return f"{reviewer} is on the project's team (conflict of interest)."
    organisation = (
        Profile.objects.filter(user=reviewer, organisation_id__in=_organisations_of(application))
        .values_list("organisation__name", flat=True)
        .first()
    )
    if organisation is not None:
        return f"{reviewer} belongs to {organisation}, as the applicant or the project does (conflict of interest)."
    return None


def _reviewer_problem(application, reviewer) -> str | None:
    if not reviewer.is_active:
        return f"{reviewer} has no active account."
    if not reviewer.memberships.filter(
        hub_id=application.hub_id, status=MembershipStatus.ACTIVE, role__in=REVIEWER_ROLES
    ).exists():
        return f"{reviewer} is not a reviewer of {application.hub}."
    conflict = conflict_of_interest(application, reviewer)
    if conflict:
        return conflict
    if Review.objects.filter(application=application, reviewer=reviewer).exists():
        return f"{reviewer} is already assigned to this application (or declined it)."
    return None


def reviewer_candidates(application):
    """Every active reviewer (reviewer, staff or admin) of the application's hub, with what
    decides whether they may review it, least loaded first:

    - ``on_team``: the applicant or a member of the project's team (conflict of interest);
    - ``review_status``: the status of their review of it, if they already have one;
    - ``same_organisation``: their profile's organisation is the applicant's or the project's
      (conflict of interest);
    - ``load``: reviews assigned and not yet done on applications still open.

    ``eligible_reviewers`` keeps those with none of the three; the staff page explains the others.
    """
    organisations = Profile.objects.filter(user_id=application.applicant_id, organisation__isnull=False).values(
        "organisation_id"
    )
    same_organisation = Q(organisation_id__in=organisations)
    if application.project.organisation_id is not None:
        same_organisation |= Q(organisation_id=application.project.organisation_id)
    return (
        User.objects.filter(
            is_active=True,
            memberships__hub_id=application.hub_id,
            memberships__status=MembershipStatus.ACTIVE,
            memberships__role__in=REVIEWER_ROLES,
        )
        .annotate(
            on_team=Q(pk=application.applicant_id)
            | Exists(ProjectMember.objects.filter(project_id=application.project_id, user_id=OuterRef("pk"))),
            review_status=Subquery(
                Review.objects.filter(application=application, reviewer_id=OuterRef("pk")).values("status")[:1]
            ),
            same_organisation=Exists(Profile.objects.filter(same_organisation, user_id=OuterRef("pk"))),
            load=Count(
                "reviews",
                filter=Q(reviews__status=ReviewStatus.ASSIGNED, reviews__application__status__in=OPEN_STATUSES),
                distinct=True,
            ),
        )
        .order_by("load", "pk")
    )


def eligible_reviewers(application):
    """Users who could be assigned to ``application``, least loaded first (see ``reviewer_candidates``)."""
    return reviewer_candidates(application).filter(on_team=False, review_status__isnull=True, same_organisation=False)


def _require_in_review(application):
    if application.status != A.IN_REVIEW:
        raise InvalidTransition(
            application,
            "assign reviewers to",
            f"Reviewers are assigned while an application is in review; "
            f"this one is {application.get_status_display().lower()}.",
        )


@transaction.atomic
def review_assign(*, application, reviewer, acting_user) -> Review:
    """Assign ``reviewer`` (an active reviewer, staff or admin of the hub, without a conflict)."""
    app = _locked(application)
    _require_decider(acting_user, app)
    _require_in_review(app)
    problem = _reviewer_problem(app, reviewer)
    if problem:
        raise ValidationError({"reviewer": problem})
    try:
        with transaction.atomic():
            review = Review.objects.create(application=app, reviewer=reviewer, assigned_by=acting_user)
    except IntegrityError as exc:
        raise ValidationError({"reviewer": f"{reviewer} is already assigned to this application."}) from exc
    audit_record(review, "review.assigned", actor=acting_user, hub=app.hub, after={"reviewer": reviewer.pk})
    notify(
        users=[reviewer],
        kind="review.assigned",
        title=f"Please review '{app}' ({app.call})",
        body="Score it on the call's rubric, or decline if you have a conflict of interest.",
        url=_link(app),
        dedupe_key=f"review.assigned:{review.pk}",
    )
    return review


@transaction.atomic
def reviews_auto_assign(*, application, acting_user, count=None) -> list[Review]:
    """Assign the least-loaded eligible reviewers: ``count`` more, or (default) as many as the
    call still needs to reach ``min_reviewers`` assigned or submitted reviews."""
    app = _locked(application)
    _require_decider(acting_user, app)
    _require_in_review(app)
    if count is None:
        active = Review.objects.filter(application=app).exclude(status=ReviewStatus.DECLINED).count()
        count = max(0, app.call.min_reviewers - active)
    if count <= 0:
        return []
    candidates = list(eligible_reviewers(app)[:count])
    if not candidates:
        raise ValidationError({"reviewer": f"No eligible reviewer without a conflict of interest at {app.hub}."})
    return [review_assign(application=app, reviewer=reviewer, acting_user=acting_user) for reviewer in candidates]


def _clean_scores(rubric, scores) -> tuple[dict, dict]:
    errors, clean = {}, {}
    if not isinstance(scores, dict):
        return {}, {"scores": "Give a score from 1 to 5 for each criterion of the call's rubric."}
    scores = dict(scores)
    for criterion in rubric:
        key, label = criterion["key"], criterion.get("label", criterion["key"])
        value = scores.pop(key, None)
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
            errors[f"score_{key}"] = f"Score '{label}' from 1 to 5."
        else:
            clean[key] = value
    if scores:
        errors["scores"] = f"Not a criterion of this call: {', '.join(sorted(map(str, scores)))}."
    return clean, errors


@transaction.atomic
def review_submit(
    *,
    review,
    acting_user,
    scores,
    comment_for_applicant="",
    private_comment="",
    recommendation,
    no_conflict_declared,
) -> Review:
    """The assigned reviewer scores every rubric criterion (1-5) and recommends."""
    review = (
        Review.objects.select_for_update(of=("self",))
        .select_related("application", "application__call")
        .get(pk=review.pk)
    )
    app = review.application
    if review.reviewer_id != acting_user.pk:
        raise PermissionDenied("Only the assigned reviewer can submit this review.")
    if review.status != ReviewStatus.ASSIGNED:
        raise InvalidTransition(review, "submit", f"This review is already {review.get_status_display().lower()}.")
    if app.status != A.IN_REVIEW:
        raise InvalidTransition(
            review, "submit", f"The application is {app.get_status_display().lower()}; it no longer takes reviews."
        )
    clean, errors = _clean_scores(app.call.rubric, scores)
    if recommendation not in Recommendation.values:
        errors["recommendation"] = "Recommend approve, reject or revise."
    if no_conflict_declared is not True:
        errors["no_conflict_declared"] = (
            "Declare that you have no conflict of interest, or decline the review if you have one."
        )
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    won = Review.objects.filter(pk=review.pk, status=ReviewStatus.ASSIGNED).update(
        status=ReviewStatus.SUBMITTED,
        scores=clean,
        comment_for_applicant=comment_for_applicant,
        private_comment=private_comment,
        recommendation=recommendation,
        no_conflict_declared=True,
        submitted_at=now,
    )
    if won != 1:
        raise InvalidTransition(review, "submit", "This review was already submitted.")
    review.refresh_from_db()
    audit_record(
        review,
        "review.submitted",
        actor=acting_user,
        hub=app.hub,
        before={"status": ReviewStatus.ASSIGNED},
        after={"status": ReviewStatus.SUBMITTED, "recommendation": recommendation, "scores": clean},
    )
    done = submitted_reviews(app)
    if done >= app.call.min_reviewers:
        notify(
            users=_hub_staff(app.hub),
            kind="application.reviews_complete",
            title=f"'{app}' has {done} reviews and waits for your decision",
            url=_link(app),
            dedupe_key=f"application.reviews_complete:{app.pk}:{app.screening_round}",
        )
    return review


@transaction.atomic
def review_decline(*, review, acting_user, reason) -> Review:
    """The assigned reviewer declares a conflict of interest (or cannot review) and steps back."""
    review = Review.objects.select_for_update(of=("self",)).select_related("application").get(pk=review.pk)
    app = review.application
    if review.reviewer_id != acting_user.pk:
        raise PermissionDenied("Only the assigned reviewer can decline this review.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say briefly why you decline (e.g. the conflict of interest)."})
    won = Review.objects.filter(pk=review.pk, status=ReviewStatus.ASSIGNED).update(
        status=ReviewStatus.DECLINED, private_comment=reason
    )
    if won != 1:
        raise InvalidTransition(review, "decline", f"This review is already {review.get_status_display().lower()}.")
    review.refresh_from_db()
    audit_record(
        review,
        "review.declined",
        actor=acting_user,
        hub=app.hub,
        before={"status": ReviewStatus.ASSIGNED},
        after={"status": ReviewStatus.DECLINED, "reason": reason},
    )
    if app.status == A.IN_REVIEW:
        notify(
            users=_hub_staff(app.hub),
            kind="review.declined",
            title=f"{acting_user.display_name} declined to review '{app}': assign another reviewer",
            body=reason,
            url=_link(app),
            dedupe_key=f"review.declined:{review.pk}",
        )
    return review
