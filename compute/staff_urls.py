"""Reviewer pages (``/reviews/``) and hub staff's review pages (``/staff/``: the staff MFA
middleware covers them). Included by ``compute.urls`` without a namespace of its own, so the
names are ``compute:<name>``."""

from django.urls import path

from . import staff_views

urlpatterns = [
    path("reviews/", staff_views.reviewer_reviews, name="reviewer_reviews"),
    path("reviews/<int:pk>/", staff_views.reviewer_review, name="reviewer_review"),
    path("reviews/<int:pk>/decline/", staff_views.reviewer_decline, name="reviewer_decline"),
    path("staff/queue/", staff_views.staff_queue, name="staff_queue"),
    path("staff/queue/bulk/", staff_views.staff_queue_bulk, name="staff_queue_bulk"),
    path("staff/applications/<int:pk>/", staff_views.staff_application, name="staff_application"),
    path("staff/applications/<int:pk>/assign/", staff_views.staff_application_assign, name="staff_application_assign"),
    path(
        "staff/applications/<int:pk>/<str:action>/",
        staff_views.staff_application_decide,
        name="staff_application_decide",
    ),
]
