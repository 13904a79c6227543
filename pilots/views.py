"""Browser pages: pilots (for their hubs' members, editors and staff), the public showcase and
case studies, adapting a case study at another hub, and the public network statistics.

Templates decide nothing: the views pass what the user may do, from ``pilots.access``.
"""

import csv

from allauth.mfa.utils import is_mfa_enabled
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from compute.models import Track, credits
from gigafactory.admin import csv_safe
from gigafactory.errors import InvalidTransition
from hubs import access as hub_access
from hubs.countries import Country
from hubs.models import Sector

from . import access, charts, selectors, services
from .forms import (
    AdaptForm,
    CaseStudyForm,
    MetricFormSet,
    MilestoneFormSet,
    PartnerFormSet,
    PilotFilterForm,
    PilotForm,
    ShowcaseFilterForm,
    StopForm,
    formset_rows,
)
from .models import CaseStudy, PilotStatus
from .statistics import network_statistics

PAGE_SIZE = 20
SHOWCASE_PAGE_SIZE = 12
STATUS_COLOURS = {
    PilotStatus.PROPOSED: "#E69F00",
    PilotStatus.ACTIVE: "#0072B2",
    PilotStatus.COMPLETED: "#009E73",
    PilotStatus.STOPPED: "#9aa0ad",
}


def _page(request, qs, size=PAGE_SIZE):
    return Paginator(qs, size).get_page(request.GET.get("page"))


def _error_text(exc) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return getattr(exc, "message", None) or str(exc)


def _needs_mfa(request, hub) -> bool:
    """Hub staff act as staff only with two-factor authentication (as on every /staff/ page)."""
    return hub_access.is_hub_staff(request.user, hub) and not is_mfa_enabled(request.user)


def _mfa_redirect(request):
    messages.warning(
        request,
        "Hub staff must turn on two-factor authentication before changing pilots. Set up an authenticator app below.",
    )
    return redirect("mfa_activate_totp")


# --- Pilots ----------------------------------------------------------------------------------------


@login_required
@vary_on_headers("HX-Request")
def pilot_list(request):
    hubs = hub_access.visible_hubs(request.user).order_by("name").only("slug", "name")
    form = PilotFilterForm(request.GET or None, hubs=hubs)
    filters = form.filters()
    qs = selectors.pilots_list(user=request.user, **filters)
    context = {
        "form": form,
        "filters": filters,
        "page": _page(request, qs),
        "is_filtered": any(filters.values()),
        "can_create": access.hubs_for_new_pilot(request.user).exists(),
    }
    template = "pilots/pilot_list.html#results" if request.htmx else "pilots/pilot_list.html"
    return render(request, template, context)


def _formsets(data=None, pilot=None, parts=None):
    initial = {}
    if pilot is not None and data is None:
        parts = parts or selectors.pilot_detail_parts(pilot)
        initial = {
            "partners": [
                {"name": p.name, "role": p.role, "website": p.website, "contribution": p.contribution}
                for p in parts["partners"]
            ],
            "milestones": [
                {"title": m.title, "due_on": m.due_on, "done": m.done, "done_on": m.done_on}
                for m in parts["milestones"]
            ],
            "metrics": [
                {"name": m.name, "unit": m.unit, "baseline": m.baseline, "target": m.target, "achieved": m.achieved}
                for m in parts["metrics"]
            ],
        }
    return {
        "partners": PartnerFormSet(data, prefix="partners", initial=initial.get("partners")),
        "milestones": MilestoneFormSet(data, prefix="milestones", initial=initial.get("milestones")),
        "metrics": MetricFormSet(data, prefix="metrics", initial=initial.get("metrics")),
    }


def _apply_service_errors(exc, form, formsets):
    """Put a service's ValidationError on the form fields (or the formset it names)."""
    for field, msgs in exc.message_dict.items():
        if field in formsets:
            formsets[field]._non_form_errors = formsets[field].error_class(msgs)
        elif field in form.fields:
            for msg in msgs:
                form.add_error(field, msg)
        else:
            for msg in msgs:
                form.add_error(None, msg)


