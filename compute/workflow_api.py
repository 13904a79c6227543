"""API v1 for the GPU-credit workflow: projects, applications, reviews, allocations, the
ledger statement and usage records.

One view per operation, an input and an output serializer per endpoint; objects come from
``compute.access`` (or the two visibility functions below for allocations and usage, which
also serve partner keys); every write calls the same service as the pages and the admin.

Who may do what:

- people (a browser session or a personal key) work on their projects and applications;
  a personal key narrows everything to the key's hub;
- hub staff (with MFA) decide applications of their hubs and assign reviewers;
- reviewers read and submit the reviews assigned to them;
- partner keys read the allocations that can run on their providers' resources, the
  statement of those allocations and their own usage records, and post usage in bulk.

Reads work with a read key; every write needs a write key (``ApiKeyScopePermission``).
Amounts are integers in millicredits (``*_millicredits``) with the same amount as a
formatted string of credits next to them (``*_credits``): 1 credit = 1,000 millicredits
= one H100-class GPU-hour.
"""

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import (
    Case,
    Count,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.urls import NoReverseMatch
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import exceptions, generics, pagination, permissions, serializers, status
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from gigafactory.api import (
    ApiKeyScopePermission,
    FilterBackend,
    IsSignedInUser,
    IsStaffWithMfa,
    SlugRelatedField,
    api_key_of,
)
from hubs.models import Hub, MembershipStatus, Organisation, User

from . import access, selectors, services
from .api import CreditsField, HubRefSerializer, ProviderRefSerializer, RubricCriterionSerializer
from .models import (
    AccountKind,
    Allocation,
    AllocationStatus,
    Application,
    AppStatus,
    Call,
    ComputeProvider,
    ComputeResource,
    DataSensitivity,
    Entry,
    Project,
    ProjectMember,
    ProjectRole,
    Recommendation,
    Review,
    ReviewStatus,
    ScreeningResult,
    Track,
    TransactionKind,
    UsageRecord,
)
from .usage import MAX_RECORDS, UsageRejected, usage_ingest

# Reviewers' comments for the applicant are shared with the outcome, not while staff decide
# (the same rule as the application page).
COMMENTS_SHOWN_IN = (AppStatus.CHANGES_REQUESTED, AppStatus.APPROVED, AppStatus.REJECTED, AppStatus.WITHDRAWN)

ERROR_400 = OpenApiResponse(description="Invalid input: a message per field")
ERROR_403 = OpenApiResponse(description="Not allowed: wrong kind of caller, not staff, or a read-only key")
ERROR_404 = OpenApiResponse(description="No such object, or not one you may see (e.g. another hub's)")
ERROR_409 = OpenApiResponse(description="The transition is not allowed in the object's current state")


# --- Permissions ----------------------------------------------------------------------------


def _partner_key(request):
    key = api_key_of(request)
    return key if key is not None and key.partner_id is not None else None


class IsPartnerKey(permissions.BasePermission):
    message = "Only partner systems report usage: use a partner system's API key."

    def has_permission(self, request, view):
        return _partner_key(request) is not None


class IsSignedInUserOrPartner(permissions.BasePermission):
    message = "Sign in, or use a personal or partner API key."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated) or _partner_key(request) is not None


# --- Small helpers --------------------------------------------------------------------------


def _web_url(request, obj) -> str:
    try:
        path = obj.get_absolute_url()
    except NoReverseMatch:  # the page is not wired in this deployment
        return ""
    return request.build_absolute_uri(path) if request is not None else path


def _inline_enum(choices, description: str) -> dict:
    """An inline enum (a named component would collide with another model's field of the same name)."""
    return {"type": "string", "enum": [value for value, _label in choices], "description": description}


# Not an enum in the schema: a "role" enum would collide with the hub membership roles.
@extend_schema_field(
    {"type": "string", "description": "`pi` (principal investigator) or `member`", "example": ProjectRole.MEMBER.value}
)
class ProjectRoleField(serializers.CharField):
    pass


@extend_schema_field(_inline_enum(TransactionKind.choices, "fund, grant, usage, expiry or adjustment"))
class TransactionKindField(serializers.CharField):
    pass


def _own_project_ids(user):
    return ProjectMember.objects.filter(user=user).values("project_id")


# --- Reference serializers ------------------------------------------------------------------


class UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(source="display_name", read_only=True)


class ProjectRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    title = serializers.CharField(read_only=True)


class CallRefSerializer(serializers.Serializer):
    slug = serializers.SlugField(read_only=True)
    title = serializers.CharField(read_only=True)
    track = serializers.ChoiceField(choices=Track.choices, read_only=True)


class OrganisationRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)


class ResourceRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    gpu_model = serializers.CharField(read_only=True)


# --- Projects: serializers ------------------------------------------------------------------


class ProjectSerializer(serializers.ModelSerializer):
    hub = HubRefSerializer(read_only=True)
    pi = UserRefSerializer(read_only=True)
    organisation = OrganisationRefSerializer(read_only=True, allow_null=True)
    member_count = serializers.IntegerField(read_only=True)
    web_url = serializers.SerializerMethodField(help_text="The project's page in the portal")

    class Meta:
        model = Project
        fields = ["id", "title", "summary", "hub", "pi", "organisation", "member_count", "created_at", "web_url"]
        read_only_fields = fields

    def get_web_url(self, obj) -> str:
        return _web_url(self.context.get("request"), obj)


class ProjectMemberSerializer(serializers.Serializer):
    user = UserRefSerializer(read_only=True)
    role = ProjectRoleField(read_only=True)
    added_at = serializers.DateTimeField(read_only=True)


class ProjectDetailSerializer(ProjectSerializer):
    members = ProjectMemberSerializer(source="api_members", many=True, read_only=True)
    can_manage = serializers.BooleanField(
        source="api_can_manage", read_only=True, help_text="You may add and remove members (PI or hub staff)"
    )

    class Meta(ProjectSerializer.Meta):
        fields = [*ProjectSerializer.Meta.fields, "members", "can_manage"]
        read_only_fields = fields


class ProjectCreateSerializer(serializers.Serializer):
    hub = SlugRelatedField(
        slug_field="slug", queryset=Hub.objects.all(), help_text="The hub the team belongs to (you must be a member)"
    )
    title = serializers.CharField(max_length=200)
    summary = serializers.CharField(required=False, allow_blank=True, default="")
    organisation = serializers.PrimaryKeyRelatedField(
        queryset=Organisation.objects.all(), required=False, allow_null=True, default=None
    )

    def validate_hub(self, hub):
        key = api_key_of(self.context["request"])
        if key is not None and key.hub_id != hub.pk:
            raise serializers.ValidationError(f"This API key only works for {key.hub}.")
        return hub


class ProjectMemberAddSerializer(serializers.Serializer):
    email = serializers.EmailField(help_text="Someone with an account on the portal, from any hub")


USER_REF_EXAMPLE = {"id": 42, "name": "Ada Lovelace"}
HUB_REF_EXAMPLE = {"slug": "lyon", "name": "Lyon AI Gigafactory"}
PROJECT_EXAMPLE = {
    "id": 12,
    "title": "Radiology foundation model",
    "summary": "An open model for anonymised chest X-rays.",
    "hub": HUB_REF_EXAMPLE,
    "pi": USER_REF_EXAMPLE,
    "organisation": {"id": 3, "name": "Université Claude Bernard Lyon 1"},
    "member_count": 2,
    "created_at": "2026-02-03T10:15:00+01:00",
    "web_url": "https://portal.example.eu/projects/12/",
}
MEMBER_EXAMPLE = {"user": {"id": 57, "name": "Tom Teammate"}, "role": "member", "added_at": "2026-02-04T09:00:00+01:00"}
PROJECT_DETAIL_EXAMPLE = {
    **PROJECT_EXAMPLE,
    "members": [{"user": USER_REF_EXAMPLE, "role": "pi", "added_at": "2026-02-03T10:15:00+01:00"}, MEMBER_EXAMPLE],
    "can_manage": True,
}


def _page_example(name, item):
    """An example of one list item: drf-spectacular wraps it in the paginated envelope itself."""
    return OpenApiExample(name, value=item, response_only=True)


