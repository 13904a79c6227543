from .access import active_roles, is_any_hub_staff
from .models import Role


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "unread_count": user.notifications.filter(read_at__isnull=True).count(),
        "nav_is_staff": is_any_hub_staff(user),
        "nav_is_reviewer": any(role != Role.MEMBER for role in active_roles(user).values()),
    }
