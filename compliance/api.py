"""API v1 of AI systems, their AI Act classification, obligation checklists with evidence, and the
hub's ethics board.

- AI systems: people (browser session or personal key) register systems at a hub they are an active
  member of and change them if they may edit them (owner, linked project teams, hub staff). A
  partner system's key reads its hub's systems (and their assessments, checklists, evidence and
  board reviews) and changes nothing.
- Assessments: start a draft (pre-filled from the last classification), PATCH answers (each bad
  answer named by its question key, nothing saved), read the questions still to answer as the
  wizard shows them, submit (409 while questions are unanswered or once submitted), read the outcome.
- Checklist items: status, justification and owner; evidence links (and files, with the same type
  and size checks as the pages).
- Ethics board: hub staff (with two-factor authentication) name the members; owners ask for a review;
  board members decide (not on their own systems).

Objects come from ``compliance.access`` (another hub's object is a 404); every write is a
``compliance.services`` call, as on the pages and in the admin. Errors are JSON with a message per
field; a transition the state does not allow is a 409. The classification is not legal advice.
"""

import django_filters
from django.db.models import Count, prefetch_related_objects
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import exceptions, generics, parsers, permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from compute.api import HubRefSerializer
from gigafactory.api import ApiKeyScopePermission, IsSignedInUser, IsStaffWithMfa, api_key_of
from hubs import access as hub_access
from hubs.models import Hub, Sector, User

from . import access, engine, selectors, services
from .forms import SYSTEM_FORM_FIELDS
from .models import (
    AISystem,
    Assessment,
    AssessmentStatus,
    BoardMember,
    BoardReview,
    ChecklistItem,
    DeploymentStatus,
    Evidence,
    EvidenceKind,
    EvidenceType,
    ItemSection,
    ItemStatus,
    ReviewStatus,
    RiskClass,
)

ERROR_400 = OpenApiResponse(description="Invalid input: a message per field (or per question key)")
ERROR_403 = OpenApiResponse(
    description="Not allowed: you may not change this object, a partner key, a read-only key, or (board "
    "members) no two-factor authentication"
)
ERROR_404 = OpenApiResponse(description="No such object, or not one you may see (e.g. another hub's)")
ERROR_409 = OpenApiResponse(description="Not allowed in the object's current state (the message says why)")
NOTICE = "The classification follows the portal's questionnaire; it is not legal advice."
TAG_SYSTEMS, TAG_ASSESSMENTS, TAG_CHECKLIST, TAG_BOARD = "ai-systems", "assessments", "checklist", "ethics-board"
LINK_LABELS = {"projects": "project", "applications": "credit application", "pilots": "pilot of this hub"}
UNASSESSED = "unassessed"  # the filter value for systems without a classification (their class is "")


class CanRead(permissions.BasePermission):
    """A signed-in person or an API key (a partner key reads its hub's systems)."""

    message = "Sign in, or use a personal or partner API key."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated) or api_key_of(request) is not None


JSON_ONLY = [parsers.JSONParser]


class _Reads:
    """Reads for anyone who may read; writes for people (partner keys only read here). JSON bodies."""

    parser_classes = JSON_ONLY

    def get_permissions(self):
        if self.request.method in permissions.SAFE_METHODS:
            return [ApiKeyScopePermission(), CanRead()]
        return [ApiKeyScopePermission(), IsSignedInUser()]


def _web_url(request, path) -> str:
    return request.build_absolute_uri(path) if request is not None else path


# --- Shared rows -----------------------------------------------------------------------------------


class ComplianceUserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="display_name")


class ComplianceOrganisationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()


class AISystemRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    hub = HubRefSerializer()


class ProgressSerializer(serializers.Serializer):
    closed = serializers.IntegerField(help_text="Current checklist items done or not applicable")
    total = serializers.IntegerField(help_text="Current checklist items")
    percent = serializers.IntegerField()


class LinkedProjectSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    hub = HubRefSerializer()


class LinkedApplicationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    status = serializers.CharField(help_text="The credit application's status")
    call = serializers.CharField(source="call.title")
    hub = HubRefSerializer()


class LinkedPilotSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    status = serializers.CharField(help_text="The pilot's status")
    hub = HubRefSerializer()


# --- Outcomes ----------------------------------------------------------------------------------------


class ReasonSerializer(serializers.Serializer):
    conclusion = serializers.CharField()
    article = serializers.CharField()


class DutySerializer(serializers.Serializer):
    duty = serializers.CharField(help_text="The Art. 50 paragraph, e.g. 50(1)")
    holder = serializers.CharField(help_text="provider or deployer")
    article = serializers.CharField()
    conclusion = serializers.CharField()


class DateSerializer(serializers.Serializer):
    key = serializers.CharField()
    date = serializers.DateField()
    what = serializers.CharField()
    article = serializers.CharField()


class OutcomeSerializer(serializers.Serializer):
    final = serializers.BooleanField(help_text="false: a draft's provisional outcome from the answers so far")
    risk_class = serializers.ChoiceField(choices=RiskClass.choices, help_text="Empty while not classified")
    risk_class_label = serializers.CharField()
    annex_i_section = serializers.CharField(help_text="A or B when high-risk through Annex I")
    annex_iii_point = serializers.CharField(help_text="e.g. 5d, when high-risk through Annex III")
    annex_iii_point_label = serializers.CharField(help_text="e.g. 5(d)")
    derogation = serializers.CharField(help_text="The Art. 6(3) condition that takes the system out of high-risk")
    transparency_duties = DutySerializer(many=True)
    gpai_model = serializers.BooleanField(help_text="A general-purpose AI model (Chapter V)")
    gpai_systemic_risk = serializers.BooleanField(help_text="A GPAI model with systemic risk (Art. 51)")
    reasoning = ReasonSerializer(many=True)
    applicable_dates = DateSerializer(many=True)
    questionnaire_version = serializers.CharField()
    notice = serializers.CharField()


def _provisional(assessment) -> engine.Outcome:
    """A draft's outcome from its answers so far, classified once per response."""
    if not hasattr(assessment, "_gf_outcome"):
        assessment._gf_outcome = engine.classify(assessment.answers, assessment.questionnaire_version)
    return assessment._gf_outcome


