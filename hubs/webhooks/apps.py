from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "hubs.webhooks"
    label = "webhooks"
    verbose_name = "Webhooks"

    def ready(self):
        from gigafactory.events import listen

        from .listeners import on_event

        listen(on_event)
