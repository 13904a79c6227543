"""API v1 for events: demo days, training programmes and workshops.

- ``GET /events/`` and ``GET /events/{slug}/`` are public (published and cancelled events of the
  hubs the caller may see); hub staff also see their hubs' drafts. Staff create, edit, publish
  and cancel events, list an event's registrations and mark attendance; these are staff
  operations (two-factor authentication required).
- Signed-in people (a session or a personal key) register (a place, or the waiting list when
  the event is full: 201 either way, with the status), list and cancel their registrations; a
  cancelled place goes to the next person on the waiting list.
- Demo days have pitch slots: public list; a startup with a confirmed place claims one (one
  holder: 409 when taken) and releases it.

Objects come from ``events.access``; every write calls the same service as the pages and the
admin. A refused transition answers 409; bad input 400 with a message per field. Online links
are shown to the people with a confirmed place and to the hub's staff.
"""

from datetime import timedelta

import django_filters
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import exceptions, generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from compute.api import HubRefSerializer
from gigafactory.api import ApiKeyScopePermission, IsSignedInUser, IsStaffWithMfa, api_key_of
from hubs.models import Hub

from . import access, selectors, services
from .models import (
    Event,
    EventKind,
    EventMode,
    EventStatus,
    PitchSlot,
    Registration,
    RegistrationRole,
    RegistrationStatus,
)

ERROR_400 = OpenApiResponse(description="Invalid input: a message per field")
ERROR_403 = OpenApiResponse(
    description="Not allowed: not staff of this hub, no two-factor authentication, a read-only key "
    "or a key for another hub"
)
ERROR_404 = OpenApiResponse(description="No such object, or not one you may see (e.g. another hub's draft)")
ERROR_409 = OpenApiResponse(
    description="Not possible in the current state (e.g. the event is cancelled, you are registered already, "
    "the pitch slot is taken)"
)


class EventKindField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=EventKind.choices, **kwargs)


class EventModeField(serializers.ChoiceField):
    """``on_site`` needs ``place``, ``online`` needs ``link``, ``hybrid`` both."""

    def __init__(self, **kwargs):
        super().__init__(choices=EventMode.choices, **kwargs)


class EventStatusField(serializers.ChoiceField):
    """``draft`` (seen by the hub's staff only), ``published`` or ``cancelled``."""

    def __init__(self, **kwargs):
        super().__init__(choices=EventStatus.choices, **kwargs)


class RegistrationRoleField(serializers.ChoiceField):
    """``attendee``; on demo days also ``investor`` or ``startup`` (pitching)."""

    def __init__(self, **kwargs):
        super().__init__(choices=RegistrationRole.choices, **kwargs)


class RegistrationStatusField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=RegistrationStatus.choices, **kwargs)


def _absolute(request, path):
    return request.build_absolute_uri(path) if request is not None else path


def _check_key_hub(request, hub):
    key = api_key_of(request)
    if key is not None and key.hub_id != hub.pk:
        raise exceptions.PermissionDenied(f"This API key is for another hub, not {hub}.")


# --- Serializers -------------------------------------------------------------------------------


class EventSerializer(serializers.ModelSerializer):
    hub = HubRefSerializer(read_only=True)
    kind = EventKindField(read_only=True)
    mode = EventModeField(read_only=True)
    status = EventStatusField(read_only=True)
    link = serializers.SerializerMethodField(help_text="Streaming link: shown to the hub's staff (and registrants)")
    confirmed_count = serializers.IntegerField(read_only=True, help_text="Confirmed places")
    waiting_count = serializers.IntegerField(read_only=True, help_text="People on the waiting list")
    places_left = serializers.SerializerMethodField()
    web_url = serializers.SerializerMethodField()
    calendar_url = serializers.SerializerMethodField(help_text="The event's iCalendar file")

    class Meta:
        model = Event
        fields = [
            "slug",
            "hub",
            "title",
            "kind",
            "description",
            "starts_at",
            "ends_at",
            "mode",
            "place",
            "link",
            "capacity",
            "confirmed_count",
            "waiting_count",
            "places_left",
            "status",
            "published_at",
            "web_url",
            "calendar_url",
        ]
        read_only_fields = fields

    def get_link(self, obj) -> str:
        request = self.context.get("request")
        if request is not None and access.can_manage_event(request.user, obj, api_key_of(request)):
            return obj.link
        return ""

    def get_places_left(self, obj) -> int:
        return max(0, obj.capacity - obj.confirmed_count)

    def get_web_url(self, obj) -> str:
        return _absolute(self.context.get("request"), obj.get_absolute_url())

    def get_calendar_url(self, obj) -> str:
        return _absolute(self.context.get("request"), reverse("events:event_ics", args=[obj.slug]))


class EventWriteSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    kind = EventKindField()
    description = serializers.CharField(required=False, allow_blank=True, default="")
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    mode = EventModeField(default=EventMode.ON_SITE)
    place = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    link = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    capacity = serializers.IntegerField(
        min_value=1, max_value=services.MAX_CAPACITY, help_text="Further registrations join the waiting list"
    )


class EventCreateSerializer(EventWriteSerializer):
    hub = serializers.SlugField(help_text="The hub's slug, e.g. `lyon`")


class EventUpdateSerializer(EventWriteSerializer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False
            field.default = serializers.empty


class EventCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=500, help_text="Sent to everyone registered"
    )


class EventRefSerializer(serializers.Serializer):
    slug = serializers.SlugField(read_only=True)
    title = serializers.CharField(read_only=True)
    hub = HubRefSerializer(read_only=True)
    kind = EventKindField(read_only=True)
    starts_at = serializers.DateTimeField(read_only=True)
    ends_at = serializers.DateTimeField(read_only=True)
    status = EventStatusField(read_only=True)


class PitchSlotRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    starts_at = serializers.DateTimeField(read_only=True)
    minutes = serializers.IntegerField(read_only=True)


class RegistrantSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(source="display_name", read_only=True)
    email = serializers.EmailField(read_only=True)


class RegistrationSerializer(serializers.ModelSerializer):
    event = EventRefSerializer(read_only=True)
    person = RegistrantSerializer(source="user", read_only=True)
    role = RegistrationRoleField(read_only=True)
    status = RegistrationStatusField(read_only=True)
    waiting_position = serializers.SerializerMethodField(help_text="1 for the next person to get a place")
    pitch_slot = PitchSlotRefSerializer(read_only=True, allow_null=True)
    online_link = serializers.SerializerMethodField(help_text="The streaming link, once your place is confirmed")
    calendar_url = serializers.SerializerMethodField(help_text="The event's iCalendar file")

    class Meta:
        model = Registration
        fields = [
            "id",
            "event",
            "person",
            "role",
            "organisation_name",
            "note",
            "status",
            "waiting_position",
            "pitch_slot",
            "promoted_at",
            "cancelled_at",
            "attended",
            "online_link",
            "created_at",
            "calendar_url",
        ]
        read_only_fields = fields

    def get_waiting_position(self, obj) -> int | None:
        return obj.ahead + 1 if obj.status == RegistrationStatus.WAITLISTED else None

    def get_online_link(self, obj) -> str:
        event = obj.event
        confirmed = obj.status == RegistrationStatus.CONFIRMED and event.status == EventStatus.PUBLISHED
        return event.link if confirmed and event.mode != EventMode.ON_SITE else ""

    def get_calendar_url(self, obj) -> str:
        return _absolute(self.context.get("request"), reverse("events:event_ics", args=[obj.event.slug]))


class RegistrationCreateSerializer(serializers.Serializer):
    role = RegistrationRoleField(default=RegistrationRole.ATTENDEE)
    organisation_name = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=200, help_text="Required for startups"
    )
    note = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Investors: your focus; startups: your pitch"
    )


class AttendanceSerializer(serializers.Serializer):
    attended = serializers.BooleanField(help_text="`true`: the person came")


