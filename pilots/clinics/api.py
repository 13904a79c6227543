"""API v1 for AI clinics: advice slots and bookings.

- ``GET /clinic-slots/`` is public (upcoming published slots of the hubs the caller may see).
  Experts and hub staff publish (``POST``), edit (``PATCH``) and withdraw slots.
- Signed-in people (a session or a personal key) book a slot with the intake form, and list,
  cancel, move their bookings; the slot's expert and hub staff see the intake and post the
  follow-up.

Objects come from ``clinics.access``; every write calls the same service as the pages. A slot
that is already booked answers 409; bad input answers 400 with a message per field. Online
slots' video links are shown only to the people who manage the slot and in bookings.
"""

import django_filters
from django.db.models import Exists, OuterRef, Prefetch, Q
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import exceptions, generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from compute.api import HubRefSerializer
from gigafactory.api import ApiKeyScopePermission, IsSignedInUser, api_key_of
from hubs.models import Hub, Sector, User

from . import access, selectors, services
from .models import BookingStatus, ClinicBooking, ClinicSlot, Mode, Recommendation

ERROR_400 = OpenApiResponse(description="Invalid input: a message per field")
ERROR_403 = OpenApiResponse(description="Not allowed: not an expert or staff of this hub, or a read-only key")
ERROR_404 = OpenApiResponse(description="No such object, or not one you may see")
ERROR_409 = OpenApiResponse(description="Not possible in the current state (e.g. the slot was just booked)")


def _inline_enum(choices, description):
    return {"type": "string", "enum": [v for v, _ in choices], "description": description}


@extend_schema_field(_inline_enum(Mode.choices, "`on_site` or `online`"))
class ModeField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=Mode.choices, **kwargs)


class SectorField(serializers.ChoiceField):
    """One of the network's sectors (the shared ``SectorEnum`` in the schema)."""

    def __init__(self, **kwargs):
        super().__init__(choices=Sector.choices, **kwargs)


@extend_schema_field({"type": "string", "description": "`published` or `withdrawn`"})
class SlotStatusField(serializers.CharField):
    pass


@extend_schema_field(
    {"type": "string", "description": "`booked`, `cancelled` or `rescheduled` (moved to another slot)"}
)
class BookingStatusField(serializers.CharField):
    pass


def _slot_booked(ref):
    return Exists(ClinicBooking.objects.filter(slot=OuterRef(ref), status=BookingStatus.BOOKED))


def _absolute(request, path):
    return request.build_absolute_uri(path) if request is not None else path


class ExpertRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(source="display_name", read_only=True)


class SlotSerializer(serializers.ModelSerializer):
    hub = HubRefSerializer(read_only=True)
    expert = ExpertRefSerializer(read_only=True)
    status = SlotStatusField(read_only=True)
    mode = ModeField(read_only=True)
    duration_minutes = serializers.IntegerField(read_only=True)
    is_booked = serializers.BooleanField(read_only=True)
    link = serializers.SerializerMethodField(help_text="Video-call link: shown to the slot's expert and hub staff")
    web_url = serializers.SerializerMethodField()

    class Meta:
        model = ClinicSlot
        fields = [
            "id",
            "hub",
            "expert",
            "topic",
            "description",
            "starts_at",
            "ends_at",
            "duration_minutes",
            "mode",
            "place",
            "link",
            "status",
            "is_booked",
            "web_url",
        ]
        read_only_fields = fields

    def get_link(self, obj) -> str:
        request = self.context.get("request")
        if request is not None and access.can_manage_slot(request.user, obj, api_key_of(request)):
            return obj.link
        return ""

    def get_web_url(self, obj) -> str:
        return _absolute(self.context.get("request"), obj.get_absolute_url())


class SlotWriteSerializer(serializers.Serializer):
    topic = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    starts_at = serializers.DateTimeField()
    duration_minutes = serializers.IntegerField()
    mode = ModeField(default=Mode.ON_SITE)
    place = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    link = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


class SlotCreateSerializer(SlotWriteSerializer):
    hub = serializers.SlugField(help_text="The hub's slug, e.g. `lyon`")
    expert = serializers.IntegerField(required=False, help_text="The expert's user id; default: you")


class SlotUpdateSerializer(SlotWriteSerializer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False
            field.default = serializers.empty


class RecommendationSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=300)
    link = serializers.URLField(required=False, allow_blank=True, default="")
    created_at = serializers.DateTimeField(read_only=True)


class BookerSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(source="display_name", read_only=True)
    email = serializers.EmailField(read_only=True)


