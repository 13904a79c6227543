"""Network news and subscriptions (``hubs.network``) and webhooks (``hubs.webhooks``).

News of public hubs is public and posted by the hub's staff; a person manages their own
subscriptions, staff their hub's. Webhook endpoints are managed by the hub's staff and by the
partner system they belong to (hub A's endpoint is ``partner_a``'s).
"""

from hubs.network.models import NewsItem, Subscription
from hubs.webhooks.models import Delivery, DeliveryStatus, Endpoint, EndpointStatus

from .matrix import OWNER_ONLY, PUBLISHED, PUBLISHED_LIST, STAFF_OF_HUB, api, listing, page

SIGNED_IN_API = {"default": "y", "anon": "n", "partner_a": "n"}
STAFF_LIST = {"default": "nn", "staff_a": "yh", "staff_b": "hy", "superuser": "yy"}
# Hub staff (with MFA) and the endpoint's partner system.
WEBHOOK_MANAGERS = {**STAFF_OF_HUB, "partner_a": "yn"}


def pk(name):
    return lambda w, s: {"pk": getattr(s, name).pk}


def gone(model, name):
    return lambda w, s: not model.objects.filter(pk=getattr(s, name).pk).exists()


def delivery_is(name, value):
    return lambda w, s: Subscription.objects.get(pk=getattr(s, name).pk).delivery == value


def endpoint_field(field, expected):
    return lambda w, s: getattr(Endpoint.objects.get(pk=s.endpoint.pk), field) == expected


def secret_changed(w, s):
    return Endpoint.objects.get(pk=s.endpoint.pk).secret_encrypted != s.endpoint.secret_encrypted


def pinged(w, s):
    return Delivery.objects.filter(endpoint=s.endpoint).count() > 1  # the failed one, and the test event


def redelivered(w, s):
    return Delivery.objects.get(pk=s.delivery.pk).status == DeliveryStatus.PENDING


def news_posted(w, s):
    return NewsItem.objects.filter(hub=s.hub, title="Matrix news").exists()


def followed(w, s):
    return Subscription.objects.filter(hub=s.hub, sector="energy", user__isnull=False).exists()


def hub_followed(w, s):
    return Subscription.objects.filter(subscriber_hub=s.hub, sector="energy").exists()


def endpoint_made(w, s):
    return Endpoint.objects.filter(hub=s.hub, description="Matrix endpoint").exists()


NEWS_FORM = {"kind": "announcement", "title": "Matrix news", "body": "Matrix.", "sector": "", "url": ""}
ENDPOINT_FORM = {
    "url": "http://127.0.0.1:9/matrix",
    "description": "Matrix endpoint",
    "all_events": "on",
    "scope": "hub",
}