@login_required
def pilot_create(request):
    hubs = access.hubs_for_new_pilot(request.user)
    if not hubs.exists():
        messages.info(
            request, "Pilots are started by hub staff and by leads of compute projects. Start a project first."
        )
        return redirect("pilots:pilot_list")
    form = PilotForm(request.POST or None, hubs=hubs)
    formsets = _formsets(request.POST or None)
    if request.method == "POST":
        hub = hubs.filter(pk=request.POST.get("hub")).first()
        if hub is not None and _needs_mfa(request, hub):
            return _mfa_redirect(request)
        if form.is_valid() and all(fs.is_valid() for fs in formsets.values()):
            data = form.cleaned_data
            try:
                pilot = services.pilot_create(
                    hub=data["hub"],
                    acting_user=request.user,
                    title=data["title"],
                    summary=data["summary"],
                    sector=data["sector"],
                    starts_on=data["starts_on"],
                    ends_on=data["ends_on"],
                    partners=formset_rows(formsets["partners"]),
                    milestones=formset_rows(formsets["milestones"]),
                    metrics=formset_rows(formsets["metrics"]),
                )
            except ValidationError as exc:
                _apply_service_errors(exc, form, formsets)
            except PermissionDenied as exc:
                form.add_error("hub", str(exc))
            else:
                messages.success(request, f"Pilot “{pilot}” created. Add the team and links to projects below.")
                return redirect("pilots:pilot_edit", pk=pilot.pk)
        messages.error(request, "Please correct the errors below; nothing was saved.")
    return render(request, "pilots/pilot_form.html", {"form": form, "formsets": formsets, "pilot": None})


@login_required
def pilot_edit(request, pk):
    pilot = access.pilot_for_edit(request.user, pk)
    if request.method == "POST" and _needs_mfa(request, pilot.hub) and pilot.lead_id != request.user.pk:
        return _mfa_redirect(request)
    parts = selectors.pilot_detail_parts(pilot) if request.method != "POST" else None
    initial = {
        "title": pilot.title,
        "summary": pilot.summary,
        "sector": pilot.sector,
        "starts_on": pilot.starts_on,
        "ends_on": pilot.ends_on,
        "lessons_learned": pilot.lessons_learned,
        "lead": pilot.lead_id,
    }
    if parts is not None:
        initial |= {
            "team": [u.pk for u in parts["team"]],
            "projects": [p.pk for p in parts["projects"]],
            "allocations": [a.pk for a in parts["allocations"]],
            "ai_systems": [a.pk for a in parts["ai_systems"]],
        }
    form = PilotForm(request.POST or None, hubs=None, pilot=pilot, initial=initial)
    formsets = _formsets(request.POST or None, pilot=pilot, parts=parts)
    if request.method == "POST":
        if form.is_valid() and all(fs.is_valid() for fs in formsets.values()):
            data = form.cleaned_data
            try:
                services.pilot_update(
                    pilot=pilot,
                    acting_user=request.user,
                    title=data["title"],
                    summary=data["summary"],
                    sector=data["sector"],
                    starts_on=data["starts_on"],
                    ends_on=data["ends_on"],
                    lessons_learned=data["lessons_learned"],
                    lead=data["lead"],
                    team=list(data["team"]),
                    projects=list(data["projects"]),
                    allocations=list(data["allocations"]),
                    ai_systems=list(data["ai_systems"]),
                    partners=formset_rows(formsets["partners"]),
                    milestones=formset_rows(formsets["milestones"]),
                    metrics=formset_rows(formsets["metrics"]),
                )
            except ValidationError as exc:
                _apply_service_errors(exc, form, formsets)
            else:
                messages.success(request, f"Pilot “{pilot}” saved.")
                return redirect(pilot.get_absolute_url())
        messages.error(request, "Please correct the errors below; nothing was saved.")
    return render(request, "pilots/pilot_form.html", {"form": form, "formsets": formsets, "pilot": pilot})


