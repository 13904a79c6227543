"""iCalendar files for clinic bookings (RFC 5545, written with the ``icalendar`` library).

A booking's file keeps one UID for its whole life: a rescheduled booking sends the same UID
with a higher SEQUENCE (calendar programs move the appointment), a cancellation sends
METHOD:CANCEL with STATUS:CANCELLED (they remove it).
"""

from datetime import UTC

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar, Event, vCalAddress, vText

from .models import BookingStatus, Mode

PRODID = "-//AI Gigafactory Network//AI clinics//EN"


def booking_calendar(booking, *, cancelled: bool | None = None) -> bytes:
    slot = booking.slot
    if cancelled is None:
        cancelled = booking.status != BookingStatus.BOOKED
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", "CANCEL" if cancelled else "REQUEST")
    event = Event()
    event.add("uid", booking.ical_uid or f"clinic-booking-{booking.pk}@gigafactory")
    event.add("sequence", booking.ical_sequence + (1 if cancelled else 0))
    event.add("dtstamp", timezone.now().astimezone(UTC))
    event.add("dtstart", slot.starts_at.astimezone(UTC))
    event.add("dtend", slot.ends_at.astimezone(UTC))
    event.add("summary", f"AI clinic: {slot.topic} ({slot.hub.name})")
    url = settings.SITE_URL + reverse("clinics:booking_detail", args=[booking.pk])
    lines = [
        f"Advice session with {slot.expert.display_name} at {slot.hub.name}.",
        f"Your question: {booking.problem}",
    ]
    if slot.mode == Mode.ONLINE:
        lines.append(f"Join online: {slot.link}")
    lines.append(f"Your booking: {url}")
    event.add("description", "\n\n".join(lines))
    event.add("location", slot.place if slot.mode == Mode.ON_SITE else slot.link)
    event.add("url", url)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    organizer = vCalAddress(f"mailto:{slot.hub.contact_email}")
    organizer.params["cn"] = vText(slot.hub.name)
    event.add("organizer", organizer)
    attendee = vCalAddress(f"mailto:{booking.user.email}")
    attendee.params["cn"] = vText(booking.user.display_name)
    attendee.params["role"] = vText("REQ-PARTICIPANT")
    event.add("attendee", attendee)
    cal.add_component(event)
    return cal.to_ical()
