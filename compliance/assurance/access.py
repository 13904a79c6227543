"""The assurance app's one access layer: systems, checks, reference data and batches for a user
(or a partner system's API key), scoped to their hubs.

- Active members of a system's hub see its fairness checks, reference data and drift batches.
- The system's owner and the hub's staff run checks, upload reference data and batches, set
  thresholds and attach results as evidence.
- Active members of the hub's ethics board sign reference data off (or reject it).
- A partner system's key sees and feeds the systems of the key's hub.
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404

from compliance.models import AISystem, BoardMember
from hubs import access as hub_access

from .models import DriftBatch, FairnessCheck, ReferenceDataset, TrustAnchor


def visible_hub_ids(user, api_key=None) -> set[int] | None:
    """Hubs whose systems the caller may see; ``None`` means every hub (superuser, no key)."""
    if api_key is not None and api_key.is_partner:
        return {api_key.hub_id}
    if user.is_authenticated and user.is_superuser:
        return {api_key.hub_id} if api_key is not None else None
    return hub_access.member_hub_ids(user, api_key)


def scope(qs, user, api_key=None, *, hub_field="hub"):
    ids = visible_hub_ids(user, api_key)
    return qs if ids is None else qs.filter(**{f"{hub_field}__in": ids})


def systems_visible(user, api_key=None):
    return scope(AISystem.objects.select_related("hub", "owner"), user, api_key)


def system_for(user, pk, api_key=None) -> AISystem:
    return get_object_or_404(systems_visible(user, api_key), pk=pk)


def can_manage(user, system, api_key=None) -> bool:
    """Owner or hub staff (a partner key never manages: it only sends batches)."""
    if api_key is not None and api_key.is_partner:
        return False
    if not user.is_authenticated:
        return False
    if api_key is not None and api_key.hub_id != system.hub_id:
        return False
    return system.owner_id == user.pk or hub_access.is_hub_staff(user, system.hub, api_key)


def require_manage(user, system, api_key=None) -> None:
    if not can_manage(user, system, api_key):
        raise PermissionDenied("Only the system's owner or the hub's staff can do this.")


def is_board_member(user, hub) -> bool:
    if not user.is_authenticated:
        return False
    return BoardMember.objects.filter(hub=hub, user=user, active=True).exists()


def require_board_member(user, hub) -> None:
    if not is_board_member(user, hub):
        raise PermissionDenied(f"Only members of the {hub} ethics board can sign reference data off.")


def can_send_batches(user, system, api_key=None) -> bool:
    if api_key is not None and api_key.is_partner:
        return api_key.hub_id == system.hub_id and api_key.can_write
    return can_manage(user, system, api_key)


def fairness_check_for(user, pk, api_key=None, *, for_write=False) -> FairnessCheck:
    qs = scope(FairnessCheck.objects.select_related("system", "hub", "created_by").defer("inputs"), user, api_key)
    if for_write:
        qs = qs.select_for_update(of=("self",))
    return get_object_or_404(qs, pk=pk)


def reference_for(user, pk, api_key=None, *, for_write=False) -> ReferenceDataset:
    qs = scope(ReferenceDataset.objects.select_related("system", "hub", "created_by", "decided_by"), user, api_key)
    if for_write:
        qs = qs.select_for_update(of=("self",))
    return get_object_or_404(qs.defer("data"), pk=pk)


def anchor_for(user, pk, api_key=None) -> TrustAnchor:
    return get_object_or_404(
        scope(TrustAnchor.objects.select_related("system", "hub", "reference", "signed_by"), user, api_key).defer(
            "reference__data"
        ),
        pk=pk,
    )


def batch_for(user, pk, api_key=None) -> DriftBatch:
    qs = scope(
        DriftBatch.objects.select_related("system", "hub", "anchor", "anchor__reference", "partner"), user, api_key
    )
    return get_object_or_404(qs.defer("data", "anchor__reference__data"), pk=pk)


def not_found():
    raise Http404("No such object, or it belongs to a hub you are not a member of.")
