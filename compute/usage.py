"""GPU usage: bulk ingest from providers, threshold notices, expiry and staff adjustments.

Money moves only through the ledger. The new records of a batch are charged with one
``Transaction`` (kind ``usage``) per allocation: it debits the allocation account up to its
balance, debits the allocation's overage account for the rest, and credits the provider account
with the records' total; so an allocation never goes below zero and every transaction sums to
zero. Each record keeps its own cost (``millicredits``) and points at the transaction that
charged it; a job is charged once because ``(provider, external_id)`` is unique.

Concurrency: ``usage_ingest`` locks the provider account and the allocation and overage
accounts it touches with one SELECT ... FOR UPDATE in primary-key order (the order
``compute.ledger.post`` uses too, so the two never deadlock). Every ingest of a provider
locks that provider's account, so two batches from the same provider run one after the
other: the "already received?" check made after the lock sees every record committed before,
and a re-sent job id is counted as a duplicate, never charged twice. The unique constraints
on ``(provider, external_id)`` and on the transaction's idempotency key back this up.
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from functools import partial

from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, Sum
from django.urls import NoReverseMatch
from django.utils import timezone

from gigafactory.audit import audit_record
from gigafactory.errors import InvalidTransition
from gigafactory.events import emit
from hubs.models import STAFF_ROLES, MembershipStatus, User

from . import ledger
from .models import (
    Account,
    AccountKind,
    Allocation,
    AllocationStatus,
    Call,
    ComputeProvider,
    ComputeResource,
    Entry,
    Transaction,
    TransactionKind,
    UsageRecord,
    credits,
)

MAX_RECORDS = 10_000
MAX_GPU_SECONDS = 10**12
SECONDS_PER_HOUR = 3600
EXTERNAL_ID_MAX = UsageRecord._meta.get_field("external_id").max_length
USER_LABEL_MAX = UsageRecord._meta.get_field("user_label").max_length


def usage_cost(gpu_seconds: int, rate_millicredits: int) -> int:
    """Millicredits for ``gpu_seconds`` at ``rate_millicredits`` per GPU-hour, rounded up."""
    return -(-gpu_seconds * rate_millicredits // SECONDS_PER_HOUR)


# --- Ingest ---------------------------------------------------------------------------------


class UsageRejected(ValidationError):
    """A batch with invalid records; nothing was written.

    ``errors`` lists ``{"index": i, "field": name, "message": text}``, one per problem, where
    ``index`` is the record's position in the batch (``None`` for the batch as a whole).
    """

    def __init__(self, errors: list[dict]):
        self.errors = errors
        super().__init__(
            [
                f"record {e['index']}: {e['field']}: {e['message']}" if e["index"] is not None else e["message"]
                for e in errors
            ]
        )


@dataclass
class IngestResult:
    created: int = 0
    duplicates: int = 0
    millicredits: int = 0  # charged for the new records
    overage_millicredits: int = 0  # part of it beyond the allocations' balances
    allocation_ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "created": self.created,
            "duplicates": self.duplicates,
            "millicredits": self.millicredits,
            "overage_millicredits": self.overage_millicredits,
        }


@dataclass(slots=True)
class _Row:
    index: int
    resource_id: int
    allocation_id: int
    external_id: str
    user_label: str
    gpu_seconds: int
    started_at: datetime
    ended_at: datetime


MAX_ID = 2**63 - 1  # PostgreSQL's bigint


def _as_id(value):
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 < value <= MAX_ID else None


def _as_datetime(value):
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def _as_gpu_seconds(record: dict) -> tuple[int | None, str, str]:
    """``(seconds, field, error)``: GPU-seconds from ``gpu_seconds`` or ``gpu_hours``."""
    has_hours = record.get("gpu_hours") not in (None, "")
    has_seconds = record.get("gpu_seconds") not in (None, "")
    if has_hours == has_seconds:
        return None, "gpu_hours", "Give either gpu_hours or gpu_seconds, not both or neither."
    if has_seconds:
        value = record["gpu_seconds"]
        if isinstance(value, str) and value.isascii() and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            return None, "gpu_seconds", "Must be a whole number of GPU-seconds."
        seconds, name = value, "gpu_seconds"
    else:
        value = record["gpu_hours"]
        if isinstance(value, bool):
            return None, "gpu_hours", "Must be a number."
        try:
            hours = Decimal(str(value).strip())
        except InvalidOperation:
            return None, "gpu_hours", "Must be a number."
        if not hours.is_finite():
            return None, "gpu_hours", "Must be a finite number."
        if hours <= 0:
            return None, "gpu_hours", "Must be more than zero."
        seconds = int((hours * SECONDS_PER_HOUR).to_integral_value(rounding=ROUND_CEILING))
        name = "gpu_hours"
    if seconds <= 0:
        return None, name, "Must be more than zero."
    if seconds > MAX_GPU_SECONDS:
        return None, name, "Too large."
    return seconds, name, ""


def _parse(records) -> tuple[list[_Row], list[dict]]:
    """Check the shape of every record (no database); returns the rows and the errors."""
    rows, errors = [], []
    seen: dict[str, int] = {}

    def bad(i, name, message):
        errors.append({"index": i, "field": name, "message": message})

    for i, record in enumerate(records):
        if not isinstance(record, dict):
            bad(i, "record", "Must be an object.")
            continue
        n_errors = len(errors)
        resource_id = _as_id(record.get("resource"))
        if resource_id is None:
            bad(i, "resource", "Give the id of one of your resources.")
        allocation_id = _as_id(record.get("allocation"))
        if allocation_id is None:
            bad(i, "allocation", "Give the id of an allocation.")
        external_id = record.get("external_id")
        if isinstance(external_id, bool) or not isinstance(external_id, (str, int)):
            external_id = ""
        external_id = str(external_id).strip()
        if not external_id:
            bad(i, "external_id", "Give the job id.")
        elif len(external_id) > EXTERNAL_ID_MAX:
            bad(i, "external_id", f"At most {EXTERNAL_ID_MAX} characters.")
        elif external_id in seen:
            bad(i, "external_id", f"Job id {external_id!r} appears twice in this batch (first at {seen[external_id]}).")
        else:
            seen[external_id] = i
        user_label = record.get("user") or ""
        if not isinstance(user_label, str):
            bad(i, "user", "Must be text.")
        elif len(user_label) > USER_LABEL_MAX:
            bad(i, "user", f"At most {USER_LABEL_MAX} characters.")
        seconds, amount_field, message = _as_gpu_seconds(record)
        if message:
            bad(i, amount_field, message)
        started_at = _as_datetime(record.get("start"))
        if started_at is None:
            bad(i, "start", "Give an ISO 8601 date and time.")
        ended_at = _as_datetime(record.get("end"))
        if ended_at is None:
            bad(i, "end", "Give an ISO 8601 date and time.")
        if started_at is not None and ended_at is not None and ended_at < started_at:
            bad(i, "end", "The job ends before it starts.")
        if len(errors) == n_errors:
            rows.append(_Row(i, resource_id, allocation_id, external_id, user_label, seconds, started_at, ended_at))
    return rows, errors


def _check_references(provider, rows: list[_Row]):
    """Resources must be this provider's; allocations active and eligible for the resource."""
    resources = {
        r.pk: r
        for r in ComputeResource.objects.filter(provider=provider, pk__in_array=list({r.resource_id for r in rows}))
    }
    allocations = {
        pk: (status, call_id)
        for pk, status, call_id in Allocation.objects.filter(
            pk__in_array=list({r.allocation_id for r in rows})
        ).values_list("pk", "status", "call_id")
    }
    eligible = set(
        Call.eligible_resources.through.objects.filter(
            call_id__in_array=list({call_id for _, call_id in allocations.values()}),
            computeresource_id__in_array=list(resources),
        ).values_list("call_id", "computeresource_id")
    )
    errors = []
    for row in rows:
        resource = resources.get(row.resource_id)
        status, call_id = allocations.get(row.allocation_id, (None, None))
        if resource is None:
            errors.append({"index": row.index, "field": "resource", "message": "Not one of this provider's resources."})
        if status is None:
            errors.append({"index": row.index, "field": "allocation", "message": "No such allocation."})
        elif status != AllocationStatus.ACTIVE:
            errors.append({"index": row.index, "field": "allocation", "message": f"The allocation is {status}."})
        elif resource is not None and (call_id, resource.pk) not in eligible:
            errors.append(
                {
                    "index": row.index,
                    "field": "allocation",
                    "message": f"The allocation's call does not include the resource {resource.name}.",
                }
            )
    return resources, errors


