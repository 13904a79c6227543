"""Event e-mails. Tasks take ids, re-read, and are safe to run twice (the e-mail is claimed
with a conditional UPDATE before it is sent)."""

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.utils import timezone

from .ical import event_calendar
from .models import Registration, RegistrationStatus


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=8)
def send_registration_email(registration_id: int) -> bool:
    """Confirm a registration (a place, or the waiting list with its position), once."""
    from .services import waiting_position

    registration = Registration.objects.select_related("event", "event__hub", "user").filter(pk=registration_id).first()
    if registration is None or registration.status == RegistrationStatus.CANCELLED or not registration.user.is_active:
        return False
    claimed = Registration.objects.filter(pk=registration_id, confirmation_sent_at__isnull=True).update(
        confirmation_sent_at=timezone.now()
    )
    if not claimed:
        return False
    event = registration.event
    waiting = registration.status == RegistrationStatus.WAITLISTED
    context = {
        "registration": registration,
        "event": event,
        "user": registration.user,
        "when": timezone.localtime(event.starts_at),
        "ends": timezone.localtime(event.ends_at),
        "position": waiting_position(registration) if waiting else None,
        "site_url": settings.SITE_URL,
    }
    subject = f"On the waiting list: {event.title}" if waiting else f"You are registered: {event.title}"
    message = EmailMessage(
        subject=f"[AI Gigafactory Network] {subject}",
        body=render_to_string("email/event_registration.txt", context),
        to=[registration.user.email],
    )
    if not waiting:
        message.attach("event.ics", event_calendar(event), "text/calendar; method=PUBLISH")
    try:
        message.send()
    except OSError:
        Registration.objects.filter(pk=registration_id).update(confirmation_sent_at=None)
        raise
    return True
