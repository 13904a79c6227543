from django.apps import AppConfig


class GigafactoryConfig(AppConfig):
    name = "gigafactory"
    verbose_name = "Network plumbing"

    def ready(self):
        from . import schema  # noqa: F401 - registers the OpenAPI auth extension
