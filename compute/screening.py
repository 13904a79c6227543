"""Screening: independent checks recorded per submission round, then the track's decision rule.

A check is a function ``run(application) -> (passed, reason)`` registered with a key and a
label. Another app adds one without touching this module::

    from compute.screening import screening_check

    @screening_check("ai_act", "AI system assessed under the AI Act")
    def ai_act(application):
        return True, "Minimal risk; no obligations block the use of GPUs."

A check that reads the database can take the whole batch instead (``many=True``): it gets a
list of applications and returns one ``(passed, reason)`` per application, in order, so that it
runs one query for a hundred applications rather than one each.

Checks run in registration order; keys are unique (re-registering a key replaces the check).

A submission kicks a worker (``kick``: at most one kick waits in the queue), and the kick runs
``screen_waiting``: batches of up to ``BATCH_SIZE`` submitted applications until none is left.
``screen_and_decide`` is what the per-application task runs (the sweeper sends it for a
screening owed for too long), for one submission round. It also screens in batches: besides
its own application it claims up to ``BATCH_SIZE - 1`` other submitted ones that no other run
holds (``SELECT ... FOR UPDATE SKIP LOCKED``); their own messages then find them decided and
return "skipped". Both are safe to run twice and after a worker crash:

1. claim: lock the application if no other run holds it; ``submitted -> screening`` for the
   batch, in one transaction with one ``ScreeningResult`` per check (unique per round). If a
   run claimed it, recorded its results and died before deciding, this run finishes the job;
   if the application has moved on (decided, withdrawn, resubmitted) or another run holds it
   right now, it returns "skipped";
2. decide, in a second transaction, guarded by the same conditional UPDATEs as staff use:
   approvals of a batch take their grants from the call budget with one lock and one ledger
   post; notifications and events go out once per batch.

If a batch fails (a check raises, say), the run falls back to its own application alone, so
one bad application never holds up the others.
"""

import itertools
import logging
from collections.abc import Callable
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass

from allauth.account.models import EmailAddress
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from gigafactory import outbox
from gigafactory.audit import audit_event
from gigafactory.models import AuditEvent
from hubs.models import Membership, MembershipStatus, Profile

from . import services
from .models import Account, AccountKind, Application, AppStatus, ScreeningResult, Track, credits

log = logging.getLogger(__name__)
A = AppStatus


Result = tuple[bool, str]


@dataclass(frozen=True)
class Check:
    key: str
    label: str
    fn: Callable
    rejects: bool = False  # a failure rejects the application on any track (e.g. an AI Act prohibition)
    order: int = 0  # registration order; kept when a key is registered again
    many: bool = False  # ``fn`` takes a list of applications and returns a list of results

    def run(self, application) -> Result:
        return self.run_many([application])[0]

    def run_many(self, applications) -> list[Result]:
        if self.many:
            results = list(self.fn(applications))
            if len(results) != len(applications):
                raise ValueError(f"Screening check {self.key} gave {len(results)} results for {len(applications)}.")
            return results
        return [self.fn(application) for application in applications]


_REGISTRY: dict[str, Check] = {}
_ORDER = itertools.count()


def screening_check(key: str, label: str, *, rejects: bool = False, many: bool = False):
    """Register ``fn(application) -> (passed, reason)`` as a screening check.

    ``rejects=True``: when it fails, screening rejects the application whatever the track.
    ``many=True``: ``fn(applications) -> [(passed, reason), ...]`` checks a batch at once.
    """
    if len(key) > ScreeningResult._meta.get_field("check_key").max_length:
        raise ValueError(f"Screening check key too long: {key}")

    def register(fn):
        existing = _REGISTRY.get(key)
        order = existing.order if existing is not None else next(_ORDER)
        _REGISTRY[key] = Check(key=key, label=label, fn=fn, rejects=rejects, order=order, many=many)
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


@screening_check("member_verified", "Active hub member with a verified e-mail", many=True)
def member_verified(applications):
    users = {a.applicant_id for a in applications}
    members = set(
        Membership.objects.filter(
            user_id__in=users, hub_id__in={a.hub_id for a in applications}, status=MembershipStatus.ACTIVE
        ).values_list("user_id", "hub_id")
    )
    verified = {}
    rows = EmailAddress.objects.filter(user_id__in=users, verified=True).order_by("-pk")
    for user_id, email in rows.values_list("user_id", "email"):
        verified[user_id] = email  # the oldest verified address wins
    return [
        _member_verified(a, (a.applicant_id, a.hub_id) in members, verified.get(a.applicant_id)) for a in applications
    ]


