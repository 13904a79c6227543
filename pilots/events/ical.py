"""The iCalendar file of an event (RFC 5545, written with the ``icalendar`` library)."""

from datetime import UTC

from django.conf import settings
from django.utils import timezone
from icalendar import Calendar, vCalAddress, vText
from icalendar import Event as VEvent

from .models import EventMode, EventStatus

PRODID = "-//AI Gigafactory Network//Events//EN"


def _domain() -> str:
    return settings.SITE_URL.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "gigafactory.local"


def event_calendar(event) -> bytes:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    vevent = VEvent()
    vevent.add("uid", f"event-{event.pk}@{_domain()}")
    vevent.add("dtstamp", timezone.now().astimezone(UTC))
    vevent.add("last-modified", event.updated_at.astimezone(UTC))
    vevent.add("dtstart", event.starts_at.astimezone(UTC))
    vevent.add("dtend", event.ends_at.astimezone(UTC))
    vevent.add("summary", f"{event.title} ({event.get_kind_display()}, {event.hub.name})")
    url = settings.SITE_URL + event.get_absolute_url()
    description = event.description.strip()
    if event.mode in (EventMode.ONLINE, EventMode.HYBRID) and event.link:
        description += f"\n\nJoin online: {event.link}"
    vevent.add("description", f"{description}\n\n{url}".strip())
    vevent.add("location", event.place if event.mode != EventMode.ONLINE else event.link)
    vevent.add("url", url)
    vevent.add("status", "CANCELLED" if event.status == EventStatus.CANCELLED else "CONFIRMED")
    organizer = vCalAddress(f"mailto:{event.hub.contact_email}")
    organizer.params["cn"] = vText(event.hub.name)
    vevent.add("organizer", organizer)
    vevent.add("categories", [event.get_kind_display()])
    cal.add_component(vevent)
    return cal.to_ical()
