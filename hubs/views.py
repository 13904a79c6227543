"""Browser pages for visitors, members and hub staff. Templates decide nothing: the views
pass what the user may do, computed by the access layer."""

import json

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from gigafactory.errors import InvalidTransition
from gigafactory.forms import add_service_errors

from . import access, selectors, services
from .countries import Country
from .forms import ApiKeyForm, DecisionForm, DeleteAccountForm, InviteForm, JoinForm, ProfileForm, RoleForm
from .models import ApiKey, Hub, Invitation, Membership, MembershipStatus, Role, Sector

PAGE_SIZE = 25


def _page(request, qs, size=PAGE_SIZE):
    return Paginator(qs, size).get_page(request.GET.get("page"))


def _error_text(exc) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc)


# --- Public pages -------------------------------------------------------------------------


def landing(request):
    return render(
        request,
        "hubs/landing.html",
        {"stats": selectors.network_at_a_glance(), "hubs": selectors.hub_directory()[:8]},
    )


@vary_on_headers("HX-Request")
def hub_directory(request):
    country = request.GET.get("country", "")
    sector = request.GET.get("sector", "")
    q = request.GET.get("q", "").strip()
    page = _page(request, selectors.hub_directory(country=country, sector=sector, q=q), size=12)
    context = {
        "page": page,
        "countries": Country.choices,
        "sectors": Sector.choices,
        "filters": {"country": country, "sector": sector, "q": q},
    }
    template = "hubs/hub_directory.html#results" if request.htmx else "hubs/hub_directory.html"
    return render(request, template, context)


def hub_detail(request, slug):
    hub = access.hub_for_visitor(request.user, slug)
    membership = None
    if request.user.is_authenticated:
        membership = Membership.objects.filter(user=request.user, hub=hub).first()
    return render(
        request,
        "hubs/hub_detail.html",
        {
            "hub": hub,
            "membership": membership,
            "member_count": hub.memberships.filter(status=MembershipStatus.ACTIVE).count(),
            "can_join": membership is None or membership.status in (MembershipStatus.REJECTED, MembershipStatus.LEFT),
            "is_staff": request.user.is_authenticated and access.is_hub_staff(request.user, hub),
        },
    )


# --- Members ------------------------------------------------------------------------------


@login_required
def dashboard(request):
    memberships = list(selectors.memberships_of(request.user))
    return render(
        request,
        "hubs/dashboard.html",
        {
            "memberships": memberships,
            "active": [m for m in memberships if m.status == MembershipStatus.ACTIVE],
            "invitations": services.pending_invitations_for(request.user),
            "notifications": selectors.inbox(request.user)[:5],
            "profile": selectors.profile_of(request.user),
        },
    )


@login_required
def join_hub(request, slug):
    hub = access.hub_for_visitor(request.user, slug)
    form = JoinForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.membership_request(user=request.user, hub=hub, motivation=form.cleaned_data["motivation"])
        except (InvalidTransition, PermissionDenied) as exc:
            messages.error(request, _error_text(exc))
            return redirect("hubs:hub_detail", slug=hub.slug)
        messages.success(request, f"Your request to join {hub} was sent. Its staff will decide soon.")
        return redirect("hubs:memberships")
    return render(request, "hubs/join.html", {"hub": hub, "form": form})


@login_required
def hub_dashboard(request, slug):
    hub = access.hub_for_member(request.user, slug)
    members = _page(
        request,
        selectors.hub_members(hub, status=MembershipStatus.ACTIVE).order_by("user__name", "user__email"),
    )
    return render(
        request,
        "hubs/hub_dashboard.html",
        {
            "hub": hub,
            "role": access.role_in(request.user, hub),
            "page": members,
            "is_staff": access.is_hub_staff(request.user, hub),
        },
    )


@login_required
def memberships(request):
    return render(request, "hubs/memberships.html", {"memberships": selectors.memberships_of(request.user)})


