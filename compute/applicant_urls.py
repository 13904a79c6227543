"""The applicant's pages. Included at the end of ``compute/urls.py``, so the names live in the
``compute`` namespace (``compute:project_detail``, ``compute:application_detail``, ...).

``/calls/<slug>/apply/`` (``compute:application_create``) is the catalogue's address; it
checks the login and that the call is open, then hands over to
``compute.applicant_views.application_create``.
"""

from django.urls import path

from . import applicant_views as views

urlpatterns = [
    path("projects/", views.project_list, name="project_list"),
    path("projects/new/", views.project_create, name="project_create"),
    path("projects/<int:pk>/", views.project_detail, name="project_detail"),
    path("projects/<int:pk>/members/add/", views.project_member_add, name="project_member_add"),
    path(
        "projects/<int:pk>/members/<int:user_pk>/remove/",
        views.project_member_remove,
        name="project_member_remove",
    ),
    path("projects/<int:pk>/usage.csv", views.project_usage_csv, name="project_usage_csv"),
    path("applications/", views.application_list, name="application_list"),
    path("applications/<int:pk>/", views.application_detail, name="application_detail"),
    path("applications/<int:pk>/edit/", views.application_edit, name="application_edit"),
    path("applications/<int:pk>/autosave/", views.application_autosave, name="application_autosave"),
    path("applications/<int:pk>/estimate/", views.application_estimate, name="application_estimate"),
    path("applications/<int:pk>/rows/new/", views.application_row_new, name="application_row_new"),
    path("applications/<int:pk>/submit/", views.application_submit, name="application_submit"),
    path("applications/<int:pk>/withdraw/", views.application_withdraw, name="application_withdraw"),
]
