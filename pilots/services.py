"""Every write about pilots and case studies. Each function checks who acts, changes the rows,
writes the audit trail and queues notifications and events in one transaction.

Partners, milestones and outcome metrics are written with their pilot: a create or update
passes the complete list of rows (``None`` leaves a list as it is), and either every row is
valid and the whole pilot is saved, or nothing is written and the error names the row.
"""

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from gigafactory.audit import audit_record
from gigafactory.errors import InvalidTransition
from gigafactory.events import emit
from hubs import access as hub_access
from hubs.models import STAFF_ROLES, MembershipStatus, User
from hubs.services import notify

from . import access
from .models import (
    PUBLISHABLE_STATUSES,
    CaseStudy,
    Milestone,
    OutcomeMetric,
    Pilot,
    PilotPartner,
    PilotStatus,
)

P = PilotStatus

# target status -> (statuses it may be reached from, audit verb)
TRANSITIONS = {
    P.ACTIVE: ((P.PROPOSED,), "started"),
    P.COMPLETED: ((P.ACTIVE,), "completed"),
    P.STOPPED: ((P.PROPOSED, P.ACTIVE), "stopped"),
}

SCALAR_FIELDS = ("title", "summary", "sector", "starts_on", "ends_on", "lessons_learned")


# --- Helpers ----------------------------------------------------------------------------------


def _hub_staff(hub):
    return User.objects.filter(
        memberships__hub=hub,
        memberships__status=MembershipStatus.ACTIVE,
        memberships__role__in=STAFF_ROLES,
        is_active=True,
    )


def _people_of(pilot, *, besides=None):
    """The pilot's lead and team (active accounts), without ``besides``."""
    ids = set(pilot.team.filter(is_active=True).values_list("pk", flat=True))
    if pilot.lead_id:
        ids.add(pilot.lead_id)
    if besides is not None:
        ids.discard(besides.pk)
    return User.objects.filter(pk__in=ids, is_active=True)


def _row_label(kind: str, index: int, row: dict) -> str:
    name = (row.get("name") or row.get("title") or "").strip()
    return f"{kind} {index + 1}" + (f" (“{name}”)" if name else "")


