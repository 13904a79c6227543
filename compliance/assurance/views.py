"""Fairness and drift pages. Objects come from ``access``; writes go through ``services``."""

import itertools

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from gigafactory.errors import InvalidTransition
from gigafactory.forms import add_service_errors

from . import access, charts, csvio, selectors, services
from .fairness import DISPARITY_METRICS, GROUP_METRICS
from .forms import (
    BatchUploadForm,
    DecisionForm,
    FairnessUploadForm,
    ReferenceUploadForm,
    read_upload,
)
from .models import ReferenceStatus, RunStatus

PAGE_SIZE = 20


def _page(request, qs, param="page"):
    return Paginator(qs, PAGE_SIZE).get_page(request.GET.get(param))


def _refusal(exc) -> str:
    if isinstance(exc, InvalidTransition):
        return exc.message
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc) or "You cannot do this."


@login_required
def index(request):
    """The AI systems of the user's hubs with their latest fairness and drift verdicts."""
    q = request.GET.get("q", "").strip()
    systems = selectors.with_latest_verdicts(access.systems_visible(request.user)).order_by("hub__name", "name")
    if q:
        systems = systems.filter(Q(name__icontains=q) | Q(hub__name__icontains=q))
    return render(request, "assurance/index.html", {"page": _page(request, systems), "q": q, "filters": {"q": q}})


# --- Fairness ---------------------------------------------------------------------------------


@login_required
def fairness_list(request, system_id):
    system = access.system_for(request.user, system_id)
    page = _page(request, selectors.fairness_history(system))
    return render(
        request,
        "assurance/fairness_list.html",
        {"system": system, "page": page, "can_manage": access.can_manage(request.user, system), "filters": {}},
    )


@login_required
def fairness_new(request, system_id):
    system = access.system_for(request.user, system_id)
    if not access.can_manage(request.user, system):
        raise PermissionDenied("Only the system's owner or the hub's staff can run fairness checks.")
    form = FairnessUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = read_upload(form)
        if data is not None:
            try:
                check = services.fairness_check_upload(
                    system=system,
                    acting_user=request.user,
                    data=data,
                    file_name=form.cleaned_data["file"].name,
                    **form.mapping(),
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, "Uploaded. The worker is computing the metrics; this page updates itself.")
                return redirect(check)
    return render(request, "assurance/fairness_new.html", {"system": system, "form": form})


def _fairness_charts(check) -> list[dict]:
    analyses = []
    for i, analysis in enumerate(check.results.get("analyses", [])):
        metric_charts = []
        for metric, label in GROUP_METRICS.items():
            groups = [(g["label"], g[metric], g["count"]) for g in analysis["groups"]]
            metric_charts.append(
                {
                    "label": label,
                    "svg": charts.group_bars(
                        chart_id=f"fc-{i}-{metric}", title=f"{label} by group: {analysis['name']}", groups=groups
                    ),
                }
            )
        analyses.append({**analysis, "charts": metric_charts})
    return analyses


@login_required
def fairness_detail(request, pk):
    check = access.fairness_check_for(request.user, pk)
    context = {
        "check": check,
        "system": check.system,
        "can_manage": access.can_manage(request.user, check.system),
        "analyses": _fairness_charts(check) if check.status == RunStatus.DONE else [],
        "metric_labels": GROUP_METRICS,
        "disparity_labels": {k: v[0] for k, v in DISPARITY_METRICS.items()},
    }
    if request.htmx and request.GET.get("part") == "status":
        if check.status == RunStatus.PENDING:
            response = render(request, "assurance/fairness_detail.html#status", context)
        else:
            response = render(request, "assurance/fairness_detail.html", context)
            response["HX-Refresh"] = "true"
        response["Vary"] = "HX-Request"
        return response
    return render(request, "assurance/fairness_detail.html", context)


@login_required
@require_POST
def fairness_attach(request, pk):
    check = access.fairness_check_for(request.user, pk)
    try:
        services.fairness_check_attach_evidence(check=check, acting_user=request.user)
    except (InvalidTransition, ValidationError, PermissionDenied) as exc:
        messages.error(request, _refusal(exc))
    else:
        messages.success(request, "Attached as test evidence to the Art. 10 (data governance) checklist item.")
    return redirect(check)


