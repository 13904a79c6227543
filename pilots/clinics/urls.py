from django.urls import path

from . import views

app_name = "clinics"

urlpatterns = [
    path("clinics/", views.slot_list, name="slot_list"),
    path("clinics/slots/new/", views.slot_create, name="slot_create"),
    path("clinics/slots/<int:pk>/", views.slot_detail, name="slot_detail"),
    path("clinics/slots/<int:pk>/edit/", views.slot_edit, name="slot_edit"),
    path("clinics/slots/<int:pk>/withdraw/", views.slot_withdraw, name="slot_withdraw"),
    path("clinics/bookings/", views.booking_list, name="booking_list"),
    path("clinics/bookings/<int:pk>/", views.booking_detail, name="booking_detail"),
    path("clinics/bookings/<int:pk>/cancel/", views.booking_cancel, name="booking_cancel"),
    path("clinics/bookings/<int:pk>/move/", views.booking_reschedule, name="booking_reschedule"),
    path("clinics/bookings/<int:pk>/clinic.ics", views.booking_ics, name="booking_ics"),
    path("clinics/expert/", views.expert_slots, name="expert_slots"),
]
