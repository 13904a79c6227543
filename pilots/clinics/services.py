"""Every write about AI clinics: experts, slots, bookings, follow-ups and reminders.

Each function checks who acts, validates (a ``ValidationError`` names the field), changes the
rows in one transaction, writes the audit trail, queues e-mails on commit and announces
``booking.made`` / ``booking.cancelled`` on the event bus.

Races: booking locks the slot row first (``select_for_update``), so two people booking one
slot at once queue up and the second is told it is taken; the partial unique constraint
``clinic_slot_booked_once`` is the last word if anything slips past. Publishing a slot locks
the expert's user row so two overlapping slots of one expert cannot both pass the check; on
PostgreSQL the exclusion constraint ``clinic_slot_expert_no_overlap`` guards it as well.
"""

import uuid
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from gigafactory.audit import audit_record
from gigafactory.errors import InvalidTransition
from gigafactory.events import emit
from hubs.access import is_hub_staff
from hubs.models import Sector, User
from hubs.services import notify

from . import access
from .models import BookingStatus, ClinicBooking, ClinicExpert, ClinicSlot, Mode, Recommendation, SlotStatus

MIN_MINUTES = 15
MAX_MINUTES = 8 * 60
MAX_RECOMMENDATIONS = 10
B = BookingStatus


def _ical_domain() -> str:
    return settings.SITE_URL.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "gigafactory.local"


def _when(dt) -> str:
    return timezone.localtime(dt).strftime("%a %d %b %Y, %H:%M")


# --- Experts -------------------------------------------------------------------------------


def _require_staff(acting_user, hub):
    if acting_user is None or not is_hub_staff(acting_user, hub):
        raise PermissionDenied(f"You are not staff of {hub}.")


@transaction.atomic
def expert_mark(*, hub, user, expertise: str, acting_user, active: bool = True) -> ClinicExpert:
    """Mark ``user`` (an active member of ``hub``) as a clinic expert, or update their expertise."""
    _require_staff(acting_user, hub)
    expertise = (expertise or "").strip()
    if not expertise:
        raise ValidationError({"expertise": "Say what this expert advises on."})
    if not user.memberships.filter(hub=hub, status="active").exists():
        raise ValidationError({"user": f"{user} is not an active member of {hub}."})
    expert, created = ClinicExpert.objects.update_or_create(
        hub=hub, user=user, defaults={"expertise": expertise[:200], "active": active, "added_by": acting_user}
    )
    audit_record(
        expert,
        "clinic_expert.marked" if created else "clinic_expert.updated",
        actor=acting_user,
        after={"user": user.pk, "expertise": expert.expertise, "active": active},
    )
    return expert


# --- Slots ---------------------------------------------------------------------------------


def _validate_slot(*, hub, expert, topic, starts_at, duration_minutes, mode, place, link, now, exclude_pk=None):
    errors = {}
    if not (topic or "").strip():
        errors["topic"] = "Give the slot a topic, e.g. “Computer vision for quality control”."
    if starts_at is None:
        errors["starts_at"] = "Give the start time."
    elif starts_at <= now:
        errors["starts_at"] = "The start time is in the past: a slot must start in the future."
    if isinstance(duration_minutes, bool) or not isinstance(duration_minutes, int):
        errors["duration_minutes"] = "Give the duration in whole minutes."
    elif not MIN_MINUTES <= duration_minutes <= MAX_MINUTES:
        errors["duration_minutes"] = f"A slot lasts between {MIN_MINUTES} and {MAX_MINUTES} minutes."
    if mode not in Mode.values:
        errors["mode"] = "Choose on site or online."
    elif mode == Mode.ON_SITE and not (place or "").strip():
        errors["place"] = "An on-site slot needs a place (room and address)."
    elif mode == Mode.ONLINE:
        if not (link or "").strip():
            errors["link"] = "An online slot needs a video-call link."
        else:
            try:
                URLValidator(schemes=["https", "http"])(link)
            except ValidationError:
                errors["link"] = "Enter a valid link, starting with https://."
    if expert is None or not access.eligible_experts(hub).filter(pk=expert.pk).exists():
        errors["expert"] = f"{expert or 'Nobody'} is not an expert or staff member of {hub}."
    if not errors:
        ends_at = starts_at + timedelta(minutes=duration_minutes)
        clash = ClinicSlot.objects.filter(
            expert=expert, status=SlotStatus.PUBLISHED, starts_at__lt=ends_at, ends_at__gt=starts_at
        ).exclude(pk=exclude_pk)
        other = clash.select_related("hub").first()
        if other is not None:
            errors["starts_at"] = (
                f"{expert} already has a slot from {_when(other.starts_at)} to "
                f"{timezone.localtime(other.ends_at):%H:%M} ({other.hub}): slots of one expert cannot overlap."
            )
    if errors:
        raise ValidationError(errors)