@login_required
def pilot_detail(request, pk):
    pilot = access.pilot_for(request.user, pk)
    parts = selectors.pilot_detail_parts(pilot)
    case_study = CaseStudy.objects.filter(pilot=pilot).first()
    is_editor = access.is_editor(request.user, pilot)
    context = {
        "pilot": pilot,
        **parts,
        "case_study": case_study,
        "chart": charts.outcome_chart(parts["metrics"], chart_id=f"pilot-{pilot.pk}-outcomes")
        if parts["metrics"]
        else None,
        "is_editor": is_editor,
        "can_start": is_editor and pilot.status == PilotStatus.PROPOSED,
        "can_complete": is_editor and pilot.status == PilotStatus.ACTIVE,
        "can_stop": is_editor and pilot.is_open,
        "can_publish": access.can_publish(request.user, pilot),
        "milestones_done": sum(1 for m in parts["milestones"] if m.done),
        "today": timezone.localdate(),
    }
    return render(request, "pilots/pilot_detail.html", context)


TRANSITION_ACTIONS = {"start": PilotStatus.ACTIVE, "complete": PilotStatus.COMPLETED}


@login_required
@require_POST
def pilot_transition(request, pk, action):
    if action not in TRANSITION_ACTIONS:
        raise Http404("No such action.")
    pilot = access.pilot_for_edit(request.user, pk)
    if _needs_mfa(request, pilot.hub) and pilot.lead_id != request.user.pk:
        return _mfa_redirect(request)
    try:
        services.pilot_transition(pilot=pilot, to=TRANSITION_ACTIONS[action], acting_user=request.user)
    except (InvalidTransition, ValidationError) as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, f"Pilot “{pilot}” {'started' if action == 'start' else 'completed'}.")
    return redirect(pilot.get_absolute_url())


@login_required
def pilot_stop(request, pk):
    pilot = access.pilot_for_edit(request.user, pk)
    form = StopForm(request.POST or None)
    if request.method == "POST":
        if _needs_mfa(request, pilot.hub) and pilot.lead_id != request.user.pk:
            return _mfa_redirect(request)
        if form.is_valid():
            try:
                services.pilot_stop(pilot=pilot, acting_user=request.user, reason=form.cleaned_data["reason"])
            except InvalidTransition as exc:
                messages.error(request, _error_text(exc))
            except ValidationError as exc:
                form.add_error("reason", _error_text(exc))
                return render(request, "pilots/pilot_stop.html", {"pilot": pilot, "form": form})
            else:
                messages.success(request, f"Pilot “{pilot}” stopped.")
            return redirect(pilot.get_absolute_url())
    return render(request, "pilots/pilot_stop.html", {"pilot": pilot, "form": form})


# --- Publishing (staff) ------------------------------------------------------------------------------


@login_required
def pilot_publish(request, pk):
    pilot = access.pilot_for(request.user, pk)
    if not hub_access.is_hub_staff(request.user, pilot.hub):
        raise PermissionDenied(f"Only staff of {pilot.hub} publish its case studies.")
    case_study = CaseStudy.objects.filter(pilot=pilot).first()
    initial = {"headline": case_study.headline, "story": case_study.story} if case_study else {"story": pilot.summary}
    form = CaseStudyForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            case_study = services.case_study_publish(pilot=pilot, acting_user=request.user, **form.cleaned_data)
        except InvalidTransition as exc:
            messages.error(request, _error_text(exc))
            return redirect(pilot.get_absolute_url())
        except ValidationError as exc:
            _apply_service_errors(exc, form, {})
        else:
            messages.success(request, f"The case study “{case_study}” is public in the network showcase.")
            return redirect(case_study.get_absolute_url())
    return render(
        request,
        "pilots/case_study_form.html",
        {
            "pilot": pilot,
            "form": form,
            "case_study": case_study,
            "can_publish": access.can_publish(request.user, pilot),
        },
    )


@login_required
def case_study_withdraw(request, slug):
    case_study = get_object_or_404(CaseStudy.objects.select_related("pilot", "pilot__hub"), slug=slug)
    if not hub_access.is_hub_staff(request.user, case_study.pilot.hub):
        raise Http404("No such case study among the hubs you run.")
    if request.method == "POST":
        try:
            services.case_study_withdraw(
                case_study=case_study, acting_user=request.user, reason=request.POST.get("reason", "")
            )
        except InvalidTransition as exc:
            messages.error(request, _error_text(exc))
        else:
            messages.success(request, f"“{case_study}” was taken out of the showcase. You can publish it again.")
        return redirect(case_study.pilot.get_absolute_url())
    return render(request, "pilots/case_study_withdraw.html", {"case_study": case_study})


