"""Every write about AI systems, assessments, checklists, evidence and the ethics board.

Each function takes keyword arguments with an explicit ``acting_user``, checks who acts,
runs in one transaction, and writes the audit trail. Checks of the state that a concurrent
request could change (one draft per system, one pending review, a decision on a pending
review) are conditional UPDATEs or unique constraints, so a second attempt changes nothing.

The classification is advice for the team and the board, not legal advice.
"""

import hashlib
import mimetypes
from datetime import timedelta
from pathlib import PurePath

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import NoReverseMatch
from django.utils import timezone

from compute.models import Application, Project
from gigafactory.audit import audit_record
from gigafactory.errors import InvalidTransition
from gigafactory.events import emit
from hubs import access as hub_access
from hubs.models import MembershipStatus, User
from hubs.services import notify
from pilots.models import Pilot

from . import access, engine, selectors
from .models import (
    AISystem,
    Assessment,
    AssessmentStatus,
    BoardMember,
    BoardReview,
    ChecklistItem,
    Evidence,
    EvidenceKind,
    EvidenceType,
    ItemComment,
    ItemSection,
    ItemStatus,
    ReviewStatus,
)
from .obligations import SystemFacts, obligations_for

MAX_EVIDENCE_BYTES = 10 * 1024 * 1024
ALLOWED_EVIDENCE_TYPES = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".csv": "text/csv",
    ".json": "application/json",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
}
# The first bytes of the binary formats: an upload named .pdf must be a PDF.
MAGIC = {
    ".pdf": (b"%PDF",),
    ".png": (b"\x89PNG",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".docx": (b"PK\x03\x04",),
    ".xlsx": (b"PK\x03\x04",),
    ".odt": (b"PK\x03\x04",),
    ".ods": (b"PK\x03\x04",),
}
SYSTEM_FIELDS = frozenset(
    {
        "name",
        "organisation",
        "intended_purpose",
        "role",
        "sector",
        "input_modality",
        "output_modality",
        "uses_personal_data",
        "uses_health_data",
        "uses_biometric_data",
        "is_gpai_model",
        "builds_on_gpai",
        "gpai_base_model",
        "training_compute_flop",
        "deployment_status",
        "on_market_since",
    }
)
CORRECTIVE_DUE_DAYS = 15  # Art. 73's general reporting deadline is a sensible default for a fix


def _link(obj) -> str:
    try:
        return obj.get_absolute_url()
    except NoReverseMatch:
        return ""


def _require_editor(acting_user, system):
    if acting_user is None or not access.can_edit(acting_user, system):
        raise PermissionDenied(f"You cannot change the AI system '{system}'.")


def _board_users(hub, *, exclude=None):
    qs = User.objects.filter(board_seats__hub=hub, board_seats__active=True, is_active=True)
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk)
    return qs


def _system_people(system):
    """The owner and the linked projects' team: who hears about the system."""
    return User.objects.filter(
        Q(pk=system.owner_id) | Q(project_memberships__project__ai_systems=system), is_active=True
    ).distinct()


def _snapshot(system) -> dict:
    return {f: getattr(system, f if f != "organisation" else "organisation_id") for f in SYSTEM_FIELDS}


# --- AI systems -------------------------------------------------------------------------------


def _clean_system(system):
    if system.uses_health_data or system.uses_biometric_data:
        system.uses_personal_data = True  # health and biometric data are personal data
    if system.training_compute_flop is not None and system.training_compute_flop < 0:
        raise ValidationError({"training_compute_flop": "Training compute cannot be negative."})
    system.full_clean(exclude=["hub", "owner"])
    if AISystem.objects.filter(hub_id=system.hub_id, name__iexact=system.name).exclude(pk=system.pk).exists():
        raise ValidationError({"name": f"{system.hub} already has an AI system called '{system.name}'."})


