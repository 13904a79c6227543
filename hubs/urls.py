from django.urls import path

from . import views

app_name = "hubs"

urlpatterns = [
    path("", views.landing, name="landing"),
    path("hubs/", views.hub_directory, name="directory"),
    path("hubs/<slug:slug>/", views.hub_detail, name="hub_detail"),
    path("hubs/<slug:slug>/join/", views.join_hub, name="join"),
    path("hubs/<slug:slug>/dashboard/", views.hub_dashboard, name="hub_dashboard"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("account/profile/", views.profile, name="profile"),
    path("account/memberships/", views.memberships, name="memberships"),
    path("account/memberships/<int:pk>/leave/", views.membership_leave, name="membership_leave"),
    path("account/api-keys/", views.api_keys, name="api_keys"),
    path("account/api-keys/<int:pk>/revoke/", views.api_key_revoke, name="api_key_revoke"),
    path("account/export/", views.account_export, name="account_export"),
    path("account/delete/", views.account_delete, name="account_delete"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/read/", views.inbox_mark_read, name="inbox_read_all"),
    path("inbox/<int:pk>/read/", views.inbox_mark_read, name="inbox_read"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("staff/hubs/<slug:slug>/members/", views.manage, name="manage"),
    path("staff/hubs/<slug:slug>/invite/", views.invite, name="invite"),
    path("staff/invitations/<int:pk>/revoke/", views.invitation_revoke, name="invitation_revoke"),
    path("staff/memberships/<int:pk>/role/", views.membership_role, name="membership_role"),
    path(
        "staff/memberships/<int:pk>/<str:action>/",
        views.membership_decide,
        name="membership_decide",
    ),
]