def outcome_of(assessment) -> dict:
    """A submitted assessment's fixed outcome, or a draft's provisional one."""
    if assessment.status == AssessmentStatus.SUBMITTED:
        source, final, reasoning = assessment, True, assessment.reasoning
    else:
        source = _provisional(assessment)
        final, reasoning = False, source.reasoning
    return {
        "final": final,
        "risk_class": source.risk_class,
        "risk_class_label": RiskClass(source.risk_class).label,
        "annex_i_section": source.annex_i_section,
        "annex_iii_point": source.annex_iii_point,
        "annex_iii_point_label": engine.point_label(source.annex_iii_point),
        "derogation": source.derogation,
        "transparency_duties": source.transparency_duties,
        "gpai_model": source.gpai_model,
        "gpai_systemic_risk": source.gpai_systemic_risk,
        "reasoning": [{"conclusion": conclusion, "article": article} for conclusion, article in reasoning],
        "applicable_dates": source.applicable_dates,
        "questionnaire_version": assessment.questionnaire_version,
        "notice": NOTICE,
    }


class AssessmentProgressSerializer(serializers.Serializer):
    answered = serializers.IntegerField(help_text="Questions answered among those asked so far")
    total = serializers.IntegerField(help_text="Questions asked so far (earlier answers decide which)")
    complete = serializers.BooleanField(help_text="Every question asked is answered: the draft can be submitted")
    unanswered = serializers.ListField(child=serializers.CharField(), help_text="Keys of the questions to answer")


class AssessmentSerializer(serializers.ModelSerializer):
    system = AISystemRefSerializer(read_only=True)
    answers = serializers.DictField(
        read_only=True, help_text="Question key -> answer (yes/no, an option key, a number)"
    )
    started_by = ComplianceUserSerializer(read_only=True)
    submitted_by = ComplianceUserSerializer(read_only=True, allow_null=True)
    progress = serializers.SerializerMethodField()
    outcome = serializers.SerializerMethodField()
    web_url = serializers.SerializerMethodField()

    class Meta:
        model = Assessment
        fields = [
            "id",
            "system",
            "status",
            "questionnaire_version",
            "answers",
            "progress",
            "outcome",
            "started_by",
            "created_at",
            "updated_at",
            "submitted_by",
            "submitted_at",
            "web_url",
        ]
        read_only_fields = fields

    @extend_schema_field(AssessmentProgressSerializer)
    def get_progress(self, obj):
        if obj.status == AssessmentStatus.SUBMITTED:
            asked = len(engine.load(obj.questionnaire_version).questions) - len(obj.skipped)
            return {"answered": asked, "total": asked, "complete": True, "unanswered": []}
        outcome = _provisional(obj)
        answered, total = engine.progress(outcome)
        return {"answered": answered, "total": total, "complete": outcome.complete, "unanswered": outcome.unanswered}

    @extend_schema_field(OutcomeSerializer)
    def get_outcome(self, obj):
        return outcome_of(obj)

    def get_web_url(self, obj) -> str:
        return _web_url(self.context.get("request"), obj.get_absolute_url())


class OptionSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()


class QuestionSerializer(serializers.Serializer):
    key = serializers.CharField(source="q.key")
    type = serializers.CharField(source="q.type", help_text="yesno, choice or number")
    article = serializers.CharField(source="q.article")
    text = serializers.CharField(source="q.text")
    help = serializers.CharField(source="q.help")
    options = OptionSerializer(source="q.options", many=True, help_text="For choice questions")
    answer = serializers.JSONField(allow_null=True, help_text="The answer saved so far (null: none)")
    answer_display = serializers.SerializerMethodField()
    missing = serializers.BooleanField(help_text="Still to answer")

    def get_answer_display(self, obj) -> str:
        return obj["q"].display(obj["answer"])


class WizardSectionSerializer(serializers.Serializer):
    key = serializers.CharField(source="section.key")
    title = serializers.CharField(source="section.title")
    intro = serializers.CharField(source="section.intro")
    state = serializers.ChoiceField(
        choices=["done", "current", "later", "skipped"],
        help_text="done; current: the first with questions to answer; later: shown once the current one is "
        "done; skipped: earlier answers made its questions moot",
    )
    questions = serializers.SerializerMethodField()
    skipped = serializers.IntegerField(help_text="Questions of the section not asked")

    @extend_schema_field(QuestionSerializer(many=True))
    def get_questions(self, obj):
        return QuestionSerializer(obj["questions"] if obj["visible"] else [], many=True).data


class WizardSerializer(serializers.Serializer):
    assessment = serializers.IntegerField(source="assessment.pk")
    status = serializers.CharField(source="assessment.status")
    questionnaire_version = serializers.CharField(source="questionnaire.version")
    questionnaire_title = serializers.CharField(source="questionnaire.title")
    answered = serializers.IntegerField()
    total = serializers.IntegerField()
    percent = serializers.IntegerField(help_text="Share of the sections done")
    complete = serializers.BooleanField(source="outcome.complete")
    to_answer = serializers.SerializerMethodField()
    sections = WizardSectionSerializer(many=True)
    provisional_class = serializers.CharField(source="outcome.risk_class", help_text="From the answers so far")

    @extend_schema_field(QuestionSerializer(many=True))
    def get_to_answer(self, obj):
        current = [s for s in obj["sections"] if s["state"] == "current"]
        questions = [q for s in current for q in s["questions"] if q["missing"]]
        return QuestionSerializer(questions, many=True).data


def answers_schema(version=engine.CURRENT_VERSION) -> dict:
    """The request body of a PATCH of answers: one optional property per question of the questionnaire."""
    properties = {}
    for question in engine.load(version).questions:
        if question.type == "yesno":
            value = {"type": "string", "enum": [engine.YES, engine.NO]}
        elif question.type == "choice":
            value = {"type": "string", "enum": [o.key for o in question.options]}
        else:
            value = {"type": "number", "minimum": 0}
        properties[question.key] = {**value, "nullable": True, "description": f"{question.article}: {question.text}"}
    return {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
        "description": f"Question key -> answer (questionnaire {version}; a draft of another version lists its own "
        "questions under /questions/). yes/no questions also take true/false; null or '' clears an answer.",
    }


class StartSerializer(serializers.Serializer):
    questionnaire_version = serializers.ChoiceField(
        choices=engine.available_versions(), required=False, help_text=f"Defaults to {engine.CURRENT_VERSION}"
    )


class SubmitConflictSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.ChoiceField(
        choices=["incomplete", "invalid_transition"], help_text="incomplete: questions left; or submitted already"
    )
    unanswered = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="When incomplete: the keys of the questions left"
    )


# --- AI systems --------------------------------------------------------------------------------------


class AssessmentRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    risk_class = serializers.ChoiceField(choices=RiskClass.choices)
    questionnaire_version = serializers.CharField()
    submitted_at = serializers.DateTimeField()


class BoardDecisionRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=ReviewStatus.choices)
    rationale = serializers.CharField()
    conditions = serializers.CharField()
    decided_by = ComplianceUserSerializer()
    decided_at = serializers.DateTimeField()
    assessment = serializers.IntegerField(source="assessment_id", help_text="The classification it reviewed")


class AISystemSerializer(serializers.ModelSerializer):
    hub = HubRefSerializer(read_only=True)
    organisation = ComplianceOrganisationSerializer(read_only=True)
    owner = ComplianceUserSerializer(read_only=True)
    risk_class_label = serializers.CharField(source="get_risk_class_display", read_only=True)
    progress = serializers.SerializerMethodField()
    web_url = serializers.SerializerMethodField()

    class Meta:
        model = AISystem
        fields = [
            "id",
            "name",
            "hub",
            "organisation",
            "owner",
            "intended_purpose",
            "role",
            "sector",
            "input_modality",
            "output_modality",
            "uses_personal_data",
            "uses_health_data",
            "uses_biometric_data",
            "is_gpai_model",
            "builds_on_gpai",
            "gpai_base_model",
            "training_compute_flop",
            "deployment_status",
            "on_market_since",
            "risk_class",
            "risk_class_label",
            "annex_iii_point",
            "gpai_systemic_risk",
            "assessed_at",
            "progress",
            "created_at",
            "updated_at",
            "web_url",
        ]
        read_only_fields = fields

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, obj):
        if hasattr(obj, "items_total"):
            figures = selectors.Progress(closed=obj.items_closed, total=obj.items_total)
        else:
            figures = selectors.progress(obj)
        return {"closed": figures.closed, "total": figures.total, "percent": figures.percent}

    def get_web_url(self, obj) -> str:
        return _web_url(self.context.get("request"), obj.get_absolute_url())


class AISystemDetailSerializer(AISystemSerializer):
    latest_assessment = serializers.SerializerMethodField()
    draft_assessment = serializers.SerializerMethodField()
    latest_decision = serializers.SerializerMethodField()
    signed_off = serializers.SerializerMethodField()
    pending_review = serializers.SerializerMethodField()
    credit_gate = serializers.SerializerMethodField()
    projects = LinkedProjectSerializer(many=True, read_only=True)
    applications = LinkedApplicationSerializer(many=True, read_only=True)
    pilots = LinkedPilotSerializer(many=True, read_only=True)
    can_edit = serializers.SerializerMethodField()

    class Meta(AISystemSerializer.Meta):
        fields = [
            *AISystemSerializer.Meta.fields,
            "latest_assessment",
            "draft_assessment",
            "latest_decision",
            "signed_off",
            "pending_review",
            "credit_gate",
            "projects",
            "applications",
            "pilots",
            "can_edit",
        ]
        read_only_fields = fields

    @extend_schema_field(AssessmentRefSerializer(allow_null=True))
    def get_latest_assessment(self, obj):
        latest = selectors.latest_assessment(obj)
        return AssessmentRefSerializer(latest).data if latest else None

    def get_draft_assessment(self, obj) -> int | None:
        draft = selectors.draft_assessment(obj)
        return draft.pk if draft else None

    @extend_schema_field(BoardDecisionRefSerializer(allow_null=True))
    def get_latest_decision(self, obj):
        decision = selectors.latest_decision(obj)
        return BoardDecisionRefSerializer(decision).data if decision else None

    def get_signed_off(self, obj) -> bool:
        """The board approved the current classification."""
        return selectors.valid_signoff(obj) is not None

    def get_pending_review(self, obj) -> int | None:
        review = selectors.pending_review(obj)
        return review.pk if review else None

    def get_credit_gate(self, obj) -> str | None:
        """Why credit applications for work on this system cannot be approved (null: nothing blocks)."""
        return selectors.gate_problem(obj)

    def get_can_edit(self, obj) -> bool:
        request = self.context["request"]
        return access.can_edit(request.user, obj, api_key_of(request))


class AISystemWriteSerializer(serializers.ModelSerializer):
    hub = serializers.SlugRelatedField(
        slug_field="slug", queryset=Hub.objects.all(), help_text="Slug of a hub you are an active member of"
    )
    owner = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True),
        required=False,
        help_text="User id; defaults to you (hub staff may register a system for someone else)",
    )
    training_compute_flop = serializers.FloatField(
        required=False,
        allow_null=True,
        min_value=0,
        help_text="Cumulative training compute in FLOP, e.g. 3.2e24; above 1e25 a GPAI model is presumed to "
        "have systemic risk (Art. 51)",
    )

    class Meta:
        model = AISystem
        fields = [*SYSTEM_FORM_FIELDS, "owner"]
        # The service checks the name per hub (case-insensitive) and says so on the "name" field.
        validators: list = []


class AISystemUpdateSerializer(AISystemWriteSerializer):
    class Meta(AISystemWriteSerializer.Meta):
        fields = [f for f in SYSTEM_FORM_FIELDS if f != "hub"]


MAX_ID = 2**63 - 1  # the database's integer range: SQLite cannot bind a larger one


class LinksSerializer(serializers.Serializer):
    projects = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        help_text="Compute project ids (replaces the list)",
    )
    applications = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        help_text="Credit application ids (replaces the list)",
    )
    pilots = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        help_text="Ids of pilots of the system's hub (replaces)",
    )


class RiskClassFilter(django_filters.ChoiceFilter):
    def filter(self, qs, value):
        if value == UNASSESSED:
            return qs.filter(risk_class=RiskClass.UNASSESSED)
        return super().filter(qs, value)


class AISystemFilter(django_filters.FilterSet):
    hub = django_filters.CharFilter(field_name="hub__slug", help_text="Hub slug, e.g. `lyon`")
    risk_class = RiskClassFilter(
        choices=[(UNASSESSED, "Not assessed yet"), *[c for c in RiskClass.choices if c[0]]],
        help_text="A class, or `unassessed` for systems not classified yet",
    )
    sector = django_filters.ChoiceFilter(choices=Sector.choices)
    deployment_status = django_filters.ChoiceFilter(choices=DeploymentStatus.choices)
    mine = django_filters.BooleanFilter(method="filter_mine", help_text="`true`: only the systems you own")

    class Meta:
        model = AISystem
        fields = ["hub", "risk_class", "sector", "deployment_status", "mine"]

    def filter_mine(self, qs, name, value):
        user = self.request.user
        if value is None:
            return qs
        return qs.filter(owner_id=user.pk) if value else qs.exclude(owner_id=user.pk)


