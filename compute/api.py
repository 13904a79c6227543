"""API v1 for the compute catalogue: calls and compute resources (public reads).

One view per operation, an output serializer per endpoint, querysets from the selectors.
Every amount appears twice: ``*_millicredits`` (an integer, exact) and ``*_credits`` (the
same amount as a human-readable string, e.g. ``"12,345.5"``). One credit is one H100-class
GPU-hour and 1,000 millicredits.
"""

import django_filters
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import generics, permissions, serializers

from gigafactory.api import api_key_of
from hubs.models import OrganisationKind

from . import selectors
from .models import Call, ComputeResource, FundingKind, Track, credits

# --- Serializers ----------------------------------------------------------------------------


@extend_schema_field({"type": "string", "example": "12,345.5", "description": "The amount in credits, formatted"})
class CreditsField(serializers.Field):
    """An amount in millicredits, shown as credits ("12,345.5")."""

    def __init__(self, **kwargs):
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value):
        return credits(value)


class HubRefSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()


class ProviderRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    website = serializers.URLField(allow_blank=True)


def _enum(choices, description: str) -> dict:
    """An inline enum in the schema (named enum components would collide with the hubs' ones)."""
    return {"type": "string", "enum": [value for value, _label in choices], "description": description}


@extend_schema_field(_enum(FundingKind.choices, "eu, national, regional or private"))
class FundingKindField(serializers.CharField):
    pass


@extend_schema_field(
    _enum(
        selectors.Phase.choices, "Where the call's window stands: open (applications accepted now), upcoming or closed"
    )
)
class PhaseField(serializers.Field):
    """The call's phase at the time of the request (the view puts ``now`` in the context)."""

    def __init__(self, **kwargs):
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, call):
        return selectors.phase_of(call, self.context.get("now"))


@extend_schema_field(_enum(OrganisationKind.choices, "An organisation kind"))
class OrganisationKindField(serializers.CharField):
    pass


class FundingSourceRefSerializer(serializers.Serializer):
    name = serializers.CharField()
    kind = FundingKindField()
    reference = serializers.CharField(allow_blank=True)


class ResourceSerializer(serializers.ModelSerializer):
    provider = ProviderRefSerializer(read_only=True)
    hub = HubRefSerializer(read_only=True)
    rate_millicredits = serializers.IntegerField(read_only=True, help_text="Millicredits charged per GPU-hour")
    rate_credits = CreditsField(source="rate_millicredits", help_text="Credits charged per GPU-hour")

    class Meta:
        model = ComputeResource
        fields = [
            "id",
            "name",
            "gpu_model",
            "provider",
            "hub",
            "rate_millicredits",
            "rate_credits",
            "monthly_capacity_gpu_hours",
            "slurm_partition",
            "active",
        ]
        read_only_fields = fields


class RubricCriterionSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()


class CallSerializer(serializers.ModelSerializer):
    hub = HubRefSerializer(read_only=True)
    funding_source = FundingSourceRefSerializer(read_only=True)
    track_label = serializers.CharField(source="get_track_display", read_only=True)
    phase = PhaseField()
    max_request_millicredits = serializers.IntegerField(read_only=True, help_text="Limit per application")
    max_request_credits = CreditsField(source="max_request_millicredits", help_text="Limit per application")
    playground_grant_millicredits = serializers.IntegerField(
        read_only=True, help_text="Playground: the fixed grant every approved application gets"
    )
    playground_grant_credits = CreditsField(source="playground_grant_millicredits")
    web_url = serializers.SerializerMethodField(help_text="The call's page in the portal")

    budget_funded_millicredits = serializers.IntegerField(
        source="funded_millicredits", read_only=True, help_text="Put into the call's budget by its funding source"
    )
    budget_funded_credits = CreditsField(source="funded_millicredits")
    budget_granted_millicredits = serializers.IntegerField(
        source="granted_millicredits", read_only=True, help_text="Granted from the budget to allocations"
    )
    budget_granted_credits = CreditsField(source="granted_millicredits")
    budget_used_millicredits = serializers.IntegerField(
        source="used_millicredits", read_only=True, help_text="GPU usage charged to the call's allocations"
    )
    budget_used_credits = CreditsField(source="used_millicredits")
    budget_left_millicredits = serializers.IntegerField(
        source="left_millicredits", read_only=True, help_text="Still available for new grants (the ledger balance)"
    )
    budget_left_credits = CreditsField(source="left_millicredits")

    class Meta:
        model = Call
        fields = [
            "slug",
            "title",
            "hub",
            "track",
            "track_label",
            "phase",
            "opens_at",
            "closes_at",
            "funding_source",
            "max_request_millicredits",
            "max_request_credits",
            "playground_grant_millicredits",
            "playground_grant_credits",
            "budget_funded_millicredits",
            "budget_funded_credits",
            "budget_granted_millicredits",
            "budget_granted_credits",
            "budget_used_millicredits",
            "budget_used_credits",
            "budget_left_millicredits",
            "budget_left_credits",
            "allocation_days",
            "web_url",
        ]
        read_only_fields = fields

    def get_web_url(self, obj) -> str:
        request = self.context.get("request")
        path = obj.get_absolute_url()
        return request.build_absolute_uri(path) if request is not None else path


