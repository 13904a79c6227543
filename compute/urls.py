from django.urls import include, path

from . import views

app_name = "compute"

urlpatterns = [
    path("calls/", views.call_list, name="call_list"),
    path("calls/<slug:slug>/", views.call_detail, name="call_detail"),
    path("calls/<slug:slug>/apply/", views.application_create, name="application_create"),
    path("", include("compute.applicant_urls")),
    path("", include("compute.staff_urls")),
]
