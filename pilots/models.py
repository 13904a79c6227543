"""Pilot programmes run by a hub with public partners, their milestones and outcome metrics,
case studies published from them, and the replication of a pilot at another hub.

A pilot adapted from another hub's case study points to its original (``adapted_from``);
the database allows one adaptation of an original per hub, so a double click, a retried
request or two staff members at once never make two.
"""

from django.conf import settings
from django.core.validators import MinLengthValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.urls import reverse

from hubs.models import Hub, Organisation, Sector


class PilotStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    STOPPED = "stopped", "Stopped"


# A case study tells the story of a pilot that runs or ran to its end.
PUBLISHABLE_STATUSES = (PilotStatus.ACTIVE, PilotStatus.COMPLETED)


class PartnerRole(models.TextChoices):
    HOSPITAL = "hospital", "Hospital"
    SCHOOL = "school", "School"
    UNIVERSITY = "university", "University or research institute"
    CITY_COUNCIL = "city_council", "City council"
    REGIONAL_GOVERNMENT = "regional_government", "Regional or national authority"
    UTILITY = "utility", "Utility"
    FARM_COOPERATIVE = "farm_cooperative", "Farm co-operative"
    COMPANY = "company", "Company"
    NGO = "ngo", "NGO or association"
    OTHER = "other", "Other"


class Pilot(models.Model):
    hub = models.ForeignKey(Hub, on_delete=models.PROTECT, related_name="pilots")
    title = models.CharField(max_length=200, validators=[MinLengthValidator(3)])
    summary = models.TextField(help_text="What the pilot does and for whom, in a few sentences")
    sector = models.CharField(max_length=32, choices=Sector.choices)
    status = models.CharField(max_length=12, choices=PilotStatus.choices, default=PilotStatus.PROPOSED)
    starts_on = models.DateField("start date", null=True, blank=True)
    ends_on = models.DateField("end date", null=True, blank=True)
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="led_pilots",
        help_text="Runs the pilot day to day; may edit it like hub staff",
    )
    team = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="pilots")
    lessons_learned = models.TextField(blank=True, help_text="What worked, what did not, what others should know")
    stop_reason = models.TextField(blank=True)
    projects = models.ManyToManyField("compute.Project", blank=True, related_name="pilots")
    allocations = models.ManyToManyField("compute.Allocation", blank=True, related_name="pilots")
    ai_systems = models.ManyToManyField("compliance.AISystem", related_name="pilots", blank=True)
    adapted_from = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        # An original that disappears leaves its adaptations standing (and unlinked).
        on_delete=models.SET_NULL,
        related_name="adaptations",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(name="pilot_status_known", condition=Q(status__in=PilotStatus.values)),
            models.CheckConstraint(name="pilot_sector_known", condition=Q(sector__in=Sector.values)),
            models.CheckConstraint(
                name="pilot_dates_ordered",
                condition=Q(starts_on__isnull=True) | Q(ends_on__isnull=True) | Q(ends_on__gte=F("starts_on")),
            ),
            models.CheckConstraint(name="pilot_title_not_blank", condition=~Q(title="")),
            models.CheckConstraint(
                name="pilot_not_adapted_from_itself",
                condition=Q(adapted_from__isnull=True) | ~Q(adapted_from=F("pk")),
            ),
            # One adaptation of an original per hub: adapting twice by accident makes nothing new.
            models.UniqueConstraint(
                fields=["adapted_from", "hub"],
                condition=Q(adapted_from__isnull=False),
                name="pilot_one_adaptation_per_hub",
            ),
        ]
        indexes = [
            models.Index(fields=["hub", "status"], name="pilot_hub_status_idx"),
            models.Index(fields=["sector", "status"], name="pilot_sector_status_idx"),
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("pilots:pilot_detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.status in (PilotStatus.PROPOSED, PilotStatus.ACTIVE)


class PilotPartner(models.Model):
    """A public partner of a pilot (a hospital, a school, a city council, ...)."""

    pilot = models.ForeignKey(Pilot, on_delete=models.CASCADE, related_name="partners")
    name = models.CharField(max_length=200)
    role = models.CharField(max_length=32, choices=PartnerRole.choices)
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.SET_NULL, related_name="pilot_partnerships"
    )
    website = models.URLField(blank=True)
    contribution = models.CharField(max_length=300, blank=True, help_text="What the partner brings or does")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(name="pilot_partner_role_known", condition=Q(role__in=PartnerRole.values)),
            models.CheckConstraint(name="pilot_partner_name_not_blank", condition=~Q(name="")),
            models.UniqueConstraint("pilot", Lower("name"), name="pilot_partner_once"),
        ]

    def __str__(self):
        return f"{self.name} ({self.get_role_display()})"


class Milestone(models.Model):
    pilot = models.ForeignKey(Pilot, on_delete=models.CASCADE, related_name="milestones")
    title = models.CharField(max_length=200)
    due_on = models.DateField("due date")
    done = models.BooleanField(default=False)
    done_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["due_on", "id"]
        constraints = [
            models.CheckConstraint(name="milestone_title_not_blank", condition=~Q(title="")),
            # "done" and its date go together.
            models.CheckConstraint(
                name="milestone_done_has_date",
                condition=Q(done=True, done_on__isnull=False) | Q(done=False, done_on__isnull=True),
            ),
        ]

    def __str__(self):
        return self.title


class OutcomeMetric(models.Model):
    """A measured outcome: where it started (baseline), the aim (target) and the result so far."""

    pilot = models.ForeignKey(Pilot, on_delete=models.CASCADE, related_name="metrics")
    name = models.CharField(max_length=120)
    unit = models.CharField(max_length=40, blank=True, help_text="e.g. %, minutes, MWh, m³ per hectare")
    baseline = models.DecimalField(max_digits=14, decimal_places=3)
    target = models.DecimalField(max_digits=14, decimal_places=3)
    achieved = models.DecimalField(max_digits=14, decimal_places=3, null=True, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(name="metric_name_not_blank", condition=~Q(name="")),
            models.UniqueConstraint("pilot", Lower("name"), name="metric_name_once_per_pilot"),
        ]

    def __str__(self):
        return f"{self.name} ({self.unit})" if self.unit else self.name

    @property
    def lower_is_better(self) -> bool:
        return self.target < self.baseline

    @property
    def progress_percent(self) -> int | None:
        """How far from the baseline towards the target the achieved value got (may pass 100)."""
        if self.achieved is None or self.target == self.baseline:
            return None
        return round(100 * (self.achieved - self.baseline) / (self.target - self.baseline))


class CaseStudy(models.Model):
    """The public story of a pilot, listed in the network showcase while it is not withdrawn."""

    pilot = models.OneToOneField(Pilot, on_delete=models.CASCADE, related_name="case_study")
    slug = models.SlugField(max_length=80, unique=True)
    headline = models.CharField(max_length=200)
    story = models.TextField(help_text="The challenge, what was built, with whom, and what changed")
    published_at = models.DateTimeField()
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-published_at", "-id"]
        verbose_name_plural = "case studies"
        constraints = [
            models.CheckConstraint(name="case_study_slug_not_empty", condition=~Q(slug="")),
            models.CheckConstraint(name="case_study_story_not_blank", condition=~Q(story="")),
        ]
        indexes = [models.Index(fields=["withdrawn_at", "published_at"], name="case_study_shown_idx")]

    def __str__(self):
        return self.headline

    def get_absolute_url(self):
        return reverse("pilots:case_study", args=[self.slug])

    @property
    def is_public(self) -> bool:
        return self.withdrawn_at is None