@transaction.atomic
def system_create(*, hub, acting_user, owner=None, **fields) -> AISystem:
    """Register an AI system at ``hub``: any active member of the hub may, and owns it by default."""
    unknown = set(fields) - SYSTEM_FIELDS
    if unknown:
        raise ValidationError({k: "Unknown field." for k in unknown})
    if acting_user is None or hub.pk not in hub_access.member_hub_ids(acting_user):
        raise PermissionDenied(f"Only active members of {hub} can register AI systems there.")
    owner = owner or acting_user
    if owner != acting_user and not hub_access.is_hub_staff(acting_user, hub):
        raise PermissionDenied("Only hub staff can register a system on someone else's behalf.")
    if owner != acting_user and hub.pk not in hub_access.member_hub_ids(owner):
        raise ValidationError({"owner": f"{owner} is not an active member of {hub}."})
    if fields.get("organisation") is None:
        raise ValidationError({"organisation": "Say which organisation is responsible for the system."})
    system = AISystem(hub=hub, owner=owner, **fields)
    _clean_system(system)
    system.save()
    audit_record(system, "ai_system.registered", actor=acting_user, after=_snapshot(system))
    return system


@transaction.atomic
def system_update(*, system, acting_user, **fields) -> AISystem:
    unknown = set(fields) - SYSTEM_FIELDS
    if unknown:
        raise ValidationError({k: "Unknown field." for k in unknown})
    system = AISystem.objects.select_for_update().get(pk=system.pk)
    _require_editor(acting_user, system)
    before = _snapshot(system)
    for field, value in fields.items():
        setattr(system, field, value)
    _clean_system(system)
    system.save()
    after = _snapshot(system)
    changed = {k: after[k] for k in after if after[k] != before[k]}
    if changed:
        audit_record(
            system, "ai_system.updated", actor=acting_user, before={k: before[k] for k in changed}, after=changed
        )
        if {"role", "uses_personal_data", "uses_health_data", "uses_biometric_data"} & set(changed):
            latest = selectors.latest_assessment(system)
            if latest is not None:
                _regenerate_checklist(
                    system, engine.classify(latest.answers, latest.questionnaire_version), acting_user
                )
    return system


def linkable_projects(user, system, api_key=None):
    """Projects ``user`` may link ``system`` to: those whose team they are on; hub staff, also their hubs'."""
    qs = Project.objects.select_related("hub").order_by("title")
    staff_ids = hub_access.staff_hub_ids(user, api_key)
    if staff_ids is None:
        return qs
    return qs.filter(Q(members__user=user) | Q(hub_id__in=staff_ids)).distinct()


def linkable_applications(user, system, api_key=None):
    """Credit applications of the projects whose team ``user`` is on; hub staff, also their hubs'."""
    qs = Application.objects.select_related("hub", "call").order_by("-created_at")
    staff_ids = hub_access.staff_hub_ids(user, api_key)
    if staff_ids is None:
        return qs
    return qs.filter(Q(project__members__user=user) | Q(hub_id__in=staff_ids)).distinct()


def linkable_pilots(user, system, api_key=None):
    """Pilots of the system's hub that ``user`` leads or works on; the hub's staff, all of them."""
    qs = Pilot.objects.filter(hub_id=system.hub_id).select_related("hub").order_by("title")
    if hub_access.is_hub_staff(user, system.hub, api_key):
        return qs
    return qs.filter(Q(lead=user) | Q(team=user)).distinct()


def link_choices(user, system, api_key=None) -> dict:
    """What each of the system's link lists may hold: what ``user`` may add, and what is linked already
    (a link stays, whoever made it). Pages offer these; the API resolves ids in them."""
    linkable = {
        "projects": (Project, linkable_projects, ["hub"], "title"),
        "applications": (Application, linkable_applications, ["hub", "call"], "-created_at"),
        "pilots": (Pilot, linkable_pilots, ["hub"], "title"),
    }
    return {
        field: model.objects.filter(
            Q(pk__in=rule(user, system, api_key).values("pk")) | Q(pk__in=getattr(system, field).values("pk"))
        )
        .select_related(*joins)
        .order_by(order, "pk")
        for field, (model, rule, joins, order) in linkable.items()
    }


_LINKS = {
    "projects": (linkable_projects, "You are not on the team of '{}'."),
    "applications": (linkable_applications, "You are not on the team of the application '{}'."),
    "pilots": (linkable_pilots, "You do not lead or work on the pilot '{}'."),
}


