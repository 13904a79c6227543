"""API plumbing shared by every app: key authentication, scopes, throttling, pagination, errors."""

import datetime as dt
import hmac
import logging
from datetime import timedelta

import django_filters
from django import forms
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import DjangoFilterBackend
from redis.exceptions import RedisError
from rest_framework import exceptions, pagination, permissions, serializers, throttling

logger = logging.getLogger(__name__)

LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiKeyAuthentication:
    """``Authorization: Bearer gf_<lookup>_<secret>``.

    A personal key authenticates as its user; a partner key as an anonymous user with
    ``request.auth`` set to the key, so views scope by ``request.auth.partner``.
    """

    keyword = "Bearer"

    def authenticate(self, request):
        from hubs.models import ApiKey

        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header.startswith(self.keyword + " "):
            return None
        raw = header[len(self.keyword) + 1 :].strip()
        parts = raw.split("_", 2)
        if len(parts) != 3 or f"{parts[0]}_" != ApiKey.PREFIX:
            raise exceptions.AuthenticationFailed("Malformed API key.")
        key = ApiKey.objects.select_related("user", "partner", "hub").filter(lookup=parts[1]).first()
        if key is None or not hmac.compare_digest(key.secret_hash, ApiKey.hash_secret(parts[2])):
            raise exceptions.AuthenticationFailed("Unknown API key.")
        if key.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This API key has been revoked.")
        if key.partner is not None and not key.partner.active:
            raise exceptions.AuthenticationFailed("This partner system is disabled.")
        if key.user is not None and not key.user.is_active:
            raise exceptions.AuthenticationFailed("The owner of this key is not active.")
        now = timezone.now()
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
            key.last_used_at = now
        return (key.user or AnonymousUser(), key)

    def authenticate_header(self, request):
        return self.keyword


def api_key_of(request):
    from hubs.models import ApiKey

    return request.auth if isinstance(request.auth, ApiKey) else None


class ApiKeyScopePermission(permissions.BasePermission):
    """Default: reads are open to whoever the view lets in; writes need a write-scoped key
    (or a browser session with its CSRF check)."""

    message = "This API key is read-only; create a key with the write scope."

    def has_permission(self, request, view):
        key = api_key_of(request)
        if key is None or request.method in permissions.SAFE_METHODS:
            return True
        return key.can_write


class IsSignedInUser(permissions.BasePermission):
    """A person: a browser session or a personal key, not a partner system."""

    message = "This operation is for signed-in users (session or personal API key)."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated)


class IsStaffWithMfa(permissions.BasePermission):
    """Hub staff who have turned on MFA (personal keys count: the owner must have MFA)."""

    message = "Hub staff must turn on two-factor authentication before using staff operations."

    def has_permission(self, request, view):
        from allauth.mfa.utils import is_mfa_enabled

        from hubs import access

        user = request.user
        if not user.is_authenticated or not access.is_any_hub_staff(user):
            self.message = "Only hub staff can do this."
            return False
        return is_mfa_enabled(user)


