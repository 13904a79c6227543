"""Admin plumbing shared by every app: hub scoping, CSV export, the read-only audit trail."""

import csv

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.utils import timezone

from hubs import access

from .errors import InvalidTransition
from .models import AuditEvent

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

# The hub filter offers only hubs present in the (hub-scoped) list, never every hub's name.
HUB_FILTER = ("hub", admin.RelatedOnlyFieldListFilter)


def csv_safe(value) -> str:
    """Neutralise spreadsheet formulas in exported cells."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


@admin.action(description="Export selected rows as CSV")
def export_csv(modeladmin, request, queryset):
    fields = [f for f in modeladmin.get_list_display(request) if isinstance(f, str) and f != "__str__"]
    response = HttpResponse(content_type="text/csv")
    name = modeladmin.model._meta.model_name
    response["Content-Disposition"] = f'attachment; filename="{name}-{timezone.now():%Y%m%d}.csv"'
    writer = csv.writer(response)
    writer.writerow(fields)
    for obj in queryset:
        row = []
        for field in fields:
            value = getattr(obj, field, None)
            if value is None and hasattr(modeladmin, field):
                value = getattr(modeladmin, field)(obj)
            elif callable(value):
                value = value()
            row.append(csv_safe(value))
        writer.writerow(row)
    return response


class HubScopedAdmin(admin.ModelAdmin):
    """Staff see and change only their own hubs' rows; superusers see everything.

    Permissions come from hub roles, not from Django's per-model permission table.
    """

    hub_field = "hub"
    actions = [export_csv]

    def get_queryset(self, request):
        return access.scope_to_staff_hubs(super().get_queryset(request), request.user, hub_field=self.hub_field)

    def _runs_a_hub(self, request):
        return request.user.is_active and access.is_any_hub_staff(request.user)

    def has_module_permission(self, request):
        return self._runs_a_hub(request)

    def has_view_permission(self, request, obj=None):
        return self._runs_a_hub(request)

    def has_change_permission(self, request, obj=None):
        return self._runs_a_hub(request)

    def has_add_permission(self, request):
        return self._runs_a_hub(request)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        from hubs.models import Hub

        if db_field.related_model is Hub and not request.user.is_superuser:
            kwargs["queryset"] = Hub.objects.filter(pk__in=access.staff_hub_ids(request.user))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


def run_service_action(modeladmin, request, queryset, service, verb, **kwargs):
    """Call a transition service per selected row; report successes and refusals."""
    done, refused = 0, []
    for obj in queryset:
        try:
            service(acting_user=request.user, **{modeladmin.service_arg: obj}, **kwargs)
            done += 1
        except (InvalidTransition, PermissionDenied, ValidationError) as exc:
            refused.append(f"{obj}: {getattr(exc, 'message', None) or exc}")
    if done:
        modeladmin.message_user(request, f"{done} {verb}.", messages.SUCCESS)
    for text in refused[:20]:
        modeladmin.message_user(request, text, messages.WARNING)


@admin.register(AuditEvent)
class AuditEventAdmin(HubScopedAdmin):
    list_display = ["created_at", "action", "object_repr", "actor", "actor_label", "hub"]
    list_filter = ["action", HUB_FILTER, "content_type"]
    search_fields = ["object_repr", "action", "actor__email", "actor_label"]
    list_select_related = ["actor", "hub", "content_type"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
