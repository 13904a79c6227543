"""The events back office for hub staff: events with their registrations, registrations with
attendance, and demo-day pitch slots.

Everything is scoped to the staff member's hubs (``HubScopedAdmin``; registrations and pitch
slots through their event's hub). Writes go through ``events.services``: adding or editing an
event runs ``event_create`` / ``event_update`` (the form asks ``event_validate`` first, so a
refusal lands on its field), publishing and cancelling are actions, attendance and
cancellations of registrations are actions, pitch slots are added with ``pitch_slot_add`` and
released with ``pitch_slot_release``. Registrations themselves are made by the people
registering (pages and API): here they are read-only.
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Case, Count, OuterRef, Q, Subquery, When
from django.urls import reverse
from django.utils.html import format_html

from gigafactory.admin import HUB_FILTER, HubScopedAdmin, export_csv, run_service_action
from gigafactory.forms import add_service_errors
from hubs import access

from . import services
from .models import Event, EventKind, EventStatus, PitchSlot, Registration, RegistrationStatus

EVENT_HUB_FILTER = ("event__hub", admin.RelatedOnlyFieldListFilter)
CONFIRMED_FIRST = Case(
    When(status=RegistrationStatus.CONFIRMED, then=0), When(status=RegistrationStatus.WAITLISTED, then=1), default=2
)


# --- Events ------------------------------------------------------------------------------------


class EventAdminForm(forms.ModelForm):
    link = forms.URLField(
        label="Link", required=False, max_length=200, assume_scheme="https", help_text="Streaming or video-call link"
    )

    class Meta:
        model = Event
        fields = ["hub", *services.EVENT_FIELDS]
        widgets = {"description": forms.Textarea(attrs={"rows": 4})}

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        values = {f: data.get(f) for f in services.EVENT_FIELDS if f in self.fields}
        try:
            services.event_validate(values=values, event=self.instance if self.instance.pk else None)
        except ValidationError as exc:
            add_service_errors(self, exc)
        return data


class RegistrationInline(admin.TabularInline):
    """Who registered, confirmed first; changes go through the actions of the registrations list."""

    model = Registration
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ["user", "role", "organisation_name", "status", "pitch_slot", "attended", "created_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("user", "event", "pitch_slot")  # each row's title names the person and event
            .order_by(CONFIRMED_FIRST, "created_at", "pk")
        )

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and access.is_any_hub_staff(request.user)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.action(description="Publish the selected drafts (announced to the network)")
def publish_events(modeladmin, request, queryset):
    run_service_action(modeladmin, request, queryset, services.event_publish, "published")


@admin.action(description="Cancel the selected events (everyone registered is told)")
def cancel_events(modeladmin, request, queryset):
    run_service_action(modeladmin, request, queryset, services.event_cancel, "cancelled")


@admin.register(Event)
class EventAdmin(HubScopedAdmin):
    form = EventAdminForm
    service_arg = "event"
    list_display = ["title", "hub", "kind", "starts_at", "mode", "capacity", "confirmed", "waiting", "status"]
    list_filter = ["status", "kind", "mode", HUB_FILTER, "starts_at"]
    search_fields = ["title", "description", "place"]
    list_select_related = ["hub"]
    date_hierarchy = "starts_at"
    readonly_fields = ["slug", "status", "published_at", "public_page", "created_by", "created_at", "updated_at"]
    inlines = [RegistrationInline]
    actions = [publish_events, cancel_events, export_csv]

    def get_fieldsets(self, request, obj=None):
        return [
            (None, {"fields": ["hub", "title", "kind", "description", "status"]}),
            ("When and where", {"fields": ["starts_at", "ends_at", "mode", "place", "link", "capacity"]}),
            ("Record", {"fields": ["slug", "public_page", "published_at", "created_by", "created_at", "updated_at"]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is None else [*self.readonly_fields, "hub"]  # an event stays at its hub

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.status == EventStatus.CANCELLED:
            return False  # a cancelled event is kept as it was
        return super().has_change_permission(request, obj)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("hub")
            .annotate(
                confirmed_count=Count("registrations", filter=Q(registrations__status=RegistrationStatus.CONFIRMED)),
                waiting_count=Count("registrations", filter=Q(registrations__status=RegistrationStatus.WAITLISTED)),
            )
        )

    @admin.display(description="Confirmed", ordering="confirmed_count")
    def confirmed(self, obj):
        return obj.confirmed_count

    @admin.display(description="Waiting", ordering="waiting_count")
    def waiting(self, obj):
        return obj.waiting_count

    @admin.display(description="Public page")
    def public_page(self, obj):
        if obj.pk is None:
            return "-"
        registrations = reverse("admin:events_registration_changelist") + f"?event__id__exact={obj.pk}"
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">registrations</a>',
            obj.get_absolute_url(),
            obj.slug,
            registrations,
        )

    def save_model(self, request, obj, form, change):
        if change:
            changes = {f: form.cleaned_data[f] for f in form.changed_data if f in services.EVENT_FIELDS}
            if changes:
                services.event_update(event=obj, acting_user=request.user, **changes)
        else:
            created = services.event_create(
                hub=obj.hub,
                acting_user=request.user,
                **{f: form.cleaned_data[f] for f in services.EVENT_FIELDS},
            )
            obj.pk = created.pk
        obj.refresh_from_db()


# --- Registrations -----------------------------------------------------------------------------


@admin.action(description="Mark the selected people as present")
def mark_present(modeladmin, request, queryset):
    run_service_action(modeladmin, request, queryset, services.attendance_mark, "marked present", attended=True)


@admin.action(description="Mark the selected people as absent")
def mark_absent(modeladmin, request, queryset):
    run_service_action(modeladmin, request, queryset, services.attendance_mark, "marked absent", attended=False)


@admin.action(description="Cancel the selected registrations (the next people waiting get the places)")
def cancel_registrations(modeladmin, request, queryset):
    run_service_action(modeladmin, request, queryset, services.registration_cancel, "cancelled")


@admin.register(Registration)
class RegistrationAdmin(HubScopedAdmin):
    hub_field = "event__hub"
    service_arg = "registration"
    list_display = [
        "person",
        "email",
        "event",
        "role",
        "organisation_name",
        "status",
        "pitch",
        "attended",
        "created_at",
    ]
    list_filter = ["status", "role", "attended", EVENT_HUB_FILTER, ("event", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["user__email", "user__name", "organisation_name", "event__title"]
    list_select_related = ["user", "event", "pitch_slot"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "event",
        "user",
        "role",
        "organisation_name",
        "note",
        "status",
        "pitch_slot",
        "promoted_at",
        "confirmation_sent_at",
        "cancelled_at",
        "attended",
        "attendance_marked_at",
        "attendance_marked_by",
        "created_at",
        "updated_at",
    ]
    fields = readonly_fields
    actions = [mark_present, mark_absent, cancel_registrations, export_csv]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "event", "pitch_slot", "attendance_marked_by")

    def has_add_permission(self, request):
        return False  # people register themselves (pages, API)

    def has_change_permission(self, request, obj=None):
        return False  # the actions change registrations, through the services

    @admin.display(description="Person", ordering="user__name")
    def person(self, obj):
        return obj.user.display_name

    @admin.display(description="E-mail", ordering="user__email")
    def email(self, obj):
        return obj.user.email

    @admin.display(description="Pitch", ordering="pitch_slot__starts_at")
    def pitch(self, obj):
        return obj.pitch_slot.starts_at if obj.pitch_slot else ""


# --- Pitch slots -------------------------------------------------------------------------------


class PitchSlotAdminForm(forms.ModelForm):
    class Meta:
        model = PitchSlot
        fields = ["event", "starts_at", "minutes"]

    def clean(self):
        data = super().clean()
        if self.errors or self.instance.pk:
            return data
        try:
            services.pitch_slot_validate(event=data["event"], starts_at=data["starts_at"], minutes=data["minutes"])
        except ValidationError as exc:
            add_service_errors(self, exc)
        return data


@admin.action(description="Release the selected pitch slots (the startups can choose another)")
def release_pitch_slots(modeladmin, request, queryset):
    run_service_action(modeladmin, request, queryset, services.pitch_slot_release, "released")


@admin.register(PitchSlot)
class PitchSlotAdmin(HubScopedAdmin):
    form = PitchSlotAdminForm
    hub_field = "event__hub"
    service_arg = "pitch_slot"
    list_display = ["starts_at", "minutes", "event", "holder"]
    list_filter = [EVENT_HUB_FILTER, ("event", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["event__title", "registrations__organisation_name"]
    list_select_related = ["event"]
    actions = [release_pitch_slots, export_csv]

    def get_queryset(self, request):
        holder = Registration.objects.filter(pitch_slot=OuterRef("pk")).values("organisation_name")[:1]
        return super().get_queryset(request).select_related("event").annotate(holder_name=Subquery(holder))

    def get_readonly_fields(self, request, obj=None):
        return ["event", "starts_at", "minutes", "holder"] if obj is not None else []

    def has_change_permission(self, request, obj=None):
        return False  # a slot's time does not move under the startup holding it

    @admin.display(description="Held by", ordering="holder_name")
    def holder(self, obj):
        return getattr(obj, "holder_name", None) or "-"

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "event":
            kwargs["queryset"] = access.scope_to_staff_hubs(
                Event.objects.filter(kind=EventKind.DEMO_DAY)
                .exclude(status=EventStatus.CANCELLED)
                .select_related("hub"),
                request.user,
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        created = services.pitch_slot_add(
            event=obj.event, starts_at=obj.starts_at, minutes=obj.minutes, acting_user=request.user
        )
        obj.pk = created.pk
