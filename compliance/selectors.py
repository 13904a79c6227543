"""Reads: querysets with their related rows already joined, and the figures pages show."""

from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q

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
