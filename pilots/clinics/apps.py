from django.apps import AppConfig


class ClinicsConfig(AppConfig):
    name = "pilots.clinics"
    label = "clinics"
    verbose_name = "AI clinics"