def _lock_expert(expert):
    """Serialise slot changes per expert, so the overlap check cannot race with itself."""
    if expert is not None:
        User.objects.select_for_update().filter(pk=expert.pk).first()


OVERLAP_MESSAGE = "The expert already has a slot at this time: slots of one expert cannot overlap."


@transaction.atomic
def slot_create(
    *,
    hub,
    expert,
    topic: str,
    starts_at,
    duration_minutes: int,
    mode: str = Mode.ON_SITE,
    place: str = "",
    link: str = "",
    description: str = "",
    acting_user,
) -> ClinicSlot:
    """Publish an advice slot. Experts publish their own; hub staff publish for any expert of the hub."""
    if not access.is_expert_at(acting_user, hub):
        raise PermissionDenied(f"Only staff and clinic experts of {hub} publish its clinic slots.")
    if expert is not None and expert.pk != acting_user.pk and not is_hub_staff(acting_user, hub):
        raise PermissionDenied("Experts publish their own slots; hub staff publish for others.")
    _lock_expert(expert)
    _validate_slot(
        hub=hub,
        expert=expert,
        topic=topic,
        starts_at=starts_at,
        duration_minutes=duration_minutes,
        mode=mode,
        place=place,
        link=link,
        now=timezone.now(),
    )
    slot = ClinicSlot(
        hub=hub,
        expert=expert,
        topic=topic.strip(),
        description=description,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=duration_minutes),
        mode=mode,
        place=place.strip() if mode == Mode.ON_SITE else "",
        link=link.strip() if mode == Mode.ONLINE else "",
        created_by=acting_user,
    )
    try:
        with transaction.atomic():
            slot.save()
    except IntegrityError as exc:  # the exclusion constraint, should anything slip past the lock
        raise ValidationError({"starts_at": OVERLAP_MESSAGE}) from exc
    audit_record(
        slot,
        "clinic_slot.published",
        actor=acting_user,
        after={"expert": expert.pk, "starts_at": starts_at, "minutes": duration_minutes, "mode": mode},
    )
    return slot


SLOT_FIELDS = {"topic", "description", "starts_at", "duration_minutes", "mode", "place", "link"}


def slot_values(slot) -> dict:
    """A slot's editable values, as ``slot_update`` takes them."""
    return {
        "topic": slot.topic,
        "description": slot.description,
        "starts_at": slot.starts_at,
        "duration_minutes": slot.duration_minutes,
        "mode": slot.mode,
        "place": slot.place,
        "link": slot.link,
    }


def _check_booked_time(slot, values) -> None:
    booked = slot.bookings.filter(status=B.BOOKED).exists()
    if booked and (values["starts_at"] != slot.starts_at or values["duration_minutes"] != slot.duration_minutes):
        raise ValidationError(
            {"starts_at": "This slot is booked: its time cannot change. Withdraw it (the booker is told) instead."}
        )