class PitchSlotSerializer(serializers.ModelSerializer):
    ends_at = serializers.SerializerMethodField()
    taken = serializers.SerializerMethodField()
    holder = serializers.SerializerMethodField(help_text="The pitching startup's name, when taken")
    yours = serializers.SerializerMethodField(help_text="`true` when your registration holds it")

    class Meta:
        model = PitchSlot
        fields = ["id", "starts_at", "minutes", "ends_at", "taken", "holder", "yours"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_ends_at(self, obj):
        return serializers.DateTimeField().to_representation(obj.starts_at + timedelta(minutes=obj.minutes))

    def get_taken(self, obj) -> bool:
        return obj.holder_id is not None

    def get_holder(self, obj) -> str | None:
        return obj.holder_name if obj.holder_id is not None else None

    def get_yours(self, obj) -> bool:
        request = self.context.get("request")
        return bool(request is not None and obj.holder_id and obj.holder_user_id == request.user.pk)


class PitchSlotCreateSerializer(serializers.Serializer):
    starts_at = serializers.DateTimeField(help_text="Within the demo day's time")
    minutes = serializers.IntegerField(default=10, min_value=1, max_value=120)


class PitchClaimSerializer(serializers.Serializer):
    registration = serializers.IntegerField(
        required=False,
        help_text="The startup registration that pitches; default: yours for this event (staff may name another)",
    )


EVENT_EXAMPLE = {
    "slug": "lyon-demo-day-2026-12-03",
    "hub": {"slug": "lyon", "name": "Lyon AI Gigafactory"},
    "title": "Lyon demo day",
    "kind": "demo_day",
    "description": "Ten startups pitch to investors.",
    "starts_at": "2026-12-03T13:00:00Z",
    "ends_at": "2026-12-03T18:00:00Z",
    "mode": "on_site",
    "place": "Auditorium, 1 Rue de la République, Lyon",
    "link": "",
    "capacity": 120,
    "confirmed_count": 87,
    "waiting_count": 0,
    "places_left": 33,
    "status": "published",
    "published_at": "2026-10-01T09:00:00Z",
    "web_url": "https://portal.example/events/lyon-demo-day-2026-12-03/",
    "calendar_url": "https://portal.example/events/lyon-demo-day-2026-12-03/event.ics",
}

REGISTRATION_EXAMPLE = {
    "id": 314,
    "event": {
        "slug": "lyon-demo-day-2026-12-03",
        "title": "Lyon demo day",
        "hub": {"slug": "lyon", "name": "Lyon AI Gigafactory"},
        "kind": "demo_day",
        "starts_at": "2026-12-03T13:00:00Z",
        "ends_at": "2026-12-03T18:00:00Z",
        "status": "published",
    },
    "person": {"id": 42, "name": "Ingrid Investor", "email": "ingrid@fund.example"},
    "role": "investor",
    "organisation_name": "Nordic Seed Fund",
    "note": "Climate and energy, seed to series A.",
    "status": "waitlisted",
    "waiting_position": 3,
    "pitch_slot": None,
    "promoted_at": None,
    "cancelled_at": None,
    "attended": None,
    "online_link": "",
    "created_at": "2026-11-02T10:15:00Z",
    "calendar_url": "https://portal.example/events/lyon-demo-day-2026-12-03/event.ics",
}


def _event_response(request, slug, code=status.HTTP_200_OK):
    event = selectors.events_for_api(user=request.user, api_key=api_key_of(request)).filter(slug=slug).first()
    if event is None:
        raise exceptions.NotFound("No such event.")
    return Response(EventSerializer(event, context={"request": request}).data, status=code)


def _registrations():
    return selectors.with_position(Registration.objects.select_related("event", "event__hub", "user", "pitch_slot"))


def _registration_response(request, pk, code=status.HTTP_200_OK):
    visible = access.registrations_visible_to(request.user, api_key_of(request)).values("pk")
    registration = _registrations().filter(pk__in=visible, pk=pk).first()
    if registration is None:
        raise exceptions.NotFound("No such registration.")
    return Response(RegistrationSerializer(registration, context={"request": request}).data, status=code)


# --- Events ------------------------------------------------------------------------------------


class EventFilter(django_filters.FilterSet):
    hub = django_filters.CharFilter(field_name="hub__slug", help_text="Hub slug, e.g. `lyon`")
    kind = django_filters.ChoiceFilter(choices=EventKind.choices)
    status = django_filters.ChoiceFilter(choices=EventStatus.choices)
    starts_after = django_filters.IsoDateTimeFilter(
        field_name="starts_at", lookup_expr="gte", help_text="Events starting at or after this time"
    )
    starts_before = django_filters.IsoDateTimeFilter(
        field_name="starts_at", lookup_expr="lt", help_text="Events starting before this time"
    )
    upcoming = django_filters.BooleanFilter(method="filter_upcoming", help_text="`true`: not over yet; `false`: over")

    class Meta:
        model = Event
        fields = ["hub", "kind", "status", "starts_after", "starts_before", "upcoming"]

    def filter_upcoming(self, queryset, name, value):
        now = timezone.now()
        return queryset.filter(ends_at__gt=now) if value else queryset.filter(ends_at__lte=now)


class EventListView(generics.ListAPIView):
    """Events, soonest first (public); staff also see their hubs' drafts."""

    serializer_class = EventSerializer
    filterset_class = EventFilter
    search_fields = ["title", "description"]
    ordering_fields = ["starts_at", "published_at"]
    queryset = Event.objects.none()

    def get_permissions(self):
        if self.request.method == "POST":
            return [ApiKeyScopePermission(), IsStaffWithMfa()]
        return [ApiKeyScopePermission()]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Event.objects.none()
        return selectors.events_for_api(user=self.request.user, api_key=api_key_of(self.request))

    @extend_schema(
        tags=["events"],
        summary="Events of the network (public)",
        description="Published and cancelled events of the hubs you may see, soonest first; a key narrows to "
        "its hub. Filter by `hub`, `kind`, `status`, a date range (`starts_after`, `starts_before`) or "
        "`upcoming`; `search` looks in the title and description.",
        examples=[OpenApiExample("A demo day", value=EVENT_EXAMPLE, response_only=True)],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["events"],
        summary="Create a draft event (hub staff, two-factor authentication)",
        description="The event starts as `draft`; nobody else sees it until it is published. It must start in "
        "the future; an on-site event needs `place`, an online one `link`, a hybrid one both.",
        request=EventCreateSerializer,
        responses={201: EventSerializer, 400: ERROR_400, 403: ERROR_403},
        examples=[
            OpenApiExample(
                "A training programme",
                value={
                    "hub": "lyon",
                    "title": "GPU programming for beginners",
                    "kind": "training",
                    "description": "Four afternoons: CUDA basics to multi-GPU training.",
                    "starts_at": "2026-12-07T13:00:00Z",
                    "ends_at": "2026-12-07T17:00:00Z",
                    "mode": "hybrid",
                    "place": "Training room, Lyon AI Gigafactory",
                    "link": "https://meet.example/gpu-101",
                    "capacity": 24,
                },
                request_only=True,
            )
        ],
    )
    def post(self, request):
        data = EventCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        hub = Hub.objects.filter(slug=values.pop("hub")).first()
        if hub is None:
            raise exceptions.ValidationError({"hub": ["No such hub."]})
        _check_key_hub(request, hub)
        event = services.event_create(hub=hub, acting_user=request.user, **values)
        return _event_response(request, event.slug, status.HTTP_201_CREATED)


class EventDetailView(APIView):
    def get_permissions(self):
        if self.request.method == "PATCH":
            return [ApiKeyScopePermission(), IsStaffWithMfa()]
        return [ApiKeyScopePermission()]

    @extend_schema(
        tags=["events"],
        summary="One event",
        responses={200: EventSerializer, 404: ERROR_404},
        examples=[OpenApiExample("A demo day", value=EVENT_EXAMPLE, response_only=True)],
    )
    def get(self, request, slug):
        return _event_response(request, slug)

    @extend_schema(
        tags=["events"],
        summary="Change an event (staff of its hub, two-factor authentication)",
        description="Raising `capacity` gives places to the waiting list in order; it cannot go below the "
        "confirmed places. A cancelled event cannot be changed (409).",
        request=EventUpdateSerializer,
        responses={200: EventSerializer, 400: ERROR_400, 403: ERROR_403, 404: ERROR_404, 409: ERROR_409},
    )
    def patch(self, request, slug):
        event = access.event_for_staff(request.user, slug, api_key=api_key_of(request))
        data = EventUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.event_update(event=event, acting_user=request.user, **data.validated_data)
        return _event_response(request, slug)


class EventPublishView(APIView):
    permission_classes = [ApiKeyScopePermission, IsStaffWithMfa]

    @extend_schema(
        tags=["events"],
        summary="Publish a draft event (staff of its hub); it is announced to the network",
        request=None,
        responses={200: EventSerializer, 403: ERROR_403, 404: ERROR_404, 409: ERROR_409},
    )
    def post(self, request, slug):
        event = access.event_for_staff(request.user, slug, api_key=api_key_of(request))
        services.event_publish(event=event, acting_user=request.user)
        return _event_response(request, slug)


class EventCancelView(APIView):
    permission_classes = [ApiKeyScopePermission, IsStaffWithMfa]

    @extend_schema(
        tags=["events"],
        summary="Cancel an event (staff of its hub); everyone registered or waiting is told",
        request=EventCancelSerializer,
        responses={200: EventSerializer, 403: ERROR_403, 404: ERROR_404, 409: ERROR_409},
    )
    def post(self, request, slug):
        event = access.event_for_staff(request.user, slug, api_key=api_key_of(request))
        data = EventCancelSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.event_cancel(event=event, acting_user=request.user, reason=data.validated_data["reason"])
        return _event_response(request, slug)


# --- Registrations -----------------------------------------------------------------------------


class EventRegisterView(APIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUser]

    @extend_schema(
        tags=["events"],
        summary="Register for an event: a place, or the waiting list when it is full",
        description="Answers 201 with `status` `confirmed` or `waitlisted` (and `waiting_position`). On demo "
        "days investors register as `investor` and pitching startups as `startup` (with "
        "`organisation_name`). A confirmation is e-mailed, with the calendar file for a confirmed place. "
        "Registering twice, or for a cancelled event, answers 409.",
        request=RegistrationCreateSerializer,
        responses={201: RegistrationSerializer, 400: ERROR_400, 403: ERROR_403, 404: ERROR_404, 409: ERROR_409},
        examples=[
            OpenApiExample(
                "An investor",
                value={"role": "investor", "organisation_name": "Nordic Seed Fund", "note": "Climate, seed"},
                request_only=True,
            ),
            OpenApiExample("On the waiting list", value=REGISTRATION_EXAMPLE, response_only=True, status_codes=["201"]),
        ],
    )
    def post(self, request, slug):
        event = access.event_for_visitor(request.user, slug)
        _check_key_hub(request, event.hub)
        data = RegistrationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        registration = services.registration_create(event=event, acting_user=request.user, **data.validated_data)
        return _registration_response(request, registration.pk, status.HTTP_201_CREATED)


class RegistrationFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=RegistrationStatus.choices)
    role = django_filters.ChoiceFilter(choices=RegistrationRole.choices)

    class Meta:
        model = Registration
        fields = ["status", "role"]


