"""Importing Slurm accounting: ``sacct --parsable2`` output into usage records.

Staff run it as ``manage.py import_sacct PATH --provider ID`` or upload the file in the admin;
both call ``import_sacct``. Expected columns (any order, extra columns ignored):
``JobID|User|Account|Partition|AllocTRES|ElapsedRaw|Start|End``, for example from::

    sacct --allusers --parsable2 --starttime 2026-03-01 --endtime 2026-04-01 \\
          --format JobID,User,Account,Partition,AllocTRES,ElapsedRaw,Start,End,State

Mapping: the Slurm account is an allocation's ``slurm_account`` at the provider's hub; the
partition is the ``slurm_partition`` of one of the provider's resources. GPU-seconds are the
job's GPUs (``gres/gpu=N`` in AllocTRES) times ``ElapsedRaw``; the job id is the external id,
so importing the same file again creates nothing new. Job steps (``1234.batch``, ``1234.0``),
jobs without GPUs and jobs that have not finished are skipped; rows that cannot be mapped are
reported with their line number and reason.
"""

import io
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from .models import Allocation, AllocationStatus, Call, ComputeProvider, ComputeResource
from .usage import MAX_RECORDS, UsageRejected, known_external_ids, usage_ingest

REQUIRED_COLUMNS = ("JobID", "User", "Account", "Partition", "AllocTRES", "ElapsedRaw", "Start", "End")
NOT_A_TIME = {"", "unknown", "none", "n/a"}
CHUNK = 2000
_GPU_TRES = re.compile(r"^gres/gpu(?::[^=]+)?$")


class SacctFormatError(ValueError):
    """The file is not ``sacct --parsable2`` output with the needed columns."""


@dataclass(frozen=True)
class RowNote:
    line: int
    job_id: str
    reason: str

    def __str__(self):
        job = f" (job {self.job_id})" if self.job_id else ""
        return f"line {self.line}{job}: {self.reason}"


@dataclass
class ImportReport:
    rows: int = 0  # data lines read
    to_import: int = 0  # rows mapped to an allocation and a resource
    created: int = 0
    duplicates: int = 0
    gpu_seconds: int = 0  # of the mapped rows
    skipped: list[RowNote] = field(default_factory=list)  # job steps, CPU-only, unfinished
    unmapped: list[RowNote] = field(default_factory=list)  # could not be imported, with why
    dry_run: bool = False

    @property
    def skipped_by_reason(self) -> dict[str, int]:
        return dict(Counter(note.reason.split(" (")[0] for note in self.skipped))

    def summary(self) -> str:
        verb = "would create" if self.dry_run else "created"
        reasons = ", ".join(f"{n:,} {reason}" for reason, n in sorted(self.skipped_by_reason.items()))
        return (
            f"{self.rows:,} rows: {verb} {self.created:,}, duplicates {self.duplicates:,}, "
            f"skipped {len(self.skipped):,}{f' ({reasons})' if reasons else ''}, unmapped {len(self.unmapped):,}"
        )


@dataclass
class _Job:
    line: int
    job_id: str
    user: str
    account: str
    partition: str
    gpus: int
    elapsed: int
    start: datetime
    end: datetime


def gpus_in_tres(tres: str) -> int:
    """GPUs in an AllocTRES value: ``gres/gpu=4``, or the sum of typed ``gres/gpu:a100=2``."""
    total, typed = None, 0
    for item in tres.split(","):
        name, _, value = item.partition("=")
        name = name.strip()
        if not _GPU_TRES.match(name) or not value.strip().isdigit():
            continue
        if name == "gres/gpu":
            total = int(value)
        else:
            typed += int(value)
    return total if total is not None else typed


def _when(value: str, tz) -> datetime | None:
    if value.strip().lower() in NOT_A_TIME:
        return None
    moment = datetime.fromisoformat(value.strip())
    return timezone.make_aware(moment, tz) if timezone.is_naive(moment) else moment