SYSTEM_EXAMPLE = {
    "hub": "lyon",
    "name": "Mammography triage",
    "organisation": 3,
    "intended_purpose": "Ranks screening mammograms so radiologists read the suspicious ones first.",
    "role": "provider",
    "sector": "health",
    "input_modality": "image",
    "output_modality": "decision",
    "uses_personal_data": True,
    "uses_health_data": True,
    "deployment_status": "testing",
}


def _system(request, pk):
    return access.system_for(request.user, pk, api_key=api_key_of(request))


def _system_body(request, pk) -> dict:
    system = _system(request, pk)
    prefetch_related_objects([system], "projects__hub", "applications__hub", "applications__call", "pilots__hub")
    return AISystemDetailSerializer(system, context={"request": request}).data


class AISystemListView(_Reads, generics.ListAPIView):
    """AI systems you may see: your own, your project teams', your hubs' (staff and board members)."""

    serializer_class = AISystemSerializer
    filterset_class = AISystemFilter
    search_fields = ["name", "intended_purpose"]
    ordering_fields = ["name", "created_at", "assessed_at"]
    queryset = AISystem.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return AISystem.objects.none()
        qs = access.systems_visible_to(self.request.user, api_key_of(self.request))
        return selectors.systems_list(qs).order_by("name", "pk")

    @extend_schema(
        tags=[TAG_SYSTEMS],
        summary="List AI systems",
        description="Filter by hub, class (`unassessed` for none yet), sector, deployment status; `search` looks "
        "in names and intended purposes. A partner key lists its hub's systems.",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=[TAG_SYSTEMS],
        summary="Register an AI system",
        description="Any active member of the hub; you own it unless hub staff name another owner. Next: start "
        "an assessment.",
        request=AISystemWriteSerializer,
        responses={201: AISystemDetailSerializer, 400: ERROR_400, 403: ERROR_403},
        examples=[OpenApiExample("A hospital's triage system", value=SYSTEM_EXAMPLE, request_only=True)],
    )
    def post(self, request):
        key = api_key_of(request)
        write = AISystemWriteSerializer(data=request.data)
        write.is_valid(raise_exception=True)
        data = dict(write.validated_data)
        hub = data.pop("hub")
        if key is not None and key.hub_id != hub.pk:
            raise exceptions.PermissionDenied(f"This API key is scoped to another hub than {hub}.")
        system = services.system_create(hub=hub, acting_user=request.user, **data)
        return Response(_system_body(request, system.pk), status=status.HTTP_201_CREATED)


class AISystemDetailView(_Reads, APIView):
    @extend_schema(
        tags=[TAG_SYSTEMS],
        summary="One AI system",
        description="With its class, GPAI flags, checklist progress, latest board decision and links.",
        responses={200: AISystemDetailSerializer, 404: ERROR_404},
    )
    def get(self, request, pk):
        return Response(_system_body(request, pk))

    @extend_schema(
        tags=[TAG_SYSTEMS],
        summary="Change an AI system",
        description="The owner, the linked projects' team members and hub staff. Changing the role or the kinds "
        "of data re-generates the checklist (evidence is kept).",
        request=AISystemUpdateSerializer,
        responses={200: AISystemDetailSerializer, 400: ERROR_400, 403: ERROR_403, 404: ERROR_404},
        examples=[OpenApiExample("Deployed", value={"deployment_status": "deployed"}, request_only=True)],
    )
    def patch(self, request, pk):
        system = _system(request, pk)
        write = AISystemUpdateSerializer(data=request.data, partial=True)
        write.is_valid(raise_exception=True)
        services.system_update(system=system, acting_user=request.user, **write.validated_data)
        return Response(_system_body(request, pk))


class AISystemLinksView(APIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUser]
    parser_classes = JSON_ONLY

    @extend_schema(
        tags=[TAG_SYSTEMS],
        summary="Set the projects, credit applications and pilots the system belongs to",
        description="Each list given replaces the current links; lists left out stay. You may add projects and "
        "applications whose team you are on and pilots of the system's hub you lead or work on (hub staff: their "
        "hubs'); links already there may stay.",
        request=LinksSerializer,
        responses={200: AISystemDetailSerializer, 400: ERROR_400, 403: ERROR_403, 404: ERROR_404},
        examples=[OpenApiExample("Links", value={"projects": [4], "applications": [17], "pilots": []})],
    )
    def patch(self, request, pk):
        key = api_key_of(request)
        system = _system(request, pk)
        write = LinksSerializer(data=request.data)
        write.is_valid(raise_exception=True)
        choices, links, errors = services.link_choices(request.user, system, key), {}, {}
        for field, ids in write.validated_data.items():
            # An id that does not exist and one you may not link get the same answer.
            found = {o.pk: o for o in choices[field].filter(pk__in=ids)}
            missing = [str(i) for i in ids if i not in found]
            if missing:
                errors[field] = [f"No {LINK_LABELS[field]} you can link has the id {', '.join(missing)}."]
            links[field] = [found[i] for i in dict.fromkeys(ids) if i in found]
        if errors:
            raise exceptions.ValidationError(errors)
        services.system_link(system=system, acting_user=request.user, api_key=key, **links)
        return Response(_system_body(request, pk))


# --- Assessments ---------------------------------------------------------------------------------------


class SystemAssessmentsView(_Reads, generics.ListAPIView):
    """A system's assessments, newest first: its draft (if any) and the classifications submitted."""

    serializer_class = AssessmentSerializer
    queryset = Assessment.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Assessment.objects.none()
        system = _system(self.request, self.kwargs["pk"])
        return (
            Assessment.objects.filter(system=system)
            .select_related("system__hub", "started_by", "submitted_by")
            .order_by("-created_at", "-id")
        )

    @extend_schema(tags=[TAG_ASSESSMENTS], summary="A system's assessments", responses={200: AssessmentSerializer})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=[TAG_ASSESSMENTS],
        summary="Start (or resume) the system's draft assessment",
        description="A new draft starts from the last classification's answers and what the system record says. "
        "If the system has a draft already, it is returned with 200.",
        request=StartSerializer,
        responses={
            201: AssessmentSerializer,
            200: OpenApiResponse(AssessmentSerializer, description="The system's existing draft"),
            400: ERROR_400,
            403: ERROR_403,
            404: ERROR_404,
        },
    )
    def post(self, request, pk):
        system = _system(request, pk)
        write = StartSerializer(data=request.data)
        write.is_valid(raise_exception=True)
        existing = selectors.draft_assessment(system)
        draft = services.assessment_start(
            system=system, acting_user=request.user, version=write.validated_data.get("questionnaire_version")
        )
        body = AssessmentSerializer(_assessment(request, draft.pk), context={"request": request}).data
        return Response(body, status=status.HTTP_200_OK if existing else status.HTTP_201_CREATED)