def slot_validate(*, hub, expert, values, slot=None) -> None:
    """Raise what ``slot_create`` (no ``slot``) or ``slot_update`` would refuse, writing nothing.
    Forms that save in a later step (the admin) ask here first, so errors land on their fields."""
    now = timezone.now()
    if slot is None:
        values = {"mode": Mode.ON_SITE, "place": "", "link": "", "description": ""} | values
    else:
        if slot.status != SlotStatus.PUBLISHED:
            raise ValidationError("This slot was withdrawn; publish a new one instead.")
        if slot.starts_at <= now:
            raise ValidationError("This slot has already started; it can no longer be changed.")
        values = slot_values(slot) | values
        _check_booked_time(slot, values)
    _validate_slot(
        hub=hub,
        expert=expert,
        now=now,
        exclude_pk=slot.pk if slot is not None else None,
        **{k: values.get(k) for k in ("topic", "starts_at", "duration_minutes", "mode", "place", "link")},
    )


@transaction.atomic
def slot_update(*, slot, acting_user, **changes) -> ClinicSlot:
    """Change a published slot. A booked slot keeps its time (the booker would be left behind)."""
    unknown = set(changes) - SLOT_FIELDS
    if unknown:
        raise ValidationError({sorted(unknown)[0]: "This field cannot be changed."})
    slot = access.slot_for_manager(acting_user, slot.pk, for_write=True)
    if slot.status != SlotStatus.PUBLISHED:
        raise InvalidTransition(slot, "edit", "This slot was withdrawn; publish a new one instead.")
    if slot.starts_at <= timezone.now():
        raise InvalidTransition(slot, "edit", "This slot has already started; it can no longer be changed.")
    values = slot_values(slot) | changes
    _check_booked_time(slot, values)
    _lock_expert(slot.expert)
    _validate_slot(
        hub=slot.hub,
        expert=slot.expert,
        now=timezone.now(),
        exclude_pk=slot.pk,
        **{k: values[k] for k in ("topic", "starts_at", "duration_minutes", "mode", "place", "link")},
    )
    before = {"starts_at": slot.starts_at, "ends_at": slot.ends_at, "topic": slot.topic, "mode": slot.mode}
    slot.topic = values["topic"].strip()
    slot.description = values["description"]
    slot.starts_at = values["starts_at"]
    slot.ends_at = values["starts_at"] + timedelta(minutes=values["duration_minutes"])
    slot.mode = values["mode"]
    slot.place = values["place"].strip() if slot.mode == Mode.ON_SITE else ""
    slot.link = values["link"].strip() if slot.mode == Mode.ONLINE else ""
    try:
        with transaction.atomic():
            slot.save()
    except IntegrityError as exc:
        raise ValidationError({"starts_at": OVERLAP_MESSAGE}) from exc
    audit_record(
        slot,
        "clinic_slot.updated",
        actor=acting_user,
        before=before,
        after={"starts_at": slot.starts_at, "ends_at": slot.ends_at, "topic": slot.topic, "mode": slot.mode},
    )
    return slot


@transaction.atomic
def slot_withdraw(*, slot, acting_user, reason: str = "") -> ClinicSlot:
    """Take a slot off the list; its booking (if any) is cancelled and the booker told."""
    slot = access.slot_for_manager(acting_user, slot.pk, for_write=True)
    won = ClinicSlot.objects.filter(pk=slot.pk, status=SlotStatus.PUBLISHED).update(
        status=SlotStatus.WITHDRAWN, updated_at=timezone.now()
    )
    if won != 1:
        raise InvalidTransition(slot, "withdraw", "This slot is already withdrawn.")
    slot.status = SlotStatus.WITHDRAWN
    audit_record(slot, "clinic_slot.withdrawn", actor=acting_user, after={"reason": reason})
    booking = slot.bookings.select_for_update().filter(status=B.BOOKED).first()
    if booking is not None:
        _cancel(booking, acting_user, reason or "The expert withdrew this slot.")
    return slot


# --- Bookings ------------------------------------------------------------------------------


def _booking_payload(booking, **extra) -> dict:
    slot = booking.slot
    return {
        "booking_id": booking.pk,
        "slot_id": slot.pk,
        "hub": slot.hub.slug,
        "topic": slot.topic,
        "starts_at": slot.starts_at.isoformat(),
        "ends_at": slot.ends_at.isoformat(),
        "mode": slot.mode,
        "sector": booking.sector,
    } | extra