@transaction.atomic
def system_link(*, system, acting_user, projects=None, applications=None, pilots=None, api_key=None) -> AISystem:
    """Set the projects, credit applications and pilots the system belongs to.

    A list replaces the current links (``None`` leaves them as they are). Each link you add must
    be one ``linkable_*`` offers you (an API key narrows hub staff to the key's hub); links that
    are already there may stay, whoever added them. Pilots must be of the system's hub.
    """
    system = AISystem.objects.select_for_update().select_related("hub").get(pk=system.pk)
    _require_editor(acting_user, system)
    wanted = {"projects": projects, "applications": applications, "pilots": pilots}
    wanted = {field: list(objs) for field, objs in wanted.items() if objs is not None}
    errors, current = {}, {}
    for field, objs in wanted.items():
        current[field] = set(getattr(system, field).values_list("pk", flat=True))
        added = {o.pk for o in objs} - current[field]
        if field == "pilots":
            foreign = [p for p in objs if p.pk in added and p.hub_id != system.hub_id]
            if foreign:
                errors[field] = f"'{foreign[0]}' is a pilot of another hub than {system.hub}."
                continue
        if added:
            linkable, message = _LINKS[field]
            ok = set(
                linkable(acting_user, system, api_key).filter(pk__in=added).order_by().values_list("pk", flat=True)
            )
            bad = [o for o in objs if o.pk in added and o.pk not in ok]
            if bad:
                errors[field] = message.format(bad[0])
    if errors:
        raise ValidationError(errors)
    changes = {}
    for field, objs in wanted.items():
        if {o.pk for o in objs} != current[field]:
            getattr(system, field).set(objs)
            changes[field] = sorted(o.pk for o in objs)
    if changes:
        audit_record(system, "ai_system.linked", actor=acting_user, after=changes)
    return system


# --- Assessments ------------------------------------------------------------------------------


def _prefill(system) -> dict:
    """A new draft starts from the last submitted answers, plus what the system record says."""
    latest = selectors.latest_assessment(system)
    answers = dict(latest.answers) if latest is not None else {}
    if system.is_gpai_model:
        answers.setdefault("gpai_model", "yes")
    if system.training_compute_flop is not None and system.is_gpai_model:
        answers.setdefault("gpai_compute", system.training_compute_flop)
    return answers


@transaction.atomic
def assessment_start(*, system, acting_user, version=None) -> Assessment:
    """The system's draft assessment; created (pre-filled) if there is none. Safe to call twice."""
    _require_editor(acting_user, system)
    version = version or engine.CURRENT_VERSION
    engine.load(version)  # unknown version: LookupError before anything is written
    draft = selectors.draft_assessment(system)
    if draft is not None:
        return draft
    try:
        with transaction.atomic():
            draft = Assessment.objects.create(
                system=system, questionnaire_version=version, answers=_prefill(system), started_by=acting_user
            )
    except IntegrityError:  # a concurrent request created it first
        return selectors.draft_assessment(system)
    audit_record(draft, "assessment.started", actor=acting_user, hub=system.hub, after={"version": version})
    return draft


def _locked_draft(assessment) -> Assessment:
    draft = Assessment.objects.select_for_update().select_related("system", "system__hub").get(pk=assessment.pk)
    if draft.status != AssessmentStatus.DRAFT:
        raise InvalidTransition(
            draft, "answer", "This assessment is already submitted; start a new one to re-classify."
        )
    return draft


class AssessmentIncomplete(ValidationError):
    """A draft with questions still to answer cannot be submitted.

    A ``ValidationError`` naming the first unanswered question (the wizard shows it there);
    ``unanswered`` lists them all (the API answers 409 with the list: the draft is not ready).
    """

    def __init__(self, assessment, unanswered: list[str]):
        first = engine.load(assessment.questionnaire_version).by_key[unanswered[0]]
        self.assessment = assessment
        self.unanswered = list(unanswered)
        self.summary = f"{len(unanswered)} question(s) still need an answer, first: {first.text}"
        super().__init__({first.key: self.summary})


