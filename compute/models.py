"""GPU credits: funding, resources, calls, projects, applications, reviews, allocations,
the double-entry ledger and usage.

Amounts are integers in millicredits (1 credit = 1 H100-class GPU-hour = 1000 millicredits).
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse

from hubs.models import Hub, Organisation, PartnerSystem

MILLI = 1000  # millicredits per credit


def credits(millicredits: int) -> str:
    """Human form of an amount: 12,345.5 credits."""
    whole, frac = divmod(abs(int(millicredits)), MILLI)
    sign = "-" if millicredits < 0 else ""
    text = f"{whole:,}" if not frac else f"{whole:,}.{frac:03d}".rstrip("0")
    return f"{sign}{text}"


class FundingKind(models.TextChoices):
    EU = "eu", "EU programme"
    NATIONAL = "national", "National programme"
    REGIONAL = "regional", "Regional programme"
    PRIVATE = "private", "Private partner"


class FundingSource(models.Model):
    Kind = FundingKind

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=16, choices=FundingKind.choices, default=FundingKind.EU)
    hub = models.ForeignKey(
        Hub,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="funding_sources",
        help_text="Empty for network-wide sources",
    )
    reference = models.CharField(max_length=120, blank=True, help_text="Grant agreement or programme reference")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.CheckConstraint(name="funding_kind_known", condition=Q(kind__in=FundingKind.values))]

    def __str__(self):
        return self.name


class ComputeProvider(models.Model):
    """An HPC centre or cloud that runs resources; its partner system reports usage."""

    name = models.CharField(max_length=200)
    hub = models.ForeignKey(Hub, on_delete=models.PROTECT, related_name="compute_providers")
    partner = models.ForeignKey(
        PartnerSystem,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="compute_providers",
        help_text="The partner system that reports usage",
    )
    website = models.URLField(blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["hub", "name"], name="provider_name_unique_per_hub")]

    def __str__(self):
        return self.name


class ComputeResource(models.Model):
    provider = models.ForeignKey(ComputeProvider, on_delete=models.PROTECT, related_name="resources")
    hub = models.ForeignKey(Hub, on_delete=models.PROTECT, related_name="compute_resources")
    name = models.CharField(max_length=120)
    gpu_model = models.CharField(max_length=60, help_text="e.g. NVIDIA H100 80GB")
    rate_millicredits = models.PositiveIntegerField(
        "rate (millicredits per GPU-hour)", help_text="1000 = one credit per GPU-hour (H100 class)"
    )
    monthly_capacity_gpu_hours = models.PositiveIntegerField(default=0)
    slurm_partition = models.CharField(max_length=60, blank=True, help_text="Partition name in sacct exports")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["hub__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "name"], name="resource_name_unique_per_provider"),
            models.CheckConstraint(name="resource_rate_positive", condition=Q(rate_millicredits__gt=0)),
            # What a usage record's (provider, resource) pair refers to: see UsageRecord.
            models.UniqueConstraint(fields=["provider", "id"], name="resource_provider_pair_unique"),
        ]

    def __str__(self):
        return f"{self.name} ({self.gpu_model})"

    @property
    def rate_credits(self) -> str:
        return credits(self.rate_millicredits)


class Track(models.TextChoices):
    PLAYGROUND = "playground", "Playground"
    FAST_LANE = "fast_lane", "Fast lane"
    PEER_REVIEW = "peer_review", "Peer review"


FAST_LANE_DEFAULT_LIMIT = 50_000 * MILLI


def default_rubric():
    return [
        {"key": "excellence", "label": "Scientific or technical excellence"},
        {"key": "impact", "label": "Expected impact"},
        {"key": "feasibility", "label": "Feasibility and readiness to use the GPUs"},
    ]


class Call(models.Model):
    hub = models.ForeignKey(Hub, on_delete=models.PROTECT, related_name="calls")
    funding_source = models.ForeignKey(FundingSource, on_delete=models.PROTECT, related_name="calls")
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.TextField(blank=True)
    track = models.CharField(max_length=16, choices=Track.choices)
    opens_at = models.DateTimeField()
    closes_at = models.DateTimeField()
    review_cutoffs = models.JSONField(
        default=list, blank=True, help_text="Peer review: ISO dates on which batches are decided"
    )
    max_request_millicredits = models.BigIntegerField(
        "limit per application (millicredits)", help_text="Fast lane default: 50,000 credits"
    )
    playground_grant_millicredits = models.BigIntegerField(
        "fixed playground grant (millicredits)", default=0, help_text="Playground only"
    )
    allowed_org_kinds = models.JSONField(
        default=list, blank=True, help_text="Organisation kinds that may apply; empty = all"
    )
    eligible_resources = models.ManyToManyField(ComputeResource, related_name="calls")
    allocation_days = models.PositiveIntegerField(default=180)
    min_reviewers = models.PositiveSmallIntegerField(default=2)
    rubric = models.JSONField(default=default_rubric, blank=True)
    published = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["closes_at", "title"]
        constraints = [
            models.CheckConstraint(name="call_track_known", condition=Q(track__in=Track.values)),
            models.CheckConstraint(name="call_window_ordered", condition=Q(closes_at__gt=F("opens_at"))),
            models.CheckConstraint(name="call_limit_positive", condition=Q(max_request_millicredits__gt=0)),
            models.CheckConstraint(
                name="call_playground_grant_nonneg", condition=Q(playground_grant_millicredits__gte=0)
            ),
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("compute:call_detail", args=[self.slug])

    def is_open_at(self, moment) -> bool:
        return self.published and self.opens_at <= moment < self.closes_at

    def allows_kind(self, kind: str) -> bool:
        return not self.allowed_org_kinds or kind in self.allowed_org_kinds


class Project(models.Model):
    hub = models.ForeignKey(Hub, on_delete=models.PROTECT, related_name="projects")
    title = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    pi = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="led_projects")
    organisation = models.ForeignKey(Organisation, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title"]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("compute:project_detail", args=[self.pk])


class ProjectRole(models.TextChoices):
    PI = "pi", "Principal investigator"
    MEMBER = "member", "Member"


class ProjectMember(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="project_memberships")
    role = models.CharField(max_length=8, choices=ProjectRole.choices, default=ProjectRole.MEMBER)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="project_member_once"),
            models.CheckConstraint(name="project_role_known", condition=Q(role__in=ProjectRole.values)),
        ]

    def __str__(self):
        return f"{self.user} in {self.project}"


class AppStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    SCREENING = "screening", "Screening"
    IN_REVIEW = "in_review", "In review"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"


OPEN_STATUSES = (
    AppStatus.DRAFT,
    AppStatus.SUBMITTED,
    AppStatus.SCREENING,
    AppStatus.IN_REVIEW,
    AppStatus.CHANGES_REQUESTED,
)
FINAL_STATUSES = (AppStatus.APPROVED, AppStatus.REJECTED, AppStatus.WITHDRAWN)


class DataSensitivity(models.TextChoices):
    NONE = "none", "No personal data"
    PERSONAL = "personal", "Personal data"
    HEALTH = "health", "Health data"
    SPECIAL = "special", "Other special-category data"


class Application(models.Model):
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="applications")
    call = models.ForeignKey(Call, on_delete=models.PROTECT, related_name="applications")
    hub = models.ForeignKey(Hub, on_delete=models.PROTECT, related_name="applications")
    applicant = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="applications")
    title = models.CharField(max_length=200)
    abstract = models.TextField(blank=True)
    justification = models.TextField(blank=True, help_text="Why these GPU-hours, and how you will use them")
    duration_days = models.PositiveIntegerField(default=90)
    data_sensitivity = models.CharField(max_length=16, choices=DataSensitivity.choices, default=DataSensitivity.NONE)
    civilian_use = models.BooleanField(default=False, help_text="I declare the work is for civilian purposes only")
    ai_system_name = models.CharField("AI system concerned", max_length=200, blank=True)
    status = models.CharField(max_length=20, choices=AppStatus.choices, default=AppStatus.DRAFT)
    requested_millicredits = models.BigIntegerField(default=0)
    granted_millicredits = models.BigIntegerField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    screening_round = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True, db_index=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(name="app_status_known", condition=Q(status__in=AppStatus.values)),
            models.CheckConstraint(
                name="app_sensitivity_known", condition=Q(data_sensitivity__in=DataSensitivity.values)
            ),
            models.CheckConstraint(name="app_requested_nonneg", condition=Q(requested_millicredits__gte=0)),
            models.CheckConstraint(
                name="app_granted_within_request",
                condition=Q(granted_millicredits__isnull=True)
                | Q(granted_millicredits__gt=0, granted_millicredits__lte=F("requested_millicredits")),
            ),
            models.CheckConstraint(
                name="app_approved_has_grant",
                condition=~Q(status=AppStatus.APPROVED) | Q(granted_millicredits__isnull=False),
            ),
        ]
        indexes = [
            models.Index(fields=["hub", "status", "submitted_at"], name="app_queue_idx"),
            models.Index(fields=["call", "status"], name="app_call_status_idx"),
            # The screening queue: what a batch claims next, oldest first (a few rows of many).
            models.Index(
                fields=["submitted_at", "id"], condition=Q(status="submitted"), name="app_submitted_queue_idx"
            ),
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("compute:application_detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class ResourceRequest(models.Model):
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="resource_requests")
    resource = models.ForeignKey(ComputeResource, on_delete=models.PROTECT, related_name="+")
    gpu_hours = models.PositiveIntegerField(validators=[MinValueValidator(1)])

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["application", "resource"], name="one_request_per_resource"),
            models.CheckConstraint(name="request_hours_positive", condition=Q(gpu_hours__gt=0)),
        ]

    def __str__(self):
        return f"{self.gpu_hours} GPU-hours on {self.resource}"

    @property
    def millicredits(self) -> int:
        return self.gpu_hours * self.resource.rate_millicredits


class ScreeningResult(models.Model):
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="screening_results")
    round = models.PositiveSmallIntegerField()
    check_key = models.CharField(max_length=48)
    label = models.CharField(max_length=120)
    passed = models.BooleanField()
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["round", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["application", "round", "check_key"], name="screening_check_once_per_round"
            ),
        ]

    def __str__(self):
        return f"{self.check_key}: {'pass' if self.passed else 'fail'}"


class Recommendation(models.TextChoices):
    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"
    REVISE = "revise", "Revise"


class ReviewStatus(models.TextChoices):
    ASSIGNED = "assigned", "Assigned"
    SUBMITTED = "submitted", "Submitted"
    DECLINED = "declined", "Declined (conflict of interest)"


class Review(models.Model):
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews")
    status = models.CharField(max_length=12, choices=ReviewStatus.choices, default=ReviewStatus.ASSIGNED)
    scores = models.JSONField(default=dict, blank=True, help_text="criterion key -> score 1..5")
    comment_for_applicant = models.TextField(blank=True)
    private_comment = models.TextField(blank=True, help_text="Only hub staff see this")
    recommendation = models.CharField(max_length=8, choices=Recommendation.choices, blank=True)
    no_conflict_declared = models.BooleanField(default=False)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assigned_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["assigned_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["application", "reviewer"], name="one_review_per_reviewer"),
            models.CheckConstraint(name="review_status_known", condition=Q(status__in=ReviewStatus.values)),
            models.CheckConstraint(
                name="review_submitted_complete",
                condition=~Q(status=ReviewStatus.SUBMITTED)
                | (Q(no_conflict_declared=True, submitted_at__isnull=False) & ~Q(recommendation="")),
            ),
        ]

    def __str__(self):
        return f"Review of {self.application} by {self.reviewer}"

    @property
    def average_score(self) -> float | None:
        values = [v for v in self.scores.values() if isinstance(v, int)]
        return round(sum(values) / len(values), 2) if values else None


class AllocationStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    EXPIRED = "expired", "Expired"
    CLOSED = "closed", "Closed"


class Allocation(models.Model):
    application = models.OneToOneField(Application, on_delete=models.PROTECT, related_name="allocation")
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="allocations")
    call = models.ForeignKey(Call, on_delete=models.PROTECT, related_name="allocations")
    hub = models.ForeignKey(Hub, on_delete=models.PROTECT, related_name="allocations")
    granted_millicredits = models.BigIntegerField()
    starts_on = models.DateField()
    ends_on = models.DateField()
    status = models.CharField(max_length=8, choices=AllocationStatus.choices, default=AllocationStatus.ACTIVE)
    slurm_account = models.CharField(max_length=60, blank=True, help_text="Account name in sacct exports")
    notified_80_at = models.DateTimeField(null=True, blank=True)
    notified_100_at = models.DateTimeField(null=True, blank=True)
    provider_notified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(name="allocation_status_known", condition=Q(status__in=AllocationStatus.values)),
            models.CheckConstraint(name="allocation_granted_positive", condition=Q(granted_millicredits__gt=0)),
            models.CheckConstraint(name="allocation_dates_ordered", condition=Q(ends_on__gte=F("starts_on"))),
            models.UniqueConstraint(
                fields=["hub", "slurm_account"],
                condition=~Q(slurm_account=""),
                name="allocation_slurm_account_unique_per_hub",
            ),
        ]

    def __str__(self):
        return f"{credits(self.granted_millicredits)} credits for {self.project}"


# --- Ledger ---------------------------------------------------------------------------------


class AccountKind(models.TextChoices):
    FUNDING = "funding", "Funding source"
    CALL_BUDGET = "call_budget", "Call budget"
    ALLOCATION = "allocation", "Project allocation"
    OVERAGE = "overage", "Usage beyond the allocation"
    PROVIDER = "provider", "Provider usage"


# Accounts whose balance is credits someone may still spend: the database refuses to take them below zero.
GUARDED_KINDS = (AccountKind.CALL_BUDGET, AccountKind.ALLOCATION)


class Account(models.Model):
    """A ledger account. ``balance`` is kept true by the same transaction that writes the entries
    (see ``compute.ledger``) and guarded by a check constraint; it always equals the sum of entries."""

    kind = models.CharField(max_length=16, choices=AccountKind.choices)
    funding_source = models.OneToOneField(
        FundingSource, null=True, blank=True, on_delete=models.PROTECT, related_name="account"
    )
    call = models.OneToOneField(Call, null=True, blank=True, on_delete=models.PROTECT, related_name="account")
    allocation = models.ForeignKey(Allocation, null=True, blank=True, on_delete=models.PROTECT, related_name="accounts")
    provider = models.OneToOneField(
        ComputeProvider, null=True, blank=True, on_delete=models.PROTECT, related_name="account"
    )
    balance = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(name="account_kind_known", condition=Q(kind__in=AccountKind.values)),
            models.CheckConstraint(
                name="account_guarded_nonnegative",
                condition=~Q(kind__in=GUARDED_KINDS) | Q(balance__gte=0),
            ),
            models.CheckConstraint(
                name="account_owner_matches_kind",
                condition=(
                    Q(kind=AccountKind.FUNDING, funding_source__isnull=False)
                    | Q(kind=AccountKind.CALL_BUDGET, call__isnull=False)
                    | Q(kind__in=[AccountKind.ALLOCATION, AccountKind.OVERAGE], allocation__isnull=False)
                    | Q(kind=AccountKind.PROVIDER, provider__isnull=False)
                ),
            ),
            models.UniqueConstraint(fields=["allocation", "kind"], name="one_account_per_allocation_kind"),
        ]

    def __str__(self):
        owner = self.funding_source or self.call or self.allocation or self.provider
        return f"{self.get_kind_display()}: {owner}"


class TransactionKind(models.TextChoices):
    FUND = "fund", "Call funded"
    GRANT = "grant", "Allocation granted"
    USAGE = "usage", "GPU usage"
    EXPIRY = "expiry", "Unused credits returned"
    ADJUSTMENT = "adjustment", "Adjustment"


class Transaction(models.Model):
    kind = models.CharField(max_length=12, choices=TransactionKind.choices)
    # Unique through the constraint below rather than ``unique=True``, which on PostgreSQL also
    # builds a second (LIKE) index on the key: nothing searches keys by prefix, and each usage
    # batch writes 10,000 of them.
    idempotency_key = models.CharField(max_length=200)
    memo = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The allocation a usage transaction charged (a batch charges one transaction per
    # allocation); empty for the other kinds. Its usage records must name the same allocation:
    # see UsageRecord.
    allocation = models.ForeignKey(
        Allocation, null=True, blank=True, on_delete=models.PROTECT, related_name="usage_transactions"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(name="transaction_kind_known", condition=Q(kind__in=TransactionKind.values)),
            models.UniqueConstraint(fields=["idempotency_key"], name="transaction_idempotency_key_unique"),
            # What a usage record's (transaction, allocation) pair refers to.
            models.UniqueConstraint(fields=["id", "allocation"], name="transaction_allocation_pair_unique"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk}"


class Entry(models.Model):
    transaction = models.ForeignKey(Transaction, on_delete=models.PROTECT, related_name="entries")
    # Indexed by ``entry_account_idx`` (account, id), which serves the foreign key too.
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries", db_index=False)
    amount = models.BigIntegerField(help_text="Millicredits; positive credits the account, negative debits it")
    balance_after = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "entries"
        constraints = [models.CheckConstraint(name="entry_amount_nonzero", condition=~Q(amount=0))]
        indexes = [models.Index(fields=["account", "id"], name="entry_account_idx")]

    def __str__(self):
        return f"{self.amount:+d} on {self.account_id}"


class UsageRecord(models.Model):
    # The provider and the allocation are indexed by ``usage_once_per_provider_job`` and
    # ``usage_allocation_time_idx``, which lead with them: an index of their own each would only
    # slow down the bulk ingest.
    #
    # Two composite foreign keys on PostgreSQL hold the four references (migrations 0010, 0011):
    #
    # - ``usage_resource_of_provider``: (provider_id, resource_id) references the resource's
    #   (provider_id, id): the resource exists, and the record's provider is the resource's;
    # - ``usage_charged_by_transaction``: (transaction_id, allocation_id) references the
    #   transaction's (id, allocation_id): the transaction exists and charged this record's
    #   allocation (which the transaction's own key makes sure exists).
    #
    # Four single-column keys checked less (a provider and a resource that did not belong
    # together, a transaction of another allocation) at twice the cost: each key is one check
    # per record at commit, about 30 ms of a batch of 10,000 (docs/benchmarks.md). Django knows
    # the pairs only through those migrations, hence ``db_constraint=False`` on the four fields;
    # SQLite, the embedded demo, goes without them.
    provider = models.ForeignKey(
        ComputeProvider, on_delete=models.PROTECT, related_name="usage_records", db_index=False, db_constraint=False
    )
    resource = models.ForeignKey(
        ComputeResource, on_delete=models.PROTECT, related_name="usage_records", db_constraint=False
    )
    allocation = models.ForeignKey(
        Allocation, on_delete=models.PROTECT, related_name="usage_records", db_index=False, db_constraint=False
    )
    external_id = models.CharField(max_length=120, help_text="The provider's job id")
    user_label = models.CharField(max_length=120, blank=True, help_text="Who ran the job, as the provider knows them")
    gpu_seconds = models.BigIntegerField(validators=[MinValueValidator(1), MaxValueValidator(10**12)])
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    millicredits = models.BigIntegerField(help_text="Cost at the resource's rate")
    # The ledger transaction that charged it: one per allocation per reported batch (its entries
    # are the batch's total), so a batch of 10,000 jobs on 500 allocations writes 500
    # transactions, not 10,000. Each job's own cost is ``millicredits``.
    transaction = models.ForeignKey(
        Transaction, on_delete=models.PROTECT, related_name="usage_records", db_constraint=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "external_id"], name="usage_once_per_provider_job"),
            models.CheckConstraint(name="usage_positive", condition=Q(gpu_seconds__gt=0, millicredits__gte=0)),
            models.CheckConstraint(name="usage_times_ordered", condition=Q(ended_at__gte=F("started_at"))),
        ]
        indexes = [
            models.Index(fields=["allocation", "started_at"], name="usage_allocation_time_idx"),
            # The API's list, newest first, for a partner (one provider of ten) or a hub: read in
            # index order until a page is full, instead of sorting 200,000 rows for each page.
            models.Index(fields=["-started_at", "-id"], name="usage_started_idx"),
        ]

    def __str__(self):
        return f"{self.external_id} ({self.gpu_seconds / 3600:.1f} GPU-h)"


class CallTotals(models.Model):
    """A call's ledger figures, kept by the database: a trigger on ``compute_entry`` adds each
    insert's amounts as the entries are written (migrations 0004 and 0005), on PostgreSQL and
    on SQLite. Nothing in Python writes it. Entries are append-only, so the totals always equal
    the sums of their entries; a list of calls reads three integers per call instead of summing
    thousands of grant and millions of usage entries on every view.

    - ``funded``: what ``fund`` transactions put into the call's budget account;
    - ``granted``: what ``grant`` transactions took out of it for allocations;
    - ``used``: GPU usage debited from the call's allocations (and their overage accounts).
    """

    call = models.OneToOneField(Call, primary_key=True, on_delete=models.CASCADE, related_name="totals")
    funded_millicredits = models.BigIntegerField(default=0)
    granted_millicredits = models.BigIntegerField(default=0)
    used_millicredits = models.BigIntegerField(default=0)

    class Meta:
        verbose_name_plural = "call ledger totals"

    def __str__(self):
        return f"{credits(self.used_millicredits)} used in {self.call_id}"