class BookingSerializer(serializers.ModelSerializer):
    slot = SlotSerializer(read_only=True)
    booked_by = BookerSerializer(source="user", read_only=True)
    status = BookingStatusField(read_only=True)
    sector = SectorField(read_only=True)
    online_link = serializers.SerializerMethodField(help_text="The video-call link of an online slot")
    recommendations = RecommendationSerializer(many=True, read_only=True)
    web_url = serializers.SerializerMethodField()
    calendar_url = serializers.SerializerMethodField(help_text="The booking's iCalendar file")

    class Meta:
        model = ClinicBooking
        fields = [
            "id",
            "slot",
            "status",
            "booked_by",
            "organisation_name",
            "sector",
            "problem",
            "data_description",
            "online_link",
            "rescheduled_from",
            "cancelled_at",
            "cancel_reason",
            "follow_up_notes",
            "followed_up_at",
            "recommendations",
            "created_at",
            "web_url",
            "calendar_url",
        ]
        read_only_fields = fields

    def to_representation(self, instance):
        instance.slot.is_booked = getattr(instance, "slot_is_booked", instance.status == BookingStatus.BOOKED)
        return super().to_representation(instance)

    def get_online_link(self, obj) -> str:
        return obj.slot.link if obj.slot.mode == Mode.ONLINE and obj.status == BookingStatus.BOOKED else ""

    def get_web_url(self, obj) -> str:
        return _absolute(self.context.get("request"), obj.get_absolute_url())

    def get_calendar_url(self, obj) -> str:
        return _absolute(self.context.get("request"), reverse("clinics:booking_ics", args=[obj.pk]))


class BookingCreateSerializer(serializers.Serializer):
    sector = SectorField()
    problem = serializers.CharField()
    data_description = serializers.CharField()
    organisation_name = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


class CancelSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)


class RescheduleSerializer(serializers.Serializer):
    slot = serializers.IntegerField(help_text="The id of a free slot of the same hub")


class FollowUpSerializer(serializers.Serializer):
    notes = serializers.CharField(required=False, allow_blank=True, default="")
    recommendations = RecommendationSerializer(many=True, required=False, default=list)


SLOT_EXAMPLE = {
    "id": 12,
    "hub": {"slug": "lyon", "name": "Lyon AI Gigafactory"},
    "expert": {"id": 7, "name": "Julien Martin"},
    "topic": "Computer vision for quality control",
    "description": "Bring a few sample images.",
    "starts_at": "2026-12-03T09:00:00Z",
    "ends_at": "2026-12-03T09:45:00Z",
    "duration_minutes": 45,
    "mode": "on_site",
    "place": "Room 2.14, Lyon AI Gigafactory",
    "link": "",
    "status": "published",
    "is_booked": False,
    "web_url": "https://portal.example/clinics/slots/12/",
}


# --- Slots -----------------------------------------------------------------------------------


class SlotFilter(django_filters.FilterSet):
    hub = django_filters.CharFilter(field_name="hub__slug", help_text="Hub slug, e.g. `lyon`")
    topic = django_filters.CharFilter(field_name="topic", lookup_expr="icontains", help_text="Part of the topic")
    starts_after = django_filters.IsoDateTimeFilter(field_name="starts_at", lookup_expr="gte")
    starts_before = django_filters.IsoDateTimeFilter(field_name="starts_at", lookup_expr="lt")
    mode = django_filters.ChoiceFilter(choices=Mode.choices)
    free = django_filters.BooleanFilter(field_name="is_booked", exclude=True, help_text="`true`: only free slots")

    class Meta:
        model = ClinicSlot
        fields = ["hub", "topic", "starts_after", "starts_before", "mode", "free"]


def _check_key_hub(request, hub):
    key = api_key_of(request)
    if key is not None and key.hub_id != hub.pk:
        raise exceptions.PermissionDenied(f"This API key is for another hub, not {hub}.")


class SlotListView(generics.ListAPIView):
    """Upcoming published clinic slots, soonest first (public)."""

    permission_classes = [ApiKeyScopePermission]
    serializer_class = SlotSerializer
    filterset_class = SlotFilter
    search_fields = ["topic", "description"]
    ordering_fields = ["starts_at"]
    queryset = ClinicSlot.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ClinicSlot.objects.none()
        qs = selectors.slot_list(user=self.request.user)
        key = api_key_of(self.request)
        return qs.filter(hub_id=key.hub_id) if key is not None else qs

    @extend_schema(
        tags=["clinics"],
        summary="Upcoming clinic slots (public)",
        examples=[OpenApiExample("A slot", value=SLOT_EXAMPLE, response_only=True)],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["clinics"],
        summary="Publish a clinic slot (hub experts and staff)",
        description="Experts publish their own slots; hub staff publish for any expert of their hub. "
        "`duration_minutes` from 15 to 480; an on-site slot needs `place`, an online one `link`. "
        "Slots of one expert never overlap.",
        request=SlotCreateSerializer,
        responses={201: SlotSerializer, 400: ERROR_400, 403: ERROR_403},
    )
    def post(self, request):
        if not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        data = SlotCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        hub = Hub.objects.filter(slug=values.pop("hub")).first()
        if hub is None:
            raise exceptions.ValidationError({"hub": "No such hub."})
        _check_key_hub(request, hub)
        expert_id = values.pop("expert", None)
        expert = request.user if expert_id is None else User.objects.filter(pk=expert_id).first()
        if expert is None:
            raise exceptions.ValidationError({"expert": "No such user."})
        slot = services.slot_create(hub=hub, expert=expert, acting_user=request.user, **values)
        slot.is_booked = False
        return Response(SlotSerializer(slot, context={"request": request}).data, status=status.HTTP_201_CREATED)


