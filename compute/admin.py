"""The compute back office for hub staff: funding, providers, resources, calls (with budget
figures from the ledger and a "Fund this call" button), projects, applications, allocations,
usage and the ledger itself.

Every list is scoped to the staff member's hubs (``HubScopedAdmin``); amounts are shown in
credits and computed with annotations, so a list page costs the same number of queries
whatever its length. The ledger and usage are read-only here: they change only through the
services.
"""

import uuid
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import BigIntegerField, Count, Exists, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from gigafactory.admin import HubScopedAdmin, export_csv, run_service_action
from gigafactory.audit import audit_trail_for
from hubs import access
from hubs.models import OrganisationKind, PartnerSystem

from . import ledger, selectors, services
from .models import (
    MILLI,
    Account,
    AccountKind,
    Allocation,
    Application,
    Call,
    ComputeProvider,
    ComputeResource,
    Entry,
    FundingSource,
    Project,
    ProjectMember,
    ResourceRequest,
    Review,
    ScreeningResult,
    Transaction,
    UsageRecord,
    credits,
)

HUB_FILTER = ("hub", admin.RelatedOnlyFieldListFilter)


def _credits_column(attr: str, description: str, *, order: str | None = None):
    """A list column showing the millicredit amount ``attr`` (a field or annotation) as credits."""

    @admin.display(description=description, ordering=order or attr)
    def column(self, obj):
        value = getattr(obj, attr, None)
        return "—" if value is None else credits(value)

    column.__name__ = f"{attr}_credits"
    return column


