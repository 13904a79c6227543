"""Screening: independent checks recorded per submission round, then the track's decision rule.

A check is a function ``run(application) -> (passed, reason)`` registered with a key and a
label. Another app adds one without touching this module::

    from compute.screening import screening_check

    @screening_check("ai_act", "AI system assessed under the AI Act")
    def ai_act(application):
        return True, "Minimal risk; no obligations block the use of GPUs."

Checks run in registration order; keys are unique (re-registering a key replaces the check).

``screen_and_decide`` is what the Celery task runs. It is safe to run twice and after a
worker crash:

1. claim: a conditional UPDATE ``submitted -> screening`` for this round; if another run
   claimed it and recorded results but stopped before deciding, this run finishes the job;
   if the application has moved on (decided, withdrawn, resubmitted), it returns "skipped";
2. record one ``ScreeningResult`` per check (unique per round; rows already there are kept);
3. decide, in a second transaction, guarded by the same conditional UPDATEs as staff use.
"""

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass

from allauth.account.models import EmailAddress
from django.db import transaction
from django.utils import timezone

from gigafactory.audit import audit_record
from hubs.models import Membership, MembershipStatus, Profile

from . import services
from .models import Account, AccountKind, Application, AppStatus, ScreeningResult, Track, credits

log = logging.getLogger(__name__)
A = AppStatus


@dataclass(frozen=True)
class Check:
    key: str
    label: str
    run: Callable[[Application], tuple[bool, str]]
    rejects: bool = False  # a failure rejects the application on any track (e.g. an AI Act prohibition)
    order: int = 0  # registration order; kept when a key is registered again


_REGISTRY: dict[str, Check] = {}
_ORDER = itertools.count()


def screening_check(key: str, label: str, *, rejects: bool = False):
    """Register ``fn(application) -> (passed, reason)`` as a screening check.

    ``rejects=True``: when it fails, screening rejects the application whatever the track.
    """
    if len(key) > ScreeningResult._meta.get_field("check_key").max_length:
        raise ValueError(f"Screening check key too long: {key}")

    def register(fn):
        existing = _REGISTRY.get(key)
        order = existing.order if existing is not None else next(_ORDER)
        _REGISTRY[key] = Check(key=key, label=label, run=fn, rejects=rejects, order=order)
        return fn

    return register


# Guards on staff approval: ``fn(application) -> str | None``, a reason to refuse. Another app
# (the AI Act gate in compliance.screening) registers one with ``@approval_guard``.
_APPROVAL_GUARDS: list[Callable[[Application], str | None]] = []


def approval_guard(fn):
    """Register ``fn(application) -> str | None``; a reason makes staff approval refuse (409)."""
    if fn not in _APPROVAL_GUARDS:
        _APPROVAL_GUARDS.append(fn)
    return fn


def approval_problem(application) -> str | None:
    """The first reason a guard gives to refuse approving ``application`` now, or ``None``."""
    for guard in _APPROVAL_GUARDS:
        problem = guard(application)
        if problem:
            return problem
    return None


def unregister(key: str) -> None:
    _REGISTRY.pop(key, None)


def checks() -> list[Check]:
    return sorted(_REGISTRY.values(), key=lambda check: check.order)


# --- The checks -----------------------------------------------------------------------------


@screening_check("member_verified", "Active hub member with a verified e-mail")
def member_verified(application):
    user, hub = application.applicant, application.hub
    if not Membership.objects.filter(user=user, hub=hub, status=MembershipStatus.ACTIVE).exists():
        return False, f"{user} is not an active member of {hub}: join the hub first."
    if not user.is_active:
        return False, f"{user}'s account is not active."
    verified = EmailAddress.objects.filter(user=user, verified=True).values_list("email", flat=True).first()
    if verified is None:
        return False, f"{user} has not verified an e-mail address."
    return True, f"{user} is an active member of {hub} with a verified e-mail ({verified})."


def organisation_of(application):
    """The organisation that applies: the project's, else the applicant's (from the profile)."""
    if application.project.organisation_id is not None:
        return application.project.organisation
    profile = Profile.objects.select_related("organisation").filter(user_id=application.applicant_id).first()
    return profile.organisation if profile is not None else None


@screening_check("organisation_allowed", "Organisation kind allowed by the call")
def organisation_allowed(application):
    call = application.call
    if not call.allowed_org_kinds:
        return True, "The call is open to every kind of organisation."
    allowed = ", ".join(call.allowed_org_kinds)
    organisation = organisation_of(application)
    if organisation is None:
        return False, f"No organisation is given (project or applicant's profile); the call is open to: {allowed}."
    if not call.allows_kind(organisation.kind):
        return False, f"{organisation} is a {organisation.get_kind_display().lower()}; the call is open to: {allowed}."
    return True, f"{organisation} ({organisation.get_kind_display().lower()}) may apply to this call."


@screening_check("civilian_use", "Civilian use declared")
def civilian_use(application):
    if application.civilian_use:
        return True, "The applicant declared the work is for civilian purposes only."
    return False, "The civilian-use declaration is missing."


def track_limit(call) -> int:
    if call.track == Track.PLAYGROUND and call.playground_grant_millicredits > 0:
        return call.playground_grant_millicredits
    return call.max_request_millicredits


