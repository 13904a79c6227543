"""API v1 for hubs, organisations, the signed-in person and memberships.

One view per operation, an input and an output serializer per endpoint; objects come
from the access layer; transitions call the same services as the pages and the admin.
"""

import django_filters
from django.db.models import Count, Q
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import generics, permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from gigafactory.api import ApiKeyScopePermission, IsSignedInUser, IsStaffWithMfa, SlugRelatedField, api_key_of

from . import access, selectors, services
from .models import Hub, Membership, MembershipStatus, Organisation, Role, Sector

# --- Serializers ----------------------------------------------------------------------------


class HubSerializer(serializers.ModelSerializer):
    member_count = serializers.IntegerField(read_only=True)
    focus_sectors = serializers.ListField(child=serializers.ChoiceField(choices=Sector.choices))

    class Meta:
        model = Hub
        fields = ["slug", "name", "city", "country", "description", "focus_sectors", "contact_email", "member_count"]


class OrganisationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organisation
        fields = ["id", "name", "kind", "country", "website"]

    def validate(self, attrs):
        # The database's unique index is on lower(name) + country, which DRF cannot see.
        if Organisation.objects.filter(name__iexact=attrs["name"], country=attrs["country"]).exists():
            raise serializers.ValidationError({"name": [services.ORGANISATION_EXISTS]})
        return attrs


class MeSerializer(serializers.Serializer):
    email = serializers.EmailField(read_only=True)
    name = serializers.CharField(max_length=150, required=False)
    orcid = serializers.CharField(max_length=19, required=False, allow_blank=True)
    organisation = serializers.PrimaryKeyRelatedField(
        queryset=Organisation.objects.all(), required=False, allow_null=True
    )
    affiliation = serializers.CharField(max_length=200, required=False, allow_blank=True)
    country = serializers.CharField(max_length=2, required=False, allow_blank=True)
    expertise = serializers.CharField(required=False, allow_blank=True)
    email_notifications = serializers.BooleanField(required=False)


class MembershipSerializer(serializers.ModelSerializer):
    hub = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    user = serializers.SerializerMethodField()

    class Meta:
        model = Membership
        fields = ["id", "hub", "user", "role", "status", "motivation", "decision_note", "created_at", "decided_at"]

    def get_user(self, obj) -> dict:
        return {"id": obj.user_id, "name": obj.user.display_name, "email": obj.user.email}


class MembershipRequestSerializer(serializers.Serializer):
    hub = SlugRelatedField(slug_field="slug", queryset=Hub.objects.all())
    motivation = serializers.CharField(max_length=2000)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            # Private hubs are not offered to people who cannot see them.
            self.fields["hub"].queryset = access.visible_hubs(request.user)

    def validate_hub(self, hub):
        key = api_key_of(self.context["request"]) if "request" in self.context else None
        if key is not None and key.hub_id != hub.pk:
            raise serializers.ValidationError(f"This API key only works for {key.hub}.")
        return hub


class DecisionSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class RoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


# --- Hubs and organisations ---------------------------------------------------------------


class HubFilter(django_filters.FilterSet):
    country = django_filters.CharFilter()
    sector = django_filters.ChoiceFilter(choices=Sector.choices, method="filter_sector")

    class Meta:
        model = Hub
        fields = ["country", "sector"]

    def filter_sector(self, queryset, name, value):
        return queryset.filter(focus_sectors__icontains=f'"{value}"')


def _hubs_with_counts(user):
    return access.visible_hubs(user).annotate(
        member_count=Count("memberships", filter=Q(memberships__status=MembershipStatus.ACTIVE))
    )


@extend_schema(tags=["hubs"], auth=[], summary="List the network's hubs")
class HubListView(generics.ListAPIView):
    permission_classes = [permissions.AllowAny]
    serializer_class = HubSerializer
    filterset_class = HubFilter
    search_fields = ["name", "city", "description"]
    ordering_fields = ["name", "city", "country"]

    def get_queryset(self):
        return _hubs_with_counts(self.request.user).order_by("name")


@extend_schema(tags=["hubs"], auth=[], summary="One hub")
class HubDetailView(generics.RetrieveAPIView):
    permission_classes = [permissions.AllowAny]
    serializer_class = HubSerializer
    lookup_field = "slug"

    def get_queryset(self):
        return _hubs_with_counts(self.request.user)


@extend_schema(tags=["organisations"])
class OrganisationListView(generics.ListCreateAPIView):
    serializer_class = OrganisationSerializer
    filterset_fields = ["kind", "country"]
    search_fields = ["name"]
    ordering_fields = ["name"]
    queryset = Organisation.objects.order_by("name")

    def get_permissions(self):
        if self.request.method == "POST":
            return [*super().get_permissions(), IsSignedInUser()]
        return [permissions.AllowAny()]

    @extend_schema(summary="List organisations", auth=[])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(summary="Register an organisation")
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

    def perform_create(self, serializer):
        serializer.instance = services.organisation_create(acting_user=self.request.user, **serializer.validated_data)


