from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied, ValidationError

from gigafactory.admin import HUB_FILTER, HubScopedAdmin, export_csv, run_service_action

from . import access, services
from .models import (
    ApiKey,
    Hub,
    Invitation,
    Membership,
    Notification,
    Organisation,
    PartnerSystem,
    Profile,
    Sector,
    User,
)


class HubAdminForm(forms.ModelForm):
    focus_sectors = forms.MultipleChoiceField(
        choices=Sector.choices, required=False, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = Hub
        fields = ["name", "slug", "city", "country", "description", "focus_sectors", "contact_email", "public"]


@admin.register(Hub)
class HubAdmin(HubScopedAdmin):
    form = HubAdminForm
    hub_field = "pk"
    list_display = ["name", "city", "country", "contact_email", "public"]
    list_filter = ["country", "public"]
    search_fields = ["name", "city", "description"]
    prepopulated_fields = {"slug": ["name"]}

    def has_add_permission(self, request):
        return request.user.is_superuser


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "country", "website"]
    list_filter = ["kind", "country"]
    search_fields = ["name"]
    actions = [export_csv]

    def has_module_permission(self, request):
        return access.is_any_hub_staff(request.user)

    def has_view_permission(self, request, obj=None):
        return access.is_any_hub_staff(request.user)

    def has_change_permission(self, request, obj=None):
        return access.is_any_hub_staff(request.user)

    def has_add_permission(self, request):
        return access.is_any_hub_staff(request.user)

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


def _membership_action(service, verb, description):
    @admin.action(description=description)
    def action(modeladmin, request, queryset):
        run_service_action(modeladmin, request, queryset.select_related("user", "hub"), service, verb)

    action.__name__ = f"{verb}_selected"
    return action


@admin.register(Membership)
class MembershipAdmin(HubScopedAdmin):
    service_arg = "membership"
    list_display = ["user", "hub", "role", "status", "created_at", "decided_by"]
    list_filter = ["status", "role", HUB_FILTER]
    search_fields = ["user__email", "user__name", "hub__name", "motivation"]
    list_select_related = ["user", "hub", "decided_by"]
    readonly_fields = ["user", "hub", "status", "role", "motivation", "decided_by", "decided_at", "created_at"]
    readonly_fields = [*readonly_fields, "decision_note"]
    fields = readonly_fields
    actions = [
        _membership_action(services.membership_approve, "approved", "Approve selected requests"),
        _membership_action(services.membership_reject, "rejected", "Reject selected requests"),
        _membership_action(services.membership_suspend, "suspended", "Suspend selected members"),
        _membership_action(services.membership_reinstate, "reinstated", "Reinstate selected members"),
        export_csv,
    ]

    def has_add_permission(self, request):
        return False


class InvitationAdminForm(forms.ModelForm):
    acting_user = None  # set by InvitationAdmin.get_form

    class Meta:
        model = Invitation
        fields = ["hub", "email", "role", "message"]

    def clean(self):
        data = super().clean()
        if self.instance.pk is None and all(data.get(f) for f in ("hub", "email", "role")):
            try:
                services.invitation_check(
                    hub=data["hub"], email=data["email"], role=data["role"], acting_user=self.acting_user
                )
            except PermissionDenied as exc:
                self.add_error("role", str(exc))
            except ValidationError as exc:
                self.add_error(None, exc)
        return data


@admin.register(Invitation)
class InvitationAdmin(HubScopedAdmin):
    form = InvitationAdminForm
    list_display = ["email", "hub", "role", "invited_by", "created_at", "expires_at", "accepted_at", "revoked_at"]
    list_filter = [HUB_FILTER, "role"]
    search_fields = ["email"]
    list_select_related = ["hub", "invited_by"]

    def get_readonly_fields(self, request, obj=None):
        return ["hub", "email", "role", "message"] if obj else []

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.acting_user = request.user
        return form

    def save_model(self, request, obj, form, change):
        if change:
            return
        invitation = services.invitation_create(
            hub=obj.hub, email=obj.email, role=obj.role, message=obj.message, acting_user=request.user
        )
        obj.pk = invitation.pk


@admin.register(PartnerSystem)
class PartnerSystemAdmin(HubScopedAdmin):
    list_display = ["name", "hub", "kind", "contact_email", "active", "created_at"]
    list_filter = [HUB_FILTER, "kind", "active"]
    search_fields = ["name", "contact_email"]
    list_select_related = ["hub"]

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        partner = services.partner_system_create(
            hub=obj.hub,
            name=obj.name,
            kind=obj.kind,
            contact_email=obj.contact_email,
            active=obj.active,
            acting_user=request.user,
        )
        obj.pk = partner.pk


class ApiKeyAdminForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ["name", "partner", "scope"]
        help_texts = {"partner": "Keys made here belong to a partner system; people make personal keys themselves."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "partner" in self.fields:
            self.fields["partner"].required = True


@admin.action(description="Revoke selected keys")
def revoke_keys(modeladmin, request, queryset):
    run_service_action(modeladmin, request, queryset.select_related("hub"), services.api_key_revoke, "revoked")


@admin.register(ApiKey)
class ApiKeyAdmin(HubScopedAdmin):
    """Staff create partner keys here; the plaintext appears once in a message."""

    service_arg = "key"
    form = ApiKeyAdminForm
    list_display = ["name", "lookup", "hub", "partner", "user", "scope", "created_at", "last_used_at", "revoked_at"]
    list_filter = [HUB_FILTER, "scope"]
    search_fields = ["name", "lookup", "partner__name", "user__email"]
    list_select_related = ["hub", "partner", "user"]
    actions = [revoke_keys, export_csv]

    def get_readonly_fields(self, request, obj=None):
        if obj:
            return ["name", "partner", "user", "hub", "scope", "lookup", "created_at", "last_used_at", "revoked_at"]
        return []

    def get_fields(self, request, obj=None):
        return self.get_readonly_fields(request, obj) if obj else ["name", "partner", "scope"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "partner" and not request.user.is_superuser:
            kwargs["queryset"] = PartnerSystem.objects.filter(hub__in=access.staff_hub_ids(request.user))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if change:
            return
        if obj.partner is None:
            raise PermissionDenied("Choose the partner system this key is for.")
        key, plaintext = services.api_key_create(
            name=obj.name, hub=obj.partner.hub, scope=obj.scope, partner=obj.partner, acting_user=request.user
        )
        obj.pk, obj.lookup, obj.hub = key.pk, key.lookup, key.hub
        messages.warning(
            request,
            f"Key for {obj.partner}: {plaintext} — copy it now, it is shown only once and stored only as a hash.",
        )


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False
    autocomplete_fields = ["organisation"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "name", "is_active", "is_staff", "is_superuser", "date_joined"]
    search_fields = ["email", "name"]
    inlines = [ProfileInline]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Person", {"fields": ("name",)}),
        ("Access", {"fields": ("is_active", "is_staff", "is_superuser")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["title", "user", "kind", "created_at", "read_at", "emailed_at"]
    list_filter = ["kind"]
    search_fields = ["title", "user__email"]
    list_select_related = ["user"]

    def has_module_permission(self, request):
        return request.user.is_superuser
