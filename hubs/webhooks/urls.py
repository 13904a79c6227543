from django.urls import path

from . import views

app_name = "webhooks"

urlpatterns = [
    path("staff/webhooks/", views.endpoint_list, name="endpoint_list"),
    path("staff/webhooks/new/", views.endpoint_create, name="endpoint_create"),
    path("staff/webhooks/<int:pk>/", views.endpoint_detail, name="endpoint_detail"),
    path("staff/webhooks/<int:pk>/edit/", views.endpoint_edit, name="endpoint_edit"),
    path("staff/webhooks/<int:pk>/test/", views.endpoint_test, name="endpoint_test"),
    path("staff/webhooks/<int:pk>/rotate-secret/", views.endpoint_rotate, name="endpoint_rotate"),
    path("staff/webhooks/<int:pk>/pause/", views.endpoint_pause, name="endpoint_pause"),
    path("staff/webhooks/<int:pk>/enable/", views.endpoint_enable, name="endpoint_enable"),
    path("staff/webhooks/<int:pk>/delete/", views.endpoint_delete, name="endpoint_delete"),
    path("staff/webhooks/deliveries/<int:pk>/", views.delivery_detail, name="delivery_detail"),
    path("staff/webhooks/deliveries/<int:pk>/redeliver/", views.delivery_redeliver, name="delivery_redeliver"),
]
