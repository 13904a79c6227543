from django.apps import AppConfig


class GigafactoryConfig(AppConfig):
    name = "gigafactory"
    verbose_name = "Network plumbing"

    def ready(self):
        from . import (  # noqa: F401
            lookups,  # registers the ``__in_array`` lookup
            schema,  # registers the OpenAPI auth extension
        )
        from .api import refuse_numbers_as_text

        refuse_numbers_as_text()