# --- Projects: views ------------------------------------------------------------------------


def _projects(request):
    return (
        access.projects_visible_to(request.user, api_key_of(request))
        .select_related("hub", "pi", "organisation")
        .annotate(member_count=_member_count())
    )


def _member_count():
    """COUNT of the team as a correlated subquery: no GROUP BY over the whole list (nor its count)."""
    counted = ProjectMember.objects.filter(project=OuterRef("pk")).order_by().values("project").annotate(n=Count("pk"))
    return Coalesce(Subquery(counted.values("n")[:1], output_field=IntegerField()), Value(0))


def _project_detail(request, project):
    project.api_members = list(
        ProjectMember.objects.filter(project=project).select_related("user").order_by("-role", "user__name", "pk")
    )
    project.member_count = len(project.api_members)
    project.api_can_manage = access.can_manage_project(request.user, project)
    return ProjectDetailSerializer(project, context={"request": request}).data


class ProjectFilter(django_filters.FilterSet):
    hub = django_filters.CharFilter(field_name="hub__slug", help_text="Hub slug, e.g. `lyon`")
    mine = django_filters.BooleanFilter(
        method="filter_mine", help_text="`true`: only projects you are on the team of (staff also see their hubs')"
    )

    class Meta:
        model = Project
        fields = ["hub", "mine"]

    def filter_mine(self, queryset, name, value):
        mine = Q(pk__in=_own_project_ids(self.request.user))
        return queryset.filter(mine) if value else queryset.exclude(mine)


class ProjectListView(generics.ListAPIView):
    """Projects you are on the team of; hub staff also see the projects of their hubs."""

    permission_classes = [ApiKeyScopePermission, IsSignedInUser]
    serializer_class = ProjectSerializer
    filterset_class = ProjectFilter
    search_fields = ["title", "summary"]
    ordering_fields = ["title", "created_at"]
    queryset = Project.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Project.objects.none()
        return _projects(self.request).order_by("title", "pk")

    @extend_schema(
        tags=["projects"],
        summary="Your projects (staff: also your hubs' projects)",
        examples=[_page_example("A project", PROJECT_EXAMPLE)],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["projects"],
        summary="Create a project team (you become its PI)",
        request=ProjectCreateSerializer,
        responses={201: ProjectDetailSerializer, 400: ERROR_400, 403: ERROR_403},
        examples=[
            OpenApiExample(
                "A team at Lyon",
                value={"hub": "lyon", "title": "Radiology foundation model", "summary": "Open chest X-ray model"},
                request_only=True,
            ),
            OpenApiExample("Created", value=PROJECT_DETAIL_EXAMPLE, response_only=True, status_codes=["201"]),
        ],
    )
    def post(self, request):
        serializer = ProjectCreateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        project = services.project_create(acting_user=request.user, **serializer.validated_data)
        project = access.project_for(request.user, project.pk, api_key=api_key_of(request))
        return Response(_project_detail(request, project), status=status.HTTP_201_CREATED)


@extend_schema(
    tags=["projects"],
    summary="One project with its team",
    responses={200: ProjectDetailSerializer, 404: ERROR_404},
    examples=[OpenApiExample("A project", value=PROJECT_DETAIL_EXAMPLE, response_only=True)],
)
class ProjectDetailView(APIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUser]

    def get(self, request, pk):
        project = access.project_for(request.user, pk, api_key=api_key_of(request))
        return Response(_project_detail(request, project))


class ProjectMemberAddView(APIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUser]

    @extend_schema(
        tags=["projects"],
        summary="Add someone (from any hub) to the team: the PI or hub staff",
        request=ProjectMemberAddSerializer,
        responses={201: ProjectMemberSerializer, 400: ERROR_400, 403: ERROR_403, 404: ERROR_404},
        examples=[
            OpenApiExample("Add by e-mail", value={"email": "tom@univ-lyon1.fr"}, request_only=True),
            OpenApiExample("Added", value=MEMBER_EXAMPLE, response_only=True, status_codes=["201"]),
        ],
    )
    def post(self, request, pk):
        project = access.project_for(request.user, pk, api_key=api_key_of(request))
        serializer = ProjectMemberAddSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        email = serializer.validated_data["email"]
        person = User.objects.filter(email__iexact=email).first()
        if person is None:
            raise serializers.ValidationError(
                {"email": [f"No one has an account with {email}. Ask them to sign up first."]}
            )
        try:
            member = services.project_add_member(project=project, user=person, acting_user=request.user)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"email": exc.messages}) from exc
        return Response(ProjectMemberSerializer(member).data, status=status.HTTP_201_CREATED)


