"""API v1 of fairness checks, reference data, trust anchors and drift batches.

- People (browser session or personal key) upload fairness checks and reference data and read the
  results; ethics-board members sign reference data off or reject it.
- Partner monitoring systems post drift batches to an anchor with their hub's write key, as CSV
  (multipart ``file``) or JSON (``rows``: a list of objects); ``external_id`` makes a re-send
  harmless (the first batch is answered again with 200).
- A signed-off reference dataset and its anchor cannot be changed: PATCH and DELETE answer 409, the
  anchor endpoints are read-only.
Errors are JSON with a message per field (the column, row or limit at fault).
"""

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, parsers, permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from gigafactory.api import ApiKeyScopePermission, IsSignedInUser, api_key_of

from . import access, csvio, selectors, services
from .models import BatchSource, DriftBatch, FairnessCheck, ReferenceDataset, ReferenceStatus, RunStatus, TrustAnchor

ERROR_400 = OpenApiResponse(description="Invalid input: a message per field naming the column, row or limit")
ERROR_403 = OpenApiResponse(description="Not allowed: not the owner or hub staff, not on the board, or a read-only key")
ERROR_404 = OpenApiResponse(description="No such object, or not one you may see (e.g. another hub's)")
ERROR_409 = OpenApiResponse(description="Not allowed in the current state (e.g. the reference data is signed off)")
TAG = "assurance"
PARSERS = [parsers.JSONParser, parsers.MultiPartParser, parsers.FormParser]


class HasIdentity(permissions.BasePermission):
    """A signed-in person or any API key (partner keys included)."""

    message = "Authenticate with a session or an API key."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated) or api_key_of(request) is not None


def _table(request, data) -> tuple[csvio.Table, str, str]:
    """The uploaded table (multipart ``file`` or JSON ``rows``), its SHA-256 and file name."""
    upload, rows = data.get("file"), data.get("rows")
    if upload is not None and rows is not None:
        raise serializers.ValidationError({"file": ["Send either a CSV file or JSON rows, not both."]})
    if upload is not None:
        limit = csvio.max_upload_bytes()
        if upload.size > limit:
            raise serializers.ValidationError(
                {"file": [f"The file is {csvio.human_size(upload.size)}; the limit is {csvio.human_size(limit)}."]}
            )
        raw = upload.read()
        return csvio.read_csv(raw, field_name="file"), services.sha256(raw), upload.name
    if rows is None:
        raise serializers.ValidationError({"rows": ["Send the data as a CSV 'file' (multipart) or as JSON 'rows'."]})
    table = csvio.read_json_rows(rows, field_name="rows")
    return table, services.sha256(services.canonical_json(rows)), ""


def _validation(exc: DjangoValidationError):
    detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
    return serializers.ValidationError(detail)


# --- Serializers ------------------------------------------------------------------------------


def _enum(choices, description: str) -> dict:
    """A string listing its values (a named enum component would collide with other apps' "status")."""
    values = ", ".join(value for value, _label in choices)
    return {"type": "string", "description": f"One of: {values}. {description}", "example": choices[0][0]}


@extend_schema_field(_enum(RunStatus.choices, "pending (waiting for the worker), done or failed"))
class RunStatusField(serializers.CharField):
    pass


@extend_schema_field(_enum(ReferenceStatus.choices, "draft, submitted (to the board), signed_off or rejected"))
class ReferenceStatusField(serializers.CharField):
    pass


@extend_schema_field(_enum(BatchSource.choices, "browser or api"))
class BatchSourceField(serializers.CharField):
    pass


class SystemRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    hub = serializers.SlugField(source="hub.slug")


class FairnessThresholdsSerializer(serializers.Serializer):
    max_parity_difference = serializers.FloatField(min_value=0, max_value=1, required=False, default=0.1)
    min_parity_ratio = serializers.FloatField(min_value=0, max_value=1, required=False, default=0.8)
    max_equalized_odds_difference = serializers.FloatField(min_value=0, max_value=1, required=False, default=0.1)
    max_equal_opportunity_difference = serializers.FloatField(min_value=0, max_value=1, required=False, default=0.1)


