"""Usage ingest: charging, idempotency, validation, overage, threshold notices, adjustments."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum

from compute import ledger
from compute.models import (
    Account,
    AccountKind,
    AllocationStatus,
    ComputeResource,
    Entry,
    Transaction,
    TransactionKind,
    UsageRecord,
)
from compute.usage import (
    MAX_RECORDS,
    UsageRejected,
    allocation_balance,
    allocation_overage,
    allocation_used_millicredits,
    ledger_adjust,
    usage_cost,
    usage_ingest,
)
from gigafactory.models import AuditEvent
from hubs.models import Notification

from ..factories import UserFactory
from ..services import require
from .usage_factories import (
    assert_ledger_consistent,
    make_allocation,
    make_call,
    make_provider,
    make_resource,
    record,
    usage_setup,
)

pytestmark = pytest.mark.django_db


def ingest(provider, records):
    return usage_ingest(provider=provider, records=records, acting_label="partner key test")


def provider_balance(provider):
    return ledger.provider_account(provider).balance


def snapshot():
    return (
        UsageRecord.objects.count(),
        Transaction.objects.count(),
        Entry.objects.count(),
        sorted(Account.objects.values_list("pk", "balance")),
    )


# --- Charging -------------------------------------------------------------------------------


def test_ingest_creates_records_debits_the_allocation_and_credits_the_provider():
    provider, resource, _call, allocation = usage_setup(rate=600, granted=100_000)
    result = ingest(
        provider,
        [
            record(resource, allocation, "job-1", gpu_hours="1.5"),  # 1.5 h x 0.6 = 900
            record(resource, allocation, "job-2", gpu_seconds=7200),  # 2 h x 0.6 = 1,200
            record(resource, allocation, "job-3", gpu_hours=2),  # 1,200
        ],
    )

    assert (result.created, result.duplicates, result.millicredits, result.overage_millicredits) == (3, 0, 3300, 0)
    assert allocation_balance(allocation) == 100_000 - 3300
    assert allocation_used_millicredits(allocation) == 3300
    assert provider_balance(provider) == 3300
    job = UsageRecord.objects.get(external_id="job-1")
    assert (job.gpu_seconds, job.millicredits, job.user_label, job.resource, job.allocation) == (
        5400,
        900,
        "alice",
        resource,
        allocation,
    )
    assert job.started_at == dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC)
    assert job.transaction.kind == TransactionKind.USAGE
    # One ledger transaction charges the batch's three jobs on the allocation: its entries are
    # their total, and every job points at it.
    assert job.transaction.idempotency_key == f"usage-batch:{provider.pk}:{allocation.pk}:job-1"
    assert sorted(job.transaction.entries.values_list("amount", flat=True)) == [-3300, 3300]
    assert set(UsageRecord.objects.values_list("transaction", flat=True)) == {job.transaction_id}
    assert job.transaction.memo == f"3 jobs (job-1 to job-3) on {resource.name}"
    assert_ledger_consistent()


def test_job_ids_and_user_labels_keep_tabs_backslashes_and_line_breaks():
    """Text reaches PostgreSQL through COPY's text format: its escapes must not change a value."""
    provider, resource, _call, allocation = usage_setup(granted=100_000)
    job_id, user = "job\\7\tarray[3]", "alice\nbob\r\\n"
    ingest(provider, [record(resource, allocation, job_id) | {"user": user}])
    job = UsageRecord.objects.get(provider=provider)
    assert (job.external_id, job.user_label) == (job_id, user)
    assert job.transaction.idempotency_key == f"usage-batch:{provider.pk}:{allocation.pk}:{job_id}"
    assert job.transaction.memo == f"Job {job_id} on {resource.name}"
    assert ingest(provider, [record(resource, allocation, job_id) | {"user": user}]).duplicates == 1


