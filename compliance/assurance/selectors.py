"""Reads for pages, the API, the dossier and the system panel (querysets with their joins applied)."""

from django.db.models import Count, OuterRef, Q, Subquery

from .models import DriftBatch, DriftColumnResult, FairnessCheck, ReferenceDataset, RunStatus, TrustAnchor

TREND_BATCHES = 30


def fairness_history(system):
    """A system's fairness checks, newest first, without the bulky inputs and results."""
    return (
        FairnessCheck.objects.filter(system=system)
        .select_related("created_by")
        .defer("inputs", "results")
        .order_by("-created_at", "-id")
    )


def latest_fairness(system) -> FairnessCheck | None:
    return (
        FairnessCheck.objects.filter(system=system, status=RunStatus.DONE)
        .defer("inputs")
        .order_by("-computed_at", "-id")
        .first()
    )


def current_anchor(system) -> TrustAnchor | None:
    """The newest signed-off reference: the one new batches are compared with."""
    return (
        TrustAnchor.objects.filter(system=system)
        .select_related("reference", "signed_by")
        .defer("reference__data")
        .order_by("-signed_at", "-id")
        .first()
    )


def references_of(system):
    return (
        ReferenceDataset.objects.filter(system=system)
        .select_related("created_by", "decided_by")
        .defer("data", "profile")
        .order_by("-created_at", "-id")
    )


def batches_of(system):
    return (
        DriftBatch.objects.filter(system=system)
        .select_related("anchor__reference", "partner", "created_by")
        .defer("data", "anchor__reference__data", "anchor__reference__profile")
        .order_by("-created_at", "-id")
    )


def latest_batch(system) -> DriftBatch | None:
    return (
        DriftBatch.objects.filter(system=system, status=RunStatus.DONE)
        .defer("data")
        .order_by("-computed_at", "-id")
        .first()
    )


def trend(anchor, limit: int = TREND_BATCHES) -> tuple[list[DriftBatch], dict[str, list]]:
    """The anchor's last ``limit`` computed batches (oldest first) and per column the PSI of each."""
    batches = list(
        DriftBatch.objects.filter(anchor=anchor, status=RunStatus.DONE)
        .defer("data")
        .order_by("-created_at", "-id")[:limit]
    )[::-1]
    by_column: dict[str, list] = {}
    positions = {b.pk: i for i, b in enumerate(batches)}
    rows = DriftColumnResult.objects.filter(batch__in=batches).values_list("batch_id", "column", "psi", "drifted")
    for batch_id, column, psi, drifted in rows:
        series = by_column.setdefault(column, [None] * len(batches))
        series[positions[batch_id]] = (psi, drifted)
    return batches, by_column


def dossier_summary(system) -> dict:
    """What the dossier and the system page say about fairness and drift, in a few queries."""
    fairness = latest_fairness(system)
    anchor = current_anchor(system)
    batch = latest_batch(system)
    counts = FairnessCheck.objects.filter(system=system).aggregate(
        runs=Count("id"), failed=Count("id", filter=Q(passed=False))
    )
    batch_counts = DriftBatch.objects.filter(system=system).aggregate(
        runs=Count("id"), drifted=Count("id", filter=Q(drifted=True))
    )
    pending_reference = (
        ReferenceDataset.objects.filter(system=system, status__in=["draft", "submitted"]).defer("data").first()
    )
    return {
        "fairness": fairness,
        "fairness_failed_checks": (fairness.results.get("failed_checks", []) if fairness else []),
        "fairness_runs": counts["runs"],
        "fairness_failed_runs": counts["failed"],
        "anchor": anchor,
        "pending_reference": pending_reference,
        "drift": batch,
        "drift_columns": list(batch.column_results.all()) if batch else [],
        "drift_batches": batch_counts["runs"],
        "drift_alerts": batch_counts["drifted"],
    }


def with_latest_verdicts(systems):
    """Systems annotated with their latest fairness verdict, drift verdict and anchor date (one query)."""
    fairness = FairnessCheck.objects.filter(system=OuterRef("pk"), status=RunStatus.DONE).order_by(
        "-computed_at", "-id"
    )
    batches = DriftBatch.objects.filter(system=OuterRef("pk"), status=RunStatus.DONE).order_by("-computed_at", "-id")
    anchors = TrustAnchor.objects.filter(system=OuterRef("pk")).order_by("-signed_at", "-id")
    return systems.annotate(
        fairness_id=Subquery(fairness.values("id")[:1]),
        fairness_passed=Subquery(fairness.values("passed")[:1]),
        fairness_at=Subquery(fairness.values("computed_at")[:1]),
        batch_id=Subquery(batches.values("id")[:1]),
        batch_drifted=Subquery(batches.values("drifted")[:1]),
        batch_at=Subquery(batches.values("computed_at")[:1]),
        anchor_signed_at=Subquery(anchors.values("signed_at")[:1]),
    )