def _member_verified(application, is_member, verified) -> Result:
    user, hub = application.applicant, application.hub
    if not is_member:
        return False, f"{user} is not an active member of {hub}: join the hub first."
    if not user.is_active:
        return False, f"{user}'s account is not active."
    if verified is None:
        return False, f"{user} has not verified an e-mail address."
    return True, f"{user} is an active member of {hub} with a verified e-mail ({verified})."


def organisations_of(applications) -> dict[int, object]:
    """The organisation that applies, by application pk: the project's, else the applicant's
    (from the profile), else ``None``."""
    found = {a.pk: a.project.organisation for a in applications if a.project.organisation_id is not None}
    missing = {a.applicant_id for a in applications if a.pk not in found}
    profiles = Profile.objects.select_related("organisation").filter(user_id__in=missing)
    by_user = {p.user_id: p.organisation for p in profiles}
    return {a.pk: found[a.pk] if a.pk in found else by_user.get(a.applicant_id) for a in applications}


@screening_check("organisation_allowed", "Organisation kind allowed by the call", many=True)
def organisation_allowed(applications):
    restricted = [a for a in applications if a.call.allowed_org_kinds]
    organisations = organisations_of(restricted) if restricted else {}
    return [_organisation_allowed(a, organisations.get(a.pk)) for a in applications]


def _organisation_allowed(application, organisation) -> Result:
    call = application.call
    if not call.allowed_org_kinds:
        return True, "The call is open to every kind of organisation."
    allowed = ", ".join(call.allowed_org_kinds)
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


@screening_check("budget_available", "Call budget available", many=True)
def budget_available(applications):
    budgets = Account.objects.filter(kind=AccountKind.CALL_BUDGET, call_id__in={a.call_id for a in applications})
    left = dict(budgets.values_list("call_id", "balance"))
    results = []
    for application in applications:
        needed, has = services.expected_grant(application), left.get(application.call_id, 0)
        message = f"{credits(needed)} credits needed; the call's budget has {credits(has)} left."
        results.append((has >= needed, message))
    return results


# --- Running and deciding -------------------------------------------------------------------


BATCH_SIZE = 100  # applications screened and decided together by one run
RESUMABLE = (A.SUBMITTED, A.SCREENING)


def _claim(
    application_id: int | None, screening_round: int = 0, *, batch_size: int = BATCH_SIZE
) -> list[tuple[int, int]]:
    """Take the round's screening for this run, with up to ``batch_size - 1`` other submitted
    applications (``application_id=None``: up to ``batch_size`` of them, oldest first), and
    record the missing results. Returns the ``(pk, round)`` claimed, this application first;
    empty if it is not ours (moved on, or another run holds it now)."""
    with transaction.atomic():
        own = None
        if application_id is not None:
            own = (
                Application.objects.select_for_update(skip_locked=True)
                .filter(pk=application_id, screening_round=screening_round, status__in=RESUMABLE)
                .values_list("status", flat=True)
                .first()
            )
            if own is None:
                return []
        room = batch_size - (own is not None)
        others = []
        if room > 0:
            others = list(
                Application.objects.select_for_update(skip_locked=True)
                .filter(status=A.SUBMITTED)
                .exclude(pk=application_id)
                .order_by("submitted_at", "pk")
                .values_list("pk", "screening_round")[:room]
            )
        if own is None and not others:
            return []
        claimed = ([(application_id, screening_round)] if own is not None else []) + others
        won = {pk for pk, _ in others} | ({application_id} if own == A.SUBMITTED else set())
        Application.objects.filter(pk__in=won, status=A.SUBMITTED).update(status=A.SCREENING, updated_at=timezone.now())
        if own == A.SCREENING:
            log.info("Resuming screening of application %s round %s", application_id, screening_round)
        apps = Application.objects.select_related("call", "project", "project__organisation", "hub", "applicant")
        by_pk = apps.in_bulk([pk for pk, _ in claimed])
        apps = [by_pk[pk] for pk, _ in claimed]
        AuditEvent.objects.bulk_create(
            audit_event(
                app,
                "application.screening_started",
                actor_label=services.SYSTEM_LABEL,
                before={"status": A.SUBMITTED},
                after={"status": A.SCREENING, "round": app.screening_round},
            )
            for app in apps
            if app.pk in won
        )
        done = set()
        if own == A.SCREENING:  # only a resumed round can have results already
            recorded = ScreeningResult.objects.filter(application_id=application_id, round=screening_round)
            done = {(application_id, key) for key in recorded.values_list("check_key", flat=True)}
        try:
            rows = _results(apps, done)
        except Exception as exc:
            if len(apps) > 1:
                raise BatchFailed from exc
            raise
        # ignore_conflicts: a concurrent run of the same round may have recorded them first.
        ScreeningResult.objects.bulk_create(rows, ignore_conflicts=True)
        return claimed