@login_required
@require_POST
def membership_leave(request, pk):
    membership = access.membership_of_user(request.user, pk)
    try:
        services.membership_leave(membership=membership, acting_user=request.user)
        messages.success(request, f"You left {membership.hub}.")
    except InvalidTransition as exc:
        messages.error(request, exc.message)
    return redirect("hubs:memberships")


@login_required
def profile(request):
    instance = selectors.profile_of(request.user)
    form = ProfileForm(request.POST or None, instance=instance, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = {f: form.cleaned_data[f] for f in ProfileForm.Meta.fields}
        try:
            services.profile_update(user=request.user, name=form.cleaned_data["name"], **data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Profile saved.")
            return redirect("hubs:profile")
    return render(request, "hubs/profile.html", {"form": form})


@login_required
def inbox(request):
    return render(request, "hubs/inbox.html", {"page": _page(request, selectors.inbox(request.user))})


@login_required
@require_POST
def inbox_mark_read(request, pk=None):
    services.notifications_mark_read(user=request.user, ids=None if pk is None else [pk])
    if request.htmx and pk is not None:
        notification = get_object_or_404(request.user.notifications, pk=pk)
        return render(request, "hubs/inbox.html#item", {"n": notification})
    return redirect("hubs:inbox")


# --- Account: keys, export, deletion ------------------------------------------------------


@login_required
def api_keys(request):
    hubs = Hub.objects.filter(pk__in=access.member_hub_ids(request.user)).order_by("name")
    form = ApiKeyForm(request.POST or None, hubs=hubs)
    if request.method == "POST" and form.is_valid():
        _key, plaintext = services.api_key_create(
            name=form.cleaned_data["name"],
            hub=form.cleaned_data["hub"],
            scope=form.cleaned_data["scope"],
            user=request.user,
            acting_user=request.user,
        )
        # Post/redirect/get: a reload must not create a second key. The plaintext rides in
        # the session for exactly one page view and is never stored anywhere else.
        request.session["new_api_key"] = plaintext
        return redirect("hubs:api_keys")
    new_key = request.session.pop("new_api_key", None)
    keys = ApiKey.objects.filter(user=request.user).select_related("hub")
    return render(request, "hubs/api_keys.html", {"form": form, "keys": keys, "new_key": new_key})


@login_required
@require_POST
def api_key_revoke(request, pk):
    key = get_object_or_404(ApiKey, pk=pk, user=request.user)
    try:
        services.api_key_revoke(key=key, acting_user=request.user)
        messages.success(request, f"Key '{key.name}' revoked: it no longer works.")
    except InvalidTransition as exc:
        messages.error(request, exc.message)
    return redirect("hubs:api_keys")


@login_required
def account_export(request):
    data = services.account_export(user=request.user)
    response = HttpResponse(json.dumps(data, indent=2, default=str), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="gigafactory-data-{timezone.now():%Y%m%d}.json"'
    return response


@login_required
def account_delete(request):
    form = DeleteAccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = request.user
        services.account_delete(user=user, acting_user=user)
        logout(request)
        messages.success(request, "Your account was deleted and your personal data removed.")
        return redirect("hubs:landing")
    return render(request, "hubs/account_delete.html", {"form": form})


# --- Invitations --------------------------------------------------------------------------


def invitation_accept(request, token):
    try:
        invitation = services.invitation_from_token(token)
    except ValidationError as exc:
        return render(request, "hubs/invitation.html", {"error": _error_text(exc)}, status=400)
    if request.method == "POST" and request.user.is_authenticated:
        try:
            services.invitation_accept(token=token, user=request.user)
        except (ValidationError, InvalidTransition) as exc:
            messages.error(request, _error_text(exc))
        else:
            messages.success(request, f"Welcome to {invitation.hub}!")
            return redirect("hubs:hub_dashboard", slug=invitation.hub.slug)
    return render(request, "hubs/invitation.html", {"invitation": invitation, "token": token})


# --- Hub staff ----------------------------------------------------------------------------


@login_required
@vary_on_headers("HX-Request")
def manage(request, slug):
    hub = access.hub_for_staff(request.user, slug)
    status = request.GET.get("status", "")
    role = request.GET.get("role", "")
    q = request.GET.get("q", "").strip()
    page = _page(request, selectors.hub_members(hub, status=status, role=role, q=q))
    context = {
        "hub": hub,
        "page": page,
        "filters": {"status": status, "role": role, "q": q},
        "statuses": MembershipStatus.choices,
        "roles": Role.choices,
        "grantable_roles": [(r, label) for r, label in Role.choices if access.can_grant(request.user, hub, r)],
        "invite_form": InviteForm(),
        "invitations": Invitation.objects.filter(
            hub=hub, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
        ),
        "pending_count": hub.memberships.filter(status=MembershipStatus.REQUESTED).count(),
    }
    return render(request, "hubs/manage.html", context)


MEMBERSHIP_ACTIONS = {
    "approve": (services.membership_approve, "approved"),
    "reject": (services.membership_reject, "rejected"),
    "suspend": (services.membership_suspend, "suspended"),
    "reinstate": (services.membership_reinstate, "reinstated"),
}


@login_required
@require_POST
def membership_decide(request, pk, action):
    if action not in MEMBERSHIP_ACTIONS:
        raise PermissionDenied
    service, verb = MEMBERSHIP_ACTIONS[action]
    membership = access.membership_for_staff(request.user, pk)
    form = DecisionForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        service(membership=membership, acting_user=request.user, note=note)
        messages.success(request, f"{membership.user.display_name} {verb}.")
    except (InvalidTransition, PermissionDenied) as exc:
        messages.error(request, _error_text(exc))
    return _back_to_manage(request, membership)


@login_required
@require_POST
def membership_role(request, pk):
    membership = access.membership_for_staff(request.user, pk)
    form = RoleForm(request.POST)
    if form.is_valid():
        try:
            services.membership_change_role(
                membership=membership, role=form.cleaned_data["role"], acting_user=request.user
            )
            messages.success(request, f"{membership.user.display_name} is now {membership.get_role_display()}.")
        except (InvalidTransition, PermissionDenied, ValidationError) as exc:
            messages.error(request, _error_text(exc))
    else:
        messages.error(request, "Choose a valid role.")
    return _back_to_manage(request, membership)


def _back_to_manage(request, membership):
    if request.htmx:
        membership.refresh_from_db()
        return render(
            request,
            "hubs/manage.html#member-row",
            {
                "m": membership,
                "hub": membership.hub,
                "grantable_roles": [
                    (r, label) for r, label in Role.choices if access.can_grant(request.user, membership.hub, r)
                ],
            },
        )
    back = request.POST.get("next")
    # Only back to a page of this site: "next" comes from the form, and anyone can post one.
    if not (back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()})):
        back = reverse("hubs:manage", args=[membership.hub.slug])
    return redirect(back)


@login_required
@require_POST
def invite(request, slug):
    hub = access.hub_for_staff(request.user, slug)
    form = InviteForm(request.POST)
    if form.is_valid():
        try:
            invitation = services.invitation_create(hub=hub, acting_user=request.user, **form.cleaned_data)
            messages.success(request, f"Invitation sent to {invitation.email}.")
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, _error_text(exc))
    else:
        messages.error(request, "; ".join(f"{f}: {' '.join(e)}" for f, e in form.errors.items()))
    return redirect("hubs:manage", slug=hub.slug)


@login_required
@require_POST
def invitation_revoke(request, pk):
    invitation = get_object_or_404(
        access.scope_to_staff_hubs(Invitation.objects.select_related("hub"), request.user), pk=pk
    )
    try:
        services.invitation_revoke(invitation=invitation, acting_user=request.user)
        messages.success(request, f"Invitation of {invitation.email} withdrawn.")
    except InvalidTransition as exc:
        messages.error(request, exc.message)
    return redirect("hubs:manage", slug=invitation.hub.slug)
