"""Events of the network: demo days, training programmes and workshops.

Registration has a waiting list. The capacity holds under concurrent registrations because
the registration service locks the event row before counting; a cancellation promotes
exactly the next person in line in the same transaction. On demo days investors register as
investors and startups claim pitch slots; a pitch slot is held by one registration at most
(a unique constraint).
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse


class EventKind(models.TextChoices):
    DEMO_DAY = "demo_day", "Demo day"
    TRAINING = "training", "Training programme"
    WORKSHOP = "workshop", "Workshop"


class EventMode(models.TextChoices):
    ON_SITE = "on_site", "On site"
    ONLINE = "online", "Online"
    HYBRID = "hybrid", "On site and online"


class EventStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    CANCELLED = "cancelled", "Cancelled"


class Event(models.Model):
    hub = models.ForeignKey("hubs.Hub", on_delete=models.PROTECT, related_name="events")
    slug = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    description = models.TextField(blank=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    mode = models.CharField(max_length=16, choices=EventMode.choices, default=EventMode.ON_SITE)
    place = models.CharField(max_length=200, blank=True, help_text="Venue and address")
    link = models.URLField(blank=True, help_text="Streaming or video-call link")
    capacity = models.PositiveIntegerField(help_text="Places; further registrations join the waiting list")
    status = models.CharField(max_length=16, choices=EventStatus.choices, default=EventStatus.DRAFT)
    published_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [
            models.CheckConstraint(name="event_kind_known", condition=Q(kind__in=EventKind.values)),
            models.CheckConstraint(name="event_mode_known", condition=Q(mode__in=EventMode.values)),
            models.CheckConstraint(name="event_status_known", condition=Q(status__in=EventStatus.values)),
            models.CheckConstraint(name="event_ends_after_start", condition=Q(ends_at__gt=F("starts_at"))),
            models.CheckConstraint(name="event_capacity_positive", condition=Q(capacity__gte=1)),
            models.CheckConstraint(
                name="event_place_or_link",
                condition=(Q(mode=EventMode.ON_SITE) & ~Q(place=""))
                | (Q(mode=EventMode.ONLINE) & ~Q(link=""))
                | (Q(mode=EventMode.HYBRID) & ~Q(place="") & ~Q(link="")),
                violation_error_message="On-site events need a place, online events a link, hybrid both.",
            ),
            models.CheckConstraint(
                name="event_published_has_time",
                condition=Q(status=EventStatus.DRAFT) | Q(published_at__isnull=False),
            ),
        ]
        indexes = [models.Index(fields=["status", "starts_at"], name="event_status_start_idx")]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("events:event_detail", args=[self.slug])

    @property
    def is_demo_day(self) -> bool:
        return self.kind == EventKind.DEMO_DAY


class PitchSlot(models.Model):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="pitch_slots")
    starts_at = models.DateTimeField()
    minutes = models.PositiveSmallIntegerField(default=10)

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "starts_at"], name="event_pitch_slot_time_unique"),
            models.CheckConstraint(name="event_pitch_slot_minutes", condition=Q(minutes__gte=1, minutes__lte=120)),
        ]

    def __str__(self):
        return f"Pitch at {self.starts_at:%H:%M} ({self.minutes} min)"


class RegistrationRole(models.TextChoices):
    ATTENDEE = "attendee", "Attendee"
    INVESTOR = "investor", "Investor"
    STARTUP = "startup", "Startup (pitching)"


class RegistrationStatus(models.TextChoices):
    CONFIRMED = "confirmed", "Confirmed"
    WAITLISTED = "waitlisted", "On the waiting list"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_REGISTRATION = (RegistrationStatus.CONFIRMED, RegistrationStatus.WAITLISTED)


class Registration(models.Model):
    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="registrations")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="event_registrations")
    role = models.CharField(max_length=16, choices=RegistrationRole.choices, default=RegistrationRole.ATTENDEE)
    organisation_name = models.CharField(max_length=200, blank=True)
    note = models.TextField(blank=True, help_text="Investors: your focus; startups: what you will pitch")
    status = models.CharField(max_length=16, choices=RegistrationStatus.choices)
    pitch_slot = models.ForeignKey(
        PitchSlot, null=True, blank=True, on_delete=models.SET_NULL, related_name="registrations"
    )
    promoted_at = models.DateTimeField(null=True, blank=True, help_text="Moved from the waiting list")
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    attended = models.BooleanField(null=True, blank=True)
    attendance_marked_at = models.DateTimeField(null=True, blank=True)
    attendance_marked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "user"],
                condition=Q(status__in=ACTIVE_REGISTRATION),
                name="event_registration_once_per_user",
                violation_error_message="You are already registered for this event.",
            ),
            models.UniqueConstraint(
                fields=["pitch_slot"],
                name="event_pitch_slot_one_holder",
                violation_error_message="This pitch slot is taken.",
            ),
            models.CheckConstraint(name="event_registration_role_known", condition=Q(role__in=RegistrationRole.values)),
            models.CheckConstraint(
                name="event_registration_status_known", condition=Q(status__in=RegistrationStatus.values)
            ),
            models.CheckConstraint(
                name="event_pitch_slot_confirmed_startup",
                condition=Q(pitch_slot__isnull=True)
                | Q(role=RegistrationRole.STARTUP, status=RegistrationStatus.CONFIRMED),
            ),
            models.CheckConstraint(
                name="event_attendance_confirmed_only",
                condition=Q(attended__isnull=True) | Q(status=RegistrationStatus.CONFIRMED),
            ),
            models.CheckConstraint(
                name="event_registration_cancelled_has_time",
                condition=Q(status=RegistrationStatus.CANCELLED, cancelled_at__isnull=False)
                | (~Q(status=RegistrationStatus.CANCELLED) & Q(cancelled_at__isnull=True)),
            ),
        ]
        indexes = [models.Index(fields=["event", "status", "created_at"], name="event_registration_queue_idx")]

    def __str__(self):
        return f"{self.user} at {self.event} ({self.status})"
