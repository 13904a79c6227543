from django.urls import path

from . import api

urlpatterns = [
    path("webhooks/event-types/", api.EventTypeListView.as_view(), name="api-webhook-event-types"),
    path("webhooks/endpoints/", api.EndpointListView.as_view(), name="api-webhook-endpoints"),
    path("webhooks/endpoints/<int:pk>/", api.EndpointDetailView.as_view(), name="api-webhook-endpoint"),
    path(
        "webhooks/endpoints/<int:pk>/deliveries/",
        api.EndpointDeliveryListView.as_view(),
        name="api-webhook-endpoint-deliveries",
    ),
    *[
        path(
            f"webhooks/endpoints/<int:pk>/{action}/",
            api.endpoint_action_view(action).as_view(),
            name=f"api-webhook-endpoint-{action}",
        )
        for action in api.ENDPOINT_ACTIONS
    ],
    path("webhooks/deliveries/<int:pk>/", api.DeliveryDetailView.as_view(), name="api-webhook-delivery"),
    path(
        "webhooks/deliveries/<int:pk>/redeliver/",
        api.DeliveryRedeliverView.as_view(),
        name="api-webhook-delivery-redeliver",
    ),
]
