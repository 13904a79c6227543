"""The name under which the call catalogue (``compute.views.application_create``) finds the
application form view; it lives in ``compute.applicant_views``."""

from .applicant_views import application_create

__all__ = ["application_create"]
