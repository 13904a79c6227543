"""Form helpers shared by the apps' pages and admin."""

from django.core.exceptions import ValidationError


def add_service_errors(form, exc: ValidationError, rename: dict | None = None) -> None:
    """Put each error of a service's ``ValidationError`` next to the matching field (or on top);
    ``rename`` maps a service's key to the form's field name."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for key, errors in exc.message_dict.items():
        field = (rename or {}).get(key, key)
        form.add_error(field if field in form.fields else None, errors)
