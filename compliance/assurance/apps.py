from django.apps import AppConfig


class AssuranceConfig(AppConfig):
    name = "compliance.assurance"
    label = "assurance"
    verbose_name = "Fairness and drift checks"
