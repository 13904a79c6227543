"""Ledger invariants under random sequences of funding, grants, usage, expiry and adjustments.

Each example runs in its own rolled-back transaction (hypothesis' Django TestCase). Next to
the database a tiny model of the balances predicts every outcome: a grant or adjustment must
fail exactly when the model says the money is not there, and the ledger must end exactly
where the model does. Afterwards every transaction sums to zero, every balance equals the sum
of its entries, and no call budget or allocation is below zero.
"""

from django.db import transaction
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from compute import ledger
from compute.ledger import InsufficientFunds
from compute.models import Account, AccountKind, AllocationStatus, UsageRecord
from compute.usage import UsageRejected, allocation_expire, ledger_adjust, usage_cost, usage_ingest
from tests.factories import HubFactory, UserFactory

from .usage_factories import (
    assert_ledger_consistent,
    fund_call,
    make_allocation,
    make_call,
    make_provider,
    make_resource,
    record,
)

RATES = (600, 1300)

operations = st.lists(
    st.one_of(
        st.tuples(st.just("fund"), st.integers(0, 1), st.integers(1, 60_000)),
        st.tuples(st.just("grant"), st.integers(0, 1), st.integers(1, 50_000)),
        # allocation slot, resource, GPU-seconds, job id (a small range, so jobs are re-sent)
        st.tuples(st.just("usage"), st.integers(0, 5), st.integers(0, 1), st.integers(1, 90_000), st.integers(0, 25)),
        st.tuples(st.just("expire"), st.integers(0, 5)),
        st.tuples(
            st.just("adjust"),
            st.sampled_from(["call_to_allocation", "allocation_to_call", "provider_to_allocation"]),
            st.integers(0, 5),
            st.integers(1, 30_000),
        ),
    ),
    max_size=25,
)


class LedgerPropertyTests(TestCase):
    @settings(max_examples=40, deadline=None)
    @given(operations)
    def test_random_operations_keep_the_ledger_balanced_and_never_negative(self, ops):
        hub = HubFactory()
        staff = UserFactory()
        provider = make_provider(hub=hub)
        resources = [make_resource(provider=provider, rate=rate) for rate in RATES]
        calls = [make_call(hub=hub, resources=resources, budget=0) for _ in range(2)]
        # The model: what every balance should be.
        budget = [0, 0]
        allocations = []  # [allocation, call index, balance, overage, active]
        provider_balance = 0
        charged_jobs = set()

        def slot(i):
            return allocations[i % len(allocations)] if allocations else None

        for step, op in enumerate(ops):
            kind = op[0]
            if kind == "fund":
                _, c, amount = op
                fund_call(calls[c], amount)
                budget[c] += amount
            elif kind == "grant":
                _, c, amount = op
                fits = budget[c] >= amount
                try:
                    with transaction.atomic():
                        allocation = make_allocation(call=calls[c], granted=amount)
                except InsufficientFunds:
                    assert not fits
                else:
                    assert fits
                    budget[c] -= amount
                    allocations.append([allocation, c, amount, 0, True])
            elif kind == "usage" and allocations:
                _, a, r, seconds, job = op
                state = slot(a)
                allocation, _, balance, _, active = state
                try:
                    result = usage_ingest(
                        provider=provider,
                        records=[record(resources[r], allocation, f"job-{job}", gpu_seconds=seconds)],
                        acting_label="property test",
                    )
                except UsageRejected:
                    assert not active
                    continue
                assert active
                if f"job-{job}" in charged_jobs:
                    assert (result.created, result.duplicates) == (0, 1)
                    continue
                charged_jobs.add(f"job-{job}")
                cost = usage_cost(seconds, RATES[r])
                from_allocation = min(cost, balance)
                state[2] -= from_allocation
                state[3] += cost - from_allocation
                provider_balance += cost
            elif kind == "expire" and allocations:
                state = slot(op[1])
                allocation, c, balance, _, active = state
                if active:
                    allocation_expire(allocation=allocation)
                    budget[c] += balance
                    state[2], state[4] = 0, False
            elif kind == "adjust" and allocations:
                _, direction, a, amount = op
                state = slot(a)
                allocation, c, balance, _, _ = state
                call_acct, alloc_acct = ledger.call_account(calls[c]), ledger.allocation_account(allocation)
                source, target, available = {
                    "call_to_allocation": (call_acct, alloc_acct, budget[c]),
                    "allocation_to_call": (alloc_acct, call_acct, balance),
                    "provider_to_allocation": (ledger.provider_account(provider), alloc_acct, None),
                }[direction]
                try:
                    ledger_adjust(
                        account_from=source,
                        account_to=target,
                        amount=amount,
                        reason=f"property test {direction}",
                        acting_user=staff,
                        idempotency_key=f"step-{step}",
                    )
                except InsufficientFunds:
                    assert available is not None
                    assert available < amount
                    continue
                assert available is None or available >= amount
                if direction == "call_to_allocation":
                    budget[c], state[2] = budget[c] - amount, balance + amount
                elif direction == "allocation_to_call":
                    budget[c], state[2] = budget[c] + amount, balance - amount
                else:
                    provider_balance, state[2] = provider_balance - amount, balance + amount

        assert_ledger_consistent()
        assert [ledger.call_account(call).balance for call in calls] == budget
        for allocation, _, balance, overage, active in allocations:
            assert ledger.allocation_account(allocation).balance == balance
            assert -ledger.overage_account(allocation).balance == overage
            allocation.refresh_from_db()
            assert (allocation.status == AllocationStatus.ACTIVE) == active
        assert ledger.provider_account(provider).balance == provider_balance
        assert UsageRecord.objects.filter(provider=provider).count() == len(charged_jobs)
        assert not Account.objects.filter(kind__in=[AccountKind.CALL_BUDGET, AccountKind.ALLOCATION], balance__lt=0)
