"""Every write about events: create, edit, publish, cancel; registration with a waiting list;
pitch slots; attendance.

Capacity under concurrency: registering, cancelling and changing the capacity all lock the
event row first (``select_for_update``), then count. Registrations for one event therefore
queue up one after another; nobody can take the last place twice, and a cancellation
promotes exactly the first person on the waiting list, in the same transaction.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from gigafactory.audit import audit_record
from gigafactory.errors import InvalidTransition
from gigafactory.events import emit
from hubs.access import is_hub_staff
from hubs.services import notify

from . import access
from .models import (
    Event,
    EventKind,
    EventMode,
    EventStatus,
    PitchSlot,
    Registration,
    RegistrationRole,
    RegistrationStatus,
)

R = RegistrationStatus
MAX_CAPACITY = 100_000
EVENT_FIELDS = ("title", "kind", "description", "starts_at", "ends_at", "mode", "place", "link", "capacity")


def _when(dt) -> str:
    return timezone.localtime(dt).strftime("%a %d %b %Y, %H:%M")


def _require_staff(acting_user, hub):
    if acting_user is None or not is_hub_staff(acting_user, hub):
        raise PermissionDenied(f"You are not staff of {hub}.")


def _lock(event) -> Event:
    return Event.objects.select_for_update(of=("self",)).select_related("hub").get(pk=event.pk)


def _validate(values, *, now, new: bool) -> None:
    errors = {}
    if not (values.get("title") or "").strip():
        errors["title"] = "Give the event a title."
    if values.get("kind") not in EventKind.values:
        errors["kind"] = "Choose demo day, training programme or workshop."
    starts, ends = values.get("starts_at"), values.get("ends_at")
    if starts is None:
        errors["starts_at"] = "Give the start date and time."
    elif new and starts <= now:
        errors["starts_at"] = "The start is in the past: an event must start in the future."
    if ends is None:
        errors["ends_at"] = "Give the end date and time."
    elif starts is not None and ends <= starts:
        errors["ends_at"] = "The event must end after it starts."
    capacity = values.get("capacity")
    if isinstance(capacity, bool) or not isinstance(capacity, int) or not 1 <= capacity <= MAX_CAPACITY:
        errors["capacity"] = "Capacity must be at least 1 place."
    mode, place, link = values.get("mode"), (values.get("place") or "").strip(), (values.get("link") or "").strip()
    if mode not in EventMode.values:
        errors["mode"] = "Choose on site, online or both."
    else:
        if mode in (EventMode.ON_SITE, EventMode.HYBRID) and not place:
            errors["place"] = "Give the venue and address."
        if mode in (EventMode.ONLINE, EventMode.HYBRID):
            if not link:
                errors["link"] = "Give the streaming or video-call link."
            else:
                try:
                    URLValidator(schemes=["https", "http"])(link)
                except ValidationError:
                    errors["link"] = "Enter a valid link, starting with https://."
    if errors:
        raise ValidationError(errors)


def _check_capacity(event, capacity) -> int:
    confirmed = event.registrations.filter(status=R.CONFIRMED).count()
    if capacity < confirmed:
        raise ValidationError(
            {"capacity": f"{confirmed} people already have a confirmed place: the capacity cannot go below that."}
        )
    return confirmed


def event_validate(*, values, event=None) -> None:
    """Raise what ``event_create`` (no ``event``) or ``event_update`` would refuse, writing nothing.
    Forms that save in a later step (the admin) ask here first, so errors land on their fields."""
    if event is not None and event.status == EventStatus.CANCELLED:
        raise ValidationError("This event is cancelled; it can no longer be changed.")
    if event is not None:
        values = {f: getattr(event, f) for f in EVENT_FIELDS} | values
    values = {"mode": EventMode.ON_SITE, "description": "", "place": "", "link": ""} | values
    _validate(values, now=timezone.now(), new=event is None)
    if event is not None:
        _check_capacity(event, values["capacity"])


def _unique_slug(title, starts_at) -> str:
    base = slugify(f"{title}-{timezone.localtime(starts_at):%Y-%m-%d}")[:70] or "event"
    slug, n = base, 2
    while Event.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


@transaction.atomic
def event_create(*, hub, acting_user, **values) -> Event:
    """A draft event at ``hub`` (hub staff). Nobody sees it until it is published."""
    _require_staff(acting_user, hub)
    unknown = set(values) - set(EVENT_FIELDS)
    if unknown:
        raise ValidationError({sorted(unknown)[0]: "Unknown field."})
    values = {"mode": EventMode.ON_SITE, "description": "", "place": "", "link": ""} | values
    _validate(values, now=timezone.now(), new=True)
    event = Event(
        hub=hub,
        slug=_unique_slug(values["title"], values["starts_at"]),
        created_by=acting_user,
        **{k: (v.strip() if isinstance(v, str) else v) for k, v in values.items()},
    )
    if event.mode == EventMode.ON_SITE:
        event.link = ""
    if event.mode == EventMode.ONLINE:
        event.place = ""
    event.save()
    audit_record(
        event,
        "event.created",
        actor=acting_user,
        after={"title": event.title, "kind": event.kind, "starts_at": event.starts_at, "capacity": event.capacity},
    )
    return event


@transaction.atomic
def event_update(*, event, acting_user, **changes) -> Event:
    """Edit an event. Raising the capacity promotes people from the waiting list; it cannot go
    below the number of confirmed places."""
    _require_staff(acting_user, event.hub)
    unknown = set(changes) - set(EVENT_FIELDS)
    if unknown:
        raise ValidationError({sorted(unknown)[0]: "Unknown field."})
    event = _lock(event)
    if event.status == EventStatus.CANCELLED:
        raise InvalidTransition(event, "edit", "This event is cancelled.")
    values = {f: getattr(event, f) for f in EVENT_FIELDS} | changes
    _validate(values, now=timezone.now(), new=False)
    confirmed = _check_capacity(event, values["capacity"])
    before = {f: getattr(event, f) for f in changes}
    for field, value in values.items():
        setattr(event, field, value.strip() if isinstance(value, str) else value)
    event.save()
    audit_record(event, "event.updated", actor=acting_user, before=before, after=changes)
    _promote(event, room=event.capacity - confirmed)
    return event


@transaction.atomic
def event_publish(*, event, acting_user) -> Event:
    """Publish a draft: it appears in the public list and ``event.announced`` goes to the network."""
    _require_staff(acting_user, event.hub)
    now = timezone.now()
    won = Event.objects.filter(pk=event.pk, status=EventStatus.DRAFT).update(
        status=EventStatus.PUBLISHED, published_at=now, updated_at=now
    )
    if won != 1:
        event.refresh_from_db()
        raise InvalidTransition(event, "publish", f"This event is {event.get_status_display().lower()} already.")
    event.refresh_from_db()
    if event.ends_at <= now:
        raise ValidationError({"starts_at": "This event is over; it cannot be announced."})
    audit_record(event, "event.published", actor=acting_user, before={"status": "draft"}, after={"status": "published"})
    emit(
        "event.announced",
        hub=event.hub,
        payload={
            "event": event.slug,
            "title": event.title,
            "kind": event.kind,
            "hub": event.hub.slug,
            "starts_at": event.starts_at.isoformat(),
            "ends_at": event.ends_at.isoformat(),
            "mode": event.mode,
            "capacity": event.capacity,
            "url": reverse("events:event_detail", args=[event.slug]),
        },
    )
    return event


@transaction.atomic
def event_cancel(*, event, acting_user, reason: str = "") -> Event:
    """Cancel an event; everyone registered or waiting is told."""
    _require_staff(acting_user, event.hub)
    event = _lock(event)
    if event.status == EventStatus.CANCELLED:
        raise InvalidTransition(event, "cancel", "This event is cancelled already.")
    before = event.status
    event.status = EventStatus.CANCELLED
    event.published_at = event.published_at or timezone.now()
    event.save(update_fields=["status", "published_at", "updated_at"])
    audit_record(event, "event.cancelled", actor=acting_user, before={"status": before}, after={"reason": reason})
    people = [r.user for r in event.registrations.filter(status__in=[R.CONFIRMED, R.WAITLISTED]).select_related("user")]
    notify(
        users=people,
        kind="event.cancelled",
        title=f"Cancelled: {event.title} ({_when(event.starts_at)})",
        body=reason or f"{event.hub} has cancelled this event. We are sorry for the inconvenience.",
        url=event.get_absolute_url(),
        dedupe_key=f"event.cancelled:{event.pk}",
    )
    return event


# --- Pitch slots ----------------------------------------------------------------------------


def pitch_slot_validate(*, event, starts_at, minutes) -> None:
    """Raise what ``pitch_slot_add`` would refuse, writing nothing."""
    errors = {}
    if event.kind != EventKind.DEMO_DAY:
        errors["event"] = "Only demo days have pitch slots."
    if starts_at is None or not (event.starts_at <= starts_at < event.ends_at):
        errors["starts_at"] = "A pitch slot lies within the event's time."
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 120:
        errors["minutes"] = "A pitch lasts between 1 and 120 minutes."
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def pitch_slot_add(*, event, starts_at, minutes: int = 10, acting_user) -> PitchSlot:
    _require_staff(acting_user, event.hub)
    pitch_slot_validate(event=event, starts_at=starts_at, minutes=minutes)
    try:
        with transaction.atomic():
            slot = PitchSlot.objects.create(event=event, starts_at=starts_at, minutes=minutes)
    except IntegrityError as exc:
        raise ValidationError({"starts_at": "There is a pitch slot at this time already."}) from exc
    audit_record(slot, "event.pitch_slot_added", actor=acting_user, hub=event.hub, after={"starts_at": starts_at})
    return slot


@transaction.atomic
def pitch_slot_claim(*, registration, pitch_slot, acting_user) -> Registration:
    """A confirmed startup takes a free pitch slot of its demo day (or moves to another one)."""
    registration = access.registration_for(acting_user, registration.pk, for_write=True)
    if registration.user_id != acting_user.pk and not is_hub_staff(acting_user, registration.event.hub):
        raise PermissionDenied("Only the startup or hub staff choose a pitch slot.")
    if pitch_slot.event_id != registration.event_id:
        raise ValidationError({"pitch_slot": "Choose a pitch slot of this event."})
    if registration.role != RegistrationRole.STARTUP or registration.status != R.CONFIRMED:
        raise ValidationError({"pitch_slot": "Only startups with a confirmed place pitch."})
    PitchSlot.objects.select_for_update().filter(pk=pitch_slot.pk).first()
    holder = Registration.objects.filter(pitch_slot=pitch_slot).exclude(pk=registration.pk).first()
    if holder is not None:
        raise InvalidTransition(registration, "claim", "This pitch slot is taken; choose another one.")
    before = registration.pitch_slot_id
    try:
        with transaction.atomic():
            Registration.objects.filter(pk=registration.pk).update(pitch_slot=pitch_slot, updated_at=timezone.now())
    except IntegrityError as exc:  # event_pitch_slot_one_holder
        raise InvalidTransition(registration, "claim", "This pitch slot is taken; choose another one.") from exc
    registration.pitch_slot = pitch_slot
    audit_record(
        registration,
        "event.pitch_slot_claimed",
        actor=acting_user,
        hub=registration.event.hub,
        before={"pitch_slot": before},
        after={"pitch_slot": pitch_slot.pk},
    )
    return registration


@transaction.atomic
def pitch_slot_release(*, pitch_slot, acting_user) -> Registration:
    """The startup holding a pitch slot (or hub staff) gives it back; another startup may claim it."""
    # The same lock as claiming: a release and a claim of this slot run one after the other.
    pitch_slot = PitchSlot.objects.select_for_update().select_related("event__hub").get(pk=pitch_slot.pk)
    holder = (
        Registration.objects.select_for_update(of=("self",))
        .select_related("event", "event__hub")
        .filter(pitch_slot=pitch_slot)
        .first()
    )
    if holder is None:
        raise InvalidTransition(pitch_slot, "release", "This pitch slot is free already.")
    if holder.user_id != acting_user.pk and not is_hub_staff(acting_user, pitch_slot.event.hub):
        raise PermissionDenied("Only the startup holding this pitch slot or hub staff can release it.")
    Registration.objects.filter(pk=holder.pk).update(pitch_slot=None, updated_at=timezone.now())
    holder.pitch_slot = None
    audit_record(
        holder,
        "event.pitch_slot_released",
        actor=acting_user,
        hub=pitch_slot.event.hub,
        before={"pitch_slot": pitch_slot.pk},
        after={"pitch_slot": None},
    )
    return holder


# --- Registration -----------------------------------------------------------------------------


def waiting_position(registration) -> int | None:
    """1 for the next person to be promoted."""
    if registration.status != R.WAITLISTED:
        return None
    ahead = Registration.objects.filter(event_id=registration.event_id, status=R.WAITLISTED).filter(
        Q(created_at__lt=registration.created_at) | Q(created_at=registration.created_at, pk__lt=registration.pk)
    )
    return ahead.count() + 1


@transaction.atomic
def registration_create(
    *, event, acting_user, role: str = RegistrationRole.ATTENDEE, organisation_name: str = "", note: str = ""
) -> Registration:
    """Register ``acting_user``: a confirmed place while there is room, else the waiting list."""
    if acting_user is None or not acting_user.is_authenticated or not acting_user.is_active:
        raise PermissionDenied("Sign in to register.")
    event = _lock(event)  # every registration for this event waits here: the count below is exact
    now = timezone.now()
    if event.status != EventStatus.PUBLISHED:
        raise InvalidTransition(event, "register for", f"This event is {event.get_status_display().lower()}.")
    if event.starts_at <= now:
        raise ValidationError({"event": "This event has started; registration is closed."})
    if role not in RegistrationRole.values:
        raise ValidationError({"role": "Choose attendee, investor or startup."})
    if role != RegistrationRole.ATTENDEE and event.kind != EventKind.DEMO_DAY:
        raise ValidationError({"role": "Investors and pitching startups register for demo days only."})
    if role == RegistrationRole.STARTUP and not (organisation_name or "").strip():
        raise ValidationError({"organisation_name": "Give your startup's name."})
    if event.registrations.filter(user=acting_user, status__in=[R.CONFIRMED, R.WAITLISTED]).exists():
        raise InvalidTransition(event, "register for", "You are already registered for this event.")
    confirmed = event.registrations.filter(status=R.CONFIRMED).count()
    status = R.CONFIRMED if confirmed < event.capacity else R.WAITLISTED
    try:
        with transaction.atomic():
            registration = Registration.objects.create(
                event=event,
                user=acting_user,
                role=role,
                organisation_name=(organisation_name or "").strip()[:200],
                note=(note or "").strip(),
                status=status,
            )
    except IntegrityError as exc:  # event_registration_once_per_user
        raise InvalidTransition(event, "register for", "You are already registered for this event.") from exc
    audit_record(
        registration, "event.registered", actor=acting_user, hub=event.hub, after={"status": status, "role": role}
    )
    from .tasks import send_registration_email

    send_registration_email.delay_on_commit(registration.pk)
    return registration


def _promote(event, *, room: int) -> list[Registration]:
    """Give up to ``room`` places to the first people on the waiting list (caller holds the event lock)."""
    if room <= 0:
        return []
    now = timezone.now()
    promoted = list(
        Registration.objects.filter(event=event, status=R.WAITLISTED)
        .select_related("user")
        .order_by("created_at", "pk")[:room]
    )
    for registration in promoted:
        Registration.objects.filter(pk=registration.pk, status=R.WAITLISTED).update(
            status=R.CONFIRMED, promoted_at=now, updated_at=now
        )
        registration.status, registration.promoted_at = R.CONFIRMED, now
        audit_record(
            registration,
            "event.promoted",
            actor=None,
            actor_label="waiting list",
            hub=event.hub,
            before={"status": R.WAITLISTED},
            after={"status": R.CONFIRMED},
        )
        notify(
            users=[registration.user],
            kind="event.promoted",
            title=f"A place is free: you are now registered for {event.title}",
            body=(
                f"Good news: a place opened up and you moved from the waiting list to a confirmed place.\n\n"
                f"{event.title}\n{_when(event.starts_at)}\n{event.place or event.link}\n\n"
                "If you can no longer come, please cancel so the next person can have your place."
            ),
            url=event.get_absolute_url(),
            dedupe_key=f"event.promoted:{registration.pk}",
        )
    return promoted


@transaction.atomic
def registration_cancel(*, registration, acting_user) -> Registration:
    """Cancel a registration (the person, or hub staff). A freed place goes to the next person
    on the waiting list, who is told."""
    registration = access.registration_for(acting_user, registration.pk)
    if registration.user_id != acting_user.pk and not is_hub_staff(acting_user, registration.event.hub):
        raise PermissionDenied("Only the person registered or hub staff can cancel this registration.")
    event = _lock(registration.event)  # the same lock as registering: promotion cannot race
    now = timezone.now()
    previous = Registration.objects.filter(pk=registration.pk).values_list("status", flat=True).first()
    won = Registration.objects.filter(pk=registration.pk, status__in=[R.CONFIRMED, R.WAITLISTED]).update(
        status=R.CANCELLED, cancelled_at=now, pitch_slot=None, attended=None, updated_at=now
    )
    if won != 1:
        registration.refresh_from_db()
        raise InvalidTransition(registration, "cancel", "This registration is cancelled already.")
    registration.refresh_from_db()
    audit_record(
        registration, "event.registration_cancelled", actor=acting_user, hub=event.hub, before={"status": previous}
    )
    if previous == R.CONFIRMED and event.status == EventStatus.PUBLISHED and event.starts_at > now:
        _promote(event, room=1)
    return registration


@transaction.atomic
def attendance_mark(*, registration, attended: bool, acting_user) -> Registration:
    """Hub staff record whether a confirmed participant came (from the event's start on)."""
    registration = access.registration_for(acting_user, registration.pk, for_write=True)
    _require_staff(acting_user, registration.event.hub)
    if registration.status != R.CONFIRMED:
        raise ValidationError({"attended": "Only confirmed participants can be marked."})
    if registration.event.starts_at > timezone.now():
        raise ValidationError({"attended": "Attendance is marked once the event has started."})
    if not isinstance(attended, bool):
        raise ValidationError({"attended": "Say yes or no."})
    before = registration.attended
    now = timezone.now()
    Registration.objects.filter(pk=registration.pk).update(
        attended=attended, attendance_marked_at=now, attendance_marked_by=acting_user, updated_at=now
    )
    registration.attended, registration.attendance_marked_at = attended, now
    if before != attended:
        audit_record(
            registration,
            "event.attendance_marked",
            actor=acting_user,
            hub=registration.event.hub,
            before={"attended": before},
            after={"attended": attended},
        )
    return registration
