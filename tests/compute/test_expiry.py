"""Allocation expiry: unused credits go back to the call budget, once."""

import datetime as dt

import pytest
from django.utils import timezone

from compute import ledger
from compute.models import AllocationStatus, Transaction, TransactionKind
from compute.tasks import expire_allocations
from compute.usage import UsageRejected, allocation_balance, allocation_expire, allocations_expire_due, usage_ingest
from gigafactory.errors import InvalidTransition
from gigafactory.models import AuditEvent
from hubs.models import Notification

from ..factories import UserFactory
from .usage_factories import assert_ledger_consistent, make_allocation, record, usage_setup

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 6, 1)


def ended_allocation(**kwargs):
    """An allocation of 10 credits that ended yesterday, with 3 credits used."""
    provider, resource, call, allocation = usage_setup(granted=10_000, **kwargs)
    usage_ingest(
        provider=provider, records=[record(resource, allocation, "job", gpu_seconds=3 * 3600)], acting_label="test"
    )
    allocation.starts_on, allocation.ends_on = TODAY - dt.timedelta(days=90), TODAY - dt.timedelta(days=1)
    allocation.save(update_fields=["starts_on", "ends_on"])
    return provider, resource, call, allocation


def test_expiry_returns_the_unused_credits_to_the_call_budget():
    colleague = UserFactory()
    _, _, call, allocation = ended_allocation(members=[colleague])
    budget = ledger.call_account(call).balance

    assert allocations_expire_due(today=TODAY) == 1

    allocation.refresh_from_db()
    assert allocation.status == AllocationStatus.EXPIRED
    assert allocation_balance(allocation) == 0
    assert ledger.call_account(call).balance == budget + 7000
    txn = Transaction.objects.get(idempotency_key=f"expiry:{allocation.pk}")
    assert txn.kind == TransactionKind.EXPIRY
    assert sorted(txn.entries.values_list("amount", flat=True)) == [-7000, 7000]
    event = AuditEvent.objects.get(action="expired", object_id=str(allocation.pk))
    assert event.after == {"status": "expired", "returned_millicredits": 7000}
    assert event.actor is None
    notified = set(Notification.objects.filter(kind="allocation_expired").values_list("user", flat=True))
    assert notified == {allocation.project.pi_id, colleague.pk}
    assert_ledger_consistent()


def test_a_second_run_changes_nothing():
    _, _, call, _ = ended_allocation()
    allocations_expire_due(today=TODAY)
    counts = (Transaction.objects.count(), AuditEvent.objects.count(), Notification.objects.count())
    budget = ledger.call_account(call).balance

    assert allocations_expire_due(today=TODAY) == 0

    assert (Transaction.objects.count(), AuditEvent.objects.count(), Notification.objects.count()) == counts
    assert ledger.call_account(call).balance == budget


def test_allocations_ending_today_or_later_stay_active():
    _, _, call, allocation = ended_allocation()
    allocation.ends_on = TODAY
    allocation.save(update_fields=["ends_on"])
    later = make_allocation(
        call=call, granted=500, starts_on=TODAY - dt.timedelta(days=30), ends_on=TODAY + dt.timedelta(days=30)
    )

    assert allocations_expire_due(today=TODAY) == 0

    allocation.refresh_from_db()
    later.refresh_from_db()
    assert allocation.status == later.status == AllocationStatus.ACTIVE


def test_a_fully_used_allocation_expires_without_a_ledger_transaction():
    provider, resource, call, allocation = usage_setup(granted=1000)
    usage_ingest(
        provider=provider, records=[record(resource, allocation, "all", gpu_seconds=7200)], acting_label="test"
    )
    budget = ledger.call_account(call).balance

    allocation_expire(allocation=allocation)

    allocation.refresh_from_db()
    assert allocation.status == AllocationStatus.EXPIRED
    assert not Transaction.objects.filter(kind=TransactionKind.EXPIRY).exists()
    assert ledger.call_account(call).balance == budget
    assert ledger.overage_account(allocation).balance == -1000  # overage is not forgiven by expiry


def test_expiring_an_expired_allocation_is_refused(staff):
    _, _, _, allocation = ended_allocation()
    allocation_expire(allocation=allocation, acting_user=staff)

    with pytest.raises(InvalidTransition):
        allocation_expire(allocation=allocation, acting_user=staff)

    assert Transaction.objects.filter(kind=TransactionKind.EXPIRY).count() == 1
    assert AuditEvent.objects.get(action="expired").actor == staff


def test_usage_for_an_expired_allocation_is_refused():
    provider, resource, _, allocation = ended_allocation()
    allocations_expire_due(today=TODAY)

    with pytest.raises(UsageRejected) as caught:
        usage_ingest(provider=provider, records=[record(resource, allocation, "late")], acting_label="test")

    assert caught.value.errors[0]["message"] == "The allocation is expired."


def test_the_daily_task_expires_due_allocations(monkeypatch):
    _, _, _, allocation = ended_allocation()
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: TODAY)

    assert expire_allocations.delay().get() == 1

    allocation.refresh_from_db()
    assert allocation.status == AllocationStatus.EXPIRED