class ApiKeyRateThrottle(throttling.SimpleRateThrottle):
    """One bucket per key; sessions per user; anonymous callers per address.

    The buckets live in the cache (Redis). If it is away, requests are let through rather than
    all answered 500: the portal stays up without rate limits until Redis is back.
    """

    scope = "api_key"

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except (RedisError, OSError) as exc:
            logger.warning("API rate limit not applied, the cache is unreachable: %s", exc)
            return True

    def get_cache_key(self, request, view):
        key = api_key_of(request)
        if key is not None:
            ident = f"key-{key.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"ip-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class PageNumberPagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request):
        """``page_size``: a whole number from 1 (larger than ``max_page_size`` counts as the maximum)."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw in (None, ""):
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if size < 1:
            raise exceptions.ValidationError({self.page_size_query_param: ["Must be a whole number of at least 1."]})
        return min(size, self.max_page_size)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                parameter["description"] = (
                    f"Results per page (default {self.page_size}; more than {self.max_page_size} count as "
                    f"{self.max_page_size})."
                )
        return parameters


class StrictBooleanField(forms.NullBooleanField):
    """``true`` or ``false`` (also ``1``/``0``, any case); anything else is an error, not "no filter"."""

    widget = forms.TextInput
    VALUES = {"true": True, "1": True, "false": False, "0": False}

    def to_python(self, value):
        if value in (None, ""):
            return None
        if isinstance(value, bool):
            return value
        try:
            return self.VALUES[str(value).strip().lower()]
        except KeyError:
            raise forms.ValidationError("Must be true or false.", code="invalid") from None

    def validate(self, value):
        pass


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time, moved to UTC: Python accepts offsets PostgreSQL refuses (``-16:17``)."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(dt.UTC)
        except OverflowError:
            raise forms.ValidationError("This date-time is out of range.", code="overflow") from None


class IdNumberField(forms.DecimalField):
    """A number filter (all of the API's are ids) held to the database's integer range: SQLite
    cannot even bind a larger one (``?resource=9.3e18`` was a 500 there)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_value", 2**63 - 1)
        kwargs.setdefault("min_value", -(2**63))
        super().__init__(**kwargs)


# Filter type -> (form field, widget): stricter readings of what django-filter lets through.
STRICT_FILTER_FIELDS = (
    (django_filters.BooleanFilter, StrictBooleanField, forms.TextInput),
    (django_filters.IsoDateTimeFilter, UtcIsoDateTimeField, None),
    (django_filters.NumberFilter, IdNumberField, None),
)


class FilterBackend(DjangoFilterBackend):
    """django-filter, read strictly.

    A boolean filter refuses a value it does not understand: django-filter reads
    ``?mine=yes-please`` as "not given" and returns the unfiltered list, which a client cannot
    tell from a real answer; here it is a 400 naming the parameter, like every other filter
    with a bad value. Date-times are compared in UTC, so that no offset reaches the database.
    A parameter given twice (``?status=done&status=failed``) is refused: Django would quietly
    use the last one.
    """

    def filter_queryset(self, request, queryset, view):
        repeated = sorted(name for name, values in request.query_params.lists() if len(values) > 1)
        if repeated:
            raise exceptions.ValidationError({name: ["Give this parameter once."] for name in repeated})
        return super().filter_queryset(request, queryset, view)

    def get_filterset(self, request, queryset, view):
        filterset = super().get_filterset(request, queryset, view)
        for flt in getattr(filterset, "filters", {}).values():
            for filter_class, field_class, widget in STRICT_FILTER_FIELDS:
                if isinstance(flt, filter_class):
                    flt.field_class = field_class
                    if widget is not None:
                        flt.extra["widget"] = widget
                    flt.__dict__.pop("_field", None)  # built before (e.g. by the schema): build it again
        return filterset


class SlugRelatedField(serializers.SlugRelatedField):
    """DRF's, refusing a NUL character: PostgreSQL cannot compare text holding one (a 500 otherwise)."""

    def to_internal_value(self, data):
        if isinstance(data, str) and "\x00" in data:
            self.fail("does_not_exist", slug_name=self.slug_field, value=data.replace("\x00", "\\x00"))
        return super().to_internal_value(data)


def refuse_numbers_as_text() -> None:
    """Make DRF's ``CharField`` (and its subclasses: e-mail, slug, URL, ...) refuse a JSON number.

    DRF turns ``12`` into ``"12"``; the schema says the field is a string, and a client that
    sends a number where text belongs has made a mistake it should hear about (``"Not a valid
    string."`` on the field), not find later as the title of its project. Form data is always
    text, so only JSON clients are concerned. Called once, from ``GigafactoryConfig.ready``.
    """
    lenient = serializers.CharField.to_internal_value
    if getattr(lenient, "refuses_numbers", False):
        return

    def to_internal_value(self, data):
        if isinstance(data, int | float):  # bool is an int: DRF refuses it already
            self.fail("invalid")
        return lenient(self, data)

    to_internal_value.refuses_numbers = True
    serializers.CharField.to_internal_value = to_internal_value
