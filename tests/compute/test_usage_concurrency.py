"""Usage posted in parallel against one allocation (PostgreSQL: real row locks, real races)."""

import threading

import pytest
from django.db import connection
from django.db.models import Sum

from compute import ledger
from compute.models import Transaction, TransactionKind, UsageRecord
from compute.usage import allocation_balance, allocation_overage, usage_cost, usage_ingest
from hubs.models import Notification
from tests.services import require

from .usage_factories import assert_ledger_consistent, make_provider, make_resource, record, usage_setup

THREADS = 12
OWN_JOBS = 15  # per thread
SHARED_JOBS = 10  # re-sent by every thread
RATE = 1300


def _seconds(job_id: str) -> int:
    return 600 + 37 * (sum(map(ord, job_id)) % 97)


@pytest.mark.django_db(transaction=True)
def test_parallel_usage_charges_each_job_once_and_never_overdraws_the_allocation():
    require(connection.vendor == "postgresql", "PostgreSQL")
    provider, resource, call, allocation = usage_setup(rate=RATE, granted=200_000)
    # A second provider reports on the same allocation: its batches do not queue behind the
    # first provider's account lock, only behind the allocation's.
    other = make_provider(hub=provider.hub)
    other_resource = make_resource(provider=other, rate=RATE)
    call.eligible_resources.add(other_resource)
    senders = [(provider, resource), (other, other_resource)]

    shared = [f"shared-{i}" for i in range(SHARED_JOBS)]  # re-sent by every thread of a provider
    batches = [[f"t{t}-job-{i}" for i in range(OWN_JOBS)] + shared for t in range(THREADS)]
    distinct = {(t % 2, job) for t, batch in enumerate(batches) for job in batch}
    expected_cost = sum(usage_cost(_seconds(job), RATE) for _, job in distinct)
    assert expected_cost > 200_000  # the allocation runs out on the way: overage is exercised

    barrier = threading.Barrier(THREADS)
    results, errors = [], []

    def post(t, batch):
        sender, sender_resource = senders[t % 2]
        try:
            barrier.wait()
            jobs = list(reversed(batch)) if t % 4 >= 2 else batch
            records = [record(sender_resource, allocation, job, gpu_seconds=_seconds(job)) for job in jobs]
            # Two half-batches per thread: more interleaving.
            for half in (records[: len(records) // 2], records[len(records) // 2 :]):
                results.append(usage_ingest(provider=sender, records=half, acting_label=f"thread {t}"))
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(t, batch)) for t, batch in enumerate(batches)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert sum(r.created for r in results) == len(distinct)
    assert sum(r.duplicates for r in results) == THREADS * SHARED_JOBS - 2 * SHARED_JOBS
    assert UsageRecord.objects.count() == len(distinct)
    assert sum(r.millicredits for r in results) == expected_cost
    assert allocation_balance(allocation) == 0
    assert allocation_overage(allocation) == expected_cost - 200_000
    assert ledger.provider_account(provider).balance + ledger.provider_account(other).balance == expected_cost
    # One usage transaction per batch that charged something (one allocation here); each charges
    # exactly its records' total to the provider.
    usage_txns = Transaction.objects.filter(kind=TransactionKind.USAGE)
    assert usage_txns.count() == sum(1 for r in results if r.created)
    for txn in usage_txns.annotate(charged=Sum("usage_records__millicredits")):
        assert txn.entries.filter(amount__gt=0).get().amount == txn.charged
    assert_ledger_consistent()
    # The thresholds were crossed under contention and still notified exactly once.
    assert Notification.objects.filter(kind="allocation_used_100").count() == 1
    allocation.refresh_from_db()
    assert allocation.notified_100_at is not None
    assert allocation.provider_notified_at is not None
