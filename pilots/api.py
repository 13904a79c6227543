"""API v1 for pilots, case studies and network statistics.

- Pilots: read by the members of their hub (and their lead and team); a partner key reads its
  hub's pilots. Created by hub staff and project leads, edited by the hub's staff and the
  pilot's lead; status transitions are POSTs that answer 409 when the state does not allow them.
- Case studies: public reads. Publishing (staff of the pilot's hub) and adapting (staff of
  another hub) are staff operations (two-factor authentication required). Adapting twice
  returns the existing adaptation with 200 instead of 201.
- Network statistics: public.

Writes go through ``pilots.services``, like the pages and the admin; objects come from
``pilots.access``.
"""

import django_filters
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import exceptions, generics, permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from compute.api import HubRefSerializer
from compute.models import Track, credits
from gigafactory.api import ApiKeyScopePermission, IsSignedInUser, IsStaffWithMfa, SlugRelatedField, api_key_of
from hubs.models import Hub, Sector, User

from . import access, selectors, services
from .models import (
    CaseStudy,
    Milestone,
    OutcomeMetric,
    PartnerRole,
    Pilot,
    PilotPartner,
    PilotStatus,
)
from .statistics import network_statistics

ERROR_400 = OpenApiResponse(
    description="Invalid input: a message per field (and per row of partners, milestones, metrics)"
)
ERROR_403 = OpenApiResponse(
    description="Not allowed: not staff or lead, no two-factor authentication, or a read-only key"
)
ERROR_404 = OpenApiResponse(description="No such object, or not one you may see (e.g. another hub's)")
ERROR_409 = OpenApiResponse(description="The transition is not allowed in the pilot's current state")


def _inline_enum(choices, description: str) -> dict:
    """Inline enums: named components would collide with other models' ``status`` and ``role``."""
    return {"type": "string", "enum": [value for value, _label in choices], "description": description}


# Not enums in the schema: a "status" or "role" enum would collide with other models' (see
# compute's ProjectRoleField); the allowed values are in the description.
@extend_schema_field(
    {
        "type": "string",
        "description": "The pilot's status: `proposed`, `active`, `completed` or `stopped`",
        "example": PilotStatus.ACTIVE.value,
    }
)
class PilotStatusField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=PilotStatus.choices, **kwargs)


class SectorField(serializers.ChoiceField):
    """One of the network's sectors (the shared ``SectorEnum`` in the schema)."""

    def __init__(self, **kwargs):
        super().__init__(choices=Sector.choices, **kwargs)


@extend_schema_field(
    {
        "type": "string",
        "description": "The partner's role: " + ", ".join(f"`{v}`" for v in PartnerRole.values),
        "example": PartnerRole.HOSPITAL.value,
    }
)
class PartnerRoleField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=PartnerRole.choices, **kwargs)


def _web_url(request, path) -> str:
    return request.build_absolute_uri(path) if request is not None else path


# --- Rows --------------------------------------------------------------------------------------------


class PartnerSerializer(serializers.ModelSerializer):
    role = PartnerRoleField()

    class Meta:
        model = PilotPartner
        fields = ["name", "role", "website", "contribution"]


class MilestoneSerializer(serializers.ModelSerializer):
    done_on = serializers.DateField(required=False, allow_null=True, help_text="Defaults to today when done")

    class Meta:
        model = Milestone
        fields = ["title", "due_on", "done", "done_on"]


class MetricSerializer(serializers.ModelSerializer):
    achieved = serializers.DecimalField(
        max_digits=14, decimal_places=3, required=False, allow_null=True, help_text="Empty until measured"
    )

    class Meta:
        model = OutcomeMetric
        fields = ["name", "unit", "baseline", "target", "achieved"]

    def validate(self, attrs):
        if attrs.get("baseline") is not None and attrs.get("baseline") == attrs.get("target"):
            raise serializers.ValidationError({"target": "The target must differ from the baseline."})
        return attrs


class PersonSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="display_name")


class PilotRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    hub = HubRefSerializer()


class CaseStudyRefSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    headline = serializers.CharField()
    published = serializers.BooleanField(source="is_public")


# --- Pilots ---------------------------------------------------------------------------------------------


