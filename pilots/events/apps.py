from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "pilots.events"
    label = "events"
    verbose_name = "Events"
