"""The one access layer: every page, API view, admin and task fetches hub-scoped objects here.

"Staff" of a hub means an active membership with the role staff or admin. Superusers
see every hub. An API key narrows whatever its owner may see to the key's hub.
"""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from .models import STAFF_ROLES, Hub, Membership, MembershipStatus, Role

ROLE_RANK = {Role.MEMBER: 0, Role.REVIEWER: 1, Role.STAFF: 2, Role.ADMIN: 3}


def _cached(user, attr, compute):
    if not hasattr(user, attr):
        setattr(user, attr, compute())
    return getattr(user, attr)


def active_roles(user) -> dict[int, str]:
    """Hub id -> role for the user's active memberships (memoised on the user object)."""
    if not user.is_authenticated:
        return {}
    return _cached(
        user,
        "_gf_active_roles",
        lambda: dict(
            Membership.objects.filter(user=user, status=MembershipStatus.ACTIVE).values_list("hub_id", "role")
        ),
    )


def forget_roles(user) -> None:
    for attr in ("_gf_active_roles",):
        if hasattr(user, attr):
            delattr(user, attr)


def member_hub_ids(user, api_key=None) -> set[int]:
    ids = set(active_roles(user))
    if api_key is not None:
        ids &= {api_key.hub_id}
    return ids


def staff_hub_ids(user, api_key=None) -> set[int] | None:
    """Hub ids the user runs; ``None`` means every hub (superuser without a key)."""
    if user.is_authenticated and user.is_superuser:
        return {api_key.hub_id} if api_key is not None else None
    ids = {hub_id for hub_id, role in active_roles(user).items() if role in STAFF_ROLES}
    if api_key is not None:
        ids &= {api_key.hub_id}
    return ids


def is_hub_staff(user, hub, api_key=None) -> bool:
    ids = staff_hub_ids(user, api_key)
    return ids is None or hub.pk in ids


def is_any_hub_staff(user) -> bool:
    if not user.is_authenticated:
        return False
    ids = staff_hub_ids(user)
    return ids is None or bool(ids)


def role_in(user, hub) -> str | None:
    if user.is_authenticated and user.is_superuser:
        return Role.ADMIN
    return active_roles(user).get(hub.pk)


def can_grant(user, hub, role) -> bool:
    """Staff may hand out roles up to their own; only hub admins and superusers make admins."""
    own = role_in(user, hub)
    return own in STAFF_ROLES and ROLE_RANK[Role(role)] <= ROLE_RANK[Role(own)]


def scope_to_staff_hubs(qs: QuerySet, user, api_key=None, *, hub_field="hub") -> QuerySet:
    ids = staff_hub_ids(user, api_key)
    return qs if ids is None else qs.filter(**{f"{hub_field}__in": ids})


def visible_hubs(user) -> QuerySet:
    """Public hubs, plus private ones the user belongs to or runs."""
    qs = Hub.objects.all()
    if user.is_authenticated and user.is_superuser:
        return qs
    from django.db.models import Q

    return qs.filter(Q(public=True) | Q(pk__in=member_hub_ids(user)))


def hub_for_visitor(user, slug) -> Hub:
    return get_object_or_404(visible_hubs(user), slug=slug)


def hub_for_member(user, slug) -> Hub:
    hub = get_object_or_404(Hub, slug=slug)
    if role_in(user, hub) is None:
        raise_not_found()
    return hub


def hub_for_staff(user, slug, api_key=None) -> Hub:
    return get_object_or_404(scope_to_staff_hubs(Hub.objects.all(), user, api_key, hub_field="pk"), slug=slug)


def membership_for_staff(user, pk, *, api_key=None, for_write=False) -> Membership:
    qs = scope_to_staff_hubs(Membership.objects.select_related("user", "hub"), user, api_key)
    if for_write:
        qs = qs.select_for_update(of=("self",))
    return get_object_or_404(qs, pk=pk)


def membership_of_user(user, pk, *, api_key=None, for_write=False) -> Membership:
    qs = Membership.objects.select_related("hub").filter(user=user)
    if api_key is not None:
        qs = qs.filter(hub=api_key.hub_id)
    if for_write:
        qs = qs.select_for_update(of=("self",))
    return get_object_or_404(qs, pk=pk)


def raise_not_found():
    from django.http import Http404

    raise Http404("No such hub, or you are not a member of it.")
