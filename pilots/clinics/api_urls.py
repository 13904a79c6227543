from django.urls import path

from . import api

urlpatterns = [
    path("clinic-slots/", api.SlotListView.as_view(), name="api-clinic-slot-list"),
    path("clinic-slots/<int:pk>/", api.SlotDetailView.as_view(), name="api-clinic-slot-detail"),
    path("clinic-slots/<int:pk>/withdraw/", api.SlotWithdrawView.as_view(), name="api-clinic-slot-withdraw"),
    path("clinic-slots/<int:pk>/book/", api.SlotBookView.as_view(), name="api-clinic-slot-book"),
    path("clinic-bookings/", api.BookingListView.as_view(), name="api-clinic-booking-list"),
    path("clinic-bookings/<int:pk>/", api.BookingDetailView.as_view(), name="api-clinic-booking-detail"),
    path("clinic-bookings/<int:pk>/cancel/", api.BookingCancelView.as_view(), name="api-clinic-booking-cancel"),
    path(
        "clinic-bookings/<int:pk>/reschedule/",
        api.BookingRescheduleView.as_view(),
        name="api-clinic-booking-reschedule",
    ),
    path("clinic-bookings/<int:pk>/follow-up/", api.BookingFollowUpView.as_view(), name="api-clinic-booking-follow-up"),
]
