"""Reads for the compute catalogue (calls, resources) and their budget figures.

Budget figures come from the ledger, in the same query as the calls, whatever the number of
calls, allocations or usage records:

- ``funded``: credits that ``fund`` transactions put into the call's budget account;
- ``granted``: credits that ``grant`` transactions took out of it for allocations;
- ``used``: GPU usage debited from the allocations (and their overage) of the call;
- ``left``: the call budget account's balance, which the ledger keeps equal to its entries.

The first three are the ``CallTotals`` row the database keeps as entries are written (a
trigger, see the model); summing the entries instead cost 0.7 s for a page of calls at 50,000
allocations and seconds at a million usage records.
"""

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import (
    BigIntegerField,
    Case,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils import timezone

from hubs import access

from .models import (
    Account,
    AccountKind,
    Call,
    CallTotals,
    ComputeResource,
    Entry,
    TransactionKind,
    credits,
)


class Phase:
    """Where a call's window stands, as offered in filters and shown as a label."""

    OPEN = "open"
    UPCOMING = "upcoming"
    CLOSED = "closed"
    choices = [(OPEN, "Open now"), (UPCOMING, "Upcoming"), (CLOSED, "Closed")]
    labels = {OPEN: "Open", UPCOMING: "Upcoming", CLOSED: "Closed"}
    values = [OPEN, UPCOMING, CLOSED]
    # Sort order of a mixed list: what one can apply to first, then what is coming, then history.
    rank = {OPEN: 0, UPCOMING: 1, CLOSED: 2}


def phase_of(call, now=None) -> str:
    now = now or timezone.now()
    if call.opens_at > now:
        return Phase.UPCOMING
    if call.closes_at <= now:
        return Phase.CLOSED
    return Phase.OPEN


def phase_filter(phase: str, now) -> Q:
    if phase == Phase.OPEN:
        return Q(opens_at__lte=now, closes_at__gt=now)
    if phase == Phase.UPCOMING:
        return Q(opens_at__gt=now)
    if phase == Phase.CLOSED:
        return Q(closes_at__lte=now)
    raise ValueError(f"unknown phase {phase!r}")


def _phase_rank(now) -> Case:
    return Case(
        When(phase_filter(Phase.OPEN, now), then=Value(Phase.rank[Phase.OPEN])),
        When(phase_filter(Phase.UPCOMING, now), then=Value(Phase.rank[Phase.UPCOMING])),
        default=Value(Phase.rank[Phase.CLOSED]),
        output_field=IntegerField(),
    )


# --- Budget figures -----------------------------------------------------------------------------


def _total(field: str) -> Coalesce:
    return Coalesce(
        Subquery(CallTotals.objects.filter(call=OuterRef("pk")).values(field)[:1]),
        Value(0),
        output_field=BigIntegerField(),
    )


def with_budget(qs: QuerySet) -> QuerySet:
    """Annotate calls with ``funded_millicredits``, ``granted_millicredits``, ``used_millicredits``
    and ``left_millicredits`` (all integers, never NULL) from the ledger's totals."""
    left = Subquery(
        Account.objects.filter(kind=AccountKind.CALL_BUDGET, call=OuterRef("pk")).values("balance")[:1],
        output_field=BigIntegerField(),
    )
    return qs.annotate(
        funded_millicredits=_total("funded_millicredits"),
        granted_millicredits=_total("granted_millicredits"),
        used_millicredits=_total("used_millicredits"),
        left_millicredits=Coalesce(left, Value(0), output_field=BigIntegerField()),
    )


# --- Calls ----------------------------------------------------------------------------------


def visible_calls(user=None, *, api_key=None, include_unpublished: bool = False) -> QuerySet:
    """Calls anyone may read: published, at a hub the viewer can see (public hubs, plus private
    hubs they belong to; a partner key also sees its own hub).

    ``include_unpublished`` adds unpublished calls of the hubs the viewer runs (a staff preview).
    """
    qs = Call.objects.select_related("hub", "funding_source")
    if user is not None and user.is_authenticated and user.is_superuser:
        return qs if include_unpublished else qs.filter(published=True)
    hubs = Q(hub__public=True)
    if user is not None and user.is_authenticated:
        hubs |= Q(hub__in=access.member_hub_ids(user))
    if api_key is not None:
        hubs |= Q(hub=api_key.hub_id)
    shown = Q(published=True) & hubs
    if include_unpublished and user is not None and user.is_authenticated:
        staff_ids = access.staff_hub_ids(user)
        if staff_ids:
            shown |= Q(hub__in=staff_ids)
    return qs.filter(shown)


def open_calls(*, user=None, now=None) -> QuerySet:
    """Published calls whose window contains ``now`` (opens_at <= now < closes_at)."""
    now = now or timezone.now()
    return visible_calls(user).filter(phase_filter(Phase.OPEN, now))


def calls_list(
    *,
    user=None,
    api_key=None,
    hub: str = "",
    track: str = "",
    phase: str = "",
    q: str = "",
    now=None,
) -> QuerySet:
    """Visible calls with their budget figures, filtered.

    ``phase`` is ``open``, ``upcoming``, ``closed``, ``current`` (open or upcoming) or empty
    (all). Open calls come first (soonest deadline first), then upcoming, then closed ones.
    """
    now = now or timezone.now()
    qs = visible_calls(user, api_key=api_key)
    if hub:
        qs = qs.filter(hub__slug=hub)
    if track:
        qs = qs.filter(track=track)
    if phase == "current":
        qs = qs.filter(closes_at__gt=now)
    elif phase in Phase.values:
        qs = qs.filter(phase_filter(phase, now))
    if q:
        qs = qs.filter(Q(title__icontains=q) | Q(description__icontains=q) | Q(hub__name__icontains=q))
    qs = with_budget(qs).annotate(phase_rank=_phase_rank(now))
    if phase == Phase.CLOSED:
        return qs.order_by("-closes_at", "title", "pk")
    return qs.order_by("phase_rank", "closes_at", "title", "pk")


def call_detail(slug: str, *, user=None, api_key=None, include_unpublished: bool = False) -> Call:
    """One visible call with its budget figures, or 404."""
    qs = with_budget(visible_calls(user, api_key=api_key, include_unpublished=include_unpublished))
    return get_object_or_404(qs, slug=slug)


def call_resources(call) -> QuerySet:
    """The call's eligible resources with their providers, cheapest rate first."""
    return (
        call.eligible_resources.select_related("provider", "hub")
        .filter(active=True)
        .order_by("rate_millicredits", "name", "pk")
    )


# --- Resources ------------------------------------------------------------------------------


def visible_resources(user=None, *, api_key=None) -> QuerySet:
    """Compute resources at hubs the viewer can see, with their provider and hub."""
    qs = ComputeResource.objects.select_related("provider", "hub")
    if user is not None and user.is_authenticated and user.is_superuser:
        return qs
    hubs = Q(hub__public=True)
    if user is not None and user.is_authenticated:
        hubs |= Q(hub__in=access.member_hub_ids(user))
    if api_key is not None:
        hubs |= Q(hub=api_key.hub_id)
    return qs.filter(hubs)


def resources_list(*, user=None, api_key=None, hub: str = "", q: str = "") -> QuerySet:
    qs = visible_resources(user, api_key=api_key)
    if hub:
        qs = qs.filter(hub__slug=hub)
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(gpu_model__icontains=q) | Q(provider__name__icontains=q))
    return qs.order_by("hub__name", "name", "pk")


