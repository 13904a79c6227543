"""The demo seed: every track and state, usage history, and idempotent (a second run changes nothing)."""

from io import StringIO

from django.apps import apps
from django.core.management import call_command

from compute.models import Application, AppStatus, Call, Review, ReviewStatus, Track, UsageRecord
from compute.usage import allocation_balance


def counts() -> dict[str, int]:
    return {
        m._meta.label: m.objects.count()
        for m in apps.get_models()
        if m._meta.app_label in ("compute", "hubs", "gigafactory", "account", "mfa")
    }


def test_seed_demo_twice_changes_nothing_and_covers_every_state(db, django_capture_on_commit_callbacks):
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=out)
    first = counts()
    assert "seeding compute" in out.getvalue()
    assert "usage records:" in out.getvalue()
    # The logins are listed once each, with everything seeded for them under the address.
    logins = out.getvalue().split("Demo logins")[1]
    listed = [line.split()[0] for line in logins.splitlines() if line.startswith("  ") and "@" in line.split()[0]]
    assert len(listed) == len(set(listed))
    assert {"researcher@gigafactory.test", "reviewer@gigafactory.test", "lyon.staff@gigafactory.test"} <= set(listed)
    researcher = logins[logins.index("  researcher@") :].splitlines()
    assert "member of Lyon and Helsinki" in researcher[0]
    assert "mammography" in researcher[1]  # the compliance demo's line for the same person

    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=StringIO())
    assert counts() == first

    assert set(Application.objects.values_list("status", flat=True)) == set(AppStatus.values)
    assert set(Call.objects.values_list("track", flat=True)) == set(Track.values)
    assert Call.objects.values("hub").distinct().count() >= 5
    reviewers = set(Review.objects.values_list("reviewer__email", "status"))
    assert ("reviewer@gigafactory.test", ReviewStatus.SUBMITTED) in reviewers
    assert ("reviewer2@gigafactory.test", ReviewStatus.ASSIGNED) in reviewers
    # Allocations have months of daily usage, debited through the ledger, never below zero.
    first_day = UsageRecord.objects.order_by("started_at").values_list("started_at", flat=True).first()
    last_day = UsageRecord.objects.order_by("-started_at").values_list("started_at", flat=True).first()
    assert (last_day - first_day).days >= 90
    for application in Application.objects.filter(status=AppStatus.APPROVED).select_related("allocation"):
        assert 0 <= allocation_balance(application.allocation) <= application.allocation.granted_millicredits
