"""Webhook endpoints and their delivery log for hub staff, with redelivery."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError

from gigafactory.admin import HubScopedAdmin, export_csv, run_service_action
from gigafactory.errors import InvalidTransition

from . import services
from .models import Delivery, DeliveryAttempt, Endpoint

HUB_FILTER = ("hub", admin.RelatedOnlyFieldListFilter)


class ReadOnly:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.action(description="Enable selected endpoints")
def enable_endpoints(modeladmin, request, queryset):
    run_service_action(modeladmin, request, queryset, services.endpoint_enable, "enabled")


@admin.action(description="Pause selected endpoints")
def pause_endpoints(modeladmin, request, queryset):
    run_service_action(modeladmin, request, queryset, services.endpoint_pause, "paused")


@admin.action(description="Send a test event (ping)")
def ping_endpoints(modeladmin, request, queryset):
    run_service_action(modeladmin, request, queryset, services.send_test_event, "test events queued")


@admin.register(Endpoint)
class EndpointAdmin(HubScopedAdmin):
    service_arg = "endpoint"
    list_display = ["url", "description", "hub", "partner", "status", "scope", "consecutive_failures", "created_at"]
    list_filter = ["status", "scope", HUB_FILTER]
    search_fields = ["url", "description", "partner__name"]
    list_select_related = ["hub", "partner"]
    actions = [enable_endpoints, pause_endpoints, ping_endpoints, export_csv]
    exclude = ["secret_encrypted"]
    readonly_fields = [
        "masked_secret",
        "status",
        "consecutive_failures",
        "failing_since",
        "disabled_at",
        "disabled_reason",
        "created_by",
        "created_at",
        "updated_at",
    ]

    def get_readonly_fields(self, request, obj=None):
        fields = list(self.readonly_fields)
        return [*fields, "hub", "partner"] if obj is not None else fields

    def save_model(self, request, obj, form, change):
        """Through the services: the secret is generated and encrypted there, shown once here."""
        data = {
            f: form.cleaned_data[f] for f in ("url", "event_types", "scope", "description") if f in form.cleaned_data
        }
        try:
            if change:
                changed = {f: v for f, v in data.items() if f in form.changed_data}
                services.endpoint_update(endpoint=obj, acting_user=request.user, **changed)
            else:
                endpoint, secret = services.endpoint_create(
                    hub=form.cleaned_data["hub"],
                    partner=form.cleaned_data.get("partner"),
                    acting_user=request.user,
                    **data,
                )
                obj.pk = endpoint.pk
                messages.warning(request, f"Signing secret (shown once, copy it now): {secret}")
        except (ValidationError, PermissionDenied) as exc:
            raise ValidationError(getattr(exc, "messages", [str(exc)])) from exc

    def delete_model(self, request, obj):
        services.endpoint_delete(endpoint=obj, acting_user=request.user)


class AttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = ["number", "started_at", "duration_ms", "status_code", "succeeded", "error", "requested_by"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.action(description="Redeliver selected deliveries")
def redeliver(modeladmin, request, queryset):
    done, refused = 0, []
    for delivery in queryset.select_related("endpoint", "endpoint__hub"):
        try:
            services.delivery_redeliver(delivery=delivery, acting_user=request.user)
            done += 1
        except (InvalidTransition, PermissionDenied) as exc:
            refused.append(f"#{delivery.pk}: {getattr(exc, 'message', None) or exc}")
    if done:
        modeladmin.message_user(request, f"{done} deliver{'y' if done == 1 else 'ies'} queued again.", messages.SUCCESS)
    for text in refused[:20]:
        modeladmin.message_user(request, text, messages.WARNING)


@admin.register(Delivery)
class DeliveryAdmin(ReadOnly, HubScopedAdmin):
    hub_field = "endpoint__hub"
    list_display = ["id", "event_type", "endpoint", "status", "attempt_count", "last_status_code", "created_at"]
    list_filter = ["status", "event_type", ("endpoint__hub", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["=id", "event_id", "endpoint__url"]
    list_select_related = ["endpoint"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    actions = [redeliver, export_csv]
    inlines = [AttemptInline]
    readonly_fields = [f.name for f in Delivery._meta.fields]


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(ReadOnly, HubScopedAdmin):
    hub_field = "delivery__endpoint__hub"
    list_display = ["delivery", "number", "started_at", "status_code", "succeeded", "duration_ms", "error"]
    list_filter = ["succeeded"]
    list_select_related = ["delivery"]
    show_full_result_count = False
    readonly_fields = [f.name for f in DeliveryAttempt._meta.fields]