def _text(text_or_file) -> str:
    if hasattr(text_or_file, "read"):  # an open file, or an uploaded one
        if hasattr(text_or_file, "seek"):
            text_or_file.seek(0)
        text_or_file = text_or_file.read()
    if isinstance(text_or_file, bytes):
        text_or_file = text_or_file.decode("utf-8-sig", errors="replace")
    return text_or_file


def parse_sacct(text_or_file, *, tz=None) -> tuple[list[_Job], list[RowNote], list[RowNote]]:
    """Read the rows: ``(jobs, skipped, malformed)``. Raises ``SacctFormatError`` when the
    header lacks a needed column."""
    tz = tz or timezone.get_current_timezone()
    lines = io.StringIO(_text(text_or_file))
    columns: dict[str, int] | None = None
    width = 0
    jobs, skipped, malformed = [], [], []
    first_seen: dict[str, int] = {}
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        fields = line.split("|")
        if columns is None:
            names = {name.strip().lower(): i for i, name in enumerate(fields)}
            missing = [c for c in REQUIRED_COLUMNS if c.lower() not in names]
            if missing:
                raise SacctFormatError(
                    f"Line {number} is not a sacct --parsable2 header: missing {', '.join(missing)}."
                )
            columns = {c: names[c.lower()] for c in REQUIRED_COLUMNS}
            width = len(fields)
            continue
        if len(fields) == width + 1 and fields[-1] == "":  # --parsable (not 2) ends rows with a pipe
            fields.pop()
        if len(fields) != width:
            malformed.append(RowNote(number, "", f"expected {width} fields separated by '|', found {len(fields)}"))
            continue

        def get(name, fields=fields, columns=columns):
            return fields[columns[name]].strip()

        job_id = get("JobID")
        if not job_id:
            malformed.append(RowNote(number, "", "no JobID"))
            continue
        if "." in job_id:
            skipped.append(RowNote(number, job_id, "job step"))
            continue
        gpus = gpus_in_tres(get("AllocTRES"))
        if gpus <= 0:
            skipped.append(RowNote(number, job_id, "no GPUs"))
            continue
        if get("End").lower() in NOT_A_TIME:
            skipped.append(RowNote(number, job_id, "not finished"))
            continue
        elapsed = get("ElapsedRaw")
        if not elapsed.isdigit():
            malformed.append(RowNote(number, job_id, f"ElapsedRaw {elapsed!r} is not a number of seconds"))
            continue
        try:
            start, end = _when(get("Start"), tz), _when(get("End"), tz)
        except ValueError:
            malformed.append(RowNote(number, job_id, f"Start {get('Start')!r} or End {get('End')!r} is not a date"))
            continue
        if int(elapsed) == 0:
            skipped.append(RowNote(number, job_id, "ran for 0 seconds"))
            continue
        if start is None:
            malformed.append(RowNote(number, job_id, "a finished job without a Start time"))
            continue
        if job_id in first_seen:
            skipped.append(RowNote(number, job_id, f"listed again (first on line {first_seen[job_id]})"))
            continue
        first_seen[job_id] = number
        jobs.append(_Job(number, job_id, get("User"), get("Account"), get("Partition"), gpus, int(elapsed), start, end))
    if columns is None:
        raise SacctFormatError("The file is empty: expected a sacct --parsable2 header line.")
    return jobs, skipped, malformed


