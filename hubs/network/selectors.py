"""Reads for network news and subscriptions, with their related rows already joined."""

from django.db.models import Q, QuerySet

from . import access


def news_feed(user, *, kind="", hub=None, sector="", q="", api_key=None) -> QuerySet:
    qs = access.news_visible_to(user, api_key)
    if kind:
        qs = qs.filter(kind=kind)
    if hub is not None:
        qs = qs.filter(hub=hub)
    if sector:
        qs = qs.filter(sector=sector)
    if q:
        qs = qs.filter(Q(title__icontains=q) | Q(body__icontains=q))
    return qs.order_by("-created_at", "-id")


def subscriptions_page(user) -> tuple[list, list]:
    """(personal subscriptions, hub subscriptions of the hubs the person runs)."""
    rows = list(access.subscriptions_of(user).order_by("subscriber_hub__name", "-created_at"))
    return [s for s in rows if s.user_id], [s for s in rows if s.subscriber_hub_id]