ROWS = [
    # --- Network news --------------------------------------------------------------------------
    page("GET", "network:news", **PUBLISHED_LIST, marker=lambda w, s: s.news.title),
    page("GET", "network:news_detail", **PUBLISHED, args=pk("news")),
    page("GET", "network:post", "n", staff_a="y", staff_b="y", superuser="y", note="hub staff post news"),
    page("POST", "network:post", **STAFF_OF_HUB, data=lambda w, s: {**NEWS_FORM, "hub": s.hub.pk}, effect=news_posted),
    api("GET", "api-news-list", **PUBLISHED_LIST, marker=lambda w, s: s.news.title),
    api(
        "POST",
        "api-news-list",
        **STAFF_OF_HUB,
        data=lambda w, s: {**NEWS_FORM, "hub": s.hub.slug},
        effect=news_posted,
    ),
    api("GET", "api-news-detail", **PUBLISHED, args=pk("news")),
    # --- Subscriptions -------------------------------------------------------------------------
    page(
        "GET",
        "network:subscriptions",
        "hh",
        anon="nn",
        member_a="yh",
        member_b="hy",
        marker=lambda w, s: f"/network/subscriptions/{s.subscription.pk}/delete/",
    ),
    page(
        "GET",
        "network:subscriptions",
        "hh",
        anon="nn",
        staff_a="yh",
        staff_b="hy",
        superuser="yy",
        variant="hub subscription",
        marker=lambda w, s: f"/network/subscriptions/{s.hub_subscription.pk}/delete/",
    ),
    page(
        "POST",
        "network:subscriptions",
        **PUBLISHED,
        anon="nn",
        data=lambda w, s: {"hub": s.hub.pk, "sector": "energy"},
        effect=followed,
        note="anyone follows any visible hub's news",
    ),
    page(
        "POST",
        "network:hub_subscription_add",
        **STAFF_OF_HUB,
        data=lambda w, s: {"subscriber_hub": s.hub.pk, "sector": "energy", "audience": "staff"},
        effect=hub_followed,
    ),
    page(
        "POST",
        "network:subscription_delete",
        **OWNER_ONLY,
        args=pk("subscription"),
        effect=gone(Subscription, "subscription"),
    ),
    page(
        "POST",
        "network:subscription_delete",
        **STAFF_OF_HUB,
        variant="hub subscription",
        args=pk("hub_subscription"),
        effect=gone(Subscription, "hub_subscription"),
    ),
    page(
        "POST",
        "network:subscription_delivery",
        **OWNER_ONLY,
        args=pk("subscription"),
        data={"delivery": "digest"},
        effect=delivery_is("subscription", "digest"),
    ),
    page(
        "POST",
        "network:subscription_delivery",
        **STAFF_OF_HUB,
        variant="hub subscription",
        args=pk("hub_subscription"),
        data={"delivery": "digest"},
        note="a hub's subscription has no delivery of its own: only who may send the form is checked",
    ),
    page("POST", "network:preference", "y", anon="n", data={"delivery": "digest"}),
    api(
        "GET",
        "api-subscription-list",
        **listing(OWNER_ONLY, refused=("anon", "partner_a")),
        personal="yh",
        marker=lambda w, s: f'"id":{s.subscription.pk},',
    ),
    api(
        "GET",
        "api-subscription-list",
        **listing(STAFF_OF_HUB, refused=("anon", "partner_a")),
        variant="hub subscription",
        marker=lambda w, s: f'"id":{s.hub_subscription.pk},',
    ),
    api(
        "POST",
        "api-subscription-list",
        **PUBLISHED,
        anon="nn",
        partner_a="nn",
        data=lambda w, s: {"hub": s.hub.slug, "sector": "energy"},
        effect=followed,
        note="a person's own subscription to any visible hub's news (public data, not the key's hub's)",
    ),
    api(
        "POST",
        "api-subscription-list",
        **STAFF_OF_HUB,
        variant="hub subscription",
        data=lambda w, s: {"subscriber_hub": s.hub.slug, "sector": "energy"},
        effect=hub_followed,
    ),
    api(
        "PATCH",
        "api-subscription-detail",
        **OWNER_ONLY,
        personal="yn",
        args=pk("subscription"),
        data={"delivery": "digest"},
        effect=delivery_is("subscription", "digest"),
    ),
    api(
        "PATCH",
        "api-subscription-detail",
        **STAFF_OF_HUB,
        variant="hub subscription",
        args=pk("hub_subscription"),
        data={"audience": "members"},
        effect=lambda w, s: Subscription.objects.get(pk=s.hub_subscription.pk).audience == "members",
    ),
    api(
        "DELETE",
        "api-subscription-detail",
        **OWNER_ONLY,
        personal="yn",
        args=pk("subscription"),
        effect=gone(Subscription, "subscription"),
    ),
    api(
        "DELETE",
        "api-subscription-detail",
        **STAFF_OF_HUB,
        variant="hub subscription",
        args=pk("hub_subscription"),
        effect=gone(Subscription, "hub_subscription"),
    ),
    api("GET", "api-news-preference", **SIGNED_IN_API),
    api("PUT", "api-news-preference", **SIGNED_IN_API, data={"delivery": "digest"}),
    # --- Webhooks: staff pages -----------------------------------------------------------------
    page("GET", "webhooks:endpoint_list", **STAFF_LIST, marker=lambda w, s: s.endpoint.description),
    page("GET", "webhooks:endpoint_create", "n", staff_a="y", staff_b="y", superuser="y"),
    page(
        "POST",
        "webhooks:endpoint_create",
        **STAFF_OF_HUB,
        data=lambda w, s: {**ENDPOINT_FORM, "hub": s.hub.pk},
        effect=endpoint_made,
    ),
    page("GET", "webhooks:endpoint_detail", **STAFF_OF_HUB, args=pk("endpoint")),
    page("GET", "webhooks:endpoint_edit", **STAFF_OF_HUB, args=pk("endpoint")),
    page(
        "POST",
        "webhooks:endpoint_edit",
        **STAFF_OF_HUB,
        args=pk("endpoint"),
        data=lambda w, s: {**ENDPOINT_FORM, "hub": s.hub.pk, "description": "Renamed endpoint"},
        effect=endpoint_field("description", "Renamed endpoint"),
    ),
    page("POST", "webhooks:endpoint_test", **STAFF_OF_HUB, args=pk("endpoint"), effect=pinged),
    page("POST", "webhooks:endpoint_rotate", **STAFF_OF_HUB, args=pk("endpoint"), effect=secret_changed),
    page(
        "POST",
        "webhooks:endpoint_pause",
        **STAFF_OF_HUB,
        args=pk("endpoint"),
        effect=endpoint_field("status", EndpointStatus.PAUSED),
    ),
    page(
        "POST",
        "webhooks:endpoint_enable",
        **STAFF_OF_HUB,
        args=pk("paused_endpoint"),
        effect=lambda w, s: Endpoint.objects.get(pk=s.paused_endpoint.pk).status == EndpointStatus.ACTIVE,
    ),
    page("POST", "webhooks:endpoint_delete", **STAFF_OF_HUB, args=pk("endpoint"), effect=gone(Endpoint, "endpoint")),
    page("GET", "webhooks:delivery_detail", **STAFF_OF_HUB, args=pk("delivery")),
    page("POST", "webhooks:delivery_redeliver", **STAFF_OF_HUB, args=pk("delivery"), effect=redelivered),
    # --- Webhooks: API -------------------------------------------------------------------------
    api("GET", "api-webhook-event-types", "y"),
    api(
        "GET",
        "api-webhook-endpoints",
        **{**STAFF_LIST, "partner_a": "yh"},
        marker=lambda w, s: s.endpoint.description,
    ),
    api(
        "POST",
        "api-webhook-endpoints",
        **WEBHOOK_MANAGERS,
        data=lambda w, s: {
            "hub": s.hub.slug,
            "url": "http://127.0.0.1:9/matrix",
            "description": "Matrix endpoint",
            "event_types": ["*"],
        },
        effect=endpoint_made,
    ),
    api("GET", "api-webhook-endpoint", **WEBHOOK_MANAGERS, args=pk("endpoint")),
    api(
        "PATCH",
        "api-webhook-endpoint",
        **WEBHOOK_MANAGERS,
        args=pk("endpoint"),
        data={"description": "Renamed endpoint"},
        effect=endpoint_field("description", "Renamed endpoint"),
    ),
    api("DELETE", "api-webhook-endpoint", **WEBHOOK_MANAGERS, args=pk("endpoint"), effect=gone(Endpoint, "endpoint")),
    api("GET", "api-webhook-endpoint-deliveries", **WEBHOOK_MANAGERS, args=pk("endpoint")),
    api("POST", "api-webhook-endpoint-test", **WEBHOOK_MANAGERS, args=pk("endpoint"), effect=pinged),
    api("POST", "api-webhook-endpoint-rotate-secret", **WEBHOOK_MANAGERS, args=pk("endpoint"), effect=secret_changed),
    api(
        "POST",
        "api-webhook-endpoint-pause",
        **WEBHOOK_MANAGERS,
        args=pk("endpoint"),
        effect=endpoint_field("status", EndpointStatus.PAUSED),
    ),
    api(
        "POST",
        "api-webhook-endpoint-enable",
        **WEBHOOK_MANAGERS,
        args=pk("paused_endpoint"),
        effect=lambda w, s: Endpoint.objects.get(pk=s.paused_endpoint.pk).status == EndpointStatus.ACTIVE,
    ),
    api("GET", "api-webhook-delivery", **WEBHOOK_MANAGERS, args=pk("delivery")),
    api("POST", "api-webhook-delivery-redeliver", **WEBHOOK_MANAGERS, args=pk("delivery"), effect=redelivered),
]
