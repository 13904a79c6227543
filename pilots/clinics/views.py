"""Browser pages of the AI clinics.

- Everyone: the list of upcoming slots (filter by hub, topic, date, on site/online) and a slot's page.
- Signed-in people: book with the intake form, their bookings, move or cancel one (each with a
  confirmation page), the calendar file.
- Experts and hub staff: their slots with the intakes, publish / edit / withdraw a slot, record
  the follow-up of a session.

Objects come from ``clinics.access``; every change is a ``clinics.services`` call; a refused
change becomes a message or a form error, never an error page.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.vary import vary_on_headers

from gigafactory.errors import InvalidTransition
from gigafactory.forms import add_service_errors
from hubs import access as hub_access
from hubs.models import Hub, User

from . import access, selectors, services
from .forms import BookingForm, CancelForm, FollowUpForm, SlotFilterForm, SlotForm
from .ical import booking_calendar
from .models import BookingStatus, SlotStatus

PAGE_SIZE = 20
REFUSED = (InvalidTransition, PermissionDenied)


def _page(request, qs, size=PAGE_SIZE):
    return Paginator(qs, size).get_page(request.GET.get("page"))


def _refusal_text(exc) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return getattr(exc, "message", None) or str(exc) or "This is not allowed."


# --- Public list and slot page ---------------------------------------------------------------


@vary_on_headers("HX-Request")
def slot_list(request):
    hubs = hub_access.visible_hubs(request.user).order_by("name").only("slug", "name")
    form = SlotFilterForm(request.GET or None, hubs=hubs)
    filters = form.filters()
    qs = selectors.slot_list(user=request.user, **(filters | {"free": bool(filters["free"])}))
    page = _page(request, qs)
    context = {
        "form": form,
        "page": page,
        "filters": filters,
        "is_filtered": any(filters.values()),
        "can_publish": request.user.is_authenticated and access.expert_hub_ids(request.user) != set(),
    }
    template = "clinics/slot_list.html#results" if request.htmx else "clinics/slot_list.html"
    return render(request, template, context)


def slot_detail(request, pk):
    slot = access.slot_for_visitor(request.user, pk)
    is_booked = slot.bookings.filter(status=BookingStatus.BOOKED).exists()
    my_booking = None
    if request.user.is_authenticated:
        my_booking = slot.bookings.filter(user=request.user, status=BookingStatus.BOOKED).first()
    form = BookingForm()
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect(f"{reverse('account_login')}?next={slot.get_absolute_url()}")
        form = BookingForm(request.POST)
        if form.is_valid():
            try:
                booking = services.booking_create(slot=slot, acting_user=request.user, **form.cleaned_data)
            except ValidationError as exc:
                if "slot" in getattr(exc, "error_dict", {}):  # the slot itself cannot be booked
                    messages.error(request, " ".join(exc.message_dict["slot"]))
                    return redirect(slot)
                add_service_errors(form, exc)
            except REFUSED as exc:
                messages.error(request, _refusal_text(exc))
                return redirect(slot)
            else:
                messages.success(
                    request,
                    f"Booked: {slot.topic} on {timezone.localtime(slot.starts_at):%A %d %B at %H:%M}. "
                    f"A confirmation with a calendar file is on its way to {request.user.email}.",
                )
                return redirect(booking)
    context = {
        "slot": slot,
        "is_booked": is_booked,
        "my_booking": my_booking,
        "is_past": slot.starts_at <= timezone.now(),
        "can_manage": access.can_manage_slot(request.user, slot),
        "form": form,
    }
    return render(request, "clinics/slot_detail.html", context)


# --- Bookings --------------------------------------------------------------------------------


@login_required
def booking_list(request):
    page = _page(request, selectors.bookings_of(request.user))
    now = timezone.now()
    return render(request, "clinics/booking_list.html", {"page": page, "now": now})


@login_required
def booking_detail(request, pk):
    booking = access.booking_for(request.user, pk)
    follow_up_form = None
    can_follow_up = access.can_follow_up(request.user, booking)
    if can_follow_up:
        follow_up_form = FollowUpForm(initial={"notes": booking.follow_up_notes})
        if request.method == "POST":
            follow_up_form = FollowUpForm(request.POST)
            if follow_up_form.is_valid():
                try:
                    services.booking_follow_up(
                        booking=booking,
                        acting_user=request.user,
                        notes=follow_up_form.cleaned_data["notes"],
                        recommendations=follow_up_form.recommendations(),
                    )
                except ValidationError as exc:
                    add_service_errors(follow_up_form, exc)
                except REFUSED as exc:
                    messages.error(request, _refusal_text(exc))
                    return redirect(booking)
                else:
                    messages.success(request, f"Follow-up saved; {booking.user.display_name} has been told.")
                    return redirect(booking)
    elif request.method == "POST":
        raise PermissionDenied("Only the expert records the follow-up.")
    context = {
        "booking": booking,
        "slot": booking.slot,
        "recommendations": list(booking.recommendations.all()),
        "is_booker": booking.user_id == request.user.pk,
        "is_advisor": access.is_advisor(request.user, booking),
        "can_cancel": access.can_cancel(request.user, booking),
        "can_reschedule": access.can_reschedule(request.user, booking),
        "follow_up_form": follow_up_form,
        "moved_to": getattr(booking, "rescheduled_to", None) if booking.status == BookingStatus.RESCHEDULED else None,
    }
    return render(request, "clinics/booking_detail.html", context)


@login_required
def booking_ics(request, pk):
    booking = access.booking_for(request.user, pk)
    response = HttpResponse(booking_calendar(booking), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="clinic-{booking.pk}.ics"'
    return response


@login_required
def booking_cancel(request, pk):
    booking = access.booking_for(request.user, pk)
    if not access.can_cancel(request.user, booking):
        messages.error(request, "This booking cannot be cancelled any more.")
        return redirect(booking)
    form = CancelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.booking_cancel(booking=booking, acting_user=request.user, reason=form.cleaned_data["reason"])
        except (*REFUSED, ValidationError) as exc:
            messages.error(request, _refusal_text(exc))
        else:
            messages.success(
                request, "The booking is cancelled. A cancellation e-mail with a calendar update is on its way."
            )
        return redirect(booking)
    return render(request, "clinics/booking_cancel.html", {"booking": booking, "slot": booking.slot, "form": form})


@login_required
def booking_reschedule(request, pk):
    """Choose another free slot of the same hub, then confirm the move."""
    booking = access.booking_for(request.user, pk)
    if not access.can_reschedule(request.user, booking):
        messages.error(request, "Only an upcoming booking of yours can be moved.")
        return redirect(booking)
    candidates = selectors.open_slots_for_reschedule(booking, request.user)
    chosen_id = request.POST.get("slot") or request.GET.get("slot")
    chosen = None
    if chosen_id and chosen_id.isdigit():
        chosen = candidates.filter(pk=int(chosen_id)).first()
        if chosen is None:
            messages.error(request, "That slot is no longer free; please choose another one.")
    if request.method == "POST" and chosen is not None:
        try:
            moved = services.booking_reschedule(booking=booking, new_slot=chosen, acting_user=request.user)
        except (*REFUSED, ValidationError) as exc:
            messages.error(request, _refusal_text(exc))
            return redirect("clinics:booking_reschedule", pk=booking.pk)
        messages.success(
            request,
            f"Moved to {timezone.localtime(moved.slot.starts_at):%A %d %B at %H:%M}. "
            "An updated calendar file is on its way by e-mail.",
        )
        return redirect(moved)
    context = {
        "booking": booking,
        "slot": booking.slot,
        "chosen": chosen,
        "page": None if chosen else _page(request, candidates, 10),
        "filters": {},
    }
    return render(request, "clinics/booking_reschedule.html", context)


# --- Experts ---------------------------------------------------------------------------------


def _require_expert(user):
    if access.expert_hub_ids(user) == set():
        raise Http404("You are not a clinic expert or staff of any hub.")


@login_required
def expert_slots(request):
    """The expert's own slots with each booking's intake; hub staff also see their hubs' slots."""
    _require_expert(request.user)
    when = "past" if request.GET.get("when") == "past" else "upcoming"
    page = _page(request, selectors.expert_slots(request.user, when=when))
    staff_ids = hub_access.staff_hub_ids(request.user)
    hub_page = None
    if when == "upcoming" and staff_ids != set():
        ids = staff_ids if staff_ids is not None else list(Hub.objects.values_list("pk", flat=True))
        hub_page = Paginator(selectors.hub_slots_for_staff(request.user, hub_ids=ids), PAGE_SIZE).get_page(
            request.GET.get("hub_page")
        )
    context = {"page": page, "hub_page": hub_page, "when": when, "filters": {"when": when}}
    return render(request, "clinics/expert_slots.html", context)


