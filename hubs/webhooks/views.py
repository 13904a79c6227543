"""Webhook pages for hub staff: endpoints, their delivery log, redelivery and test events."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from gigafactory.errors import InvalidTransition
from gigafactory.forms import add_service_errors

from . import access, charts, selectors, services
from .forms import DeliveryFilterForm, EndpointForm
from .models import EndpointStatus

PAGE_SIZE = 25
SESSION_SLOT = "webhooks.shown_once"


def _refusal(exc) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return getattr(exc, "message", None) or str(exc)


def _show_secret_once(request, endpoint, secret):
    # Post/redirect/get: the plaintext rides in the session for exactly one page view.
    request.session[SESSION_SLOT] = {"endpoint": endpoint.pk, "secret": secret}


@login_required
def endpoint_list(request):
    hubs = access.hubs_for_new_endpoint(request.user)
    if not hubs.exists():
        raise PermissionDenied("Webhooks are managed by hub staff.")
    page = Paginator(selectors.endpoint_list(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "webhooks/endpoint_list.html", {"page": page, "filters": {}})


@login_required
def endpoint_create(request):
    hubs = access.hubs_for_new_endpoint(request.user)
    if not hubs.exists():
        raise PermissionDenied("Webhooks are managed by hub staff.")
    form = EndpointForm(request.POST or None, hubs=hubs)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            endpoint, secret = services.endpoint_create(
                hub=data["hub"],
                url=data["url"],
                event_types=data["event_types"],
                description=data["description"],
                scope=data["scope"],
                acting_user=request.user,
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            _show_secret_once(request, endpoint, secret)
            messages.success(request, "Endpoint registered. Copy its signing secret now.")
            return redirect(endpoint.get_absolute_url())
    return render(request, "webhooks/endpoint_form.html", {"form": form, "editing": False})


@login_required
def endpoint_edit(request, pk):
    endpoint = access.endpoint_for(request.user, pk)
    initial = {
        "url": endpoint.url,
        "description": endpoint.description,
        "all_events": "*" in endpoint.event_types,
        "event_types": [t for t in endpoint.event_types if t != "*"],
        "scope": endpoint.scope,
    }
    form = EndpointForm(request.POST or None, initial=initial, editing=True)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.endpoint_update(
                endpoint=endpoint,
                acting_user=request.user,
                url=data["url"],
                event_types=data["event_types"],
                description=data["description"],
                scope=data["scope"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Endpoint saved.")
            return redirect(endpoint.get_absolute_url())
    return render(request, "webhooks/endpoint_form.html", {"form": form, "editing": True, "endpoint": endpoint})


@login_required
def endpoint_detail(request, pk):
    endpoint = access.endpoint_for(request.user, pk)
    form = DeliveryFilterForm(request.GET or None)
    filters = {"status": "", "event_type": ""}
    if form.is_valid():
        filters = {k: form.cleaned_data.get(k) or "" for k in filters}
    page = Paginator(selectors.endpoint_deliveries(endpoint, **filters), PAGE_SIZE).get_page(request.GET.get("page"))
    shown = request.session.get(SESSION_SLOT)
    new_secret = None
    if shown and shown.get("endpoint") == endpoint.pk:
        new_secret = request.session.pop(SESSION_SLOT)["secret"]
    return render(
        request,
        "webhooks/endpoint_detail.html",
        {
            "endpoint": endpoint,
            "page": page,
            "form": form,
            "filters": filters,
            "new_secret": new_secret,
            "chart": charts.deliveries_chart(selectors.daily_outcomes(endpoint)),
            "is_disabled": endpoint.status == EndpointStatus.DISABLED,
        },
    )


def _endpoint_action(request, pk, service, done):
    endpoint = access.endpoint_for(request.user, pk)
    try:
        result = service(endpoint=endpoint, acting_user=request.user)
    except (InvalidTransition, PermissionDenied, ValidationError) as exc:
        messages.error(request, _refusal(exc))
        return endpoint, None
    messages.success(request, done)
    return endpoint, result


@login_required
@require_POST
def endpoint_test(request, pk):
    endpoint, _ = _endpoint_action(
        request, pk, services.send_test_event, "Test event queued: its attempt shows in the log below."
    )
    return redirect(endpoint.get_absolute_url())


@login_required
@require_POST
def endpoint_rotate(request, pk):
    endpoint, result = _endpoint_action(
        request, pk, services.endpoint_rotate_secret, "New secret made; the old one no longer signs. Copy it now."
    )
    if result:
        _show_secret_once(request, endpoint, result[1])
    return redirect(endpoint.get_absolute_url())


@login_required
@require_POST
def endpoint_pause(request, pk):
    endpoint, _ = _endpoint_action(request, pk, services.endpoint_pause, "Paused: events wait up to 24 hours.")
    return redirect(endpoint.get_absolute_url())


@login_required
@require_POST
def endpoint_enable(request, pk):
    endpoint, _ = _endpoint_action(
        request, pk, services.endpoint_enable, "Enabled: waiting deliveries are being sent now."
    )
    return redirect(endpoint.get_absolute_url())


@login_required
@require_POST
def endpoint_delete(request, pk):
    endpoint = access.endpoint_for(request.user, pk)
    try:
        services.endpoint_delete(endpoint=endpoint, acting_user=request.user)
    except PermissionDenied as exc:
        messages.error(request, str(exc))
        return redirect(endpoint.get_absolute_url())
    messages.success(request, f"Endpoint {endpoint.url} deleted with its delivery log.")
    return redirect("webhooks:endpoint_list")


@login_required
def delivery_detail(request, pk):
    delivery = access.delivery_for(request.user, pk)
    attempts = delivery.attempts.select_related("requested_by").order_by("-number")
    return render(
        request,
        "webhooks/delivery_detail.html",
        {"delivery": delivery, "endpoint": delivery.endpoint, "attempts": attempts},
    )


@login_required
@require_POST
def delivery_redeliver(request, pk):
    delivery = access.delivery_for(request.user, pk)
    try:
        services.delivery_redeliver(delivery=delivery, acting_user=request.user)
    except (InvalidTransition, PermissionDenied) as exc:
        messages.error(request, _refusal(exc))
    else:
        messages.success(request, "Redelivery queued: the attempt shows below.")
    back = request.POST.get("next")
    # Only back to a page of this site: "next" comes from the form, and anyone can post one.
    if not (back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()})):
        back = delivery.get_absolute_url()
    return redirect(back)