def _validate_intake(*, sector, problem, data_description) -> None:
    errors = {}
    if sector not in Sector.values:
        errors["sector"] = "Choose your sector from the list."
    if not (problem or "").strip():
        errors["problem"] = "Describe the problem you would like help with."
    if not (data_description or "").strip():
        errors["data_description"] = "Describe the data you have (even “none yet” helps the expert prepare)."
    if errors:
        raise ValidationError(errors)


def _lock_bookable(slot_pk, user, now) -> ClinicSlot:
    """Lock the slot row and check it can be booked by ``user`` now."""
    slot = ClinicSlot.objects.select_for_update(of=("self",)).select_related("hub", "expert").filter(pk=slot_pk).first()
    if slot is None or slot.status != SlotStatus.PUBLISHED:
        raise ValidationError({"slot": "This slot is no longer offered."})
    if slot.starts_at <= now:
        raise ValidationError({"slot": "This slot has already started; choose a later one."})
    if slot.expert_id == user.pk:
        raise ValidationError({"slot": "You cannot book your own slot."})
    if slot.bookings.filter(status=B.BOOKED).exists():
        raise InvalidTransition(slot, "book", "Sorry, someone has just booked this slot. Please choose another one.")
    return slot


def _insert_booking(booking) -> None:
    try:
        with transaction.atomic():
            booking.save()
    except IntegrityError as exc:  # clinic_slot_booked_once: the database refuses a second booking
        raise InvalidTransition(
            booking.slot, "book", "Sorry, someone has just booked this slot. Please choose another one."
        ) from exc


@transaction.atomic
def booking_create(
    *,
    slot,
    acting_user,
    sector: str,
    problem: str,
    data_description: str,
    organisation_name: str = "",
) -> ClinicBooking:
    """Book ``slot`` for ``acting_user`` with the intake form; the confirmation (with a calendar
    file) is e-mailed after commit and the expert is told."""
    if acting_user is None or not acting_user.is_authenticated or not acting_user.is_active:
        raise PermissionDenied("Sign in to book a clinic slot.")
    _validate_intake(sector=sector, problem=problem, data_description=data_description)
    slot = _lock_bookable(slot.pk, acting_user, timezone.now())
    booking = ClinicBooking(
        slot=slot,
        user=acting_user,
        sector=sector,
        problem=problem.strip(),
        data_description=data_description.strip(),
        organisation_name=(organisation_name or "").strip()[:200],
        ical_uid=f"clinic-{uuid.uuid4()}@{_ical_domain()}",
    )
    _insert_booking(booking)
    audit_record(booking, "clinic_booking.made", actor=acting_user, hub=slot.hub, after={"slot": slot.pk})
    _after_booking(booking)
    return booking


def _after_booking(booking, *, rescheduled_from=None) -> None:
    from .tasks import send_booking_email

    slot = booking.slot
    moved = f" (moved from {_when(rescheduled_from.slot.starts_at)})" if rescheduled_from else ""
    notify(
        users=[slot.expert],
        kind="clinic.booked",
        title=f"{booking.user.display_name} booked your clinic slot “{slot.topic}” on {_when(slot.starts_at)}{moved}",
        body=(
            f"Sector: {booking.get_sector_display()}\n\nProblem:\n{booking.problem}"
            f"\n\nData:\n{booking.data_description}"
        ),
        url=reverse("clinics:booking_detail", args=[booking.pk]),
        dedupe_key=f"clinic.booked:{booking.pk}",
    )
    send_booking_email.delay_on_commit(booking.pk, "confirmed")
    extra = {"rescheduled_from": rescheduled_from.pk} if rescheduled_from else {}
    emit("booking.made", hub=slot.hub, payload=_booking_payload(booking, **extra), sector=booking.sector)