def _row_errors(label: str, exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [f"{label}, {field.replace('_', ' ')}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items()]
    return [f"{label}: {' '.join(exc.messages)}"]


def _decimal(value):
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return value  # full_clean names the field


def _build_partners(rows) -> tuple[list[PilotPartner], list[str]]:
    built, errors, seen = [], [], set()
    for i, row in enumerate(rows):
        label = _row_label("Partner", i, row)
        partner = PilotPartner(
            name=(row.get("name") or "").strip(),
            role=row.get("role") or "",
            organisation=row.get("organisation"),
            website=row.get("website") or "",
            contribution=(row.get("contribution") or "").strip(),
        )
        try:
            partner.full_clean(exclude=["pilot"], validate_constraints=False)
        except ValidationError as exc:
            errors += _row_errors(label, exc)
            continue
        if partner.name.lower() in seen:
            errors.append(f"{label}: this partner is listed twice.")
        seen.add(partner.name.lower())
        built.append(partner)
    return built, errors


def _build_milestones(rows) -> tuple[list[Milestone], list[str]]:
    built, errors = [], []
    today = timezone.localdate()
    for i, row in enumerate(rows):
        label = _row_label("Milestone", i, row)
        done = bool(row.get("done"))
        done_on = row.get("done_on") if done else None
        milestone = Milestone(
            title=(row.get("title") or "").strip(),
            due_on=row.get("due_on"),
            done=done,
            done_on=(done_on or today) if done else None,
        )
        try:
            milestone.full_clean(exclude=["pilot"], validate_constraints=False)
        except ValidationError as exc:
            errors += _row_errors(label, exc)
            continue
        built.append(milestone)
    return built, errors


def _build_metrics(rows) -> tuple[list[OutcomeMetric], list[str]]:
    built, errors, seen = [], [], set()
    for i, row in enumerate(rows):
        label = _row_label("Metric", i, row)
        metric = OutcomeMetric(
            name=(row.get("name") or "").strip(),
            unit=(row.get("unit") or "").strip(),
            baseline=_decimal(row.get("baseline")),
            target=_decimal(row.get("target")),
            achieved=_decimal(row.get("achieved")),
            position=i,
        )
        try:
            metric.full_clean(exclude=["pilot"], validate_constraints=False)
        except ValidationError as exc:
            errors += _row_errors(label, exc)
            continue
        if metric.baseline == metric.target:
            errors.append(f"{label}: the target must differ from the baseline.")
        if metric.name.lower() in seen:
            errors.append(f"{label}: this metric is listed twice.")
        seen.add(metric.name.lower())
        built.append(metric)
    return built, errors


def _check_links(pilot, *, team, projects, allocations, ai_systems, lead, lead_given) -> dict:
    errors = {}
    if team is not None:
        inactive = [str(u) for u in team if not u.is_active]
        if inactive:
            errors["team"] = [f"{', '.join(inactive)} no longer has an active account."]
    if projects is not None:
        foreign = [str(p) for p in projects if p.hub_id != pilot.hub_id]
        if foreign:
            errors["projects"] = [f"{', '.join(foreign)} is not a project of {pilot.hub}."]
    if allocations is not None:
        foreign = [str(a) for a in allocations if a.hub_id != pilot.hub_id]
        if foreign:
            errors["allocations"] = [f"{', '.join(foreign)} is not an allocation of {pilot.hub}."]
    if ai_systems is not None:
        foreign = [str(a) for a in ai_systems if a.hub_id != pilot.hub_id]
        if foreign:
            errors["ai_systems"] = [f"{', '.join(foreign)} is not an AI system registered at {pilot.hub}."]
    if lead_given and lead is not None and hub_access.role_in(lead, pilot.hub) is None and not lead.is_superuser:
        errors["lead"] = [f"{lead} is not an active member of {pilot.hub}."]
    return errors


def _snapshot(pilot) -> dict:
    data = {f: getattr(pilot, f) for f in SCALAR_FIELDS}
    data["lead"] = pilot.lead_id
    return data


_UNSET = object()


def _save(
    pilot, *, acting_user, fields, partners, milestones, metrics, team, projects, allocations, ai_systems=None, lead
):
    """Validate everything, then write the pilot and its rows (or raise and write nothing)."""
    for name, value in fields.items():
        if name not in SCALAR_FIELDS:
            raise TypeError(f"unknown pilot field {name!r}")
        setattr(pilot, name, value.strip() if isinstance(value, str) else value)
    lead_given = lead is not _UNSET
    if lead_given:
        pilot.lead = lead
    errors: dict[str, list[str]] = {}
    try:
        pilot.full_clean(exclude=["hub", "lead", "created_by", "adapted_from"], validate_constraints=False)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if pilot.starts_on and pilot.ends_on and pilot.ends_on < pilot.starts_on:
        errors.setdefault("ends_on", []).append("The end date cannot be before the start date.")
    rows = {}
    for key, rows_in, build in (
        ("partners", partners, _build_partners),
        ("milestones", milestones, _build_milestones),
        ("metrics", metrics, _build_metrics),
    ):
        if rows_in is not None:
            rows[key], row_errors = build(rows_in)
            if row_errors:
                errors[key] = row_errors
    errors.update(
        _check_links(
            pilot,
            team=team,
            projects=projects,
            allocations=allocations,
            ai_systems=ai_systems,
            lead=lead,
            lead_given=lead_given,
        )
    )
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            pilot.save()
            for key, model in (("partners", PilotPartner), ("milestones", Milestone), ("metrics", OutcomeMetric)):
                if key in rows:
                    model.objects.filter(pilot=pilot).delete()
                    for row in rows[key]:
                        row.pilot = pilot
                    model.objects.bulk_create(rows[key])
    except IntegrityError as exc:  # a rule only the database knows (or a concurrent edit)
        raise ValidationError({"__all__": [f"The pilot could not be saved: {exc}"]}) from exc
    if team is not None:
        pilot.team.set(team)
    if projects is not None:
        pilot.projects.set(projects)
    if allocations is not None:
        pilot.allocations.set(allocations)
    if ai_systems is not None:
        pilot.ai_systems.set(ai_systems)
    return {k: len(v) for k, v in rows.items()}


# --- Create and edit ----------------------------------------------------------------------------


@transaction.atomic
def pilot_create(
    *,
    hub,
    acting_user,
    title,
    summary,
    sector,
    starts_on=None,
    ends_on=None,
    lessons_learned="",
    lead=_UNSET,
    partners=(),
    milestones=(),
    metrics=(),
    team=None,
    projects=None,
    allocations=None,
    ai_systems=None,
) -> Pilot:
    """A new pilot at ``hub`` (status proposed); hub staff and the hub's project leads may start one.
    The lead defaults to ``acting_user``."""
    if not access.may_create_at(acting_user, hub):
        raise PermissionDenied(f"Only staff of {hub} and leads of its projects can start a pilot there.")
    pilot = Pilot(hub=hub, created_by=acting_user, status=P.PROPOSED)
    counts = _save(
        pilot,
        acting_user=acting_user,
        fields={
            "title": title,
            "summary": summary,
            "sector": sector,
            "starts_on": starts_on,
            "ends_on": ends_on,
            "lessons_learned": lessons_learned,
        },
        partners=list(partners),
        milestones=list(milestones),
        metrics=list(metrics),
        team=team,
        projects=projects,
        allocations=allocations,
        ai_systems=ai_systems,
        lead=acting_user if lead is _UNSET else lead,
    )
    audit_record(pilot, "pilot.created", actor=acting_user, after=_snapshot(pilot) | counts)
    return pilot


@transaction.atomic
def pilot_update(
    *,
    pilot,
    acting_user,
    partners=None,
    milestones=None,
    metrics=None,
    team=None,
    projects=None,
    allocations=None,
    ai_systems=None,
    lead=_UNSET,
    **fields,
) -> Pilot:
    """Change a pilot's fields and (when given) replace its partners, milestones, metrics, team
    and links. Staff of its hub and its lead may do this."""
    pilot = access.pilot_for_edit(acting_user, pilot.pk, for_write=True)
    before = _snapshot(pilot)
    counts = _save(
        pilot,
        acting_user=acting_user,
        fields=fields,
        partners=partners,
        milestones=milestones,
        metrics=metrics,
        team=team,
        projects=projects,
        allocations=allocations,
        ai_systems=ai_systems,
        lead=lead,
    )
    after = _snapshot(pilot)
    changed = {k: v for k, v in after.items() if before.get(k) != v}
    audit_record(
        pilot,
        "pilot.updated",
        actor=acting_user,
        before={k: before[k] for k in changed},
        after=changed | {f"{k}_rows": v for k, v in counts.items()},
    )
    return pilot


# --- Status transitions -------------------------------------------------------------------------


@transaction.atomic
def pilot_transition(*, pilot, to, acting_user, reason="") -> Pilot:
    """Move ``pilot`` to ``to`` (active, completed or stopped) if its state allows it.

    A conditional UPDATE decides: of two people starting the same pilot at once, one wins and
    the other gets ``InvalidTransition``. Starting fills in an empty start date (today);
    completing or stopping fills in an empty end date.
    """
    to = PilotStatus(to)
    allowed_from, verb = TRANSITIONS[to]
    current = access.pilot_for_edit(acting_user, pilot.pk, for_write=True)
    reason = (reason or "").strip()
    if to == P.STOPPED and not reason:
        raise ValidationError({"reason": "Say briefly why the pilot stops; the team and the hub will read it."})
    today = timezone.localdate()
    values = {"status": to, "status_changed_at": timezone.now()}
    if to == P.ACTIVE and current.starts_on is None:
        values["starts_on"] = today if current.ends_on is None or current.ends_on >= today else current.ends_on
    if to in (P.COMPLETED, P.STOPPED) and current.ends_on is None:
        start = current.starts_on
        values["ends_on"] = today if start is None or start <= today else start
    if to == P.STOPPED:
        values["stop_reason"] = reason
    won = Pilot.objects.filter(pk=current.pk, status__in=allowed_from).update(**values)
    if won != 1:
        raise InvalidTransition(current, _verb_base(to), _refusal(current, to))
    before = current.status
    current.refresh_from_db()
    audit_record(
        current,
        f"pilot.{verb}",
        actor=acting_user,
        before={"status": before},
        after={"status": to, "reason": reason} if reason else {"status": to},
    )
    people = _people_of(current, besides=acting_user)
    notify(
        users=people,
        kind=f"pilot.{verb}",
        title=f"The pilot “{current}” was {verb}",
        body=(f"Reason: {reason}" if reason else f"{acting_user.display_name} marked the pilot {to.label.lower()}."),
        url=current.get_absolute_url(),
        dedupe_key=f"pilot.{verb}:{current.pk}",
    )
    return current


def _verb_base(to) -> str:
    return {P.ACTIVE: "start", P.COMPLETED: "complete", P.STOPPED: "stop"}[to]


def _refusal(pilot, to) -> str:
    return f"Cannot {_verb_base(to)} the pilot “{pilot}” while it is {pilot.get_status_display().lower()}."


def pilot_start(*, pilot, acting_user) -> Pilot:
    return pilot_transition(pilot=pilot, to=P.ACTIVE, acting_user=acting_user)


def pilot_complete(*, pilot, acting_user) -> Pilot:
    return pilot_transition(pilot=pilot, to=P.COMPLETED, acting_user=acting_user)


def pilot_stop(*, pilot, acting_user, reason) -> Pilot:
    return pilot_transition(pilot=pilot, to=P.STOPPED, acting_user=acting_user, reason=reason)


# --- Case studies -------------------------------------------------------------------------------


def _unique_slug(pilot) -> str:
    base = slugify(f"{pilot.hub.slug} {pilot.title}")[:70].strip("-") or f"pilot-{pilot.pk}"
    slug, n = base, 2
    while CaseStudy.objects.filter(slug=slug).exclude(pilot=pilot).exists():
        slug = f"{base[:70]}-{n}"
        n += 1
    return slug


def _event_payload(pilot, case_study) -> dict:
    return {
        "pilot": {"id": pilot.pk, "title": pilot.title, "status": pilot.status, "sector": pilot.sector},
        "hub": {"slug": pilot.hub.slug, "name": pilot.hub.name, "country": pilot.hub.country},
        "case_study": {"slug": case_study.slug, "headline": case_study.headline, "url": case_study.get_absolute_url()},
    }


@transaction.atomic
def case_study_publish(*, pilot, headline, story, acting_user) -> CaseStudy:
    """Publish (or republish, or edit) the public case study of an active or completed pilot.

    Only staff of the pilot's hub speak for it in public. The ``pilot.published`` event goes out
    when the case study becomes public, not on later edits.
    """
    pilot = Pilot.objects.select_for_update(of=("self",)).select_related("hub").get(pk=pilot.pk)
    if not hub_access.is_hub_staff(acting_user, pilot.hub):
        raise PermissionDenied(f"Only staff of {pilot.hub} can publish its case studies.")
    if pilot.status not in PUBLISHABLE_STATUSES:
        raise InvalidTransition(
            pilot,
            "publish",
            f"Only an active or completed pilot can be published; “{pilot}” is {pilot.get_status_display().lower()}.",
        )
    headline, story = (headline or "").strip(), (story or "").strip()
    errors = {}
    if not headline:
        errors["headline"] = ["Give the case study a headline."]
    elif len(headline) > 200:
        errors["headline"] = ["Keep the headline under 200 characters."]
    if not story:
        errors["story"] = ["Tell the story: the challenge, what was built, with whom, and what changed."]
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    case_study = CaseStudy.objects.filter(pilot=pilot).first()
    newly_public = case_study is None or case_study.withdrawn_at is not None
    if case_study is None:
        case_study = CaseStudy(pilot=pilot, slug=_unique_slug(pilot), published_at=now, published_by=acting_user)
    elif newly_public:
        case_study.published_at, case_study.published_by, case_study.withdrawn_at = now, acting_user, None
    case_study.headline, case_study.story = headline, story
    case_study.save()
    audit_record(
        case_study,
        "case_study.published" if newly_public else "case_study.updated",
        actor=acting_user,
        hub=pilot.hub,
        after={"headline": headline, "slug": case_study.slug, "pilot": pilot.pk},
    )
    if newly_public:
        emit("pilot.published", hub=pilot.hub, sector=pilot.sector, payload=_event_payload(pilot, case_study))
        notify(
            users=_people_of(pilot, besides=acting_user),
            kind="pilot.published",
            title=f"“{pilot}” is now a public case study",
            body=f"{acting_user.display_name} published it in the network showcase: {headline}",
            url=case_study.get_absolute_url(),
            dedupe_key=f"pilot.published:{case_study.pk}:{case_study.published_at.isoformat()}",
        )
    return case_study


@transaction.atomic
def case_study_withdraw(*, case_study, acting_user, reason="") -> CaseStudy:
    """Take a case study out of the showcase (it can be published again)."""
    case_study = CaseStudy.objects.select_related("pilot", "pilot__hub").get(pk=case_study.pk)
    if not hub_access.is_hub_staff(acting_user, case_study.pilot.hub):
        raise PermissionDenied(f"Only staff of {case_study.pilot.hub} can withdraw its case studies.")
    won = CaseStudy.objects.filter(pk=case_study.pk, withdrawn_at__isnull=True).update(withdrawn_at=timezone.now())
    if won != 1:
        raise InvalidTransition(case_study, "withdraw", f"“{case_study}” is already withdrawn.")
    case_study.refresh_from_db()
    audit_record(
        case_study, "case_study.withdrawn", actor=acting_user, hub=case_study.pilot.hub, after={"reason": reason}
    )
    return case_study


# --- Replication ----------------------------------------------------------------------------------


def _shifted_due_dates(original, today: dt.date) -> list[tuple[str, dt.date]]:
    """The original's milestones, with the same spacing, starting from ``today``."""
    milestones = list(original.milestones.all())
    if not milestones:
        return []
    base = original.starts_on or min(m.due_on for m in milestones)
    return [(m.title, max(today, today + (m.due_on - base))) for m in milestones]


@transaction.atomic
def pilot_adapt(*, original, hub, acting_user, title="", note="") -> tuple[Pilot, bool]:
    """Start, at ``hub``, a pilot adapted from another hub's published case study.

    Returns ``(pilot, created)``: when ``hub`` adapted this original already (a double click, a
    retried request, a colleague a second earlier) the existing adaptation comes back with
    ``created=False`` and nothing is written or sent. The database has the last word: one
    adaptation per (original, hub).

    The adaptation starts as a proposed pilot led by ``acting_user`` with the original's
    summary, sector, outcome metrics (nothing achieved yet) and milestones (same spacing, from
    today); partners are local, so none are copied. The original's hub staff and team hear of it.
    """
    original = Pilot.objects.select_related("hub").get(pk=original.pk)
    if original.hub_id == hub.pk:
        raise ValidationError({"hub": f"“{original}” is already a pilot of {hub}; adapt it at another hub."})
    if not hub_access.is_hub_staff(acting_user, hub):
        raise PermissionDenied(f"Only staff of {hub} can start an adaptation there.")
    case_study = CaseStudy.objects.filter(pilot=original, withdrawn_at__isnull=True).first()
    if case_study is None:
        raise InvalidTransition(original, "adapt", f"“{original}” has no published case study to adapt.")
    existing = Pilot.objects.filter(adapted_from=original, hub=hub).first()
    if existing is not None:
        return existing, False
    title = (title or "").strip() or f"{original.title}, adapted in {hub.city}"
    summary = original.summary
    if note.strip():
        summary = f"{note.strip()}\n\n{summary}"
    pilot = Pilot(
        hub=hub,
        title=title[:200],
        summary=summary,
        sector=original.sector,
        status=P.PROPOSED,
        lead=acting_user,
        created_by=acting_user,
        adapted_from=original,
    )
    try:
        pilot.full_clean(exclude=["hub", "lead", "created_by", "adapted_from"], validate_constraints=False)
    except ValidationError as exc:
        raise ValidationError(exc.message_dict) from exc
    try:
        with transaction.atomic():
            pilot.save()
    except IntegrityError:
        # Another request adapted it at this hub between our check and our insert.
        return Pilot.objects.get(adapted_from=original, hub=hub), False
    pilot.team.add(acting_user)
    today = timezone.localdate()
    Milestone.objects.bulk_create(
        Milestone(pilot=pilot, title=t, due_on=due) for t, due in _shifted_due_dates(original, today)
    )
    OutcomeMetric.objects.bulk_create(
        OutcomeMetric(pilot=pilot, name=m.name, unit=m.unit, baseline=m.baseline, target=m.target, position=m.position)
        for m in original.metrics.all()
    )
    audit_record(
        pilot,
        "pilot.adapted",
        actor=acting_user,
        after={"adapted_from": original.pk, "original_hub": original.hub.slug, "title": pilot.title},
    )
    audit_record(
        original,
        "pilot.adaptation_started",
        actor=acting_user,
        hub=original.hub,
        after={"adaptation": pilot.pk, "hub": hub.slug},
    )
    recipients = (_hub_staff(original.hub) | _people_of(original)).exclude(pk=acting_user.pk).distinct()
    notify(
        users=recipients,
        kind="pilot.adapted",
        title=f"{hub.name} is adapting your pilot “{original}”",
        body=(
            f"{acting_user.display_name} of {hub.name} started “{pilot.title}”, adapted from your case study "
            f"“{case_study.headline}”."
            + (f"\n\nTheir note: {note.strip()}" if note.strip() else "")
            + "\n\nThey may get in touch to learn from your experience."
        ),
        url=case_study.get_absolute_url(),
        dedupe_key=f"pilot.adapted:{original.pk}:{hub.pk}",
    )
    emit(
        "pilot.adapted",
        hub=original.hub,
        sector=original.sector,
        payload=_event_payload(original, case_study)
        | {
            "adaptation": {
                "id": pilot.pk,
                "title": pilot.title,
                "hub": {"slug": hub.slug, "name": hub.name, "country": hub.country},
                "url": reverse("pilots:pilot_detail", args=[pilot.pk]),
            }
        },
    )
    return pilot, True
