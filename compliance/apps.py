from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = "AI Act compliance"

    def ready(self):
        from . import screening  # noqa: F401 - registers the AI Act screening checks and approval guard
