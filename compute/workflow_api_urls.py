"""API v1 routes of the GPU-credit workflow (included under /api/v1/)."""

from django.urls import path

from . import workflow_api as api

urlpatterns = [
    path("projects/", api.ProjectListView.as_view(), name="api-project-list"),
    path("projects/<int:pk>/", api.ProjectDetailView.as_view(), name="api-project-detail"),
    path("projects/<int:pk>/members/", api.ProjectMemberAddView.as_view(), name="api-project-member-add"),
    path(
        "projects/<int:pk>/members/<int:user_id>/",
        api.ProjectMemberRemoveView.as_view(),
        name="api-project-member-remove",
    ),
    path("applications/", api.ApplicationListView.as_view(), name="api-application-list"),
    path("applications/<int:pk>/", api.ApplicationDetailView.as_view(), name="api-application-detail"),
    path("applications/<int:pk>/submit/", api.ApplicationSubmitView.as_view(), name="api-application-submit"),
    path("applications/<int:pk>/withdraw/", api.ApplicationWithdrawView.as_view(), name="api-application-withdraw"),
    path("applications/<int:pk>/approve/", api.ApplicationApproveView.as_view(), name="api-application-approve"),
    path("applications/<int:pk>/reject/", api.ApplicationRejectView.as_view(), name="api-application-reject"),
    path(
        "applications/<int:pk>/request-changes/",
        api.ApplicationRequestChangesView.as_view(),
        name="api-application-request-changes",
    ),
    path(
        "applications/<int:pk>/assign-reviewers/",
        api.ApplicationAssignReviewersView.as_view(),
        name="api-application-assign-reviewers",
    ),
    path("reviews/", api.ReviewListView.as_view(), name="api-review-list"),
    path("reviews/<int:pk>/", api.ReviewDetailView.as_view(), name="api-review-detail"),
    path("reviews/<int:pk>/submit/", api.ReviewSubmitView.as_view(), name="api-review-submit"),
    path("reviews/<int:pk>/decline/", api.ReviewDeclineView.as_view(), name="api-review-decline"),
    path("allocations/", api.AllocationListView.as_view(), name="api-allocation-list"),
    path("allocations/<int:pk>/", api.AllocationDetailView.as_view(), name="api-allocation-detail"),
    path("allocations/<int:pk>/statement/", api.AllocationStatementView.as_view(), name="api-allocation-statement"),
    path("usage-records/", api.UsageRecordListView.as_view(), name="api-usage-record-list"),
]