@transaction.atomic
def assessment_answer(*, assessment, acting_user, answers: dict) -> Assessment:
    """Save answers to the draft (an empty answer clears it). Bad answers raise ``ValidationError``
    naming each question, and nothing is saved."""
    draft = _locked_draft(assessment)
    _require_editor(acting_user, draft.system)
    q = engine.load(draft.questionnaire_version)
    errors, merged = {}, dict(draft.answers)
    for key, value in (answers or {}).items():
        question = q.by_key.get(key)
        if question is None:
            errors[key] = "No such question in this questionnaire."
            continue
        try:
            normalised = engine.normalise(question, value)
        except engine.InvalidAnswer as exc:
            errors[key] = str(exc)
            continue
        if normalised is None:
            merged.pop(key, None)
        else:
            merged[key] = normalised
    if errors:
        raise ValidationError(errors)
    draft.answers = merged
    draft.save(update_fields=["answers", "updated_at"])
    return draft


@transaction.atomic
def assessment_submit(*, assessment, acting_user) -> Assessment:
    """Fix the draft's outcome, update the system's class and regenerate its checklist."""
    draft = _locked_draft(assessment)
    system = AISystem.objects.select_for_update().get(pk=draft.system_id)
    _require_editor(acting_user, system)
    outcome = engine.classify(draft.answers, draft.questionnaire_version)
    if not outcome.complete:
        raise AssessmentIncomplete(draft, outcome.unanswered)
    now = timezone.now()
    previous_class = system.risk_class
    won = Assessment.objects.filter(pk=draft.pk, status=AssessmentStatus.DRAFT).update(
        status=AssessmentStatus.SUBMITTED,
        submitted_at=now,
        submitted_by=acting_user,
        risk_class=outcome.risk_class,
        annex_i_section=outcome.annex_i_section,
        annex_iii_point=outcome.annex_iii_point,
        derogation=outcome.derogation,
        transparency_duties=outcome.transparency_duties,
        gpai_model=outcome.gpai_model,
        gpai_systemic_risk=outcome.gpai_systemic_risk,
        reasoning=[list(r) for r in outcome.reasoning],
        applicable_dates=outcome.applicable_dates,
        skipped=outcome.skipped,
        updated_at=now,
    )
    if won != 1:
        raise InvalidTransition(draft, "submit", "This assessment was submitted already.")
    draft.refresh_from_db()
    system.risk_class = outcome.risk_class
    system.annex_iii_point = outcome.annex_iii_point
    system.gpai_systemic_risk = outcome.gpai_systemic_risk
    system.assessed_at = now
    system.save(update_fields=["risk_class", "annex_iii_point", "gpai_systemic_risk", "assessed_at", "updated_at"])
    audit_record(
        draft,
        "assessment.submitted",
        actor=acting_user,
        hub=system.hub,
        before={"risk_class": previous_class},
        after={
            "risk_class": outcome.risk_class,
            "annex_iii_point": outcome.annex_iii_point,
            "version": draft.questionnaire_version,
        },
    )
    _regenerate_checklist(system, outcome, acting_user)
    emit(
        "system.classified",
        hub=system.hub,
        payload={
            "ai_system": system.pk,
            "title": system.name,
            "url": _link(system),
            "risk_class": outcome.risk_class,
        },
    )
    if system.is_high_risk and selectors.valid_signoff(system) is None:
        notify(
            users=_system_people(system),
            kind="compliance.signoff_needed",
            title=f"'{system}' is high-risk: ask the ethics board for review",
            body="Credit applications linked to a high-risk system cannot be approved until the hub's ethics "
            "board approves its classification.",
            url=_link(system),
            dedupe_key=f"compliance.signoff_needed:{draft.pk}",
        )
    return draft


def _facts(system) -> SystemFacts:
    return SystemFacts(
        role=system.role,
        uses_personal_data=system.uses_personal_data,
        uses_health_data=system.uses_health_data,
        uses_biometric_data=system.uses_biometric_data,
        organisation_kind=system.organisation.kind if system.organisation_id else "",
    )