class MyRegistrationFilter(RegistrationFilter):
    upcoming = django_filters.BooleanFilter(
        method="filter_upcoming", help_text="`true`: events not over yet; `false`: past events"
    )

    class Meta(RegistrationFilter.Meta):
        fields = [*RegistrationFilter.Meta.fields, "upcoming"]

    def filter_upcoming(self, queryset, name, value):
        now = timezone.now()
        return queryset.filter(event__ends_at__gt=now) if value else queryset.filter(event__ends_at__lte=now)


class MyRegistrationListView(generics.ListAPIView):
    """Your registrations, latest event first."""

    permission_classes = [ApiKeyScopePermission, IsSignedInUser]
    serializer_class = RegistrationSerializer
    filterset_class = MyRegistrationFilter
    queryset = Registration.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Registration.objects.none()
        qs = selectors.registrations_of(self.request.user).select_related("user")
        key = api_key_of(self.request)
        return qs.filter(event__hub_id=key.hub_id) if key is not None else qs

    @extend_schema(
        tags=["events"],
        summary="Your event registrations",
        examples=[OpenApiExample("On the waiting list", value=REGISTRATION_EXAMPLE, response_only=True)],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class RegistrationDetailView(APIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUser]

    @extend_schema(
        tags=["events"],
        summary="One registration (yours, or of your hub's event)",
        responses={200: RegistrationSerializer, 404: ERROR_404},
    )
    def get(self, request, pk):
        return _registration_response(request, pk)


class RegistrationCancelView(APIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUser]

    @extend_schema(
        tags=["events"],
        summary="Cancel a registration (the person, or hub staff); the next person waiting gets the place",
        request=None,
        responses={200: RegistrationSerializer, 403: ERROR_403, 404: ERROR_404, 409: ERROR_409},
    )
    def post(self, request, pk):
        registration = access.registration_for(request.user, pk, api_key=api_key_of(request))
        services.registration_cancel(registration=registration, acting_user=request.user)
        return _registration_response(request, pk)


class EventRegistrationListView(generics.ListAPIView):
    """An event's registrations (staff of its hub): confirmed first, then the waiting list in order."""

    permission_classes = [ApiKeyScopePermission, IsStaffWithMfa]
    serializer_class = RegistrationSerializer
    filterset_class = RegistrationFilter
    queryset = Registration.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Registration.objects.none()
        event = access.event_for_staff(self.request.user, self.kwargs["slug"], api_key=api_key_of(self.request))
        return selectors.registrations_of_event(event).select_related("event", "event__hub")

    @extend_schema(
        tags=["events"],
        summary="Registrations of an event (staff of its hub, two-factor authentication)",
        responses={200: RegistrationSerializer(many=True), 403: ERROR_403, 404: ERROR_404},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class AttendanceView(APIView):
    permission_classes = [ApiKeyScopePermission, IsStaffWithMfa]

    @extend_schema(
        tags=["events"],
        summary="Mark whether a confirmed participant came (staff of the event's hub, from its start)",
        request=AttendanceSerializer,
        responses={200: RegistrationSerializer, 400: ERROR_400, 403: ERROR_403, 404: ERROR_404},
    )
    def post(self, request, pk):
        registration = access.registration_for(request.user, pk, api_key=api_key_of(request))
        data = AttendanceSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.attendance_mark(
            registration=registration, attended=data.validated_data["attended"], acting_user=request.user
        )
        return _registration_response(request, pk)


# --- Pitch slots -------------------------------------------------------------------------------


class PitchSlotListView(generics.ListAPIView):
    """A demo day's pitch slots in time order, with who holds them (public)."""

    serializer_class = PitchSlotSerializer
    filter_backends = []
    queryset = PitchSlot.objects.none()

    def get_permissions(self):
        if self.request.method == "POST":
            return [ApiKeyScopePermission(), IsStaffWithMfa()]
        return [ApiKeyScopePermission()]

    def _event(self):
        key = api_key_of(self.request)
        qs = selectors.events_for_api(user=self.request.user, api_key=key)
        event = qs.filter(slug=self.kwargs["slug"]).first()
        if event is None:
            raise exceptions.NotFound("No such event.")
        return event

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return PitchSlot.objects.none()
        return selectors.pitch_slots_of(self._event())

    @extend_schema(tags=["events"], summary="Pitch slots of a demo day (public)")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["events"],
        summary="Add a pitch slot to a demo day (staff of its hub, two-factor authentication)",
        request=PitchSlotCreateSerializer,
        responses={201: PitchSlotSerializer, 400: ERROR_400, 403: ERROR_403, 404: ERROR_404},
    )
    def post(self, request, slug):
        event = access.event_for_staff(request.user, slug, api_key=api_key_of(request))
        data = PitchSlotCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        slot = services.pitch_slot_add(event=event, acting_user=request.user, **data.validated_data)
        slot = selectors.pitch_slots_of(event).get(pk=slot.pk)
        return Response(PitchSlotSerializer(slot, context={"request": request}).data, status=status.HTTP_201_CREATED)


def _pitch_slot_response(request, slot):
    slot = selectors.pitch_slots_of(slot.event).get(pk=slot.pk)
    return Response(PitchSlotSerializer(slot, context={"request": request}).data)


class PitchSlotClaimView(APIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUser]

    @extend_schema(
        tags=["events"],
        summary="Claim a pitch slot for your startup (a confirmed `startup` registration)",
        description="A slot has one holder: if another startup holds it the answer is 409. Claiming another "
        "slot moves your pitch there. Hub staff may claim for a startup by naming its `registration`.",
        request=PitchClaimSerializer,
        responses={200: PitchSlotSerializer, 400: ERROR_400, 403: ERROR_403, 404: ERROR_404, 409: ERROR_409},
    )
    def post(self, request, pk):
        key = api_key_of(request)
        slot = access.pitch_slot_for_visitor(request.user, pk, api_key=key)
        data = PitchClaimSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        registration_id = data.validated_data.get("registration")
        visible = access.registrations_visible_to(request.user, key).filter(event=slot.event)
        if registration_id is None:
            registration = visible.filter(
                user=request.user, status__in=[RegistrationStatus.CONFIRMED, RegistrationStatus.WAITLISTED]
            ).first()
            if registration is None:
                raise exceptions.ValidationError({"registration": ["Register for this demo day as a startup first."]})
        else:
            registration = visible.filter(pk=registration_id).first()
            if registration is None:
                raise exceptions.ValidationError({"registration": ["No such registration for this event."]})
        services.pitch_slot_claim(registration=registration, pitch_slot=slot, acting_user=request.user)
        return _pitch_slot_response(request, slot)


class PitchSlotReleaseView(APIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUser]

    @extend_schema(
        tags=["events"],
        summary="Give a pitch slot back (the startup holding it, or hub staff)",
        description="A free slot answers 409.",
        request=None,
        responses={200: PitchSlotSerializer, 403: ERROR_403, 404: ERROR_404, 409: ERROR_409},
    )
    def post(self, request, pk):
        slot = access.pitch_slot_for_visitor(request.user, pk, api_key=api_key_of(request))
        services.pitch_slot_release(pitch_slot=slot, acting_user=request.user)
        return _pitch_slot_response(request, slot)