class CallDetailSerializer(CallSerializer):
    review_cutoffs = serializers.ListField(
        child=serializers.DateField(), read_only=True, help_text="Peer review: dates on which batches are decided"
    )
    allowed_org_kinds = serializers.ListField(
        child=OrganisationKindField(),
        read_only=True,
        help_text="Organisation kinds that may apply; empty means every kind",
    )
    rubric = RubricCriterionSerializer(many=True, read_only=True, help_text="Peer review: criteria scored 1 to 5")
    eligible_resources = serializers.SerializerMethodField()

    class Meta(CallSerializer.Meta):
        fields = [
            *CallSerializer.Meta.fields,
            "description",
            "review_cutoffs",
            "allowed_org_kinds",
            "min_reviewers",
            "rubric",
            "eligible_resources",
        ]
        read_only_fields = fields

    @extend_schema_field(ResourceSerializer(many=True))
    def get_eligible_resources(self, obj):
        return ResourceSerializer(selectors.call_resources(obj), many=True).data


# --- Examples ---------------------------------------------------------------------------------

RESOURCE_EXAMPLE = {
    "id": 7,
    "name": "Jean Zay H100 partition",
    "gpu_model": "NVIDIA H100 80GB",
    "provider": {"id": 3, "name": "IDRIS", "website": "https://www.idris.fr"},
    "hub": {"slug": "lyon", "name": "Lyon AI Gigafactory"},
    "rate_millicredits": 1000,
    "rate_credits": "1",
    "monthly_capacity_gpu_hours": 250000,
    "slurm_partition": "gpu_h100",
    "active": True,
}

CALL_EXAMPLE = {
    "slug": "lyon-fast-lane-2026",
    "title": "Lyon fast lane 2026",
    "hub": {"slug": "lyon", "name": "Lyon AI Gigafactory"},
    "track": "fast_lane",
    "track_label": "Fast lane",
    "phase": "open",
    "opens_at": "2026-01-05T09:00:00+01:00",
    "closes_at": "2026-12-18T17:00:00+01:00",
    "funding_source": {"name": "EuroHPC AI Factories", "kind": "eu", "reference": "GA 101234567"},
    "max_request_millicredits": 50000000,
    "max_request_credits": "50,000",
    "playground_grant_millicredits": 0,
    "playground_grant_credits": "0",
    "budget_funded_millicredits": 2000000000,
    "budget_funded_credits": "2,000,000",
    "budget_granted_millicredits": 350500000,
    "budget_granted_credits": "350,500",
    "budget_used_millicredits": 120250500,
    "budget_used_credits": "120,250.5",
    "budget_left_millicredits": 1649500000,
    "budget_left_credits": "1,649,500",
    "allocation_days": 180,
    "web_url": "https://portal.example.eu/calls/lyon-fast-lane-2026/",
}

CALL_DETAIL_EXAMPLE = {
    **CALL_EXAMPLE,
    "description": "GPU time for startups and researchers of the Lyon hub; decided in seconds.",
    "review_cutoffs": [],
    "allowed_org_kinds": ["university", "startup", "sme"],
    "min_reviewers": 2,
    "rubric": [
        {"key": "excellence", "label": "Scientific or technical excellence"},
        {"key": "impact", "label": "Expected impact"},
    ],
    "eligible_resources": [RESOURCE_EXAMPLE],
}


def _page_example(name, item):
    """drf-spectacular wraps a list example in the paginated envelope itself: give one item."""
    return OpenApiExample(name, value=item, response_only=True)


# --- Calls --------------------------------------------------------------------------------


