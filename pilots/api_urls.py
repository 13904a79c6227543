from django.urls import path

from . import api

urlpatterns = [
    path("pilots/", api.PilotListView.as_view(), name="api-pilot-list"),
    path("pilots/<int:pk>/", api.PilotDetailView.as_view(), name="api-pilot-detail"),
    path("pilots/<int:pk>/start/", api.PilotStartView.as_view(), name="api-pilot-start"),
    path("pilots/<int:pk>/complete/", api.PilotCompleteView.as_view(), name="api-pilot-complete"),
    path("pilots/<int:pk>/stop/", api.PilotStopView.as_view(), name="api-pilot-stop"),
    path("pilots/<int:pk>/case-study/", api.PilotPublishView.as_view(), name="api-pilot-publish"),
    path("case-studies/", api.CaseStudyListView.as_view(), name="api-case-study-list"),
    path("case-studies/<slug:slug>/", api.CaseStudyDetailView.as_view(), name="api-case-study-detail"),
    path("case-studies/<slug:slug>/adapt/", api.CaseStudyAdaptView.as_view(), name="api-case-study-adapt"),
    path("network-statistics/", api.NetworkStatisticsView.as_view(), name="api-network-statistics"),
]