class ProjectMemberRemoveView(APIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUser]

    @extend_schema(
        tags=["projects"],
        summary="Remove someone from the team (the PI or hub staff; anyone may remove themself)",
        request=None,
        responses={204: None, 400: ERROR_400, 403: ERROR_403, 404: ERROR_404},
    )
    def delete(self, request, pk, user_id):
        project = access.project_for(request.user, pk, api_key=api_key_of(request))
        person = get_object_or_404(User, pk=user_id, project_memberships__project=project)
        services.project_remove_member(project=project, user=person, acting_user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Applications: serializers --------------------------------------------------------------


class ApplicationSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=AppStatus.choices, read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    call = CallRefSerializer(read_only=True)
    hub = HubRefSerializer(read_only=True)
    project = ProjectRefSerializer(read_only=True)
    applicant = UserRefSerializer(read_only=True)
    requested_millicredits = serializers.IntegerField(
        read_only=True, help_text="What the resource rows cost, as last saved or submitted"
    )
    requested_credits = CreditsField(source="requested_millicredits")
    granted_millicredits = serializers.IntegerField(read_only=True, allow_null=True, help_text="Set on approval")
    granted_credits = CreditsField(source="granted_millicredits", allow_null=True)
    web_url = serializers.SerializerMethodField(help_text="The application's page in the portal")

    class Meta:
        model = Application
        fields = [
            "id",
            "title",
            "status",
            "status_label",
            "call",
            "hub",
            "project",
            "applicant",
            "requested_millicredits",
            "requested_credits",
            "granted_millicredits",
            "granted_credits",
            "created_at",
            "updated_at",
            "submitted_at",
            "decided_at",
            "web_url",
        ]
        read_only_fields = fields

    def get_web_url(self, obj) -> str:
        return _web_url(self.context.get("request"), obj)


class ResourceRowSerializer(serializers.Serializer):
    resource = ResourceRefSerializer(read_only=True)
    gpu_hours = serializers.IntegerField(read_only=True)
    rate_millicredits = serializers.IntegerField(source="resource.rate_millicredits", read_only=True)
    millicredits = serializers.IntegerField(read_only=True, help_text="GPU-hours times the resource's rate")
    credits = CreditsField(source="millicredits")


class ScreeningResultSerializer(serializers.ModelSerializer):
    check = serializers.CharField(source="check_key", read_only=True)

    class Meta:
        model = ScreeningResult
        fields = ["check", "label", "passed", "reason", "created_at"]
        read_only_fields = fields


class AllocationSerializer(serializers.ModelSerializer):
    project = ProjectRefSerializer(read_only=True)
    call = CallRefSerializer(read_only=True)
    hub = HubRefSerializer(read_only=True)
    application = serializers.IntegerField(source="application_id", read_only=True)
    status = serializers.ChoiceField(choices=AllocationStatus.choices, read_only=True)
    granted_millicredits = serializers.IntegerField(read_only=True)
    granted_credits = CreditsField(source="granted_millicredits")
    used_millicredits = serializers.IntegerField(read_only=True, help_text="GPU usage charged, overage included")
    used_credits = CreditsField(source="used_millicredits")
    balance_millicredits = serializers.IntegerField(read_only=True, help_text="Still available (the ledger balance)")
    balance_credits = CreditsField(source="balance_millicredits")
    overage_millicredits = serializers.IntegerField(read_only=True, help_text="Usage beyond the grant")
    overage_credits = CreditsField(source="overage_millicredits")
    used_percent = serializers.IntegerField(read_only=True, help_text="Used as a percentage of the grant")
    resources = ResourceRefSerializer(
        source="call.eligible_resources.all",
        many=True,
        read_only=True,
        help_text="Resources the allocation may run on (the call's eligible resources)",
    )

    class Meta:
        model = Allocation
        fields = [
            "id",
            "project",
            "call",
            "hub",
            "application",
            "status",
            "starts_on",
            "ends_on",
            "slurm_account",
            "granted_millicredits",
            "granted_credits",
            "used_millicredits",
            "used_credits",
            "balance_millicredits",
            "balance_credits",
            "overage_millicredits",
            "overage_credits",
            "used_percent",
            "resources",
        ]
        read_only_fields = fields


class StaffReviewSerializer(serializers.ModelSerializer):
    reviewer = UserRefSerializer(read_only=True)
    status = serializers.ChoiceField(choices=ReviewStatus.choices, read_only=True)
    recommendation = serializers.ChoiceField(choices=Recommendation.choices, allow_blank=True, read_only=True)
    scores = serializers.DictField(child=serializers.IntegerField(), read_only=True)
    average_score = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = Review
        fields = [
            "id",
            "reviewer",
            "status",
            "recommendation",
            "scores",
            "average_score",
            "comment_for_applicant",
            "private_comment",
            "assigned_at",
            "submitted_at",
        ]
        read_only_fields = fields


class ApplicationDetailSerializer(ApplicationSerializer):
    data_sensitivity = serializers.ChoiceField(choices=DataSensitivity.choices, read_only=True)
    resource_rows = ResourceRowSerializer(source="api_rows", many=True, read_only=True)
    estimate_millicredits = serializers.IntegerField(
        source="api_estimate", read_only=True, help_text="The rows at today's rates (hours times rate)"
    )
    estimate_credits = CreditsField(source="api_estimate")
    screening = ScreeningResultSerializer(
        source="api_screening", many=True, read_only=True, help_text="Every check of the latest screening round"
    )
    reviewer_comments = serializers.ListField(
        source="api_comments",
        child=serializers.CharField(),
        read_only=True,
        help_text="What reviewers wrote for the applicant, shared with the outcome (never who wrote it)",
    )
    reviews = StaffReviewSerializer(
        source="api_reviews",
        many=True,
        read_only=True,
        help_text="Staff who may decide: every review with scores and private comments; empty for everyone else",
    )
    allocation = AllocationSerializer(source="api_allocation", read_only=True, allow_null=True)
    allowed_actions = serializers.ListField(
        source="api_actions",
        child=serializers.CharField(),
        read_only=True,
        help_text="What you may do now: edit, submit, withdraw, approve, reject, request_changes, assign_reviewers",
    )

    class Meta(ApplicationSerializer.Meta):
        fields = [
            *ApplicationSerializer.Meta.fields,
            "abstract",
            "justification",
            "duration_days",
            "data_sensitivity",
            "civilian_use",
            "ai_system_name",
            "decision_reason",
            "screening_round",
            "resource_rows",
            "estimate_millicredits",
            "estimate_credits",
            "screening",
            "reviewer_comments",
            "reviews",
            "allocation",
            "allowed_actions",
        ]
        read_only_fields = fields


class ResourceRowInSerializer(serializers.Serializer):
    resource = serializers.IntegerField(min_value=1, help_text="Id of a resource the call offers")
    gpu_hours = serializers.IntegerField(min_value=1, max_value=10**9)


class ApplicationFieldsSerializer(serializers.Serializer):
    """The applicant's fields; a draft may be incomplete (submission checks title, abstract and rows)."""

    title = serializers.CharField(max_length=200, required=False, allow_blank=True)
    abstract = serializers.CharField(max_length=10_000, required=False, allow_blank=True)
    justification = serializers.CharField(max_length=10_000, required=False, allow_blank=True)
    duration_days = serializers.IntegerField(min_value=1, max_value=3650, required=False)
    data_sensitivity = serializers.ChoiceField(choices=DataSensitivity.choices, required=False)
    civilian_use = serializers.BooleanField(
        required=False, help_text="I declare the work is for civilian purposes only"
    )
    ai_system_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    resource_rows = ResourceRowInSerializer(
        many=True, required=False, help_text="Replaces every resource row when given", max_length=50
    )


class ApplicationCreateSerializer(ApplicationFieldsSerializer):
    project = serializers.PrimaryKeyRelatedField(
        queryset=Project.objects.none(), help_text="A project you are on the team of"
    )
    call = SlugRelatedField(
        slug_field="slug", queryset=Call.objects.none(), help_text="The call's slug; it must accept applications"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            key = api_key_of(request)
            self.fields["project"].queryset = access.projects_visible_to(request.user, key).filter(
                pk__in=_own_project_ids(request.user)
            )
            calls = selectors.visible_calls(request.user, api_key=key)
            self.fields["call"].queryset = calls.filter(hub_id=key.hub_id) if key is not None else calls


class ApproveSerializer(serializers.Serializer):
    amount_millicredits = serializers.IntegerField(
        min_value=1,
        required=False,
        allow_null=True,
        default=None,
        help_text=(
            "The grant in millicredits (1 credit = 1,000). Leave out to grant the request "
            "(playground: the call's fixed grant); it may be reduced, never raised above the request."
        ),
    )
    reason = serializers.CharField(
        max_length=5000, required=False, allow_blank=True, default="", help_text="A note for the applicant"
    )


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=5000, help_text="Shown to the applicant")


class AssignReviewersSerializer(serializers.Serializer):
    reviewers = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        allow_empty=False,
        max_length=20,
        help_text="User ids of reviewers, staff or admins of the application's hub",
    )
    auto = serializers.BooleanField(
        required=False, default=False, help_text="Assign the least-loaded eligible reviewers automatically"
    )
    count = serializers.IntegerField(
        min_value=1,
        max_value=20,
        required=False,
        help_text="With auto: how many to add (default: as many as the call still needs)",
    )

    def validate(self, attrs):
        if attrs.get("auto") and attrs.get("reviewers"):
            raise serializers.ValidationError({"auto": ["Give reviewer ids or set auto, not both."]})
        if not attrs.get("auto") and not attrs.get("reviewers"):
            raise serializers.ValidationError({"reviewers": ["Give reviewer ids, or set auto to true."]})
        if "count" in attrs and not attrs.get("auto"):
            raise serializers.ValidationError({"count": ["count goes with auto."]})
        return attrs


class ReviewAssignmentSerializer(serializers.ModelSerializer):
    reviewer = UserRefSerializer(read_only=True)
    status = serializers.ChoiceField(choices=ReviewStatus.choices, read_only=True)

    class Meta:
        model = Review
        fields = ["id", "reviewer", "status", "assigned_at"]
        read_only_fields = fields


class AssignedReviewsSerializer(serializers.Serializer):
    assigned = ReviewAssignmentSerializer(many=True, read_only=True, help_text="The reviews this request created")