# --- Drift ------------------------------------------------------------------------------------


@login_required
def drift_home(request, system_id):
    system = access.system_for(request.user, system_id)
    anchor = selectors.current_anchor(system)
    trend_svg = None
    if anchor is not None:
        batches, series = selectors.trend(anchor)
        if len(batches) >= 2:
            trend_svg = charts.trend(
                chart_id="drift-trend",
                title=f"PSI per column over the batches of {system}",
                labels=[b.label or b.created_at.strftime("%d %b") for b in batches],
                series=series,
                threshold=anchor.psi_threshold,
            )
    can_manage = access.can_manage(request.user, system)
    return render(
        request,
        "assurance/drift_home.html",
        {
            "system": system,
            "anchor": anchor,
            "references": _page(request, selectors.references_of(system), "rpage"),
            "page": _page(request, selectors.batches_of(system)),
            "trend_svg": trend_svg,
            "can_manage": can_manage,
            "batch_form": BatchUploadForm() if anchor is not None and can_manage else None,
            "is_board": access.is_board_member(request.user, system.hub),
            "filters": {},
        },
    )


@login_required
def reference_new(request, system_id):
    system = access.system_for(request.user, system_id)
    if not access.can_manage(request.user, system):
        raise PermissionDenied("Only the system's owner or the hub's staff can upload reference data.")
    form = ReferenceUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = read_upload(form)
        if data is not None:
            try:
                reference = services.reference_upload(
                    system=system,
                    acting_user=request.user,
                    data=data,
                    file_name=form.cleaned_data["file"].name,
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                    thresholds={k: form.cleaned_data[k] for k in services.DRIFT_THRESHOLD_FIELDS},
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, "Reference data stored as a draft. Check its profile, then submit it.")
                return redirect(reference)
    return render(request, "assurance/reference_new.html", {"system": system, "form": form})


def _profile_charts(profile) -> list[dict]:
    columns = []
    for i, column in enumerate(profile.get("columns", [])):
        if column["kind"] == "numeric":
            svg = charts.histogram(
                chart_id=f"col-{i}",
                title=f"Distribution of {column['name']}",
                edges=column["histogram"]["edges"],
                counts=column["histogram"]["counts"],
            )
        else:
            svg = charts.frequencies(
                chart_id=f"col-{i}", title=f"Frequencies of {column['name']}", items=column["frequencies"]
            )
        columns.append({**column, "svg": svg})
    return columns


@login_required
def reference_detail(request, pk):
    reference = access.reference_for(request.user, pk)
    system = reference.system
    anchor = getattr(reference, "anchor", None) if reference.status == ReferenceStatus.SIGNED_OFF else None
    is_board = access.is_board_member(request.user, reference.hub)
    return render(
        request,
        "assurance/reference_detail.html",
        {
            "reference": reference,
            "system": system,
            "anchor": anchor,
            "integrity": services.anchor_verify(anchor) if anchor else None,
            "columns": _profile_charts(reference.profile),
            "can_manage": access.can_manage(request.user, system),
            "is_board": is_board,
            "decision_form": DecisionForm() if is_board and reference.status == ReferenceStatus.SUBMITTED else None,
        },
    )


@login_required
@require_POST
def reference_submit(request, pk):
    reference = access.reference_for(request.user, pk)
    try:
        services.reference_submit(reference=reference, acting_user=request.user)
    except (InvalidTransition, PermissionDenied) as exc:
        messages.error(request, _refusal(exc))
    else:
        messages.success(request, "Submitted to the hub's ethics board. Its members have been notified.")
    return redirect(reference)