def _assessment(request, pk):
    return access.assessment_for(request.user, pk, api_key=api_key_of(request))


class AssessmentDetailView(_Reads, APIView):
    @extend_schema(
        tags=[TAG_ASSESSMENTS],
        summary="One assessment with its answers, progress and outcome",
        description="A submitted assessment's outcome is fixed (`final: true`): class, Annex I section or Annex "
        "III point, Art. 6(3) derogation, Art. 50 duties, GPAI flags, the reasoning with its articles, the dates "
        "that apply and the questionnaire version. A draft's outcome is provisional.",
        responses={200: AssessmentSerializer, 404: ERROR_404},
    )
    def get(self, request, pk):
        return Response(AssessmentSerializer(_assessment(request, pk), context={"request": request}).data)


class AssessmentQuestionsView(_Reads, APIView):
    @extend_schema(
        tags=[TAG_ASSESSMENTS],
        summary="The questions as the wizard shows them",
        description="`to_answer` holds the current section's unanswered questions; `sections` every section "
        "with its state and, for the sections reached, the questions asked with their answers. Earlier answers "
        "decide which questions are asked.",
        responses={200: WizardSerializer, 404: ERROR_404},
    )
    def get(self, request, pk):
        return Response(WizardSerializer(selectors.wizard_state(_assessment(request, pk))).data)


ANSWERS_EXAMPLE = {"ai_system": "yes", "eu_nexus": "yes", "excl_military": "no", "annex_iii_5": "5d"}


class AssessmentAnswersView(APIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUser]
    parser_classes = JSON_ONLY

    @extend_schema(
        tags=[TAG_ASSESSMENTS],
        summary="Save answers to a draft",
        description="The body is the answers to save, by question key (a JSON merge patch of the draft's "
        "answers: null clears one). A bad answer (an unknown question, a value that is not one of its options) is "
        "named by its question key and nothing is saved. Answers the wizard state in return.",
        request={"application/json": answers_schema()},
        responses={200: WizardSerializer, 400: ERROR_400, 403: ERROR_403, 404: ERROR_404, 409: ERROR_409},
        examples=[
            OpenApiExample("Scope and use case", value=ANSWERS_EXAMPLE, request_only=True),
            OpenApiExample(
                "A bad answer",
                value={"annex_iii_5": ["Pick one of: none, 5a, 5b, 5c, 5d."]},
                response_only=True,
                status_codes=["400"],
            ),
        ],
    )
    def patch(self, request, pk):
        assessment = _assessment(request, pk)
        if not isinstance(request.data, dict):
            raise exceptions.ValidationError({"non_field_errors": ["Send an object: question key -> answer."]})
        services.assessment_answer(assessment=assessment, acting_user=request.user, answers=request.data)
        return Response(WizardSerializer(selectors.wizard_state(_assessment(request, pk))).data)


class AssessmentSubmitView(APIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUser]
    parser_classes = JSON_ONLY

    @extend_schema(
        tags=[TAG_ASSESSMENTS],
        summary="Submit a complete draft: fixes the outcome, updates the system's class and checklist",
        request=None,
        responses={
            200: AssessmentSerializer,
            403: ERROR_403,
            404: ERROR_404,
            409: OpenApiResponse(
                SubmitConflictSerializer, description="Questions still to answer (listed), or submitted already"
            ),
        },
    )
    def post(self, request, pk):
        assessment = _assessment(request, pk)
        try:
            services.assessment_submit(assessment=assessment, acting_user=request.user)
        except services.AssessmentIncomplete as exc:
            body = {"detail": exc.summary, "code": "incomplete", "unanswered": exc.unanswered}
            return Response(body, status=status.HTTP_409_CONFLICT)
        return Response(AssessmentSerializer(_assessment(request, pk), context={"request": request}).data)


# --- Checklist items and evidence ---------------------------------------------------------------------------


class ChecklistItemSerializer(serializers.ModelSerializer):
    system = AISystemRefSerializer(read_only=True)
    owner = ComplianceUserSerializer(read_only=True, allow_null=True)
    evidence_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EvidenceType.choices), read_only=True, help_text="Evidence it calls for"
    )
    evidence_count = serializers.IntegerField(read_only=True)
    obsolete = serializers.SerializerMethodField()
    web_url = serializers.SerializerMethodField()

    class Meta:
        model = ChecklistItem
        fields = [
            "id",
            "system",
            "key",
            "section",
            "article",
            "title",
            "description",
            "evidence_types",
            "due_on",
            "position",
            "status",
            "justification",
            "owner",
            "evidence_count",
            "obsolete",
            "obsolete_at",
            "completed_at",
            "created_at",
            "updated_at",
            "web_url",
        ]
        read_only_fields = fields

    def get_obsolete(self, obj) -> bool:
        """The latest classification no longer requires it (read-only, kept with its evidence)."""
        return obj.obsolete_at is not None

    def get_web_url(self, obj) -> str:
        return _web_url(self.context.get("request"), obj.get_absolute_url())


class ChecklistItemUpdateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ItemStatus.choices, required=False)
    justification = serializers.CharField(
        required=False, allow_blank=True, help_text="Why the obligation does not apply (required for not_applicable)"
    )
    owner = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True),
        required=False,
        allow_null=True,
        help_text="User id of someone who works on the system (or its hub's board); null: nobody",
    )


class EvidenceTypeFilter(django_filters.ChoiceFilter):
    """Items that call for this kind of evidence (``evidence_types`` holds it)."""

    def filter(self, qs, value):
        if not value:
            return qs
        # JSON "contains" is not available on SQLite; the list's text holds the quoted code exactly once.
        return qs.filter(evidence_types__icontains=f'"{value}"')


class ChecklistFilter(django_filters.FilterSet):
    system = django_filters.NumberFilter(field_name="system_id", help_text="Only this AI system's items")
    hub = django_filters.CharFilter(field_name="system__hub__slug", help_text="Hub slug")
    status = django_filters.ChoiceFilter(choices=ItemStatus.choices)
    section = django_filters.ChoiceFilter(choices=ItemSection.choices)
    evidence_type = EvidenceTypeFilter(choices=EvidenceType.choices, help_text="Items that call for this evidence")
    owner = django_filters.NumberFilter(field_name="owner_id", help_text="User id of the item's owner")
    obsolete = django_filters.BooleanFilter(
        field_name="obsolete_at",
        lookup_expr="isnull",
        exclude=True,
        help_text="Left out: current items only; `true`: only items a re-classification retired",
    )

    class Meta:
        model = ChecklistItem
        fields = ["system", "hub", "status", "section", "evidence_type", "owner", "obsolete"]

    def filter_queryset(self, queryset):
        if self.form.cleaned_data.get("obsolete") is None:
            queryset = queryset.filter(obsolete_at__isnull=True)
        return super().filter_queryset(queryset)