class BatchFailed(Exception):
    """Screening a batch raised; the run screens its own application alone instead."""


def _results(apps, done) -> list[ScreeningResult]:
    """Run every check on ``apps``, except the ``(pk, check key)`` already ``done``."""
    rows = []
    for check in checks():
        todo = [app for app in apps if (app.pk, check.key) not in done]
        if not todo:
            continue
        for app, (passed, reason) in zip(todo, check.run_many(todo), strict=True):
            rows.append(
                ScreeningResult(
                    application=app,
                    round=app.screening_round,
                    check_key=check.key,
                    label=check.label,
                    passed=bool(passed),
                    reason=reason,
                )
            )
    return rows


def _failures(results) -> str:
    return " ".join(f"{r.label}: {r.reason}" for r in results if not r.passed)


def _decide(claimed: list[tuple[int, int]]) -> dict[int, str]:
    """Apply the track's rule to each claimed ``(pk, round)``; returns the outcome by pk
    ("approved", "rejected", "in_review" or "skipped": a concurrent run decided first)."""
    rounds = dict(claimed)
    outcomes = dict.fromkeys(rounds, "skipped")
    with transaction.atomic():
        locked = (
            Application.objects.select_for_update(of=("self",))
            .select_related("call", "project", "hub")
            .filter(pk__in=rounds, status=A.SCREENING)
            .order_by("pk")
        )
        apps = [app for app in locked if app.screening_round == rounds[app.pk]]
        apps.sort(key=lambda app: (app.submitted_at, app.pk))  # grants follow the order of submission
        results: dict[int, list[ScreeningResult]] = {app.pk: [] for app in apps}
        for result in ScreeningResult.objects.filter(application_id__in=results).order_by("pk"):
            if result.round == rounds[result.application_id]:
                results[result.application_id].append(result)
        approve, reject, review = [], [], []
        for app in apps:
            failed = [r for r in results[app.pk] if not r.passed]
            track = app.call.track
            fatal = [r for r in failed if r.check_key in _REGISTRY and _REGISTRY[r.check_key].rejects]
            if not failed and track in (Track.PLAYGROUND, Track.FAST_LANE):
                approve.append(app)
            elif fatal or (failed and track == Track.PLAYGROUND):
                reject.append((app, f"Rejected automatically by screening. {_failures(failed)}"))
            elif failed:
                review.append((app, f"Screening found problems for staff to look at. {_failures(failed)}"))
            elif track == Track.PEER_REVIEW:
                review.append((app, "Every screening check passed; the application goes to peer review."))
            else:
                review.append((app, "Every screening check passed."))
        short = services.applications_approve_automatically(
            approve, reason="Approved automatically: every screening check passed."
        )
        uncovered = {app.pk for app, _ in short}
        outcomes |= {app.pk: "approved" for app in approve if app.pk not in uncovered}
        review += [
            (app, f"Every screening check passed, but the automatic approval failed: {exc.message}")
            for app, exc in short
        ]
        services.applications_reject_automatically(reject)
        services.applications_send_to_review(review)
        outcomes |= {app.pk: "rejected" for app, _ in reject} | {app.pk: "in_review" for app, _ in review}
    return outcomes


def _decide_with_fallback(claimed) -> dict[int, str]:
    """``_decide`` the batch; if it fails, decide each application alone, the first one last (its
    error, if it has one, is raised: it is the caller's own)."""
    try:
        return _decide(claimed)
    except Exception:
        if len(claimed) == 1:
            raise
        log.exception("Deciding the batch of application %s failed; deciding each alone", claimed[0][0])
    outcomes = {}
    for pair in claimed[1:]:
        try:
            outcomes |= _decide([pair])
        except Exception:
            log.exception("Deciding application %s failed; the sweeper sends it again", pair[0])
    return outcomes | _decide(claimed[:1])