def _regenerate_checklist(system, outcome, acting_user) -> dict:
    """Create the items the outcome needs; keep (with their evidence, status and owner) those that still
    apply; mark obsolete the ones that no longer do. Corrective actions are never touched."""
    wanted = {o.key: o for o in obligations_for(outcome, _facts(system))}
    now = timezone.now()
    existing = {i.key: i for i in ChecklistItem.objects.select_for_update().filter(system=system)}
    created, revived, retired = [], [], []
    for key, obligation in wanted.items():
        item = existing.get(key)
        values = {
            "section": obligation.section,
            "article": obligation.article,
            "title": obligation.title,
            "description": obligation.description,
            "evidence_types": list(obligation.evidence),
            "due_on": obligation.due_on,
            "position": obligation.position,
        }
        if item is None:
            ChecklistItem.objects.create(system=system, key=key, owner=system.owner, **values)
            created.append(key)
            continue
        if item.obsolete_at is not None:
            revived.append(key)
        ChecklistItem.objects.filter(pk=item.pk).update(obsolete_at=None, updated_at=now, **values)
    for key, item in existing.items():
        if key not in wanted and item.section != ItemSection.CORRECTIVE and item.obsolete_at is None:
            retired.append(key)
    if retired:
        ChecklistItem.objects.filter(system=system, key__in=retired).update(obsolete_at=now, updated_at=now)
    if created or revived or retired:
        audit_record(
            system,
            "checklist.regenerated",
            actor=acting_user,
            after={"created": created, "revived": revived, "obsolete": retired},
        )
    return {"created": created, "revived": revived, "obsolete": retired}


# --- Checklist items ------------------------------------------------------------------------------


def _locked_item(item) -> ChecklistItem:
    return ChecklistItem.objects.select_for_update().select_related("system", "system__hub").get(pk=item.pk)


_UNSET = object()


@transaction.atomic
def item_update(*, item, acting_user, status=None, justification=None, owner=_UNSET) -> ChecklistItem:
    """Change an item's status (not applicable needs a justification), justification or owner."""
    item = _locked_item(item)
    _require_editor(acting_user, item.system)
    if item.obsolete_at is not None:
        raise InvalidTransition(item, "update", "This item no longer applies after the latest classification.")
    before = {"status": item.status, "owner": item.owner_id, "justification": item.justification}
    if status is not None:
        if status not in ItemStatus.values:
            raise ValidationError({"status": f"Unknown status '{status}'."})
        item.status = status
    if justification is not None:
        item.justification = justification.strip()
    if owner is not _UNSET:
        if owner is not None and not (
            owner == item.system.owner
            or access.can_edit(owner, item.system)
            or access.is_board_member(owner, item.system.hub)
        ):
            raise ValidationError({"owner": f"{owner} does not work on this system."})
        item.owner = owner
    if item.status == ItemStatus.NOT_APPLICABLE and not item.justification:
        raise ValidationError({"justification": "Say why this obligation does not apply to the system."})
    if item.status == ItemStatus.DONE:
        item.completed_at = item.completed_at or timezone.now()
    else:
        item.completed_at = None
    item.save()
    after = {"status": item.status, "owner": item.owner_id, "justification": item.justification}
    if after != before:
        audit_record(
            item,
            "checklist_item.updated",
            actor=acting_user,
            before={k: v for k, v in before.items() if after[k] != v},
            after={k: v for k, v in after.items() if before[k] != v},
        )
    return item


@transaction.atomic
def item_comment_add(*, item, acting_user, body: str) -> ItemComment:
    if acting_user is None or not (
        access.can_edit(acting_user, item.system) or access.is_board_member(acting_user, item.system.hub)
    ):
        raise PermissionDenied("You cannot comment on this system's checklist.")
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": "Write a comment first."})
    comment = ItemComment.objects.create(item=item, author=acting_user, body=body)
    audit_record(
        item, "checklist_item.commented", actor=acting_user, hub=item.system.hub, after={"comment": comment.pk}
    )
    return comment


def _evidence_type(value, item) -> str:
    value = value or (item.evidence_types[0] if item.evidence_types else EvidenceType.DOC)
    if value not in EvidenceType.values:
        raise ValidationError({"evidence_type": f"Pick one of {', '.join(EvidenceType.values)}."})
    return value