APPLICATION_EXAMPLE = {
    "id": 301,
    "title": "Radiology at scale",
    "status": "approved",
    "status_label": "Approved",
    "call": {"slug": "lyon-fast-lane-2026", "title": "Lyon fast lane 2026", "track": "fast_lane"},
    "hub": HUB_REF_EXAMPLE,
    "project": {"id": 12, "title": "Radiology foundation model"},
    "applicant": USER_REF_EXAMPLE,
    "requested_millicredits": 1_200_000,
    "requested_credits": "1,200",
    "granted_millicredits": 1_200_000,
    "granted_credits": "1,200",
    "created_at": "2026-02-03T10:20:00+01:00",
    "updated_at": "2026-02-03T10:31:02+01:00",
    "submitted_at": "2026-02-03T10:31:00+01:00",
    "decided_at": "2026-02-03T10:31:02+01:00",
    "web_url": "https://portal.example.eu/applications/301/",
}
ALLOCATION_EXAMPLE = {
    "id": 88,
    "project": {"id": 12, "title": "Radiology foundation model"},
    "call": {"slug": "lyon-fast-lane-2026", "title": "Lyon fast lane 2026", "track": "fast_lane"},
    "hub": HUB_REF_EXAMPLE,
    "application": 301,
    "status": "active",
    "starts_on": "2026-02-03",
    "ends_on": "2026-08-02",
    "slurm_account": "gf-88",
    "granted_millicredits": 1_200_000,
    "granted_credits": "1,200",
    "used_millicredits": 300_500,
    "used_credits": "300.5",
    "balance_millicredits": 899_500,
    "balance_credits": "899.5",
    "overage_millicredits": 0,
    "overage_credits": "0",
    "used_percent": 25,
    "resources": [{"id": 7, "name": "Jean Zay H100 partition", "gpu_model": "NVIDIA H100 80GB"}],
}
APPLICATION_DETAIL_EXAMPLE = {
    **APPLICATION_EXAMPLE,
    "abstract": "We fine-tune an open model on anonymised chest X-rays.",
    "justification": "Ten epochs on 8 GPUs, 150 hours each.",
    "duration_days": 90,
    "data_sensitivity": "health",
    "civilian_use": True,
    "ai_system_name": "ChestScan",
    "decision_reason": "",
    "screening_round": 1,
    "resource_rows": [
        {
            "resource": {"id": 7, "name": "Jean Zay H100 partition", "gpu_model": "NVIDIA H100 80GB"},
            "gpu_hours": 1200,
            "rate_millicredits": 1000,
            "millicredits": 1_200_000,
            "credits": "1,200",
        }
    ],
    "estimate_millicredits": 1_200_000,
    "estimate_credits": "1,200",
    "screening": [
        {
            "check": "civilian_use",
            "label": "Civilian use declared",
            "passed": True,
            "reason": "The applicant declared the work is for civilian purposes only.",
            "created_at": "2026-02-03T10:31:01+01:00",
        }
    ],
    "reviewer_comments": [],
    "reviews": [],
    "allocation": ALLOCATION_EXAMPLE,
    "allowed_actions": [],
}
DRAFT_REQUEST_EXAMPLE = {
    "project": 12,
    "call": "lyon-fast-lane-2026",
    "title": "Radiology at scale",
    "abstract": "We fine-tune an open model on anonymised chest X-rays.",
    "justification": "Ten epochs on 8 GPUs, 150 hours each.",
    "duration_days": 90,
    "data_sensitivity": "health",
    "civilian_use": True,
    "ai_system_name": "ChestScan",
    "resource_rows": [{"resource": 7, "gpu_hours": 1200}],
}


# --- Applications: views --------------------------------------------------------------------


def _applications(request, *, for_write=False):
    return access.applications_visible_to(request.user, api_key_of(request), for_write=for_write).select_related(
        "call", "hub", "project", "applicant"
    )


def _application(request, pk, *, for_write=False) -> Application:
    """The application for a reader (``for_write``: a project member or staff), or 404."""
    return get_object_or_404(_applications(request, for_write=for_write), pk=pk)


def _staff_application(request, pk) -> Application:
    return access.application_for_staff(request.user, pk, api_key=api_key_of(request))


def _allocation_rows(qs):
    return (
        selectors.with_ledger_figures(qs)
        .select_related("project", "call", "hub")
        .prefetch_related(Prefetch("call__eligible_resources", queryset=ComputeResource.objects.order_by("name", "pk")))
    )


def _application_detail(request, application) -> dict:
    user = request.user
    rows = list(application.resource_requests.select_related("resource").order_by("pk"))
    application.api_rows = rows
    application.api_estimate = sum(row.millicredits for row in rows)
    application.api_screening = (
        list(ScreeningResult.objects.filter(application=application, round=application.screening_round))
        if application.screening_round
        else []
    )
    application.api_comments = (
        list(
            Review.objects.filter(application=application, status=ReviewStatus.SUBMITTED)
            .exclude(comment_for_applicant="")
            .order_by("submitted_at", "pk")
            .values_list("comment_for_applicant", flat=True)
        )
        if application.status in COMMENTS_SHOWN_IN
        else []
    )
    decider = access.is_decider(user, application)
    application.api_reviews = (
        list(application.reviews.select_related("reviewer").order_by("assigned_at", "pk")) if decider else []
    )
    allocation = None
    if application.status == AppStatus.APPROVED:
        allocation = _allocation_rows(Allocation.objects.filter(application=application)).first()
        if allocation is not None:
            selectors.decorate_allocation(allocation)
    application.api_allocation = allocation
    actions = []
    if access.can_edit(user, application):
        actions += ["edit", "submit"]
    if access.can_withdraw(user, application):
        actions.append("withdraw")
    if decider:
        if application.status == AppStatus.IN_REVIEW:
            actions += ["approve", "reject", "assign_reviewers"]
        if access.can_request_changes(user, application):
            actions.append("request_changes")
    application.api_actions = actions
    return ApplicationDetailSerializer(application, context={"request": request}).data


def _fresh_detail(request, pk) -> dict:
    """Re-read after a write: the screening task may already have moved the application on."""
    return _application_detail(request, _application(request, pk))


def _resource_rows(rows):
    """``[{resource: id, gpu_hours}]`` -> ``[(ComputeResource | id, hours)]`` for the service,
    which says which row is not offered by the call."""
    if rows is None:
        return None
    found = ComputeResource.objects.in_bulk({row["resource"] for row in rows})
    return [(found.get(row["resource"], row["resource"]), row["gpu_hours"]) for row in rows]


class ApplicationFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=AppStatus.choices)
    call = django_filters.CharFilter(field_name="call__slug", help_text="Call slug")
    track = django_filters.ChoiceFilter(field_name="call__track", choices=Track.choices)
    hub = django_filters.CharFilter(field_name="hub__slug", help_text="Hub slug, e.g. `lyon`")
    project = django_filters.NumberFilter(field_name="project_id", help_text="Project id")

    class Meta:
        model = Application
        fields = ["status", "call", "track", "hub", "project"]


class ApplicationListView(generics.ListAPIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUser]
    serializer_class = ApplicationSerializer
    filterset_class = ApplicationFilter
    search_fields = ["title", "abstract", "project__title"]
    ordering_fields = ["created_at", "updated_at", "submitted_at", "title"]
    queryset = Application.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Application.objects.none()
        return _applications(self.request).order_by("-created_at", "-pk")

    @extend_schema(
        tags=["applications"],
        summary="Applications you may see",
        description=(
            "Your projects' applications; for reviewers also those assigned to them; for hub staff "
            "also every application of their hubs. A personal key narrows this to the key's hub."
        ),
        examples=[_page_example("An approved application", APPLICATION_EXAMPLE)],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["applications"],
        summary="Start a draft application (with its resource rows)",
        description="You must be on the project's team and the call must accept applications. Nothing is "
        "created if any field or row is invalid.",
        request=ApplicationCreateSerializer,
        responses={201: ApplicationDetailSerializer, 400: ERROR_400, 403: ERROR_403},
        examples=[
            OpenApiExample("A fast-lane draft", value=DRAFT_REQUEST_EXAMPLE, request_only=True),
            OpenApiExample(
                "Created",
                value={
                    **APPLICATION_DETAIL_EXAMPLE,
                    "status": "draft",
                    "status_label": "Draft",
                    "granted_millicredits": None,
                    "granted_credits": None,
                    "submitted_at": None,
                    "decided_at": None,
                    "screening_round": 0,
                    "screening": [],
                    "allocation": None,
                    "allowed_actions": ["edit", "submit", "withdraw"],
                },
                response_only=True,
                status_codes=["201"],
            ),
            OpenApiExample(
                "A row the call does not offer",
                value={"resource_rows": ["Row 1 (99): this resource is not offered by the call 'Lyon fast lane'."]},
                response_only=True,
                status_codes=["400"],
            ),
        ],
    )
    def post(self, request):
        serializer = ApplicationCreateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        project, call = fields.pop("project"), fields.pop("call")
        rows = _resource_rows(fields.pop("resource_rows", None))
        with transaction.atomic():  # a bad row undoes the draft too
            application = services.application_create(project=project, call=call, acting_user=request.user, **fields)
            if rows is not None:
                services.application_update_draft(application=application, acting_user=request.user, resource_rows=rows)
        return Response(_fresh_detail(request, application.pk), status=status.HTTP_201_CREATED)


