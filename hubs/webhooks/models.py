"""Webhook endpoints of hubs and partner systems, and the log of every delivery and attempt.

An event on the bus becomes one ``Delivery`` per matching endpoint (unique per endpoint and
event, so fanning an event out twice delivers it once). Each HTTP try is a ``DeliveryAttempt``.
A pending delivery carries ``next_attempt_at``; the sweeper task picks due ones, so retries
survive worker restarts.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse


class EndpointStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    DISABLED = "disabled", "Disabled after failures"


class EndpointScope(models.TextChoices):
    HUB = "hub", "This hub's events only"
    NETWORK = "network", "This hub's events and public news from the whole network"


class Endpoint(models.Model):
    hub = models.ForeignKey("hubs.Hub", on_delete=models.CASCADE, related_name="webhook_endpoints")
    partner = models.ForeignKey(
        "hubs.PartnerSystem",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="webhook_endpoints",
        help_text="The partner system that receives these events, if any",
    )
    url = models.URLField("URL", max_length=500)
    description = models.CharField(max_length=200, blank=True)
    event_types = models.JSONField(default=list, help_text="Event types to send")
    scope = models.CharField(max_length=8, choices=EndpointScope.choices, default=EndpointScope.HUB)
    secret_encrypted = models.TextField(help_text="Signing secret, encrypted with a key derived from SECRET_KEY")
    secret_hint = models.CharField(max_length=12, help_text="Last characters of the secret, to recognise it")
    status = models.CharField(max_length=12, choices=EndpointStatus.choices, default=EndpointStatus.ACTIVE)
    consecutive_failures = models.PositiveIntegerField(default=0)
    failing_since = models.DateTimeField(null=True, blank=True, help_text="First failure of the current streak")
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["hub__name", "url", "id"]
        constraints = [
            models.CheckConstraint(name="endpoint_status_known", condition=Q(status__in=EndpointStatus.values)),
            models.CheckConstraint(name="endpoint_scope_known", condition=Q(scope__in=EndpointScope.values)),
            models.CheckConstraint(
                name="endpoint_url_http", condition=Q(url__startswith="http://") | Q(url__startswith="https://")
            ),
            models.CheckConstraint(
                name="endpoint_disabled_has_time",
                condition=~Q(status=EndpointStatus.DISABLED) | Q(disabled_at__isnull=False),
            ),
        ]
        indexes = [models.Index(fields=["hub", "status"], name="endpoint_hub_status_idx")]

    def __str__(self):
        return self.description or self.url

    def get_absolute_url(self):
        return reverse("webhooks:endpoint_detail", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.status == EndpointStatus.ACTIVE

    @property
    def masked_secret(self) -> str:
        return f"whsec_…{self.secret_hint}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Delivered"
    FAILED = "failed", "Failed (gave up)"


class Delivery(models.Model):
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.UUIDField(help_text="The event's id; the same for every endpoint that receives it")
    event_type = models.CharField(max_length=48)
    body = models.TextField(help_text="The exact JSON sent (and re-sent on redelivery)")
    status = models.CharField(max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    retry_until = models.DateTimeField(help_text="Give up after this moment")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event_id"], name="delivery_once_per_endpoint_event"),
            models.CheckConstraint(name="delivery_status_known", condition=Q(status__in=DeliveryStatus.values)),
            models.CheckConstraint(
                name="delivery_pending_is_scheduled",
                condition=~Q(status=DeliveryStatus.PENDING) | Q(next_attempt_at__isnull=False),
            ),
            models.CheckConstraint(
                name="delivery_succeeded_has_time",
                condition=~Q(status=DeliveryStatus.SUCCEEDED) | Q(delivered_at__isnull=False),
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"], name="delivery_due_idx", condition=Q(status=DeliveryStatus.PENDING)
            ),
            models.Index(fields=["endpoint", "-created_at"], name="delivery_endpoint_idx"),
        ]

    def __str__(self):
        return f"{self.event_type} → {self.endpoint_id} ({self.status})"

    def get_absolute_url(self):
        return reverse("webhooks:delivery_detail", args=[self.pk])


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    succeeded = models.BooleanField(default=False)
    error = models.CharField(max_length=300, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Set on a manual redelivery",
    )

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="attempt_number_unique")]

    def __str__(self):
        return f"Attempt {self.number} of delivery {self.delivery_id}"