def _check_upload(uploaded) -> tuple[str, str]:
    """(extension, content type) of an acceptable upload, or ``ValidationError`` naming the problem."""
    name = uploaded.name or ""
    ext = PurePath(name).suffix.lower()
    if ext not in ALLOWED_EVIDENCE_TYPES:
        allowed = ", ".join(sorted(e.lstrip(".") for e in ALLOWED_EVIDENCE_TYPES))
        raise ValidationError({"file": f"'{name}' is not an accepted type. Accepted: {allowed}."})
    if uploaded.size == 0:
        raise ValidationError({"file": f"'{name}' is empty."})
    if uploaded.size > MAX_EVIDENCE_BYTES:
        raise ValidationError(
            {
                "file": f"'{name}' is {uploaded.size / 1_048_576:.1f} MB; "
                f"the limit is {MAX_EVIDENCE_BYTES // 1_048_576} MB."
            }
        )
    head = uploaded.read(8)
    uploaded.seek(0)
    signatures = MAGIC.get(ext)
    if signatures and not head.startswith(signatures):
        raise ValidationError({"file": f"'{name}' does not look like a {ext.lstrip('.').upper()} file."})
    if not signatures and b"\x00" in head:
        raise ValidationError({"file": f"'{name}' should be text but contains binary data."})
    return ext, ALLOWED_EVIDENCE_TYPES[ext] or mimetypes.guess_type(name)[0] or "application/octet-stream"


@transaction.atomic
def evidence_file_add(*, item, acting_user, uploaded, label="", evidence_type=None) -> Evidence:
    """Attach an uploaded file (type and size checked) to an item."""
    item = _locked_item(item)
    _require_editor(acting_user, item.system)
    _ext, content_type = _check_upload(uploaded)
    digest = hashlib.sha256()
    for chunk in uploaded.chunks():
        digest.update(chunk)
    uploaded.seek(0)
    evidence = Evidence(
        item=item,
        kind=EvidenceKind.FILE,
        label=(label or "").strip()[:200] or PurePath(uploaded.name).name[:200],
        evidence_type=_evidence_type(evidence_type, item),
        content_type=content_type,
        size_bytes=uploaded.size,
        sha256=digest.hexdigest(),
        added_by=acting_user,
    )
    evidence.file.save(PurePath(uploaded.name).name, uploaded, save=False)
    try:
        evidence.save()
    except Exception:
        evidence.file.delete(save=False)
        raise
    _evidence_added(item, evidence, acting_user)
    return evidence


@transaction.atomic
def evidence_link_add(*, item, label: str, url: str, acting_user, evidence_type=None) -> Evidence:
    """Attach a link (e.g. to a report, a fairness result or a repository) to an item.

    ``acting_user`` may be ``None`` for the portal's own workers (e.g. a fairness run attaching its result).
    """
    item = _locked_item(item)
    if acting_user is not None:
        _require_editor(acting_user, item.system)
    label, url = (label or "").strip(), (url or "").strip()
    errors = {}
    if not label:
        errors["label"] = "Give the link a label, e.g. 'DPIA v2 (SharePoint)'."
    if url.startswith("/"):
        pass  # a page of this portal
    else:
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError:
            errors["url"] = "Enter a full http(s) address, or a path of this portal starting with '/'."
    if errors:
        raise ValidationError(errors)
    evidence = Evidence.objects.create(
        item=item,
        kind=EvidenceKind.LINK,
        label=label[:200],
        url=url[:500],
        evidence_type=_evidence_type(evidence_type, item),
        added_by=acting_user,
    )
    _evidence_added(item, evidence, acting_user)
    return evidence


def _evidence_added(item, evidence, acting_user):
    if item.status == ItemStatus.TODO:
        ChecklistItem.objects.filter(pk=item.pk, status=ItemStatus.TODO).update(
            status=ItemStatus.IN_PROGRESS, updated_at=timezone.now()
        )
        item.status = ItemStatus.IN_PROGRESS
    audit_record(
        item,
        "evidence.added",
        actor=acting_user,
        actor_label="" if acting_user else "compliance worker",
        hub=item.system.hub,
        after={"evidence": evidence.pk, "kind": evidence.kind, "label": evidence.label, "sha256": evidence.sha256},
    )


@transaction.atomic
def evidence_remove(*, evidence, acting_user) -> None:
    item = _locked_item(evidence.item)
    _require_editor(acting_user, item.system)
    audit_record(
        item,
        "evidence.removed",
        actor=acting_user,
        hub=item.system.hub,
        before={"evidence": evidence.pk, "label": evidence.label, "sha256": evidence.sha256},
    )
    stored = evidence.file.name if evidence.kind == EvidenceKind.FILE else ""
    evidence.delete()
    if stored:
        storage = Evidence._meta.get_field("file").storage
        transaction.on_commit(lambda: storage.delete(stored))


