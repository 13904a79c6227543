from django.urls import path

from . import api

urlpatterns = [
    path("assurance/fairness-checks/", api.FairnessCheckListView.as_view(), name="api-fairness-list"),
    path("assurance/fairness-checks/<int:pk>/", api.FairnessCheckDetailView.as_view(), name="api-fairness-detail"),
    path(
        "assurance/fairness-checks/<int:pk>/attach-evidence/",
        api.FairnessAttachView.as_view(),
        name="api-fairness-attach",
    ),
    path("assurance/references/", api.ReferenceListView.as_view(), name="api-reference-list"),
    path("assurance/references/<int:pk>/", api.ReferenceDetailView.as_view(), name="api-reference-detail"),
    path("assurance/references/<int:pk>/submit/", api.ReferenceSubmitView.as_view(), name="api-reference-submit"),
    path("assurance/references/<int:pk>/sign-off/", api.ReferenceSignOffView.as_view(), name="api-reference-sign-off"),
    path("assurance/references/<int:pk>/reject/", api.ReferenceRejectView.as_view(), name="api-reference-reject"),
    path("assurance/anchors/", api.AnchorListView.as_view(), name="api-anchor-list"),
    path("assurance/anchors/<int:pk>/", api.AnchorDetailView.as_view(), name="api-anchor-detail"),
    path("assurance/anchors/<int:pk>/batches/", api.AnchorBatchesView.as_view(), name="api-anchor-batches"),
    path("assurance/batches/<int:pk>/", api.BatchDetailView.as_view(), name="api-batch-detail"),
]