@dataclass(slots=True)
class _Accounts:
    """The ledger accounts an ingest has locked: ``locked`` their balances by id, then the
    provider's account and each allocation's allocation and overage accounts."""

    locked: dict[int, int]
    provider: int
    allocation: dict[int, int]
    overage: dict[int, int]


def _lock_accounts(provider, allocation_ids) -> _Accounts:
    """Lock the provider's account and each allocation's allocation and overage accounts (in
    primary-key order, as every posting does), creating those still missing (ids and balances
    only: no model instances for thousands of rows)."""
    provider_pk = ledger.provider_account(provider).pk
    kinds = [AccountKind.ALLOCATION, AccountKind.OVERAGE]

    def lock():
        return list(
            Account.objects.select_for_update()
            .filter(Q(pk=provider_pk) | Q(allocation_id__in_array=allocation_ids, kind__in=kinds))
            .order_by("pk")
            .values_list("pk", "allocation_id", "kind", "balance")
        )

    rows = lock()
    found = {(allocation_id, kind) for _, allocation_id, kind, _ in rows}
    missing = [
        Account(kind=kind, allocation_id=aid) for aid in allocation_ids for kind in kinds if (aid, kind) not in found
    ]
    if missing:
        # A concurrent ingest may create the same accounts: the unique constraint keeps one.
        Account.objects.bulk_create(missing, ignore_conflicts=True)
        rows = lock()
    ids = {(allocation_id, kind): pk for pk, allocation_id, kind, _ in rows}
    return _Accounts(
        locked={pk: balance for pk, _, _, balance in rows},
        provider=provider_pk,
        allocation={aid: ids[(aid, AccountKind.ALLOCATION)] for aid in allocation_ids},
        overage={aid: ids[(aid, AccountKind.OVERAGE)] for aid in allocation_ids},
    )


