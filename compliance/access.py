"""The one access layer for compliance objects: "this object for this user, or 404".

Who sees an AI system (its assessments, checklist, evidence, board reviews):

- its owner, and the team members of the projects it is linked to;
- staff of the system's hub, and the hub's ethics board members;
- superusers, everything.

Who changes it (registers, classifies, works the checklist, asks for review): the owner, the
linked projects' team members, and hub staff. Only active board members of the system's hub
decide on board reviews, and never on their own system. Hub staff name the board members.

An API key narrows whatever its owner may see to the key's hub. A partner system's key reads the
systems of its hub (with their assessments, checklists, evidence and reviews) and changes nothing:
every write here is a person's.
"""

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from compute.models import ProjectMember
from hubs.access import is_hub_staff, member_hub_ids, staff_hub_ids

from .models import AISystem, Assessment, BoardMember, BoardReview, ChecklistItem, Evidence, ReviewStatus


def board_hub_ids(user) -> set[int]:
    if not user.is_authenticated:
        return set()
    if not hasattr(user, "_gf_board_hubs"):
        user._gf_board_hubs = set(BoardMember.objects.filter(user=user, active=True).values_list("hub_id", flat=True))
    return user._gf_board_hubs


def forget(user) -> None:
    if hasattr(user, "_gf_board_hubs"):
        del user._gf_board_hubs


def is_board_member(user, hub) -> bool:
    """An active member of ``hub``'s ethics board (H2's trust-anchor sign-off uses this too)."""
    return hub.pk in board_hub_ids(user)


def _team_system_ids(user) -> QuerySet:
    return AISystem.projects.through.objects.filter(
        project__in=ProjectMember.objects.filter(user=user).values("project_id")
    ).values("aisystem_id")


def systems_visible_to(user, api_key=None, *, for_write=False) -> QuerySet:
    qs = AISystem.objects.all()
    if api_key is not None and api_key.is_partner:
        return qs.none() if for_write else qs.filter(hub_id=api_key.hub_id)
    if not user.is_authenticated:
        return qs.none()
    if api_key is not None:
        qs = qs.filter(hub_id=api_key.hub_id)
    staff_ids = staff_hub_ids(user, api_key)
    if staff_ids is None:
        return qs
    visible = Q(owner=user) | Q(pk__in=_team_system_ids(user))
    if staff_ids:
        visible |= Q(hub_id__in=staff_ids)
    if not for_write:
        visible |= Q(hub_id__in=board_hub_ids(user))
    return qs.filter(visible)


def system_for(user, pk, *, for_write=False, api_key=None) -> AISystem:
    qs = systems_visible_to(user, api_key, for_write=for_write).select_related("hub", "organisation", "owner")
    if for_write:
        qs = qs.select_for_update(of=("self",))
    return get_object_or_404(qs, pk=pk)


def can_edit(user, system, api_key=None) -> bool:
    if not user.is_authenticated:
        return False
    if api_key is not None and api_key.hub_id != system.hub_id:
        return False
    return (
        system.owner_id == user.pk
        or is_hub_staff(user, system.hub, api_key)
        or ProjectMember.objects.filter(user=user, project__ai_systems=system).exists()
    )


def can_decide(user, system, api_key=None) -> bool:
    """Board members of the system's hub, except the system's owner (a conflict of interest)."""
    if not user.is_authenticated or system.owner_id == user.pk:
        return False
    if api_key is not None and api_key.hub_id != system.hub_id:
        return False
    return is_board_member(user, system.hub)


def registrable_hub_ids(user, api_key=None) -> set[int]:
    """Hubs where ``user`` may register a system: the hubs they are an active member of."""
    return member_hub_ids(user, api_key)


def assessment_for(user, pk, *, for_write=False, api_key=None) -> Assessment:
    qs = Assessment.objects.select_related("system", "system__hub", "system__owner").filter(
        system__in=systems_visible_to(user, api_key, for_write=for_write)
    )
    if for_write:
        qs = qs.select_for_update(of=("self",))
    return get_object_or_404(qs, pk=pk)


def items_visible_to(user, api_key=None, *, for_write=False) -> QuerySet:
    return ChecklistItem.objects.filter(system__in=systems_visible_to(user, api_key, for_write=for_write))


def item_for(user, pk, *, for_write=False, api_key=None) -> ChecklistItem:
    qs = items_visible_to(user, api_key, for_write=for_write).select_related("system", "system__hub", "owner")
    if for_write:
        qs = qs.select_for_update(of=("self",))
    return get_object_or_404(qs, pk=pk)


def evidence_for(user, pk, *, for_write=False, api_key=None) -> Evidence:
    qs = Evidence.objects.select_related("item", "item__system", "item__system__hub").filter(
        item__system__in=systems_visible_to(user, api_key, for_write=for_write)
    )
    return get_object_or_404(qs, pk=pk)


def reviews_visible_to(user, api_key=None) -> QuerySet:
    return BoardReview.objects.filter(system__in=systems_visible_to(user, api_key))


def review_for(user, pk, api_key=None) -> BoardReview:
    qs = reviews_visible_to(user, api_key).select_related("system", "system__hub", "assessment", "requested_by")
    return get_object_or_404(qs, pk=pk)


def reviews_awaiting(user, api_key=None) -> QuerySet:
    """Pending reviews that ``user`` may decide: at the boards they sit on, not of systems they own."""
    hub_ids = board_hub_ids(user)
    if api_key is not None:
        hub_ids = hub_ids & {api_key.hub_id}
    return BoardReview.objects.filter(status=ReviewStatus.PENDING, system__hub_id__in=hub_ids).exclude(
        system__owner_id=user.pk
    )


def board_hubs_managed_by(user, api_key=None):
    """Hubs whose board ``user`` may change: their staff hubs (``None``: every hub)."""
    return staff_hub_ids(user, api_key)


def board_members_managed_by(user, api_key=None) -> QuerySet:
    """Board seats (active or not) of the hubs ``user`` runs."""
    qs = BoardMember.objects.all()
    if not user.is_authenticated:
        return qs.none()
    hub_ids = board_hubs_managed_by(user, api_key)
    return qs if hub_ids is None else qs.filter(hub_id__in=hub_ids)


def board_member_for(user, pk, api_key=None) -> BoardMember:
    qs = board_members_managed_by(user, api_key).select_related("hub", "user")
    return get_object_or_404(qs, pk=pk)
