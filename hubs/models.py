"""Hubs, organisations, people and their memberships, partner systems and API keys."""

import hashlib

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse

from .countries import Country

ORCID_RE = r"^\d{4}-\d{4}-\d{4}-\d{3}[\dX]$"


class Sector(models.TextChoices):
    HEALTH = "health", "Health"
    ENERGY = "energy", "Energy"
    AGRICULTURE = "agriculture", "Agriculture"
    MOBILITY = "mobility", "Mobility"
    PUBLIC_SERVICES = "public_services", "Public services"
    EDUCATION = "education", "Education"
    MANUFACTURING = "manufacturing", "Manufacturing"
    CLIMATE = "climate", "Climate"
    FINANCE = "finance", "Finance"
    RETAIL = "retail", "Retail"


class EmailUserManager(UserManager):
    """Users sign in by e-mail; the username is not used by the portal."""

    def create_user(self, email, password=None, **extra):
        extra.setdefault("username", None)
        return self._create_user(extra.pop("username"), email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)

    def _create_user(self, username, email, password, **extra):
        email = self.normalize_email(email)
        user = self.model(email=email, **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user


class User(AbstractUser):
    username = None
    email = models.EmailField("e-mail address", unique=True)
    name = models.CharField("full name", max_length=150, blank=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    objects = EmailUserManager()

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]

    def __str__(self):
        return self.name or self.email

    @property
    def display_name(self):
        return self.name or self.email.split("@")[0]


class Hub(models.Model):
    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    city = models.CharField(max_length=120)
    country = models.CharField(max_length=2, choices=Country.choices)
    description = models.TextField(blank=True)
    focus_sectors = models.JSONField(default=list, blank=True, help_text="Sectors from the fixed list")
    contact_email = models.EmailField()
    public = models.BooleanField(default=True, help_text="Listed in the public hub directory")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(name="hub_country_known", condition=Q(country__in=Country.values)),
            models.CheckConstraint(name="hub_slug_not_empty", condition=~Q(slug="")),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("hubs:hub_detail", args=[self.slug])

    @property
    def sector_labels(self):
        labels = dict(Sector.choices)
        return [labels.get(s, s) for s in self.focus_sectors]


class OrganisationKind(models.TextChoices):
    UNIVERSITY = "university", "University"
    RESEARCH_INSTITUTE = "research_institute", "Research institute"
    STARTUP = "startup", "Startup"
    SME = "sme", "SME"
    ENTERPRISE = "enterprise", "Enterprise"
    PUBLIC_BODY = "public_body", "Public body"
    HOSPITAL = "hospital", "Hospital"
    SCHOOL = "school", "School"
    UTILITY = "utility", "Utility"
    NGO = "ngo", "NGO"
    INVESTOR = "investor", "Investor"


class Organisation(models.Model):
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=32, choices=OrganisationKind.choices)
    country = models.CharField(max_length=2, choices=Country.choices)
    website = models.URLField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(name="org_kind_known", condition=Q(kind__in=OrganisationKind.values)),
            models.CheckConstraint(name="org_country_known", condition=Q(country__in=Country.values)),
            models.UniqueConstraint(Lower("name"), "country", name="org_name_country_unique"),
        ]

    def __str__(self):
        return self.name


class Profile(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    orcid = models.CharField(
        "ORCID iD",
        max_length=19,
        blank=True,
        validators=[RegexValidator(ORCID_RE, "Enter an ORCID iD like 0000-0002-1825-0097.")],
    )
    organisation = models.ForeignKey(Organisation, null=True, blank=True, on_delete=models.SET_NULL)
    affiliation = models.CharField(max_length=200, blank=True, help_text="Department, lab or team")
    country = models.CharField(max_length=2, choices=Country.choices, blank=True)
    expertise = models.TextField(blank=True, help_text="What you work on, in a few words")
    email_notifications = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["orcid"], condition=~Q(orcid=""), name="profile_orcid_unique"),
            models.CheckConstraint(
                name="profile_country_known", condition=Q(country="") | Q(country__in=Country.values)
            ),
        ]

    def __str__(self):
        return f"Profile of {self.user}"


class Role(models.TextChoices):
    MEMBER = "member", "Member"
    REVIEWER = "reviewer", "Reviewer"
    STAFF = "staff", "Staff"
    ADMIN = "admin", "Admin"