def screen_and_decide(*, application_id: int, screening_round: int, batch_size: int = BATCH_SIZE) -> str:
    """Screen one submission round (and a batch of other submitted applications with it) and
    apply the decision rule of each call's track.

    Returns the outcome for ``application_id``: "approved", "rejected", "in_review" or
    "skipped" (nothing left to do). ``batch_size=1`` screens this application alone.
    """
    if not Application.objects.filter(
        pk=application_id, screening_round=screening_round, status__in=RESUMABLE
    ).exists():
        return "skipped"  # the common case in a busy queue: a batch decided it already
    try:
        claimed = _claim(application_id, screening_round, batch_size=batch_size)
    except BatchFailed:
        log.exception("Screening the batch of application %s failed; screening it alone", application_id)
        claimed = _claim(application_id, screening_round, batch_size=1)
    if not claimed:
        return "skipped"
    outcomes = _decide_with_fallback(claimed)
    return outcomes[application_id]


# --- Kicking a worker -----------------------------------------------------------------------

KICK_SECONDS = 10  # a kick lost with its worker: the next submission after this kicks again


def kick_key() -> str:
    """The cache key that says a kick waits, one per queue (the queue this process sends to)."""
    from gigafactory.celery import app

    return f"compute:screening-kick:{app.conf.task_default_queue}"


_kicks_paused = ContextVar("screening_kicks_paused", default=False)


@contextmanager
def kicks_paused():
    """Submissions committed inside send no kick: for code that screens them itself (the demo
    seed, which leaves some applications "submitted" on purpose)."""
    token = _kicks_paused.set(True)
    try:
        yield
    finally:
        _kicks_paused.reset(token)


def kick_on_commit() -> None:
    """``kick`` once the current transaction commits (unless kicks are paused now)."""
    if not _kicks_paused.get():
        transaction.on_commit(kick)


def kick() -> None:
    """Ask a worker to screen what is submitted (``application_submit`` calls this on commit).

    At most one kick waits in the queue at a time (a key in the cache), so a burst of a thousand
    submissions costs a few messages, not a thousand. Never fails the request: if the cache or
    the broker is away, the sweeper (``resend_stalled_screenings``) sends what is owed later.
    """
    from .tasks import screen_submitted

    try:
        first = cache.add(kick_key(), "1", KICK_SECONDS)
    except Exception:  # the cache is away (it is Redis, as the broker): send anyway
        log.warning("Cache unreachable: sending a screening kick without the de-duplication key")
        first = True
    if first and not outbox.send(screen_submitted):
        with suppress(Exception):
            cache.delete(kick_key())


def screen_waiting(*, batch_size: int = BATCH_SIZE) -> int:
    """Screen and decide the submitted applications, a batch at a time, until none is left (what
    a kick runs). A full batch kicks again first, so that another worker process can take the
    next batch at the same time. Returns how many applications this run decided."""
    with suppress(Exception):
        cache.delete(kick_key())  # submissions from now on kick again
    decided = 0
    while True:
        try:
            claimed = _claim(None, batch_size=batch_size)
        except BatchFailed:
            log.exception("Screening a batch of submitted applications failed; screening them one by one")
            return decided + _screen_one_by_one(batch_size)
        if not claimed:
            return decided
        if len(claimed) == batch_size:
            kick()
        try:
            outcomes = _decide_with_fallback(claimed)
        except Exception:  # left in screening with its results: the sweeper sends it again
            log.exception("Deciding application %s failed; the sweeper sends it again", claimed[0][0])
            continue
        decided += sum(outcome != "skipped" for outcome in outcomes.values())


def _screen_one_by_one(count: int) -> int:
    """Screen up to ``count`` submitted applications each on its own; one that fails is logged and
    left submitted (the sweeper sends it again), the others go on."""
    waiting = Application.objects.filter(status=A.SUBMITTED).order_by("submitted_at", "pk")
    decided = 0
    for pk, screening_round in waiting.values_list("pk", "screening_round")[:count]:
        try:
            outcome = screen_and_decide(application_id=pk, screening_round=screening_round, batch_size=1)
        except Exception:
            log.exception("Screening application %s failed; the sweeper sends it again", pk)
            continue
        decided += outcome != "skipped"
    return decided
