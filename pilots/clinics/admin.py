"""The AI-clinics back office for hub staff: advice slots with their bookings, bookings with
their intake, and the experts' recommendations.

Everything is scoped to the staff member's hubs (``HubScopedAdmin``; bookings and
recommendations through their slot's hub). Writes go through ``clinics.services``: adding or
editing a slot runs ``slot_create`` / ``slot_update`` (the form asks ``slot_validate`` first,
so an overlap or a booked slot's time lands on its field), withdrawing slots and cancelling
bookings are actions that tell the bookers. Bookings are made by the people booking, with
the intake form, and followed up by the expert on the booking page: here they are read-only.
"""

from datetime import timedelta

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef

from gigafactory.admin import HUB_FILTER, HubScopedAdmin, export_csv, run_service_action
from gigafactory.forms import add_service_errors
from hubs import access

from . import services
from .models import BookingStatus, ClinicBooking, ClinicSlot, Recommendation, SlotStatus

SLOT_HUB_FILTER = ("slot__hub", admin.RelatedOnlyFieldListFilter)


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and access.is_any_hub_staff(request.user)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# --- Slots -------------------------------------------------------------------------------------


class SlotAdminForm(forms.ModelForm):
    link = forms.URLField(
        label="Link",
        required=False,
        max_length=200,
        assume_scheme="https",
        help_text="Video-call link, for online slots",
    )
    duration_minutes = forms.IntegerField(
        label="Duration (minutes)",
        min_value=services.MIN_MINUTES,
        max_value=services.MAX_MINUTES,
        initial=45,
    )

    class Meta:
        model = ClinicSlot
        fields = ["hub", "expert", "topic", "description", "starts_at", "mode", "place", "link"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["duration_minutes"].initial = self.instance.duration_minutes

    def values(self) -> dict:
        fields = ("topic", "description", "starts_at", "duration_minutes", "mode", "place", "link")
        return {f: self.cleaned_data.get(f) or ("" if f in ("description", "place", "link") else None) for f in fields}

    def _post_clean(self):
        # ends_at is not a form field: set it before the model's own checks run on the instance.
        starts, minutes = self.cleaned_data.get("starts_at"), self.cleaned_data.get("duration_minutes")
        if starts is not None and minutes is not None:
            self.instance.ends_at = starts + timedelta(minutes=minutes)
        super()._post_clean()

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        slot = self.instance if self.instance.pk else None
        hub = slot.hub if slot is not None else data.get("hub")
        expert = slot.expert if slot is not None else data.get("expert")
        try:
            services.slot_validate(hub=hub, expert=expert, values=self.values(), slot=slot)
        except ValidationError as exc:
            add_service_errors(self, exc)
        return data


class BookingInline(_ReadOnlyInline):
    model = ClinicBooking
    fk_name = "slot"
    fields = ["user", "status", "organisation_name", "sector", "created_at", "cancelled_at", "followed_up_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "slot")  # a row's title names its slot


@admin.action(description="Withdraw the selected slots (a booking is cancelled and the booker told)")
def withdraw_slots(modeladmin, request, queryset):
    run_service_action(modeladmin, request, queryset, services.slot_withdraw, "withdrawn")


@admin.register(ClinicSlot)
class ClinicSlotAdmin(HubScopedAdmin):
    form = SlotAdminForm
    service_arg = "slot"
    list_display = ["topic", "hub", "expert", "starts_at", "duration", "mode", "status", "booked"]
    list_filter = ["status", "mode", HUB_FILTER, "starts_at"]
    search_fields = ["topic", "description", "expert__name", "expert__email"]
    list_select_related = ["hub", "expert"]
    date_hierarchy = "starts_at"
    raw_id_fields = ["expert"]
    readonly_fields = ["status", "ends_at", "created_by", "created_at", "updated_at"]
    inlines = [BookingInline]
    actions = [withdraw_slots, export_csv]

    def get_fieldsets(self, request, obj=None):
        return [
            (None, {"fields": ["hub", "expert", "topic", "description", "status"]}),
            ("When and where", {"fields": ["starts_at", "duration_minutes", "ends_at", "mode", "place", "link"]}),
            ("Record", {"fields": ["created_by", "created_at", "updated_at"]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        # A slot stays with its hub and expert: publish a new one for someone else.
        return self.readonly_fields if obj is None else [*self.readonly_fields, "hub", "expert"]

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.status == SlotStatus.WITHDRAWN:
            return False
        return super().has_change_permission(request, obj)

    def get_queryset(self, request):
        booked = ClinicBooking.objects.filter(slot=OuterRef("pk"), status=BookingStatus.BOOKED)
        return super().get_queryset(request).select_related("hub", "expert").annotate(is_booked=Exists(booked))

    @admin.display(description="Minutes")
    def duration(self, obj):
        return obj.duration_minutes

    @admin.display(description="Booked", boolean=True, ordering="is_booked")
    def booked(self, obj):
        return obj.is_booked

    def save_model(self, request, obj, form, change):
        values = form.values()
        if change:
            current = services.slot_values(ClinicSlot.objects.get(pk=obj.pk))
            changes = {k: v for k, v in values.items() if v != current[k]}
            if changes:
                services.slot_update(slot=obj, acting_user=request.user, **changes)
        else:
            created = services.slot_create(hub=obj.hub, expert=obj.expert, acting_user=request.user, **values)
            obj.pk = created.pk
        obj.refresh_from_db()


# --- Bookings ----------------------------------------------------------------------------------


class RecommendationInline(_ReadOnlyInline):
    model = Recommendation
    fields = ["text", "link", "created_by", "created_at"]
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("created_by")


@admin.action(description="Cancel the selected bookings (the bookers are told)")
def cancel_bookings(modeladmin, request, queryset):
    run_service_action(
        modeladmin, request, queryset, services.booking_cancel, "cancelled", reason="Cancelled by the hub."
    )


@admin.register(ClinicBooking)
class ClinicBookingAdmin(HubScopedAdmin):
    hub_field = "slot__hub"
    service_arg = "booking"
    list_display = [
        "id",
        "slot",
        "starts_at",
        "person",
        "email",
        "organisation_name",
        "sector",
        "status",
        "followed_up_at",
    ]
    list_display_links = ["id", "slot"]
    list_filter = ["status", "sector", SLOT_HUB_FILTER, "slot__starts_at"]
    search_fields = ["user__email", "user__name", "organisation_name", "problem", "slot__topic"]
    list_select_related = ["slot", "user"]
    date_hierarchy = "created_at"
    fieldsets = [
        (None, {"fields": ["slot", "user", "status", "rescheduled_from"]}),
        ("Intake", {"fields": ["organisation_name", "sector", "problem", "data_description"]}),
        ("Cancellation", {"fields": ["cancelled_at", "cancelled_by", "cancel_reason"]}),
        ("Follow-up", {"fields": ["follow_up_notes", "followed_up_at"]}),
        ("E-mails", {"fields": ["confirmation_sent_at", "reminder_sent_at", "cancellation_sent_at"]}),
        ("Record", {"fields": ["created_at", "updated_at"]}),
    ]
    readonly_fields = [f for _title, options in fieldsets for f in options["fields"]]
    inlines = [RecommendationInline]
    actions = [cancel_bookings, export_csv]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("slot", "slot__hub", "user", "cancelled_by", "rescheduled_from__slot")
        )

    def has_add_permission(self, request):
        return False  # people book with the intake form (pages, API)

    def has_change_permission(self, request, obj=None):
        return False  # the intake is the booker's; cancelling is an action, the follow-up is on the booking page

    @admin.display(description="Starts", ordering="slot__starts_at")
    def starts_at(self, obj):
        return obj.slot.starts_at

    @admin.display(description="Booked by", ordering="user__name")
    def person(self, obj):
        return obj.user.display_name

    @admin.display(description="E-mail", ordering="user__email")
    def email(self, obj):
        return obj.user.email


# --- Recommendations ---------------------------------------------------------------------------


@admin.register(Recommendation)
class RecommendationAdmin(HubScopedAdmin):
    hub_field = "booking__slot__hub"
    list_display = ["text", "link", "booking", "hub", "created_by", "created_at"]
    list_filter = [("booking__slot__hub", admin.RelatedOnlyFieldListFilter), "created_at"]
    search_fields = ["text", "link", "booking__organisation_name", "booking__slot__topic"]
    list_select_related = ["booking", "booking__slot", "booking__slot__hub", "created_by"]
    readonly_fields = ["booking", "text", "link", "created_by", "created_at"]
    fields = readonly_fields
    actions = [export_csv]

    def has_add_permission(self, request):
        return False  # recommended in the follow-up of a booking

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Hub", ordering="booking__slot__hub__name")
    def hub(self, obj):
        return obj.booking.slot.hub