@transaction.atomic
def corrective_action_open(*, system, title: str, detail: str, source: str, acting_user=None) -> ChecklistItem:
    """Open an Art. 20 / Art. 72 corrective-action item on the checklist, once per ``source``.

    Called by workers (drift and fairness checks) with ``acting_user=None``. If the item for
    ``source`` exists it is returned unchanged, unless it was closed: then it is reopened.
    """
    source = (source or "").strip()
    if not source or not (title or "").strip():
        raise ValidationError({"source": "A corrective action needs a source and a title."})
    system = AISystem.objects.select_for_update().get(pk=system.pk)
    key = f"corrective:{source}"[:120]
    item, created = ChecklistItem.objects.get_or_create(
        system=system,
        key=key,
        defaults={
            "section": ItemSection.CORRECTIVE,
            "article": "Art. 20, Art. 72",
            "title": title.strip()[:250],
            "description": (detail or "").strip(),
            "evidence_types": [EvidenceType.DOC, EvidenceType.LOG, EvidenceType.SIGN],
            "due_on": timezone.localdate() + timedelta(days=CORRECTIVE_DUE_DAYS),
            "position": 10_000,
            "owner": system.owner,
        },
    )
    label = "" if acting_user else "compliance worker"
    if created:
        audit_record(
            item,
            "corrective_action.opened",
            actor=acting_user,
            actor_label=label,
            hub=system.hub,
            after={"source": source, "title": item.title},
        )
        notify(
            users=_system_people(system),
            kind="compliance.corrective_action",
            title=f"Corrective action opened on '{system}': {item.title}",
            body=(detail or "") + "\n\nInvestigate, correct and record what you did (Art. 20, Art. 72).",
            url=_link(item),
            dedupe_key=f"compliance.corrective:{item.pk}",
        )
    elif item.is_closed:
        item.status = ItemStatus.TODO
        item.completed_at = None
        item.description = (detail or item.description).strip()
        item.save(update_fields=["status", "completed_at", "description", "updated_at"])
        audit_record(
            item,
            "corrective_action.reopened",
            actor=acting_user,
            actor_label=label,
            hub=system.hub,
            after={"source": source},
        )
    return item


# --- Ethics board ----------------------------------------------------------------------------------


def _require_staff(acting_user, hub, api_key=None):
    if acting_user is None or not hub_access.is_hub_staff(acting_user, hub, api_key):
        raise PermissionDenied(f"Only staff of {hub} can change its ethics board.")


@transaction.atomic
def board_member_add(*, hub, user, acting_user, title="", api_key=None) -> BoardMember:
    _require_staff(acting_user, hub, api_key)
    if not user.memberships.filter(hub=hub, status=MembershipStatus.ACTIVE).exists():
        raise ValidationError({"user": f"{user} is not an active member of {hub}."})
    member, created = BoardMember.objects.get_or_create(
        hub=hub, user=user, defaults={"title": title.strip()[:120], "added_by": acting_user}
    )
    if not created and member.active and member.title == title.strip()[:120]:
        return member
    member.active = True
    member.title = title.strip()[:120]
    member.save(update_fields=["active", "title"])
    access.forget(user)
    audit_record(
        member, "board_member.added", actor=acting_user, hub=hub, after={"user": user.pk, "title": member.title}
    )
    return member


@transaction.atomic
def board_member_remove(*, member, acting_user, api_key=None) -> BoardMember:
    _require_staff(acting_user, member.hub, api_key)
    won = BoardMember.objects.filter(pk=member.pk, active=True).update(active=False)
    if won:
        audit_record(member, "board_member.removed", actor=acting_user, hub=member.hub, after={"user": member.user_id})
    member.active = False
    access.forget(member.user)
    return member