def test_entries_record_the_running_balance_of_each_account():
    provider, resource, _call, allocation = usage_setup(granted=10_000)
    ingest(provider, [record(resource, allocation, f"job-{i}", gpu_seconds=3600) for i in range(3)])
    ingest(provider, [record(resource, allocation, f"job-{i}", gpu_seconds=3600) for i in range(3, 5)])

    account = ledger.allocation_account(allocation)
    afters = list(account.entries.order_by("id").values_list("balance_after", flat=True))
    assert afters == [10_000, 7000, 5000]  # the grant, then each batch's jobs on the allocation


def test_a_batch_on_several_allocations_charges_each_with_its_own_transaction():
    provider, resource, call, first = usage_setup(granted=10_000)
    second = make_allocation(call=call, granted=1000)
    result = ingest(
        provider,
        [
            record(resource, first, "a-1", gpu_seconds=3600),  # 1,000
            record(resource, second, "b-1", gpu_seconds=3600),  # 1,000: all of the second's grant
            record(resource, first, "a-2", gpu_seconds=7200),  # 2,000
            record(resource, second, "b-2", gpu_seconds=1800),  # 500: overage
        ],
    )

    assert (result.created, result.millicredits, result.overage_millicredits) == (4, 4500, 500)
    assert allocation_balance(first) == 7000
    assert (allocation_balance(second), allocation_overage(second)) == (0, 500)
    for allocation, jobs, total in ((first, {"a-1", "a-2"}, 3000), (second, {"b-1", "b-2"}, 1500)):
        records = UsageRecord.objects.filter(allocation=allocation)
        assert set(records.values_list("external_id", flat=True)) == jobs
        (txn_id,) = set(records.values_list("transaction", flat=True))
        assert Transaction.objects.get(pk=txn_id).allocation == allocation  # the transaction names it
        entries = Entry.objects.filter(transaction_id=txn_id)
        assert entries.filter(amount__gt=0).get().amount == total  # the provider's credit
        assert records.aggregate(total=Sum("millicredits"))["total"] == total
    assert_ledger_consistent()


@pytest.mark.parametrize(
    ("gpu_seconds", "rate", "cost"),
    [(3600, 1000, 1000), (1, 1000, 1), (1, 1, 1), (3601, 1000, 1001), (5400, 1300, 1950), (10, 600, 2)],
)
def test_cost_is_rounded_up_to_the_next_millicredit(gpu_seconds, rate, cost):
    assert usage_cost(gpu_seconds, rate) == cost


def test_gpu_hours_with_a_fraction_of_a_second_charge_the_whole_second():
    provider, resource, _call, allocation = usage_setup(rate=3600)
    ingest(provider, [record(resource, allocation, "tiny", gpu_hours="0.0001")])  # 0.36 s

    assert UsageRecord.objects.get().gpu_seconds == 1
    assert UsageRecord.objects.get().millicredits == 1


def test_ingest_is_audited_with_the_acting_key():
    provider, resource, _call, allocation = usage_setup()
    ingest(provider, [record(resource, allocation, "job-1")])

    event = AuditEvent.objects.get(action="usage_ingested")
    assert event.actor_label == "partner key test"
    assert event.after["created"] == 1
    assert event.hub_id == provider.hub_id


# --- Idempotency ----------------------------------------------------------------------------


def test_resending_the_same_batch_counts_duplicates_and_changes_nothing():
    provider, resource, _call, allocation = usage_setup()
    batch = [record(resource, allocation, f"job-{i}", gpu_seconds=600 * (i + 1)) for i in range(5)]
    ingest(provider, batch)
    before = snapshot()

    again = ingest(provider, batch)

    assert (again.created, again.duplicates, again.millicredits) == (0, 5, 0)
    assert snapshot() == before


def test_a_batch_mixing_old_and_new_records_charges_only_the_new_ones():
    provider, resource, _call, allocation = usage_setup(granted=100_000)
    ingest(provider, [record(resource, allocation, "old-1"), record(resource, allocation, "old-2")])

    result = ingest(
        provider,
        [
            record(resource, allocation, "old-1"),
            record(resource, allocation, "new-1", gpu_seconds=1800),
            record(resource, allocation, "old-2"),
        ],
    )

    assert (result.created, result.duplicates, result.millicredits) == (1, 2, 500)
    assert allocation_balance(allocation) == 100_000 - 2500
    assert_ledger_consistent()