# --- Me -----------------------------------------------------------------------------------


def _me_data(user):
    profile = selectors.profile_of(user)
    return {
        "email": user.email,
        "name": user.name,
        "orcid": profile.orcid,
        "organisation": profile.organisation,
        "affiliation": profile.affiliation,
        "country": profile.country,
        "expertise": profile.expertise,
        "email_notifications": profile.email_notifications,
    }


class MeView(APIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUser]

    @extend_schema(tags=["me"], summary="Your profile", responses=MeSerializer)
    def get(self, request):
        return Response(MeSerializer(_me_data(request.user)).data)

    @extend_schema(
        tags=["me"],
        summary="Update your profile",
        request=MeSerializer,
        responses={200: MeSerializer, 400: OpenApiResponse(description="A message per invalid field")},
        examples=[OpenApiExample("Set ORCID iD", value={"name": "Ada Lovelace", "orcid": "0000-0002-1825-0097"})],
    )
    def patch(self, request):
        serializer = MeSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        name = fields.pop("name", None)
        services.profile_update(user=request.user, name=name, **fields)
        return Response(MeSerializer(_me_data(request.user)).data)


# --- Memberships --------------------------------------------------------------------------


class MyMembershipListView(generics.ListAPIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUser]
    serializer_class = MembershipSerializer
    filterset_fields = ["status", "role"]

    queryset = Membership.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Membership.objects.none()
        qs = Membership.objects.filter(user=self.request.user).select_related("hub", "user").order_by("hub__name")
        key = api_key_of(self.request)
        return qs.filter(hub=key.hub_id) if key else qs

    @extend_schema(tags=["memberships"], summary="Your memberships and requests")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["memberships"],
        summary="Ask to join a hub",
        request=MembershipRequestSerializer,
        responses={201: MembershipSerializer, 409: OpenApiResponse(description="Already a member or pending")},
        examples=[OpenApiExample("Join Lyon", value={"hub": "lyon", "motivation": "Medical imaging research"})],
    )
    def post(self, request):
        serializer = MembershipRequestSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        membership = services.membership_request(user=request.user, **serializer.validated_data)
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)


class MembershipLeaveView(APIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUser]

    @extend_schema(
        tags=["memberships"],
        summary="Leave a hub (or withdraw a request)",
        request=None,
        responses={200: MembershipSerializer, 409: OpenApiResponse(description="Not allowed now")},
    )
    def post(self, request, pk):
        membership = access.membership_of_user(request.user, pk, api_key=api_key_of(request))
        services.membership_leave(membership=membership, acting_user=request.user)
        return Response(MembershipSerializer(membership).data)


class HubMembershipListView(generics.ListAPIView):
    """Staff: everyone who is, was or wants to be a member of one of your hubs."""

    permission_classes = [ApiKeyScopePermission, IsStaffWithMfa]
    serializer_class = MembershipSerializer
    filterset_fields = ["status", "role"]
    search_fields = ["user__email", "user__name"]

    queryset = Membership.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Membership.objects.none()
        hub = access.hub_for_staff(self.request.user, self.kwargs["slug"], api_key_of(self.request))
        return selectors.hub_members(hub)

    @extend_schema(tags=["memberships"], summary="Members of a hub you run")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


MEMBERSHIP_TRANSITIONS = {
    "approve": services.membership_approve,
    "reject": services.membership_reject,
    "suspend": services.membership_suspend,
    "reinstate": services.membership_reinstate,
}


class MembershipDecisionView(APIView):
    permission_classes = [ApiKeyScopePermission, IsStaffWithMfa]
    action = ""

    def post(self, request, pk):
        serializer = DecisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = access.membership_for_staff(request.user, pk, api_key=api_key_of(request))
        MEMBERSHIP_TRANSITIONS[self.action](
            membership=membership, acting_user=request.user, note=serializer.validated_data["note"]
        )
        return Response(MembershipSerializer(membership).data)


def decision_view(action):
    """One view class per transition, each with its own documented operation."""

    def post(self, request, pk):
        return MembershipDecisionView.post(self, request, pk)

    post = extend_schema(
        tags=["memberships"],
        summary=f"{action.title()} a membership (staff)",
        operation_id=f"membership_{action}",
        request=DecisionSerializer,
        responses={200: MembershipSerializer, 409: OpenApiResponse(description="Transition not allowed")},
    )(post)
    return type(f"Membership{action.title()}View", (MembershipDecisionView,), {"action": action, "post": post})


class MembershipRoleView(APIView):
    permission_classes = [ApiKeyScopePermission, IsStaffWithMfa]

    @extend_schema(
        tags=["memberships"],
        summary="Change a member's role",
        request=RoleSerializer,
        responses={200: MembershipSerializer, 409: OpenApiResponse(description="Not an active member")},
    )
    def post(self, request, pk):
        serializer = RoleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = access.membership_for_staff(request.user, pk, api_key=api_key_of(request))
        services.membership_change_role(
            membership=membership, role=serializer.validated_data["role"], acting_user=request.user
        )
        return Response(MembershipSerializer(membership).data)
