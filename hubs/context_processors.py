from .access import is_any_hub_staff


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "unread_count": user.notifications.filter(read_at__isnull=True).count(),
        "nav_is_staff": is_any_hub_staff(user),
    }
