from allauth.mfa.utils import is_mfa_enabled
from django.contrib import messages
from django.shortcuts import redirect

from . import access

STAFF_PREFIXES = ("/admin/", "/staff/")


class StaffMfaRequiredMiddleware:
    """Hub staff and admins must have MFA before any staff page or action works for them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and request.path.startswith(STAFF_PREFIXES)
            and (user.is_staff or access.is_any_hub_staff(user))
            and not is_mfa_enabled(user)
        ):
            messages.warning(
                request,
                "Hub staff must turn on two-factor authentication before using staff pages. "
                "Set up an authenticator app below.",
            )
            return redirect("mfa_activate_totp")
        return self.get_response(request)
