"""The one access layer for pilots and case studies, mirroring ``hubs.access``.

Who sees a pilot: members of its hub, its lead and team, staff of its hub; superusers see
all. A partner key reads its hub's pilots. An API key narrows a person to the key's hub.

Who changes a pilot: staff of its hub and its lead ("editors"). Who creates one: staff of a
hub, and project leads (the PI of a compute project at a hub they are an active member of).
Publishing a case study is the hub's voice: staff only. Adapting a case study: staff of
another hub.

Case studies are public while not withdrawn (and their hub is public, or the viewer belongs
to it).
"""

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from hubs.access import is_hub_staff, member_hub_ids, staff_hub_ids
from hubs.models import Hub

from .models import PUBLISHABLE_STATUSES, CaseStudy, Pilot


def _partner_key(api_key):
    return api_key is not None and api_key.partner_id is not None


def pilots_visible_to(user, api_key=None) -> QuerySet:
    qs = Pilot.objects.all()
    if _partner_key(api_key):
        return qs.filter(hub_id=api_key.hub_id)
    if not user.is_authenticated:
        return qs.none()
    if api_key is not None:
        qs = qs.filter(hub_id=api_key.hub_id)
    staff_ids = staff_hub_ids(user, api_key)
    if staff_ids is None:
        return qs
    visible = Q(hub_id__in=member_hub_ids(user, api_key)) | Q(lead=user) | Q(team=user)
    # Team membership joins a many-to-many table: keep one row per pilot.
    return qs.filter(pk__in=Pilot.objects.filter(visible).values("pk"))


def pilots_editable_by(user, api_key=None) -> QuerySet:
    qs = Pilot.objects.all()
    if not user.is_authenticated:
        return qs.none()
    if api_key is not None:
        qs = qs.filter(hub_id=api_key.hub_id)
    staff_ids = staff_hub_ids(user, api_key)
    if staff_ids is None:
        return qs
    return qs.filter(Q(hub_id__in=staff_ids) | Q(lead=user))


def _with_joins(qs):
    return qs.select_related("hub", "lead", "adapted_from", "adapted_from__hub", "adapted_from__case_study")


def pilot_for(user, pk, *, api_key=None) -> Pilot:
    return get_object_or_404(_with_joins(pilots_visible_to(user, api_key)), pk=pk)


def pilot_for_edit(user, pk, *, api_key=None, for_write=False) -> Pilot:
    qs = _with_joins(pilots_editable_by(user, api_key))
    if for_write:
        qs = qs.select_for_update(of=("self",))
    return get_object_or_404(qs, pk=pk)


def is_editor(user, pilot, api_key=None) -> bool:
    if not user.is_authenticated:
        return False
    if api_key is not None and api_key.hub_id != pilot.hub_id:
        return False
    return is_hub_staff(user, pilot.hub, api_key) or pilot.lead_id == user.pk


def hubs_for_new_pilot(user, api_key=None) -> QuerySet:
    """Hubs at which ``user`` may start a pilot: the hubs they run, and the hubs where they lead
    a compute project and are an active member."""
    from compute.models import Project

    qs = Hub.objects.all()
    if not user.is_authenticated:
        return qs.none()
    if api_key is not None:
        qs = qs.filter(pk=api_key.hub_id)
    staff_ids = staff_hub_ids(user, api_key)
    if staff_ids is None:
        return qs.order_by("name")
    led = Project.objects.filter(pi=user, hub_id__in=member_hub_ids(user)).values("hub_id")
    return qs.filter(Q(pk__in=staff_ids) | Q(pk__in=led)).order_by("name")


def may_create_at(user, hub, api_key=None) -> bool:
    return hubs_for_new_pilot(user, api_key).filter(pk=hub.pk).exists()


def can_publish(user, pilot, api_key=None) -> bool:
    return pilot.status in PUBLISHABLE_STATUSES and is_hub_staff(user, pilot.hub, api_key)


def can_transition(user, pilot, target, api_key=None) -> bool:
    from .services import TRANSITIONS

    return pilot.status in TRANSITIONS[target][0] and is_editor(user, pilot, api_key)


# --- Case studies ----------------------------------------------------------------------------


def public_case_studies(user=None, api_key=None) -> QuerySet:
    qs = CaseStudy.objects.filter(withdrawn_at__isnull=True)
    if user is not None and user.is_authenticated and user.is_superuser:
        return qs
    hubs = Q(pilot__hub__public=True)
    if user is not None and user.is_authenticated:
        hubs |= Q(pilot__hub__in=member_hub_ids(user))
    if api_key is not None:
        hubs |= Q(pilot__hub=api_key.hub_id)
    return qs.filter(hubs)


def case_study_for(user, slug, *, api_key=None) -> CaseStudy:
    qs = public_case_studies(user, api_key).select_related("pilot", "pilot__hub", "pilot__adapted_from__hub")
    return get_object_or_404(qs, slug=slug)


def hubs_that_may_adapt(user, pilot, api_key=None) -> QuerySet:
    """Hubs ``user`` runs other than the pilot's own (one that adapted it already gets its
    existing adaptation back)."""
    qs = Hub.objects.exclude(pk=pilot.hub_id)
    if not user.is_authenticated:
        return qs.none()
    if api_key is not None:
        qs = qs.filter(pk=api_key.hub_id)
    staff_ids = staff_hub_ids(user, api_key)
    if staff_ids is not None:
        qs = qs.filter(pk__in=staff_ids)
    return qs.order_by("name")
