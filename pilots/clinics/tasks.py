"""Clinic e-mails. Each task takes ids, re-reads, and is safe to run twice: the e-mail is
claimed with a conditional UPDATE on its ``*_sent_at`` column before it is sent."""

import logging

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.utils import timezone

from .ical import booking_calendar
from .models import BookingStatus, ClinicBooking

log = logging.getLogger(__name__)

# kind -> (claim column, subject, template)
KINDS = {
    "confirmed": (
        "confirmation_sent_at",
        "Your AI clinic is booked: {topic}, {when}",
        "email/clinic_booking_confirmed.txt",
    ),
    "cancelled": ("cancellation_sent_at", "Cancelled: AI clinic {topic}, {when}", "email/clinic_booking_cancelled.txt"),
    "reminder": ("reminder_sent_at", "Tomorrow: AI clinic {topic}, {when}", "email/clinic_booking_reminder.txt"),
}


def _render(booking, kind) -> EmailMessage:
    _column, subject, template = KINDS[kind]
    slot = booking.slot
    when = timezone.localtime(slot.starts_at)
    context = {
        "booking": booking,
        "slot": slot,
        "user": booking.user,
        "when": when,
        "site_url": settings.SITE_URL,
        "moved_from": booking.rescheduled_from.slot if booking.rescheduled_from_id else None,
    }
    message = EmailMessage(
        subject="[AI Gigafactory Network] " + subject.format(topic=slot.topic, when=f"{when:%a %d %b, %H:%M}"),
        body=render_to_string(template, context),
        to=[booking.user.email],
    )
    method = "CANCEL" if kind == "cancelled" else "REQUEST"
    message.attach(
        "clinic.ics", booking_calendar(booking, cancelled=kind == "cancelled"), f"text/calendar; method={method}"
    )
    return message


def _load(booking_id):
    return (
        ClinicBooking.objects.select_related("slot", "slot__hub", "slot__expert", "user", "rescheduled_from__slot")
        .filter(pk=booking_id)
        .first()
    )


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=8)
def send_booking_email(booking_id: int, kind: str) -> bool:
    """Send one booking e-mail (confirmed, cancelled or reminder) with its calendar file, once."""
    column = KINDS[kind][0]
    booking = _load(booking_id)
    if booking is None or not booking.user.is_active:
        return False
    if kind == "confirmed" and booking.status != BookingStatus.BOOKED:
        return False  # cancelled before the confirmation went out: the cancellation says it all
    claimed = ClinicBooking.objects.filter(pk=booking_id, **{f"{column}__isnull": True}).update(
        **{column: timezone.now()}
    )
    if not claimed:
        return False
    try:
        _render(booking, kind).send()
    except OSError:
        ClinicBooking.objects.filter(pk=booking_id).update(**{column: None})
        raise
    return True


@shared_task
def send_clinic_reminders() -> int:
    """Hourly (beat): remind everyone whose clinic starts within 24 hours, once per booking.

    Each booking is claimed with a conditional UPDATE before its e-mail goes out, so two runs
    (overlapping or repeated) send each reminder once.
    """
    from . import services

    sent = 0
    for booking_id in list(services.bookings_due_for_reminder().values_list("pk", flat=True)):
        if not services.reminder_claim(booking_id):
            continue
        booking = _load(booking_id)
        try:
            _render(booking, "reminder").send()
        except OSError:
            log.warning("clinic reminder for booking %s not sent; will retry next run", booking_id)
            services.reminder_release(booking_id)
            continue
        sent += 1
    return sent
