"""Admin of fairness checks, reference data, trust anchors and drift batches, scoped to staff's hubs.

Runs and batches are records: read-only. Reference data can be renamed and its thresholds changed
while it is a draft (through ``services.reference_update``); once signed off it and its trust
anchor are read-only here, as everywhere else.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied

from gigafactory.admin import HUB_FILTER, HubScopedAdmin, export_csv, run_service_action
from gigafactory.errors import InvalidTransition

from . import services
from .models import DriftBatch, DriftColumnResult, FairnessCheck, ReferenceDataset, ReferenceStatus, TrustAnchor


class ReadOnlyAdmin(HubScopedAdmin):
    """Hub staff look; nobody edits, adds or deletes here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(FairnessCheck)
class FairnessCheckAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "system", "hub", "status", "passed", "row_count", "created_at", "computed_at"]
    list_filter = ["status", "passed", HUB_FILTER]
    search_fields = ["name", "system__name", "file_sha256"]
    list_select_related = ["system", "hub"]
    date_hierarchy = "created_at"
    exclude = ["inputs"]
    readonly_fields = [
        "system",
        "hub",
        "name",
        "file_name",
        "file_sha256",
        "row_count",
        "label_column",
        "prediction_column",
        "score_column",
        "sensitive_columns",
        "positive_label",
        "max_parity_difference",
        "min_parity_ratio",
        "max_equalized_odds_difference",
        "max_equal_opportunity_difference",
        "status",
        "passed",
        "results",
        "error",
        "evidence_attached_at",
        "created_by",
        "created_at",
        "computed_at",
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("inputs")


@admin.action(description="Submit to the hub's ethics board")
def submit_selected(modeladmin, request, queryset):
    run_service_action(modeladmin, request, queryset, services.reference_submit, "submitted to the board")


@admin.action(description="Sign off as the ethics board (makes each a trust anchor)")
def sign_off_selected(modeladmin, request, queryset):
    done, refused = 0, []
    for reference in queryset:
        try:
            services.reference_sign_off(reference=reference, acting_user=request.user, note="Signed off in the admin.")
            done += 1
        except (InvalidTransition, PermissionDenied) as exc:
            refused.append(f"{reference}: {getattr(exc, 'message', None) or exc}")
    if done:
        modeladmin.message_user(request, f"{done} signed off.", messages.SUCCESS)
    for text in refused[:20]:
        modeladmin.message_user(request, text, messages.WARNING)


@admin.register(ReferenceDataset)
class ReferenceDatasetAdmin(HubScopedAdmin):
    service_arg = "reference"
    list_display = ["name", "system", "hub", "status", "row_count", "created_at", "decided_at"]
    list_filter = ["status", HUB_FILTER]
    search_fields = ["name", "system__name", "data_sha256"]
    list_select_related = ["system", "hub"]
    actions = [export_csv, submit_selected, sign_off_selected]
    fields = [
        "system",
        "name",
        "description",
        "psi_threshold",
        "alpha",
        "js_threshold",
        "status",
        "file_name",
        "row_count",
        "data_sha256",
        "profile_sha256",
        "created_by",
        "created_at",
        "submitted_at",
        "decided_by",
        "decided_at",
        "decision_note",
    ]
    readonly_fields = [
        "system",
        "status",
        "file_name",
        "row_count",
        "data_sha256",
        "profile_sha256",
        "created_by",
        "created_at",
        "submitted_at",
        "decided_by",
        "decided_at",
        "decision_note",
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("data")

    def has_add_permission(self, request):
        return False  # uploads go through the pages or the API, which profile the data

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.status in (ReferenceStatus.SIGNED_OFF, ReferenceStatus.SUBMITTED):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        services.reference_update(
            reference=obj,
            acting_user=request.user,
            **{f: form.cleaned_data[f] for f in ("name", "description", *services.DRIFT_THRESHOLD_FIELDS)},
        )


@admin.register(TrustAnchor)
class TrustAnchorAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "system", "hub", "signed_by", "signed_at", "data_sha256"]
    list_filter = [HUB_FILTER]
    search_fields = ["system__name", "reference__name", "data_sha256", "profile_sha256"]
    list_select_related = ["system", "hub", "signed_by", "reference"]
    readonly_fields = [
        "reference",
        "system",
        "hub",
        "data_sha256",
        "profile_sha256",
        "psi_threshold",
        "alpha",
        "js_threshold",
        "signed_by",
        "signed_at",
        "note",
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("reference__data", "reference__profile")


class DriftColumnResultInline(admin.TabularInline):
    model = DriftColumnResult
    fields = ["column", "kind", "psi", "test", "statistic", "p_value", "drifted"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(DriftBatch)
class DriftBatchAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "system", "hub", "source", "partner", "status", "drifted", "row_count", "created_at"]
    list_filter = ["status", "drifted", "source", HUB_FILTER]
    search_fields = ["label", "external_id", "system__name"]
    list_select_related = ["system", "hub", "partner"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    exclude = ["data"]
    readonly_fields = [
        "anchor",
        "system",
        "hub",
        "label",
        "source",
        "partner",
        "external_id",
        "file_name",
        "data_sha256",
        "row_count",
        "status",
        "drifted",
        "drifted_columns",
        "error",
        "corrective_action_opened",
        "created_by",
        "created_at",
        "computed_at",
    ]
    inlines = [DriftColumnResultInline]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("data")