class PilotSerializer(serializers.ModelSerializer):
    hub = HubRefSerializer(read_only=True)
    sector = SectorField(read_only=True)
    status = PilotStatusField(read_only=True)
    lead = PersonSerializer(read_only=True, allow_null=True)
    team = PersonSerializer(many=True, read_only=True)
    partners = PartnerSerializer(many=True, read_only=True)
    milestones = MilestoneSerializer(many=True, read_only=True)
    metrics = MetricSerializer(many=True, read_only=True)
    adapted_from = PilotRefSerializer(read_only=True, allow_null=True)
    adaptation_count = serializers.IntegerField(read_only=True, help_text="How many other hubs adapted this pilot")
    case_study = serializers.SerializerMethodField()
    projects = serializers.PrimaryKeyRelatedField(many=True, read_only=True, help_text="Compute project ids")
    allocations = serializers.PrimaryKeyRelatedField(many=True, read_only=True, help_text="Allocation ids")
    ai_systems = serializers.PrimaryKeyRelatedField(many=True, read_only=True, help_text="AI system ids")
    web_url = serializers.SerializerMethodField()

    class Meta:
        model = Pilot
        fields = [
            "id",
            "hub",
            "title",
            "summary",
            "sector",
            "status",
            "starts_on",
            "ends_on",
            "lead",
            "team",
            "partners",
            "milestones",
            "metrics",
            "lessons_learned",
            "stop_reason",
            "adapted_from",
            "adaptation_count",
            "case_study",
            "projects",
            "allocations",
            "ai_systems",
            "created_at",
            "updated_at",
            "web_url",
        ]
        read_only_fields = fields

    @extend_schema_field(CaseStudyRefSerializer(allow_null=True))
    def get_case_study(self, obj):
        try:
            cs = obj.case_study
        except CaseStudy.DoesNotExist:
            return None
        return CaseStudyRefSerializer(cs).data

    def get_web_url(self, obj) -> str:
        return _web_url(self.context.get("request"), obj.get_absolute_url())


class PilotWriteSerializer(serializers.Serializer):
    hub = SlugRelatedField(
        slug_field="slug", queryset=Hub.objects.all(), required=False, help_text="Hub slug (on create only)"
    )
    title = serializers.CharField(max_length=200, min_length=3)
    summary = serializers.CharField()
    sector = SectorField()
    starts_on = serializers.DateField(required=False, allow_null=True)
    ends_on = serializers.DateField(required=False, allow_null=True)
    lessons_learned = serializers.CharField(required=False, allow_blank=True)
    lead = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True, help_text="User id"
    )
    team = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), many=True, required=False, help_text="User ids"
    )
    projects = serializers.ListField(child=serializers.IntegerField(), required=False, help_text="Project ids")
    allocations = serializers.ListField(child=serializers.IntegerField(), required=False, help_text="Allocation ids")
    ai_systems = serializers.ListField(child=serializers.IntegerField(), required=False, help_text="AI system ids")
    partners = PartnerSerializer(many=True, required=False, help_text="The complete list (replaces the current one)")
    milestones = MilestoneSerializer(many=True, required=False, help_text="The complete list")
    metrics = MetricSerializer(many=True, required=False, help_text="The complete list")

    def validate(self, attrs):
        if attrs.get("starts_on") and attrs.get("ends_on") and attrs["ends_on"] < attrs["starts_on"]:
            raise serializers.ValidationError({"ends_on": "The end date cannot be before the start date."})
        return attrs


def _objects(model, ids, field):
    """The rows with these ids (unknown ids are a field error)."""
    if ids is None:
        return None
    found = {o.pk: o for o in model.objects.filter(pk__in=ids)}
    missing = [i for i in ids if i not in found]
    if missing:
        raise exceptions.ValidationError({field: [f"Unknown id(s): {', '.join(map(str, missing))}."]})
    return [found[i] for i in ids]


def _service_kwargs(data) -> dict:
    from compliance.models import AISystem
    from compute.models import Allocation, Project

    kwargs = {k: v for k, v in data.items() if k not in ("hub", "projects", "allocations", "ai_systems")}
    kwargs["projects"] = _objects(Project, data.get("projects"), "projects")
    kwargs["allocations"] = _objects(Allocation, data.get("allocations"), "allocations")
    kwargs["ai_systems"] = _objects(AISystem, data.get("ai_systems"), "ai_systems")
    for key in ("projects", "allocations", "ai_systems", "team"):
        if kwargs.get(key) is None:
            kwargs.pop(key, None)
    for key in ("partners", "milestones", "metrics"):
        if key in kwargs:
            kwargs[key] = [dict(row) for row in kwargs[key]]
    return kwargs


