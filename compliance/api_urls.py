from django.urls import path

from . import api

urlpatterns = [
    path("ai-systems/", api.AISystemListView.as_view(), name="api-ai-system-list"),
    path("ai-systems/<int:pk>/", api.AISystemDetailView.as_view(), name="api-ai-system-detail"),
    path("ai-systems/<int:pk>/links/", api.AISystemLinksView.as_view(), name="api-ai-system-links"),
    path("ai-systems/<int:pk>/assessments/", api.SystemAssessmentsView.as_view(), name="api-ai-system-assessments"),
    path("ai-systems/<int:pk>/board-review/", api.BoardReviewRequestView.as_view(), name="api-ai-system-board-review"),
    path("assessments/<int:pk>/", api.AssessmentDetailView.as_view(), name="api-assessment-detail"),
    path("assessments/<int:pk>/questions/", api.AssessmentQuestionsView.as_view(), name="api-assessment-questions"),
    path("assessments/<int:pk>/answers/", api.AssessmentAnswersView.as_view(), name="api-assessment-answers"),
    path("assessments/<int:pk>/submit/", api.AssessmentSubmitView.as_view(), name="api-assessment-submit"),
    path("checklist-items/", api.ChecklistItemListView.as_view(), name="api-checklist-item-list"),
    path("checklist-items/<int:pk>/", api.ChecklistItemDetailView.as_view(), name="api-checklist-item-detail"),
    path("checklist-items/<int:pk>/evidence/", api.ItemEvidenceView.as_view(), name="api-checklist-item-evidence"),
    path(
        "checklist-items/<int:pk>/evidence/files/",
        api.ItemEvidenceFileView.as_view(),
        name="api-checklist-item-evidence-file",
    ),
    path("evidence/<int:pk>/", api.EvidenceDetailView.as_view(), name="api-evidence-detail"),
    path("board-members/", api.BoardMemberListView.as_view(), name="api-board-member-list"),
    path("board-members/<int:pk>/", api.BoardMemberDetailView.as_view(), name="api-board-member-detail"),
    path("board-reviews/", api.BoardReviewListView.as_view(), name="api-board-review-list"),
    path("board-reviews/<int:pk>/", api.BoardReviewDetailView.as_view(), name="api-board-review-detail"),
    path("board-reviews/<int:pk>/decide/", api.BoardReviewDecideView.as_view(), name="api-board-review-decide"),
    path("board-reviews/<int:pk>/withdraw/", api.BoardReviewWithdrawView.as_view(), name="api-board-review-withdraw"),
]