def known_external_ids(provider, external_ids) -> set[str]:
    """The job ids among ``external_ids`` this provider has already reported."""
    ids = list(external_ids)
    if connection.vendor == "postgresql":
        # One array parameter instead of 10,000 placeholders.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT external_id FROM compute_usagerecord WHERE provider_id = %s AND external_id = ANY(%s::text[])",
                [provider.pk, ids],
            )
            return {external_id for (external_id,) in cursor.fetchall()}
    found = set()
    for start in range(0, len(ids), 500):
        found.update(
            UsageRecord.objects.filter(provider=provider, external_id__in=ids[start : start + 500]).values_list(
                "external_id", flat=True
            )
        )
    return found


def usage_ingest(*, provider: ComputeProvider, records: list[dict], acting_label: str) -> IngestResult:
    """Record a batch of at most 10,000 usage records reported by ``provider``.

    Each record: ``resource`` (id), ``allocation`` (id), ``external_id`` (the job id), ``user``
    (optional label), ``gpu_hours`` or ``gpu_seconds``, ``start`` and ``end`` (ISO 8601).
    Raises ``UsageRejected`` listing every bad record if any is invalid; then nothing is written.
    Records whose job id this provider has sent before are counted as duplicates and change
    nothing.
    """
    records = list(records)
    if len(records) > MAX_RECORDS:
        raise UsageRejected(
            [{"index": None, "field": "records", "message": f"At most {MAX_RECORDS:,} records per batch."}]
        )
    if not records:
        return IngestResult()
    rows, errors = _parse(records)
    resources, ref_errors = _check_references(provider, rows)
    errors += ref_errors
    if errors:
        raise UsageRejected(sorted(errors, key=lambda e: e["index"]))

    allocation_ids = sorted({r.allocation_id for r in rows})
    with transaction.atomic():
        accounts = _lock_accounts(provider, allocation_ids)
        # Re-read after the lock: an allocation that expired meanwhile takes no more usage
        # (allocation_expire holds the same lock while it returns the balance). The same read
        # gives the threshold notices already sent.
        allocations = {
            row["pk"]: row
            for row in Allocation.objects.filter(pk__in_array=allocation_ids).values("pk", "status", *_THRESHOLD_FIELDS)
        }
        closed = {pk: row["status"] for pk, row in allocations.items() if row["status"] != AllocationStatus.ACTIVE}
        if closed:
            raise UsageRejected(
                [
                    {
                        "index": r.index,
                        "field": "allocation",
                        "message": f"The allocation is {closed[r.allocation_id]}.",
                    }
                    for r in rows
                    if r.allocation_id in closed
                ]
            )
        charged = None
        if connection.vendor == "postgresql":
            # Almost every batch is all new jobs, so write it as if it were, in a savepoint,
            # rather than first look up 10,000 job ids (33 ms of the 480 ms a batch took
            # in-process). A job id this provider reported before trips ``usage_once_per_provider_job``
            # (or, as the first job of an allocation, the idempotency key of its transaction);
            # then the savepoint is rolled back and the batch written again without them.
            try:
                with transaction.atomic():
                    charged = _charge(provider, rows, resources, accounts)
            except IntegrityError as exc:
                if getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) not in REPEAT_CONSTRAINTS:
                    raise
        if charged is None:
            known = known_external_ids(provider, (r.external_id for r in rows))
            new_rows = [r for r in rows if r.external_id not in known]
            if not new_rows:
                return IngestResult(duplicates=len(rows), allocation_ids=allocation_ids)
            charged = _charge(provider, new_rows, resources, accounts)
        new_rows, balance = charged.rows, charged.balance
        result = IngestResult(
            created=len(new_rows),
            duplicates=len(rows) - len(new_rows),
            millicredits=charged.millicredits,
            overage_millicredits=charged.overage_millicredits,
            allocation_ids=allocation_ids,
        )
        audit_record(
            provider,
            "usage_ingested",
            actor_label=acting_label,
            after=result.as_dict() | {"records": len(rows)},
        )
        usage_thresholds_check(
            allocation_ids=charged.allocation_ids,
            allocations=allocations,
            balances={
                (aid, kind): balance[pk]
                for aid in charged.allocation_ids
                for kind, pk in (
                    (AccountKind.ALLOCATION, accounts.allocation[aid]),
                    (AccountKind.OVERAGE, accounts.overage[aid]),
                )
            },
        )
    return result