class FairnessCheckSerializer(serializers.ModelSerializer):
    system = SystemRefSerializer(read_only=True)
    status = RunStatusField(read_only=True)
    verdict = serializers.CharField(read_only=True)
    thresholds = serializers.SerializerMethodField()

    class Meta:
        model = FairnessCheck
        fields = [
            "id",
            "system",
            "name",
            "status",
            "passed",
            "verdict",
            "row_count",
            "file_name",
            "file_sha256",
            "label_column",
            "prediction_column",
            "score_column",
            "sensitive_columns",
            "positive_label",
            "thresholds",
            "error",
            "evidence_attached_at",
            "created_at",
            "computed_at",
        ]
        read_only_fields = fields

    @extend_schema_field(FairnessThresholdsSerializer)
    def get_thresholds(self, obj):
        return {
            "max_parity_difference": obj.max_parity_difference,
            "min_parity_ratio": obj.min_parity_ratio,
            "max_equalized_odds_difference": obj.max_equalized_odds_difference,
            "max_equal_opportunity_difference": obj.max_equal_opportunity_difference,
        }


@extend_schema_field(
    {
        "type": "object",
        "description": "rows, overall figures, one analysis per sensitive attribute and one for their intersection "
        "(groups with count, selection_rate, true_positive_rate, false_positive_rate, accuracy; disparities; checks "
        "with value, threshold and passed), failed_checks and warnings",
    }
)
class ResultsField(serializers.JSONField):
    pass


class FairnessCheckDetailSerializer(FairnessCheckSerializer):
    results = ResultsField(read_only=True)

    class Meta(FairnessCheckSerializer.Meta):
        fields = [*FairnessCheckSerializer.Meta.fields, "results"]
        read_only_fields = fields


class FairnessCheckCreateSerializer(FairnessThresholdsSerializer):
    system = serializers.IntegerField(help_text="Id of the AI system")
    name = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
    file = serializers.FileField(required=False, help_text="The predictions as a CSV file (multipart)")
    rows = serializers.ListField(
        child=serializers.DictField(), required=False, help_text="The predictions as JSON objects, one per row"
    )
    label_column = serializers.CharField(max_length=200)
    prediction_column = serializers.CharField(max_length=200)
    score_column = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
    sensitive_columns = serializers.ListField(child=serializers.CharField(max_length=200), min_length=1, max_length=4)
    positive_label = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)
    expected_groups = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        default=dict,
        help_text="Groups that must have rows, per sensitive column",
    )


class ColumnProfileSerializer(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=["numeric", "categorical"])
    count = serializers.IntegerField()
    missing = serializers.IntegerField()


@extend_schema_field(
    {
        "type": "object",
        "description": "rows and columns: per column name, kind, count, missing; numbers: min, max, mean, std, "
        "quantiles, histogram, psi_edges, psi_reference_shares; categories: distinct, frequencies",
    }
)
class ProfileField(serializers.JSONField):
    pass


class ReferenceSerializer(serializers.ModelSerializer):
    system = SystemRefSerializer(read_only=True)
    status = ReferenceStatusField(read_only=True)
    anchor = serializers.SerializerMethodField()
    profile = ProfileField(read_only=True)

    class Meta:
        model = ReferenceDataset
        fields = [
            "id",
            "system",
            "name",
            "description",
            "status",
            "file_name",
            "row_count",
            "data_sha256",
            "profile_sha256",
            "psi_threshold",
            "alpha",
            "js_threshold",
            "created_at",
            "submitted_at",
            "decided_at",
            "decision_note",
            "anchor",
            "profile",
        ]
        read_only_fields = fields

    def get_anchor(self, obj) -> int | None:
        anchor = getattr(obj, "anchor", None) if obj.status == "signed_off" else None
        return anchor.pk if anchor else None


class ReferenceCreateSerializer(serializers.Serializer):
    system = serializers.IntegerField(help_text="Id of the AI system")
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, default="", allow_blank=True)
    file = serializers.FileField(help_text="The reference data as a CSV file (multipart)")
    psi_threshold = serializers.FloatField(required=False, default=0.1)
    alpha = serializers.FloatField(required=False, default=0.05)
    js_threshold = serializers.FloatField(required=False, default=0.1)


class ReferenceUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    psi_threshold = serializers.FloatField(required=False)
    alpha = serializers.FloatField(required=False)
    js_threshold = serializers.FloatField(required=False)


class ReferenceDecisionSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, default="", allow_blank=True, help_text="The board's rationale")


class AnchorSerializer(serializers.ModelSerializer):
    system = SystemRefSerializer(read_only=True)
    reference = serializers.IntegerField(source="reference_id", read_only=True)
    reference_name = serializers.CharField(source="reference.name", read_only=True)
    row_count = serializers.IntegerField(source="reference.row_count", read_only=True)
    signed_by = serializers.CharField(source="signed_by.display_name", read_only=True)
    columns = serializers.SerializerMethodField()

    class Meta:
        model = TrustAnchor
        fields = [
            "id",
            "system",
            "reference",
            "reference_name",
            "row_count",
            "data_sha256",
            "profile_sha256",
            "psi_threshold",
            "alpha",
            "js_threshold",
            "signed_by",
            "signed_at",
            "note",
            "columns",
        ]
        read_only_fields = fields

    @extend_schema_field(ColumnProfileSerializer(many=True))
    def get_columns(self, obj):
        return [
            {k: c[k] for k in ("name", "kind", "count", "missing")} for c in obj.reference.profile.get("columns", [])
        ]


class ColumnResultSerializer(serializers.Serializer):
    column = serializers.CharField()
    kind = serializers.CharField()
    psi = serializers.FloatField(allow_null=True)
    test = serializers.CharField(help_text="ks, chi_square or jensen_shannon")
    statistic = serializers.FloatField(allow_null=True)
    p_value = serializers.FloatField(allow_null=True)
    drifted = serializers.BooleanField()
    reasons = serializers.SerializerMethodField()

    def get_reasons(self, obj) -> list[str]:
        return (obj.details or {}).get("reasons", [])


class BatchSerializer(serializers.ModelSerializer):
    system = SystemRefSerializer(read_only=True)
    anchor = serializers.IntegerField(source="anchor_id", read_only=True)
    partner = serializers.CharField(source="partner.name", read_only=True, allow_null=True, default=None)
    verdict = serializers.CharField(read_only=True)
    status = RunStatusField(read_only=True)
    source = BatchSourceField(read_only=True)

    class Meta:
        model = DriftBatch
        fields = [
            "id",
            "system",
            "anchor",
            "label",
            "source",
            "partner",
            "external_id",
            "row_count",
            "data_sha256",
            "status",
            "drifted",
            "verdict",
            "drifted_columns",
            "corrective_action_opened",
            "created_at",
            "computed_at",
        ]
        read_only_fields = fields


class BatchDetailSerializer(BatchSerializer):
    columns = ColumnResultSerializer(source="column_results", many=True, read_only=True)

    class Meta(BatchSerializer.Meta):
        fields = [*BatchSerializer.Meta.fields, "columns"]
        read_only_fields = fields


class BatchCreateSerializer(serializers.Serializer):
    label = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
    external_id = serializers.CharField(
        max_length=120, required=False, default="", allow_blank=True, help_text="Your id; a re-send changes nothing"
    )
    file = serializers.FileField(required=False, help_text="The batch as a CSV file (multipart)")
    rows = serializers.ListField(
        child=serializers.DictField(), required=False, help_text="The batch as JSON objects, one per row"
    )


class SystemFilter(django_filters.FilterSet):
    system = django_filters.NumberFilter(field_name="system_id", help_text="Only this AI system's")
    status = django_filters.CharFilter(help_text="Only this status (see the objects' status field)")


class FairnessFilter(SystemFilter):
    class Meta:
        model = FairnessCheck
        fields = ["system", "status"]


class ReferenceFilter(SystemFilter):
    class Meta:
        model = ReferenceDataset
        fields = ["system", "status"]


class AnchorFilter(django_filters.FilterSet):
    system = django_filters.NumberFilter(field_name="system_id", help_text="Only this AI system's")

    class Meta:
        model = TrustAnchor
        fields = ["system"]


class BatchFilter(django_filters.FilterSet):
    drifted = django_filters.BooleanFilter()
    status = django_filters.CharFilter(help_text="pending, done or failed")

    class Meta:
        model = DriftBatch
        fields = ["drifted", "status"]


# --- Fairness ---------------------------------------------------------------------------------

