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

from dataclasses import dataclass, replace

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


@dataclass(frozen=True)
class Movement:
    """One transaction to post: its entries (``postings``) must sum to zero."""

    kind: str
    idempotency_key: str
    postings: list[Posting]
    memo: str = ""
    created_by: object = None


@transaction.atomic
def post(
    *, kind: str, idempotency_key: str, postings: list[Posting], memo: str = "", created_by=None
) -> tuple[Transaction, bool]:
    """Write one balanced transaction. Returns ``(transaction, created)``.

    Raises ``InsufficientFunds`` (and writes nothing) if a guarded account would go below zero.
    """
    return post_many([Movement(kind, idempotency_key, postings, memo, created_by)])[0]


@transaction.atomic
def post_many(movements: list[Movement]) -> list[tuple[Transaction, bool]]:
    """Write balanced transactions in order, with one lock of their accounts and a few statements.

    Returns ``(transaction, created)`` for each. A key already posted (or repeated in the list)
    returns the first transaction and changes nothing. Raises ``InsufficientFunds`` (and writes
    nothing at all) if a guarded account would go below zero at any point of the sequence.
    """
    movements = [replace(m, postings=[p for p in m.postings if p.amount != 0]) for m in movements]
    for m in movements:
        if not m.postings:
            raise LedgerError("A transaction needs at least one non-zero entry.")
        if sum(p.amount for p in m.postings) != 0:
            raise LedgerError("Entries must sum to zero.")
    ids = sorted({p.account.pk for m in movements for p in m.postings})
    locked = {a.pk: a for a in Account.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
    # Checked after the locks: a concurrent post with the same key has committed by now.
    found = {
        t.idempotency_key: t
        for t in Transaction.objects.filter(idempotency_key__in={m.idempotency_key for m in movements})
    }
    running = {pk: locked[pk].balance for pk in ids}
    plan, entries = [], []  # plan: (transaction, created) for each movement, in order
    for m in movements:
        if m.idempotency_key in found:  # posted before, or earlier in this list
            plan.append((found[m.idempotency_key], False))
            continue
        change: dict[int, int] = {}
        for p in m.postings:
            change[p.account.pk] = change.get(p.account.pk, 0) + p.amount
        for pk, delta in change.items():
            account = locked[pk]
            if account.kind in GUARDED_KINDS and running[pk] + delta < 0:
                raise InsufficientFunds(account, -delta, running[pk])
        txn = Transaction(kind=m.kind, idempotency_key=m.idempotency_key, memo=m.memo[:300], created_by=m.created_by)
        found[m.idempotency_key] = txn
        plan.append((txn, True))
        for p in m.postings:
            running[p.account.pk] += p.amount
            entries.append(
                Entry(transaction=txn, account_id=p.account.pk, amount=p.amount, balance_after=running[p.account.pk])
            )
    Transaction.objects.bulk_create([txn for txn, created in plan if created])
    for entry in entries:
        entry.transaction_id = entry.transaction.pk
    Entry.objects.bulk_create(entries)
    moved = [locked[pk] for pk in ids if running[pk] != locked[pk].balance]
    if len(moved) == 1:  # the common case: one statement, relative to the locked row
        Account.objects.filter(pk=moved[0].pk).update(balance=F("balance") + running[moved[0].pk] - moved[0].balance)
    for account in moved:
        account.balance = running[account.pk]
    if len(moved) > 1:
        Account.objects.bulk_update(moved, ["balance"])
    for m in movements:
        for p in m.postings:
            p.account.balance = running[p.account.pk]
    return plan


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
