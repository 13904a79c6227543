"""Slurm import: sacct --parsable2 output mapped to allocations and resources."""

import datetime as dt
import io
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from compute import ledger
from compute.models import AllocationStatus, UsageRecord
from compute.slurm import SacctFormatError, gpus_in_tres, import_sacct
from compute.usage import allocation_balance

from .usage_factories import assert_ledger_consistent, make_allocation, make_call, make_provider, make_resource

pytestmark = pytest.mark.django_db

SAMPLE = Path(__file__).parent / "data" / "sacct_sample.txt"

# Job -> millicredits: GPUs x ElapsedRaw at the partition's rate (H100 1.0, A100 0.6), rounded up.
EXPECTED_COSTS = {
    "81001": 8000,  # 4 GPUs x 2 h
    "81002": 1800,  # 2 x 1.5 h on A100
    "81004": 80_000,  # 8 x 10 h
    "81008": 1800,  # gres/gpu:a100=1, 3 h on A100
    "81010_1": 1000,  # array task
    "81010_2": 500,
    "81010_3": 13,  # 45 s: 12.5 millicredits, rounded up
    "81014": 3000,  # account written "P-Climate"
    "81015": 9600,
    "81018": 1372,  # 4 x 1234 s
    "81019": 28_800,
}
CLIMATE = ("81001", "81004", "81010_1", "81010_2", "81010_3", "81014", "81018")
EXPECTED_UNMAPPED = {
    14: "unknown Slurm account 'p-nobody'",
    16: "unknown partition 'gpu-mi300'",
    21: "expected 9 fields separated by '|', found 1",
    22: "ElapsedRaw '12:00:00' is not a number of seconds",
    30: "the allocation of account 'p-archive' is expired",
    31: "the call of account 'p-genomics' does not include H100 partition",
    45: "expected 9 fields separated by '|', found 6",
    46: "no Slurm account",
}


@pytest.fixture
def cluster(hub):
    """The provider, resources and allocations the sample file refers to."""
    provider = make_provider(hub=hub, name="Lyon HPC")
    h100 = make_resource(provider=provider, name="H100 partition", rate=1000, partition="gpu-h100")
    a100 = make_resource(provider=provider, name="A100 partition", rate=600, partition="gpu-a100")
    climate_call = make_call(hub=hub, resources=[h100])
    genomics_call = make_call(hub=hub, resources=[a100])
    climate = make_allocation(call=climate_call, granted=200_000, slurm_account="p-climate")
    genomics = make_allocation(call=genomics_call, granted=200_000, slurm_account="p-genomics")
    archive = make_allocation(call=climate_call, granted=1000, slurm_account="p-archive")
    archive.status = AllocationStatus.EXPIRED
    archive.save(update_fields=["status"])
    return provider, climate, genomics


def test_the_sample_is_imported_and_unmappable_rows_are_reported(cluster):
    provider, climate, genomics = cluster

    report = import_sacct(SAMPLE.read_text(), provider=provider)

    assert (report.rows, report.to_import, report.created, report.duplicates) == (45, 11, 11, 0)
    assert {note.line: note.reason for note in report.unmapped} == EXPECTED_UNMAPPED
    assert report.skipped_by_reason == {"job step": 21, "no GPUs": 2, "not finished": 2, "ran for 0 seconds": 1}
    assert dict(UsageRecord.objects.values_list("external_id", "millicredits")) == EXPECTED_COSTS
    assert set(climate.usage_records.values_list("external_id", flat=True)) == set(CLIMATE)
    climate_cost = sum(EXPECTED_COSTS[job] for job in CLIMATE)
    assert allocation_balance(climate) == 200_000 - climate_cost
    assert allocation_balance(genomics) == 200_000 - (sum(EXPECTED_COSTS.values()) - climate_cost)
    assert ledger.provider_account(provider).balance == sum(EXPECTED_COSTS.values())
    assert_ledger_consistent()


def test_sacct_times_are_read_in_the_portal_time_zone_and_users_kept(cluster):
    provider, *_ = cluster
    import_sacct(SAMPLE.read_text(), provider=provider)

    job = UsageRecord.objects.get(external_id="81001")
    brussels = ZoneInfo("Europe/Brussels")
    assert job.started_at == dt.datetime(2026, 3, 1, 8, 0, tzinfo=brussels)
    assert job.ended_at == dt.datetime(2026, 3, 1, 10, 0, tzinfo=brussels)
    assert (job.user_label, job.gpu_seconds) == ("alice", 4 * 7200)


def test_importing_the_same_file_again_creates_nothing_new(cluster):
    provider, climate, _ = cluster
    import_sacct(SAMPLE.read_text(), provider=provider)
    balance = allocation_balance(climate)

    again = import_sacct(SAMPLE.read_text(), provider=provider)

    assert (again.created, again.duplicates) == (0, 11)
    assert UsageRecord.objects.count() == 11
    assert allocation_balance(climate) == balance