def test_a_known_job_after_new_ones_leaves_nothing_of_the_first_attempt():
    """The batch is first written as if every job were new; the known job, last, fails that
    attempt only after the new jobs' transaction, entries and call totals were written. None of
    it may survive beside the second, correct attempt."""
    provider, resource, call, allocation = usage_setup(granted=100_000)
    ingest(provider, [record(resource, allocation, "old-1")])
    transactions = Transaction.objects.count()

    result = ingest(
        provider,
        [
            record(resource, allocation, "new-1", gpu_seconds=1800),
            record(resource, allocation, "new-2", gpu_seconds=1800),
            record(resource, allocation, "old-1", gpu_seconds=1800),
        ],
    )

    assert (result.created, result.duplicates, result.millicredits) == (2, 1, 1000)
    assert allocation_balance(allocation) == 100_000 - 1000 - 1000  # old-1 (an hour), then the new jobs
    assert Transaction.objects.count() == transactions + 1
    assert set(UsageRecord.objects.values_list("external_id", flat=True)) == {"old-1", "new-1", "new-2"}
    call.totals.refresh_from_db()
    assert call.totals.used_millicredits == 2000
    assert_ledger_consistent()


def test_the_same_job_id_from_another_provider_is_a_different_record():
    provider, resource, call, allocation = usage_setup()
    other = make_provider(hub=provider.hub)
    other_resource = make_resource(provider=other)
    call.eligible_resources.add(other_resource)

    ingest(provider, [record(resource, allocation, "4242")])
    result = ingest(other, [record(other_resource, allocation, "4242")])

    assert result.created == 1
    assert UsageRecord.objects.filter(external_id="4242").count() == 2


