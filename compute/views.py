"""Browser pages of the compute catalogue: the public list of calls and a call's page.

The application workflow (apply, projects, reviews) adds its pages next to these; the call
page links to ``compute:application_create`` once that workflow is in place
(see ``applications_enabled``).
"""

import importlib.util
from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.vary import vary_on_headers

from hubs import access
from hubs.models import OrganisationKind

from . import selectors
from .forms import CallFilterForm
from .models import Track, credits

PAGE_SIZE = 20

TRACK_EXPLANATIONS = {
    Track.PLAYGROUND: (
        "A small, fixed grant to try things out. There is no committee: the portal checks your "
        "application automatically and decides within seconds."
    ),
    Track.FAST_LANE: (
        "For requests up to the call's limit. The portal runs its checks automatically; when every "
        "check passes the application is approved at once, otherwise hub staff look at it and decide."
    ),
    Track.PEER_REVIEW: (
        "For large requests. After the automatic checks, independent reviewers with no conflict of "
        "interest score the application against the call's rubric, then hub staff decide. Decisions "
        "are taken in batches on the call's cut-off dates."
    ),
}


def applications_enabled() -> bool:
    """True once the application workflow is in place: its service ``compute.services.application_create``
    and its form view (see ``_application_form_view``). Until then the call page shows no Apply button."""
    try:
        from . import services
    except ImportError:
        return False
    return hasattr(services, "application_create") and _application_form_view() is not None


def _hub_choices(user):
    return access.visible_hubs(user).order_by("name").only("slug", "name")


@vary_on_headers("HX-Request")
def call_list(request):
    form = CallFilterForm(request.GET or None, hubs=_hub_choices(request.user))
    filters = form.filters()
    phase = "" if filters["status"] == "all" else filters["status"]
    qs = selectors.calls_list(
        user=request.user, hub=filters["hub"], track=filters["track"], phase=phase, q=filters["q"]
    )
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    now = timezone.now()
    for call in page:
        _decorate(call, now)
    context = {
        "form": form,
        "page": page,
        "filters": filters,
        "is_filtered": any(filters[k] for k in ("q", "hub", "track")) or filters["status"] != "current",
        "tracks": TRACK_EXPLANATIONS,
    }
    template = "compute/call_list.html#results" if request.htmx else "compute/call_list.html"
    return render(request, template, context)


def _decorate(call, now):
    """Add what the templates show: the phase and every amount formatted as credits."""
    call.phase = selectors.phase_of(call, now)
    call.funded_credits = credits(call.funded_millicredits)
    call.granted_credits = credits(call.granted_millicredits)
    call.used_credits = credits(call.used_millicredits)
    call.left_credits = credits(call.left_millicredits)
    call.limit_credits = credits(call.max_request_millicredits)
    call.grant_credits = credits(call.playground_grant_millicredits)
    return call


def _cutoffs(call) -> list[dict]:
    today = timezone.localdate()
    out = []
    for raw in call.review_cutoffs or []:
        try:
            day = date.fromisoformat(str(raw)[:10])
        except ValueError:
            continue
        out.append({"date": day, "past": day < today})
    return sorted(out, key=lambda c: c["date"])


def call_detail(request, slug):
    call = selectors.call_detail(slug, user=request.user, include_unpublished=True)
    phase = _decorate(call, timezone.now()).phase
    resources = list(selectors.call_resources(call))
    # A sense of scale: how many GPU-hours the per-application amount buys on each resource.
    per_application = (
        call.playground_grant_millicredits
        if call.track == Track.PLAYGROUND and call.playground_grant_millicredits
        else call.max_request_millicredits
    )
    for resource in resources:
        resource.hours_per_application = per_application // resource.rate_millicredits
    kinds = dict(OrganisationKind.choices)
    cutoffs = _cutoffs(call)
    context = {
        "call": call,
        "phase": phase,
        "phase_label": selectors.Phase.labels[phase],
        "track_explanation": TRACK_EXPLANATIONS.get(call.track, ""),
        "resources": resources,
        "allowed_kinds": [kinds.get(k, k) for k in call.allowed_org_kinds or []],
        "cutoffs": cutoffs,
        "next_cutoff": next((c["date"] for c in cutoffs if not c["past"]), None),
        "can_apply": phase == selectors.Phase.OPEN and call.published and applications_enabled(),
        "is_staff": request.user.is_authenticated and access.is_hub_staff(request.user, call.hub),
    }
    return render(request, "compute/call_detail.html", context)


@login_required
def application_create(request, slug):
    """Where the call page's Apply button leads.

    The application form itself belongs to the application workflow: its service
    ``compute.services.application_create`` and its form view
    ``compute.application_views.application_create(request, *, call)``, which this view hands
    over to. Until both exist the call page shows no Apply button, and anyone who reaches this
    address is sent back to the call with an explanation.
    """
    call = selectors.call_detail(slug, user=request.user)
    if selectors.phase_of(call) != selectors.Phase.OPEN:
        messages.error(request, f"“{call}” is not open for applications.")
    elif not applications_enabled():
        messages.info(request, "Applications through the portal are not available yet. Please check back soon.")
    else:
        return _application_form_view()(request, call=call)
    return redirect(call)


def _application_form_view():
    """The workflow's form view, ``compute.application_views.application_create(request, *, call)``,
    once that module exists; ``None`` before."""
    if importlib.util.find_spec("compute.application_views") is None:
        return None
    return importlib.import_module("compute.application_views").application_create
