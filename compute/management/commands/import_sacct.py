"""manage.py import_sacct PATH --provider ID [--dry-run]: Slurm accounting to usage records."""

import sys

from django.core.management.base import BaseCommand, CommandError

from compute.models import ComputeProvider
from compute.slurm import CHUNK, SacctFormatError, import_sacct


class Command(BaseCommand):
    help = (
        "Import `sacct --parsable2` output (JobID, User, Account, Partition, AllocTRES, ElapsedRaw, Start, End) "
        "as GPU usage of one provider. Importing the same file again creates nothing new."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="sacct output file, or - for standard input")
        parser.add_argument("--provider", type=int, required=True, help="ComputeProvider id")
        parser.add_argument("--dry-run", action="store_true", help="map and report, write nothing")
        parser.add_argument("--chunk-size", type=int, default=CHUNK, help=f"rows per ingest (default {CHUNK:,})")

    def handle(self, *args, path, provider, dry_run, chunk_size, **options):
        found = ComputeProvider.objects.select_related("hub").filter(pk=provider).first()
        if found is None:
            raise CommandError(f"No compute provider with id {provider}.")
        try:
            if path == "-":
                text = sys.stdin.read()
            else:
                with open(path, encoding="utf-8-sig", errors="replace") as f:
                    text = f.read()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror or exc}") from exc

        verb = "checked" if dry_run else "imported"

        def progress(done, total):
            self.stdout.write(f"{verb} {done:,}/{total:,} rows")

        try:
            report = import_sacct(
                text,
                provider=found,
                progress=progress,
                dry_run=dry_run,
                chunk_size=chunk_size,
                acting_label=f"import_sacct {path}",
            )
        except SacctFormatError as exc:
            raise CommandError(str(exc)) from exc

        for note in report.unmapped:
            self.stdout.write(self.style.WARNING(f"not imported: {note}"))
        prefix = "Dry run, nothing written. " if dry_run else ""
        self.stdout.write(self.style.SUCCESS(f"{prefix}{found} ({found.hub}): {report.summary()}"))