class CallFilter(django_filters.FilterSet):
    hub = django_filters.CharFilter(field_name="hub__slug", help_text="Hub slug, e.g. `lyon`")
    track = django_filters.ChoiceFilter(choices=Track.choices)
    open = django_filters.BooleanFilter(
        method="filter_open", help_text="`true`: open for applications now; `false`: upcoming or closed"
    )
    phase = django_filters.ChoiceFilter(
        choices=selectors.Phase.choices, method="filter_phase", help_text="open, upcoming or closed"
    )

    class Meta:
        model = Call
        fields = ["hub", "track", "open", "phase"]

    def filter_open(self, queryset, name, value):
        now = timezone.now()
        is_open = {"opens_at__lte": now, "closes_at__gt": now}
        return queryset.filter(**is_open) if value else queryset.exclude(**is_open)

    def filter_phase(self, queryset, name, value):
        return queryset.filter(selectors.phase_filter(value, timezone.now()))


class _CallContextMixin:
    def get_serializer_context(self):
        return {**super().get_serializer_context(), "now": timezone.now()}


@extend_schema(
    tags=["calls"],
    summary="List calls for GPU credits",
    description=(
        "Published calls of every public hub (and of private hubs you belong to), open ones first, "
        "each with its budget figures from the ledger. Public: no key needed."
    ),
    responses={200: CallSerializer(many=True)},
    examples=[_page_example("An open fast-lane call", CALL_EXAMPLE)],
)
class CallListView(_CallContextMixin, generics.ListAPIView):
    permission_classes = [permissions.AllowAny]
    serializer_class = CallSerializer
    filterset_class = CallFilter
    search_fields = ["title", "description", "hub__name"]
    ordering_fields = ["closes_at", "opens_at", "title"]
    queryset = Call.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Call.objects.none()
        return selectors.calls_list(user=self.request.user, api_key=api_key_of(self.request))


@extend_schema(
    tags=["calls"],
    summary="One call, with its rules and eligible resources",
    parameters=[OpenApiParameter("slug", OpenApiTypes.STR, OpenApiParameter.PATH, description="The call's slug")],
    responses={200: CallDetailSerializer, 404: OpenApiResponse(description="No such published call")},
    examples=[OpenApiExample("A fast-lane call", value=CALL_DETAIL_EXAMPLE, response_only=True)],
)
class CallDetailView(_CallContextMixin, generics.RetrieveAPIView):
    permission_classes = [permissions.AllowAny]
    serializer_class = CallDetailSerializer
    lookup_field = "slug"
    queryset = Call.objects.none()

    def get_object(self):
        return selectors.call_detail(self.kwargs["slug"], user=self.request.user, api_key=api_key_of(self.request))


# --- Resources ----------------------------------------------------------------------------


class ResourceFilter(django_filters.FilterSet):
    hub = django_filters.CharFilter(field_name="hub__slug", help_text="Hub slug, e.g. `lyon`")
    provider = django_filters.NumberFilter(field_name="provider_id", help_text="Provider id")
    gpu_model = django_filters.CharFilter(lookup_expr="icontains", help_text="Part of the GPU model, e.g. `H100`")
    call = django_filters.CharFilter(field_name="calls__slug", help_text="Only resources eligible for this call")
    active = django_filters.BooleanFilter()

    class Meta:
        model = ComputeResource
        fields = ["hub", "provider", "gpu_model", "call", "active"]


@extend_schema(
    tags=["resources"],
    summary="List compute resources and their rates",
    description="GPU resources of the network's providers, with the rate charged per GPU-hour. Public.",
    responses={200: ResourceSerializer(many=True)},
    examples=[_page_example("An H100 partition", RESOURCE_EXAMPLE)],
)
class ResourceListView(generics.ListAPIView):
    permission_classes = [permissions.AllowAny]
    serializer_class = ResourceSerializer
    filterset_class = ResourceFilter
    search_fields = ["name", "gpu_model", "provider__name"]
    ordering_fields = ["name", "rate_millicredits", "gpu_model"]
    queryset = ComputeResource.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ComputeResource.objects.none()
        return selectors.resources_list(user=self.request.user, api_key=api_key_of(self.request))


@extend_schema(
    tags=["resources"],
    summary="One compute resource",
    responses={200: ResourceSerializer, 404: OpenApiResponse(description="No such resource")},
    examples=[OpenApiExample("An H100 partition", value=RESOURCE_EXAMPLE, response_only=True)],
)
class ResourceDetailView(generics.RetrieveAPIView):
    permission_classes = [permissions.AllowAny]
    serializer_class = ResourceSerializer
    queryset = ComputeResource.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ComputeResource.objects.none()
        return selectors.visible_resources(self.request.user, api_key=api_key_of(self.request))
