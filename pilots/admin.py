"""The pilots back office for hub staff: pilots with their partners, milestones and outcome
metrics (inline), and case studies.

Lists are scoped to the staff member's hubs (``HubScopedAdmin``; case studies through their
pilot's hub). The status is read-only: it moves only through the services (the bulk actions
below, or the pilot page). Case studies are published from the pilot page, which runs the
publishing service (event, notifications); here staff edit their text or withdraw them.
"""

from django import forms
from django.contrib import admin
from django.db import models
from django.db.models import Count
from django.utils.html import format_html

from gigafactory.admin import HUB_FILTER, HubScopedAdmin, export_csv, run_service_action
from gigafactory.audit import audit_record
from hubs import access

from . import services
from .models import CaseStudy, Milestone, OutcomeMetric, Pilot, PilotPartner


class _HubStaffInline(admin.TabularInline):
    """Inlines follow their parent page: hub roles, not Django's permission table, decide
    (the parent admin has already scoped the pilot to the staff member's hubs)."""

    extra = 0

    def _runs_a_hub(self, request):
        return request.user.is_active and access.is_any_hub_staff(request.user)

    def has_view_permission(self, request, obj=None):
        return self._runs_a_hub(request)

    def has_add_permission(self, request, obj=None):
        return self._runs_a_hub(request)

    def has_change_permission(self, request, obj=None):
        return self._runs_a_hub(request)

    def has_delete_permission(self, request, obj=None):
        return self._runs_a_hub(request)


class PartnerInline(_HubStaffInline):
    model = PilotPartner
    fields = ["name", "role", "organisation", "website", "contribution"]
    raw_id_fields = ["organisation"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


class MilestoneInline(_HubStaffInline):
    model = Milestone
    fields = ["title", "due_on", "done", "done_on"]


class MetricInline(_HubStaffInline):
    model = OutcomeMetric
    fields = ["position", "name", "unit", "baseline", "target", "achieved"]


class PilotAdminForm(forms.ModelForm):
    class Meta:
        model = Pilot
        fields = [
            "hub",
            "title",
            "summary",
            "sector",
            "starts_on",
            "ends_on",
            "lead",
            "team",
            "projects",
            "allocations",
            "ai_systems",
            "lessons_learned",
        ]

    def clean(self):
        data = super().clean()
        hub = data.get("hub") or getattr(self.instance, "hub", None)
        if hub is None:
            return data
        for field, label in (("projects", "project"), ("allocations", "allocation"), ("ai_systems", "AI system")):
            foreign = [str(o) for o in data.get(field) or [] if o.hub_id != hub.pk]
            if foreign:
                self.add_error(field, f"Not a {label} of {hub}: {', '.join(foreign)}.")
        lead = data.get("lead")
        if (
            lead is not None
            and not lead.is_superuser
            and not lead.memberships.filter(hub=hub, status="active").exists()
        ):
            self.add_error("lead", f"{lead} is not an active member of {hub}.")
        if data.get("starts_on") and data.get("ends_on") and data["ends_on"] < data["starts_on"]:
            self.add_error("ends_on", "The end date cannot be before the start date.")
        return data


@admin.action(description="Start the selected pilots")
def start_pilots(modeladmin, request, queryset):
    run_service_action(modeladmin, request, queryset, services.pilot_start, "started")


@admin.action(description="Mark the selected pilots as completed")
def complete_pilots(modeladmin, request, queryset):
    run_service_action(modeladmin, request, queryset, services.pilot_complete, "completed")


@admin.register(Pilot)
class PilotAdmin(HubScopedAdmin):
    form = PilotAdminForm
    service_arg = "pilot"
    list_display = ["title", "hub", "sector", "status", "starts_on", "ends_on", "lead", "adapted_from", "published"]
    list_filter = ["status", "sector", HUB_FILTER]
    search_fields = ["title", "summary", "partners__name"]
    list_select_related = ["hub", "lead", "adapted_from", "case_study"]
    date_hierarchy = "created_at"
    raw_id_fields = ["lead", "team", "projects", "allocations", "ai_systems"]
    readonly_fields = [
        "status",
        "status_changed_at",
        "stop_reason",
        "adapted_from",
        "created_by",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["hub", "title", "summary", "sector", "status", "starts_on", "ends_on"]}),
        ("People and links", {"fields": ["lead", "team", "projects", "allocations", "ai_systems"]}),
        ("Outcome", {"fields": ["lessons_learned", "stop_reason"]}),
        ("Record", {"fields": ["adapted_from", "status_changed_at", "created_by", "created_at", "updated_at"]}),
    ]
    inlines = [PartnerInline, MilestoneInline, MetricInline]
    actions = [start_pilots, complete_pilots, export_csv]

    @admin.display(description="Case study", boolean=True)
    def published(self, obj):
        case_study = getattr(obj, "case_study", None)
        return case_study is not None and case_study.withdrawn_at is None

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        audit_record(
            obj,
            "pilot.updated" if change else "pilot.created",
            actor=request.user,
            after={"via": "admin", "changed": form.changed_data},
        )


@admin.action(description="Withdraw the selected case studies from the showcase")
def withdraw_case_studies(modeladmin, request, queryset):
    run_service_action(modeladmin, request, queryset, services.case_study_withdraw, "withdrawn")


@admin.register(CaseStudy)
class CaseStudyAdmin(HubScopedAdmin):
    hub_field = "pilot__hub"
    service_arg = "case_study"
    list_display = ["headline", "hub", "pilot", "published_at", "withdrawn_at", "adaptations", "public_page"]
    list_filter = [("pilot__hub", admin.RelatedOnlyFieldListFilter), "pilot__sector", "withdrawn_at"]
    search_fields = ["headline", "story", "pilot__title"]
    list_select_related = ["pilot", "pilot__hub"]
    readonly_fields = ["pilot", "slug", "published_at", "published_by", "withdrawn_at", "updated_at"]
    fields = ["pilot", "headline", "story", "slug", "published_at", "published_by", "withdrawn_at", "updated_at"]
    actions = [withdraw_case_studies, export_csv]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(adaptation_total=Count("pilot__adaptations"))

    def has_add_permission(self, request):
        return False  # published from the pilot page, through the service

    @admin.display(description="Hub", ordering="pilot__hub__name")
    def hub(self, obj):
        return obj.pilot.hub

    @admin.display(description="Adapted", ordering="adaptation_total")
    def adaptations(self, obj):
        return obj.adaptation_total

    @admin.display(description="Public page")
    def public_page(self, obj):
        if obj.withdrawn_at is not None:
            return "withdrawn"
        return format_html('<a href="{}">view</a>', obj.get_absolute_url())
