"""Network news, subscriptions and their delivery.

A ``NewsItem`` is one piece of network news (a new call, a published pilot, an announcement...),
made from an event on the bus. ``Subscription`` rows say who wants which news; the fan-out task
writes one ``NewsDelivery`` per (item, user), which the database keeps unique, so a retried task
never delivers twice. Digest deliveries wait for the daily ``NewsDigest`` e-mail.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Coalesce
from django.urls import reverse

from hubs.models import Sector


class NewsKind(models.TextChoices):
    CALL = "call", "New call"
    PILOT_PUBLISHED = "pilot_published", "Pilot published"
    PILOT_ADAPTED = "pilot_adapted", "Pilot adapted"
    CASE_STUDY = "case_study", "Case study"
    EVENT = "event", "Event announced"
    LESSON = "lesson", "Lesson learned"
    ANNOUNCEMENT = "announcement", "Announcement"


# Which bus events become network news, and as what kind.
KIND_OF_EVENT = {
    "call.opened": NewsKind.CALL,
    "pilot.published": NewsKind.PILOT_PUBLISHED,
    "pilot.adapted": NewsKind.PILOT_ADAPTED,
    "case_study.published": NewsKind.CASE_STUDY,
    "event.announced": NewsKind.EVENT,
    "lesson.learned": NewsKind.LESSON,
    "announcement.posted": NewsKind.ANNOUNCEMENT,
}
EVENT_OF_KIND = {kind: event for event, kind in KIND_OF_EVENT.items()}
# Kinds hub staff write themselves on the "post to the network" form.
POSTABLE_KINDS = (NewsKind.ANNOUNCEMENT, NewsKind.LESSON)


class Delivery(models.TextChoices):
    IMMEDIATE = "immediate", "E-mail each item at once"
    DIGEST = "digest", "One daily digest e-mail"


class Audience(models.TextChoices):
    STAFF = "staff", "The hub's staff"
    MEMBERS = "members", "Every member of the hub"


class NewsItem(models.Model):
    kind = models.CharField(max_length=24, choices=NewsKind.choices)
    hub = models.ForeignKey("hubs.Hub", null=True, blank=True, on_delete=models.CASCADE, related_name="news")
    sector = models.CharField(max_length=32, choices=Sector.choices, blank=True)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=300, blank=True, help_text="Page of the thing the news is about")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    event_id = models.UUIDField(unique=True, help_text="The bus event this item was made from")
    event_type = models.CharField(max_length=48)
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    fanned_out_at = models.DateTimeField(null=True, blank=True)
    recipient_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(name="newsitem_kind_known", condition=Q(kind__in=NewsKind.values)),
            models.CheckConstraint(name="newsitem_sector_known", condition=Q(sector="") | Q(sector__in=Sector.values)),
            models.CheckConstraint(name="newsitem_title_not_empty", condition=~Q(title="")),
        ]
        indexes = [models.Index(fields=["kind", "-created_at"], name="newsitem_kind_idx")]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("network:news_detail", args=[self.pk])

    @property
    def link(self) -> str:
        """Where the item points: the thing it is about, else its own page."""
        return self.url or self.get_absolute_url()


class Subscription(models.Model):
    """Who wants which news. A person, or a hub (on behalf of its staff or all its members).

    Each topic field that is set must match (hub AND sector AND kind); a subscriber's rows are
    alternatives (OR). Empty topic fields match anything, but at least one must be set.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="news_subscriptions"
    )
    subscriber_hub = models.ForeignKey(
        "hubs.Hub", null=True, blank=True, on_delete=models.CASCADE, related_name="news_subscriptions"
    )
    audience = models.CharField(
        max_length=8, choices=Audience.choices, default=Audience.STAFF, help_text="For a hub's subscription"
    )
    hub = models.ForeignKey(
        "hubs.Hub",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="followers",
        help_text="News from this hub",
    )
    sector = models.CharField(max_length=32, choices=Sector.choices, blank=True)
    kind = models.CharField(max_length=24, choices=NewsKind.choices, blank=True)
    delivery = models.CharField(
        max_length=12, choices=Delivery.choices, blank=True, help_text="Empty: the person's default"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                name="subscription_one_subscriber",
                condition=Q(user__isnull=False, subscriber_hub__isnull=True)
                | Q(user__isnull=True, subscriber_hub__isnull=False),
            ),
            models.CheckConstraint(
                name="subscription_has_topic",
                condition=Q(hub__isnull=False) | ~Q(sector="") | ~Q(kind=""),
            ),
            models.CheckConstraint(
                name="subscription_sector_known", condition=Q(sector="") | Q(sector__in=Sector.values)
            ),
            models.CheckConstraint(name="subscription_kind_known", condition=Q(kind="") | Q(kind__in=NewsKind.values)),
            models.CheckConstraint(
                name="subscription_delivery_known", condition=Q(delivery="") | Q(delivery__in=Delivery.values)
            ),
            models.CheckConstraint(name="subscription_audience_known", condition=Q(audience__in=Audience.values)),
            # NULLs are never equal in a unique index; coalesce them so a topic is followed once.
            models.UniqueConstraint(
                Coalesce("user", Value(0)),
                Coalesce("subscriber_hub", Value(0)),
                Coalesce("hub", Value(0)),
                "sector",
                "kind",
                name="subscription_topic_once",
            ),
        ]

    def __str__(self):
        return f"{self.subscriber_label}: {self.topic_label}"

    @property
    def subscriber_label(self) -> str:
        return str(self.user) if self.user_id else f"{self.subscriber_hub} ({self.get_audience_display().lower()})"

    @property
    def topic_label(self) -> str:
        parts = []
        if self.kind:
            parts.append(self.get_kind_display())
        if self.sector:
            parts.append(f"in {self.get_sector_display().lower()}" if parts else self.get_sector_display())
        if self.hub_id:
            parts.append(f"from {self.hub}")
        text = " ".join(parts)
        return text[:1].upper() + text[1:]


