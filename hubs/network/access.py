"""The one access layer for network news and subscriptions.

News of public hubs (and network-wide news) is public; news of a private hub is for its
members. A person manages their own subscriptions; hub staff manage their hub's.
"""

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from hubs import access as hub_access
from hubs.models import Hub

from .models import NewsItem, Subscription


def hub_visible(user, hub) -> bool:
    return hub_access.visible_hubs(user).filter(pk=hub.pk).exists()


def news_visible_to(user, api_key=None) -> QuerySet:
    qs = NewsItem.objects.select_related("hub", "author")
    if user.is_authenticated and user.is_superuser and api_key is None:
        return qs
    member_ids = hub_access.member_hub_ids(user, api_key) if user.is_authenticated else set()
    if api_key is not None:
        member_ids |= {api_key.hub_id}
    return qs.filter(Q(hub__isnull=True) | Q(hub__public=True) | Q(hub_id__in=member_ids))


def news_item_for(user, pk, api_key=None) -> NewsItem:
    return get_object_or_404(news_visible_to(user, api_key), pk=pk)


def hubs_to_post_for(user, api_key=None) -> QuerySet:
    ids = hub_access.staff_hub_ids(user, api_key) if user.is_authenticated else set()
    qs = Hub.objects.order_by("name")
    return qs if ids is None else qs.filter(pk__in=ids)


def subscriptions_of(user, api_key=None) -> QuerySet:
    """The person's own subscriptions and those of the hubs they run."""
    qs = Subscription.objects.select_related("user", "subscriber_hub", "hub")
    if not user.is_authenticated:
        return qs.none()
    staff_ids = hub_access.staff_hub_ids(user, api_key)
    mine = Q(user=user)
    if staff_ids is None:
        mine |= Q(subscriber_hub__isnull=False)
    elif staff_ids:
        mine |= Q(subscriber_hub_id__in=staff_ids)
    return qs.filter(mine)


def subscription_for(user, pk, api_key=None) -> Subscription:
    return get_object_or_404(subscriptions_of(user, api_key), pk=pk)


def require_subscription_owner(user, subscription) -> None:
    if subscription.user_id is not None:
        if subscription.user_id != user.pk:
            raise PermissionDenied("This is not your subscription.")
    elif not hub_access.is_hub_staff(user, subscription.subscriber_hub):
        raise PermissionDenied(f"Only staff of {subscription.subscriber_hub} manage its subscriptions.")
