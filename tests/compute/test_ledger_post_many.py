"""``ledger.post_many``: many transactions with one lock of their accounts, all or nothing."""

import pytest

from compute import ledger
from compute.models import Entry, Transaction, TransactionKind
from tests.factories import HubFactory

from .usage_factories import assert_ledger_consistent, make_allocation, make_call

pytestmark = pytest.mark.django_db


@pytest.fixture
def accounts():
    call = make_call(hub=HubFactory(), budget=1_000)
    first, second = (ledger.allocation_account(make_allocation(call=call, granted=100)) for _ in range(2))
    return ledger.call_account(call), first, second


def grant(key, source, target, amount):
    return ledger.Movement(
        TransactionKind.GRANT, key, [ledger.Posting(source, -amount), ledger.Posting(target, amount)]
    )


def test_a_sequence_is_posted_in_order_with_running_balances(accounts):
    budget, first, second = accounts
    left = budget.balance
    posted = ledger.post_many([grant("a", budget, first, 300), grant("b", budget, second, 200)])
    assert [created for _, created in posted] == [True, True]
    budget.refresh_from_db()
    assert budget.balance == left - 500
    entries = Entry.objects.filter(account=budget).order_by("-id")[:2]
    assert [e.balance_after for e in reversed(entries)] == [left - 300, left - 500]
    assert_ledger_consistent()


def test_a_movement_that_would_overdraw_writes_nothing_at_all(accounts):
    budget, first, second = accounts
    before = (Transaction.objects.count(), Entry.objects.count())
    left = budget.balance
    with pytest.raises(ledger.InsufficientFunds) as error:
        ledger.post_many(
            [grant("a", budget, first, left - 100), grant("b", budget, second, 50), grant("c", budget, first, 51)]
        )
    assert (error.value.needed, error.value.available) == (51, 50)
    assert (Transaction.objects.count(), Entry.objects.count()) == before
    budget.refresh_from_db()
    assert budget.balance == left


def test_a_key_posted_before_or_twice_in_the_list_changes_nothing(accounts):
    budget, first, second = accounts
    ((earlier, _),) = ledger.post_many([grant("a", budget, first, 10)])
    posted = ledger.post_many(
        [grant("a", budget, first, 10), grant("b", budget, second, 5), grant("b", budget, second, 5)]
    )
    assert [(txn.idempotency_key, created) for txn, created in posted] == [("a", False), ("b", True), ("b", False)]
    assert posted[0][0] == earlier
    assert posted[1][0] == posted[2][0]
    second.refresh_from_db()
    assert second.balance == 100 + 5
    assert_ledger_consistent()
