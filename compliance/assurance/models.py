"""Fairness checks and drift monitoring of AI systems, with signed reference data ("trust anchors").

- ``FairnessCheck``: one run of the fairness metrics over an uploaded predictions file, with the
  column mapping, the owner's thresholds, the status of the computation and its results.
- ``ReferenceDataset``: reference data uploaded for drift monitoring, with its profile. The hub's
  ethics board signs it off (or rejects it).
- ``TrustAnchor``: the record of a sign-off: SHA-256 of the data and of the profile, the drift
  thresholds, who signed and when. Append-only; a signed-off reference dataset is frozen too. On
  PostgreSQL triggers refuse any UPDATE or DELETE of them (migration 0002), beyond what the
  services, the admin and the API already refuse.
- ``DriftBatch`` / ``DriftColumnResult``: later data compared with an anchor, per column.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from compliance.models import AISystem
from hubs.models import Hub, PartnerSystem


class RunStatus(models.TextChoices):
    PENDING = "pending", "Waiting for the worker"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class FairnessCheck(models.Model):
    system = models.ForeignKey(AISystem, on_delete=models.PROTECT, related_name="fairness_checks")
    hub = models.ForeignKey(Hub, on_delete=models.PROTECT, related_name="+", help_text="The system's hub")
    name = models.CharField(max_length=200, blank=True, help_text="e.g. 'Validation set 2026-Q3'")
    file_name = models.CharField(max_length=255, blank=True)
    file_sha256 = models.CharField("SHA-256 of the upload", max_length=64)
    row_count = models.PositiveIntegerField()
    label_column = models.CharField("true label column", max_length=200)
    prediction_column = models.CharField("predicted label column", max_length=200)
    score_column = models.CharField(max_length=200, blank=True)
    sensitive_columns = models.JSONField(help_text="Names of the sensitive attribute columns")
    positive_label = models.CharField(max_length=100, blank=True)
    inputs = models.JSONField(help_text="The mapped columns, normalised (labels 0/1, groups as text)")
    max_parity_difference = models.FloatField("demographic parity difference at most", default=0.1)
    min_parity_ratio = models.FloatField("demographic parity ratio at least", default=0.8)
    max_equalized_odds_difference = models.FloatField("equalized odds difference at most", default=0.1)
    max_equal_opportunity_difference = models.FloatField("equal opportunity difference at most", default=0.1)
    status = models.CharField(max_length=12, choices=RunStatus.choices, default=RunStatus.PENDING)
    passed = models.BooleanField(null=True, blank=True)
    results = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    evidence_attached_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    computed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(name="fairness_status_known", condition=Q(status__in=RunStatus.values)),
            models.CheckConstraint(name="fairness_has_rows", condition=Q(row_count__gt=0)),
            models.CheckConstraint(
                name="fairness_thresholds_in_range",
                condition=Q(max_parity_difference__gte=0, max_parity_difference__lte=1)
                & Q(min_parity_ratio__gte=0, min_parity_ratio__lte=1)
                & Q(max_equalized_odds_difference__gte=0, max_equalized_odds_difference__lte=1)
                & Q(max_equal_opportunity_difference__gte=0, max_equal_opportunity_difference__lte=1),
            ),
            models.CheckConstraint(
                name="fairness_done_has_time",
                condition=~Q(status=RunStatus.DONE) | Q(computed_at__isnull=False),
            ),
            models.CheckConstraint(
                name="fairness_failed_says_why", condition=~Q(status=RunStatus.FAILED) | ~Q(error="")
            ),
            models.CheckConstraint(
                name="fairness_verdict_only_when_done", condition=Q(status=RunStatus.DONE) | Q(passed__isnull=True)
            ),
        ]
        indexes = [models.Index(fields=["system", "-created_at"], name="fairness_system_recent_idx")]

    def __str__(self):
        return self.name or f"Fairness check #{self.pk}"

    def get_absolute_url(self):
        return reverse("assurance:fairness_detail", args=[self.pk])

    @property
    def thresholds(self) -> dict:
        return {
            "demographic_parity_difference": self.max_parity_difference,
            "demographic_parity_ratio": self.min_parity_ratio,
            "equalized_odds_difference": self.max_equalized_odds_difference,
            "equal_opportunity_difference": self.max_equal_opportunity_difference,
        }

    @property
    def verdict(self) -> str:
        if self.status != RunStatus.DONE:
            return self.get_status_display()
        return {True: "Passed", False: "Failed thresholds", None: "Not computable"}[self.passed]


class ReferenceStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Waiting for the ethics board"
    SIGNED_OFF = "signed_off", "Signed off: trust anchor"
    REJECTED = "rejected", "Rejected by the board"


class ReferenceDataset(models.Model):
    """Reference data for drift monitoring; frozen once the ethics board signs it off."""

    system = models.ForeignKey(AISystem, on_delete=models.PROTECT, related_name="reference_datasets")
    hub = models.ForeignKey(Hub, on_delete=models.PROTECT, related_name="+", help_text="The system's hub")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, help_text="Where the data comes from and what it represents")
    file_name = models.CharField(max_length=255, blank=True)
    data = models.BinaryField(help_text="The uploaded CSV, byte for byte")
    data_sha256 = models.CharField("SHA-256 of the data", max_length=64)
    row_count = models.PositiveIntegerField()
    profile = models.JSONField()
    profile_sha256 = models.CharField("SHA-256 of the profile", max_length=64)
    psi_threshold = models.FloatField("PSI at most", default=0.1)
    alpha = models.FloatField("significance level", default=0.05, help_text="KS and chi-square p-values below it drift")
    js_threshold = models.FloatField("Jensen-Shannon distance at most", default=0.1)
    status = models.CharField(max_length=12, choices=ReferenceStatus.choices, default=ReferenceStatus.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(name="reference_status_known", condition=Q(status__in=ReferenceStatus.values)),
            models.CheckConstraint(name="reference_has_rows", condition=Q(row_count__gt=0)),
            models.CheckConstraint(
                name="reference_thresholds_in_range",
                condition=Q(psi_threshold__gt=0, alpha__gt=0, alpha__lt=1, js_threshold__gt=0, js_threshold__lte=1),
            ),
            models.CheckConstraint(
                name="reference_decision_recorded",
                condition=~Q(status__in=[ReferenceStatus.SIGNED_OFF, ReferenceStatus.REJECTED])
                | Q(decided_by__isnull=False, decided_at__isnull=False),
            ),
            models.CheckConstraint(
                name="reference_rejection_says_why",
                condition=~Q(status=ReferenceStatus.REJECTED) | ~Q(decision_note=""),
            ),
        ]
        indexes = [models.Index(fields=["system", "-created_at"], name="reference_system_recent_idx")]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("assurance:reference_detail", args=[self.pk])

    @property
    def is_frozen(self) -> bool:
        return self.status == ReferenceStatus.SIGNED_OFF

    @property
    def thresholds(self) -> dict:
        return {"psi": self.psi_threshold, "alpha": self.alpha, "jensen_shannon": self.js_threshold}


class TrustAnchor(models.Model):
    """The ethics board's sign-off of a reference dataset. Append-only: never updated or deleted."""

    reference = models.OneToOneField(ReferenceDataset, on_delete=models.PROTECT, related_name="anchor")
    system = models.ForeignKey(AISystem, on_delete=models.PROTECT, related_name="trust_anchors")
    hub = models.ForeignKey(Hub, on_delete=models.PROTECT, related_name="+")
    data_sha256 = models.CharField("SHA-256 of the data", max_length=64)
    profile_sha256 = models.CharField("SHA-256 of the profile", max_length=64)
    psi_threshold = models.FloatField("PSI at most")
    alpha = models.FloatField("significance level")
    js_threshold = models.FloatField("Jensen-Shannon distance at most")
    signed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField()
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-signed_at", "-id"]
        constraints = [
            models.CheckConstraint(
                name="anchor_hashes_are_sha256",
                condition=Q(data_sha256__regex=r"^[0-9a-f]{64}$", profile_sha256__regex=r"^[0-9a-f]{64}$"),
            ),
        ]
        indexes = [models.Index(fields=["system", "-signed_at"], name="anchor_system_recent_idx")]

    def __str__(self):
        return f"Trust anchor of {self.system}: {self.reference.name}" if self.reference_id else "Trust anchor"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("A trust anchor cannot be changed after sign-off.")
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("assurance:reference_detail", args=[self.reference_id])

    def delete(self, *args, **kwargs):
        raise ValueError("A trust anchor cannot be deleted.")

    @property
    def thresholds(self) -> dict:
        return {"psi": self.psi_threshold, "alpha": self.alpha, "jensen_shannon": self.js_threshold}