@transaction.atomic
def board_review_request(*, system, acting_user, note="") -> BoardReview:
    """The owner (or team) asks the hub's ethics board to review the current classification."""
    system = AISystem.objects.select_for_update().select_related("hub").get(pk=system.pk)
    _require_editor(acting_user, system)
    latest = selectors.latest_assessment(system)
    if latest is None:
        raise InvalidTransition(system, "request_review", "Classify the system before asking the board for review.")
    if not selectors.board_members(system.hub).exists():
        raise InvalidTransition(
            system, "request_review", f"{system.hub} has no ethics board members yet: ask the hub's staff to name them."
        )
    try:
        with transaction.atomic():
            review = BoardReview.objects.create(
                system=system, assessment=latest, requested_by=acting_user, request_note=(note or "").strip()
            )
    except IntegrityError:
        raise InvalidTransition(
            system, "request_review", "A review of this system is already waiting for the board."
        ) from None
    audit_record(review, "board_review.requested", actor=acting_user, hub=system.hub, after={"assessment": latest.pk})
    notify(
        users=_board_users(system.hub, exclude=system.owner),
        kind="compliance.review_requested",
        title=f"Ethics review requested: '{system}' ({latest.get_risk_class_display()})",
        body=(review.request_note + "\n\n" if review.request_note else "")
        + f"{acting_user.display_name} asks the {system.hub} ethics board to review "
        "the system's classification and checklist.",
        url=_link(system),
        dedupe_key=f"compliance.review_requested:{review.pk}",
    )
    return review


@transaction.atomic
def board_review_decide(*, review, acting_user, decision: str, rationale: str, conditions="") -> BoardReview:
    """A board member approves, approves with conditions, or rejects, with a rationale."""
    review = BoardReview.objects.select_related("system", "system__hub").get(pk=review.pk)
    system = review.system
    if acting_user is None or not access.can_decide(acting_user, system):
        if acting_user is not None and system.owner_id == acting_user.pk:
            raise PermissionDenied("You own this system: another board member must decide.")
        raise PermissionDenied(f"Only members of the {system.hub} ethics board can decide.")
    rationale, conditions = (rationale or "").strip(), (conditions or "").strip()
    errors = {}
    if decision not in (ReviewStatus.APPROVED, ReviewStatus.APPROVED_WITH_CONDITIONS, ReviewStatus.REJECTED):
        errors["decision"] = "Choose approve, approve with conditions, or reject."
    if not rationale:
        errors["rationale"] = "Give the board's rationale."
    if decision == ReviewStatus.APPROVED_WITH_CONDITIONS and not conditions:
        errors["conditions"] = "State the conditions of the approval."
    if errors:
        raise ValidationError(errors)
    if decision != ReviewStatus.APPROVED_WITH_CONDITIONS:
        conditions = ""
    now = timezone.now()
    won = BoardReview.objects.filter(pk=review.pk, status=ReviewStatus.PENDING).update(
        status=decision, rationale=rationale, conditions=conditions, decided_by=acting_user, decided_at=now
    )
    if won != 1:
        review.refresh_from_db()
        raise InvalidTransition(review, "decide", f"This review is already {review.get_status_display().lower()}.")
    review.refresh_from_db()
    audit_record(
        review,
        "board_review.decided",
        actor=acting_user,
        hub=system.hub,
        before={"status": ReviewStatus.PENDING},
        after={"status": decision, "rationale": rationale, "conditions": conditions},
    )
    emit(
        "board.decided",
        hub=system.hub,
        payload={"ai_system": system.pk, "title": system.name, "url": _link(system), "decision": decision},
    )
    notify(
        users=_system_people(system),
        kind="compliance.board_decided",
        title=f"Ethics board: '{system}' {review.get_status_display().lower()}",
        body=rationale + (f"\n\nConditions: {conditions}" if conditions else ""),
        url=_link(system),
        dedupe_key=f"compliance.board_decided:{review.pk}",
    )
    return review


@transaction.atomic
def board_review_withdraw(*, review, acting_user) -> BoardReview:
    _require_editor(acting_user, review.system)
    won = BoardReview.objects.filter(pk=review.pk, status=ReviewStatus.PENDING).update(status=ReviewStatus.WITHDRAWN)
    if won != 1:
        review.refresh_from_db()
        raise InvalidTransition(review, "withdraw", f"This review is already {review.get_status_display().lower()}.")
    review.refresh_from_db()
    audit_record(review, "board_review.withdrawn", actor=acting_user, hub=review.system.hub)
    return review
