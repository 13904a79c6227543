"""AI systems, their AI Act risk assessments, obligation checklists with evidence, and the
hub's ethics board with its decisions.

Nothing here is legal advice: the classification follows the questionnaire kept in
``compliance/questionnaires`` and records which version it used.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from hubs.models import Hub, Organisation, Sector


class Role(models.TextChoices):
    PROVIDER = "provider", "Provider (we develop it and put it into service under our name)"
    DEPLOYER = "deployer", "Deployer (we use someone else's system under our authority)"
    BOTH = "both", "Both provider and deployer"


class Modality(models.TextChoices):
    TEXT = "text", "Text"
    IMAGE = "image", "Images"
    AUDIO = "audio", "Audio / speech"
    VIDEO = "video", "Video"
    TABULAR = "tabular", "Tabular records"
    TIME_SERIES = "time_series", "Time series / sensor data"
    GEOSPATIAL = "geospatial", "Geospatial / satellite"
    MULTIMODAL = "multimodal", "Several of these"
    DECISION = "decision", "A decision, score or ranking"
    OTHER = "other", "Other"


class DeploymentStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    DEVELOPMENT = "development", "In development"
    TESTING = "testing", "Testing (incl. real-world testing)"
    DEPLOYED = "deployed", "Deployed / on the market"
    RETIRED = "retired", "Retired"


class RiskClass(models.TextChoices):
    UNASSESSED = "", "Not assessed yet"
    OUT_OF_SCOPE = "out_of_scope", "Outside the AI Act"
    PROHIBITED = "prohibited", "Prohibited practice (Art. 5)"
    HIGH_RISK_ANNEX_I = "high_risk_annex_i", "High-risk: product safety (Art. 6(1), Annex I)"
    HIGH_RISK_ANNEX_III = "high_risk_annex_iii", "High-risk: Annex III use case (Art. 6(2))"
    TRANSPARENCY = "transparency", "Transparency obligations (Art. 50)"
    MINIMAL = "minimal", "Minimal risk"


HIGH_RISK_CLASSES = (RiskClass.HIGH_RISK_ANNEX_I, RiskClass.HIGH_RISK_ANNEX_III)


class AISystem(models.Model):
    hub = models.ForeignKey(Hub, on_delete=models.PROTECT, related_name="ai_systems")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="ai_systems")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="ai_systems")
    name = models.CharField(max_length=200)
    intended_purpose = models.TextField(help_text="What it is for, who uses it and on whom (Art. 3(12))")
    role = models.CharField("our role", max_length=16, choices=Role.choices, default=Role.PROVIDER)
    sector = models.CharField(max_length=32, choices=Sector.choices)
    input_modality = models.CharField(max_length=16, choices=Modality.choices)
    output_modality = models.CharField(max_length=16, choices=Modality.choices)
    uses_personal_data = models.BooleanField(default=False)
    uses_health_data = models.BooleanField(default=False)
    uses_biometric_data = models.BooleanField(default=False)
    is_gpai_model = models.BooleanField(
        "is a general-purpose AI model", default=False, help_text="We provide the model itself (Art. 3(63))"
    )
    builds_on_gpai = models.BooleanField("builds on a general-purpose model", default=False)
    gpai_base_model = models.CharField("base model", max_length=200, blank=True)
    training_compute_flop = models.FloatField(
        "training compute (FLOP)",
        null=True,
        blank=True,
        help_text="Cumulative training compute, e.g. 3.2e24. Above 1e25 a model is presumed to have systemic risk.",
    )
    deployment_status = models.CharField(
        max_length=16, choices=DeploymentStatus.choices, default=DeploymentStatus.DEVELOPMENT
    )
    on_market_since = models.DateField(
        null=True, blank=True, help_text="First placed on the market or put into service, if it is"
    )
    projects = models.ManyToManyField("compute.Project", blank=True, related_name="ai_systems")
    applications = models.ManyToManyField("compute.Application", blank=True, related_name="ai_systems")
    # The outcome of the latest submitted assessment, kept by ``assessment_submit`` (lists filter on it).
    risk_class = models.CharField(max_length=24, choices=RiskClass.choices, default=RiskClass.UNASSESSED, blank=True)
    annex_iii_point = models.CharField(max_length=16, blank=True)  # e.g. "5d", "2-electricity"
    gpai_systemic_risk = models.BooleanField(default=False)
    assessed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = "AI system"
        constraints = [
            models.UniqueConstraint(fields=["hub", "name"], name="aisystem_name_unique_per_hub"),
            models.CheckConstraint(name="aisystem_name_not_empty", condition=~Q(name="")),
            models.CheckConstraint(name="aisystem_role_known", condition=Q(role__in=Role.values)),
            models.CheckConstraint(name="aisystem_sector_known", condition=Q(sector__in=Sector.values)),
            models.CheckConstraint(
                name="aisystem_modalities_known",
                condition=Q(input_modality__in=Modality.values, output_modality__in=Modality.values),
            ),
            models.CheckConstraint(
                name="aisystem_deployment_known", condition=Q(deployment_status__in=DeploymentStatus.values)
            ),
            models.CheckConstraint(name="aisystem_risk_class_known", condition=Q(risk_class__in=RiskClass.values)),
            models.CheckConstraint(
                name="aisystem_flop_nonnegative",
                condition=Q(training_compute_flop__isnull=True) | Q(training_compute_flop__gte=0),
            ),
            models.CheckConstraint(
                name="aisystem_health_is_personal",
                condition=Q(uses_health_data=False, uses_biometric_data=False) | Q(uses_personal_data=True),
            ),
        ]
        indexes = [models.Index(fields=["hub", "risk_class"], name="aisystem_hub_class_idx")]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("compliance:system_detail", args=[self.pk])

    @property
    def is_high_risk(self) -> bool:
        return self.risk_class in HIGH_RISK_CLASSES

    @property
    def is_prohibited(self) -> bool:
        return self.risk_class == RiskClass.PROHIBITED


class AssessmentStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"


class Assessment(models.Model):
    """One run through the questionnaire. Drafts keep answers as they come; submitting fixes the outcome."""

    system = models.ForeignKey(AISystem, on_delete=models.CASCADE, related_name="assessments")
    questionnaire_version = models.CharField(max_length=16)
    status = models.CharField(max_length=12, choices=AssessmentStatus.choices, default=AssessmentStatus.DRAFT)
    answers = models.JSONField(default=dict, blank=True, help_text="question key -> answer")
    risk_class = models.CharField(max_length=24, choices=RiskClass.choices, default=RiskClass.UNASSESSED, blank=True)
    annex_i_section = models.CharField(max_length=1, blank=True)
    annex_iii_point = models.CharField(max_length=16, blank=True)  # e.g. "5d", "2-electricity"
    derogation = models.CharField("Art. 6(3) derogation", max_length=4, blank=True)
    transparency_duties = models.JSONField(default=list, blank=True, help_text="Art. 50 paragraphs that apply")
    gpai_model = models.BooleanField(default=False)
    gpai_systemic_risk = models.BooleanField(default=False)
    reasoning = models.JSONField(default=list, blank=True, help_text="[{conclusion, article}]")
    applicable_dates = models.JSONField(default=list, blank=True, help_text="[{date, what, article}]")
    skipped = models.JSONField(default=list, blank=True, help_text="Question keys made moot by earlier answers")
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(name="assessment_status_known", condition=Q(status__in=AssessmentStatus.values)),
            models.CheckConstraint(name="assessment_class_known", condition=Q(risk_class__in=RiskClass.values)),
            models.CheckConstraint(
                name="assessment_submitted_has_outcome",
                condition=Q(status=AssessmentStatus.DRAFT)
                | (Q(submitted_at__isnull=False, submitted_by__isnull=False) & ~Q(risk_class="")),
            ),
            models.CheckConstraint(
                name="assessment_annex_iii_only_when_high_risk",
                condition=Q(annex_iii_point="")
                | Q(risk_class=RiskClass.HIGH_RISK_ANNEX_III)
                | Q(status=AssessmentStatus.DRAFT),
            ),
            models.UniqueConstraint(
                fields=["system"], condition=Q(status=AssessmentStatus.DRAFT), name="assessment_one_draft_per_system"
            ),
        ]
        indexes = [models.Index(fields=["system", "status", "submitted_at"], name="assessment_latest_idx")]

    def __str__(self):
        when = f"{self.submitted_at:%Y-%m-%d}" if self.submitted_at else "draft"
        return f"Assessment of {self.system} ({when})"

    def get_absolute_url(self):
        return reverse("compliance:assessment_result", args=[self.pk])

    @property
    def hub(self):
        return self.system.hub


class EvidenceType(models.TextChoices):
    DOC = "DOC", "Document"
    LOG = "LOG", "Logs / records"
    TEST = "TEST", "Test or evaluation report"
    SIGN = "SIGN", "Dated sign-off"


class ItemSection(models.TextChoices):
    AI_ACT = "ai_act", "AI Act"
    GDPR = "gdpr", "GDPR privacy by design"
    CORRECTIVE = "corrective", "Corrective actions"


class ItemStatus(models.TextChoices):
    TODO = "todo", "To do"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    NOT_APPLICABLE = "not_applicable", "Not applicable"


class ChecklistItem(models.Model):
    """One obligation for one system. ``key`` names the obligation in the questionnaire's
    obligation list (or ``corrective:<source>``); re-classifying keeps items whose key still
    applies, with their evidence, and marks the others obsolete."""

    system = models.ForeignKey(AISystem, on_delete=models.CASCADE, related_name="checklist_items")
    key = models.CharField(max_length=120)
    section = models.CharField(max_length=12, choices=ItemSection.choices, default=ItemSection.AI_ACT)
    article = models.CharField(max_length=60)
    title = models.CharField(max_length=250)
    description = models.TextField(blank=True)
    evidence_types = models.JSONField(default=list, help_text="Any of DOC, LOG, TEST, SIGN")
    due_on = models.DateField(null=True, blank=True)
    position = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=ItemStatus.choices, default=ItemStatus.TODO)
    justification = models.TextField(blank=True, help_text="Why it does not apply (required for 'not applicable')")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="checklist_items"
    )
    obsolete_at = models.DateTimeField(
        null=True, blank=True, help_text="Set when a re-classification no longer requires this item"
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["system", "key"], name="checklist_item_once_per_system"),
            models.CheckConstraint(name="checklist_status_known", condition=Q(status__in=ItemStatus.values)),
            models.CheckConstraint(name="checklist_section_known", condition=Q(section__in=ItemSection.values)),
            models.CheckConstraint(
                name="checklist_not_applicable_justified",
                condition=~Q(status=ItemStatus.NOT_APPLICABLE) | ~Q(justification=""),
            ),
            models.CheckConstraint(
                name="checklist_done_has_time",
                condition=~Q(status=ItemStatus.DONE) | Q(completed_at__isnull=False),
            ),
        ]
        indexes = [models.Index(fields=["system", "obsolete_at", "status"], name="checklist_system_status_idx")]

    def __str__(self):
        return f"{self.article}: {self.title}"

    def get_absolute_url(self):
        return reverse("compliance:item_detail", args=[self.pk])

    @property
    def hub(self):
        return self.system.hub

    @property
    def is_closed(self) -> bool:
        return self.status in (ItemStatus.DONE, ItemStatus.NOT_APPLICABLE)


class ItemComment(models.Model):
    item = models.ForeignKey(ChecklistItem, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.CheckConstraint(name="comment_not_empty", condition=~Q(body=""))]

    def __str__(self):
        return f"Comment by {self.author} on {self.item}"


class EvidenceKind(models.TextChoices):
    FILE = "file", "Uploaded file"
    LINK = "link", "Link"


def evidence_upload_to(instance, filename):
    return f"compliance/evidence/{instance.item.system_id}/{instance.item_id}/{filename}"


class Evidence(models.Model):
    item = models.ForeignKey(ChecklistItem, on_delete=models.CASCADE, related_name="evidence")
    kind = models.CharField(max_length=8, choices=EvidenceKind.choices)
    label = models.CharField(max_length=200)
    evidence_type = models.CharField(max_length=4, choices=EvidenceType.choices, default=EvidenceType.DOC)
    file = models.FileField(upload_to=evidence_upload_to, max_length=300, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    size_bytes = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    url = models.URLField(max_length=500, blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "evidence"
        constraints = [
            models.CheckConstraint(name="evidence_kind_known", condition=Q(kind__in=EvidenceKind.values)),
            models.CheckConstraint(name="evidence_type_known", condition=Q(evidence_type__in=EvidenceType.values)),
            models.CheckConstraint(
                name="evidence_file_xor_link",
                condition=(Q(kind=EvidenceKind.FILE) & ~Q(file="") & Q(url=""))
                | (Q(kind=EvidenceKind.LINK) & ~Q(url="") & Q(file="")),
            ),
            models.CheckConstraint(name="evidence_label_not_empty", condition=~Q(label="")),
        ]

    def __str__(self):
        return self.label

    @property
    def hub(self):
        return self.item.system.hub


class BoardMember(models.Model):
    """A named member of a hub's ethics board."""

    hub = models.ForeignKey(Hub, on_delete=models.CASCADE, related_name="board_members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="board_seats")
    title = models.CharField(max_length=120, blank=True, help_text="e.g. Chair, Data protection officer")
    active = models.BooleanField(default=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["hub__name", "user__name", "id"]
        constraints = [models.UniqueConstraint(fields=["hub", "user"], name="board_member_once_per_hub")]

    def __str__(self):
        return f"{self.user} ({self.hub} ethics board)"


class ReviewStatus(models.TextChoices):
    PENDING = "pending", "Waiting for the board"
    APPROVED = "approved", "Approved"
    APPROVED_WITH_CONDITIONS = "approved_with_conditions", "Approved with conditions"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"


APPROVING = (ReviewStatus.APPROVED, ReviewStatus.APPROVED_WITH_CONDITIONS)
DECIDED = (*APPROVING, ReviewStatus.REJECTED)


class BoardReview(models.Model):
    """The owner's request for an ethics-board review and the board's decision on it.

    The decision covers the assessment submitted at the time of the request.
    """

    system = models.ForeignKey(AISystem, on_delete=models.PROTECT, related_name="board_reviews")
    assessment = models.ForeignKey(Assessment, on_delete=models.PROTECT, related_name="board_reviews")
    status = models.CharField(max_length=32, choices=ReviewStatus.choices, default=ReviewStatus.PENDING)
    request_note = models.TextField(blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    rationale = models.TextField(blank=True)
    conditions = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.CheckConstraint(name="board_review_status_known", condition=Q(status__in=ReviewStatus.values)),
            models.UniqueConstraint(
                fields=["system"], condition=Q(status=ReviewStatus.PENDING), name="board_review_one_pending"
            ),
            models.CheckConstraint(
                name="board_decision_complete",
                condition=~Q(status__in=DECIDED)
                | (Q(decided_by__isnull=False, decided_at__isnull=False) & ~Q(rationale="")),
            ),
            models.CheckConstraint(
                name="board_conditions_stated",
                condition=~Q(status=ReviewStatus.APPROVED_WITH_CONDITIONS) | ~Q(conditions=""),
            ),
        ]

    def __str__(self):
        return f"Ethics review of {self.system} ({self.get_status_display().lower()})"

    @property
    def hub(self):
        return self.system.hub

    @property
    def is_approval(self) -> bool:
        return self.status in APPROVING
