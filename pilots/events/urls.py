from django.urls import path

from . import views

app_name = "events"

urlpatterns = [
    path("events/", views.event_list, name="event_list"),
    path("events/mine/", views.my_registrations, name="my_registrations"),
    path("events/registrations/<int:pk>/cancel/", views.registration_cancel, name="registration_cancel"),
    path("events/registrations/<int:pk>/pitch/", views.pitch_claim, name="pitch_claim"),
    path("events/<slug:slug>/", views.event_detail, name="event_detail"),
    path("events/<slug:slug>/event.ics", views.event_ics, name="event_ics"),
    path("events/<slug:slug>/register/", views.event_register, name="event_register"),
    path("staff/events/", views.staff_events, name="staff_events"),
    path("staff/events/new/", views.staff_event_create, name="staff_event_create"),
    path("staff/events/<slug:slug>/edit/", views.staff_event_edit, name="staff_event_edit"),
    path("staff/events/<slug:slug>/publish/", views.staff_event_publish, name="staff_event_publish"),
    path("staff/events/<slug:slug>/cancel/", views.staff_event_cancel, name="staff_event_cancel"),
    path("staff/events/<slug:slug>/attendance/", views.staff_attendance, name="staff_attendance"),
    path("staff/events/<slug:slug>/pitch-slots/", views.staff_pitch_slot_add, name="staff_pitch_slot_add"),
]
