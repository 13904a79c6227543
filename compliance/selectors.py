"""Reads: querysets with their related rows already joined, and the figures pages show."""

from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q

from . import engine
from .models import (
    APPROVING,
    DECIDED,
    Assessment,
    AssessmentStatus,
    BoardMember,
    BoardReview,
    ChecklistItem,
    Evidence,
    ItemStatus,
    RiskClass,
)

CLOSED = (ItemStatus.DONE, ItemStatus.NOT_APPLICABLE)


def live_items(system):
    return ChecklistItem.objects.filter(system=system, obsolete_at__isnull=True)


def checklist(system):
    """The system's current items, in order, with owner and evidence count (one query)."""
    return (
        live_items(system)
        .select_related("owner")
        .annotate(evidence_count=Count("evidence"), comment_count=Count("comments", distinct=True))
        .order_by("position", "id")
    )


def checklist_item_for_article(system, article: str):
    """The current item for ``article`` ("Art. 10" finds "Art. 10" and "Art. 10(2)"), or ``None``."""
    article = article.strip()
    items = live_items(system).filter(
        Q(article=article) | Q(article__startswith=article + "(") | Q(article__startswith=article + ",")
    )
    return items.order_by("position", "id").first()


def latest_assessment(system) -> Assessment | None:
    return (
        Assessment.objects.filter(system=system, status=AssessmentStatus.SUBMITTED)
        .order_by("-submitted_at", "-id")
        .first()
    )


def draft_assessment(system) -> Assessment | None:
    return Assessment.objects.filter(system=system, status=AssessmentStatus.DRAFT).first()


@dataclass(frozen=True)
class Progress:
    closed: int
    total: int

    @property
    def percent(self) -> int:
        return round(100 * self.closed / self.total) if self.total else 0


def progress(system) -> Progress:
    figures = live_items(system).aggregate(total=Count("id"), closed=Count("id", filter=Q(status__in=CLOSED)))
    return Progress(closed=figures["closed"], total=figures["total"])


def with_progress(qs):
    """Annotate systems with ``items_total`` and ``items_closed`` (current items only)."""
    live = Q(checklist_items__obsolete_at__isnull=True)
    return qs.annotate(
        items_total=Count("checklist_items", filter=live, distinct=True),
        items_closed=Count("checklist_items", filter=live & Q(checklist_items__status__in=CLOSED), distinct=True),
        approved=Exists(BoardReview.objects.filter(system=OuterRef("pk"), status__in=APPROVING)),
    )


def latest_decision(system) -> BoardReview | None:
    return (
        BoardReview.objects.filter(system=system, status__in=DECIDED)
        .select_related("decided_by", "assessment")
        .order_by("-decided_at", "-id")
        .first()
    )


def pending_review(system) -> BoardReview | None:
    return BoardReview.objects.filter(system=system, status="pending").select_related("requested_by").first()


def valid_signoff(system) -> BoardReview | None:
    """The board approval that covers the system's current classification, or ``None``.

    An approval covers the assessment it reviewed: a later re-classification needs a new one,
    and a later rejection replaces it.
    """
    decision = latest_decision(system)
    if decision is None or decision.status not in APPROVING:
        return None
    latest = latest_assessment(system)
    if latest is None or latest.pk != decision.assessment_id:
        return None
    return decision


def gate_problem(system) -> str | None:
    """Why credits must not be approved for work on ``system`` (``None``: nothing blocks)."""
    if system.risk_class == RiskClass.UNASSESSED:
        return (
            f"The AI system '{system}' has not been classified under the AI Act yet: "
            "its owner must run the classification."
        )
    if system.risk_class == RiskClass.PROHIBITED:
        return (
            f"The AI system '{system}' is classified as a prohibited practice (Art. 5): "
            "no credits can be granted for it."
        )
    if system.is_high_risk and valid_signoff(system) is None:
        return (
            f"The AI system '{system}' is high-risk ({system.get_risk_class_display()}) and its hub's ethics board "
            "has not approved its current classification: ask the board for review on the system's page."
        )
    return None


def board_members(hub):
    return BoardMember.objects.filter(hub=hub, active=True).select_related("user").order_by("user__name", "id")


def evidence_of(item):
    return Evidence.objects.filter(item=item).select_related("added_by")


def systems_list(qs):
    return with_progress(qs.select_related("hub", "organisation", "owner"))


def wizard_state(assessment) -> dict:
    """What the classification wizard shows for ``assessment`` (pages and API alike).

    Sections in questionnaire order, each ``done`` (every question asked in it is answered),
    ``current`` (the first with a question still to answer), ``later`` (after the current one:
    not shown yet) or ``skipped`` (earlier answers made its questions moot); the questions asked
    in each with their answers; the provisional outcome and the progress.
    """
    q = engine.load(assessment.questionnaire_version)
    outcome = engine.classify(assessment.answers, assessment.questionnaire_version)
    asked, unanswered = set(outcome.asked), set(outcome.unanswered)
    sections, reached = [], False
    for section in q.sections:
        questions = [x for x in q.questions if x.section == section.key]
        shown = [x for x in questions if x.key in asked]
        todo = [x for x in shown if x.key in unanswered]
        if reached:
            state = "later"
        elif todo:
            state, reached = "current", True
        elif shown:
            state = "done"
        else:
            state = "skipped"
        sections.append(
            {
                "section": section,
                "state": state,
                "visible": state in ("done", "current"),
                "questions": [
                    {"q": x, "answer": assessment.answers.get(x.key), "missing": x.key in unanswered} for x in shown
                ],
                "skipped": len(questions) - len(shown),
            }
        )
    answered, total = engine.progress(outcome)
    done_sections = sum(1 for s in sections if s["state"] in ("done", "skipped"))
    return {
        "assessment": assessment,
        "system": assessment.system,
        "questionnaire": q,
        "outcome": outcome,
        "sections": sections,
        "answered": answered,
        "total": total,
        "percent": round(100 * done_sections / len(sections)) if not outcome.complete else 100,
        "risk_label": dict(RiskClass.choices).get(outcome.risk_class, ""),
    }
