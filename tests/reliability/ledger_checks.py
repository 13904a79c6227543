"""What "the money is right" means after a fault: checked from the ledger's entries."""

from compute import ledger
from compute.models import Account, Allocation, Application, AppStatus, Transaction, TransactionKind


def assert_ledger_consistent():
    """Every transaction balanced, every balance equal to the sum of its entries, none negative."""
    assert not ledger.unbalanced_transactions().exists()
    for account in Account.objects.all():
        assert account.balance == ledger.balance_from_entries(account), account
        if account.kind in ("call_budget", "allocation"):
            assert account.balance >= 0, account


def assert_one_grant_per_approval():
    """Each approved application has exactly one allocation and one grant transaction; no other has any."""
    approved = set(Application.objects.filter(status=AppStatus.APPROVED).values_list("pk", flat=True))
    allocations = list(Allocation.objects.values_list("application_id", flat=True))
    assert sorted(allocations) == sorted(approved)
    grants = list(Transaction.objects.filter(kind=TransactionKind.GRANT).values_list("idempotency_key", flat=True))
    assert sorted(grants) == sorted(f"grant:{pk}" for pk in approved)
