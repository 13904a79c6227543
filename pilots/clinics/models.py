"""AI clinics: hub experts publish advice slots; signed-in people book them with an intake form.

The database keeps the two promises of the clinic:

- a slot is never booked twice: at most one *active* booking per slot (a partial unique
  constraint; the booking service also locks the slot row, so the loser gets a clear message);
- an expert is never in two places at once: on PostgreSQL an exclusion constraint (btree_gist)
  refuses two published slots of one expert whose time ranges overlap.
"""

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import RangeBoundary, RangeOperators
from django.db import models
from django.db.models import Func, Q
from django.urls import reverse

from hubs.models import Sector


class TsTzRange(Func):
    function = "TSTZRANGE"
    output_field = models.DateTimeField()  # only used inside the constraint


class PostgresExclusionConstraint(ExclusionConstraint):
    """An exclusion constraint that exists on PostgreSQL only.

    The embedded mode runs on SQLite, which has no exclusion constraints; there the service's
    overlap check under a lock is the only guard. On PostgreSQL both apply.
    """

    def constraint_sql(self, model, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return None
        return super().constraint_sql(model, schema_editor)

    def create_sql(self, model, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return None
        return super().create_sql(model, schema_editor)

    def remove_sql(self, model, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return None
        return super().remove_sql(model, schema_editor)

    def validate(self, model, instance, exclude=None, using="default"):
        from django.db import connections

        if connections[using].vendor != "postgresql":
            return
        super().validate(model, instance, exclude=exclude, using=using)


class Mode(models.TextChoices):
    ON_SITE = "on_site", "On site"
    ONLINE = "online", "Online"


class ClinicExpert(models.Model):
    """A hub member the hub's staff mark as a clinic expert (hub staff are experts anyway)."""

    hub = models.ForeignKey("hubs.Hub", on_delete=models.CASCADE, related_name="clinic_experts")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="clinic_expertise")
    expertise = models.CharField(max_length=200, help_text="What this expert advises on, e.g. computer vision")
    active = models.BooleanField(default=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["hub__name", "user__name"]
        constraints = [models.UniqueConstraint(fields=["hub", "user"], name="clinic_expert_once_per_hub")]

    def __str__(self):
        return f"{self.user} ({self.hub})"


class SlotStatus(models.TextChoices):
    PUBLISHED = "published", "Published"
    WITHDRAWN = "withdrawn", "Withdrawn"


class ClinicSlot(models.Model):
    hub = models.ForeignKey("hubs.Hub", on_delete=models.PROTECT, related_name="clinic_slots")
    expert = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="clinic_slots")
    topic = models.CharField(max_length=200)
    description = models.TextField(blank=True, help_text="What the expert can help with in this slot")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.ON_SITE)
    place = models.CharField(max_length=200, blank=True, help_text="Room and address, for on-site slots")
    link = models.URLField(blank=True, help_text="Video-call link, for online slots")
    status = models.CharField(max_length=16, choices=SlotStatus.choices, default=SlotStatus.PUBLISHED)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [
            models.CheckConstraint(name="clinic_slot_mode_known", condition=Q(mode__in=Mode.values)),
            models.CheckConstraint(name="clinic_slot_status_known", condition=Q(status__in=SlotStatus.values)),
            models.CheckConstraint(name="clinic_slot_ends_after_start", condition=Q(ends_at__gt=models.F("starts_at"))),
            models.CheckConstraint(
                name="clinic_slot_place_or_link",
                condition=(Q(mode=Mode.ON_SITE) & ~Q(place="")) | (Q(mode=Mode.ONLINE) & ~Q(link="")),
                violation_error_message="An on-site slot needs a place, an online slot a link.",
            ),
            PostgresExclusionConstraint(
                name="clinic_slot_expert_no_overlap",
                expressions=[
                    (TsTzRange("starts_at", "ends_at", RangeBoundary()), RangeOperators.OVERLAPS),
                    ("expert", RangeOperators.EQUAL),
                ],
                condition=Q(status="published"),
                violation_error_message="The expert already has a slot at this time.",
            ),
        ]
        indexes = [models.Index(fields=["hub", "starts_at"], name="clinic_slot_hub_start_idx")]

    def __str__(self):
        return f"{self.topic} · {self.starts_at:%Y-%m-%d %H:%M}"

    def get_absolute_url(self):
        return reverse("clinics:slot_detail", args=[self.pk])

    @property
    def duration_minutes(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds() // 60)

    @property
    def where(self) -> str:
        return self.place if self.mode == Mode.ON_SITE else "Online"


class BookingStatus(models.TextChoices):
    BOOKED = "booked", "Booked"
    CANCELLED = "cancelled", "Cancelled"
    RESCHEDULED = "rescheduled", "Moved to another slot"


class ClinicBooking(models.Model):
    slot = models.ForeignKey(ClinicSlot, on_delete=models.PROTECT, related_name="bookings")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="clinic_bookings")
    status = models.CharField(max_length=16, choices=BookingStatus.choices, default=BookingStatus.BOOKED)
    # The intake form
    organisation_name = models.CharField(max_length=200, blank=True, help_text="Your business or organisation")
    sector = models.CharField(max_length=32, choices=Sector.choices)
    problem = models.TextField(help_text="The problem you would like to solve with AI")
    data_description = models.TextField(help_text="The data you have: what, how much, in which form")
    # Rescheduling keeps a chain: the new booking points at the one it replaced.
    rescheduled_from = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="rescheduled_to"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cancel_reason = models.CharField(max_length=300, blank=True)
    # The calendar entry: a rescheduled booking keeps the UID and raises the sequence, so
    # calendar programs move the appointment instead of adding a second one.
    ical_uid = models.CharField(max_length=100, blank=True)
    ical_sequence = models.PositiveSmallIntegerField(default=0)
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)
    cancellation_sent_at = models.DateTimeField(null=True, blank=True)
    reminder_sent_at = models.DateTimeField(null=True, blank=True, help_text="Set once: a booking is reminded once")
    # The expert's follow-up
    follow_up_notes = models.TextField(blank=True)
    followed_up_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["slot"],
                condition=Q(status=BookingStatus.BOOKED),
                name="clinic_slot_booked_once",
                violation_error_message="This slot is already booked.",
            ),
            models.CheckConstraint(name="clinic_booking_status_known", condition=Q(status__in=BookingStatus.values)),
            models.CheckConstraint(name="clinic_booking_sector_known", condition=Q(sector__in=Sector.values)),
            models.CheckConstraint(
                name="clinic_booking_cancelled_has_time",
                condition=Q(status=BookingStatus.BOOKED, cancelled_at__isnull=True)
                | (~Q(status=BookingStatus.BOOKED) & Q(cancelled_at__isnull=False)),
            ),
            models.CheckConstraint(name="clinic_booking_problem_given", condition=~Q(problem="")),
        ]
        indexes = [models.Index(fields=["user", "status"], name="clinic_booking_user_idx")]

    def __str__(self):
        return f"Booking #{self.pk} of {self.slot}"

    def get_absolute_url(self):
        return reverse("clinics:booking_detail", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.status == BookingStatus.BOOKED


class Recommendation(models.Model):
    """What the expert recommends after the session, e.g. "apply to the playground call" with its link."""

    booking = models.ForeignKey(ClinicBooking, on_delete=models.CASCADE, related_name="recommendations")
    text = models.CharField(max_length=300)
    link = models.URLField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.CheckConstraint(name="clinic_recommendation_text", condition=~Q(text=""))]

    def __str__(self):
        return self.text