class ApplicationDetailView(APIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUser]

    @extend_schema(
        tags=["applications"],
        summary="One application: rows, estimate, screening, comments, allocation",
        responses={200: ApplicationDetailSerializer, 404: ERROR_404},
        examples=[OpenApiExample("Approved by the worker", value=APPLICATION_DETAIL_EXAMPLE, response_only=True)],
    )
    def get(self, request, pk):
        return Response(_application_detail(request, _application(request, pk)))

    @extend_schema(
        tags=["applications"],
        summary="Save a draft (or an answer to 'changes requested')",
        description="Only the fields given change; `resource_rows`, when given, replaces every row.",
        request=ApplicationFieldsSerializer,
        responses={200: ApplicationDetailSerializer, 400: ERROR_400, 403: ERROR_403, 404: ERROR_404, 409: ERROR_409},
        examples=[
            OpenApiExample(
                "More GPU-hours",
                value={"justification": "Twelve epochs.", "resource_rows": [{"resource": 7, "gpu_hours": 1500}]},
                request_only=True,
            ),
            OpenApiExample(
                "Not a draft any more",
                value={
                    "detail": "This application is approved; it cannot be edited now.",
                    "code": "invalid_transition",
                },
                response_only=True,
                status_codes=["409"],
            ),
        ],
    )
    def patch(self, request, pk):
        application = _application(request, pk, for_write=True)
        serializer = ApplicationFieldsSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        rows = _resource_rows(fields.pop("resource_rows", None))
        services.application_update_draft(
            application=application, acting_user=request.user, resource_rows=rows, **fields
        )
        return Response(_fresh_detail(request, pk))


def _transition_schema(summary, *, request=None, examples=(), description=""):
    return extend_schema(
        tags=["applications"],
        summary=summary,
        description=description,
        request=request,
        responses={200: ApplicationDetailSerializer, 400: ERROR_400, 403: ERROR_403, 404: ERROR_404, 409: ERROR_409},
        examples=[
            *examples,
            OpenApiExample(
                "Refused transition",
                value={
                    "detail": "This application is withdrawn; it cannot be approved now.",
                    "code": "invalid_transition",
                },
                response_only=True,
                status_codes=["409"],
            ),
        ],
    )


class ApplicationSubmitView(APIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUser]

    @_transition_schema(
        "Submit (or resubmit) an application: a project member",
        description="Screening starts at once; playground and passing fast-lane applications are decided by "
        "the worker within seconds (read the application again to see the decision).",
    )
    def post(self, request, pk):
        application = _application(request, pk, for_write=True)
        services.application_submit(application=application, acting_user=request.user)
        return Response(_fresh_detail(request, pk))


class ApplicationWithdrawView(APIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUser]

    @_transition_schema("Withdraw an open application: the applicant or the project's PI")
    def post(self, request, pk):
        application = _application(request, pk, for_write=True)
        services.application_withdraw(application=application, acting_user=request.user)
        return Response(_fresh_detail(request, pk))


class ApplicationApproveView(APIView):
    permission_classes = [ApiKeyScopePermission, IsStaffWithMfa]

    @_transition_schema(
        "Approve an application in review (staff)",
        request=ApproveSerializer,
        description="Creates the allocation and moves the grant from the call's budget, in one transaction. "
        "`amount_millicredits` is in millicredits (1 credit = 1,000). 409 if the budget cannot cover it or a "
        "peer-review application lacks reviews.",
        examples=[
            OpenApiExample(
                "Grant 1,000 of 1,200 credits",
                value={"amount_millicredits": 1_000_000, "reason": "Reduced: 10 epochs are enough to start."},
                request_only=True,
            )
        ],
    )
    def post(self, request, pk):
        serializer = ApproveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        application = _staff_application(request, pk)
        services.application_approve(application=application, acting_user=request.user, **serializer.validated_data)
        return Response(_fresh_detail(request, pk))


class ApplicationRejectView(APIView):
    permission_classes = [ApiKeyScopePermission, IsStaffWithMfa]

    @_transition_schema(
        "Reject an application in review (staff), with a reason",
        request=ReasonSerializer,
        examples=[
            OpenApiExample("Out of scope", value={"reason": "The call funds civilian AI only."}, request_only=True)
        ],
    )
    def post(self, request, pk):
        serializer = ReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        application = _staff_application(request, pk)
        services.application_reject(
            application=application, acting_user=request.user, reason=serializer.validated_data["reason"]
        )
        return Response(_fresh_detail(request, pk))


class ApplicationRequestChangesView(APIView):
    permission_classes = [ApiKeyScopePermission, IsStaffWithMfa]

    @_transition_schema(
        "Send an application back for changes (staff), with what to change",
        request=ReasonSerializer,
        examples=[
            OpenApiExample(
                "Fewer hours", value={"reason": "Ask for at most 800 GPU-hours on the H100s."}, request_only=True
            )
        ],
    )
    def post(self, request, pk):
        serializer = ReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        application = _staff_application(request, pk)
        services.application_request_changes(
            application=application, acting_user=request.user, reason=serializer.validated_data["reason"]
        )
        return Response(_fresh_detail(request, pk))


class ApplicationAssignReviewersView(APIView):
    permission_classes = [ApiKeyScopePermission, IsStaffWithMfa]

    @extend_schema(
        tags=["applications"],
        summary="Assign reviewers to an application in review (staff)",
        description='By user id, or `{"auto": true}` for the least-loaded eligible reviewers (as many as the '
        "call still needs, or `count`). Nobody from the project's team or organisation may review it. "
        "All or nothing: if one reviewer cannot be assigned, none is.",
        request=AssignReviewersSerializer,
        responses={200: AssignedReviewsSerializer, 400: ERROR_400, 403: ERROR_403, 404: ERROR_404, 409: ERROR_409},
        examples=[
            OpenApiExample("By hand", value={"reviewers": [57, 61]}, request_only=True),
            OpenApiExample("Automatically", value={"auto": True}, request_only=True),
            OpenApiExample(
                "Assigned",
                value={
                    "assigned": [
                        {
                            "id": 901,
                            "reviewer": {"id": 57, "name": "Rhea Reviewer"},
                            "status": "assigned",
                            "assigned_at": "2026-02-10T09:00:00+01:00",
                        }
                    ]
                },
                response_only=True,
            ),
            OpenApiExample(
                "A conflict of interest",
                value={"reviewers": ["Rhea Reviewer belongs to CNRS, as the applicant or the project does."]},
                response_only=True,
                status_codes=["400"],
            ),
        ],
    )
    def post(self, request, pk):
        serializer = AssignReviewersSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        application = _staff_application(request, pk)
        try:
            with transaction.atomic():
                if data.get("auto"):
                    reviews = services.reviews_auto_assign(
                        application=application, acting_user=request.user, count=data.get("count")
                    )
                else:
                    reviews = [
                        services.review_assign(application=application, reviewer=reviewer, acting_user=request.user)
                        for reviewer in self._reviewers(application, data["reviewers"])
                    ]
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"reviewers": exc.messages}) from exc
        reviews = Review.objects.filter(pk__in=[r.pk for r in reviews]).select_related("reviewer").order_by("pk")
        return Response(AssignedReviewsSerializer({"assigned": reviews}).data)

    @staticmethod
    def _reviewers(application, ids):
        # Only people of the application's hub are looked up: other ids say nothing about who exists.
        found = User.objects.in_bulk(
            User.objects.filter(
                pk__in=ids, memberships__hub_id=application.hub_id, memberships__status=MembershipStatus.ACTIVE
            ).values_list("pk", flat=True)
        )
        missing = [i for i in dict.fromkeys(ids) if i not in found]
        if missing:
            raise serializers.ValidationError(
                {"reviewers": [f"User {i} is not a member of {application.hub}." for i in missing]}
            )
        return [found[i] for i in dict.fromkeys(ids)]


# --- Reviews --------------------------------------------------------------------------------


class ReviewApplicationRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    title = serializers.CharField(read_only=True)
    status = serializers.ChoiceField(choices=AppStatus.choices, read_only=True)
    call = CallRefSerializer(read_only=True)
    hub = HubRefSerializer(read_only=True)
    project = ProjectRefSerializer(read_only=True)


class ReviewSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=ReviewStatus.choices, read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    application = ReviewApplicationRefSerializer(read_only=True)
    recommendation = serializers.ChoiceField(choices=Recommendation.choices, allow_blank=True, read_only=True)

    class Meta:
        model = Review
        fields = ["id", "status", "status_label", "application", "recommendation", "assigned_at", "submitted_at"]
        read_only_fields = fields


class ReviewedApplicationSerializer(ReviewApplicationRefSerializer):
    abstract = serializers.CharField(read_only=True)
    justification = serializers.CharField(read_only=True)
    duration_days = serializers.IntegerField(read_only=True)
    data_sensitivity = serializers.ChoiceField(choices=DataSensitivity.choices, read_only=True)
    civilian_use = serializers.BooleanField(read_only=True)
    ai_system_name = serializers.CharField(read_only=True)
    requested_millicredits = serializers.IntegerField(read_only=True)
    requested_credits = CreditsField(source="requested_millicredits")
    resource_rows = ResourceRowSerializer(source="api_rows", many=True, read_only=True)


class ReviewDetailSerializer(ReviewSerializer):
    application = ReviewedApplicationSerializer(read_only=True)
    rubric = RubricCriterionSerializer(
        source="application.call.rubric", many=True, read_only=True, help_text="Score each criterion from 1 to 5"
    )
    scores = serializers.DictField(child=serializers.IntegerField(), read_only=True)
    can_submit = serializers.BooleanField(source="api_can_submit", read_only=True)

    class Meta(ReviewSerializer.Meta):
        fields = [
            *ReviewSerializer.Meta.fields,
            "rubric",
            "scores",
            "comment_for_applicant",
            "private_comment",
            "no_conflict_declared",
            "can_submit",
        ]
        read_only_fields = fields


class ReviewSubmitSerializer(serializers.Serializer):
    scores = serializers.DictField(
        child=serializers.IntegerField(min_value=1, max_value=5),
        help_text="Criterion key (from the rubric) -> score from 1 to 5; every criterion is required",
    )
    comment_for_applicant = serializers.CharField(max_length=10_000, required=False, allow_blank=True, default="")
    private_comment = serializers.CharField(
        max_length=10_000, required=False, allow_blank=True, default="", help_text="Only hub staff see this"
    )
    recommendation = serializers.ChoiceField(choices=Recommendation.choices)
    no_conflict_declared = serializers.BooleanField(
        help_text="You declare you have no conflict of interest (else decline the review)"
    )


class ReviewDeclineSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, help_text="Why you decline, e.g. the conflict of interest")


REVIEW_EXAMPLE = {
    "id": 901,
    "status": "assigned",
    "status_label": "Assigned",
    "application": {
        "id": 301,
        "title": "Radiology at scale",
        "status": "in_review",
        "call": {"slug": "lyon-peer-2026", "title": "Lyon peer review 2026", "track": "peer_review"},
        "hub": HUB_REF_EXAMPLE,
        "project": {"id": 12, "title": "Radiology foundation model"},
    },
    "recommendation": "",
    "assigned_at": "2026-02-10T09:00:00+01:00",
    "submitted_at": None,
}
REVIEW_DETAIL_EXAMPLE = {
    **REVIEW_EXAMPLE,
    "application": {
        **REVIEW_EXAMPLE["application"],
        "abstract": "We fine-tune an open model on anonymised chest X-rays.",
        "justification": "Ten epochs on 8 GPUs.",
        "duration_days": 90,
        "data_sensitivity": "health",
        "civilian_use": True,
        "ai_system_name": "ChestScan",
        "requested_millicredits": 60_000_000,
        "requested_credits": "60,000",
        "resource_rows": APPLICATION_DETAIL_EXAMPLE["resource_rows"],
    },
    "rubric": [
        {"key": "excellence", "label": "Scientific or technical excellence"},
        {"key": "impact", "label": "Expected impact"},
        {"key": "feasibility", "label": "Feasibility and readiness to use the GPUs"},
    ],
    "scores": {},
    "comment_for_applicant": "",
    "private_comment": "",
    "no_conflict_declared": False,
    "can_submit": True,
}


def _reviews(request):
    return access.reviews_assigned_to(request.user, api_key_of(request)).select_related(
        "application", "application__call", "application__hub", "application__project"
    )


def _review_detail(request, review) -> dict:
    review.application.api_rows = list(review.application.resource_requests.select_related("resource").order_by("pk"))
    review.api_can_submit = access.can_review(request.user, review)
    return ReviewDetailSerializer(review, context={"request": request}).data


def _review(request, pk) -> Review:
    return get_object_or_404(_reviews(request), pk=pk)


class ReviewFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=ReviewStatus.choices)

    class Meta:
        model = Review
        fields = ["status"]


@extend_schema(
    tags=["reviews"],
    summary="Reviews assigned to you (to do first)",
    examples=[_page_example("A review to do", REVIEW_EXAMPLE)],
)
class ReviewListView(generics.ListAPIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUser]
    serializer_class = ReviewSerializer
    filterset_class = ReviewFilter
    queryset = Review.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Review.objects.none()
        todo_first = Case(
            When(status=ReviewStatus.ASSIGNED, then=Value(0)), default=Value(1), output_field=IntegerField()
        )
        return _reviews(self.request).order_by(todo_first, "assigned_at", "pk")


@extend_schema(
    tags=["reviews"],
    summary="One review: the application and the call's rubric",
    responses={200: ReviewDetailSerializer, 404: ERROR_404},
    examples=[OpenApiExample("To do", value=REVIEW_DETAIL_EXAMPLE, response_only=True)],
)
class ReviewDetailView(APIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUser]

    def get(self, request, pk):
        return Response(_review_detail(request, _review(request, pk)))


class ReviewSubmitView(APIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUser]

    @extend_schema(
        tags=["reviews"],
        summary="Submit your review: a score per rubric criterion, comments, a recommendation",
        request=ReviewSubmitSerializer,
        responses={200: ReviewDetailSerializer, 400: ERROR_400, 403: ERROR_403, 404: ERROR_404, 409: ERROR_409},
        examples=[
            OpenApiExample(
                "A positive review",
                value={
                    "scores": {"excellence": 5, "impact": 4, "feasibility": 4},
                    "comment_for_applicant": "Convincing plan; publish the weights.",
                    "private_comment": "The team has done this before.",
                    "recommendation": "approve",
                    "no_conflict_declared": True,
                },
                request_only=True,
            ),
            OpenApiExample(
                "A criterion missing",
                value={"score_impact": ["Score 'Expected impact' from 1 to 5."]},
                response_only=True,
                status_codes=["400"],
            ),
        ],
    )
    def post(self, request, pk):
        review = _review(request, pk)
        serializer = ReviewSubmitSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.review_submit(review=review, acting_user=request.user, **serializer.validated_data)
        return Response(_review_detail(request, _review(request, pk)))


class ReviewDeclineView(APIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUser]

    @extend_schema(
        tags=["reviews"],
        summary="Decline a review assigned to you (e.g. a conflict of interest)",
        request=ReviewDeclineSerializer,
        responses={200: ReviewDetailSerializer, 400: ERROR_400, 404: ERROR_404, 409: ERROR_409},
        examples=[
            OpenApiExample("Conflict", value={"reason": "I co-authored with the PI last year."}, request_only=True)
        ],
    )
    def post(self, request, pk):
        review = _review(request, pk)
        serializer = ReviewDeclineSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.review_decline(review=review, acting_user=request.user, reason=serializer.validated_data["reason"])
        return Response(_review_detail(request, _review(request, pk)))


# --- Allocations and the ledger statement ---------------------------------------------------


def allocations_visible(request):
    return access.allocations_visible_to(request.user, api_key_of(request))


class AllocationFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=AllocationStatus.choices)
    project = django_filters.NumberFilter(field_name="project_id", help_text="Project id")
    call = django_filters.CharFilter(field_name="call__slug", help_text="Call slug")
    hub = django_filters.CharFilter(field_name="hub__slug", help_text="Hub slug, e.g. `lyon`")
    slurm_account = django_filters.CharFilter(help_text="The allocation's account in Slurm, e.g. `gf-88`")

    class Meta:
        model = Allocation
        fields = ["status", "project", "call", "hub", "slurm_account"]


class AllocationListView(generics.ListAPIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUserOrPartner]
    serializer_class = AllocationSerializer
    filterset_class = AllocationFilter
    ordering_fields = ["starts_on", "ends_on", "created_at"]
    queryset = Allocation.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Allocation.objects.none()
        return _allocation_rows(allocations_visible(self.request)).order_by("-created_at", "-pk")

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        if page is not None:
            for allocation in page:
                selectors.decorate_allocation(allocation)
        return page

    @extend_schema(
        tags=["allocations"],
        summary="Allocations with their balance, usage and grant",
        description=(
            "People: the allocations of their projects (hub staff: of every project at their hubs). "
            "Partner keys: the allocations that may run on their providers' resources."
        ),
        examples=[_page_example("An allocation a quarter used", ALLOCATION_EXAMPLE)],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


@extend_schema(
    tags=["allocations"],
    summary="One allocation with its balance",
    responses={200: AllocationSerializer, 404: ERROR_404},
    examples=[OpenApiExample("An allocation", value=ALLOCATION_EXAMPLE, response_only=True)],
)
class AllocationDetailView(APIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUserOrPartner]

    def get(self, request, pk):
        allocation = get_object_or_404(_allocation_rows(allocations_visible(request)), pk=pk)
        return Response(AllocationSerializer(selectors.decorate_allocation(allocation)).data)


class StatementEntrySerializer(serializers.ModelSerializer):
    transaction = serializers.IntegerField(source="transaction_id", read_only=True)
    kind = TransactionKindField(source="transaction.kind", read_only=True)
    kind_label = serializers.CharField(source="transaction.get_kind_display", read_only=True)
    memo = serializers.CharField(source="transaction.memo", read_only=True)
    amount_millicredits = serializers.IntegerField(
        source="amount", read_only=True, help_text="Positive credits the account, negative debits it"
    )
    amount_credits = CreditsField(source="amount")
    balance_after_millicredits = serializers.IntegerField(
        source="balance_after", read_only=True, help_text="The account's running balance after this entry"
    )
    balance_after_credits = CreditsField(source="balance_after")

    class Meta:
        model = Entry
        fields = [
            "id",
            "created_at",
            "transaction",
            "kind",
            "kind_label",
            "memo",
            "amount_millicredits",
            "amount_credits",
            "balance_after_millicredits",
            "balance_after_credits",
        ]
        read_only_fields = fields


STATEMENT_ACCOUNTS = {"allocation": AccountKind.ALLOCATION, "overage": AccountKind.OVERAGE}


@extend_schema(
    tags=["allocations"],
    summary="The allocation's ledger statement, oldest first, with the running balance",
    parameters=[
        OpenApiParameter(
            "account",
            OpenApiTypes.STR,
            enum=list(STATEMENT_ACCOUNTS),
            description="`allocation` (default): the credits granted and spent; `overage`: usage beyond the grant",
        )
    ],
    responses={200: StatementEntrySerializer(many=True), 400: ERROR_400, 404: ERROR_404},
    examples=[
        _page_example(
            "A grant",
            {
                "id": 5012,
                "created_at": "2026-02-03T10:31:02+01:00",
                "transaction": 2100,
                "kind": "grant",
                "kind_label": "Allocation granted",
                "memo": "Grant for 'Radiology at scale'",
                "amount_millicredits": 1_200_000,
                "amount_credits": "1,200",
                "balance_after_millicredits": 1_200_000,
                "balance_after_credits": "1,200",
            },
        )
    ],
)
class AllocationStatementView(generics.ListAPIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUserOrPartner]
    serializer_class = StatementEntrySerializer
    filter_backends = []
    queryset = Entry.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Entry.objects.none()
        wanted = self.request.query_params.get("account", "allocation")
        if wanted not in STATEMENT_ACCOUNTS:
            raise exceptions.ValidationError({"account": [f"Choose one of: {', '.join(STATEMENT_ACCOUNTS)}."]})
        allocation = get_object_or_404(allocations_visible(self.request).only("pk"), pk=self.kwargs["pk"])
        return (
            Entry.objects.filter(account__allocation=allocation, account__kind=STATEMENT_ACCOUNTS[wanted])
            .select_related("transaction")
            .order_by("id")
        )


# --- Usage records --------------------------------------------------------------------------


def usage_visible(request):
    return access.usage_records_visible_to(request.user, api_key_of(request))


class UsagePagination(pagination.BasePagination):
    """Page numbers without a total count: the usage table grows to millions of rows, and
    counting them on every page would cost more than the page itself. ``next`` is set when a
    further page exists (one extra row is read to know)."""

    page_size = 50
    max_page_size = 100
    max_offset = 10**15
    page_query_param = "page"
    page_size_query_param = "page_size"

    def _positive(self, request, name, default):
        raw = request.query_params.get(name)
        if raw in (None, ""):
            return default
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if value < 1:
            raise exceptions.ValidationError({name: ["Must be a whole number of at least 1."]})
        return value

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.size = min(self._positive(request, self.page_size_query_param, self.page_size), self.max_page_size)
        self.number = self._positive(request, self.page_query_param, 1)
        start = (self.number - 1) * self.size
        if start > self.max_offset:  # past any table there will be (and past PostgreSQL's bigint OFFSET)
            self.has_next = False
            return []
        rows = list(queryset[start : start + self.size + 1])
        self.has_next = len(rows) > self.size
        return rows[: self.size]

    def _link(self, number):
        url = self.request.build_absolute_uri()
        if number == 1:
            return remove_query_param(url, self.page_query_param)
        return replace_query_param(url, self.page_query_param, number)

    def get_paginated_response(self, data):
        return Response(
            {
                "next": self._link(self.number + 1) if self.has_next else None,
                "previous": self._link(self.number - 1) if self.number > 1 else None,
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["results"],
            "properties": {
                "next": {**link, "example": "https://portal.example.eu/api/v1/usage-records/?page=3"},
                "previous": {**link, "example": "https://portal.example.eu/api/v1/usage-records/?page=1"},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.page_query_param,
                "required": False,
                "in": "query",
                "description": "A page number within the results (no total count is given).",
                "schema": {"type": "integer", "minimum": 1},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Records per page (default {self.page_size}, at most {self.max_page_size}).",
                "schema": {"type": "integer", "minimum": 1},
            },
        ]


class UsageRecordSerializer(serializers.ModelSerializer):
    provider = ProviderRefSerializer(read_only=True)
    resource = ResourceRefSerializer(read_only=True)
    allocation = serializers.IntegerField(source="allocation_id", read_only=True)
    user = serializers.CharField(source="user_label", read_only=True, help_text="Who ran the job, as reported")
    gpu_hours = serializers.SerializerMethodField(help_text="gpu_seconds / 3600, rounded to 4 decimals")
    start = serializers.DateTimeField(source="started_at", read_only=True)
    end = serializers.DateTimeField(source="ended_at", read_only=True)
    millicredits = serializers.IntegerField(read_only=True, help_text="Charged at the resource's rate")
    credits = CreditsField(source="millicredits")
    transaction = serializers.IntegerField(
        source="transaction_id",
        read_only=True,
        help_text="The ledger transaction that charged it: one per allocation per reported batch "
        "(the `transaction` of a line of the allocation's statement)",
    )

    class Meta:
        model = UsageRecord
        fields = [
            "id",
            "provider",
            "resource",
            "allocation",
            "external_id",
            "user",
            "gpu_seconds",
            "gpu_hours",
            "start",
            "end",
            "millicredits",
            "credits",
            "transaction",
            "created_at",
        ]
        read_only_fields = fields

    def get_gpu_hours(self, obj) -> float:
        return round(obj.gpu_seconds / 3600, 4)


class UsageRecordInSerializer(serializers.Serializer):
    """One job, as the provider's accounting knows it (documents the request; the ingest service
    checks every record and reports each problem with its index)."""

    resource = serializers.IntegerField(help_text="Id of one of your provider's resources")
    allocation = serializers.IntegerField(help_text="Id of an active allocation whose call includes the resource")
    external_id = serializers.CharField(max_length=120, help_text="Your job id; re-sending it changes nothing")
    user = serializers.CharField(max_length=120, required=False, help_text="Who ran the job, as you know them")
    gpu_hours = serializers.FloatField(
        required=False, help_text="GPU-hours, a number such as 8 or 0.25 (give this or gpu_seconds)"
    )
    gpu_seconds = serializers.IntegerField(required=False, help_text="GPU-seconds (give this or gpu_hours)")
    start = serializers.DateTimeField(help_text="ISO 8601")
    end = serializers.DateTimeField(help_text="ISO 8601, not before start")


class UsageBatchSerializer(serializers.Serializer):
    provider = serializers.IntegerField(
        required=False, help_text="Your compute provider's id; required only if your partner system runs several"
    )
    records = UsageRecordInSerializer(many=True, max_length=MAX_RECORDS, help_text="At most 10,000 records")


class UsageBatchResultSerializer(serializers.Serializer):
    created = serializers.IntegerField(help_text="New records, charged to their allocations")
    duplicates = serializers.IntegerField(help_text="Job ids received before: nothing changed for them")
    millicredits = serializers.IntegerField(help_text="Charged for the new records")
    overage_millicredits = serializers.IntegerField(help_text="The part of it beyond the allocations' balances")


class UsageRecordErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField(allow_null=True, help_text="Position of the record in `records`; null: the batch")
    field = serializers.CharField()
    message = serializers.CharField()


class UsageBatchErrorSerializer(serializers.Serializer):
    records = UsageRecordErrorSerializer(many=True)


class UsageFilter(django_filters.FilterSet):
    allocation = django_filters.NumberFilter(field_name="allocation_id", help_text="Allocation id")
    resource = django_filters.NumberFilter(field_name="resource_id", help_text="Resource id")
    provider = django_filters.NumberFilter(field_name="provider_id", help_text="Provider id")
    external_id = django_filters.CharFilter(help_text="The provider's job id")
    transaction = django_filters.NumberFilter(
        field_name="transaction_id", help_text="Ledger transaction id (a statement line): the jobs it charged"
    )
    started_after = django_filters.IsoDateTimeFilter(
        field_name="started_at", lookup_expr="gte", help_text="Jobs started at or after (ISO 8601)"
    )
    started_before = django_filters.IsoDateTimeFilter(
        field_name="started_at", lookup_expr="lt", help_text="Jobs started before (ISO 8601)"
    )

    class Meta:
        model = UsageRecord
        fields = ["allocation", "resource", "provider", "external_id", "transaction", "started_after", "started_before"]


USAGE_RECORD_EXAMPLE = {
    "id": 700123,
    "provider": {"id": 3, "name": "IDRIS", "website": "https://www.idris.fr"},
    "resource": {"id": 7, "name": "Jean Zay H100 partition", "gpu_model": "NVIDIA H100 80GB"},
    "allocation": 88,
    "external_id": "4711223",
    "user": "alice",
    "gpu_seconds": 28800,
    "gpu_hours": 8.0,
    "start": "2026-03-01T10:00:00Z",
    "end": "2026-03-01T11:00:00Z",
    "millicredits": 8000,
    "credits": "8",
    "transaction": 51234,
    "created_at": "2026-03-01T11:05:00Z",
}


class UsageRecordListView(generics.ListAPIView):
    serializer_class = UsageRecordSerializer
    filterset_class = UsageFilter
    filter_backends = [FilterBackend]
    pagination_class = UsagePagination
    queryset = UsageRecord.objects.none()

    def get_permissions(self):
        if self.request is not None and self.request.method == "POST":
            return [ApiKeyScopePermission(), IsPartnerKey()]
        return [ApiKeyScopePermission(), IsSignedInUserOrPartner()]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return UsageRecord.objects.none()
        return usage_visible(self.request).select_related("provider", "resource").order_by("-started_at", "-pk")

    @extend_schema(
        tags=["usage"],
        summary="Usage records, newest job first",
        description=(
            "Partner keys: their providers' records. People: the records of their projects' allocations "
            "(hub staff: of every allocation at their hubs)."
        ),
        examples=[_page_example("One job", USAGE_RECORD_EXAMPLE)],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["usage"],
        summary="Report GPU usage in bulk (partner systems, write key)",
        description=(
            "Up to 10,000 records per request, each charged to its allocation at the resource's rate. "
            "A job id your provider has sent before is counted as a duplicate and changes nothing, so a "
            "batch can be re-sent safely. If any record is invalid, nothing is written and the answer "
            "lists every problem with the record's index. A partner system that runs several compute "
            "providers says which one reports the batch with `provider`."
        ),
        request=UsageBatchSerializer,
        responses={
            201: UsageBatchResultSerializer,
            400: OpenApiResponse(UsageBatchErrorSerializer, description="Invalid records; nothing was written"),
            403: ERROR_403,
        },
        examples=[
            OpenApiExample(
                "Two jobs",
                value={
                    "records": [
                        {
                            "resource": 7,
                            "allocation": 88,
                            "external_id": "4711223",
                            "user": "alice",
                            "gpu_hours": 8,
                            "start": "2026-03-01T10:00:00Z",
                            "end": "2026-03-01T11:00:00Z",
                        },
                        {
                            "resource": 7,
                            "allocation": 88,
                            "external_id": "4711224",
                            "user": "bob",
                            "gpu_seconds": 7200,
                            "start": "2026-03-01T10:30:00Z",
                            "end": "2026-03-01T11:30:00Z",
                        },
                    ]
                },
                request_only=True,
            ),
            OpenApiExample(
                "Recorded",
                value={"created": 2, "duplicates": 0, "millicredits": 10000, "overage_millicredits": 0},
                response_only=True,
                status_codes=["201"],
            ),
            OpenApiExample(
                "Re-sent",
                value={"created": 0, "duplicates": 2, "millicredits": 0, "overage_millicredits": 0},
                response_only=True,
                status_codes=["201"],
            ),
            OpenApiExample(
                "A bad record",
                value={
                    "records": [{"index": 1, "field": "resource", "message": "Not one of this provider's resources."}]
                },
                response_only=True,
                status_codes=["400"],
            ),
        ],
    )
    def post(self, request):
        key = _partner_key(request)
        data = request.data
        if not isinstance(data, dict):
            raise exceptions.ValidationError({"records": ['Send a JSON object: {"records": [...]}.']})
        records = data.get("records")
        if not isinstance(records, list):
            raise exceptions.ValidationError({"records": ["Give a list of usage records."]})
        if len(records) > MAX_RECORDS:
            message = f"At most {MAX_RECORDS:,} records per batch; this one has {len(records):,}."
            return Response(
                {"records": [{"index": None, "field": "records", "message": message}]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        provider = self._provider(key, data.get("provider"))
        try:
            result = usage_ingest(
                provider=provider, records=records, acting_label=f"partner {key.partner.name} (key {key.lookup})"
            )
        except UsageRejected as exc:
            return Response({"records": exc.errors}, status=status.HTTP_400_BAD_REQUEST)
        return Response(result.as_dict(), status=status.HTTP_201_CREATED)

    @staticmethod
    def _provider(key, wanted) -> ComputeProvider:
        providers = list(ComputeProvider.objects.filter(partner_id=key.partner_id).order_by("pk"))
        if not providers:
            raise exceptions.PermissionDenied(
                "This partner system runs no compute provider: ask hub staff to link it to one."
            )
        if wanted in (None, ""):
            if len(providers) > 1:
                names = ", ".join(f"{p.pk} ({p.name})" for p in providers)
                raise exceptions.ValidationError(
                    {"provider": [f"Your partner system runs several providers; say which one: {names}."]}
                )
            return providers[0]
        match = next((p for p in providers if str(p.pk) == str(wanted)), None)
        if match is None:
            raise exceptions.ValidationError({"provider": ["Not one of your partner system's providers."]})
        return match
