"""The one access layer for webhook endpoints and their deliveries.

Who manages an endpoint:
- staff of its hub (a session, or a personal key of a staff member, narrowed to the key's hub);
- a partner system's API key: the endpoints of that partner system, in the key's hub;
- superusers: every endpoint.
"""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from hubs.access import scope_to_staff_hubs, staff_hub_ids
from hubs.models import Hub

from .models import Delivery, Endpoint


def _partner_key(api_key):
    return api_key if api_key is not None and api_key.partner_id is not None else None


def endpoints_for(user, api_key=None) -> QuerySet:
    qs = Endpoint.objects.select_related("hub", "partner")
    key = _partner_key(api_key)
    if key is not None:
        return qs.filter(hub_id=key.hub_id, partner_id=key.partner_id)
    if not user.is_authenticated:
        return qs.none()
    return scope_to_staff_hubs(qs, user, api_key)


def endpoint_for(user, pk, *, api_key=None, for_write=False) -> Endpoint:
    qs = endpoints_for(user, api_key)
    if for_write:
        qs = qs.select_for_update(of=("self",))
    return get_object_or_404(qs, pk=pk)


def deliveries_for(user, api_key=None) -> QuerySet:
    return Delivery.objects.filter(endpoint__in=endpoints_for(user, api_key).values("pk")).select_related(
        "endpoint", "endpoint__hub"
    )


def delivery_for(user, pk, *, api_key=None) -> Delivery:
    return get_object_or_404(deliveries_for(user, api_key), pk=pk)


def hubs_for_new_endpoint(user, api_key=None) -> QuerySet:
    """Hubs in which the caller may register an endpoint."""
    key = _partner_key(api_key)
    if key is not None:
        return Hub.objects.filter(pk=key.hub_id)
    if not user.is_authenticated:
        return Hub.objects.none()
    ids = staff_hub_ids(user, api_key)
    qs = Hub.objects.order_by("name")
    return qs if ids is None else qs.filter(pk__in=ids)


def may_manage_hub(user, hub, api_key=None) -> bool:
    return hubs_for_new_endpoint(user, api_key).filter(pk=hub.pk).exists()