class SlotDetailView(APIView):
    permission_classes = [ApiKeyScopePermission]

    def _slot(self, request, pk):
        """A published slot the caller may see, or any slot they manage (withdrawn and past ones too).
        An API key narrows both to its hub, as the list does."""
        key = api_key_of(request)
        visible = access.public_slots(request.user).values("pk")
        managed = access.slots_managed_by(request.user, key).values("pk")
        qs = ClinicSlot.objects.filter(Q(pk__in=visible) | Q(pk__in=managed)).select_related("hub", "expert")
        if key is not None:
            qs = qs.filter(hub_id=key.hub_id)
        slot = qs.annotate(is_booked=_slot_booked("pk")).filter(pk=pk).first()
        if slot is None:
            raise exceptions.NotFound("No such clinic slot.")
        return slot

    @extend_schema(tags=["clinics"], summary="One clinic slot", responses={200: SlotSerializer, 404: ERROR_404})
    def get(self, request, pk):
        return Response(SlotSerializer(self._slot(request, pk), context={"request": request}).data)

    @extend_schema(
        tags=["clinics"],
        summary="Change a clinic slot (its expert or hub staff)",
        description="A booked slot keeps its time; withdraw it instead.",
        request=SlotUpdateSerializer,
        responses={200: SlotSerializer, 400: ERROR_400, 403: ERROR_403, 404: ERROR_404, 409: ERROR_409},
    )
    def patch(self, request, pk):
        if not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        slot = access.slot_for_manager(request.user, pk, api_key=api_key_of(request))
        data = SlotUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.slot_update(slot=slot, acting_user=request.user, **data.validated_data)
        return Response(SlotSerializer(self._slot(request, pk), context={"request": request}).data)


class SlotWithdrawView(APIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUser]

    @extend_schema(
        tags=["clinics"],
        summary="Withdraw a clinic slot (its expert or hub staff); its booking is cancelled and the booker told",
        request=CancelSerializer,
        responses={200: SlotSerializer, 404: ERROR_404, 409: ERROR_409},
    )
    def post(self, request, pk):
        slot = access.slot_for_manager(request.user, pk, api_key=api_key_of(request))
        data = CancelSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        slot = services.slot_withdraw(slot=slot, acting_user=request.user, reason=data.validated_data["reason"])
        slot.is_booked = False
        return Response(SlotSerializer(slot, context={"request": request}).data)


class SlotBookView(APIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUser]

    @extend_schema(
        tags=["clinics"],
        summary="Book a clinic slot with the intake form",
        description="A slot is booked once: if someone was faster the answer is 409. The confirmation, with "
        "an iCalendar file, is e-mailed to you; a reminder follows the day before.",
        request=BookingCreateSerializer,
        responses={201: BookingSerializer, 400: ERROR_400, 404: ERROR_404, 409: ERROR_409},
        examples=[
            OpenApiExample(
                "A bakery",
                value={
                    "sector": "manufacturing",
                    "problem": "We want to predict daily demand per shop to bake less waste.",
                    "data_description": "Three years of till data per product and shop, as CSV.",
                    "organisation_name": "Bäckerei Schmidt",
                },
                request_only=True,
            )
        ],
    )
    def post(self, request, pk):
        slot = access.slot_for_visitor(request.user, pk)
        _check_key_hub(request, slot.hub)
        data = BookingCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        booking = services.booking_create(slot=slot, acting_user=request.user, **data.validated_data)
        booking = access.booking_for(request.user, booking.pk)
        return Response(BookingSerializer(booking, context={"request": request}).data, status=status.HTTP_201_CREATED)


# --- Bookings --------------------------------------------------------------------------------


