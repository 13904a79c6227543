"""The double-entry credit ledger.

Every movement of credits is one ``Transaction`` whose ``Entry`` rows sum to zero. Each
account keeps a ``balance`` column that the same database transaction updates, so it always
equals the sum of its entries; call budgets and allocations are guarded by a check
constraint, so they cannot go below zero even when many approvals or usage reports race.

Concurrency: ``post`` locks the accounts it touches with SELECT ... FOR UPDATE in primary-key
order (a fixed order, so two posts never deadlock), then checks balances, then writes. The
idempotency key is unique: posting the same key twice returns the first transaction and
changes nothing.
"""

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F, Sum

from .models import GUARDED_KINDS, Account, AccountKind, Entry, Transaction


class LedgerError(Exception):
    pass


class InsufficientFunds(LedgerError):
    def __init__(self, account: Account, needed: int, available: int):
        self.account = account
        self.needed = needed
        self.available = available
        from .models import credits

        super().__init__(f"Not enough credits in {account}: {credits(needed)} needed, {credits(available)} available.")


@dataclass(frozen=True)
class Posting:
    account: Account
    amount: int


# --- Accounts -------------------------------------------------------------------------------


def _account(kind, **owner) -> Account:
    account = Account.objects.filter(kind=kind, **owner).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            return Account.objects.create(kind=kind, **owner)
    except IntegrityError:
        return Account.objects.get(kind=kind, **owner)


def funding_account(funding_source) -> Account:
    return _account(AccountKind.FUNDING, funding_source=funding_source)


def call_account(call) -> Account:
    return _account(AccountKind.CALL_BUDGET, call=call)


def allocation_account(allocation) -> Account:
    return _account(AccountKind.ALLOCATION, allocation=allocation)


def overage_account(allocation) -> Account:
    return _account(AccountKind.OVERAGE, allocation=allocation)


def provider_account(provider) -> Account:
    return _account(AccountKind.PROVIDER, provider=provider)


# --- Posting --------------------------------------------------------------------------------


def existing(idempotency_key: str) -> Transaction | None:
    return Transaction.objects.filter(idempotency_key=idempotency_key).first()


@transaction.atomic
def post(
    *, kind: str, idempotency_key: str, postings: list[Posting], memo: str = "", created_by=None
) -> tuple[Transaction, bool]:
    """Write one balanced transaction. Returns ``(transaction, created)``.

    Raises ``InsufficientFunds`` (and writes nothing) if a guarded account would go below zero.
    """
    postings = [p for p in postings if p.amount != 0]
    if not postings:
        raise LedgerError("A transaction needs at least one non-zero entry.")
    if sum(p.amount for p in postings) != 0:
        raise LedgerError("Entries must sum to zero.")
    ids = sorted({p.account.pk for p in postings})
    locked = {a.pk: a for a in Account.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
    # Checked after the locks: a concurrent post with the same key has committed by now.
    found = existing(idempotency_key)
    if found is not None:
        return found, False
    change: dict[int, int] = {}
    for p in postings:
        change[p.account.pk] = change.get(p.account.pk, 0) + p.amount
    for pk, delta in change.items():
        account = locked[pk]
        if account.kind in GUARDED_KINDS and account.balance + delta < 0:
            raise InsufficientFunds(account, -delta, account.balance)
    txn = Transaction.objects.create(kind=kind, idempotency_key=idempotency_key, memo=memo[:300], created_by=created_by)
    running = {pk: locked[pk].balance for pk in ids}
    entries = []
    for p in postings:
        running[p.account.pk] += p.amount
        entries.append(
            Entry(transaction=txn, account_id=p.account.pk, amount=p.amount, balance_after=running[p.account.pk])
        )
    Entry.objects.bulk_create(entries)
    for pk, delta in change.items():
        Account.objects.filter(pk=pk).update(balance=F("balance") + delta)
        locked[pk].balance += delta
    for p in postings:
        p.account.balance = locked[p.account.pk].balance
    return txn, True


def transfer(*, kind, idempotency_key, source: Account, target: Account, amount: int, memo="", created_by=None):
    """Move ``amount`` millicredits from ``source`` to ``target``."""
    if amount <= 0:
        raise LedgerError("A transfer moves a positive amount.")
    return post(
        kind=kind,
        idempotency_key=idempotency_key,
        postings=[Posting(source, -amount), Posting(target, amount)],
        memo=memo,
        created_by=created_by,
    )


# --- Reading --------------------------------------------------------------------------------


def balance_from_entries(account: Account) -> int:
    return account.entries.aggregate(total=Sum("amount"))["total"] or 0


def statement(account: Account):
    """Entries of ``account``, oldest first, with their transactions."""
    return account.entries.select_related("transaction").order_by("id")


def unbalanced_transactions():
    """Transactions whose entries do not sum to zero (there should never be any)."""
    return Transaction.objects.annotate(total=Sum("entries__amount")).exclude(total=0).exclude(total__isnull=True)
