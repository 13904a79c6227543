"""Seed the demo network. Safe to run again: it only adds what is missing."""

import importlib

from django.core.management.base import BaseCommand

from hubs.models import Hub

# Each app with demo data has a ``demo`` module with ``seed(log)`` (and optionally ``logins()``).
SEEDERS = [
    "hubs.demo",
    "compute.demo",
    "pilots.demo",  # before compliance: the demo AI systems are linked to the pilots
    "compliance.demo",
    "compliance.assurance.demo",
    "pilots.clinics.demo",
    "pilots.events.demo",
    "hubs.network.demo",
    "hubs.webhooks.demo",
]


class Command(BaseCommand):
    help = "Seed the demo network (idempotent) and print the demo logins."

    def add_arguments(self, parser):
        parser.add_argument("--if-empty", action="store_true", help="Do nothing when hubs already exist.")

    def handle(self, *args, if_empty=False, **options):
        if if_empty and Hub.objects.exists():
            self.stdout.write("Demo data already present; skipping the seed.")
            return
        modules = []
        for index, name in enumerate(SEEDERS, start=1):
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError as exc:
                if exc.name != name:
                    raise
                continue
            self.stdout.write(f"[{index}/{len(SEEDERS)}] seeding {name.removesuffix('.demo')} …")
            module.seed(lambda line: self.stdout.write(f"    {line}"))
            modules.append(module)
        self.stdout.write(self.style.SUCCESS("Demo network ready."))
        from hubs.demo import DEMO_PASSWORD

        self.stdout.write(f"\nDemo logins (password for all: {DEMO_PASSWORD}):")
        # One entry per person, with what each app seeded for them on lines of their own.
        roles: dict[str, list[str]] = {}
        for module in modules:
            for email, what in getattr(module, "logins", list)():
                roles.setdefault(email, []).append(what)
        for email, whats in roles.items():
            self.stdout.write(f"  {email:<34} {whats[0]}")
            for what in whats[1:]:
                self.stdout.write(f"  {'':<34} {what}")