# --- Showcase and case studies (public) ------------------------------------------------------------


@vary_on_headers("HX-Request")
def showcase(request):
    hubs = list(hub_access.visible_hubs(request.user).order_by("name").only("slug", "name", "country"))
    form = ShowcaseFilterForm(request.GET or None, hubs=hubs)
    filters = form.filters()
    qs = selectors.showcase(user=request.user, **filters)
    context = {
        "form": form,
        "filters": filters,
        "page": _page(request, qs, SHOWCASE_PAGE_SIZE),
        "is_filtered": any(filters.values()),
    }
    template = "pilots/showcase.html#results" if request.htmx else "pilots/showcase.html"
    return render(request, template, context)


def case_study(request, slug):
    case_study = access.case_study_for(request.user, slug)
    pilot = case_study.pilot
    parts = selectors.case_study_parts(case_study)
    adapt_hubs = access.hubs_that_may_adapt(request.user, pilot) if request.user.is_authenticated else None
    visible_ids = (
        set(
            access.pilots_visible_to(request.user)
            .filter(pk__in=[a.pk for a in parts["adaptations"]])
            .values_list("pk", flat=True)
        )
        if request.user.is_authenticated and parts["adaptations"]
        else set()
    )
    for adaptation in parts["adaptations"]:
        adaptation.visible = adaptation.pk in visible_ids
    context = {
        "case_study": case_study,
        "pilot": pilot,
        **parts,
        "chart": charts.outcome_chart(parts["metrics"], chart_id="case-study-outcomes") if parts["metrics"] else None,
        "can_adapt": adapt_hubs is not None and adapt_hubs.exists(),
        "is_staff_of_pilot": request.user.is_authenticated and hub_access.is_hub_staff(request.user, pilot.hub),
        "can_see_pilot": request.user.is_authenticated
        and access.pilots_visible_to(request.user).filter(pk=pilot.pk).exists(),
    }
    return render(request, "pilots/case_study.html", context)


@login_required
def case_study_adapt(request, slug):
    """Confirmation page, then the adaptation (under /staff/: two-factor authentication required)."""
    case_study = access.case_study_for(request.user, slug)
    original = case_study.pilot
    hubs = access.hubs_that_may_adapt(request.user, original)
    if not hubs.exists():
        raise PermissionDenied("Only staff of another hub can adapt this pilot.")
    existing = {p.hub_id: p for p in original.adaptations.filter(hub__in=hubs).select_related("hub")}
    form = AdaptForm(request.POST or None, hubs=hubs, initial={"title": ""})
    if request.method == "POST" and form.is_valid():
        hub = form.cleaned_data["hub"]
        try:
            pilot, created = services.pilot_adapt(
                original=original,
                hub=hub,
                acting_user=request.user,
                title=form.cleaned_data["title"],
                note=form.cleaned_data["note"],
            )
        except (InvalidTransition, ValidationError, PermissionDenied) as exc:
            messages.error(request, _error_text(exc))
            return redirect(case_study.get_absolute_url())
        if created:
            messages.success(
                request,
                f"“{pilot}” is now a proposed pilot of {hub}. {original.hub} has been told. "
                "Add your local partners and adjust the plan.",
            )
        else:
            messages.info(request, f"{hub} already adapts this pilot: here is “{pilot}”. Nothing new was created.")
        return redirect(pilot.get_absolute_url())
    return render(
        request,
        "pilots/adapt_confirm.html",
        {"case_study": case_study, "pilot": original, "form": form, "existing": list(existing.values())},
    )


# --- Network statistics (public) ------------------------------------------------------------------