def _pilot_queryset(qs):
    return qs.prefetch_related(
        "partners",
        "milestones",
        "metrics",
        Prefetch("team", queryset=User.objects.order_by("name", "email")),
        "projects",
        "allocations",
        "ai_systems",
    )


class PilotFilter(django_filters.FilterSet):
    hub = django_filters.CharFilter(field_name="hub__slug", help_text="Hub slug, e.g. `lisbon`")
    sector = django_filters.ChoiceFilter(choices=Sector.choices)
    status = django_filters.ChoiceFilter(choices=PilotStatus.choices)
    adapted = django_filters.BooleanFilter(
        field_name="adapted_from", lookup_expr="isnull", exclude=True, help_text="`true`: only adaptations"
    )

    class Meta:
        model = Pilot
        fields = ["hub", "sector", "status", "adapted"]


class _CanReadPilots(permissions.BasePermission):
    message = "Sign in, or use a personal or partner API key."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated) or api_key_of(request) is not None


class PilotListView(generics.ListCreateAPIView):
    serializer_class = PilotSerializer
    filterset_class = PilotFilter
    search_fields = ["title", "summary"]
    ordering_fields = ["created_at", "title", "starts_on"]
    queryset = Pilot.objects.none()

    def get_permissions(self):
        if self.request.method == "POST":
            return [*super().get_permissions(), IsSignedInUser()]
        return [*super().get_permissions(), _CanReadPilots()]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Pilot.objects.none()
        return _pilot_queryset(selectors.pilots_list(user=self.request.user, api_key=api_key_of(self.request)))

    @extend_schema(
        tags=["pilots"],
        summary="List pilots",
        description="Pilots of your hubs (and those you lead or work on); a partner key reads its hub's pilots.",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["pilots"],
        summary="Start a pilot",
        description="Hub staff and leads of the hub's compute projects. The pilot starts as `proposed`.",
        request=PilotWriteSerializer,
        responses={201: PilotSerializer, 400: ERROR_400, 403: ERROR_403},
    )
    def post(self, request, *args, **kwargs):
        write = PilotWriteSerializer(data=request.data)
        write.is_valid(raise_exception=True)
        data = dict(write.validated_data)
        hub = data.get("hub")
        if hub is None:
            raise exceptions.ValidationError({"hub": ["Give the slug of the hub that runs the pilot."]})
        key = api_key_of(request)
        if key is not None and key.hub_id != hub.pk:
            raise exceptions.PermissionDenied(f"This API key is scoped to another hub than {hub}.")
        pilot = services.pilot_create(hub=hub, acting_user=request.user, **_service_kwargs(data))
        pilot = self.get_queryset().get(pk=pilot.pk)
        return Response(self.get_serializer(pilot).data, status=status.HTTP_201_CREATED)


class PilotDetailView(generics.RetrieveUpdateAPIView):
    serializer_class = PilotSerializer
    queryset = Pilot.objects.none()
    http_method_names = ["get", "patch", "head", "options"]

    def get_permissions(self):
        if self.request.method == "PATCH":
            return [*super().get_permissions(), IsSignedInUser()]
        return [*super().get_permissions(), _CanReadPilots()]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Pilot.objects.none()
        return _pilot_queryset(selectors.pilots_list(user=self.request.user, api_key=api_key_of(self.request)))

    @extend_schema(tags=["pilots"], summary="One pilot", responses={200: PilotSerializer, 404: ERROR_404})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["pilots"],
        summary="Change a pilot",
        description=(
            "Staff of the pilot's hub and its lead. Lists given (partners, milestones, metrics, team, projects, "
            "allocations, AI systems) replace the current ones; lists left out stay as they are."
        ),
        request=PilotWriteSerializer,
        responses={200: PilotSerializer, 400: ERROR_400, 403: ERROR_403, 404: ERROR_404},
    )
    def patch(self, request, *args, **kwargs):
        pilot = access.pilot_for_edit(request.user, kwargs["pk"], api_key=api_key_of(request))
        write = PilotWriteSerializer(data=request.data, partial=True)
        write.is_valid(raise_exception=True)
        data = dict(write.validated_data)
        if "hub" in data:
            raise exceptions.ValidationError({"hub": ["A pilot cannot move to another hub."]})
        services.pilot_update(pilot=pilot, acting_user=request.user, **_service_kwargs(data))
        return Response(self.get_serializer(self.get_queryset().get(pk=pilot.pk)).data)


class TransitionSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, help_text="Required to stop a pilot")


class _PilotTransitionView(APIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUser]
    to = None

    def post(self, request, pk):
        pilot = access.pilot_for_edit(request.user, pk, api_key=api_key_of(request))
        body = TransitionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.pilot_transition(
            pilot=pilot, to=self.to, acting_user=request.user, reason=body.validated_data.get("reason", "")
        )
        pilot = _pilot_queryset(selectors.pilots_list(user=request.user, api_key=api_key_of(request))).get(pk=pk)
        return Response(PilotSerializer(pilot, context={"request": request}).data)


def _transition_schema(verb, to, extra=""):
    return extend_schema(
        tags=["pilots"],
        summary=f"{verb} a pilot",
        description=f"Moves the pilot to `{to}`. Staff of its hub and its lead. {extra}".strip(),
        request=TransitionSerializer,
        responses={200: PilotSerializer, 400: ERROR_400, 404: ERROR_404, 409: ERROR_409},
    )


@_transition_schema("Start", "active", "From `proposed`.")
class PilotStartView(_PilotTransitionView):
    to = PilotStatus.ACTIVE


@_transition_schema("Complete", "completed", "From `active`.")
class PilotCompleteView(_PilotTransitionView):
    to = PilotStatus.COMPLETED


@_transition_schema("Stop", "stopped", "From `proposed` or `active`; `reason` is required.")
class PilotStopView(_PilotTransitionView):
    to = PilotStatus.STOPPED


# --- Case studies ---------------------------------------------------------------------------------------


class AdaptationSerializer(serializers.Serializer):
    hub = HubRefSerializer()
    title = serializers.CharField()
    status = PilotStatusField()
    since = serializers.DateTimeField(source="created_at")


class CaseStudySerializer(serializers.ModelSerializer):
    hub = HubRefSerializer(source="pilot.hub", read_only=True)
    pilot = serializers.SerializerMethodField()
    adaptation_count = serializers.IntegerField(read_only=True)
    adapted_in = serializers.SerializerMethodField(help_text="Hubs that adapted the pilot")
    adapted_from = serializers.SerializerMethodField()
    web_url = serializers.SerializerMethodField()

    class Meta:
        model = CaseStudy
        fields = [
            "slug",
            "headline",
            "story",
            "published_at",
            "hub",
            "pilot",
            "adaptation_count",
            "adapted_in",
            "adapted_from",
            "web_url",
        ]
        read_only_fields = fields

    @extend_schema_field(
        {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "title": {"type": "string"},
                "sector": _inline_enum(Sector.choices, "Sector"),
                "status": {"type": "string", "description": "proposed, active, completed or stopped"},
                "starts_on": {"type": "string", "format": "date", "nullable": True},
                "ends_on": {"type": "string", "format": "date", "nullable": True},
            },
        }
    )
    def get_pilot(self, obj):
        p = obj.pilot
        return {
            "id": p.pk,
            "title": p.title,
            "sector": p.sector,
            "status": p.status,
            "starts_on": p.starts_on,
            "ends_on": p.ends_on,
        }

    @extend_schema_field(HubRefSerializer(many=True))
    def get_adapted_in(self, obj):
        return [{"slug": a.hub.slug, "name": a.hub.name} for a in getattr(obj.pilot, "adaptation_list", [])]

    @extend_schema_field(PilotRefSerializer(allow_null=True))
    def get_adapted_from(self, obj):
        original = obj.pilot.adapted_from
        return PilotRefSerializer(original).data if original is not None else None

    def get_web_url(self, obj) -> str:
        return _web_url(self.context.get("request"), obj.get_absolute_url())


class CaseStudyDetailSerializer(CaseStudySerializer):
    partners = PartnerSerializer(source="pilot.partners", many=True, read_only=True)
    metrics = MetricSerializer(source="pilot.metrics", many=True, read_only=True)
    lessons_learned = serializers.CharField(source="pilot.lessons_learned", read_only=True)
    adaptations = AdaptationSerializer(source="pilot.adaptation_list", many=True, read_only=True)

    class Meta(CaseStudySerializer.Meta):
        fields = [*CaseStudySerializer.Meta.fields, "partners", "metrics", "lessons_learned", "adaptations"]
        read_only_fields = fields