# A job id reported again: the record's unique constraint, or the key of the transaction that a
# batch names after its first job on an allocation.
REPEAT_CONSTRAINTS = {"usage_once_per_provider_job", "transaction_idempotency_key_unique"}


@dataclass(slots=True)
class _Charged:
    rows: list[_Row]
    balance: dict[int, int]
    allocation_ids: list[int]
    millicredits: int = 0
    overage_millicredits: int = 0


def _charge(provider, rows: list[_Row], resources: dict[int, ComputeResource], accounts: _Accounts) -> _Charged:
    """Write ``rows`` (new jobs) and their ledger transactions, and the accounts' new balances.

    Everything is computed here, in Python, against the locked balances; then written with
    one INSERT per table: one transaction per allocation, its records pointing at it.
    """
    balance = dict(accounts.locked)
    batch = _Batch()
    per_allocation: dict[int, list[tuple[_Row, int]]] = {}
    for row in rows:
        cost = usage_cost(row.gpu_seconds, resources[row.resource_id].rate_millicredits)
        per_allocation.setdefault(row.allocation_id, []).append((row, cost))
    charged = _Charged(rows, balance, list(per_allocation))
    provider_pk = accounts.provider
    for allocation_id, jobs in per_allocation.items():
        n = len(batch.keys)
        alloc_pk = accounts.allocation[allocation_id]
        total = sum(cost for _, cost in jobs)
        from_allocation = min(total, balance[alloc_pk])
        rest = total - from_allocation
        if from_allocation:
            balance[alloc_pk] -= from_allocation
            batch.entry(n, alloc_pk, -from_allocation, balance[alloc_pk])
        if rest:
            over_pk = accounts.overage[allocation_id]
            balance[over_pk] -= rest
            batch.entry(n, over_pk, -rest, balance[over_pk])
        balance[provider_pk] += total
        batch.entry(n, provider_pk, total, balance[provider_pk])
        first = jobs[0][0]
        # The first new job id names the transaction: it was never charged, so the key is new.
        # The prefix keeps these keys apart from the per-job ones (``usage:<provider>:<job>``)
        # written before a batch shared one transaction per allocation.
        batch.keys.append(f"usage-batch:{provider.pk}:{allocation_id}:{first.external_id}")
        batch.memos.append(_usage_memo(jobs, resources)[:300])
        batch.allocations.append(allocation_id)
        batch.usage.extend((row, cost, n) for row, cost in jobs)
        charged.millicredits += total
        charged.overage_millicredits += rest

    if connection.vendor == "postgresql":
        _write_postgresql(provider, batch)
    else:
        _write_orm(provider, batch)
    _save_balances({pk: value for pk, value in balance.items() if value != accounts.locked[pk]})
    return charged


def _usage_memo(charged: list[tuple["_Row", int]], resources: dict[int, ComputeResource]) -> str:
    """``Job 4711 on A100 partition`` for one job; ``12 jobs (4711 to 4722) on ...`` for more."""
    names = ", ".join(sorted({resources[row.resource_id].name for row, _ in charged}))
    first, last = charged[0][0].external_id, charged[-1][0].external_id
    if len(charged) == 1:
        return f"Job {first} on {names}"
    return f"{len(charged):,} jobs ({first} to {last}) on {names}"


@dataclass
class _Batch:
    """Rows to write, as columns. Entry ``n`` belongs to transaction ``entry_txn[n]`` (an index
    into ``keys``)."""

    keys: list[str] = field(default_factory=list)
    memos: list[str] = field(default_factory=list)
    allocations: list[int] = field(default_factory=list)  # the allocation each transaction charges
    entry_txn: list[int] = field(default_factory=list)
    entry_account: list[int] = field(default_factory=list)
    entry_amount: list[int] = field(default_factory=list)
    entry_after: list[int] = field(default_factory=list)
    usage: list[tuple[_Row, int, int]] = field(default_factory=list)  # (row, cost, transaction index)

    def entry(self, txn: int, account: int, amount: int, after: int) -> None:
        self.entry_txn.append(txn)
        self.entry_account.append(account)
        self.entry_amount.append(amount)
        self.entry_after.append(after)


