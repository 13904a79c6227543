"""Reads for hub pages and the API, with their joins already applied."""

from django.db.models import Count, Q

from .models import Hub, Membership, MembershipStatus, Notification, Organisation, Profile, Sector


def network_at_a_glance() -> dict:
    from django.contrib.auth import get_user_model

    hubs = Hub.objects.filter(public=True)
    stats = {
        "hubs": hubs.count(),
        "countries": hubs.values("country").distinct().count(),
        "members": get_user_model()
        .objects.filter(memberships__status=MembershipStatus.ACTIVE, is_active=True)
        .distinct()
        .count(),
        "organisations": Organisation.objects.count(),
        "open_calls": open_call_count(),
    }
    return stats


def open_call_count() -> int:
    """Open calls are counted once the compute app defines calls."""
    try:
        from compute.selectors import open_calls
    except ImportError:
        return 0
    return open_calls().count()


def hub_directory(*, country: str = "", sector: str = "", q: str = ""):
    qs = Hub.objects.filter(public=True).annotate(
        member_count=Count("memberships", filter=Q(memberships__status=MembershipStatus.ACTIVE))
    )
    if country:
        qs = qs.filter(country=country)
    if sector:
        qs = qs.filter(focus_sectors__icontains=f'"{sector}"')
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(city__icontains=q) | Q(description__icontains=q))
    return qs.order_by("name")


def sectors_in_use() -> list[tuple[str, str]]:
    return list(Sector.choices)


def hub_members(hub, *, status: str = "", role: str = "", q: str = ""):
    qs = Membership.objects.filter(hub=hub).select_related("user", "user__profile__organisation", "hub", "decided_by")
    if status:
        qs = qs.filter(status=status)
    if role:
        qs = qs.filter(role=role)
    if q:
        qs = qs.filter(Q(user__email__icontains=q) | Q(user__name__icontains=q))
    return qs.order_by("-created_at", "-id")


def profile_of(user) -> Profile:
    """The user's profile with its organisation; an unsaved blank one if they have none yet.

    Pages that only show the profile use this, so a GET never writes.
    """
    return Profile.objects.select_related("organisation").filter(user=user).first() or Profile(user=user)


def memberships_of(user):
    return Membership.objects.filter(user=user).select_related("hub").order_by("hub__name")


def inbox(user):
    return Notification.objects.filter(user=user).order_by("-created_at", "-id")