def _cancel(booking, acting_user, reason: str, *, to=B.CANCELLED, tell=True) -> ClinicBooking:
    """Cancel (or, with ``to``, mark as moved) a booking the caller has locked."""
    now = timezone.now()
    won = ClinicBooking.objects.filter(pk=booking.pk, status=B.BOOKED).update(
        status=to,
        cancelled_at=now,
        cancelled_by=acting_user if acting_user is not None and acting_user.is_authenticated else None,
        cancel_reason=(reason or "")[:300],
        updated_at=now,
    )
    if won != 1:
        booking.refresh_from_db()
        raise InvalidTransition(booking, "cancel", f"This booking is already {booking.get_status_display().lower()}.")
    booking.status, booking.cancelled_at, booking.cancel_reason = to, now, (reason or "")[:300]
    by = "booker" if acting_user is not None and acting_user.pk == booking.user_id else "hub"
    audit_record(
        booking,
        "clinic_booking.cancelled" if to == B.CANCELLED else "clinic_booking.rescheduled",
        actor=acting_user,
        hub=booking.slot.hub,
        before={"status": B.BOOKED},
        after={"status": to, "reason": booking.cancel_reason},
    )
    if tell:
        from .tasks import send_booking_email

        send_booking_email.delay_on_commit(booking.pk, "cancelled")
        if by == "booker":
            notify(
                users=[booking.slot.expert],
                kind="clinic.cancelled",
                title=f"{booking.user.display_name} cancelled the clinic on {_when(booking.slot.starts_at)}",
                body=booking.cancel_reason,
                url=reverse("clinics:expert_slots"),
                dedupe_key=f"clinic.cancelled:{booking.pk}",
            )
    emit(
        "booking.cancelled",
        hub=booking.slot.hub,
        payload=_booking_payload(booking, cancelled_by=by, reason=booking.cancel_reason, status=to),
        sector=booking.sector,
    )
    return booking


@transaction.atomic
def booking_cancel(*, booking, acting_user, reason: str = "") -> ClinicBooking:
    """Cancel a booking before its slot starts: the booker, the expert or hub staff."""
    booking = access.booking_for(acting_user, booking.pk, for_write=True)
    if booking.status != B.BOOKED:
        raise InvalidTransition(booking, "cancel", f"This booking is already {booking.get_status_display().lower()}.")
    if not access.can_cancel(acting_user, booking):
        if booking.slot.starts_at <= timezone.now():
            raise InvalidTransition(
                booking, "cancel", "This clinic has already started; it can no longer be cancelled."
            )
        raise PermissionDenied("Only the person who booked, the expert or hub staff can cancel this booking.")
    return _cancel(booking, acting_user, reason)


@transaction.atomic
def booking_reschedule(*, booking, new_slot, acting_user) -> ClinicBooking:
    """Move a booking to another free slot of the same hub; the intake travels with it.

    Returns the new booking. Both slot rows are locked (in id order, so two moves in opposite
    directions cannot deadlock); the calendar entry keeps its UID with a higher sequence.
    """
    booking = access.booking_for(acting_user, booking.pk, for_write=True)
    if not access.can_reschedule(acting_user, booking):
        if booking.status != B.BOOKED or booking.slot.starts_at <= timezone.now():
            raise InvalidTransition(booking, "reschedule", "Only an upcoming booking can be moved.")
        raise PermissionDenied("Only the person who booked can move this booking.")
    if new_slot.pk == booking.slot_id:
        raise ValidationError({"slot": "Choose a different slot."})
    if new_slot.hub_id != booking.slot.hub_id:
        raise ValidationError({"slot": f"Choose another slot of {booking.slot.hub}."})
    now = timezone.now()
    for pk in sorted([booking.slot_id, new_slot.pk]):
        ClinicSlot.objects.select_for_update().filter(pk=pk).first()
    new_slot = _lock_bookable(new_slot.pk, acting_user, now)
    _cancel(booking, acting_user, f"Moved to {_when(new_slot.starts_at)}", to=B.RESCHEDULED, tell=False)
    moved = ClinicBooking(
        slot=new_slot,
        user=booking.user,
        sector=booking.sector,
        problem=booking.problem,
        data_description=booking.data_description,
        organisation_name=booking.organisation_name,
        rescheduled_from=booking,
        ical_uid=booking.ical_uid,
        ical_sequence=booking.ical_sequence + 1,
    )
    _insert_booking(moved)
    audit_record(
        moved,
        "clinic_booking.made",
        actor=acting_user,
        hub=new_slot.hub,
        after={"slot": new_slot.pk, "rescheduled_from": booking.pk},
    )
    _after_booking(moved, rescheduled_from=booking)
    return moved