def _save_balances(balances: dict[int, int]) -> None:
    """Write the accounts' new balances (the rows are locked). On PostgreSQL one UPDATE joined to
    two arrays: ``bulk_update`` builds a CASE of 2,000 branches, which cost more Python time to
    build than the database took to run it."""
    if connection.vendor != "postgresql":
        Account.objects.bulk_update(
            [Account(pk=pk, balance=value) for pk, value in balances.items()], ["balance"], batch_size=500
        )
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE compute_account a SET balance = v.balance"
            " FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, balance) WHERE a.id = v.id",
            [list(balances), list(balances.values())],
        )


def _write_orm(provider, batch: _Batch) -> None:
    txns = Transaction.objects.bulk_create(
        [
            Transaction(kind=TransactionKind.USAGE, idempotency_key=k, memo=m, allocation_id=a)
            for k, m, a in zip(batch.keys, batch.memos, batch.allocations, strict=True)
        ]
    )
    Entry.objects.bulk_create(
        [
            Entry(transaction_id=txns[t].pk, account_id=a, amount=amount, balance_after=after)
            for t, a, amount, after in zip(
                batch.entry_txn, batch.entry_account, batch.entry_amount, batch.entry_after, strict=True
            )
        ]
    )
    UsageRecord.objects.bulk_create(
        [
            UsageRecord(
                provider_id=provider.pk,
                resource_id=row.resource_id,
                allocation_id=row.allocation_id,
                external_id=row.external_id,
                user_label=row.user_label,
                gpu_seconds=row.gpu_seconds,
                started_at=row.started_at,
                ended_at=row.ended_at,
                millicredits=cost,
                transaction_id=txns[t].pk,
            )
            for row, cost, t in batch.usage
        ]
    )


COPY_CHUNK = 1000
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: str) -> str:
    """A text value for COPY's text format (backslash, tab and line breaks escaped). Job ids
    and user names almost never hold one of these, and four substring tests cost far less than
    ``translate``, which looks up every character in the table."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_COPY_ESCAPES)
    return value


def _write_postgresql(provider, batch: _Batch) -> None:
    """The same rows as ``_write_orm``, loaded with COPY: no model instances and no SQL to
    parse. The rows go as COPY text built here (adapting 40,000 rows one value at a time took
    longer than the database took to store them). Transaction ids are
    taken from the table's sequence first so the entries and usage records can point at them.
    All entries go in one COPY, one statement, as the balance trigger requires. The records go
    in blocks of ``COPY_CHUNK``, so that PostgreSQL stores one block while the next is built.
    Errors come out as Django's (``IntegrityError`` for a repeated job id), as from ``execute``."""
    now = timezone.now().isoformat()
    with connection.wrap_database_errors, connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            ["compute_transaction", len(batch.keys)],
        )
        txn_ids = [pk for (pk,) in cursor.fetchall()]
        kind = TransactionKind.USAGE.value
        with cursor.copy(
            "COPY compute_transaction (id, kind, idempotency_key, memo, allocation_id, created_at) FROM STDIN"
        ) as copy:
            copy.write(
                "".join(
                    f"{pk}\t{kind}\t{_copy_text(key)}\t{_copy_text(memo)}\t{allocation}\t{now}\n"
                    for pk, key, memo, allocation in zip(
                        txn_ids, batch.keys, batch.memos, batch.allocations, strict=True
                    )
                )
            )
        with cursor.copy(
            "COPY compute_entry (transaction_id, account_id, amount, balance_after, created_at) FROM STDIN"
        ) as copy:
            copy.write(
                "".join(
                    f"{txn_ids[t]}\t{account}\t{amount}\t{after}\t{now}\n"
                    for t, account, amount, after in zip(
                        batch.entry_txn, batch.entry_account, batch.entry_amount, batch.entry_after, strict=True
                    )
                )
            )
        with cursor.copy(
            "COPY compute_usagerecord (provider_id, resource_id, allocation_id, external_id, user_label, gpu_seconds,"
            " started_at, ended_at, millicredits, transaction_id, created_at) FROM STDIN"
        ) as copy:
            for start in range(0, len(batch.usage), COPY_CHUNK):
                copy.write(
                    "".join(
                        f"{provider.pk}\t{row.resource_id}\t{row.allocation_id}\t{_copy_text(row.external_id)}\t"
                        f"{_copy_text(row.user_label)}\t{row.gpu_seconds}\t{row.started_at.isoformat()}\t"
                        f"{row.ended_at.isoformat()}\t{cost}\t{txn_ids[t]}\t{now}\n"
                        for row, cost, t in batch.usage[start : start + COPY_CHUNK]
                    )
                )


# --- Reading --------------------------------------------------------------------------------


