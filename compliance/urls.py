from django.urls import path

from . import views

app_name = "compliance"

urlpatterns = [
    path("compliance/", views.system_list, name="system_list"),
    path("compliance/systems/new/", views.system_create, name="system_create"),
    path("compliance/systems/<int:pk>/", views.system_detail, name="system_detail"),
    path("compliance/systems/<int:pk>/edit/", views.system_edit, name="system_edit"),
    path("compliance/systems/<int:pk>/links/", views.system_links, name="system_links"),
    path("compliance/systems/<int:pk>/classify/", views.assessment_start, name="assessment_start"),
    path("compliance/systems/<int:pk>/review/", views.review_request, name="review_request"),
    path("compliance/systems/<int:pk>/dossier/", views.dossier_page, name="dossier"),
    path("compliance/systems/<int:pk>/dossier.<str:fmt>", views.dossier_download, name="dossier_download"),
    path("compliance/assessments/<int:pk>/", views.assessment_result, name="assessment_result"),
    path("compliance/assessments/<int:pk>/wizard/", views.wizard, name="wizard"),
    path("compliance/assessments/<int:pk>/submit/", views.assessment_submit, name="assessment_submit"),
    path("compliance/items/<int:pk>/", views.item_detail, name="item_detail"),
    path("compliance/evidence/<int:pk>/download/", views.evidence_download, name="evidence_download"),
    path("compliance/evidence/<int:pk>/remove/", views.evidence_remove, name="evidence_remove"),
    path("compliance/reviews/<int:pk>/decide/", views.review_decide, name="review_decide"),
    path("compliance/reviews/<int:pk>/withdraw/", views.review_withdraw, name="review_withdraw"),
    path("compliance/board/", views.board, name="board"),
    path("compliance/board/members/<int:pk>/remove/", views.board_member_remove, name="board_member_remove"),
]
