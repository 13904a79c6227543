from django.urls import path

from . import api

urlpatterns = [
    path("calls/", api.CallListView.as_view(), name="api-call-list"),
    path("calls/<slug:slug>/", api.CallDetailView.as_view(), name="api-call-detail"),
    path("resources/", api.ResourceListView.as_view(), name="api-resource-list"),
    path("resources/<int:pk>/", api.ResourceDetailView.as_view(), name="api-resource-detail"),
]
