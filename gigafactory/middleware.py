"""Cross-cutting HTTP behaviour: the Content-Security-Policy and a clean 503 when the
database is away."""

import logging
import secrets
import sys

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views import defaults

logger = logging.getLogger(__name__)

# Everything is served by the app itself: no CDN, no inline script or style.
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


# ReDoc adds <style> elements at run time; on its page they carry a nonce made for the response
# (gigafactory.docs hands it to the bundle), and the policy allows those and nothing else inline.
REDOC_PATH = "/api/redoc/"


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        policy = CSP
        if request.path == REDOC_PATH:
            request.csp_nonce = secrets.token_urlsafe(18)
            policy = CSP.replace("style-src 'self'", f"style-src 'self' 'nonce-{request.csp_nonce}'")
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", policy)
        return response


class DatabaseUnavailableMiddleware:
    """Turn a lost database connection into a 503 the client can retry, never a 500 page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not is_database_unavailable(exception):
            return None
        return unavailable_response(request, exception)


def server_error(request):
    """``handler500``: a lost database met outside a view (the session or user loaded by a
    middleware) is a 503 too; anything else is the usual 500 page."""
    exception = sys.exc_info()[1]
    if is_database_unavailable(exception):
        return unavailable_response(request, exception)
    return defaults.server_error(request)


def is_database_unavailable(exception) -> bool:
    return isinstance(exception, (OperationalError, InterfaceError)) and _is_connection_error(exception)


def unavailable_response(request, exception) -> HttpResponse:
    logger.warning("Database unavailable during %s %s: %s", request.method, request.path, exception)
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {"detail": "The service is temporarily unavailable; please retry shortly.", "code": "unavailable"},
            status=503,
        )
    else:
        response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = "5"
    return response


def _is_connection_error(exc: DatabaseError) -> bool:
    text = str(exc).lower()
    markers = ("connection", "could not connect", "server closed", "terminating", "connect to server")
    return isinstance(exc, InterfaceError) or any(m in text for m in markers)