def _statistics_charts(stats) -> dict:
    hubs, network = stats["hubs"], stats["network"]
    sector_labels = dict(Sector.choices)
    status_labels = [label for _, label in PilotStatus.choices]
    track_labels = dict(Track.choices)
    return {
        "sectors": charts.stacked_bar_chart(
            chart_id="stats-sectors",
            title="Pilots by sector and status, whole network",
            segments=status_labels,
            colours=[STATUS_COLOURS[s] for s in PilotStatus.values],
            rows=[
                charts.Row(label=sector_labels.get(s, s), values=[c[st] for st in PilotStatus.values])
                for s, c in stats["sector_status"].items()
            ],
            axis_label="Pilots",
        )
        if stats["sector_status"]
        else None,
        "credits": charts.bar_chart(
            chart_id="stats-credits",
            title="GPU credits granted and used per hub",
            series=("Granted", "Used"),
            rows=[charts.Row(label=h["name"], values=(h["granted"] / 1000, h["used"] / 1000)) for h in hubs],
            value_format=lambda v: credits(round(float(v) * 1000)),
            axis_label="Credits (one credit = one H100 GPU-hour)",
        )
        if hubs
        else None,
        "medians": charts.bar_chart(
            chart_id="stats-medians",
            title="Median days from submission to decision, per track",
            series=("Median days",),
            rows=[
                charts.Row(
                    label=track_labels[t],
                    note=f"{network['median_days'][t]['decisions']} decisions",
                    values=(network["median_days"][t]["days"],),
                )
                for t in stats["tracks"]
                if t in network["median_days"]
            ],
            axis_label="Days",
        )
        if network["median_days"]
        else None,
        "sharing": charts.bar_chart(
            chart_id="stats-sharing",
            title="Case studies and adaptations per hub",
            series=("Case studies", "Adapted from others", "Adapted elsewhere"),
            rows=[
                charts.Row(
                    label=h["name"], values=(h["case_studies"], h["adaptations_started"], h["adapted_elsewhere"])
                )
                for h in hubs
            ],
            axis_label="Count",
        )
        if hubs
        else None,
    }


def _decorate_statistics(stats) -> dict:
    track_labels = dict(Track.choices)
    country_names = dict(Country.choices)
    rows = [*stats["hubs"]]
    for h in rows:
        h["country_name"] = country_names.get(h["country"], h["country"])
        h["granted_credits"] = credits(h["granted"])
        h["used_credits"] = credits(h["used"])
        h["medians"] = [h["median_days"].get(t) for t in stats["tracks"]]
    network = stats["network"]
    network["granted_credits"] = credits(network["granted"])
    network["used_credits"] = credits(network["used"])
    network["medians"] = [network["median_days"].get(t) for t in stats["tracks"]]
    return {
        "stats": stats,
        "hubs": rows,
        "network": network,
        "track_labels": [track_labels[t] for t in stats["tracks"]],
        "statuses": PilotStatus.choices,
    }


def statistics(request):
    stats = network_statistics()
    context = _decorate_statistics(stats) | {"charts": _statistics_charts(stats)}
    return render(request, "pilots/statistics.html", context)


CSV_COLUMNS = [
    "hub",
    "country",
    "members",
    "open_calls",
    "credits_granted",
    "credits_used",
    "pilots",
    *[f"pilots_{s}" for s in PilotStatus.values],
    "case_studies",
    "adaptations_started",
    "adapted_elsewhere",
    *[f"median_days_to_decision_{t}" for t in Track.values],
]


def statistics_csv(request):
    stats = network_statistics()
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="network-statistics-{timezone.localdate():%Y%m%d}.csv"'
    writer = csv.writer(response)
    writer.writerow(CSV_COLUMNS)

    def row(name, country, d, adapted_elsewhere):
        medians = [d["median_days"].get(t, {}).get("days", "") for t in Track.values]
        return [
            name,
            country,
            d["members"],
            d["open_calls"],
            credits(d["granted"]).replace(",", ""),
            credits(d["used"]).replace(",", ""),
            d["pilots"],
            *[d["pilots_by_status"][s] for s in PilotStatus.values],
            d["case_studies"],
            d.get("adaptations_started", d.get("adaptations", 0)),
            adapted_elsewhere,
            *medians,
        ]

    for h in stats["hubs"]:
        writer.writerow([csv_safe(v) for v in row(h["name"], h["country"], h, h["adapted_elsewhere"])])
    network = stats["network"]
    writer.writerow([csv_safe(v) for v in row("Whole network", "", network, network["adaptations"])])
    return response