FAIRNESS_EXAMPLE = {
    "system": 12,
    "name": "Validation 2026",
    "label_column": "label",
    "prediction_column": "prediction",
    "sensitive_columns": ["sex", "age_band"],
    "rows": [
        {"label": 1, "prediction": 1, "sex": "female", "age_band": "40-60"},
        {"label": 0, "prediction": 1, "sex": "male", "age_band": "<40"},
    ],
}


class FairnessCheckListView(generics.ListAPIView):
    """Fairness checks of the AI systems of your hubs, newest first."""

    permission_classes = [ApiKeyScopePermission, HasIdentity]
    serializer_class = FairnessCheckSerializer
    filterset_class = FairnessFilter
    search_fields = ["name", "system__name"]
    ordering_fields = ["created_at", "computed_at"]
    parser_classes = PARSERS
    queryset = FairnessCheck.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return FairnessCheck.objects.none()
        qs = FairnessCheck.objects.select_related("system", "system__hub").defer("inputs", "results")
        return access.scope(qs, self.request.user, api_key_of(self.request)).order_by("-created_at", "-id")

    @extend_schema(tags=[TAG], summary="Fairness checks (history)")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=[TAG],
        summary="Upload predictions for a fairness check (CSV file or JSON rows); the worker computes it",
        request={
            "application/json": FairnessCheckCreateSerializer,
            "multipart/form-data": FairnessCheckCreateSerializer,
        },
        responses={202: FairnessCheckSerializer, 400: ERROR_400, 403: ERROR_403, 404: ERROR_404},
        examples=[OpenApiExample("JSON rows", value=FAIRNESS_EXAMPLE, request_only=True)],
    )
    def post(self, request):
        key = api_key_of(request)
        serializer = FairnessCheckCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        system = access.system_for(request.user, data.pop("system"), key)
        try:
            table, digest, file_name = _table(request, {"file": data.pop("file", None), "rows": data.pop("rows", None)})
            thresholds = {k: data.pop(k) for k in services.FAIRNESS_THRESHOLD_FIELDS}
            check = services.fairness_check_create(
                system=system,
                acting_user=request.user,
                table=table,
                file_sha256=digest,
                file_name=file_name,
                thresholds=thresholds,
                api_key=key,
                **data,
            )
        except DjangoValidationError as exc:
            raise _validation(exc) from exc
        check = access.fairness_check_for(request.user, check.pk, key)
        return Response(FairnessCheckSerializer(check).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(
    tags=[TAG], summary="One fairness check with its results", responses={200: FairnessCheckDetailSerializer}
)
class FairnessCheckDetailView(generics.RetrieveAPIView):
    permission_classes = [ApiKeyScopePermission, HasIdentity]
    serializer_class = FairnessCheckDetailSerializer
    queryset = FairnessCheck.objects.none()

    def get_object(self):
        return access.fairness_check_for(self.request.user, self.kwargs["pk"], api_key_of(self.request))


class FairnessAttachView(APIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUser]

    @extend_schema(
        tags=[TAG],
        summary="Attach a computed fairness check as evidence to the system's Art. 10 checklist item",
        request=None,
        responses={200: FairnessCheckSerializer, 403: ERROR_403, 404: ERROR_404, 409: ERROR_409},
    )
    def post(self, request, pk):
        key = api_key_of(request)
        check = access.fairness_check_for(request.user, pk, key)
        services.fairness_check_attach_evidence(check=check, acting_user=request.user, api_key=key)
        return Response(FairnessCheckSerializer(access.fairness_check_for(request.user, pk, key)).data)


# --- Reference data ---------------------------------------------------------------------------


def _reference_qs(request):
    qs = ReferenceDataset.objects.select_related("system", "system__hub", "anchor").defer("data")
    return access.scope(qs, request.user, api_key_of(request)).order_by("-created_at", "-id")


class ReferenceListView(generics.ListAPIView):
    """Reference datasets of the AI systems of your hubs."""

    permission_classes = [ApiKeyScopePermission, HasIdentity]
    serializer_class = ReferenceSerializer
    filterset_class = ReferenceFilter
    search_fields = ["name", "system__name"]
    parser_classes = [parsers.MultiPartParser, parsers.FormParser]
    queryset = ReferenceDataset.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ReferenceDataset.objects.none()
        return _reference_qs(self.request)

    @extend_schema(tags=[TAG], summary="Reference datasets (drafts, submitted, signed off, rejected)")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=[TAG],
        summary="Upload reference data (CSV); it is profiled and stored as a draft",
        request={"multipart/form-data": ReferenceCreateSerializer},
        responses={201: ReferenceSerializer, 400: ERROR_400, 403: ERROR_403, 404: ERROR_404},
    )
    def post(self, request):
        key = api_key_of(request)
        serializer = ReferenceCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        system = access.system_for(request.user, data.pop("system"), key)
        upload = data.pop("file")
        if upload.size > csvio.max_upload_bytes():
            raise serializers.ValidationError(
                {
                    "file": [
                        f"The file is {csvio.human_size(upload.size)}; the limit is "
                        f"{csvio.human_size(csvio.max_upload_bytes())}."
                    ]
                }
            )
        try:
            reference = services.reference_upload(
                system=system,
                acting_user=request.user,
                data=upload.read(),
                file_name=upload.name,
                name=data["name"],
                description=data["description"],
                thresholds={k: data[k] for k in services.DRIFT_THRESHOLD_FIELDS},
                api_key=key,
            )
        except DjangoValidationError as exc:
            raise _validation(exc) from exc
        return Response(
            ReferenceSerializer(access.reference_for(request.user, reference.pk, key)).data,
            status=status.HTTP_201_CREATED,
        )


