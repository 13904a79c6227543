"""Network news pages: the feed, one item, posting news (staff), and subscriptions."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from gigafactory.forms import add_service_errors
from hubs import access as hub_access

from . import access, selectors, services
from .forms import (
    DeliveryChoiceForm,
    HubSubscriptionForm,
    NewsFilterForm,
    NewsPostForm,
    PreferenceForm,
    SubscriptionForm,
)
from .models import Delivery, NewsKind

PAGE_SIZE = 20


@vary_on_headers("HX-Request")
def news_list(request):
    hubs = hub_access.visible_hubs(request.user).order_by("name")
    form = NewsFilterForm(request.GET or None, hubs=hubs)
    filters = {"q": "", "kind": "", "hub": None, "sector": ""}
    if form.is_valid():
        filters = {k: form.cleaned_data.get(k) or ("" if k != "hub" else None) for k in filters}
    page = Paginator(selectors.news_feed(request.user, **filters), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "filters": {k: (v.slug if k == "hub" and v else v) for k, v in filters.items()},
        "is_filtered": any(filters.values()),
        "can_post": request.user.is_authenticated and access.hubs_to_post_for(request.user).exists(),
    }
    template = "network/news_list.html#results" if request.htmx else "network/news_list.html"
    return render(request, template, context)


def news_detail(request, pk):
    item = access.news_item_for(request.user, pk)
    return render(request, "network/news_detail.html", {"item": item})


@login_required
def news_post(request):
    hubs = access.hubs_to_post_for(request.user)
    if not hubs.exists():
        raise PermissionDenied("Only hub staff post news to the network.")
    form = NewsPostForm(request.POST or None, hubs=hubs)
    if request.method == "POST" and form.is_valid():
        try:
            item = services.news_post(acting_user=request.user, **form.cleaned_data)
        except (ValidationError, PermissionDenied) as exc:
            if isinstance(exc, ValidationError):
                add_service_errors(form, exc)
            else:
                form.add_error(None, str(exc))
        else:
            messages.success(request, f"Posted to the network: subscribers get '{item.title}' now.")
            return redirect(item.get_absolute_url())
    return render(request, "network/news_post.html", {"form": form})


def _subscription_context(request, *, form=None, hub_form=None):
    user = request.user
    visible = hub_access.visible_hubs(user).order_by("name")
    staff_hubs = access.hubs_to_post_for(user)
    personal, of_hubs = selectors.subscriptions_page(user)
    return {
        "personal": personal,
        "of_hubs": of_hubs,
        "form": form or SubscriptionForm(hubs=visible),
        "hub_form": hub_form or (HubSubscriptionForm(hubs=visible, staff_hubs=staff_hubs) if staff_hubs else None),
        "preference_form": PreferenceForm(initial={"delivery": services.preference_of(user)}),
        "delivery_choices": [("", "My default"), *Delivery.choices],
        "kinds": NewsKind.choices,
    }


@login_required
def subscriptions(request):
    if request.method == "POST":
        visible = hub_access.visible_hubs(request.user).order_by("name")
        form = SubscriptionForm(request.POST, hubs=visible)
        if form.is_valid():
            try:
                subscription = services.subscription_create(
                    acting_user=request.user, user=request.user, **form.cleaned_data
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"You now follow: {subscription.topic_label}.")
                return redirect("network:subscriptions")
        return render(request, "network/subscriptions.html", _subscription_context(request, form=form), status=400)
    return render(request, "network/subscriptions.html", _subscription_context(request))


@login_required
@require_POST
def hub_subscription_add(request):
    visible = hub_access.visible_hubs(request.user).order_by("name")
    staff_hubs = access.hubs_to_post_for(request.user)
    if not staff_hubs.exists():
        raise PermissionDenied("Only hub staff manage a hub's subscriptions.")
    form = HubSubscriptionForm(request.POST, hubs=visible, staff_hubs=staff_hubs)
    if form.is_valid():
        data = dict(form.cleaned_data)
        try:
            subscription = services.subscription_create(acting_user=request.user, **data)
        except (ValidationError, PermissionDenied) as exc:
            if isinstance(exc, ValidationError):
                add_service_errors(form, exc)
            else:
                form.add_error(None, str(exc))
        else:
            messages.success(request, f"{subscription.subscriber_hub} now follows: {subscription.topic_label}.")
            return redirect("network:subscriptions")
    return render(request, "network/subscriptions.html", _subscription_context(request, hub_form=form), status=400)


@login_required
@require_POST
def subscription_delete(request, pk):
    subscription = access.subscription_for(request.user, pk)
    try:
        services.subscription_delete(subscription=subscription, acting_user=request.user)
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Unfollowed: {subscription.topic_label}.")
    return redirect("network:subscriptions")


@login_required
@require_POST
def subscription_delivery(request, pk):
    subscription = access.subscription_for(request.user, pk)
    form = DeliveryChoiceForm(request.POST)
    if form.is_valid():
        try:
            services.subscription_update(
                subscription=subscription, acting_user=request.user, delivery=form.cleaned_data["delivery"]
            )
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
        else:
            messages.success(request, f"Saved how you get '{subscription.topic_label}'.")
    else:
        messages.error(request, "Choose immediate, digest or your default.")
    return redirect("network:subscriptions")


@login_required
@require_POST
def preference(request):
    form = PreferenceForm(request.POST)
    if form.is_valid():
        services.preference_set(user=request.user, delivery=form.cleaned_data["delivery"])
        label = dict(Delivery.choices)[form.cleaned_data["delivery"]]
        messages.success(request, f"Default saved: {label.lower()}.")
    else:
        messages.error(request, "Choose immediate or digest.")
    return redirect("network:subscriptions")
