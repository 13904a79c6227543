from django.urls import path

from . import views

app_name = "pilots"

urlpatterns = [
    path("pilots/", views.pilot_list, name="pilot_list"),
    path("pilots/new/", views.pilot_create, name="pilot_create"),
    path("pilots/<int:pk>/", views.pilot_detail, name="pilot_detail"),
    path("pilots/<int:pk>/edit/", views.pilot_edit, name="pilot_edit"),
    path("pilots/<int:pk>/stop/", views.pilot_stop, name="pilot_stop"),
    path("pilots/<int:pk>/<str:action>/", views.pilot_transition, name="pilot_transition"),
    path("showcase/", views.showcase, name="showcase"),
    path("showcase/<slug:slug>/", views.case_study, name="case_study"),
    path("statistics/", views.statistics, name="statistics"),
    path("statistics.csv", views.statistics_csv, name="statistics_csv"),
    # Staff pages: the /staff/ prefix makes two-factor authentication compulsory.
    path("staff/pilots/<int:pk>/publish/", views.pilot_publish, name="pilot_publish"),
    path("staff/showcase/<slug:slug>/withdraw/", views.case_study_withdraw, name="case_study_withdraw"),
    path("staff/showcase/<slug:slug>/adapt/", views.case_study_adapt, name="case_study_adapt"),
]