class BatchSource(models.TextChoices):
    BROWSER = "browser", "Uploaded in the browser"
    API = "api", "Sent through the API"


class DriftBatch(models.Model):
    anchor = models.ForeignKey(TrustAnchor, on_delete=models.PROTECT, related_name="batches")
    system = models.ForeignKey(AISystem, on_delete=models.PROTECT, related_name="drift_batches")
    hub = models.ForeignKey(Hub, on_delete=models.PROTECT, related_name="+")
    label = models.CharField(max_length=200, blank=True, help_text="e.g. 'Week 42' or the monitoring run id")
    source = models.CharField(max_length=8, choices=BatchSource.choices)
    partner = models.ForeignKey(PartnerSystem, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    external_id = models.CharField(
        max_length=120, blank=True, help_text="The sender's id of the batch; sending it again changes nothing"
    )
    file_name = models.CharField(max_length=255, blank=True)
    data_sha256 = models.CharField(max_length=64)
    row_count = models.PositiveIntegerField()
    data = models.JSONField(help_text="The anchor's columns, column-wise")
    status = models.CharField(max_length=12, choices=RunStatus.choices, default=RunStatus.PENDING)
    drifted = models.BooleanField(null=True, blank=True)
    drifted_columns = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    corrective_action_opened = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    computed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "drift batches"
        constraints = [
            models.CheckConstraint(name="batch_status_known", condition=Q(status__in=RunStatus.values)),
            models.CheckConstraint(name="batch_source_known", condition=Q(source__in=BatchSource.values)),
            models.CheckConstraint(name="batch_has_rows", condition=Q(row_count__gt=0)),
            models.CheckConstraint(
                name="batch_done_has_verdict",
                condition=~Q(status=RunStatus.DONE) | Q(computed_at__isnull=False, drifted__isnull=False),
            ),
            models.CheckConstraint(name="batch_failed_says_why", condition=~Q(status=RunStatus.FAILED) | ~Q(error="")),
            models.UniqueConstraint(
                fields=["anchor", "external_id"], condition=~Q(external_id=""), name="batch_external_id_once_per_anchor"
            ),
        ]
        indexes = [models.Index(fields=["system", "-created_at"], name="batch_system_recent_idx")]

    def __str__(self):
        return self.label or f"Drift batch #{self.pk}"

    def get_absolute_url(self):
        return reverse("assurance:batch_detail", args=[self.pk])

    @property
    def verdict(self) -> str:
        if self.status != RunStatus.DONE:
            return self.get_status_display()
        return "Drift detected" if self.drifted else "No drift"


class DriftColumnResult(models.Model):
    batch = models.ForeignKey(DriftBatch, on_delete=models.CASCADE, related_name="column_results")
    column = models.CharField(max_length=200)
    kind = models.CharField(max_length=12)
    psi = models.FloatField(null=True, blank=True)
    test = models.CharField(max_length=16)
    statistic = models.FloatField(null=True, blank=True)
    p_value = models.FloatField(null=True, blank=True)
    drifted = models.BooleanField()
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["batch", "id"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "column"], name="drift_result_once_per_column"),
            models.CheckConstraint(name="drift_result_kind_known", condition=Q(kind__in=["numeric", "categorical"])),
            models.CheckConstraint(
                name="drift_result_p_value_range",
                condition=Q(p_value__isnull=True) | Q(p_value__gte=0, p_value__lte=1),
            ),
        ]

    def __str__(self):
        return f"{self.column} in {self.batch}"