class ReferenceDetailView(APIView):
    permission_classes = [ApiKeyScopePermission, HasIdentity]

    @extend_schema(tags=[TAG], summary="One reference dataset with its profile", responses={200: ReferenceSerializer})
    def get(self, request, pk):
        return Response(ReferenceSerializer(access.reference_for(request.user, pk, api_key_of(request))).data)

    @extend_schema(
        tags=[TAG],
        summary="Change a draft's name, description or thresholds (409 once signed off)",
        request=ReferenceUpdateSerializer,
        responses={200: ReferenceSerializer, 400: ERROR_400, 403: ERROR_403, 409: ERROR_409},
    )
    def patch(self, request, pk):
        key = api_key_of(request)
        reference = access.reference_for(request.user, pk, key)
        serializer = ReferenceUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        services.reference_update(
            reference=reference, acting_user=request.user, api_key=key, **serializer.validated_data
        )
        return Response(ReferenceSerializer(access.reference_for(request.user, pk, key)).data)

    @extend_schema(
        tags=[TAG],
        summary="Delete a draft or rejected dataset (409 once signed off)",
        responses={204: None, 403: ERROR_403, 409: ERROR_409},
    )
    def delete(self, request, pk):
        key = api_key_of(request)
        reference = access.reference_for(request.user, pk, key)
        services.reference_delete(reference=reference, acting_user=request.user, api_key=key)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReferenceSubmitView(APIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUser]

    @extend_schema(
        tags=[TAG],
        summary="Ask the hub's ethics board to sign the reference data off",
        request=None,
        responses={200: ReferenceSerializer, 403: ERROR_403, 409: ERROR_409},
    )
    def post(self, request, pk):
        key = api_key_of(request)
        services.reference_submit(reference=access.reference_for(request.user, pk, key), acting_user=request.user)
        return Response(ReferenceSerializer(access.reference_for(request.user, pk, key)).data)


class ReferenceSignOffView(APIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUser]

    @extend_schema(
        tags=[TAG],
        summary="Ethics board: sign the reference data off; it becomes the system's trust anchor",
        request=ReferenceDecisionSerializer,
        responses={201: AnchorSerializer, 403: ERROR_403, 409: ERROR_409},
    )
    def post(self, request, pk):
        key = api_key_of(request)
        serializer = ReferenceDecisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        anchor = services.reference_sign_off(
            reference=access.reference_for(request.user, pk, key),
            acting_user=request.user,
            note=serializer.validated_data["note"],
        )
        return Response(
            AnchorSerializer(access.anchor_for(request.user, anchor.pk, key)).data, status=status.HTTP_201_CREATED
        )


