from django.urls import path

from . import api

urlpatterns = [
    path("events/", api.EventListView.as_view(), name="api-event-list"),
    path("events/<slug:slug>/", api.EventDetailView.as_view(), name="api-event-detail"),
    path("events/<slug:slug>/publish/", api.EventPublishView.as_view(), name="api-event-publish"),
    path("events/<slug:slug>/cancel/", api.EventCancelView.as_view(), name="api-event-cancel"),
    path("events/<slug:slug>/register/", api.EventRegisterView.as_view(), name="api-event-register"),
    path(
        "events/<slug:slug>/registrations/",
        api.EventRegistrationListView.as_view(),
        name="api-event-registration-list",
    ),
    path("events/<slug:slug>/pitch-slots/", api.PitchSlotListView.as_view(), name="api-event-pitch-slot-list"),
    path("event-registrations/", api.MyRegistrationListView.as_view(), name="api-event-my-registrations"),
    path("event-registrations/<int:pk>/", api.RegistrationDetailView.as_view(), name="api-event-registration"),
    path(
        "event-registrations/<int:pk>/cancel/",
        api.RegistrationCancelView.as_view(),
        name="api-event-registration-cancel",
    ),
    path(
        "event-registrations/<int:pk>/attendance/",
        api.AttendanceView.as_view(),
        name="api-event-registration-attendance",
    ),
    path("event-pitch-slots/<int:pk>/claim/", api.PitchSlotClaimView.as_view(), name="api-event-pitch-slot-claim"),
    path(
        "event-pitch-slots/<int:pk>/release/",
        api.PitchSlotReleaseView.as_view(),
        name="api-event-pitch-slot-release",
    ),
]