def allocation_balance(allocation: Allocation) -> int:
    """Millicredits the allocation still has (its ledger account's balance, never below zero)."""
    return (
        Account.objects.filter(allocation=allocation, kind=AccountKind.ALLOCATION)
        .values_list("balance", flat=True)
        .first()
        or 0
    )


def allocation_overage(allocation: Allocation) -> int:
    """Millicredits used beyond the allocation's balance (positive)."""
    balance = (
        Account.objects.filter(allocation=allocation, kind=AccountKind.OVERAGE)
        .values_list("balance", flat=True)
        .first()
    )
    return -(balance or 0)


def _used_by_allocation(allocation_ids) -> dict[int, int]:
    rows = (
        Entry.objects.filter(
            account__allocation_id__in=allocation_ids,
            account__kind__in=[AccountKind.ALLOCATION, AccountKind.OVERAGE],
            transaction__kind=TransactionKind.USAGE,
        )
        .values_list("account__allocation_id")
        .annotate(total=Sum("amount"))
    )
    return {aid: -total for aid, total in rows}


def allocation_used_millicredits(allocation: Allocation) -> int:
    """Millicredits charged for usage: the usage entries on the allocation and overage accounts."""
    return _used_by_allocation([allocation.pk]).get(allocation.pk, 0)


# --- Thresholds -----------------------------------------------------------------------------


def _project_people(project):
    return User.objects.filter(
        Q(project_memberships__project=project) | Q(led_projects=project), is_active=True
    ).distinct()


def _hub_staff(hub_ids):
    return User.objects.filter(
        memberships__hub__in=hub_ids,
        memberships__status=MembershipStatus.ACTIVE,
        memberships__role__in=STAFF_ROLES,
        is_active=True,
    ).distinct()


def _project_url(project) -> str:
    try:
        return project.get_absolute_url()
    except NoReverseMatch:  # pages not wired yet
        return ""


def _claim(allocation, flag: str, moment) -> bool:
    """Set ``flag`` if it is still empty. The conditional UPDATE makes it happen once, also
    when two ingests for the same allocation (from different providers) race."""
    return bool(Allocation.objects.filter(pk=allocation.pk, **{f"{flag}__isnull": True}).update(**{flag: moment}))


def _threshold_due(flags: dict, granted: int, remaining: int, overage: int) -> bool:
    """Whether a notice may be due: a threshold reached whose notice has not gone out yet."""
    return (
        (remaining <= 0 and flags["notified_100_at"] is None)
        or (remaining * 5 <= granted and flags["notified_80_at"] is None)
        or (overage > 0 and flags["provider_notified_at"] is None)
    )


_THRESHOLD_FIELDS = ("granted_millicredits", "notified_80_at", "notified_100_at", "provider_notified_at")


def usage_thresholds_check(*, allocation_ids, balances: dict | None = None, allocations: dict | None = None) -> None:
    """Notify the team when an allocation first reaches 80 % and 100 % use, and its providers
    once it goes past 100 %. Call inside the transaction that wrote the usage.

    Read from the account balances (no scan of the usage history): 80 % is reached when the
    balance is down to a fifth of the grant, 100 % when it is empty, and past 100 % when the
    overage account has been charged. Staff adjustments to the balance count, so a top-up
    moves the team away from the thresholds and a correction towards them. ``balances``
    (``{(allocation_id, kind): balance}``) are the locked balances the caller just wrote, so
    they need not be read again; nor need ``allocations`` (``{pk: {field: value}}`` with the
    grant and the notice fields, read under the same lock). Only allocations with a notice due
    are loaded as models.
    """
    from hubs.services import notify

    if allocations is None:
        flags = {
            row["pk"]: row
            for row in Allocation.objects.filter(pk__in_array=list(allocation_ids))
            .filter(
                Q(notified_80_at__isnull=True) | Q(notified_100_at__isnull=True) | Q(provider_notified_at__isnull=True)
            )
            .values("pk", *_THRESHOLD_FIELDS)
        }
    else:
        flags = {pk: allocations[pk] for pk in allocation_ids}
    if not flags:
        return
    if balances is None:
        balances = {
            (allocation_id, kind): balance
            for allocation_id, kind, balance in Account.objects.filter(
                allocation_id__in_array=list(flags), kind__in=[AccountKind.ALLOCATION, AccountKind.OVERAGE]
            ).values_list("allocation_id", "kind", "balance")
        }

    def figures(pk):
        remaining = balances.get((pk, AccountKind.ALLOCATION), 0)
        return remaining, -balances.get((pk, AccountKind.OVERAGE), 0)

    due = [pk for pk, row in flags.items() if _threshold_due(row, row["granted_millicredits"], *figures(pk))]
    if not due:
        return
    now = timezone.now()
    for allocation in Allocation.objects.filter(pk__in=due).select_related("project").order_by("pk"):
        remaining, overage = figures(allocation.pk)
        granted = allocation.granted_millicredits
        used = granted - remaining + overage
        summary = f"{credits(used)} of {credits(granted)} credits used"
        project = allocation.project
        if remaining <= 0:
            claimed_100 = _claim(allocation, "notified_100_at", now)
            # Jumping past both thresholds at once sends the 100 % notice only.
            _claim(allocation, "notified_80_at", now)
            if claimed_100:
                notify(
                    users=_project_people(project),
                    kind="allocation_used_100",
                    title=f"All credits used: {project}",
                    body=f"{summary}. Further usage is recorded as overage; ask hub staff for more credits.",
                    url=_project_url(project),
                    dedupe_key=f"allocation:{allocation.pk}:used100",
                )
                _emit_threshold(allocation, 100, used=used, over_limit=False)
        elif remaining * 5 <= granted and _claim(allocation, "notified_80_at", now):
            notify(
                users=_project_people(project),
                kind="allocation_used_80",
                title=f"80 % of credits used: {project}",
                body=f"{summary}; {credits(remaining)} credits left.",
                url=_project_url(project),
                dedupe_key=f"allocation:{allocation.pk}:used80",
            )
            _emit_threshold(allocation, 80, used=used, over_limit=False)
        if overage > 0:
            notify_provider_overuse(allocation)