def _items(request):
    return (
        access.items_visible_to(request.user, api_key_of(request))
        .select_related("system", "system__hub", "owner")
        .annotate(evidence_count=Count("evidence"))
    )


def _item(request, pk):
    return get_object_or_404(_items(request), pk=pk)


class ChecklistItemListView(generics.ListAPIView):
    """The obligations of the AI systems you may see, with their status and owner."""

    permission_classes = [ApiKeyScopePermission, CanRead]
    parser_classes = JSON_ONLY
    serializer_class = ChecklistItemSerializer
    filterset_class = ChecklistFilter
    search_fields = ["title", "article", "description"]
    ordering_fields = ["due_on", "position", "updated_at"]
    queryset = ChecklistItem.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ChecklistItem.objects.none()
        return _items(self.request).order_by("system__name", "system_id", "position", "id")

    @extend_schema(
        tags=[TAG_CHECKLIST],
        summary="Checklist items",
        description="Current items unless `obsolete` is given; filter one system's with `system`.",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ChecklistItemDetailView(_Reads, APIView):
    @extend_schema(
        tags=[TAG_CHECKLIST], summary="One checklist item", responses={200: ChecklistItemSerializer, 404: ERROR_404}
    )
    def get(self, request, pk):
        return Response(ChecklistItemSerializer(_item(request, pk), context={"request": request}).data)

    @extend_schema(
        tags=[TAG_CHECKLIST],
        summary="Change an item's status, justification or owner",
        description="`not_applicable` needs a justification. An item a re-classification retired is read-only (409).",
        request=ChecklistItemUpdateSerializer,
        responses={200: ChecklistItemSerializer, 400: ERROR_400, 403: ERROR_403, 404: ERROR_404, 409: ERROR_409},
        examples=[
            OpenApiExample(
                "Not applicable",
                value={"status": "not_applicable", "justification": "The system is not placed on the market."},
                request_only=True,
            ),
            OpenApiExample(
                "No justification",
                value={"justification": ["Say why this obligation does not apply to the system."]},
                response_only=True,
                status_codes=["400"],
            ),
        ],
    )
    def patch(self, request, pk):
        item = _item(request, pk)
        write = ChecklistItemUpdateSerializer(data=request.data)
        write.is_valid(raise_exception=True)
        services.item_update(item=item, acting_user=request.user, **write.validated_data)
        return Response(ChecklistItemSerializer(_item(request, pk), context={"request": request}).data)


class EvidenceSerializer(serializers.ModelSerializer):
    item = serializers.IntegerField(source="item_id", read_only=True)
    url = serializers.CharField(read_only=True, help_text="A link's address (http(s) or a path of this portal)")
    added_by = ComplianceUserSerializer(read_only=True, allow_null=True)
    file_name = serializers.SerializerMethodField()
    web_url = serializers.SerializerMethodField()

    class Meta:
        model = Evidence
        fields = [
            "id",
            "item",
            "kind",
            "label",
            "evidence_type",
            "url",
            "file_name",
            "content_type",
            "size_bytes",
            "sha256",
            "added_by",
            "created_at",
            "web_url",
        ]
        read_only_fields = fields

    def get_file_name(self, obj) -> str:
        return obj.file.name.rsplit("/", 1)[-1] if obj.kind == EvidenceKind.FILE else ""

    def get_web_url(self, obj) -> str:
        """Where the evidence opens in the portal (a file downloads in a signed-in browser)."""
        return _web_url(self.context.get("request"), reverse("compliance:evidence_download", args=[obj.pk]))


class EvidenceLinkSerializer(serializers.Serializer):
    label = serializers.CharField(max_length=200, allow_blank=True, help_text="e.g. DPIA v2 (SharePoint)")
    url = serializers.CharField(max_length=500, help_text="https://… or a path of this portal (/…)")
    evidence_type = serializers.ChoiceField(
        choices=EvidenceType.choices, required=False, help_text="Defaults to the first kind the item calls for"
    )


class EvidenceFileSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="PDF, image, text, CSV, JSON, Office or OpenDocument file, up to 10 MB")
    label = serializers.CharField(
        max_length=200, required=False, default="", allow_blank=True, help_text="Defaults to the file name"
    )
    evidence_type = serializers.ChoiceField(
        choices=EvidenceType.choices, required=False, help_text="Defaults to the first kind the item calls for"
    )


class ItemEvidenceView(_Reads, generics.ListAPIView):
    """Evidence attached to a checklist item, newest first; a link is attached here (JSON)."""

    serializer_class = EvidenceSerializer
    queryset = Evidence.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Evidence.objects.none()
        item = access.item_for(self.request.user, self.kwargs["pk"], api_key=api_key_of(self.request))
        return selectors.evidence_of(item).order_by("-created_at", "-id")

    @extend_schema(tags=[TAG_CHECKLIST], summary="Evidence of a checklist item")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=[TAG_CHECKLIST],
        summary="Attach a link as evidence",
        description="`https://…` or a path of this portal. An item still to do moves to in progress. "
        "Files go to `POST /api/v1/checklist-items/{id}/evidence/files/`.",
        request=EvidenceLinkSerializer,
        responses={201: EvidenceSerializer, 400: ERROR_400, 403: ERROR_403, 404: ERROR_404},
        examples=[
            OpenApiExample(
                "A link",
                value={"label": "DPIA v2 (SharePoint)", "url": "https://sharepoint.example.org/dpia-v2"},
                request_only=True,
            )
        ],
    )
    def post(self, request, pk):
        item = access.item_for(request.user, pk, api_key=api_key_of(request))
        write = EvidenceLinkSerializer(data=request.data)
        write.is_valid(raise_exception=True)
        data = write.validated_data
        evidence = services.evidence_link_add(
            item=item,
            acting_user=request.user,
            evidence_type=data.get("evidence_type"),
            label=data["label"],
            url=data["url"],
        )
        return _evidence_created(request, evidence)


