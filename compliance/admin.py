"""The AI Act back office for hub staff: AI systems, their assessments, checklist items, evidence,
and the ethics board with its reviews.

Every list is scoped to the staff member's hubs (``HubScopedAdmin``; rows without a hub of
their own through their system's hub); superusers see everything. Classes, statuses and
decisions are read-only here: they move only through the services, which the bulk actions
call (ask the board for review, mark checklist items, decide as a board member, withdraw,
remove evidence, name and remove board members). Edits of a system, an item or a board seat
go through the same services as the pages, so they write the audit trail too.

Systems are registered and classified by their teams in the portal, where the questionnaire
follows; evidence is attached there as well.
"""

from django import forms
from django.contrib import admin
from django.contrib.admin import helpers
from django.db.models import Count, Q
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from compute.models import Application, Project
from gigafactory.admin import HUB_FILTER, HubScopedAdmin, export_csv, run_service_action
from gigafactory.audit import audit_trail_for
from hubs import access as hub_access
from hubs.models import MembershipStatus, User

from . import access, selectors, services
from .models import (
    AISystem,
    Assessment,
    AssessmentStatus,
    BoardMember,
    BoardReview,
    ChecklistItem,
    Evidence,
    EvidenceKind,
    ItemStatus,
    ReviewStatus,
)

SYSTEM_HUB_FILTER = ("system__hub", admin.RelatedOnlyFieldListFilter)
TRAIL_LENGTH = 50


def _timeline(obj):
    events = list(audit_trail_for(obj)[:TRAIL_LENGTH])
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


def _portal_link(url, text="Open in the portal"):
    return format_html('<a href="{}">{}</a>', url, text)