@login_required
@require_POST
def reference_decide(request, pk):
    reference = access.reference_for(request.user, pk)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect(reference)
    try:
        if form.cleaned_data["decision"] == "sign_off":
            services.reference_sign_off(reference=reference, acting_user=request.user, note=form.cleaned_data["note"])
            messages.success(request, "Signed off. This reference data is now the system's trust anchor.")
        else:
            services.reference_reject(reference=reference, acting_user=request.user, note=form.cleaned_data["note"])
            messages.success(request, "Rejected; the owner has been told why.")
    except (InvalidTransition, PermissionDenied, ValidationError) as exc:
        messages.error(request, _refusal(exc))
    return redirect(reference)


@login_required
@require_POST
def reference_delete(request, pk):
    reference = access.reference_for(request.user, pk)
    system = reference.system
    try:
        services.reference_delete(reference=reference, acting_user=request.user)
    except (InvalidTransition, PermissionDenied) as exc:
        messages.error(request, _refusal(exc))
        return redirect(reference)
    messages.success(request, f"Deleted the reference data '{reference.name}'.")
    return redirect("assurance:drift_home", system.pk)


@login_required
def batch_new(request, system_id):
    system = access.system_for(request.user, system_id)
    anchor = selectors.current_anchor(system)
    if anchor is None:
        messages.error(request, "This system has no trust anchor yet: upload reference data and have it signed off.")
        return redirect("assurance:drift_home", system.pk)
    if not access.can_manage(request.user, system):
        raise PermissionDenied("Only the system's owner or the hub's staff can upload batches.")
    form = BatchUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = read_upload(form)
        if data is not None:
            try:
                batch, _ = services.drift_batch_upload(
                    anchor=anchor,
                    acting_user=request.user,
                    data=data,
                    file_name=form.cleaned_data["file"].name,
                    label=form.cleaned_data["label"],
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, "Batch received; the worker is comparing it with the trust anchor.")
                return redirect(batch)
    return render(request, "assurance/batch_new.html", {"system": system, "anchor": anchor, "form": form})


def _bin_labels(edges: list[float]) -> list[str]:
    if not edges:
        return ["all values"]
    labels = [f"<= {edges[0]:.3g}"]
    labels += [f"{a:.3g} to {b:.3g}" for a, b in itertools.pairwise(edges)]
    return [*labels, f"> {edges[-1]:.3g}"]


def _column_charts(batch, results) -> list[dict]:
    profile = {c["name"]: c for c in batch.anchor.reference.profile["columns"]}
    rows = []
    for i, r in enumerate(results):
        details = r.details or {}
        svg = None
        column = profile.get(r.column, {})
        if r.kind == "numeric" and details.get("psi_current_shares"):
            svg = charts.comparison(
                chart_id=f"cmp-{i}",
                title=f"{r.column}: share of rows per bin",
                labels=_bin_labels(column.get("psi_edges", [])),
                reference=column.get("psi_reference_shares", []),
                current=details["psi_current_shares"],
            )
        elif r.kind == "categorical" and details.get("reference_counts"):
            ref_total = sum(details["reference_counts"]) or 1
            cur_total = sum(details["current_counts"]) or 1
            svg = charts.comparison(
                chart_id=f"cmp-{i}",
                title=f"{r.column}: share of rows per category",
                labels=details["categories"],
                reference=[c / ref_total for c in details["reference_counts"]],
                current=[c / cur_total for c in details["current_counts"]],
            )
        rows.append({"result": r, "details": details, "svg": svg})
    return rows


@login_required
def batch_detail(request, pk):
    batch = access.batch_for(request.user, pk)
    results = list(batch.column_results.order_by("id"))
    context = {
        "batch": batch,
        "system": batch.system,
        "anchor": batch.anchor,
        "columns": _column_charts(batch, results) if batch.status == RunStatus.DONE else [],
    }
    if request.htmx and request.GET.get("part") == "status":
        if batch.status == RunStatus.PENDING:
            response = render(request, "assurance/batch_detail.html#status", context)
        else:
            response = render(request, "assurance/batch_detail.html", context)
            response["HX-Refresh"] = "true"
        response["Vary"] = "HX-Request"
        return response
    return render(request, "assurance/batch_detail.html", context)


def limits_text() -> str:
    return f"{csvio.human_size(csvio.max_upload_bytes())}, {csvio.max_rows():,} rows"