class ItemEvidenceFileView(_Reads, APIView):
    """A file attached to a checklist item as evidence (multipart upload)."""

    parser_classes = [parsers.MultiPartParser]

    @extend_schema(
        tags=[TAG_CHECKLIST],
        summary="Attach a file as evidence (multipart)",
        description="A file's type is checked against its name and first bytes; 10 MB at most. An item still "
        "to do moves to in progress.",
        request={"multipart/form-data": EvidenceFileSerializer},
        responses={201: EvidenceSerializer, 400: ERROR_400, 403: ERROR_403, 404: ERROR_404},
    )
    def post(self, request, pk):
        item = access.item_for(request.user, pk, api_key=api_key_of(request))
        write = EvidenceFileSerializer(data=request.data)
        write.is_valid(raise_exception=True)
        data = write.validated_data
        evidence = services.evidence_file_add(
            item=item,
            acting_user=request.user,
            evidence_type=data.get("evidence_type"),
            uploaded=data["file"],
            label=data["label"],
        )
        return _evidence_created(request, evidence)


def _evidence_created(request, evidence) -> Response:
    evidence = access.evidence_for(request.user, evidence.pk, api_key=api_key_of(request))
    return Response(EvidenceSerializer(evidence, context={"request": request}).data, status=status.HTTP_201_CREATED)


class EvidenceDetailView(_Reads, APIView):
    @extend_schema(tags=[TAG_CHECKLIST], summary="One piece of evidence", responses={200: EvidenceSerializer})
    def get(self, request, pk):
        evidence = access.evidence_for(request.user, pk, api_key=api_key_of(request))
        return Response(EvidenceSerializer(evidence, context={"request": request}).data)

    @extend_schema(
        tags=[TAG_CHECKLIST],
        summary="Remove evidence from its item (recorded in the audit trail)",
        responses={204: None, 403: ERROR_403, 404: ERROR_404},
    )
    def delete(self, request, pk):
        evidence = access.evidence_for(request.user, pk, api_key=api_key_of(request))
        services.evidence_remove(evidence=evidence, acting_user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Ethics board ----------------------------------------------------------------------------------------


class BoardMemberSerializer(serializers.ModelSerializer):
    hub = HubRefSerializer(read_only=True)
    user = ComplianceUserSerializer(read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)

    class Meta:
        model = BoardMember
        fields = ["id", "hub", "user", "email", "title", "active", "created_at"]
        read_only_fields = fields


class BoardMemberCreateSerializer(serializers.Serializer):
    hub = serializers.SlugRelatedField(slug_field="slug", queryset=Hub.objects.all(), help_text="A hub you run")
    user = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False, help_text="User id of an active hub member"
    )
    email = serializers.EmailField(required=False, help_text="Or their e-mail")
    title = serializers.CharField(max_length=120, required=False, default="", allow_blank=True)

    def validate(self, attrs):
        if ("user" in attrs) == ("email" in attrs):
            raise serializers.ValidationError({"user": ["Name the person by 'user' id or by 'email'."]})
        if "email" in attrs:
            person = User.objects.filter(email__iexact=attrs.pop("email"), is_active=True).first()
            if person is None:
                raise serializers.ValidationError({"email": ["No one has an account with this e-mail."]})
            attrs["user"] = person
        return attrs


class BoardMemberFilter(django_filters.FilterSet):
    hub = django_filters.CharFilter(field_name="hub__slug", help_text="Hub slug")
    active = django_filters.BooleanFilter(help_text="Left out: current members; `false`: former members")

    class Meta:
        model = BoardMember
        fields = ["hub", "active"]

    def filter_queryset(self, queryset):
        if self.form.cleaned_data.get("active") is None:
            queryset = queryset.filter(active=True)
        return super().filter_queryset(queryset)


class BoardMemberListView(generics.ListAPIView):
    """Hub staff: the ethics boards of the hubs you run."""

    permission_classes = [ApiKeyScopePermission, IsStaffWithMfa]
    parser_classes = JSON_ONLY
    serializer_class = BoardMemberSerializer
    filterset_class = BoardMemberFilter
    search_fields = ["user__name", "user__email", "title"]
    queryset = BoardMember.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return BoardMember.objects.none()
        qs = access.board_members_managed_by(self.request.user, api_key_of(self.request))
        return qs.select_related("hub", "user").order_by("hub__name", "user__name", "id")

    @extend_schema(tags=[TAG_BOARD], summary="Ethics board members (hub staff)")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=[TAG_BOARD],
        summary="Name a member of a hub's ethics board (hub staff)",
        description="The person must be an active member of the hub. Naming a current member again with the "
        "same title changes nothing (200).",
        request=BoardMemberCreateSerializer,
        responses={
            201: BoardMemberSerializer,
            200: OpenApiResponse(BoardMemberSerializer, description="Already on the board with this title"),
            400: ERROR_400,
            403: ERROR_403,
        },
        examples=[OpenApiExample("Chair", value={"hub": "lyon", "email": "bea@example.org", "title": "Chair"})],
    )
    def post(self, request):
        key = api_key_of(request)
        write = BoardMemberCreateSerializer(data=request.data)
        write.is_valid(raise_exception=True)
        data = write.validated_data
        if not hub_access.is_hub_staff(request.user, data["hub"], key):
            raise exceptions.PermissionDenied(f"Only staff of {data['hub']} can change its ethics board.")
        unchanged = BoardMember.objects.filter(
            hub=data["hub"], user=data["user"], active=True, title=data["title"].strip()
        ).exists()
        member = services.board_member_add(
            hub=data["hub"], user=data["user"], title=data["title"], acting_user=request.user, api_key=key
        )
        member = access.board_member_for(request.user, member.pk, key)
        return Response(
            BoardMemberSerializer(member).data, status=status.HTTP_200_OK if unchanged else status.HTTP_201_CREATED
        )


class BoardMemberDetailView(APIView):
    permission_classes = [ApiKeyScopePermission, IsStaffWithMfa]
    parser_classes = JSON_ONLY

    @extend_schema(
        tags=[TAG_BOARD], summary="One board seat (hub staff)", responses={200: BoardMemberSerializer, 404: ERROR_404}
    )
    def get(self, request, pk):
        return Response(BoardMemberSerializer(access.board_member_for(request.user, pk, api_key_of(request))).data)

    @extend_schema(
        tags=[TAG_BOARD],
        summary="Take someone off the board (hub staff); their past decisions stay",
        responses={204: None, 403: ERROR_403, 404: ERROR_404},
    )
    def delete(self, request, pk):
        key = api_key_of(request)
        member = access.board_member_for(request.user, pk, key)
        services.board_member_remove(member=member, acting_user=request.user, api_key=key)
        return Response(status=status.HTTP_204_NO_CONTENT)