def _map(provider, jobs: list[_Job]) -> tuple[list[tuple[_Job, dict]], list[RowNote]]:
    """Each job as a usage record for ``usage_ingest``, or a note saying why it cannot be."""
    allocations: dict[str, Allocation] = {}
    wanted = {job.account.lower() for job in jobs}
    for allocation in Allocation.objects.filter(hub_id=provider.hub_id).exclude(slurm_account=""):
        if allocation.slurm_account.lower() in wanted:
            allocations[allocation.slurm_account.lower()] = allocation
    by_partition: dict[str, list[ComputeResource]] = {}
    for resource in ComputeResource.objects.filter(provider=provider).exclude(slurm_partition=""):
        by_partition.setdefault(resource.slurm_partition, []).append(resource)
    eligible = set(
        Call.eligible_resources.through.objects.filter(
            call_id__in={a.call_id for a in allocations.values()}, computeresource__provider=provider
        ).values_list("call_id", "computeresource_id")
    )
    mapped, unmapped = [], []
    for job in jobs:
        allocation = allocations.get(job.account.lower())
        resources = by_partition.get(job.partition, [])
        if allocation is None:
            reason = f"unknown Slurm account {job.account!r}" if job.account else "no Slurm account"
        elif allocation.status != AllocationStatus.ACTIVE:
            reason = f"the allocation of account {job.account!r} is {allocation.status}"
        elif not resources:
            reason = f"unknown partition {job.partition!r}"
        elif len(resources) > 1:
            reason = f"partition {job.partition!r} matches several resources"
        elif (allocation.call_id, resources[0].pk) not in eligible:
            reason = f"the call of account {job.account!r} does not include {resources[0].name}"
        else:
            reason = ""
        if reason:
            unmapped.append(RowNote(job.line, job.job_id, reason))
            continue
        mapped.append(
            (
                job,
                {
                    "resource": resources[0].pk,
                    "allocation": allocation.pk,
                    "external_id": job.job_id,
                    "user": job.user[:120],
                    "gpu_seconds": job.gpus * job.elapsed,
                    "start": job.start,
                    "end": job.end,
                },
            )
        )
    return mapped, unmapped


def import_sacct(
    text_or_file,
    *,
    provider: ComputeProvider,
    progress: Callable[[int, int], None] | None = None,
    dry_run: bool = False,
    chunk_size: int = CHUNK,
    acting_label: str = "Slurm import",
) -> ImportReport:
    """Import ``sacct --parsable2`` output (text, bytes, or a text or binary file) as usage of
    ``provider``. ``progress(done, total)`` is called after each chunk. With ``dry_run`` nothing
    is written and ``created`` counts the rows that would be."""
    chunk_size = max(1, min(chunk_size, MAX_RECORDS))
    jobs, skipped, malformed = parse_sacct(text_or_file)
    mapped, unmapped = _map(provider, jobs)
    report = ImportReport(
        rows=len(jobs) + len(skipped) + len(malformed),
        to_import=len(mapped),
        gpu_seconds=sum(record["gpu_seconds"] for _, record in mapped),
        skipped=skipped,
        unmapped=sorted(malformed + unmapped, key=lambda note: note.line),
        dry_run=dry_run,
    )
    total = len(mapped)
    if dry_run:
        known = known_external_ids(provider, (job.job_id for job, _ in mapped))
        report.duplicates = len(known)
        report.created = total - len(known)
        if progress:
            progress(total, total)
        return report
    done = 0
    for start in range(0, total, chunk_size):
        chunk = mapped[start : start + chunk_size]
        result = _ingest_chunk(provider, chunk, report, acting_label)
        report.created += result.created
        report.duplicates += result.duplicates
        done += len(chunk)
        if progress:
            progress(done, total)
    report.unmapped.sort(key=lambda note: note.line)
    return report


def _ingest_chunk(provider, chunk, report: ImportReport, acting_label):
    """Ingest one chunk; rows the ingest refuses (e.g. an end before its start) are moved to
    ``report.unmapped`` and the rest is sent again."""
    try:
        return usage_ingest(provider=provider, records=[record for _, record in chunk], acting_label=acting_label)
    except UsageRejected as exc:
        bad: dict[int, str] = {}
        for error in exc.errors:
            if error["index"] is None:
                raise
            bad.setdefault(error["index"], f"{error['field']}: {error['message']}")
        for index, reason in bad.items():
            job = chunk[index][0]
            report.unmapped.append(RowNote(job.line, job.job_id, reason))
        report.to_import -= len(bad)
        rest = [item for i, item in enumerate(chunk) if i not in bad]
        if not rest:
            return usage_ingest(provider=provider, records=[], acting_label=acting_label)
        return usage_ingest(provider=provider, records=[record for _, record in rest], acting_label=acting_label)