class ReadOnlyAdminMixin:
    """Rows that change only through services: staff may look, not touch."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class HubStaffInline(admin.TabularInline):
    """Inlines follow their parent page: hub roles, not Django's permission table, decide who sees them
    (the parent admin has already scoped the object to the staff member's hubs)."""

    extra = 0

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and access.is_any_hub_staff(request.user)


class ReadOnlyInline(ReadOnlyAdminMixin, HubStaffInline):
    can_delete = False
    show_change_link = False


# --- Funding sources -----------------------------------------------------------------------------


@admin.register(FundingSource)
class FundingSourceAdmin(HubScopedAdmin):
    """Hub staff manage their hub's sources; network-wide sources (no hub) are read-only to them."""

    list_display = ["name", "kind", "hub_or_network", "reference", "committed_credits", "call_count"]
    list_filter = ["kind", ("hub", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "reference"]
    list_select_related = ["hub"]

    def get_queryset(self, request):
        qs = admin.ModelAdmin.get_queryset(self, request)
        ids = access.staff_hub_ids(request.user)
        if ids is not None:
            qs = qs.filter(Q(hub__in=ids) | Q(hub__isnull=True))
        account = Account.objects.filter(kind=AccountKind.FUNDING, funding_source=OuterRef("pk")).values("balance")
        return qs.annotate(
            # A funding account only pays out: minus its balance is what it has put into calls.
            committed_millicredits=-Coalesce(
                Subquery(account[:1], output_field=BigIntegerField()), Value(0), output_field=BigIntegerField()
            ),
            call_count=Count("calls", distinct=True),
        )

    @admin.display(description="Hub", ordering="hub__name")
    def hub_or_network(self, obj):
        return obj.hub or "Network-wide"

    committed_credits = _credits_column("committed_millicredits", "Funded into calls (credits)")

    @admin.display(description="Calls", ordering="call_count")
    def call_count(self, obj):
        return obj.call_count

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.hub_id is None:
            return request.user.is_superuser
        return super().has_change_permission(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "hub" and not request.user.is_superuser:
            kwargs["required"] = True  # only superusers create network-wide sources
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


# --- Providers and resources ---------------------------------------------------------------------


class ComputeResourceInline(HubStaffInline):
    model = ComputeResource
    fields = ["name", "gpu_model", "rate_millicredits", "monthly_capacity_gpu_hours", "slurm_partition", "active"]
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False  # resources are added on their own page, where their hub is checked

    def has_change_permission(self, request, obj=None):
        return self.has_view_permission(request, obj)


@admin.register(ComputeProvider)
class ComputeProviderAdmin(HubScopedAdmin):
    list_display = ["name", "hub", "partner", "website", "resource_count"]
    list_filter = [HUB_FILTER]
    search_fields = ["name", "partner__name"]
    list_select_related = ["hub", "partner"]
    inlines = [ComputeResourceInline]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(resource_count=Count("resources"))

    @admin.display(description="Resources", ordering="resource_count")
    def resource_count(self, obj):
        return obj.resource_count

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "partner" and not request.user.is_superuser:
            kwargs["queryset"] = PartnerSystem.objects.filter(hub__in=access.staff_hub_ids(request.user))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if obj.partner_id and obj.partner.hub_id != obj.hub_id:
            raise PermissionDenied("The partner system must belong to the provider's hub.")
        super().save_model(request, obj, form, change)


class ComputeResourceAdminForm(forms.ModelForm):
    class Meta:
        model = ComputeResource
        fields = [
            "provider",
            "hub",
            "name",
            "gpu_model",
            "rate_millicredits",
            "monthly_capacity_gpu_hours",
            "slurm_partition",
            "active",
        ]
        help_texts = {"rate_millicredits": "1000 = one credit per GPU-hour (H100 class); an A100 is about 600."}

    def clean(self):
        data = super().clean()
        provider, hub = data.get("provider"), data.get("hub")
        if provider and hub and provider.hub_id != hub.pk:
            self.add_error("hub", f"{provider} belongs to {provider.hub}: a resource is at its provider's hub.")
        moved = self.instance.pk and provider and provider.pk != self.instance.provider_id
        if moved and self.instance.usage_records.exists():
            # Each usage record names the provider that reported it, which must stay the
            # resource's provider (the database holds them to it).
            self.add_error(
                "provider",
                f"{self.instance.name} has usage reported by {self.instance.provider}, so it stays with them. "
                "Add a new resource for the other provider instead.",
            )
        return data


@admin.register(ComputeResource)
class ComputeResourceAdmin(HubScopedAdmin):
    form = ComputeResourceAdminForm
    list_display = [
        "name",
        "gpu_model",
        "provider",
        "hub",
        "rate_millicredits_credits",
        "monthly_capacity_gpu_hours",
        "slurm_partition",
        "active",
    ]
    list_filter = [HUB_FILTER, ("provider", admin.RelatedOnlyFieldListFilter), "active"]
    search_fields = ["name", "gpu_model", "provider__name", "slurm_partition"]
    list_select_related = ["provider", "hub"]

    rate_millicredits_credits = _credits_column("rate_millicredits", "Credits per GPU-hour")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "provider" and not request.user.is_superuser:
            kwargs["queryset"] = ComputeProvider.objects.filter(hub__in=access.staff_hub_ids(request.user))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


# --- Calls ------------------------------------------------------------------------------------


class CallAdminForm(forms.ModelForm):
    allowed_org_kinds = forms.MultipleChoiceField(
        choices=OrganisationKind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave all unticked to accept every kind of organisation.",
    )

    class Meta:
        model = Call
        fields = [
            "hub",
            "funding_source",
            "title",
            "slug",
            "description",
            "track",
            "published",
            "opens_at",
            "closes_at",
            "max_request_millicredits",
            "playground_grant_millicredits",
            "allowed_org_kinds",
            "eligible_resources",
            "allocation_days",
            "min_reviewers",
            "review_cutoffs",
            "rubric",
        ]

    def clean_review_cutoffs(self):
        from datetime import date

        value = self.cleaned_data.get("review_cutoffs") or []
        if not isinstance(value, list):
            raise ValidationError('Give a list of dates, e.g. ["2026-03-01", "2026-06-01"].')
        try:
            return sorted(date.fromisoformat(str(v)).isoformat() for v in value)
        except ValueError as exc:
            raise ValidationError(f"Dates are written YYYY-MM-DD ({exc}).") from exc

    def clean_rubric(self):
        value = self.cleaned_data.get("rubric") or []
        if not isinstance(value, list) or not all(isinstance(c, dict) and c.get("key") for c in value):
            raise ValidationError('Give a list of criteria, e.g. [{"key": "impact", "label": "Expected impact"}].')
        return value

    def clean(self):
        data = super().clean()
        hub, source = data.get("hub"), data.get("funding_source")
        if hub and source and source.hub_id not in (None, hub.pk):
            self.add_error("funding_source", f"{source} funds {source.hub}'s calls only.")
        return data


@admin.register(Call)
class CallAdmin(HubScopedAdmin):
    form = CallAdminForm
    change_form_template = "compute/admin/call_change_form.html"
    list_display = [
        "title",
        "hub",
        "track",
        "phase",
        "closes_at",
        "funded_millicredits_credits",
        "granted_millicredits_credits",
        "used_millicredits_credits",
        "left_millicredits_credits",
        "published",
    ]
    list_filter = [HUB_FILTER, "track", "published", ("funding_source", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["title", "slug", "description"]
    list_select_related = ["hub", "funding_source"]
    prepopulated_fields = {"slug": ["title"]}
    filter_horizontal = ["eligible_resources"]
    readonly_fields = ["budget_summary"]

    funded_millicredits_credits = _credits_column("funded_millicredits", "Funded")
    granted_millicredits_credits = _credits_column("granted_millicredits", "Granted")
    used_millicredits_credits = _credits_column("used_millicredits", "Used")
    left_millicredits_credits = _credits_column("left_millicredits", "Left")

    def get_queryset(self, request):
        return selectors.with_budget(super().get_queryset(request))

    def get_fieldsets(self, request, obj=None):
        fieldsets = [
            (None, {"fields": ["hub", "funding_source", "title", "slug", "description", "track", "published"]}),
            ("Window", {"fields": ["opens_at", "closes_at"]}),
            (
                "Amounts (millicredits: 1000 = one credit)",
                {"fields": ["max_request_millicredits", "playground_grant_millicredits", "allocation_days"]},
            ),
            ("Eligibility", {"fields": ["allowed_org_kinds", "eligible_resources"]}),
            ("Peer review", {"fields": ["min_reviewers", "review_cutoffs", "rubric"], "classes": ["collapse"]}),
        ]
        if obj is not None:
            fieldsets.insert(0, ("Budget (from the ledger)", {"fields": ["budget_summary"]}))
        return fieldsets

    @admin.display(description="Status")
    def phase(self, obj):
        return selectors.Phase.labels[selectors.phase_of(obj)]

    @admin.display(description="Budget")
    def budget_summary(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        return format_html(
            "Funded <strong>{}</strong> · granted <strong>{}</strong> · used <strong>{}</strong> · "
            "left <strong>{}</strong> credits",
            credits(obj.funded_millicredits),
            credits(obj.granted_millicredits),
            credits(obj.used_millicredits),
            credits(obj.left_millicredits),
        )

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "funding_source" and not request.user.is_superuser:
            kwargs["queryset"] = FundingSource.objects.filter(
                Q(hub__in=access.staff_hub_ids(request.user)) | Q(hub__isnull=True)
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "eligible_resources":
            qs = ComputeResource.objects.select_related("provider", "hub").order_by("hub__name", "name")
            if not request.user.is_superuser:
                qs = qs.filter(hub__in=access.staff_hub_ids(request.user))
            kwargs["queryset"] = qs
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    # --- "Fund this call" -------------------------------------------------------------------

    def get_urls(self):
        return [
            path(
                "<path:object_id>/fund/",
                self.admin_site.admin_view(self.fund_view),
                name="compute_call_fund",
            ),
            *super().get_urls(),
        ]

    def fund_view(self, request, object_id):
        call = get_object_or_404(self.get_queryset(request), pk=object_id)
        if not self.has_change_permission(request, call):
            raise PermissionDenied
        form = FundCallForm(request.POST or None, initial={"nonce": uuid.uuid4().hex})
        if request.method == "POST" and form.is_valid():
            amount = form.cleaned_data["amount_millicredits"]
            try:
                txn = services.call_fund(
                    call=call,
                    amount_millicredits=amount,
                    acting_user=request.user,
                    idempotency_key=form.cleaned_data["nonce"],
                )
            except (ValidationError, PermissionDenied, ledger.LedgerError) as exc:
                self.message_user(request, " ".join(getattr(exc, "messages", [str(exc)])), messages.ERROR)
            else:
                left = ledger.call_account(call).balance
                self.message_user(
                    request,
                    f"{call.funding_source} funded “{call}” with {credits(amount)} credits "
                    f"(transaction #{txn.pk}). Budget left: {credits(left)} credits.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:compute_call_change", args=[call.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Fund “{call}”",
            "opts": self.model._meta,
            "original": call,
            "call": call,
            "form": form,
            "budget": {
                "funded": credits(call.funded_millicredits),
                "granted": credits(call.granted_millicredits),
                "left": credits(call.left_millicredits),
            },
        }
        return TemplateResponse(request, "compute/admin/call_fund.html", context)


class FundCallForm(forms.Form):
    amount = forms.DecimalField(
        label="Amount (credits)",
        min_value=Decimal("0.001"),
        max_digits=15,
        decimal_places=3,
        help_text="Moved from the call's funding source into its budget. One credit = one H100-class GPU-hour.",
    )
    # One value per opened form: submitting the same form twice funds the call once.
    nonce = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def clean(self):
        data = super().clean()
        if data.get("amount") is not None:
            data["amount_millicredits"] = int(data["amount"] * MILLI)
        return data


# --- Projects ---------------------------------------------------------------------------------


class ProjectMemberInline(ReadOnlyInline):
    """Teams are formed by their members through the portal (with the audit trail); here they are shown."""

    model = ProjectMember
    fields = ["user", "role", "added_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")


@admin.register(Project)
class ProjectAdmin(HubScopedAdmin):
    list_display = ["title", "hub", "pi", "organisation", "member_count", "created_at"]
    list_filter = [HUB_FILTER]
    search_fields = ["title", "pi__email", "pi__name", "organisation__name"]
    list_select_related = ["hub", "pi", "organisation"]
    ordering = ["title", "pk"]  # a stable order for the pages of the list and of autocomplete (AI systems)
    readonly_fields = ["hub", "pi", "organisation", "created_at"]
    fields = ["title", "summary", *readonly_fields]
    inlines = [ProjectMemberInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_count=Count("members"))

    @admin.display(description="Members", ordering="member_count")
    def member_count(self, obj):
        return obj.member_count

    def has_add_permission(self, request):
        return False  # projects are created by their PI in the portal


# --- Applications -----------------------------------------------------------------------------


class ResourceRequestInline(ReadOnlyInline):
    model = ResourceRequest
    fields = ["resource", "gpu_hours", "cost"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("resource")

    @admin.display(description="Credits")
    def cost(self, obj):
        return credits(obj.millicredits)


class ScreeningResultInline(ReadOnlyInline):
    model = ScreeningResult
    fields = ["round", "label", "passed", "reason", "created_at"]
    readonly_fields = fields


class ReviewInline(ReadOnlyInline):
    model = Review
    fields = [
        "reviewer",
        "status",
        "recommendation",
        "average_score",
        "comment_for_applicant",
        "private_comment",
        "submitted_at",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("reviewer")


# Bulk workflow actions on applications (approve, reject, request changes, assign reviewers)
# belong to the application workflow: each is an ``admin.action`` that calls the matching
# ``compute.services`` function through ``gigafactory.admin.run_service_action`` (the service
# receives ``application=...``; see ``ApplicationAdmin.service_arg``). Add them to this list.
@admin.action(description="Assign reviewers automatically (least-loaded, no conflict of interest)")
def auto_assign_reviewers(modeladmin, request, queryset):
    run_service_action(
        modeladmin,
        request,
        queryset.select_related("call"),
        services.reviews_auto_assign,
        "applications given reviewers",
    )


@admin.action(description="Approve selected applications (full amount)")
def approve_applications(modeladmin, request, queryset):
    run_service_action(modeladmin, request, queryset.select_related("call"), services.application_approve, "approved")


@admin.action(description="Reject selected applications (with a reason)…")
def reject_applications(modeladmin, request, queryset):
    from .staff_views import admin_reason_action

    return admin_reason_action(
        modeladmin, request, queryset, service=services.application_reject, verb="rejected", title="Reject"
    )


@admin.action(description="Request changes on selected applications (with a reason)…")
def request_changes_on_applications(modeladmin, request, queryset):
    from .staff_views import admin_reason_action

    return admin_reason_action(
        modeladmin,
        request,
        queryset,
        service=services.application_request_changes,
        verb="sent back for changes",
        title="Request changes",
    )


APPLICATION_ACTIONS: list = [
    auto_assign_reviewers,
    approve_applications,
    reject_applications,
    request_changes_on_applications,
]


@admin.register(Application)
class ApplicationAdmin(HubScopedAdmin):
    service_arg = "application"
    list_display = [
        "title",
        "applicant",
        "project",
        "call",
        "track",
        "status",
        "requested_millicredits_credits",
        "granted_millicredits_credits",
        "submitted_at",
    ]
    list_filter = [HUB_FILTER, ("call", admin.RelatedOnlyFieldListFilter), "call__track", "status"]
    search_fields = ["title", "applicant__email", "applicant__name", "project__title"]
    list_select_related = ["applicant", "project", "call", "hub"]
    date_hierarchy = "submitted_at"
    actions = [*APPLICATION_ACTIONS, export_csv]
    inlines = [ResourceRequestInline, ScreeningResultInline, ReviewInline]
    fieldsets = [
        (None, {"fields": ["title", "status", "call", "hub", "project", "applicant"]}),
        (
            "Request",
            {
                "fields": [
                    "abstract",
                    "justification",
                    "duration_days",
                    "data_sensitivity",
                    "civilian_use",
                    "ai_system_name",
                    "requested_millicredits_credits",
                ]
            },
        ),
        (
            "Decision",
            {"fields": ["granted_millicredits_credits", "decision_reason", "decided_by", "decided_at"]},
        ),
        ("Timeline", {"fields": ["created_at", "submitted_at", "screening_round", "timeline"]}),
    ]
    readonly_fields = [
        "title",
        "status",
        "call",
        "hub",
        "project",
        "applicant",
        "abstract",
        "justification",
        "duration_days",
        "data_sensitivity",
        "civilian_use",
        "ai_system_name",
        "requested_millicredits_credits",
        "granted_millicredits_credits",
        "decision_reason",
        "decided_by",
        "decided_at",
        "created_at",
        "submitted_at",
        "screening_round",
        "timeline",
    ]

    requested_millicredits_credits = _credits_column("requested_millicredits", "Requested")
    granted_millicredits_credits = _credits_column("granted_millicredits", "Granted")

    @admin.display(description="Track", ordering="call__track")
    def track(self, obj):
        return obj.call.get_track_display()

    @admin.display(description="Audit trail")
    def timeline(self, obj):
        events = audit_trail_for(obj)[:50]
        if not events:
            return "—"
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li>{} · {} · {}</li>",
                ((f"{e.created_at:%Y-%m-%d %H:%M}", e.action, e.actor or e.actor_label or "system") for e in events),
            ),
        )

    def has_add_permission(self, request):
        return False  # applicants apply in the portal


# --- Allocations and usage ------------------------------------------------------------------------


def _account_balance(kind) -> Coalesce:
    balance = Account.objects.filter(allocation=OuterRef("pk"), kind=kind).values("balance")[:1]
    return Coalesce(Subquery(balance, output_field=BigIntegerField()), Value(0), output_field=BigIntegerField())


@admin.register(Allocation)
class AllocationAdmin(HubScopedAdmin):
    """Balances come from the ledger and change only through it; staff may set the Slurm account."""

    list_display = [
        "project",
        "call",
        "hub",
        "status",
        "granted_millicredits_credits",
        "balance_millicredits_credits",
        "overage_credits",
        "starts_on",
        "ends_on",
        "slurm_account",
    ]
    list_filter = [HUB_FILTER, "status", ("call", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["project__title", "slurm_account", "application__title"]
    list_select_related = ["project", "call", "hub"]
    date_hierarchy = "starts_on"
    fields = [
        "application",
        "project",
        "call",
        "hub",
        "status",
        "granted_millicredits_credits",
        "balance_millicredits_credits",
        "overage_credits",
        "starts_on",
        "ends_on",
        "slurm_account",
        "notified_80_at",
        "notified_100_at",
        "provider_notified_at",
    ]
    readonly_fields = [f for f in fields if f != "slurm_account"]

    granted_millicredits_credits = _credits_column("granted_millicredits", "Granted")
    balance_millicredits_credits = _credits_column("balance_millicredits", "Balance")

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                balance_millicredits=_account_balance(AccountKind.ALLOCATION),
                overage_balance=_account_balance(AccountKind.OVERAGE),
            )
        )

    @admin.display(description="Beyond the allocation", ordering="overage_balance")
    def overage_credits(self, obj):
        return credits(-obj.overage_balance) if obj.overage_balance else "—"

    def has_add_permission(self, request):
        return False  # allocations are created by approving an application


@admin.register(UsageRecord)
class UsageRecordAdmin(ReadOnlyAdminMixin, HubScopedAdmin):
    hub_field = "allocation__hub"
    list_display = [
        "external_id",
        "provider",
        "resource",
        "allocation",
        "user_label",
        "gpu_hours",
        "millicredits_credits",
        "started_at",
        "ended_at",
    ]
    list_filter = [("started_at", admin.DateFieldListFilter)]
    search_fields = ["=external_id", "user_label", "allocation__slurm_account"]
    list_select_related = ["provider", "resource", "allocation__project"]
    show_full_result_count = False  # a big table: no second COUNT(*) per page
    # Slurm ``sacct`` import: an upload page (``compute.staff_views.admin_slurm_import``) linked from the list.
    change_list_template = "compute/staff/admin_usage_changelist.html"

    def get_urls(self):
        return [
            path(
                "import-sacct/",
                self.admin_site.admin_view(self.slurm_import_view),
                name="compute_usagerecord_import_sacct",
            ),
            *super().get_urls(),
        ]

    def slurm_import_view(self, request):
        from .staff_views import admin_slurm_import

        return admin_slurm_import(self, request)

    millicredits_credits = _credits_column("millicredits", "Credits")

    @admin.display(description="GPU-hours", ordering="gpu_seconds")
    def gpu_hours(self, obj):
        return f"{obj.gpu_seconds / 3600:,.2f}"


# --- Ledger ------------------------------------------------------------------------------------


def _accounts_in_staff_hubs(user):
    """Ledger accounts owned by something in the hubs ``user`` runs (or network-wide funding)."""
    ids = access.staff_hub_ids(user)
    qs = Account.objects.all()
    if ids is None:
        return qs
    return qs.filter(
        Q(call__hub__in=ids)
        | Q(allocation__hub__in=ids)
        | Q(provider__hub__in=ids)
        | Q(funding_source__hub__in=ids)
        | Q(funding_source__isnull=False, funding_source__hub__isnull=True)
    )


@admin.register(Account)
class AccountAdmin(ReadOnlyAdminMixin, HubScopedAdmin):
    list_display = ["__str__", "kind", "balance_credits"]
    list_filter = ["kind"]
    search_fields = ["call__title", "allocation__project__title", "provider__name", "funding_source__name"]
    list_select_related = ["funding_source", "call", "allocation__project", "provider"]
    fields = ["kind", "funding_source", "call", "allocation", "provider", "balance_credits", "latest_entries"]
    readonly_fields = fields

    balance_credits = _credits_column("balance", "Balance (credits)")

    def get_queryset(self, request):
        return _accounts_in_staff_hubs(request.user).select_related(*self.list_select_related)

    @admin.display(description="Latest entries")
    def latest_entries(self, obj):
        entries = obj.entries.select_related("transaction").order_by("-id")[:20]
        if not entries:
            return "—"
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                '<li>{} · <a href="{}">{}</a> · {} → {}</li>',
                (
                    (
                        f"{e.created_at:%Y-%m-%d %H:%M}",
                        reverse("admin:compute_transaction_change", args=[e.transaction_id]),
                        e.transaction,
                        f"{'+' if e.amount > 0 else ''}{credits(e.amount)}",
                        credits(e.balance_after),
                    )
                    for e in entries
                ),
            ),
        )


class EntryInline(ReadOnlyInline):
    model = Entry
    fields = ["account", "amount_credits", "balance_after_credits", "created_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related(
                "account__funding_source", "account__call", "account__allocation__project", "account__provider"
            )
        )

    @admin.display(description="Amount (credits)")
    def amount_credits(self, obj):
        return f"{'+' if obj.amount > 0 else ''}{credits(obj.amount)}"

    @admin.display(description="Balance after (credits)")
    def balance_after_credits(self, obj):
        return credits(obj.balance_after)


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdminMixin, HubScopedAdmin):
    list_display = ["__str__", "kind", "amount_credits", "memo", "created_by", "created_at"]
    list_filter = ["kind", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["=idempotency_key", "memo"]
    list_select_related = ["created_by"]
    show_full_result_count = False
    fields = ["kind", "idempotency_key", "memo", "allocation", "created_by", "created_at"]
    readonly_fields = fields
    inlines = [EntryInline]

    def get_queryset(self, request):
        qs = admin.ModelAdmin.get_queryset(self, request)
        if access.staff_hub_ids(request.user) is not None:
            scoped = _accounts_in_staff_hubs(request.user)
            qs = qs.filter(Exists(Entry.objects.filter(transaction=OuterRef("pk"), account__in=scoped)))
        # The amount moved: the sum of the transaction's positive entries (one subquery per row shown).
        moved = (
            Entry.objects.filter(transaction=OuterRef("pk"), amount__gt=0)
            .order_by()
            .values("transaction")
            .annotate(total=Sum("amount"))
            .values("total")[:1]
        )
        return qs.annotate(amount_millicredits=Subquery(moved, output_field=BigIntegerField()))

    amount_credits = _credits_column("amount_millicredits", "Amount (credits)")