class BoardReviewSerializer(serializers.ModelSerializer):
    system = AISystemRefSerializer(read_only=True)
    assessment = AssessmentRefSerializer(read_only=True)
    requested_by = ComplianceUserSerializer(read_only=True)
    decided_by = ComplianceUserSerializer(read_only=True, allow_null=True)
    can_decide = serializers.SerializerMethodField()
    web_url = serializers.SerializerMethodField()

    class Meta:
        model = BoardReview
        fields = [
            "id",
            "system",
            "assessment",
            "status",
            "request_note",
            "requested_by",
            "requested_at",
            "rationale",
            "conditions",
            "decided_by",
            "decided_at",
            "can_decide",
            "web_url",
        ]
        read_only_fields = fields

    def get_can_decide(self, obj) -> bool:
        """Pending, and you sit on the hub's board (and do not own the system)."""
        awaiting = self.context.get("awaiting")
        if awaiting is not None:
            return obj.pk in awaiting
        request = self.context["request"]
        return obj.status == ReviewStatus.PENDING and access.can_decide(request.user, obj.system, api_key_of(request))

    def get_web_url(self, obj) -> str:
        return _web_url(self.context.get("request"), obj.system.get_absolute_url() + "#board")


class ReviewRequestSerializer(serializers.Serializer):
    note = serializers.CharField(
        required=False, default="", allow_blank=True, help_text="What should the board look at?"
    )


class BoardDecisionSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(
        choices=[
            (ReviewStatus.APPROVED, "Approve"),
            (ReviewStatus.APPROVED_WITH_CONDITIONS, "Approve with conditions"),
            (ReviewStatus.REJECTED, "Reject"),
        ]
    )
    # Left to the service, which names the missing rationale or conditions after checking who decides.
    rationale = serializers.CharField(
        required=False, default="", allow_blank=True, help_text="The board's rationale (required)"
    )
    conditions = serializers.CharField(
        required=False, default="", allow_blank=True, help_text="Required for approved_with_conditions"
    )


class BoardReviewFilter(django_filters.FilterSet):
    system = django_filters.NumberFilter(field_name="system_id", help_text="Only this AI system's reviews")
    hub = django_filters.CharFilter(field_name="system__hub__slug", help_text="Hub slug")
    status = django_filters.ChoiceFilter(choices=ReviewStatus.choices)
    awaiting_me = django_filters.BooleanFilter(
        method="filter_awaiting_me", help_text="`true`: only the pending reviews you may decide"
    )

    class Meta:
        model = BoardReview
        fields = ["system", "hub", "status", "awaiting_me"]

    def filter_awaiting_me(self, qs, name, value):
        if value is None:
            return qs
        awaiting = access.reviews_awaiting(self.request.user, api_key_of(self.request)).values("pk")
        return qs.filter(pk__in=awaiting) if value else qs.exclude(pk__in=awaiting)


def _reviews(request):
    return access.reviews_visible_to(request.user, api_key_of(request)).select_related(
        "system__hub", "assessment", "requested_by", "decided_by"
    )


def _review(request, pk):
    return get_object_or_404(_reviews(request), pk=pk)


class BoardReviewListView(generics.ListAPIView):
    """Ethics-board reviews of the systems you may see, newest first."""

    permission_classes = [ApiKeyScopePermission, CanRead]
    parser_classes = JSON_ONLY
    serializer_class = BoardReviewSerializer
    filterset_class = BoardReviewFilter
    queryset = BoardReview.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return BoardReview.objects.none()
        return _reviews(self.request).order_by("-requested_at", "-id")

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False):
            # One query for the page's "can_decide" instead of one per review.
            awaiting = access.reviews_awaiting(self.request.user, api_key_of(self.request))
            context["awaiting"] = set(awaiting.values_list("pk", flat=True))
        return context

    @extend_schema(
        tags=[TAG_BOARD],
        summary="Ethics-board reviews",
        description="`awaiting_me=true` lists the reviews waiting for your decision as a board member.",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class BoardReviewRequestView(APIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUser]
    parser_classes = JSON_ONLY

    @extend_schema(
        tags=[TAG_BOARD],
        summary="Ask the hub's ethics board to review the system's current classification",
        description="The owner or the team. 409 when the system is not classified, the hub has no board, or a "
        "review is already waiting.",
        request=ReviewRequestSerializer,
        responses={201: BoardReviewSerializer, 403: ERROR_403, 404: ERROR_404, 409: ERROR_409},
    )
    def post(self, request, pk):
        system = _system(request, pk)
        write = ReviewRequestSerializer(data=request.data)
        write.is_valid(raise_exception=True)
        review = services.board_review_request(
            system=system, acting_user=request.user, note=write.validated_data["note"]
        )
        body = BoardReviewSerializer(_review(request, review.pk), context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)


class BoardReviewDetailView(_Reads, APIView):
    @extend_schema(
        tags=[TAG_BOARD], summary="One ethics-board review", responses={200: BoardReviewSerializer, 404: ERROR_404}
    )
    def get(self, request, pk):
        return Response(BoardReviewSerializer(_review(request, pk), context={"request": request}).data)


class BoardReviewDecideView(APIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUser]
    parser_classes = JSON_ONLY

    @extend_schema(
        tags=[TAG_BOARD],
        summary="Decide a review (board members): approve, approve with conditions, or reject",
        description="A rationale is required, and conditions for an approval with conditions. The system's owner "
        "cannot decide on it. 409 once the review is decided or withdrawn.",
        request=BoardDecisionSerializer,
        responses={200: BoardReviewSerializer, 400: ERROR_400, 403: ERROR_403, 404: ERROR_404, 409: ERROR_409},
        examples=[
            OpenApiExample(
                "With conditions",
                value={
                    "decision": "approved_with_conditions",
                    "rationale": "Risk management and data governance are documented.",
                    "conditions": "Re-run the fairness check on the 2027 screening data.",
                },
                request_only=True,
            )
        ],
    )
    def post(self, request, pk):
        review = _review(request, pk)
        write = BoardDecisionSerializer(data=request.data)
        write.is_valid(raise_exception=True)
        services.board_review_decide(review=review, acting_user=request.user, **write.validated_data)
        return Response(BoardReviewSerializer(_review(request, pk), context={"request": request}).data)


class BoardReviewWithdrawView(APIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUser]
    parser_classes = JSON_ONLY

    @extend_schema(
        tags=[TAG_BOARD],
        summary="Withdraw a pending review request (owner or team)",
        request=None,
        responses={200: BoardReviewSerializer, 403: ERROR_403, 404: ERROR_404, 409: ERROR_409},
    )
    def post(self, request, pk):
        services.board_review_withdraw(review=_review(request, pk), acting_user=request.user)
        return Response(BoardReviewSerializer(_review(request, pk), context={"request": request}).data)