class BookingFilter(django_filters.FilterSet):
    hub = django_filters.CharFilter(field_name="slot__hub__slug", help_text="Hub slug")
    status = django_filters.CharFilter(help_text="`booked`, `cancelled` or `rescheduled`")
    mine = django_filters.BooleanFilter(method="filter_mine", help_text="`true`: bookings you made")
    upcoming = django_filters.BooleanFilter(method="filter_upcoming", help_text="`true`: slots still to come")

    class Meta:
        model = ClinicBooking
        fields = ["hub", "status", "mine", "upcoming"]

    def filter_mine(self, queryset, name, value):
        return queryset.filter(user=self.request.user) if value else queryset.exclude(user=self.request.user)

    def filter_upcoming(self, queryset, name, value):
        now = timezone.now()
        return queryset.filter(slot__starts_at__gt=now) if value else queryset.filter(slot__starts_at__lte=now)


def _bookings(request):
    return (
        access.bookings_visible_to(request.user, api_key_of(request))
        .select_related("slot", "slot__hub", "slot__expert", "user")
        .annotate(slot_is_booked=_slot_booked("slot"))
        .prefetch_related(Prefetch("recommendations", queryset=Recommendation.objects.order_by("created_at", "pk")))
    )


class BookingListView(generics.ListAPIView):
    """Your bookings; as an expert, the bookings of your slots; as hub staff, your hubs' bookings."""

    permission_classes = [ApiKeyScopePermission, IsSignedInUser]
    serializer_class = BookingSerializer
    filterset_class = BookingFilter
    ordering_fields = ["created_at", "slot__starts_at"]
    queryset = ClinicBooking.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ClinicBooking.objects.none()
        return _bookings(self.request).order_by("-slot__starts_at", "-pk")

    @extend_schema(tags=["clinics"], summary="Clinic bookings you may see (yours, your slots', your hubs')")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


def _booking_response(request, pk, code=status.HTTP_200_OK):
    booking = _bookings(request).filter(pk=pk).first()
    if booking is None:
        raise exceptions.NotFound("No such booking.")
    return Response(BookingSerializer(booking, context={"request": request}).data, status=code)


class BookingDetailView(APIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUser]

    @extend_schema(tags=["clinics"], summary="One clinic booking", responses={200: BookingSerializer, 404: ERROR_404})
    def get(self, request, pk):
        return _booking_response(request, pk)


class BookingCancelView(APIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUser]

    @extend_schema(
        tags=["clinics"],
        summary="Cancel a booking before its slot starts (the booker, the expert or hub staff)",
        request=CancelSerializer,
        responses={200: BookingSerializer, 403: ERROR_403, 404: ERROR_404, 409: ERROR_409},
    )
    def post(self, request, pk):
        booking = access.booking_for(request.user, pk, api_key=api_key_of(request))
        data = CancelSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.booking_cancel(booking=booking, acting_user=request.user, reason=data.validated_data["reason"])
        return _booking_response(request, pk)


class BookingRescheduleView(APIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUser]

    @extend_schema(
        tags=["clinics"],
        summary="Move your booking to another free slot of the same hub",
        description="Returns the new booking; the old one becomes `rescheduled`. The calendar entry keeps its UID.",
        request=RescheduleSerializer,
        responses={201: BookingSerializer, 400: ERROR_400, 404: ERROR_404, 409: ERROR_409},
    )
    def post(self, request, pk):
        booking = access.booking_for(request.user, pk, api_key=api_key_of(request))
        data = RescheduleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        new_slot = access.public_slots(request.user).filter(pk=data.validated_data["slot"]).first()
        if new_slot is None:
            raise exceptions.ValidationError({"slot": "No such slot."})
        moved = services.booking_reschedule(booking=booking, new_slot=new_slot, acting_user=request.user)
        return _booking_response(request, moved.pk, status.HTTP_201_CREATED)


class BookingFollowUpView(APIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUser]

    @extend_schema(
        tags=["clinics"],
        summary="Record the session's follow-up (the slot's expert or hub staff); the booker is told",
        request=FollowUpSerializer,
        responses={200: BookingSerializer, 400: ERROR_400, 403: ERROR_403, 404: ERROR_404},
        examples=[
            OpenApiExample(
                "Notes and a recommendation",
                value={
                    "notes": "Your till data is enough for a first forecast.",
                    "recommendations": [
                        {
                            "text": "Apply to the playground call",
                            "link": "https://portal.example/calls/lyon-playground/",
                        }
                    ],
                },
                request_only=True,
            )
        ],
    )
    def post(self, request, pk):
        booking = access.booking_for(request.user, pk, api_key=api_key_of(request))
        data = FollowUpSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.booking_follow_up(
            booking=booking,
            acting_user=request.user,
            notes=data.validated_data["notes"],
            recommendations=[(r["text"], r.get("link", "")) for r in data.validated_data["recommendations"]],
        )
        return _booking_response(request, pk)