class CaseStudyFilter(django_filters.FilterSet):
    hub = django_filters.CharFilter(field_name="pilot__hub__slug", help_text="Hub slug")
    country = django_filters.CharFilter(field_name="pilot__hub__country", help_text="Two-letter country code, e.g. PT")
    sector = django_filters.ChoiceFilter(field_name="pilot__sector", choices=Sector.choices)

    class Meta:
        model = CaseStudy
        fields = ["hub", "country", "sector"]


CASE_STUDY_EXAMPLE = {
    "slug": "lisbon-open-data-for-school-meals",
    "headline": "Lisbon schools cut food waste by a third",
    "story": "Twelve schools and the city council ...",
    "published_at": "2026-05-12T10:00:00+02:00",
    "hub": {"slug": "lisbon", "name": "Lisbon AI Gigafactory"},
    "pilot": {
        "id": 14,
        "title": "Open data for school meals",
        "sector": "education",
        "status": "completed",
        "starts_on": "2025-09-01",
        "ends_on": "2026-04-30",
    },
    "adaptation_count": 1,
    "adapted_in": [{"slug": "zagreb", "name": "Zagreb AI Gigafactory"}],
    "adapted_from": None,
    "web_url": "https://portal.example.eu/showcase/lisbon-open-data-for-school-meals/",
}


@extend_schema(
    tags=["case studies"],
    summary="List public case studies (the showcase)",
    description="Newest first, each with how often its pilot was adapted and where. Public: no key needed.",
    examples=[OpenApiExample("A case study adapted in Zagreb", value=CASE_STUDY_EXAMPLE, response_only=True)],
)
class CaseStudyListView(generics.ListAPIView):
    permission_classes = [permissions.AllowAny]
    serializer_class = CaseStudySerializer
    filterset_class = CaseStudyFilter
    search_fields = ["headline", "story", "pilot__title"]
    ordering_fields = ["published_at", "headline"]
    queryset = CaseStudy.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return CaseStudy.objects.none()
        return selectors.showcase(user=self.request.user, api_key=api_key_of(self.request))


@extend_schema(
    tags=["case studies"],
    summary="One case study, with partners, outcome metrics and adaptations",
    responses={200: CaseStudyDetailSerializer, 404: ERROR_404},
)
class CaseStudyDetailView(generics.RetrieveAPIView):
    permission_classes = [permissions.AllowAny]
    serializer_class = CaseStudyDetailSerializer
    lookup_field = "slug"
    queryset = CaseStudy.objects.none()

    def get_object(self):
        qs = selectors.showcase(user=self.request.user, api_key=api_key_of(self.request)).prefetch_related(
            "pilot__partners", "pilot__metrics"
        )
        return get_object_or_404(qs, slug=self.kwargs["slug"])


class PublishSerializer(serializers.Serializer):
    headline = serializers.CharField(max_length=200)
    story = serializers.CharField()


@extend_schema(
    tags=["case studies"],
    summary="Publish (or edit) the case study of a pilot",
    description="Staff of the pilot's hub, with two-factor authentication. The pilot must be active or completed.",
    request=PublishSerializer,
    responses={200: CaseStudyDetailSerializer, 400: ERROR_400, 403: ERROR_403, 404: ERROR_404, 409: ERROR_409},
)
class PilotPublishView(APIView):
    permission_classes = [ApiKeyScopePermission, IsStaffWithMfa]

    def post(self, request, pk):
        pilot = access.pilot_for(request.user, pk, api_key=api_key_of(request))
        body = PublishSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        case_study = services.case_study_publish(pilot=pilot, acting_user=request.user, **body.validated_data)
        case_study = selectors.showcase(user=request.user).get(pk=case_study.pk)
        return Response(CaseStudyDetailSerializer(case_study, context={"request": request}).data)


class AdaptSerializer(serializers.Serializer):
    hub = SlugRelatedField(slug_field="slug", queryset=Hub.objects.all(), help_text="Your hub's slug")
    title = serializers.CharField(max_length=200, required=False, allow_blank=True)
    note = serializers.CharField(required=False, allow_blank=True, help_text="What you will change; the team reads it")


