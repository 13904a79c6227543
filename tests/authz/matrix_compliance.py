"""Compliance: AI systems with their assessments, checklists, evidence and board reviews.

Readers of a system: its owner (``member_a`` owns hub A's), its projects' teams, staff of its
hub and the hub's ethics board (``reviewer_a`` sits on hub A's); a partner key reads its hub's
systems. Editors: the owner, the teams and hub staff, never the board as such nor a partner
key. Board members decide reviews (not of their own systems); staff name the board.
"""

from django.core.files.uploadedfile import SimpleUploadedFile

from compliance.forms import SYSTEM_FORM_FIELDS
from compliance.models import AISystem, Assessment, AssessmentStatus, BoardMember, BoardReview, Evidence, ReviewStatus

from .matrix import OWNER_AND_STAFF, STAFF_OF_HUB, api, listing, page

READERS = {**OWNER_AND_STAFF, "reviewer_a": "yn"}
# Someone else's system at the hub (``other_system``): a plain member of the hub does not see it.
OTHERS_READERS = {**STAFF_OF_HUB, "reviewer_a": "yn"}
OTHERS_READERS_API = {**OTHERS_READERS, "partner_a": "yn"}
READERS_API = {**READERS, "personal": "yn", "partner_a": "yn"}
EDITORS = OWNER_AND_STAFF
EDITORS_API = {**OWNER_AND_STAFF, "personal": "yn"}
# Members of the hub register systems there (a superuser belongs to no hub).
REGISTRARS = {"default": "nn", "member_a": "yn", "member_b": "ny", "reviewer_a": "yn", "staff_a": "yn", "staff_b": "ny"}
BOARD = {"default": "nn", "reviewer_a": "yn"}
STAFF_LIST = {"default": "nn", "staff_a": "yh", "staff_b": "hy", "superuser": "yy"}


def pk(name):
    return lambda w, s: {"pk": getattr(s, name).pk}


def system_fields(system, *, api=False, **changes):
    """The registration form's fields, as ``system`` has them (pages: form values; API: JSON)."""
    data = {}
    for field in SYSTEM_FORM_FIELDS:
        value = getattr(system, f"{field}_id" if field in ("hub", "organisation") else field)
        if field == "hub" and api:
            value = system.hub.slug
        if value is None or (value is False and not api):
            continue
        data[field] = "on" if value is True and not api else value.isoformat() if hasattr(value, "isoformat") else value
    return data | changes


def registered(w, s):
    return AISystem.objects.filter(hub=s.hub, name="Matrix system").exists()


def renamed(w, s):
    return AISystem.objects.get(pk=s.system.pk).name == "Renamed system"


def linked(w, s):
    return AISystem.objects.get(pk=s.system.pk).projects.filter(pk=s.project.pk).exists()


def new_draft(w, s):
    return Assessment.objects.filter(system=s.system2, status=AssessmentStatus.DRAFT).exists()


def draft_answered(w, s):
    return Assessment.objects.get(pk=s.draft_assessment.pk).answers.get("eu_nexus") == "no"


def draft_submitted(w, s):
    return Assessment.objects.get(pk=s.draft_assessment.pk).status == AssessmentStatus.SUBMITTED


def evidence_added(w, s):
    return Evidence.objects.filter(item=s.item, label="Matrix evidence").exists()


def evidence_gone(w, s):
    return not Evidence.objects.filter(pk=s.evidence.pk).exists()


def review_requested(w, s):
    return BoardReview.objects.filter(system=s.system2).exists()


def review_is(*statuses):
    return lambda w, s: BoardReview.objects.get(pk=s.board_review.pk).status in statuses


def seated(w, s):
    return BoardMember.objects.filter(hub=s.hub, user=s.teammate, active=True).exists()


def unseated(w, s):
    return not BoardMember.objects.get(pk=s.board_seat.pk).active


def item_status(status):
    from compliance.models import ChecklistItem

    return lambda w, s: ChecklistItem.objects.get(pk=s.item.pk).status == status


LINK = {"label": "Matrix evidence", "url": "https://docs.example.org/matrix", "evidence_type": "DOC"}
DECISION = {"decision": "approved", "rationale": "Proportionate safeguards."}


