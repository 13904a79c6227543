"""Shared plumbing models: the append-only audit trail."""

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models


class AuditEvent(models.Model):
    """Who did what to which object, when, with the state before and after.

    Rows are written in the same transaction as the change they describe and are never
    updated or deleted: ``save`` refuses updates, and on PostgreSQL a trigger refuses
    UPDATE and DELETE outright (see migration 0002).
    """

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=200, blank=True, help_text="API key or system that acted")
    action = models.CharField(max_length=64, db_index=True)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200)
    hub = models.ForeignKey("hubs.Hub", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["content_type", "object_id"], name="audit_object_idx")]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.object_repr}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Audit events are append-only.")


class IdempotentRequest(models.Model):
    """An API write sent with an ``Idempotency-Key`` header, and the answer it got.

    The row is claimed (``response_status`` empty) before the view runs, so a second request with
    the same key that arrives while the first is still running is refused, not run twice. Once the
    view answers, the answer is stored and every repeat within ``IDEMPOTENCY_TTL`` gets it again.
    ``principal`` is who sent it: a hash of the full bearer key, or the signed-in user, so that
    nobody else can replay (or read) someone's stored answer by guessing their key.
    """

    principal = models.CharField(max_length=80)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the method, path, query and body")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    response_body = models.BinaryField(default=b"", blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["principal", "key"], name="idempotent_request_once"),
            models.CheckConstraint(
                name="idempotent_request_status_http",
                condition=models.Q(response_status__isnull=True)
                | models.Q(response_status__gte=200, response_status__lt=500),
            ),
        ]

    def __str__(self):
        return f"{self.key} ({self.response_status or 'running'})"
