"""The assurance app's one access layer: systems, checks, reference data and batches for a user
(or a partner system's API key), scoped to their hubs.

- Whoever may see the system in compliance (``compliance.access.systems_visible_to``: its owner,
  its projects' teams, the hub's staff and ethics board; a partner key of the hub) sees its
  fairness checks, reference data and drift batches. Being a member of the hub is not enough:
  the results are the system's evidence, as private as its checklist.
- The system's owner and the hub's staff run checks, upload reference data and batches, set
  thresholds and attach results as evidence.
- Active members of the hub's ethics board sign reference data off (or reject it).
- A partner system's key sees and feeds the systems of the key's hub.
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404

from compliance import access as compliance_access
from compliance.models import BoardMember
from hubs import access as hub_access

from .models import DriftBatch, FairnessCheck, ReferenceDataset, TrustAnchor


def systems_visible(user, api_key=None):
    """The systems the caller may see, as compliance decides it."""
    return compliance_access.systems_visible_to(user, api_key).select_related("hub", "owner")


def scope(qs, user, api_key=None):
    """Checks, references, anchors or batches (anything with a ``system``) of visible systems."""
    return qs.filter(system__in=compliance_access.systems_visible_to(user, api_key).values("pk"))


def system_for(user, pk, api_key=None):
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
