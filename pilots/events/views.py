"""Browser pages of the network's events.

- Everyone: the list of events (filters: hub, kind, when, search) and an event's page with its
  calendar file.
- Signed-in people: register (a place or the waiting list), cancel (with a confirmation page),
  their registrations; startups pick a pitch slot on demo days.
- Hub staff (``/staff/events/``: the staff MFA middleware covers these): their hubs' events,
  drafts included, create / edit / publish, pitch slots, registrations and attendance.

Objects come from ``events.access``; every change is an ``events.services`` call.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from gigafactory.errors import InvalidTransition
from gigafactory.forms import add_service_errors
from hubs import access as hub_access
from hubs.models import Hub

from . import access, selectors, services
from .forms import EventFilterForm, EventForm, PitchSlotForm, RegistrationForm
from .ical import event_calendar
from .models import ACTIVE_REGISTRATION, EventStatus, PitchSlot, Registration, RegistrationRole, RegistrationStatus

PAGE_SIZE = 20
REFUSED = (InvalidTransition, PermissionDenied, ValidationError)


def _text(exc) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return getattr(exc, "message", None) or str(exc) or "This is not allowed."


def _page(request, qs, size=PAGE_SIZE):
    return Paginator(qs, size).get_page(request.GET.get("page"))


# --- Public ----------------------------------------------------------------------------------


@vary_on_headers("HX-Request")
def event_list(request):
    hubs = hub_access.visible_hubs(request.user).order_by("name").only("slug", "name")
    form = EventFilterForm(request.GET or None, hubs=hubs)
    filters = form.filters()
    page = _page(request, selectors.event_list(user=request.user, **filters))
    context = {
        "form": form,
        "page": page,
        "filters": filters,
        "is_filtered": any(filters[k] for k in ("q", "hub", "kind")) or filters["when"] != "upcoming",
        "is_staff": request.user.is_authenticated and hub_access.is_any_hub_staff(request.user),
    }
    template = "events/event_list.html#results" if request.htmx else "events/event_list.html"
    return render(request, template, context)


def event_detail(request, slug):
    event = access.event_for_visitor(request.user, slug)
    counts = selectors.with_counts(type(event).objects.filter(pk=event.pk)).values("confirmed_count", "waiting_count")[
        0
    ]
    mine = None
    if request.user.is_authenticated:
        mine = event.registrations.filter(user=request.user, status__in=ACTIVE_REGISTRATION).first()
    pitch_slots = list(event.pitch_slots.all())
    taken = dict(Registration.objects.filter(pitch_slot__event=event).values_list("pitch_slot_id", "organisation_name"))
    for slot in pitch_slots:
        slot.holder = taken.get(slot.pk)
    now = timezone.now()
    can_register = event.status == EventStatus.PUBLISHED and event.starts_at > now and mine is None
    context = {
        "event": event,
        "confirmed_count": counts["confirmed_count"],
        "waiting_count": counts["waiting_count"],
        "places_left": max(0, event.capacity - counts["confirmed_count"]),
        "mine": mine,
        "position": services.waiting_position(mine) if mine else None,
        "can_register": can_register,
        "form": RegistrationForm(demo_day=event.is_demo_day) if can_register else None,
        "pitch_slots": pitch_slots,
        "can_pitch": bool(
            mine and mine.role == RegistrationRole.STARTUP and mine.status == RegistrationStatus.CONFIRMED
        ),
        "is_over": event.ends_at <= now,
        "can_manage": access.can_manage_event(request.user, event),
    }
    return render(request, "events/event_detail.html", context)


def event_ics(request, slug):
    event = access.event_for_visitor(request.user, slug)
    response = HttpResponse(event_calendar(event), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{event.slug}.ics"'
    return response


@require_POST
@login_required
def event_register(request, slug):
    event = access.event_for_visitor(request.user, slug)
    form = RegistrationForm(request.POST, demo_day=event.is_demo_day)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"{form.fields[field].label if field in form.fields else ''}: {' '.join(errors)}")
        return redirect(event)
    try:
        registration = services.registration_create(event=event, acting_user=request.user, **form.cleaned_data)
    except REFUSED as exc:
        messages.error(request, _text(exc))
        return redirect(event)
    if registration.status == RegistrationStatus.CONFIRMED:
        messages.success(
            request, f"You are registered for {event.title}. A confirmation with a calendar file is on its way."
        )
    else:
        position = services.waiting_position(registration)
        messages.warning(
            request,
            f"{event.title} is full: you are number {position} on the waiting list. "
            "We will tell you as soon as a place is yours.",
        )
    return redirect(event)


@login_required
def registration_cancel(request, pk):
    registration = access.registration_for(request.user, pk)
    event = registration.event
    if registration.status == RegistrationStatus.CANCELLED:
        messages.info(request, "This registration is cancelled already.")
        return redirect(event)
    if request.method == "POST":
        try:
            services.registration_cancel(registration=registration, acting_user=request.user)
        except REFUSED as exc:
            messages.error(request, _text(exc))
        else:
            messages.success(request, f"Your registration for {event.title} is cancelled.")
        return redirect(event)
    return render(request, "events/registration_cancel.html", {"registration": registration, "event": event})


@require_POST
@login_required
def pitch_claim(request, pk):
    registration = access.registration_for(request.user, pk)
    pitch_slot = get_object_or_404(PitchSlot, pk=request.POST.get("pitch_slot") or 0, event=registration.event)
    try:
        services.pitch_slot_claim(registration=registration, pitch_slot=pitch_slot, acting_user=request.user)
    except REFUSED as exc:
        messages.error(request, _text(exc))
    else:
        messages.success(request, f"Your pitch is at {timezone.localtime(pitch_slot.starts_at):%H:%M}.")
    return redirect(registration.event)


@login_required
def my_registrations(request):
    page = _page(request, selectors.registrations_of(request.user))
    return render(request, "events/my_registrations.html", {"page": page, "now": timezone.now()})


# --- Hub staff -------------------------------------------------------------------------------


def _staff_hubs(user):
    ids = hub_access.staff_hub_ids(user)
    if ids == set():
        raise Http404("You are not staff of any hub.")
    return list((Hub.objects.all() if ids is None else Hub.objects.filter(pk__in=ids)).order_by("name"))


@login_required
def staff_events(request):
    _staff_hubs(request.user)
    qs = selectors.with_counts(access.events_for_staff(request.user).select_related("hub")).order_by(
        "-starts_at", "-pk"
    )
    return render(request, "events/staff_events.html", {"page": _page(request, qs)})


@login_required
def staff_event_create(request):
    hubs = _staff_hubs(request.user)
    form = EventForm(request.POST or None, hubs=hubs)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        hub_id = data.pop("hub")  # popped once: the generator below would pop it again per hub
        hub = next(h for h in hubs if str(h.pk) == hub_id)
        try:
            event = services.event_create(hub=hub, acting_user=request.user, **data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Draft saved. Check it, then publish it to announce it to the network.")
            return redirect(event)
    return render(request, "events/event_form.html", {"form": form, "title": "New event"})


@login_required
def staff_event_edit(request, slug):
    event = access.event_for_staff(request.user, slug)
    initial = {f: getattr(event, f) for f in services.EVENT_FIELDS}
    initial["starts_at"] = timezone.localtime(event.starts_at)
    initial["ends_at"] = timezone.localtime(event.ends_at)
    form = EventForm(request.POST or None, hubs=[], editing=True, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.event_update(event=event, acting_user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        except (InvalidTransition, PermissionDenied) as exc:
            messages.error(request, _text(exc))
            return redirect(event)
        else:
            messages.success(request, "Event updated.")
            return redirect(event)
    return render(request, "events/event_form.html", {"form": form, "event": event, "title": f"Edit {event.title}"})


@login_required
def staff_event_publish(request, slug):
    event = access.event_for_staff(request.user, slug)
    if request.method == "POST":
        try:
            services.event_publish(event=event, acting_user=request.user)
        except REFUSED as exc:
            messages.error(request, _text(exc))
        else:
            messages.success(request, f"{event.title} is published and announced to the network.")
        return redirect(event)
    return render(request, "events/event_publish.html", {"event": event})


@login_required
def staff_event_cancel(request, slug):
    event = access.event_for_staff(request.user, slug)
    if request.method == "POST":
        try:
            services.event_cancel(event=event, acting_user=request.user, reason=request.POST.get("reason", "")[:500])
        except REFUSED as exc:
            messages.error(request, _text(exc))
        else:
            messages.success(request, f"{event.title} is cancelled; everyone registered has been told.")
        return redirect(event)
    count = event.registrations.filter(status__in=ACTIVE_REGISTRATION).count()
    return render(request, "events/event_cancel.html", {"event": event, "count": count})


@login_required
def staff_attendance(request, slug):
    """Registrations of one event; from its start, staff tick who came."""
    event = access.event_for_staff(request.user, slug)
    started = event.starts_at <= timezone.now()
    if request.method == "POST":
        if not started:
            messages.error(request, "Attendance is marked once the event has started.")
            return redirect("events:staff_attendance", slug=event.slug)
        present = set(request.POST.getlist("present"))
        shown = [int(pk) for pk in request.POST.getlist("shown") if pk.isdigit()]
        changed = 0
        for registration in event.registrations.filter(pk__in=shown, status=RegistrationStatus.CONFIRMED):
            attended = str(registration.pk) in present
            if registration.attended is not attended:
                services.attendance_mark(registration=registration, attended=attended, acting_user=request.user)
                changed += 1
        messages.success(request, f"Attendance saved ({changed} change{'s' if changed != 1 else ''}).")
        return redirect(f"{request.path}?page={request.GET.get('page', 1)}")
    page = _page(request, selectors.registrations_of_event(event), 50)
    pitch_form = PitchSlotForm()
    context = {
        "event": event,
        "page": page,
        "started": started,
        "pitch_form": pitch_form,
        "pitch_slots": list(event.pitch_slots.all()),
        "attended_count": event.registrations.filter(attended=True).count(),
    }
    return render(request, "events/staff_attendance.html", context)


@require_POST
@login_required
def staff_pitch_slot_add(request, slug):
    event = access.event_for_staff(request.user, slug)
    form = PitchSlotForm(request.POST)
    if form.is_valid():
        try:
            services.pitch_slot_add(event=event, acting_user=request.user, **form.cleaned_data)
        except REFUSED as exc:
            messages.error(request, _text(exc))
        else:
            messages.success(request, "Pitch slot added.")
    else:
        messages.error(request, " ".join(f"{form.fields[f].label}: {' '.join(e)}" for f, e in form.errors.items()))
    return redirect("events:staff_attendance", slug=event.slug)
