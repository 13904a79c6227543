from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from . import docs, health

handler404 = "gigafactory.api_errors.page_not_found"
handler500 = "gigafactory.middleware.server_error"

admin.site.site_header = "AI Gigafactory Network administration"
admin.site.site_title = "Gigafactory admin"
admin.site.index_title = "Hub administration"

api_v1 = [
    path("", include("hubs.api_urls")),
    path("", include("compute.api_urls")),
    path("", include("compute.workflow_api_urls")),
    path("", include("compliance.api_urls")),
    path("", include("compliance.assurance.api_urls")),
    path("", include("pilots.api_urls")),
    path("", include("pilots.clinics.api_urls")),
    path("", include("pilots.events.api_urls")),
    path("", include("hubs.network.api_urls")),
    path("", include("hubs.webhooks.api_urls")),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("api/redoc/redoc.standalone.js", docs.redoc_bundle, name="redoc-bundle"),
    path("", include("compute.urls")),
    path("", include("compliance.urls")),
    path("", include("compliance.assurance.urls")),
    path("", include("pilots.urls")),
    path("", include("pilots.clinics.urls")),
    path("", include("pilots.events.urls")),
    path("", include("hubs.network.urls")),
    path("", include("hubs.webhooks.urls")),
    path("", include("hubs.urls")),
]