@screening_check("within_track_limit", "Request within the track's limit")
def within_track_limit(application):
    limit = track_limit(application.call)
    requested = application.requested_millicredits
    track = application.call.get_track_display().lower()
    if requested <= 0:
        return False, "The application requests no credits."
    if requested > limit:
        return False, f"{credits(requested)} credits requested; the {track} limit of this call is {credits(limit)}."
    return True, f"{credits(requested)} credits requested, within the {track} limit of {credits(limit)}."


@screening_check("call_open", "Call open at submission")
def call_open(application):
    call, at = application.call, application.submitted_at
    if at is None:
        return False, "The application has no submission time."
    if not call.published:
        return False, f"The call '{call}' is not published."
    if at < call.opens_at:
        return False, f"Submitted before the call opened ({timezone.localtime(call.opens_at):%d %B %Y, %H:%M})."
    if at >= call.closes_at:
        return False, f"Submitted after the call closed ({timezone.localtime(call.closes_at):%d %B %Y, %H:%M})."
    return True, f"Submitted while the call was open (it closes {timezone.localtime(call.closes_at):%d %B %Y, %H:%M})."


@screening_check("budget_available", "Call budget available")
def budget_available(application):
    needed = services.expected_grant(application)
    left = (
        Account.objects.filter(kind=AccountKind.CALL_BUDGET, call_id=application.call_id)
        .values_list("balance", flat=True)
        .first()
    ) or 0
    if left < needed:
        return False, f"{credits(needed)} credits needed; the call's budget has {credits(left)} left."
    return True, f"{credits(needed)} credits needed; the call's budget has {credits(left)} left."


# --- Running and deciding -------------------------------------------------------------------


def _claim(application_id: int, screening_round: int) -> Application | None:
    """Take the round's screening for this run and record the missing results; ``None`` if not ours."""
    with transaction.atomic():
        won = Application.objects.filter(pk=application_id, status=A.SUBMITTED, screening_round=screening_round).update(
            status=A.SCREENING, updated_at=timezone.now()
        )
        application = (
            Application.objects.select_related("call", "project", "project__organisation", "hub", "applicant")
            .filter(pk=application_id)
            .first()
        )
        if application is None:
            return None
        if won:
            audit_record(
                application,
                "application.screening_started",
                actor_label=services.SYSTEM_LABEL,
                before={"status": A.SUBMITTED},
                after={"status": A.SCREENING, "round": screening_round},
            )
        elif application.status != A.SCREENING or application.screening_round != screening_round:
            return None  # decided, withdrawn, resubmitted, or not yet submitted: nothing to do
        else:
            log.info("Resuming screening of application %s round %s", application_id, screening_round)
        done = set(
            ScreeningResult.objects.filter(application=application, round=screening_round).values_list(
                "check_key", flat=True
            )
        )
        rows = []
        for check in checks():
            if check.key in done:
                continue
            passed, reason = check.run(application)
            rows.append(
                ScreeningResult(
                    application=application,
                    round=screening_round,
                    check_key=check.key,
                    label=check.label,
                    passed=bool(passed),
                    reason=reason,
                )
            )
        # ignore_conflicts: a concurrent run of the same round may have recorded them first.
        ScreeningResult.objects.bulk_create(rows, ignore_conflicts=True)
        return application


def _failures(results) -> str:
    return " ".join(f"{r.label}: {r.reason}" for r in results if not r.passed)


def _decide(application_id: int, screening_round: int) -> str:
    with transaction.atomic():
        application = (
            Application.objects.select_for_update(of=("self",))
            .select_related("call", "project", "hub")
            .filter(pk=application_id)
            .first()
        )
        if application is None or application.status != A.SCREENING or application.screening_round != screening_round:
            return "skipped"  # a concurrent run decided first
        results = list(ScreeningResult.objects.filter(application=application, round=screening_round))
        failed = [r for r in results if not r.passed]
        track = application.call.track
        if not failed and track in (Track.PLAYGROUND, Track.FAST_LANE):
            try:
                services.application_approve(
                    application=application, reason="Approved automatically: every screening check passed."
                )
            except services.InsufficientBudget as exc:
                services.application_send_to_review(
                    application=application,
                    reason=f"Every screening check passed, but the automatic approval failed: {exc.message}",
                )
                return "in_review"
            return "approved"
        fatal = [r for r in failed if r.check_key in _REGISTRY and _REGISTRY[r.check_key].rejects]
        if fatal or (failed and track == Track.PLAYGROUND):
            services.application_reject(
                application=application, reason=f"Rejected automatically by screening. {_failures(failed)}"
            )
            return "rejected"
        if failed:
            reason = f"Screening found problems for staff to look at. {_failures(failed)}"
        elif track == Track.PEER_REVIEW:
            reason = "Every screening check passed; the application goes to peer review."
        else:
            reason = "Every screening check passed."
        services.application_send_to_review(application=application, reason=reason)
        return "in_review"


def screen_and_decide(*, application_id: int, screening_round: int) -> str:
    """Screen one submission round and apply the decision rule of the call's track.

    Returns "approved", "rejected", "in_review" or "skipped" (nothing left to do).
    """
    if _claim(application_id, screening_round) is None:
        return "skipped"
    return _decide(application_id, screening_round)