def _publish_choices(user):
    ids = access.expert_hub_ids(user)
    hubs = Hub.objects.all() if ids is None else Hub.objects.filter(pk__in=ids)
    hubs = list(hubs.order_by("name"))
    staff_ids = hub_access.staff_hub_ids(user)
    experts = {user.pk: user}
    for hub in hubs:
        if staff_ids is None or hub.pk in staff_ids:
            for expert in access.eligible_experts(hub):
                experts.setdefault(expert.pk, expert)
    return hubs, list(experts.values())


@login_required
def slot_create(request):
    _require_expert(request.user)
    hubs, experts = _publish_choices(request.user)
    initial = {"expert": str(request.user.pk), "hub": request.GET.get("hub", "")}
    form = SlotForm(request.POST or None, hubs=hubs, experts=experts, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        hub_id = data.pop("hub")  # popped once: the generator below would pop it again per hub
        hub = next(h for h in hubs if str(h.pk) == hub_id)
        expert = User.objects.get(pk=int(data.pop("expert")))
        try:
            slot = services.slot_create(hub=hub, expert=expert, acting_user=request.user, **data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request, f"Slot published: {slot.topic}, {timezone.localtime(slot.starts_at):%d %b %H:%M}."
            )
            return redirect("clinics:expert_slots")
    return render(request, "clinics/slot_form.html", {"form": form, "title": "Publish a clinic slot"})


@login_required
def slot_edit(request, pk):
    slot = access.slot_for_manager(request.user, pk)
    initial = {
        "topic": slot.topic,
        "description": slot.description,
        "starts_at": timezone.localtime(slot.starts_at),
        "duration_minutes": slot.duration_minutes,
        "mode": slot.mode,
        "place": slot.place,
        "link": slot.link,
    }
    form = SlotForm(request.POST or None, hubs=[], experts=[], editing=True, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.slot_update(slot=slot, acting_user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except REFUSED as exc:
            messages.error(request, _refusal_text(exc))
            return redirect(slot)
        else:
            messages.success(request, "Slot updated.")
            return redirect(slot)
    return render(request, "clinics/slot_form.html", {"form": form, "slot": slot, "title": f"Edit “{slot.topic}”"})


@login_required
def slot_withdraw(request, pk):
    slot = access.slot_for_manager(request.user, pk)
    if slot.status != SlotStatus.PUBLISHED:
        messages.info(request, "This slot is already withdrawn.")
        return redirect("clinics:expert_slots")
    booking = slot.bookings.filter(status=BookingStatus.BOOKED).select_related("user").first()
    form = CancelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.slot_withdraw(slot=slot, acting_user=request.user, reason=form.cleaned_data["reason"])
        except REFUSED as exc:
            messages.error(request, _refusal_text(exc))
        else:
            told = f" {booking.user.display_name}'s booking is cancelled and they have been told." if booking else ""
            messages.success(request, f"Slot withdrawn.{told}")
        return redirect("clinics:expert_slots")
    return render(request, "clinics/slot_withdraw.html", {"slot": slot, "booking": booking, "form": form})
