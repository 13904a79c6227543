"""Network statistics: per public hub and for the whole network.

Every figure is computed by the database in a fixed number of queries, whatever the number of
hubs, pilots or applications:

1. public hubs, each annotated with correlated subqueries: active members, open calls, credits
   granted (allocations) and used (the ledger's call totals), pilots, public case studies, adaptations
   started at the hub and adaptations of its pilots elsewhere;
2. pilots counted by hub, sector and status (GROUP BY);
3. the median time from submission to decision per hub and track, and
4. per track for the whole network: ``percentile_cont(0.5)`` on PostgreSQL (SQLite, the
   embedded mode, has no such aggregate: there the durations are read once and the medians
   taken in Python);
5. distinct active members of the network (a person in two hubs counts once).

The result is plain data (dicts, ints, floats), cached for ``CACHE_SECONDS``.
"""

import statistics as pystats
from collections import defaultdict

from django.core.cache import cache
from django.db import connection
from django.db.models import (
    Aggregate,
    BigIntegerField,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from compute.models import Allocation, Application, AppStatus, Call, CallTotals, Track
from hubs.models import Hub, Membership, MembershipStatus, Sector, User

from .models import CaseStudy, Pilot, PilotStatus

CACHE_KEY = "pilots:network-statistics:v1"
CACHE_SECONDS = 120
DECIDED = (AppStatus.APPROVED, AppStatus.REJECTED)
SECONDS_PER_DAY = 86400


class Median(Aggregate):
    """PostgreSQL's ``percentile_cont(0.5) WITHIN GROUP (ORDER BY expr)``."""

    function = "PERCENTILE_CONT"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    allow_distinct = False


def _count(qs, field) -> Coalesce:
    sub = qs.order_by().values(field).annotate(n=Count("pk")).values("n")[:1]
    return Coalesce(Subquery(sub, output_field=IntegerField()), Value(0))


def _sum(qs, field, amount) -> Coalesce:
    sub = qs.order_by().values(field).annotate(total=Sum(amount)).values("total")[:1]
    return Coalesce(Subquery(sub, output_field=BigIntegerField()), Value(0), output_field=BigIntegerField())


def _hub_rows(now):
    hub = OuterRef("pk")
    return (
        Hub.objects.filter(public=True)
        .annotate(
            members=_count(
                Membership.objects.filter(hub=hub, status=MembershipStatus.ACTIVE, user__is_active=True), "hub"
            ),
            open_calls=_count(
                Call.objects.filter(hub=hub, published=True, opens_at__lte=now, closes_at__gt=now), "hub"
            ),
            granted=_sum(Allocation.objects.filter(hub=hub), "hub", "granted_millicredits"),
            # The ledger's per-call totals (kept by the database as usage is recorded): summing
            # the usage records themselves cost 5-8 s at two million records.
            used=_sum(CallTotals.objects.filter(call__hub=hub), "call__hub", "used_millicredits"),
            case_studies=_count(CaseStudy.objects.filter(pilot__hub=hub, withdrawn_at__isnull=True), "pilot__hub"),
            adaptations_started=_count(Pilot.objects.filter(hub=hub, adapted_from__isnull=False), "hub"),
            adapted_elsewhere=_count(Pilot.objects.filter(adapted_from__hub=hub).exclude(hub=hub), "adapted_from__hub"),
        )
        .order_by("name")
        .values(
            "pk",
            "slug",
            "name",
            "city",
            "country",
            "members",
            "open_calls",
            "granted",
            "used",
            "case_studies",
            "adaptations_started",
            "adapted_elsewhere",
        )
    )


def _decided_applications():
    return Application.objects.filter(
        hub__public=True, status__in=DECIDED, submitted_at__isnull=False, decided_at__isnull=False
    ).annotate(waited=ExpressionWrapper(F("decided_at") - F("submitted_at"), output_field=DurationField()))


def _medians(group_by: list[str]) -> dict[tuple, tuple[float, int]]:
    """(group values) -> (median days, number of decisions)."""
    qs = _decided_applications()
    if connection.vendor == "postgresql":
        rows = (
            qs.order_by()
            .values(*group_by)
            .annotate(median=Median("waited", output_field=DurationField()), n=Count("pk"))
        )
        return {tuple(r[g] for g in group_by): (r["median"].total_seconds() / SECONDS_PER_DAY, r["n"]) for r in rows}
    waits = defaultdict(list)
    for row in qs.order_by().values_list(*group_by, "waited"):
        waits[tuple(row[:-1])].append(row[-1].total_seconds() / SECONDS_PER_DAY)
    return {key: (pystats.median(values), len(values)) for key, values in waits.items()}


def compute() -> dict:
    """The statistics, freshly computed (five queries)."""
    now = timezone.now()
    hubs = list(_hub_rows(now))
    by_pk = {h["pk"]: h for h in hubs}
    for h in hubs:
        h["pilots_by_status"] = dict.fromkeys(PilotStatus.values, 0)
        h["pilots_by_sector"] = {}
        h["pilots"] = 0
        h["median_days"] = {}
    sector_status = {s: dict.fromkeys(PilotStatus.values, 0) for s in Sector.values}
    for row in (
        Pilot.objects.filter(hub__public=True).order_by().values("hub_id", "sector", "status").annotate(n=Count("pk"))
    ):
        h = by_pk.get(row["hub_id"])
        if h is None:
            continue
        h["pilots"] += row["n"]
        h["pilots_by_status"][row["status"]] += row["n"]
        h["pilots_by_sector"][row["sector"]] = h["pilots_by_sector"].get(row["sector"], 0) + row["n"]
        sector_status.setdefault(row["sector"], dict.fromkeys(PilotStatus.values, 0))[row["status"]] += row["n"]
    for (hub_id, track), (days, n) in _medians(["hub_id", "call__track"]).items():
        if hub_id in by_pk:
            by_pk[hub_id]["median_days"][track] = {"days": round(days, 1), "decisions": n}
    network_medians = {
        track: {"days": round(days, 1), "decisions": n} for (track,), (days, n) in _medians(["call__track"]).items()
    }
    members = (
        User.objects.filter(
            is_active=True,
            memberships__status=MembershipStatus.ACTIVE,
            memberships__hub__public=True,
        )
        .distinct()
        .count()
    )
    by_status = dict.fromkeys(PilotStatus.values, 0)
    for counts in sector_status.values():
        for status, n in counts.items():
            by_status[status] += n
    network = {
        "hubs": len(hubs),
        "countries": len({h["country"] for h in hubs}),
        "members": members,
        "open_calls": sum(h["open_calls"] for h in hubs),
        "granted": sum(h["granted"] for h in hubs),
        "used": sum(h["used"] for h in hubs),
        "pilots": sum(h["pilots"] for h in hubs),
        "pilots_by_status": by_status,
        "case_studies": sum(h["case_studies"] for h in hubs),
        "adaptations": sum(h["adaptations_started"] for h in hubs),
        "median_days": network_medians,
    }
    return {
        "computed_at": now,
        "hubs": hubs,
        "network": network,
        "sector_status": {s: c for s, c in sector_status.items() if any(c.values())},
        "tracks": list(Track.values),
    }


def network_statistics(*, fresh: bool = False) -> dict:
    """The statistics, from the cache when they are younger than ``CACHE_SECONDS``."""
    if not fresh:
        cached = cache.get(CACHE_KEY)
        if cached is not None:
            return cached
    data = compute()
    cache.set(CACHE_KEY, data, CACHE_SECONDS)
    return data
