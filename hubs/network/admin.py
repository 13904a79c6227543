"""Network news, subscriptions and deliveries for hub staff (scoped to their hubs)."""

from django.contrib import admin, messages

from gigafactory.admin import HubScopedAdmin, export_csv

from .models import CallAnnouncement, NetworkPreference, NewsDelivery, NewsDigest, NewsItem, Subscription
from .tasks import fan_out_news

HUB_FILTER = ("hub", admin.RelatedOnlyFieldListFilter)


class ReadOnly:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.action(description="Deliver again to subscribers who have not got it (safe to repeat)")
def deliver_again(modeladmin, request, queryset):
    for pk in queryset.values_list("pk", flat=True):
        fan_out_news.delay(pk)
    modeladmin.message_user(request, "Fan-out queued; nobody gets an item twice.", messages.SUCCESS)


@admin.register(NewsItem)
class NewsItemAdmin(HubScopedAdmin):
    list_display = ["title", "kind", "hub", "sector", "author", "recipient_count", "created_at"]
    list_filter = ["kind", "sector", HUB_FILTER]
    search_fields = ["title", "body"]
    list_select_related = ["hub", "author"]
    date_hierarchy = "created_at"
    actions = [deliver_again, export_csv]
    readonly_fields = [
        "kind",
        "hub",
        "author",
        "event_id",
        "event_type",
        "payload",
        "created_at",
        "fanned_out_at",
        "recipient_count",
    ]

    def has_add_permission(self, request):
        return False  # posted on the "Post to the network" page, which fans it out


@admin.register(Subscription)
class SubscriptionAdmin(HubScopedAdmin):
    hub_field = "subscriber_hub"
    list_display = ["__str__", "subscriber_hub", "user", "hub", "sector", "kind", "delivery", "created_at"]
    list_filter = ["kind", "sector", "delivery", ("subscriber_hub", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["user__email", "subscriber_hub__name", "hub__name"]
    list_select_related = ["user", "subscriber_hub", "hub"]
    autocomplete_fields = ["user"]
    readonly_fields = ["created_by", "created_at"]


@admin.register(NewsDelivery)
class NewsDeliveryAdmin(ReadOnly, HubScopedAdmin):
    hub_field = "item__hub"
    list_display = ["item", "user", "mode", "created_at", "emailed_at", "digest"]
    list_filter = ["mode", ("item__hub", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["user__email", "item__title"]
    list_select_related = ["item", "user", "digest"]
    show_full_result_count = False


class SuperuserOnly:
    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(NewsDigest)
class NewsDigestAdmin(SuperuserOnly, ReadOnly, admin.ModelAdmin):
    list_display = ["user", "day", "item_count", "sent_at"]
    list_filter = ["day"]
    search_fields = ["user__email"]
    list_select_related = ["user"]


@admin.register(NetworkPreference)
class NetworkPreferenceAdmin(SuperuserOnly, ReadOnly, admin.ModelAdmin):
    list_display = ["user", "delivery", "updated_at"]
    list_filter = ["delivery"]
    search_fields = ["user__email"]
    list_select_related = ["user"]


@admin.register(CallAnnouncement)
class CallAnnouncementAdmin(ReadOnly, HubScopedAdmin):
    hub_field = "call__hub"
    list_display = ["call", "announced_at"]
    list_select_related = ["call"]