class NetworkPreference(models.Model):
    """A person's default for subscriptions that do not choose (and for hub subscriptions)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="network_preference")
    delivery = models.CharField(max_length=12, choices=Delivery.choices, default=Delivery.IMMEDIATE)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(name="preference_delivery_known", condition=Q(delivery__in=Delivery.values)),
        ]

    def __str__(self):
        return f"{self.user}: {self.get_delivery_display()}"


class NewsDigest(models.Model):
    """One digest e-mail per person and day (the unique key makes the daily task idempotent)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="news_digests")
    day = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    item_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-day", "-id"]
        constraints = [models.UniqueConstraint(fields=["user", "day"], name="digest_once_per_user_day")]

    def __str__(self):
        return f"Digest for {self.user}, {self.day}"


class NewsDelivery(models.Model):
    """One item delivered to one person: in the inbox at once, by e-mail at once or in a digest."""

    item = models.ForeignKey(NewsItem, on_delete=models.CASCADE, related_name="deliveries")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="news_deliveries")
    mode = models.CharField(max_length=12, choices=Delivery.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    digest = models.ForeignKey(NewsDigest, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "news deliveries"
        constraints = [
            models.UniqueConstraint(fields=["item", "user"], name="news_delivered_once"),
            models.CheckConstraint(name="newsdelivery_mode_known", condition=Q(mode__in=Delivery.values)),
            models.CheckConstraint(
                name="newsdelivery_digest_only_for_digest_mode",
                condition=Q(digest__isnull=True) | Q(mode=Delivery.DIGEST),
            ),
        ]
        indexes = [
            models.Index(
                fields=["mode", "user"],
                name="newsdelivery_pending_idx",
                condition=Q(emailed_at__isnull=True),
            )
        ]

    def __str__(self):
        return f"{self.item} → {self.user}"


class CallAnnouncement(models.Model):
    """Marks a call whose opening was announced, so ``call.opened`` is emitted once per call."""

    call = models.OneToOneField("compute.Call", on_delete=models.CASCADE, related_name="+")
    announced_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"Opening of call {self.call_id} announced"