STAFF_ROLES = (Role.STAFF, Role.ADMIN)


class MembershipStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    ACTIVE = "active", "Active"
    REJECTED = "rejected", "Rejected"
    SUSPENDED = "suspended", "Suspended"
    LEFT = "left", "Left"


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    hub = models.ForeignKey(Hub, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    status = models.CharField(max_length=16, choices=MembershipStatus.choices, default=MembershipStatus.REQUESTED)
    motivation = models.TextField(blank=True)
    decision_note = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "hub"], name="membership_one_per_user_hub"),
            models.CheckConstraint(name="membership_role_known", condition=Q(role__in=Role.values)),
            models.CheckConstraint(name="membership_status_known", condition=Q(status__in=MembershipStatus.values)),
        ]
        indexes = [models.Index(fields=["hub", "status"], name="membership_hub_status_idx")]

    def __str__(self):
        return f"{self.user} @ {self.hub} ({self.role}, {self.status})"

    @property
    def is_active(self):
        return self.status == MembershipStatus.ACTIVE

    @property
    def is_staff_role(self):
        return self.role in STAFF_ROLES


class Invitation(models.Model):
    hub = models.ForeignKey(Hub, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(name="invitation_role_known", condition=Q(role__in=Role.values)),
            models.UniqueConstraint(
                Lower("email"),
                "hub",
                condition=Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_open_per_email_hub",
            ),
        ]

    def __str__(self):
        return f"Invitation of {self.email} to {self.hub}"

    @property
    def is_open(self):
        return self.accepted_at is None and self.revoked_at is None


class PartnerKind(models.TextChoices):
    HPC_CENTRE = "hpc_centre", "HPC centre"
    CLOUD_PROVIDER = "cloud_provider", "Cloud provider"
    FUNDER = "funder", "Funder"
    HUB_TOOLING = "hub_tooling", "Another hub's tooling"
    MONITORING = "monitoring", "Model monitoring"
    OTHER = "other", "Other"


class PartnerSystem(models.Model):
    Kind = PartnerKind

    hub = models.ForeignKey(Hub, on_delete=models.CASCADE, related_name="partner_systems")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=32, choices=PartnerKind.choices, default=PartnerKind.OTHER)
    contact_email = models.EmailField(blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["hub__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["hub", "name"], name="partner_name_unique_per_hub"),
            models.CheckConstraint(name="partner_kind_known", condition=Q(kind__in=PartnerKind.values)),
        ]

    def __str__(self):
        return f"{self.name} ({self.hub})"


class ApiScope(models.TextChoices):
    READ = "read", "Read"
    WRITE = "write", "Read and write"


class ApiKey(models.Model):
    """A bearer key. Only a SHA-256 of the secret is stored; the key is shown once.

    A key belongs to a user (personal) or to a partner system, never both, and is
    scoped to one hub.
    """

    PREFIX = "gf_"

    name = models.CharField(max_length=120)
    hub = models.ForeignKey(Hub, on_delete=models.CASCADE, related_name="api_keys")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="api_keys"
    )
    partner = models.ForeignKey(PartnerSystem, null=True, blank=True, on_delete=models.CASCADE, related_name="api_keys")
    scope = models.CharField(max_length=8, choices=ApiScope.choices, default=ApiScope.READ)
    lookup = models.CharField(max_length=16, unique=True, help_text="Public part of the key, shown in lists")
    secret_hash = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                name="apikey_user_xor_partner",
                condition=(Q(user__isnull=False, partner__isnull=True) | Q(user__isnull=True, partner__isnull=False)),
            ),
            models.CheckConstraint(name="apikey_scope_known", condition=Q(scope__in=ApiScope.values)),
        ]

    def __str__(self):
        return f"{self.name} ({self.PREFIX}{self.lookup}_…)"

    @property
    def is_partner(self):
        return self.partner_id is not None

    @property
    def is_active(self):
        return self.revoked_at is None

    @property
    def can_write(self):
        return self.scope == ApiScope.WRITE

    @staticmethod
    def hash_secret(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()


class Notification(models.Model):
    """One item in a user's inbox; e-mailed by a task unless the user opted out."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=48)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=300, blank=True)
    dedupe_key = models.CharField(max_length=200, help_text="Same key for the same user is delivered once")
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "dedupe_key"], name="notification_once_per_user"),
        ]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_unread_idx")]

    def __str__(self):
        return self.title