@extend_schema(
    tags=["case studies"],
    summary="Adapt a case study's pilot at your hub",
    description=(
        "Staff of another hub, with two-factor authentication. Creates a proposed pilot at `hub` linked to the "
        "original (201) and tells the original hub. Idempotent per (case study, hub): repeating the call returns "
        "the existing adaptation with 200 and changes nothing."
    ),
    request=AdaptSerializer,
    responses={
        201: PilotSerializer,
        200: PilotSerializer,
        400: ERROR_400,
        403: ERROR_403,
        404: ERROR_404,
        409: ERROR_409,
    },
)
class CaseStudyAdaptView(APIView):
    permission_classes = [ApiKeyScopePermission, IsStaffWithMfa]

    def post(self, request, slug):
        key = api_key_of(request)
        case_study = access.case_study_for(request.user, slug, api_key=key)
        body = AdaptSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        hub = body.validated_data["hub"]
        if key is not None and key.hub_id != hub.pk:
            raise exceptions.PermissionDenied(f"This API key is scoped to another hub than {hub}.")
        pilot, created = services.pilot_adapt(
            original=case_study.pilot,
            hub=hub,
            acting_user=request.user,
            title=body.validated_data.get("title", ""),
            note=body.validated_data.get("note", ""),
        )
        pilot = _pilot_queryset(selectors.pilots_list(user=request.user, api_key=key)).get(pk=pilot.pk)
        return Response(
            PilotSerializer(pilot, context={"request": request}).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


# --- Network statistics ---------------------------------------------------------------------------------


class MedianSerializer(serializers.Serializer):
    days = serializers.FloatField(help_text="Median days from submission to decision")
    decisions = serializers.IntegerField(help_text="Decided applications the median is taken over")


class MediansByTrackSerializer(serializers.Serializer):
    playground = MedianSerializer(required=False, allow_null=True)
    fast_lane = MedianSerializer(required=False, allow_null=True)
    peer_review = MedianSerializer(required=False, allow_null=True)


class PilotsByStatusSerializer(serializers.Serializer):
    proposed = serializers.IntegerField()
    active = serializers.IntegerField()
    completed = serializers.IntegerField()
    stopped = serializers.IntegerField()


class _FiguresSerializer(serializers.Serializer):
    members = serializers.IntegerField()
    open_calls = serializers.IntegerField()
    credits_granted_millicredits = serializers.IntegerField(source="granted")
    credits_granted = serializers.SerializerMethodField()
    credits_used_millicredits = serializers.IntegerField(source="used")
    credits_used = serializers.SerializerMethodField()
    pilots = serializers.IntegerField()
    pilots_by_status = PilotsByStatusSerializer()
    case_studies = serializers.IntegerField()
    median_days_to_decision = MediansByTrackSerializer(source="median_days")

    def get_credits_granted(self, obj) -> str:
        return credits(obj["granted"])

    def get_credits_used(self, obj) -> str:
        return credits(obj["used"])


class HubFiguresSerializer(_FiguresSerializer):
    slug = serializers.SlugField()
    name = serializers.CharField()
    country = serializers.CharField()
    pilots_by_sector = serializers.DictField(child=serializers.IntegerField(), help_text="sector -> pilots")
    adaptations_started = serializers.IntegerField(help_text="Pilots this hub adapted from other hubs")
    adapted_elsewhere = serializers.IntegerField(help_text="Times other hubs adapted this hub's pilots")


class NetworkFiguresSerializer(_FiguresSerializer):
    hubs = serializers.IntegerField()
    countries = serializers.IntegerField()
    adaptations = serializers.IntegerField(help_text="Pilots adapted from another hub")


class NetworkStatisticsSerializer(serializers.Serializer):
    computed_at = serializers.DateTimeField()
    network = NetworkFiguresSerializer()
    hubs = HubFiguresSerializer(many=True)
    pilots_by_sector_and_status = serializers.DictField(
        source="sector_status", child=PilotsByStatusSerializer(), help_text="sector -> status -> pilots"
    )


@extend_schema(
    tags=["statistics"],
    summary="Network statistics",
    description=(
        "Per public hub and for the whole network: members, open calls, credits granted and used, pilots by "
        f"sector and status, case studies, adaptations, and the median days from submission to decision per "
        f"track ({', '.join(Track.values)}). Public; refreshed every few minutes."
    ),
    responses={200: NetworkStatisticsSerializer},
)
class NetworkStatisticsView(APIView):
    permission_classes = [permissions.AllowAny]

    def get(self, request):
        return Response(NetworkStatisticsSerializer(network_statistics()).data)