ROWS = [
    # --- Systems -------------------------------------------------------------------------------------
    page("GET", "compliance:system_list", **listing(READERS), marker=lambda w, s: s.system.name),
    page("GET", "compliance:system_create", "y", anon="n", note="without a hub: sent to the hub directory"),
    page(
        "POST",
        "compliance:system_create",
        **REGISTRARS,
        data=lambda w, s: system_fields(s.system, name="Matrix system"),
        effect=registered,
    ),
    page("GET", "compliance:system_detail", **READERS, args=pk("system")),
    page(
        "GET",
        "compliance:system_list",
        **listing(OTHERS_READERS),
        variant="someone else's",
        marker=lambda w, s: s.other_system.name,
    ),
    page("GET", "compliance:system_detail", **OTHERS_READERS, variant="someone else's", args=pk("other_system")),
    page("GET", "compliance:system_edit", **EDITORS, args=pk("system")),
    page(
        "POST",
        "compliance:system_edit",
        **EDITORS,
        args=pk("system"),
        data=lambda w, s: system_fields(s.system, name="Renamed system"),
        effect=renamed,
    ),
    page("GET", "compliance:system_links", **EDITORS, args=pk("system")),
    page(
        "POST",
        "compliance:system_links",
        **EDITORS,
        args=pk("system"),
        data=lambda w, s: {"projects": [s.project.pk]},
        effect=linked,
    ),
    page("GET", "compliance:dossier", **READERS, args=pk("system")),
    page("GET", "compliance:dossier_download", **READERS, args=lambda w, s: {"pk": s.system.pk, "fmt": "md"}),
    # --- Assessments ---------------------------------------------------------------------------------
    page("POST", "compliance:assessment_start", **EDITORS, args=pk("system2"), effect=new_draft),
    page("GET", "compliance:wizard", **EDITORS, args=pk("draft_assessment")),
    page(
        "POST",
        "compliance:wizard",
        **EDITORS,
        args=pk("draft_assessment"),
        data={"eu_nexus": "no"},
        effect=draft_answered,
    ),
    page("POST", "compliance:assessment_submit", **EDITORS, args=pk("draft_assessment"), effect=draft_submitted),
    page("GET", "compliance:assessment_result", **READERS, args=pk("assessment")),
    # --- Checklist and evidence ----------------------------------------------------------------------
    page("GET", "compliance:item_detail", **READERS, args=pk("item")),
    page(
        "POST",
        "compliance:item_detail",
        **EDITORS,
        args=pk("item"),
        data={"action": "link", **LINK},
        effect=evidence_added,
    ),
    page("GET", "compliance:evidence_download", **READERS, args=pk("evidence"), note="a link: sent to its address"),
    page("POST", "compliance:evidence_remove", **EDITORS, args=pk("evidence"), effect=evidence_gone),
    # --- Ethics board --------------------------------------------------------------------------------
    page("POST", "compliance:review_request", **EDITORS, args=pk("system2"), effect=review_requested),
    page(
        "POST",
        "compliance:review_withdraw",
        **EDITORS,
        args=pk("board_review"),
        effect=review_is(ReviewStatus.WITHDRAWN),
    ),
    page(
        "POST",
        "compliance:review_decide",
        **BOARD,
        args=pk("board_review"),
        data=DECISION,
        effect=review_is(ReviewStatus.APPROVED),
        note="board members of the system's hub decide",
    ),
    page("GET", "compliance:board", "y", anon="n"),
    page(
        "POST",
        "compliance:board",
        **STAFF_OF_HUB,
        data=lambda w, s: {"hub": s.hub.pk, "email": s.teammate.email, "title": "Member"},
        effect=seated,
    ),
    page("POST", "compliance:board_member_remove", **STAFF_OF_HUB, args=pk("board_seat"), effect=unseated),
    # --- API: systems --------------------------------------------------------------------------------
    api("GET", "api-ai-system-list", **listing(READERS_API), marker=lambda w, s: s.system.name),
    api(
        "POST",
        "api-ai-system-list",
        **REGISTRARS,
        personal="yn",
        data=lambda w, s: system_fields(s.system, api=True, name="Matrix system"),
        effect=registered,
    ),
    api("GET", "api-ai-system-detail", **READERS_API, args=pk("system")),
    api("GET", "api-ai-system-detail", **OTHERS_READERS_API, variant="someone else's", args=pk("other_system")),
    api(
        "PATCH",
        "api-ai-system-detail",
        **EDITORS_API,
        args=pk("system"),
        data={"name": "Renamed system"},
        effect=renamed,
    ),
    api(
        "PATCH",
        "api-ai-system-links",
        **EDITORS_API,
        args=pk("system"),
        data=lambda w, s: {"projects": [s.project.pk]},
        effect=linked,
    ),
    api("GET", "api-ai-system-assessments", **READERS_API, args=pk("system")),
    api("POST", "api-ai-system-assessments", **EDITORS_API, args=pk("system2"), effect=new_draft),
    api("POST", "api-ai-system-board-review", **EDITORS_API, args=pk("system2"), effect=review_requested),
    # --- API: assessments ----------------------------------------------------------------------------
    api("GET", "api-assessment-detail", **READERS_API, args=pk("assessment")),
    api("GET", "api-assessment-questions", **READERS_API, args=pk("draft_assessment")),
    api(
        "PATCH",
        "api-assessment-answers",
        **EDITORS_API,
        args=pk("draft_assessment"),
        data={"eu_nexus": "no"},
        effect=draft_answered,
    ),
    api("POST", "api-assessment-submit", **EDITORS_API, args=pk("draft_assessment"), effect=draft_submitted),
    # --- API: checklist and evidence -----------------------------------------------------------------
    api("GET", "api-checklist-item-list", **listing(READERS_API), marker=lambda w, s: f'"id":{s.item.pk},'),
    api("GET", "api-checklist-item-detail", **READERS_API, args=pk("item")),
    api(
        "PATCH",
        "api-checklist-item-detail",
        **EDITORS_API,
        args=pk("item"),
        data={"status": "in_progress"},
        effect=item_status("in_progress"),
    ),
    api("GET", "api-checklist-item-evidence", **READERS_API, args=pk("item")),
    api("POST", "api-checklist-item-evidence", **EDITORS_API, args=pk("item"), data=LINK, effect=evidence_added),
    api(
        "POST",
        "api-checklist-item-evidence-file",
        **EDITORS_API,
        args=pk("item"),
        data=lambda w, s: {"label": "Matrix evidence", "file": SimpleUploadedFile("matrix.txt", b"evidence\n")},
        effect=evidence_added,
    ),
    api("GET", "api-evidence-detail", **READERS_API, args=pk("evidence")),
    api("DELETE", "api-evidence-detail", **EDITORS_API, args=pk("evidence"), effect=evidence_gone),
    # --- API: the board ------------------------------------------------------------------------------
    api(
        "GET",
        "api-board-member-list",
        **STAFF_LIST,
        marker=lambda w, s: f'"id":{s.board_seat.pk},',
        note="staff see their hubs' board seats; others are refused",
    ),
    api(
        "POST",
        "api-board-member-list",
        **STAFF_OF_HUB,
        data=lambda w, s: {"hub": s.hub.slug, "user": s.teammate.pk, "title": "Member"},
        effect=seated,
    ),
    api("GET", "api-board-member-detail", **STAFF_OF_HUB, args=pk("board_seat")),
    api("DELETE", "api-board-member-detail", **STAFF_OF_HUB, args=pk("board_seat"), effect=unseated),
    api("GET", "api-board-review-list", **listing(READERS_API), marker=lambda w, s: s.board_review.request_note),
    api("GET", "api-board-review-detail", **READERS_API, args=pk("board_review")),
    api(
        "POST",
        "api-board-review-decide",
        **BOARD,
        args=pk("board_review"),
        data=DECISION,
        effect=review_is(ReviewStatus.APPROVED),
    ),
    api(
        "POST",
        "api-board-review-withdraw",
        **EDITORS_API,
        args=pk("board_review"),
        effect=review_is(ReviewStatus.WITHDRAWN),
    ),
]