def _emit_threshold(allocation: Allocation, threshold: int, *, used: int, over_limit: bool) -> None:
    emit(
        "allocation.usage_threshold",
        hub=allocation.hub_id,
        payload={
            "allocation": allocation.pk,
            "project": allocation.project_id,
            "title": str(allocation.project),
            "threshold": threshold,
            "over_limit": over_limit,
            "used_millicredits": used,
            "granted_millicredits": allocation.granted_millicredits,
            "slurm_account": allocation.slurm_account,
        },
    )


def notify_provider_overuse(allocation: Allocation) -> bool:
    """Tell the providers that can run jobs on ``allocation`` that it is past its credits, so
    they can stop its jobs; once per allocation. E-mails each provider's partner contact after
    commit and puts a notice in the hub staff's inbox. (The signed webhook extends this.)"""
    from hubs.services import notify

    if not _claim(allocation, "provider_notified_at", timezone.now()):
        return False
    allocation = Allocation.objects.select_related("project", "hub").get(pk=allocation.pk)
    providers = list(
        ComputeProvider.objects.filter(resources__calls=allocation.call_id).select_related("partner").distinct()
    )
    used = allocation_used_millicredits(allocation)
    account = allocation.slurm_account or "(none)"
    subject = f"Allocation {allocation.pk} is past its credits: stop its jobs"
    body = (
        f'Allocation {allocation.pk} of the project "{allocation.project}" at {allocation.hub} has used '
        f"{credits(used)} of its {credits(allocation.granted_millicredits)} credits.\n"
        f"Slurm account: {account}\n\n"
        "Please stop or hold its jobs; further usage is charged as overage.\n"
    )
    recipients = sorted({p.partner.contact_email for p in providers if p.partner and p.partner.contact_email})
    for email in recipients:
        transaction.on_commit(
            partial(send_mail, subject=subject, message=body, from_email=None, recipient_list=[email]),
            robust=True,
        )
    notify(
        users=_hub_staff({allocation.hub_id} | {p.hub_id for p in providers}),
        kind="allocation_overuse",
        title=f"Allocation past its credits: {allocation.project}",
        body=body + (f"Told: {', '.join(recipients)}." if recipients else "No provider contact e-mail on file."),
        url=_project_url(allocation.project),
        dedupe_key=f"allocation:{allocation.pk}:overuse",
    )
    # Partner systems (the providers) hear it by webhook, so they can stop the jobs.
    _emit_threshold(allocation, 100, used=used, over_limit=True)
    return True


# --- Expiry ---------------------------------------------------------------------------------