class ReferenceRejectView(APIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUser]

    @extend_schema(
        tags=[TAG],
        summary="Ethics board: reject the reference data, saying why",
        request=ReferenceDecisionSerializer,
        responses={200: ReferenceSerializer, 400: ERROR_400, 403: ERROR_403, 409: ERROR_409},
    )
    def post(self, request, pk):
        key = api_key_of(request)
        serializer = ReferenceDecisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            services.reference_reject(
                reference=access.reference_for(request.user, pk, key),
                acting_user=request.user,
                note=serializer.validated_data["note"],
            )
        except DjangoValidationError as exc:
            raise _validation(exc) from exc
        return Response(ReferenceSerializer(access.reference_for(request.user, pk, key)).data)


# --- Trust anchors and drift batches ----------------------------------------------------------


class AnchorListView(generics.ListAPIView):
    """Signed-off trust anchors (read-only: an anchor never changes)."""

    permission_classes = [ApiKeyScopePermission, HasIdentity]
    serializer_class = AnchorSerializer
    filterset_class = AnchorFilter
    queryset = TrustAnchor.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return TrustAnchor.objects.none()
        qs = TrustAnchor.objects.select_related("system", "system__hub", "reference", "signed_by").defer(
            "reference__data"
        )
        return access.scope(qs, self.request.user, api_key_of(self.request)).order_by("-signed_at", "-id")

    @extend_schema(tags=[TAG], summary="Trust anchors (signed-off reference data)")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


@extend_schema(tags=[TAG], summary="One trust anchor with its hashes and columns")
class AnchorDetailView(generics.RetrieveAPIView):
    permission_classes = [ApiKeyScopePermission, HasIdentity]
    serializer_class = AnchorSerializer
    queryset = TrustAnchor.objects.none()

    def get_object(self):
        return access.anchor_for(self.request.user, self.kwargs["pk"], api_key_of(self.request))


BATCH_EXAMPLE = {
    "label": "Week 42",
    "external_id": "monitor-run-2026-42",
    "rows": [{"density": 51.2, "age": 58, "site": "lyon"}, {"density": 47.9, "age": 63, "site": "annecy"}],
}


class AnchorBatchesView(generics.ListAPIView):
    """Drift batches compared with one anchor; partner systems post new ones here."""

    permission_classes = [ApiKeyScopePermission, HasIdentity]
    serializer_class = BatchSerializer
    filterset_class = BatchFilter
    parser_classes = PARSERS
    queryset = DriftBatch.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return DriftBatch.objects.none()
        anchor = access.anchor_for(self.request.user, self.kwargs["pk"], api_key_of(self.request))
        return selectors.batches_of(anchor.system).filter(anchor=anchor).select_related("system__hub")

    @extend_schema(tags=[TAG], summary="Drift batches of a trust anchor, newest first")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=[TAG],
        summary="Send a monitoring batch (CSV file or JSON rows); the worker compares it with the anchor",
        request={"application/json": BatchCreateSerializer, "multipart/form-data": BatchCreateSerializer},
        responses={
            202: BatchSerializer,
            200: OpenApiResponse(BatchSerializer, description="This external_id was already received"),
            400: ERROR_400,
            403: ERROR_403,
            404: ERROR_404,
        },
        examples=[OpenApiExample("JSON rows", value=BATCH_EXAMPLE, request_only=True)],
    )
    def post(self, request, pk):
        key = api_key_of(request)
        anchor = access.anchor_for(request.user, pk, key)
        serializer = BatchCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            table, digest, file_name = _table(request, {"file": data.get("file"), "rows": data.get("rows")})
            batch, created = services.drift_batch_create(
                anchor=anchor,
                acting_user=request.user,
                table=table,
                data_sha256=digest,
                file_name=file_name,
                label=data["label"],
                external_id=data["external_id"],
                source="api",
                api_key=key,
            )
        except DjangoValidationError as exc:
            raise _validation(exc) from exc
        batch = access.batch_for(request.user, batch.pk, key)
        return Response(BatchSerializer(batch).data, status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK)


class BatchDetailView(APIView):
    permission_classes = [ApiKeyScopePermission, HasIdentity]

    @extend_schema(
        tags=[TAG],
        summary="One drift batch with its per-column results",
        responses={200: BatchDetailSerializer, 404: ERROR_404},
    )
    def get(self, request, pk):
        batch = access.batch_for(request.user, pk, api_key_of(request))
        return Response(BatchDetailSerializer(batch).data)