def check_constraints_now():
    """Deferred keys are checked at commit, which a test never reaches: check each statement."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def update_in_savepoint(queryset, **change):
    with transaction.atomic():
        queryset.update(**change)


def test_the_database_holds_a_record_to_its_resource_and_the_resources_provider():
    require(connection.vendor == "postgresql", "PostgreSQL (the composite key of migration 0010)")
    provider, resource, _call, allocation = usage_setup()
    other = make_provider(hub=provider.hub)
    other_resource = make_resource(provider=other)
    ingest(provider, [record(resource, allocation, "job-1")])
    job = UsageRecord.objects.get(external_id="job-1")

    check_constraints_now()

    records = UsageRecord.objects.filter(pk=job.pk)
    for change in (
        {"resource": other_resource},  # a resource of another provider
        {"provider": other},  # a provider that is not the resource's
        {"resource_id": 10**9},  # no such resource
    ):
        with pytest.raises(IntegrityError, match="usage_resource_of_provider"):
            update_in_savepoint(records, **change)
    update_in_savepoint(records, provider=other, resource=other_resource)  # a matching pair
    with pytest.raises(IntegrityError, match="usage_resource_of_provider"):
        update_in_savepoint(ComputeResource.objects.filter(pk=other_resource.pk), provider=provider)  # moving away


def test_the_database_holds_a_record_to_a_transaction_of_its_allocation():
    require(connection.vendor == "postgresql", "PostgreSQL (the composite key of migration 0011)")
    provider, resource, call, allocation = usage_setup()
    other = make_allocation(call=call, granted=1000)
    ingest(provider, [record(resource, allocation, "job-1"), record(resource, other, "job-2")])
    job = UsageRecord.objects.get(external_id="job-1")
    others_transaction = UsageRecord.objects.get(external_id="job-2").transaction

    check_constraints_now()

    records = UsageRecord.objects.filter(pk=job.pk)
    for change in (
        {"allocation": other},  # charged by a transaction of the first allocation
        {"transaction": others_transaction},  # a transaction of another allocation
        {"transaction_id": 10**9},  # no such transaction
    ):
        with pytest.raises(IntegrityError, match="usage_charged_by_transaction"):
            update_in_savepoint(records, **change)
    with pytest.raises(IntegrityError, match="usage_charged_by_transaction"):
        update_in_savepoint(Transaction.objects.filter(pk=job.transaction_id), allocation=other)  # moving away
    update_in_savepoint(records, allocation=other, transaction=others_transaction)  # a matching pair


# --- Validation -----------------------------------------------------------------------------


def test_a_batch_with_one_bad_record_is_rejected_with_its_index_and_nothing_is_written():
    provider, resource, _call, allocation = usage_setup()
    batch = [record(resource, allocation, f"job-{i}") for i in range(4)]
    batch[2]["end"] = "2026-03-01T09:00:00+00:00"  # before its start
    before = snapshot()

    with pytest.raises(UsageRejected) as caught:
        ingest(provider, batch)

    assert caught.value.errors == [{"index": 2, "field": "end", "message": "The job ends before it starts."}]
    assert snapshot() == before
    assert not AuditEvent.objects.filter(action="usage_ingested").exists()


def test_every_bad_record_is_listed():
    provider, resource, _call, allocation = usage_setup()
    batch = [record(resource, allocation, f"job-{i}") for i in range(5)]
    batch[0]["gpu_seconds"] = 0
    batch[3]["resource"] = 999_999

    with pytest.raises(UsageRejected) as caught:
        ingest(provider, batch)

    assert [(e["index"], e["field"]) for e in caught.value.errors] == [(0, "gpu_seconds"), (3, "resource")]
    assert isinstance(caught.value, ValidationError)
    assert "record 3: resource" in caught.value.messages[1]


def _other_providers_resource(provider, resource, call, allocation):
    foreign = make_resource(provider=make_provider(hub=provider.hub))
    call.eligible_resources.add(foreign)
    return {"resource": foreign.pk}


def _expired_allocation(provider, resource, call, allocation):
    expired = make_allocation(call=call, granted=1000)
    expired.status = AllocationStatus.EXPIRED
    expired.save(update_fields=["status"])
    return {"allocation": expired.pk}


def _allocation_of_a_call_without_the_resource(provider, resource, call, allocation):
    other_call = make_call(hub=provider.hub, resources=[make_resource(provider=provider)])
    return {"allocation": make_allocation(call=other_call, granted=1000).pk}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"resource": 999_999}, "resource", "Not one of this provider's resources."),
        (_other_providers_resource, "resource", "Not one of this provider's resources."),
        ({"resource": "h100"}, "resource", "Give the id of one of your resources."),
        ({"resource": 2**63}, "resource", "Give the id of one of your resources."),  # past bigint
        ({"allocation": "\u00b2"}, "allocation", "Give the id of an allocation."),  # a digit, not ASCII
        ({"gpu_seconds": "\u0663"}, "gpu_seconds", "Must be a whole number of GPU-seconds."),  # Arabic 3
        ({"allocation": 999_999}, "allocation", "No such allocation."),
        (_expired_allocation, "allocation", "The allocation is expired."),
        (_allocation_of_a_call_without_the_resource, "allocation", "does not include the resource"),
        ({"external_id": ""}, "external_id", "Give the job id."),
        ({"external_id": "x" * 121}, "external_id", "At most 120 characters."),
        ({"end": "2026-03-01T09:59:59+00:00"}, "end", "The job ends before it starts."),
        ({"start": "yesterday"}, "start", "Give an ISO 8601 date and time."),
        ({"end": None}, "end", "Give an ISO 8601 date and time."),
        ({"gpu_seconds": 0}, "gpu_seconds", "Must be more than zero."),
        ({"gpu_seconds": -5}, "gpu_seconds", "Must be more than zero."),
        ({"gpu_seconds": 1.5}, "gpu_seconds", "Must be a whole number of GPU-seconds."),
        ({"gpu_seconds": None, "gpu_hours": "-1"}, "gpu_hours", "Must be more than zero."),
        ({"gpu_seconds": None, "gpu_hours": "0"}, "gpu_hours", "Must be more than zero."),
        ({"gpu_seconds": None, "gpu_hours": "lots"}, "gpu_hours", "Must be a number."),
        ({"gpu_seconds": None, "gpu_hours": "NaN"}, "gpu_hours", "Must be a finite number."),
        ({"gpu_hours": 1}, "gpu_hours", "Give either gpu_hours or gpu_seconds, not both or neither."),
        ({"gpu_seconds": None}, "gpu_hours", "Give either gpu_hours or gpu_seconds, not both or neither."),
        ({"user": ["alice"]}, "user", "Must be text."),
    ],
)
def test_an_invalid_record_is_reported_with_field_and_reason(change, field, message):
    provider, resource, call, allocation = usage_setup()
    good = record(resource, allocation, "good")
    bad = record(resource, allocation, "bad")
    bad.update(change(provider, resource, call, allocation) if callable(change) else change)

    with pytest.raises(UsageRejected) as caught:
        ingest(provider, [good, bad])

    [error] = caught.value.errors
    assert (error["index"], error["field"]) == (1, field)
    assert message in error["message"]
    assert not UsageRecord.objects.exists()


def test_a_job_id_twice_in_one_batch_is_rejected():
    provider, resource, _call, allocation = usage_setup()

    with pytest.raises(UsageRejected) as caught:
        ingest(
            provider,
            [record(resource, allocation, "7"), record(resource, allocation, "8"), record(resource, allocation, "7")],
        )

    assert caught.value.errors == [
        {"index": 2, "field": "external_id", "message": "Job id '7' appears twice in this batch (first at 0)."}
    ]


def test_more_than_ten_thousand_records_are_refused():
    provider, resource, _call, allocation = usage_setup()
    one = record(resource, allocation, "x")

    with pytest.raises(UsageRejected) as caught:
        ingest(provider, [one] * (MAX_RECORDS + 1))

    assert caught.value.errors[0]["index"] is None
    assert "10,000" in caught.value.errors[0]["message"]


def test_an_empty_batch_does_nothing():
    provider, *_ = usage_setup()
    assert ingest(provider, []).created == 0


# --- Overage --------------------------------------------------------------------------------


def test_usage_beyond_the_balance_is_charged_to_overage_and_the_allocation_stops_at_zero():
    provider, resource, _call, allocation = usage_setup(granted=10_000)
    ingest(provider, [record(resource, allocation, "a", gpu_seconds=8 * 3600)])

    result = ingest(provider, [record(resource, allocation, "b", gpu_seconds=4 * 3600)])

    assert (result.millicredits, result.overage_millicredits) == (4000, 2000)
    assert allocation_balance(allocation) == 0
    assert allocation_overage(allocation) == 2000
    assert allocation_used_millicredits(allocation) == 12_000
    assert provider_balance(provider) == 12_000
    entries = UsageRecord.objects.get(external_id="b").transaction.entries.select_related("account")
    assert sorted((e.account.kind, e.amount) for e in entries) == [
        (AccountKind.ALLOCATION, -2000),
        (AccountKind.OVERAGE, -2000),
        (AccountKind.PROVIDER, 4000),
    ]
    assert_ledger_consistent()


def test_within_one_batch_the_allocation_pays_until_empty_and_overage_takes_the_rest():
    provider, resource, _call, allocation = usage_setup(granted=2500)
    ingest(provider, [record(resource, allocation, str(i), gpu_seconds=3600) for i in range(4)])

    (txn_id,) = set(UsageRecord.objects.values_list("transaction", flat=True))
    entries = sorted(Entry.objects.filter(transaction_id=txn_id).values_list("account__kind", "amount"))
    assert entries == [(AccountKind.ALLOCATION, -2500), (AccountKind.OVERAGE, -1500), (AccountKind.PROVIDER, 4000)]
    assert (allocation_balance(allocation), allocation_overage(allocation)) == (0, 1500)
    assert sorted(UsageRecord.objects.values_list("millicredits", flat=True)) == [1000] * 4


# --- Threshold notices ----------------------------------------------------------------------


def _notices(kind):
    return Notification.objects.filter(kind=kind)


def test_the_team_is_notified_at_80_and_100_percent_once_each(django_capture_on_commit_callbacks, mailoutbox):
    colleague = UserFactory()
    provider, resource, _call, allocation = usage_setup(granted=10_000, members=[colleague])
    pi = allocation.project.pi
    hour = 3600

    ingest(provider, [record(resource, allocation, "1", gpu_seconds=7 * hour)])  # 70 %
    assert not _notices("allocation_used_80").exists()

    with django_capture_on_commit_callbacks(execute=True):
        ingest(provider, [record(resource, allocation, "2", gpu_seconds=hour)])  # 80 %
    assert set(_notices("allocation_used_80").values_list("user", flat=True)) == {pi.pk, colleague.pk}
    assert {m.to[0] for m in mailoutbox} == {pi.email, colleague.email}
    assert "80 %" in mailoutbox[0].subject

    ingest(provider, [record(resource, allocation, "3", gpu_seconds=hour // 2)])  # 85 %
    assert _notices("allocation_used_80").count() == 2
    assert not _notices("allocation_used_100").exists()

    ingest(provider, [record(resource, allocation, "4", gpu_seconds=hour + hour // 2)])  # 100 %
    assert _notices("allocation_used_100").count() == 2

    ingest(provider, [record(resource, allocation, "5", gpu_seconds=hour)])  # 110 %
    ingest(provider, [record(resource, allocation, "6", gpu_seconds=hour)])
    assert _notices("allocation_used_80").count() == 2
    assert _notices("allocation_used_100").count() == 2
    allocation.refresh_from_db()
    assert allocation.notified_80_at is not None
    assert allocation.notified_100_at is not None


def test_jumping_past_both_thresholds_at_once_sends_only_the_100_percent_notice():
    provider, resource, _call, allocation = usage_setup(granted=1000)

    ingest(provider, [record(resource, allocation, "big", gpu_seconds=3600)])

    assert not _notices("allocation_used_80").exists()
    assert _notices("allocation_used_100").count() == 1
    allocation.refresh_from_db()
    assert allocation.notified_80_at is not None  # never sent later either


def test_a_staff_top_up_moves_the_team_away_from_the_threshold(staff):
    provider, resource, call, allocation = usage_setup(granted=10_000)
    ledger_adjust(
        account_from=ledger.call_account(call),
        account_to=ledger.allocation_account(allocation),
        amount=10_000,
        reason="Extra credits for the deadline",
        acting_user=staff,
        idempotency_key="top-up-1",
    )

    ingest(provider, [record(resource, allocation, "1", gpu_seconds=8 * 3600)])  # 8 of 20 credits used

    assert not _notices("allocation_used_80").exists()


def test_the_provider_is_told_once_when_usage_goes_past_100_percent(
    hub, staff, django_capture_on_commit_callbacks, mailoutbox
):
    provider, resource, _call, allocation = usage_setup(hub=hub, granted=1000)
    allocation.slurm_account = "p-vision"
    allocation.save(update_fields=["slurm_account"])

    with django_capture_on_commit_callbacks(execute=True):
        ingest(provider, [record(resource, allocation, "1", gpu_seconds=3600)])  # exactly 100 %
    allocation.refresh_from_db()
    assert allocation.provider_notified_at is None
    assert not [m for m in mailoutbox if "ops@hpc.example.org" in m.to]

    with django_capture_on_commit_callbacks(execute=True):
        ingest(provider, [record(resource, allocation, "2", gpu_seconds=60)])  # past 100 %
    allocation.refresh_from_db()
    assert allocation.provider_notified_at is not None
    [told] = [m for m in mailoutbox if m.to == ["ops@hpc.example.org"]]
    assert "stop its jobs" in told.subject
    assert "p-vision" in told.body
    assert Notification.objects.filter(kind="allocation_overuse", user=staff).count() == 1

    with django_capture_on_commit_callbacks(execute=True):
        ingest(provider, [record(resource, allocation, "3", gpu_seconds=3600)])
    assert len([m for m in mailoutbox if m.to == ["ops@hpc.example.org"]]) == 1
    assert Notification.objects.filter(kind="allocation_overuse").count() == 1


def test_nothing_is_sent_when_the_batch_is_rejected(django_capture_on_commit_callbacks, mailoutbox):
    provider, resource, _call, allocation = usage_setup(granted=1000)
    bad = record(resource, allocation, "2", gpu_seconds=0)

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(UsageRejected):
        ingest(provider, [record(resource, allocation, "1", gpu_seconds=7200), bad])

    assert mailoutbox == []
    assert not Notification.objects.exists()


# --- Adjustments ----------------------------------------------------------------------------


def test_staff_adjustment_moves_credits_and_is_audited_once(staff):
    _provider, _resource, call, allocation = usage_setup(granted=5000)
    call_acct, alloc_acct = ledger.call_account(call), ledger.allocation_account(allocation)
    budget = call_acct.balance

    txn = ledger_adjust(
        account_from=alloc_acct,
        account_to=call_acct,
        amount=2000,
        reason="Project ended early",
        acting_user=staff,
        idempotency_key="ticket-17",
    )
    again = ledger_adjust(
        account_from=alloc_acct,
        account_to=call_acct,
        amount=2000,
        reason="Project ended early",
        acting_user=staff,
        idempotency_key="ticket-17",
    )

    assert again.pk == txn.pk
    assert (txn.kind, txn.memo, txn.created_by) == (TransactionKind.ADJUSTMENT, "Project ended early", staff)
    assert allocation_balance(allocation) == 3000
    assert ledger.call_account(call).balance == budget + 2000
    [event] = AuditEvent.objects.filter(action="ledger_adjusted")
    assert (event.actor, event.hub_id, event.after["amount"]) == (staff, call.hub_id, 2000)
    assert_ledger_consistent()


def test_an_adjustment_cannot_take_an_allocation_below_zero(staff):
    _provider, _resource, call, allocation = usage_setup(granted=5000)
    before = snapshot()

    with pytest.raises(ledger.InsufficientFunds):
        ledger_adjust(
            account_from=ledger.allocation_account(allocation),
            account_to=ledger.call_account(call),
            amount=5001,
            reason="Too much",
            acting_user=staff,
            idempotency_key="ticket-18",
        )

    assert snapshot() == before
    assert not AuditEvent.objects.filter(action="ledger_adjusted").exists()


@pytest.mark.parametrize(
    ("amount", "reason", "same", "field"),
    [
        (0, "why", False, "amount"),
        (-5, "why", False, "amount"),
        (10, " ", False, "reason"),
        (10, "why", True, "account_to"),
    ],
)
def test_an_adjustment_needs_a_positive_amount_a_reason_and_two_accounts(staff, amount, reason, same, field):
    _provider, _resource, call, allocation = usage_setup(granted=5000)
    source = ledger.allocation_account(allocation)
    target = source if same else ledger.call_account(call)

    with pytest.raises(ValidationError) as caught:
        ledger_adjust(
            account_from=source, account_to=target, amount=amount, reason=reason, acting_user=staff, idempotency_key="k"
        )

    assert field in caught.value.message_dict


# --- Database guard (migration 0003) --------------------------------------------------------


def test_postgresql_refuses_entries_that_do_not_balance_within_their_statement():
    require(connection.vendor == "postgresql", "PostgreSQL")
    provider, _, call, _ = usage_setup()
    txn = Transaction.objects.create(kind=TransactionKind.ADJUSTMENT, idempotency_key="raw")
    provider_acct, call_acct = ledger.provider_account(provider), ledger.call_account(call)

    with pytest.raises(IntegrityError, match="not balanced"), transaction.atomic():
        Entry.objects.bulk_create([Entry(transaction=txn, account=provider_acct, amount=5, balance_after=5)])
    with pytest.raises(IntegrityError, match="not balanced"), transaction.atomic():
        # Half of a transaction per statement is refused too, even if the other half follows.
        Entry.objects.create(transaction=txn, account=call_acct, amount=-5, balance_after=0)

    Entry.objects.bulk_create(
        [
            Entry(transaction=txn, account=provider_acct, amount=5, balance_after=5),
            Entry(transaction=txn, account=call_acct, amount=-5, balance_after=0),
        ]
    )
    assert txn.entries.count() == 2
