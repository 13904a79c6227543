from django.apps import AppConfig


class NetworkConfig(AppConfig):
    name = "hubs.network"
    label = "network"
    verbose_name = "Network news and subscriptions"

    def ready(self):
        from gigafactory.events import listen

        from .listeners import on_event

        listen(on_event)