@transaction.atomic
def allocation_expire(*, allocation: Allocation, acting_user=None) -> Allocation:
    """Expire an active allocation and return its unused credits to the call budget."""
    alloc_acct = ledger.allocation_account(allocation)
    call_acct = ledger.call_account(allocation.call)
    # Lock both accounts in key order before reading the balance (as ledger.post does), so a
    # concurrent usage ingest either lands before the return or sees the allocation expired.
    locked = {
        a.pk: a for a in Account.objects.select_for_update().filter(pk__in=[alloc_acct.pk, call_acct.pk]).order_by("pk")
    }
    won = Allocation.objects.filter(pk=allocation.pk, status=AllocationStatus.ACTIVE).update(
        status=AllocationStatus.EXPIRED
    )
    if won != 1:
        allocation.refresh_from_db()
        raise InvalidTransition(allocation, "expire")
    unused = locked[alloc_acct.pk].balance
    if unused > 0:
        ledger.transfer(
            kind=TransactionKind.EXPIRY,
            idempotency_key=f"expiry:{allocation.pk}",
            source=alloc_acct,
            target=call_acct,
            amount=unused,
            memo=f"Unused credits of allocation {allocation.pk} returned",
            created_by=acting_user,
        )
    allocation.refresh_from_db()
    audit_record(
        allocation,
        "expired",
        actor=acting_user,
        actor_label="" if acting_user else "expiry task",
        before={"status": AllocationStatus.ACTIVE},
        after={"status": AllocationStatus.EXPIRED, "returned_millicredits": unused},
    )
    from hubs.services import notify

    project = allocation.project
    notify(
        users=_project_people(project),
        kind="allocation_expired",
        title=f"Allocation expired: {project}",
        body=(
            f"The allocation of {credits(allocation.granted_millicredits)} credits ended on "
            f"{allocation.ends_on:%d %B %Y}. {credits(unused)} unused credits went back to the call."
        ),
        url=_project_url(project),
        dedupe_key=f"allocation:{allocation.pk}:expired",
    )
    emit(
        "allocation.expired",
        hub=allocation.hub_id,
        payload={
            "allocation": allocation.pk,
            "project": allocation.project_id,
            "title": str(project),
            "ends_on": allocation.ends_on.isoformat(),
            "granted_millicredits": allocation.granted_millicredits,
            "returned_millicredits": unused,
            "slurm_account": allocation.slurm_account,
        },
    )
    return allocation


def allocations_expire_due(today: date | None = None) -> int:
    """Expire every active allocation whose end date has passed; returns how many. Each in its
    own transaction; an allocation someone else expired meanwhile is skipped."""
    today = today or timezone.localdate()
    count = 0
    due = Allocation.objects.filter(status=AllocationStatus.ACTIVE, ends_on__lt=today).select_related("call", "project")
    for allocation in due.order_by("pk").iterator(chunk_size=200):
        try:
            allocation_expire(allocation=allocation)
        except InvalidTransition:
            continue
        count += 1
    return count


# --- Adjustments ----------------------------------------------------------------------------


def _account_hub_id(account: Account):
    if account.call_id:
        return Call.objects.filter(pk=account.call_id).values_list("hub_id", flat=True).first()
    if account.allocation_id:
        return Allocation.objects.filter(pk=account.allocation_id).values_list("hub_id", flat=True).first()
    if account.provider_id:
        return ComputeProvider.objects.filter(pk=account.provider_id).values_list("hub_id", flat=True).first()
    return account.funding_source.hub_id if account.funding_source_id else None


@transaction.atomic
def ledger_adjust(
    *, account_from: Account, account_to: Account, amount: int, reason: str, acting_user, idempotency_key: str
) -> Transaction:
    """A staff correction: move ``amount`` millicredits between two accounts, with a reason.
    Repeating the same ``idempotency_key`` returns the first transaction and changes nothing
    (the key is stored as ``adjust:<key>`` so it never collides with usage or expiry keys).
    Raises ``ledger.InsufficientFunds`` if a call budget or allocation would go below zero."""
    errors = {}
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        errors["amount"] = ["Give a positive whole number of millicredits."]
    if not (reason or "").strip():
        errors["reason"] = ["Say why."]
    if account_from.pk == account_to.pk:
        errors["account_to"] = ["Choose two different accounts."]
    if not idempotency_key:
        errors["idempotency_key"] = ["Required."]
    if errors:
        raise ValidationError(errors)
    txn, created = ledger.transfer(
        kind=TransactionKind.ADJUSTMENT,
        idempotency_key=f"adjust:{idempotency_key}",
        source=account_from,
        target=account_to,
        amount=amount,
        memo=reason.strip(),
        created_by=acting_user,
    )
    if created:
        audit_record(
            txn,
            "ledger_adjusted",
            actor=acting_user,
            hub=_hub(account_to) or _hub(account_from),
            after={
                "from": str(account_from),
                "to": str(account_to),
                "amount": amount,
                "reason": reason.strip(),
            },
        )
    return txn


def _hub(account: Account):
    from hubs.models import Hub

    hub_id = _account_hub_id(account)
    return Hub.objects.filter(pk=hub_id).first() if hub_id else None


__all__ = [
    "MAX_RECORDS",
    "IngestResult",
    "UsageRejected",
    "allocation_balance",
    "allocation_expire",
    "allocation_overage",
    "allocation_used_millicredits",
    "allocations_expire_due",
    "known_external_ids",
    "ledger_adjust",
    "notify_provider_overuse",
    "usage_cost",
    "usage_ingest",
    "usage_thresholds_check",
]