# --- Allocation figures from the ledger -------------------------------------------------------


def _allocation_account_balance(kind, ref="pk"):
    return Coalesce(
        Subquery(
            Account.objects.filter(allocation=OuterRef(ref), kind=kind).values("balance")[:1],
            output_field=BigIntegerField(),
        ),
        Value(0),
        output_field=BigIntegerField(),
    )


LEDGER_FIGURES = ("balance_millicredits", "overage_balance", "used_negative")


def with_ledger_figures(qs, via=""):
    """Annotate allocations with ``balance_millicredits`` (the allocation account's balance),
    ``overage_balance`` and ``used_negative`` (usage debited from the allocation and its overage
    account), straight from the ledger: correlated subqueries, so no extra query per row.
    ``decorate_allocation`` turns them into the figures pages and the API show.

    ``via`` reaches the allocation from another model: ``with_ledger_figures(applications,
    "allocation__")`` annotates applications with their allocation's figures (see
    ``with_allocation``)."""
    ref = f"{via}pk"
    used = Subquery(
        Entry.objects.filter(
            account__allocation=OuterRef(ref),
            account__kind__in=[AccountKind.ALLOCATION, AccountKind.OVERAGE],
            transaction__kind=TransactionKind.USAGE,
        )
        .order_by()
        .values("account__allocation")
        .annotate(total=Sum("amount"))
        .values("total")[:1],
        output_field=BigIntegerField(),
    )
    return qs.annotate(
        balance_millicredits=_allocation_account_balance(AccountKind.ALLOCATION, ref),
        overage_balance=_allocation_account_balance(AccountKind.OVERAGE, ref),
        used_negative=Coalesce(used, Value(0), output_field=BigIntegerField()),
    )


def with_allocation(applications: QuerySet) -> QuerySet:
    """Applications with their allocation (if any) and its ledger figures, in the same query;
    ``allocation_of`` hands the allocation over, decorated."""
    return with_ledger_figures(applications.select_related("allocation"), via="allocation__")


def allocation_of(application):
    """The application's allocation, decorated, from ``with_allocation`` (None without one)."""
    try:
        allocation = application.allocation
    except ObjectDoesNotExist:
        return None
    for name in LEDGER_FIGURES:
        setattr(allocation, name, getattr(application, name))
    return decorate_allocation(allocation)


def decorate_allocation(allocation):
    """Used, overage and percentage (and their credit strings) from ``with_ledger_figures``."""
    allocation.used_millicredits = -allocation.used_negative
    allocation.overage_millicredits = -allocation.overage_balance
    granted = allocation.granted_millicredits
    allocation.used_percent = round(100 * allocation.used_millicredits / granted) if granted else 0
    allocation.granted_credits = credits(granted)
    allocation.used_credits = credits(allocation.used_millicredits)
    allocation.balance_credits = credits(allocation.balance_millicredits)
    allocation.overage_credits = credits(allocation.overage_millicredits)
    return allocation
