from django.urls import path

from . import api

urlpatterns = [
    path("hubs/", api.HubListView.as_view(), name="api-hub-list"),
    path("hubs/<slug:slug>/", api.HubDetailView.as_view(), name="api-hub-detail"),
    path("hubs/<slug:slug>/memberships/", api.HubMembershipListView.as_view(), name="api-hub-memberships"),
    path("organisations/", api.OrganisationListView.as_view(), name="api-organisation-list"),
    path("me/", api.MeView.as_view(), name="api-me"),
    path("memberships/", api.MyMembershipListView.as_view(), name="api-membership-list"),
    path("memberships/<int:pk>/leave/", api.MembershipLeaveView.as_view(), name="api-membership-leave"),
    path("memberships/<int:pk>/role/", api.MembershipRoleView.as_view(), name="api-membership-role"),
    *[
        path(f"memberships/<int:pk>/{action}/", api.decision_view(action).as_view(), name=f"api-membership-{action}")
        for action in api.MEMBERSHIP_TRANSITIONS
    ],
]
