from django.urls import path

from . import views

app_name = "assurance"

urlpatterns = [
    path("assurance/", views.index, name="index"),
    path("assurance/systems/<int:system_id>/fairness/", views.fairness_list, name="fairness_list"),
    path("assurance/systems/<int:system_id>/fairness/new/", views.fairness_new, name="fairness_new"),
    path("assurance/fairness/<int:pk>/", views.fairness_detail, name="fairness_detail"),
    path("assurance/fairness/<int:pk>/attach/", views.fairness_attach, name="fairness_attach"),
    path("assurance/systems/<int:system_id>/drift/", views.drift_home, name="drift_home"),
    path("assurance/systems/<int:system_id>/drift/reference/new/", views.reference_new, name="reference_new"),
    path("assurance/systems/<int:system_id>/drift/batches/new/", views.batch_new, name="batch_new"),
    path("assurance/references/<int:pk>/", views.reference_detail, name="reference_detail"),
    path("assurance/references/<int:pk>/submit/", views.reference_submit, name="reference_submit"),
    path("assurance/references/<int:pk>/decide/", views.reference_decide, name="reference_decide"),
    path("assurance/references/<int:pk>/delete/", views.reference_delete, name="reference_delete"),
    path("assurance/batches/<int:pk>/", views.batch_detail, name="batch_detail"),
]
