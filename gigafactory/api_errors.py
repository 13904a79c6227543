"""The API's one exception handler: JSON errors, a message per field, 409 for refused transitions."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import InvalidTransition


def exception_handler(exc, context):
    """JSON errors everywhere: a message per field for bad input, 409 for a refused transition."""
    if isinstance(exc, InvalidTransition):
        return Response({"detail": exc.message, "code": "invalid_transition"}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or None)
    elif isinstance(exc, exceptions.ValidationError) and not isinstance(exc.detail, dict):
        # ``ValidationError("...")`` raised outside a serializer's fields: keep the one shape.
        exc = exceptions.ValidationError({"non_field_errors": exc.detail})
    return drf_exception_handler(exc, context)


def page_not_found(request, exception):
    """``handler404``: an address under ``/api/`` that matches no route (``/api/v1/pilots/-1/``,
    a typo) answers JSON like every other API error; pages keep the 404 page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception)