def test_a_dry_run_reports_and_writes_nothing(cluster):
    provider, *_ = cluster

    report = import_sacct(SAMPLE.read_text(), provider=provider, dry_run=True)

    assert (report.created, report.duplicates, len(report.unmapped)) == (11, 0, 8)
    assert "would create 11" in report.summary()
    assert not UsageRecord.objects.exists()


def test_progress_is_reported_after_each_chunk(cluster):
    provider, *_ = cluster
    seen = []

    import_sacct(
        SAMPLE.read_text(), provider=provider, chunk_size=4, progress=lambda done, total: seen.append((done, total))
    )

    assert seen == [(4, 11), (8, 11), (11, 11)]


def test_an_uploaded_file_is_accepted(cluster):
    provider, *_ = cluster
    upload = SimpleUploadedFile("sacct.txt", SAMPLE.read_bytes(), content_type="text/plain")

    assert import_sacct(upload, provider=provider).created == 11


def test_a_row_the_ingest_refuses_is_reported_and_the_rest_imported(cluster):
    provider, *_ = cluster
    text = (
        "JobID|User|Account|Partition|AllocTRES|ElapsedRaw|Start|End\n"
        "1|alice|p-climate|gpu-h100|gres/gpu=1|3600|2026-03-01T10:00:00|2026-03-01T11:00:00\n"
        "2|alice|p-climate|gpu-h100|gres/gpu=1|3600|2026-03-01T10:00:00|2026-03-01T09:00:00\n"
        "3|alice|p-climate|gpu-h100|gres/gpu=1|3600|2026-03-01T12:00:00|2026-03-01T13:00:00\n"
    )

    report = import_sacct(text, provider=provider)

    assert report.created == 2
    assert [str(note) for note in report.unmapped] == ["line 3 (job 2): end: The job ends before it starts."]


def test_the_command_prints_progress_unmapped_rows_and_a_summary(cluster):
    provider, *_ = cluster
    out = io.StringIO()

    call_command("import_sacct", str(SAMPLE), provider=provider.pk, chunk_size=5, stdout=out)

    text = out.getvalue()
    assert "imported 5/11 rows" in text
    assert "imported 11/11 rows" in text
    assert "not imported: line 14 (job 81005): unknown Slurm account 'p-nobody'" in text
    assert "not imported: line 21: expected 9 fields separated by '|', found 1" in text
    assert "45 rows: created 11, duplicates 0, skipped 26" in text
    assert "unmapped 8" in text


def test_the_command_dry_run_writes_nothing(cluster):
    provider, *_ = cluster
    out = io.StringIO()

    call_command("import_sacct", str(SAMPLE), provider=provider.pk, dry_run=True, stdout=out)

    assert "Dry run, nothing written" in out.getvalue()
    assert "would create 11" in out.getvalue()
    assert not UsageRecord.objects.exists()


def test_the_command_refuses_an_unknown_provider_or_a_missing_file(cluster, tmp_path):
    provider, *_ = cluster
    with pytest.raises(CommandError, match="No compute provider"):
        call_command("import_sacct", str(SAMPLE), provider=999_999)
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_sacct", str(tmp_path / "nope.txt"), provider=provider.pk)


def test_a_file_without_the_sacct_header_is_refused(cluster, tmp_path):
    provider, *_ = cluster
    csv = tmp_path / "usage.csv"
    csv.write_text("job,user,hours\n1,alice,3\n")

    with pytest.raises(SacctFormatError, match="missing JobID"):
        import_sacct(csv.read_text(), provider=provider)
    with pytest.raises(CommandError, match="not a sacct --parsable2 header"):
        call_command("import_sacct", str(csv), provider=provider.pk)


def test_accounts_of_another_hub_are_not_matched(cluster, other_hub):
    provider, *_ = cluster
    elsewhere = make_provider(hub=other_hub)
    resource = make_resource(provider=elsewhere, partition="gpu-h100")
    make_allocation(call=make_call(hub=other_hub, resources=[resource]), granted=1000, slurm_account="p-remote")
    text = (
        "JobID|User|Account|Partition|AllocTRES|ElapsedRaw|Start|End\n"
        "1|alice|p-remote|gpu-h100|gres/gpu=1|3600|2026-03-01T10:00:00|2026-03-01T11:00:00\n"
    )

    report = import_sacct(text, provider=provider)

    assert report.created == 0
    assert report.unmapped[0].reason == "unknown Slurm account 'p-remote'"


@pytest.mark.parametrize(
    ("tres", "gpus"),
    [
        ("billing=8,cpu=8,gres/gpu=4,mem=64G,node=1", 4),
        ("cpu=8,gres/gpu:a100=2,mem=64G", 2),
        ("cpu=8,gres/gpu=3,gres/gpu:h100=3", 3),
        ("cpu=8,gres/gpu:a100=1,gres/gpu:h100=2", 3),
        ("billing=64,cpu=64,mem=128G,node=1", 0),
        ("cpu=8,gres/gpumem=40G,gres/shard=2", 0),
        ("", 0),
    ],
)
def test_gpus_are_read_from_alloctres(tres, gpus):
    assert gpus_in_tres(tres) == gpus