@transaction.atomic
def booking_follow_up(*, booking, acting_user, notes: str, recommendations=()) -> ClinicBooking:
    """The expert's notes after the session and their recommendations (text and optional link).

    Recording again replaces the notes and adds the new recommendations; the booker is told.
    """
    booking = access.booking_for(acting_user, booking.pk, for_write=True)
    if not access.is_advisor(acting_user, booking):
        raise PermissionDenied("Only the slot's expert or hub staff record the follow-up.")
    if booking.status != B.BOOKED:
        raise InvalidTransition(booking, "follow up", "A cancelled or moved booking has no follow-up.")
    notes = (notes or "").strip()
    rows = [(str(t or "").strip(), str(link or "").strip()) for t, link in recommendations]
    rows = [(t, link) for t, link in rows if t or link]
    errors = {}
    if not notes and not rows:
        errors["notes"] = "Write your notes or at least one recommendation."
    if len(rows) > MAX_RECOMMENDATIONS:
        errors["recommendations"] = f"At most {MAX_RECOMMENDATIONS} recommendations at a time."
    for index, (text, link) in enumerate(rows, start=1):
        if not text:
            errors["recommendations"] = f"Recommendation {index}: say what you recommend, not only a link."
            break
        if len(text) > 300:
            errors["recommendations"] = f"Recommendation {index}: keep it under 300 characters."
            break
        if link:
            try:
                URLValidator(schemes=["https", "http"])(link)
            except ValidationError:
                errors["recommendations"] = f"Recommendation {index}: “{link}” is not a valid link."
                break
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    ClinicBooking.objects.filter(pk=booking.pk).update(follow_up_notes=notes, followed_up_at=now, updated_at=now)
    booking.follow_up_notes, booking.followed_up_at = notes, now
    Recommendation.objects.bulk_create(
        [Recommendation(booking=booking, text=t, link=link, created_by=acting_user) for t, link in rows]
    )
    audit_record(
        booking,
        "clinic_booking.followed_up",
        actor=acting_user,
        hub=booking.slot.hub,
        after={"recommendations": [t for t, _ in rows]},
    )
    notify(
        users=[booking.user],
        kind="clinic.follow_up",
        title=f"Follow-up from your AI clinic “{booking.slot.topic}”",
        body=notes + "".join(f"\n- {t}" + (f": {link}" if link else "") for t, link in rows),
        url=reverse("clinics:booking_detail", args=[booking.pk]),
        dedupe_key=f"clinic.follow_up:{booking.pk}:{now.isoformat()}",
    )
    return booking


# --- Reminders -----------------------------------------------------------------------------

REMINDER_WINDOW = timedelta(hours=24)


def bookings_due_for_reminder(now=None):
    """Active bookings whose slot starts within the next 24 hours and that were not reminded.

    Bookings made less than a day ahead are left out: their confirmation is the reminder.
    """
    now = now or timezone.now()
    from django.db.models import F

    return ClinicBooking.objects.filter(
        status=B.BOOKED,
        reminder_sent_at__isnull=True,
        slot__status=SlotStatus.PUBLISHED,
        slot__starts_at__gt=now,
        slot__starts_at__lte=now + REMINDER_WINDOW,
        created_at__lte=F("slot__starts_at") - REMINDER_WINDOW,
    )


def reminder_claim(booking_id: int, now=None) -> bool:
    """Claim one booking's reminder. The conditional UPDATE lets exactly one run win, however
    many times (or how concurrently) the task runs."""
    now = now or timezone.now()
    return bool(
        ClinicBooking.objects.filter(pk=booking_id, reminder_sent_at__isnull=True, status=B.BOOKED).update(
            reminder_sent_at=now
        )
    )


def reminder_release(booking_id: int) -> None:
    """The e-mail could not be sent: let the next run try again."""
    ClinicBooking.objects.filter(pk=booking_id).update(reminder_sent_at=None)