class _HubStaffInline(admin.TabularInline):
    """Read-only rows on their parent's page: the parent admin has already scoped the parent to the
    staff member's hubs, and hub roles (not Django's permission table) decide who looks."""

    extra = 0
    can_delete = False
    show_change_link = True

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and hub_access.is_any_hub_staff(request.user)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(HubScopedAdmin):
    """Records: hub staff look (and act through the actions); nobody edits, adds or deletes here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def confirm_with_form(modeladmin, request, queryset, *, form_class, title, intro, apply):
    """A bulk action that first asks for text on an intermediate page (as Django's "delete selected"
    asks for a confirmation); ``apply(cleaned_data)`` then runs the services. Returning ``None``
    sends the admin back to the changelist with the messages."""
    if "apply" in request.POST:
        form = form_class(request.POST)
        if form.is_valid():
            apply(form.cleaned_data)
            return None
    else:
        form = form_class()
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "subtitle": None,
        "intro": intro,
        "opts": modeladmin.model._meta,
        "rows": list(queryset),
        "form": form,
        "action": request.POST.get("action", ""),
        "select_across": request.POST.get("select_across", "0"),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "media": modeladmin.media + form.media,
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(request, "compliance/admin/action_form.html", context)


# --- AI systems ------------------------------------------------------------------------------------


class AssessmentInline(_HubStaffInline):
    model = Assessment
    fields = ["submitted_at", "risk_class", "annex_iii_point", "questionnaire_version", "submitted_by"]
    readonly_fields = fields
    verbose_name_plural = "submitted assessments"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(status=AssessmentStatus.SUBMITTED)
            .select_related("system", "submitted_by")
            .order_by("-submitted_at", "-id")
        )


class ChecklistItemInline(_HubStaffInline):
    model = ChecklistItem
    fields = ["article", "title", "status", "owner", "due_on"]
    readonly_fields = fields
    verbose_name_plural = "checklist (current items)"

    def get_queryset(self, request):
        return super().get_queryset(request).filter(obsolete_at__isnull=True).select_related("owner")


class BoardReviewInline(_HubStaffInline):
    model = BoardReview
    fields = ["requested_at", "requested_by", "status", "decided_by", "decided_at", "rationale"]
    readonly_fields = fields
    verbose_name_plural = "ethics board reviews"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("system", "requested_by", "decided_by")


class AISystemAdminForm(forms.ModelForm):
    class Meta:
        model = AISystem
        fields = [*sorted(services.SYSTEM_FIELDS), "projects", "applications"]

    def clean(self):
        data = super().clean()
        # As the service does: health and biometric data are personal data.
        if data.get("uses_health_data") or data.get("uses_biometric_data"):
            data["uses_personal_data"] = True
        name = (data.get("name") or "").strip()
        if (
            name
            and AISystem.objects.filter(hub_id=self.instance.hub_id, name__iexact=name)
            .exclude(pk=self.instance.pk)
            .exists()
        ):
            self.add_error("name", f"{self.instance.hub} already has an AI system called '{name}'.")
        return data


@admin.action(description="Ask the hub's ethics board to review the current classification")
def request_board_review(modeladmin, request, queryset):
    run_service_action(
        modeladmin,
        request,
        queryset.select_related("hub"),
        services.board_review_request,
        "sent to the ethics board",
        note="Requested by hub staff in the admin.",
    )


@admin.register(AISystem)
class AISystemAdmin(HubScopedAdmin):
    form = AISystemAdminForm
    service_arg = "system"
    list_display = [
        "name",
        "hub",
        "organisation",
        "owner",
        "risk_class",
        "annex_iii_point",
        "deployment_status",
        "checklist",
        "signed_off",
        "assessed_at",
    ]
    list_filter = ["risk_class", HUB_FILTER, "deployment_status", "sector", "role"]
    search_fields = ["name", "intended_purpose", "owner__email", "owner__name", "organisation__name"]
    list_select_related = ["hub", "organisation", "owner"]
    autocomplete_fields = ["organisation", "projects", "applications"]
    actions = [request_board_review, export_csv]
    inlines = [AssessmentInline, ChecklistItemInline, BoardReviewInline]
    readonly_fields = [
        "hub",
        "owner",
        "risk_class",
        "annex_iii_point",
        "gpai_systemic_risk",
        "assessed_at",
        "created_at",
        "updated_at",
        "portal_page",
        "timeline",
    ]
    fieldsets = [
        (None, {"fields": ["name", "hub", "owner", "organisation", "intended_purpose", "portal_page"]}),
        (
            "Classification (from the latest submitted assessment)",
            {"fields": ["risk_class", "annex_iii_point", "gpai_systemic_risk", "assessed_at"]},
        ),
        (
            "What the system does",
            {
                "fields": [
                    "role",
                    "sector",
                    "input_modality",
                    "output_modality",
                    "uses_personal_data",
                    "uses_health_data",
                    "uses_biometric_data",
                    "deployment_status",
                    "on_market_since",
                ]
            },
        ),
        (
            "General-purpose AI",
            {"fields": ["is_gpai_model", "builds_on_gpai", "gpai_base_model", "training_compute_flop"]},
        ),
        ("Links", {"fields": ["projects", "applications"]}),
        ("Record", {"fields": ["created_at", "updated_at", "timeline"], "classes": ["collapse"]}),
    ]

    def get_queryset(self, request):
        return selectors.with_progress(super().get_queryset(request).select_related("hub", "organisation", "owner"))

    @admin.display(description="Checklist closed", ordering="items_closed")
    def checklist(self, obj):
        return f"{obj.items_closed} / {obj.items_total}" if obj.items_total else "—"

    @admin.display(description="Board approval", boolean=True, ordering="approved")
    def signed_off(self, obj):
        return obj.approved

    @admin.display(description="Portal page")
    def portal_page(self, obj):
        return _portal_link(obj.get_absolute_url()) if obj.pk else "—"

    @admin.display(description="Audit trail")
    def timeline(self, obj):
        return _timeline(obj)

    def has_add_permission(self, request):
        return False  # registered by the team in the portal, where the classification follows

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        # Linkable: what the staff member's hubs run (the service allows the same).
        if db_field.name == "projects":
            kwargs["queryset"] = hub_access.scope_to_staff_hubs(Project.objects.all(), request.user)
        elif db_field.name == "applications":
            kwargs["queryset"] = hub_access.scope_to_staff_hubs(Application.objects.all(), request.user)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        changed = {f: form.cleaned_data[f] for f in form.changed_data if f in services.SYSTEM_FIELDS}
        if changed:
            services.system_update(system=obj, acting_user=request.user, **changed)

    def save_related(self, request, form, formsets, change):
        # Not ``form.save_m2m()``: the links go through the service (its checks and the audit trail).
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)  # read-only inlines: saves nothing
        if {"projects", "applications"} & set(form.changed_data):
            services.system_link(
                system=form.instance,
                acting_user=request.user,
                projects=form.cleaned_data["projects"],
                applications=form.cleaned_data["applications"],
            )


# --- Assessments -----------------------------------------------------------------------------------


@admin.register(Assessment)
class AssessmentAdmin(ReadOnlyAdmin):
    """Assessments are records of a questionnaire run: answered in the wizard, fixed on submission."""

    hub_field = "system__hub"
    list_display = [
        "__str__",
        "system",
        "hub",
        "status",
        "risk_class",
        "annex_iii_point",
        "questionnaire_version",
        "submitted_by",
        "submitted_at",
    ]
    list_filter = ["risk_class", "status", SYSTEM_HUB_FILTER, "questionnaire_version"]
    search_fields = ["system__name", "submitted_by__email", "submitted_by__name"]
    list_select_related = ["system", "system__hub", "submitted_by"]
    date_hierarchy = "submitted_at"
    fields = [
        "system",
        "status",
        "questionnaire_version",
        "risk_class",
        "annex_i_section",
        "annex_iii_point",
        "derogation",
        "transparency_duties",
        "gpai_model",
        "gpai_systemic_risk",
        "reasoning_list",
        "applicable_dates",
        "answers",
        "skipped",
        "started_by",
        "created_at",
        "submitted_by",
        "submitted_at",
        "result_page",
    ]
    readonly_fields = fields

    @admin.display(description="Hub", ordering="system__hub__name")
    def hub(self, obj):
        return obj.system.hub

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("system", "system__hub", "started_by", "submitted_by")

    @admin.display(description="Reasoning")
    def reasoning_list(self, obj):
        if not obj.reasoning:
            return "—"
        return format_html("<ol>{}</ol>", format_html_join("", "<li>{} ({})</li>", obj.reasoning))

    @admin.display(description="Result page")
    def result_page(self, obj):
        if obj.status == AssessmentStatus.DRAFT:
            return "— (a draft: the team answers it in the wizard)"
        return _portal_link(obj.get_absolute_url())


# --- Checklist items -------------------------------------------------------------------------------


class CurrentFilter(admin.SimpleListFilter):
    title = "applies"
    parameter_name = "current"

    def lookups(self, request, model_admin):
        return [("yes", "Current items"), ("no", "Obsolete after a re-classification")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(obsolete_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(obsolete_at__isnull=False)
        return queryset


class ChecklistItemAdminForm(forms.ModelForm):
    class Meta:
        model = ChecklistItem
        fields = ["owner", "justification"]


def _set_status(status, verb, description):
    @admin.action(description=description)
    def action(modeladmin, request, queryset):
        run_service_action(
            modeladmin,
            request,
            queryset.select_related("system", "system__hub"),
            services.item_update,
            verb,
            status=status,
        )

    action.__name__ = f"mark_{status}"
    return action


class JustificationForm(forms.Form):
    justification = forms.CharField(
        label="Why the obligations do not apply",
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        max_length=4000,
        help_text="Recorded on every selected item and in its audit trail.",
        error_messages={"required": "Say why these obligations do not apply."},
    )


@admin.action(description="Mark the selected items as not applicable (with a justification)…")
def mark_not_applicable(modeladmin, request, queryset):
    queryset = queryset.select_related("system", "system__hub")
    return confirm_with_form(
        modeladmin,
        request,
        queryset,
        form_class=JustificationForm,
        title="Mark as not applicable",
        intro="Each selected obligation is marked not applicable with this justification.",
        apply=lambda data: run_service_action(
            modeladmin,
            request,
            queryset,
            services.item_update,
            "marked not applicable",
            status=ItemStatus.NOT_APPLICABLE,
            justification=data["justification"],
        ),
    )


@admin.register(ChecklistItem)
class ChecklistItemAdmin(HubScopedAdmin):
    form = ChecklistItemAdminForm
    hub_field = "system__hub"
    service_arg = "item"
    list_display = [
        "article",
        "title",
        "system",
        "hub",
        "section",
        "status",
        "owner",
        "due_on",
        "evidence_total",
        "is_current",
    ]
    list_filter = ["status", "section", CurrentFilter, "system__risk_class", SYSTEM_HUB_FILTER]
    search_fields = ["title", "article", "key", "system__name"]
    list_select_related = ["system", "system__hub", "owner"]
    date_hierarchy = "due_on"
    actions = [
        _set_status(ItemStatus.DONE, "marked done", "Mark the selected items as done"),
        _set_status(ItemStatus.IN_PROGRESS, "marked in progress", "Mark the selected items as in progress"),
        _set_status(ItemStatus.TODO, "reopened", "Reopen the selected items (to do)"),
        mark_not_applicable,
        export_csv,
    ]
    readonly_fields = [
        "system",
        "key",
        "section",
        "article",
        "title",
        "description",
        "evidence_types",
        "due_on",
        "status",
        "completed_at",
        "obsolete_at",
        "evidence_list",
        "portal_page",
        "timeline",
    ]
    fieldsets = [
        (None, {"fields": ["system", "section", "article", "title", "description", "portal_page"]}),
        ("Status", {"fields": ["status", "owner", "justification", "due_on", "completed_at", "obsolete_at"]}),
        ("Evidence", {"fields": ["evidence_types", "evidence_list"]}),
        ("Record", {"fields": ["key", "timeline"], "classes": ["collapse"]}),
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("system", "system__hub", "owner")
            .annotate(evidence_count=Count("evidence"))
        )

    @admin.display(description="Hub", ordering="system__hub__name")
    def hub(self, obj):
        return obj.system.hub

    @admin.display(description="Evidence", ordering="evidence_count")
    def evidence_total(self, obj):
        return obj.evidence_count

    @admin.display(description="Current", boolean=True, ordering="obsolete_at")
    def is_current(self, obj):
        return obj.obsolete_at is None

    @admin.display(description="Attached evidence")
    def evidence_list(self, obj):
        rows = list(selectors.evidence_of(obj))
        if not rows:
            return "—"
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                '<li>{} · <a href="{}">{}</a> · {} · {}</li>',
                (
                    (
                        e.evidence_type,
                        reverse("compliance:evidence_download", args=[e.pk]) if e.kind == EvidenceKind.FILE else e.url,
                        e.label,
                        e.added_by or "portal worker",
                        f"{e.created_at:%Y-%m-%d}",
                    )
                    for e in rows
                ),
            ),
        )

    @admin.display(description="Portal page")
    def portal_page(self, obj):
        return _portal_link(obj.get_absolute_url())

    @admin.display(description="Audit trail")
    def timeline(self, obj):
        return _timeline(obj)

    def has_add_permission(self, request):
        return False  # items come from the classification (or a corrective action)

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.obsolete_at is not None:
            return False  # no longer applies: kept as a record
        return super().has_change_permission(request, obj)

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if obj is not None and "owner" in form.base_fields:
            # Who may own an item: the system's team and its hub's ethics board (as on the item page).
            form.base_fields["owner"].queryset = (
                User.objects.filter(
                    Q(pk=obj.system.owner_id)
                    | Q(project_memberships__project__ai_systems=obj.system)
                    | Q(board_seats__hub=obj.system.hub_id, board_seats__active=True)
                )
                .distinct()
                .order_by("name", "email")
            )
        return form

    def save_model(self, request, obj, form, change):
        changed = {f: form.cleaned_data[f] for f in form.changed_data if f in ("owner", "justification")}
        if changed:
            services.item_update(item=obj, acting_user=request.user, **changed)


# --- Evidence --------------------------------------------------------------------------------------


@admin.action(description="Remove the selected evidence (recorded in the item's audit trail)")
def remove_evidence(modeladmin, request, queryset):
    run_service_action(
        modeladmin, request, queryset.select_related("item", "item__system"), services.evidence_remove, "removed"
    )


@admin.register(Evidence)
class EvidenceAdmin(ReadOnlyAdmin):
    hub_field = "item__system__hub"
    service_arg = "evidence"
    list_display = ["label", "item", "system", "hub", "kind", "evidence_type", "size", "added_by", "created_at"]
    list_filter = ["kind", "evidence_type", ("item__system__hub", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["label", "url", "sha256", "item__title", "item__system__name"]
    list_select_related = ["item", "item__system", "item__system__hub", "added_by"]
    date_hierarchy = "created_at"
    actions = [remove_evidence, export_csv]
    fields = [
        "item",
        "kind",
        "label",
        "evidence_type",
        "open",
        "content_type",
        "size_bytes",
        "sha256",
        "added_by",
        "created_at",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("item", "item__system", "item__system__hub", "added_by")

    @admin.display(description="System", ordering="item__system__name")
    def system(self, obj):
        return obj.item.system

    @admin.display(description="Hub", ordering="item__system__hub__name")
    def hub(self, obj):
        return obj.item.system.hub

    @admin.display(description="Size", ordering="size_bytes")
    def size(self, obj):
        return f"{obj.size_bytes:,} bytes" if obj.kind == EvidenceKind.FILE else "link"

    @admin.display(description="File or link")
    def open(self, obj):
        if obj.kind == EvidenceKind.FILE:
            return _portal_link(reverse("compliance:evidence_download", args=[obj.pk]), "Download")
        return _portal_link(obj.url, obj.url)


# --- Ethics board ----------------------------------------------------------------------------------


class BoardMemberAddForm(forms.ModelForm):
    class Meta:
        model = BoardMember
        fields = ["hub", "user", "title"]
        help_texts = {"user": "An active member of the hub."}

    def clean(self):
        data = super().clean()
        hub, user = data.get("hub"), data.get("user")
        if hub and user and not user.memberships.filter(hub=hub, status=MembershipStatus.ACTIVE).exists():
            self.add_error("user", f"{user} is not an active member of {hub}.")
        return data


class BoardMemberChangeForm(forms.ModelForm):
    class Meta:
        model = BoardMember
        fields = ["title"]


@admin.action(description="Remove the selected members from their board")
def remove_board_members(modeladmin, request, queryset):
    run_service_action(
        modeladmin, request, queryset.select_related("hub", "user"), services.board_member_remove, "removed"
    )


def _reinstate(*, member, acting_user):
    return services.board_member_add(hub=member.hub, user=member.user, title=member.title, acting_user=acting_user)


@admin.action(description="Reinstate the selected members on their board")
def reinstate_board_members(modeladmin, request, queryset):
    run_service_action(modeladmin, request, queryset.select_related("hub", "user"), _reinstate, "reinstated")


@admin.register(BoardMember)
class BoardMemberAdmin(HubScopedAdmin):
    service_arg = "member"
    list_display = ["user", "hub", "title", "active", "added_by", "created_at"]
    list_filter = ["active", HUB_FILTER]
    search_fields = ["user__email", "user__name", "title"]
    list_select_related = ["user", "hub", "added_by"]
    actions = [remove_board_members, reinstate_board_members, export_csv]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("hub", "user", "added_by")

    def get_form(self, request, obj=None, **kwargs):
        kwargs["form"] = BoardMemberChangeForm if obj is not None else BoardMemberAddForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["hub", "user", "title"]
        return ["hub", "user", "title", "active", "added_by", "created_at", "timeline"]

    def get_readonly_fields(self, request, obj=None):
        return ["hub", "user", "active", "added_by", "created_at", "timeline"] if obj is not None else []

    @admin.display(description="Audit trail")
    def timeline(self, obj):
        return _timeline(obj)

    def has_change_permission(self, request, obj=None):
        if obj is not None and not obj.active:
            return False  # a former member: reinstate them with the action
        return super().has_change_permission(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            staff_ids = hub_access.staff_hub_ids(request.user)
            people = User.objects.filter(is_active=True, memberships__status=MembershipStatus.ACTIVE)
            if staff_ids is not None:
                people = people.filter(memberships__hub__in=staff_ids)
            kwargs["queryset"] = people.distinct().order_by("name", "email")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        # Adding a member who sat on the board before reinstates them; a new title is kept.
        saved = services.board_member_add(
            hub=obj.hub, user=obj.user, title=form.cleaned_data.get("title", ""), acting_user=request.user
        )
        obj.pk = saved.pk


class DecisionForm(forms.Form):
    rationale = forms.CharField(
        label="The board's rationale",
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        max_length=4000,
        help_text="Sent to each system's team and recorded in the audit trail.",
        error_messages={"required": "Give the board's rationale."},
    )


class ConditionalDecisionForm(DecisionForm):
    conditions = forms.CharField(
        label="Conditions of the approval",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        max_length=4000,
        error_messages={"required": "State the conditions of the approval."},
    )


def _decision_action(decision, form_class, title, description):
    @admin.action(description=description)
    def action(modeladmin, request, queryset):
        queryset = queryset.select_related("system", "system__hub", "assessment")
        return confirm_with_form(
            modeladmin,
            request,
            queryset,
            form_class=form_class,
            title=title,
            intro="You decide as a member of each system's hub ethics board; reviews you cannot decide "
            "(not on that board, your own system, already decided) are left unchanged and listed.",
            apply=lambda data: run_service_action(
                modeladmin,
                request,
                queryset,
                services.board_review_decide,
                f"decided ({ReviewStatus(decision).label.lower()})",
                decision=decision,
                rationale=data["rationale"],
                conditions=data.get("conditions", ""),
            ),
        )

    action.__name__ = f"decide_{decision}"
    return action


@admin.action(description="Withdraw the selected review requests")
def withdraw_reviews(modeladmin, request, queryset):
    run_service_action(
        modeladmin,
        request,
        queryset.select_related("system", "system__hub"),
        services.board_review_withdraw,
        "withdrawn",
    )


@admin.register(BoardReview)
class BoardReviewAdmin(ReadOnlyAdmin):
    """Reviews are asked for by the system's team (or staff, on the systems list) and decided by the
    hub's ethics board, through the actions below (or the system's page)."""

    hub_field = "system__hub"
    service_arg = "review"
    list_display = [
        "system",
        "hub",
        "status",
        "assessed_class",
        "requested_by",
        "requested_at",
        "decided_by",
        "decided_at",
    ]
    list_filter = ["status", "assessment__risk_class", SYSTEM_HUB_FILTER]
    search_fields = ["system__name", "request_note", "rationale", "conditions"]
    list_select_related = ["system", "system__hub", "assessment", "requested_by", "decided_by"]
    date_hierarchy = "requested_at"
    actions = [
        _decision_action(
            ReviewStatus.APPROVED, DecisionForm, "Approve", "Approve the selected reviews (as the ethics board)…"
        ),
        _decision_action(
            ReviewStatus.APPROVED_WITH_CONDITIONS,
            ConditionalDecisionForm,
            "Approve with conditions",
            "Approve the selected reviews with conditions (as the ethics board)…",
        ),
        _decision_action(
            ReviewStatus.REJECTED, DecisionForm, "Reject", "Reject the selected reviews (as the ethics board)…"
        ),
        withdraw_reviews,
        export_csv,
    ]
    fields = [
        "system",
        "assessment",
        "status",
        "request_note",
        "requested_by",
        "requested_at",
        "rationale",
        "conditions",
        "decided_by",
        "decided_at",
        "portal_page",
        "timeline",
    ]
    readonly_fields = fields

    @admin.display(description="Hub", ordering="system__hub__name")
    def hub(self, obj):
        return obj.system.hub

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("system", "system__hub", "assessment__system", "requested_by", "decided_by")
        )

    @admin.display(description="Class reviewed", ordering="assessment__risk_class")
    def assessed_class(self, obj):
        return obj.assessment.get_risk_class_display()

    @admin.display(description="Portal page")
    def portal_page(self, obj):
        return _portal_link(obj.system.get_absolute_url() + "#board")

    @admin.display(description="Audit trail")
    def timeline(self, obj):
        return _timeline(obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not access.board_hub_ids(request.user):
            for name in ("decide_approved", "decide_approved_with_conditions", "decide_rejected"):
                actions.pop(name, None)  # only board members decide
        return actions
