"""API v1 for webhook endpoints and their delivery log.

Hub staff (session or personal key, with MFA) manage their hubs' endpoints; a partner system's
key manages the endpoints of that partner system in its hub. The signing secret is returned
once, when an endpoint is created or its secret rotated.
"""

import json

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from gigafactory.api import ApiKeyScopePermission, IsStaffWithMfa, api_key_of
from gigafactory.events import EVENT_TYPES

from . import access, selectors, services
from .models import Delivery, DeliveryAttempt, DeliveryStatus, Endpoint, EndpointScope

EVENT_CHOICES = [services.ALL_EVENTS, *EVENT_TYPES]


class WebhookManager(permissions.BasePermission):
    """A partner system's key, or hub staff with MFA."""

    message = "Only hub staff (with two-factor authentication) and partner systems manage webhooks."

    def has_permission(self, request, view):
        key = api_key_of(request)
        if key is not None and key.partner_id is not None:
            return True
        staff_check = IsStaffWithMfa()
        allowed = staff_check.has_permission(request, view)
        if not allowed:
            self.message = staff_check.message
        return allowed


PERMISSIONS = [ApiKeyScopePermission, WebhookManager]


# --- Serializers ----------------------------------------------------------------------------


class EndpointSerializer(serializers.ModelSerializer):
    hub = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    partner = serializers.SerializerMethodField()
    secret_hint = serializers.CharField(source="masked_secret", read_only=True)

    class Meta:
        model = Endpoint
        fields = [
            "id",
            "hub",
            "partner",
            "url",
            "description",
            "event_types",
            "scope",
            "status",
            "secret_hint",
            "consecutive_failures",
            "disabled_at",
            "disabled_reason",
            "created_at",
            "updated_at",
        ]

    def get_partner(self, obj) -> str | None:
        return obj.partner.name if obj.partner_id else None


class EndpointCreatedSerializer(EndpointSerializer):
    secret = serializers.CharField(read_only=True, help_text="Shown once: store it to verify signatures.")

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]


class EndpointInputSerializer(serializers.Serializer):
    hub = serializers.SlugField(required=False, help_text="Hub slug; a partner key's own hub by default")
    url = serializers.CharField(max_length=500)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_CHOICES), allow_empty=False)
    scope = serializers.ChoiceField(choices=EndpointScope.choices, default=EndpointScope.HUB)


class EndpointUpdateSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=500, required=False)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_CHOICES), allow_empty=False, required=False
    )
    scope = serializers.ChoiceField(choices=EndpointScope.choices, required=False)


class DeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = Delivery
        fields = [
            "id",
            "endpoint",
            "event_id",
            "event_type",
            "status",
            "attempt_count",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "delivered_at",
            "retry_until",
            "created_at",
        ]


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["number", "started_at", "duration_ms", "status_code", "succeeded", "error", "response_excerpt"]


class DeliveryDetailSerializer(DeliverySerializer):
    body = serializers.SerializerMethodField()
    attempts = AttemptSerializer(many=True, read_only=True)

    class Meta(DeliverySerializer.Meta):
        fields = [*DeliverySerializer.Meta.fields, "body", "attempts"]

    def get_body(self, obj) -> dict:
        return json.loads(obj.body)


class EventTypeSerializer(serializers.Serializer):
    type = serializers.CharField()
    description = serializers.CharField()


# --- Views ----------------------------------------------------------------------------------


@extend_schema(tags=["webhooks"])
class EndpointListView(generics.ListAPIView):
    permission_classes = PERMISSIONS
    serializer_class = EndpointSerializer
    filterset_fields = ["status", "scope"]
    search_fields = ["url", "description"]
    queryset = Endpoint.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Endpoint.objects.none()
        return access.endpoints_for(self.request.user, api_key_of(self.request)).order_by("hub__name", "url", "pk")

    @extend_schema(summary="Webhook endpoints you manage")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Register a webhook endpoint",
        request=EndpointInputSerializer,
        responses={201: EndpointCreatedSerializer, 400: OpenApiResponse(description="A message per invalid field")},
        examples=[
            OpenApiExample(
                "Usage alerts for an HPC centre",
                value={
                    "url": "https://hpc.example.org/gigafactory/hooks",
                    "description": "Stop jobs of over-used allocations",
                    "event_types": ["allocation.usage_threshold", "allocation.expired"],
                },
                request_only=True,
            )
        ],
    )
    def post(self, request):
        serializer = EndpointInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        key = api_key_of(request)
        slug = data.pop("hub", None)
        hubs = access.hubs_for_new_endpoint(request.user, key)
        if slug:
            hub = hubs.filter(slug=slug).first()
            if hub is None:
                raise serializers.ValidationError({"hub": [f"You cannot register endpoints for hub '{slug}'."]})
        elif hubs.count() == 1:
            hub = hubs.get()
        else:
            raise serializers.ValidationError({"hub": ["Say for which hub (its slug)."]})
        endpoint, secret = services.endpoint_create(hub=hub, acting_user=request.user, api_key=key, **data)
        body = EndpointCreatedSerializer(endpoint).data | {"secret": secret}
        return Response(body, status=status.HTTP_201_CREATED)


@extend_schema(tags=["webhooks"])
class EndpointDetailView(APIView):
    permission_classes = PERMISSIONS

    def _endpoint(self, request, pk):
        return access.endpoint_for(request.user, pk, api_key=api_key_of(request))

    @extend_schema(summary="One webhook endpoint", responses=EndpointSerializer)
    def get(self, request, pk):
        return Response(EndpointSerializer(self._endpoint(request, pk)).data)

    @extend_schema(
        summary="Change a webhook endpoint",
        request=EndpointUpdateSerializer,
        responses={200: EndpointSerializer, 400: OpenApiResponse(description="A message per invalid field")},
    )
    def patch(self, request, pk):
        endpoint = self._endpoint(request, pk)
        serializer = EndpointUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        services.endpoint_update(
            endpoint=endpoint, acting_user=request.user, api_key=api_key_of(request), **serializer.validated_data
        )
        return Response(EndpointSerializer(endpoint).data)

    @extend_schema(summary="Delete a webhook endpoint and its delivery log", responses={204: None})
    def delete(self, request, pk):
        services.endpoint_delete(
            endpoint=self._endpoint(request, pk), acting_user=request.user, api_key=api_key_of(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class EndpointActionView(APIView):
    permission_classes = PERMISSIONS
    action = ""

    def post(self, request, pk):
        endpoint = access.endpoint_for(request.user, pk, api_key=api_key_of(request))
        key = api_key_of(request)
        if self.action == "rotate-secret":
            endpoint, secret = services.endpoint_rotate_secret(endpoint=endpoint, acting_user=request.user, api_key=key)
            return Response(EndpointCreatedSerializer(endpoint).data | {"secret": secret})
        if self.action == "test":
            delivery = services.send_test_event(endpoint=endpoint, acting_user=request.user, api_key=key)
            delivery.refresh_from_db()
            return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
        service = {"enable": services.endpoint_enable, "pause": services.endpoint_pause}[self.action]
        endpoint = service(endpoint=endpoint, acting_user=request.user, api_key=key)
        return Response(EndpointSerializer(endpoint).data)


ENDPOINT_ACTIONS = {
    "rotate-secret": ("Rotate the signing secret (returned once)", EndpointCreatedSerializer, 200),
    "test": ("Send a test event (ping)", DeliverySerializer, 202),
    "enable": ("Enable a paused or disabled endpoint", EndpointSerializer, 200),
    "pause": ("Pause an endpoint", EndpointSerializer, 200),
}


def endpoint_action_view(action):
    summary, response, code = ENDPOINT_ACTIONS[action]

    def post(self, request, pk):
        return EndpointActionView.post(self, request, pk)

    post = extend_schema(
        tags=["webhooks"],
        summary=summary,
        operation_id=f"webhook_endpoint_{action.replace('-', '_')}",
        request=None,
        responses={code: response, 409: OpenApiResponse(description="Not allowed in the endpoint's status")},
    )(post)
    name = "".join(part.title() for part in action.split("-"))
    return type(f"Endpoint{name}View", (EndpointActionView,), {"action": action, "post": post})


@extend_schema(tags=["webhooks"])
class EndpointDeliveryListView(generics.ListAPIView):
    permission_classes = PERMISSIONS
    serializer_class = DeliverySerializer
    queryset = Delivery.objects.none()
    filterset_fields = None
    search_fields = None
    ordering_fields = ["created_at"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Delivery.objects.none()
        endpoint = access.endpoint_for(self.request.user, self.kwargs["pk"], api_key=api_key_of(self.request))
        return selectors.endpoint_deliveries(
            endpoint,
            status=self.request.query_params.get("status", ""),
            event_type=self.request.query_params.get("event_type", ""),
        )

    @extend_schema(
        summary="The delivery log of an endpoint, newest first",
        parameters=[
            OpenApiParameter("status", enum=DeliveryStatus.values, required=False),
            OpenApiParameter("event_type", str, required=False),
        ],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


@extend_schema(tags=["webhooks"])
class DeliveryDetailView(APIView):
    permission_classes = PERMISSIONS

    @extend_schema(summary="One delivery with its body and every attempt", responses=DeliveryDetailSerializer)
    def get(self, request, pk):
        delivery = get_object_or_404(
            access.deliveries_for(request.user, api_key_of(request)).prefetch_related("attempts"), pk=pk
        )
        return Response(DeliveryDetailSerializer(delivery).data)


@extend_schema(tags=["webhooks"])
class DeliveryRedeliverView(APIView):
    permission_classes = PERMISSIONS

    @extend_schema(
        summary="Send a delivery again (same body and delivery id, new signature)",
        request=None,
        responses={202: DeliverySerializer, 409: OpenApiResponse(description="The endpoint is disabled")},
    )
    def post(self, request, pk):
        delivery = access.delivery_for(request.user, pk, api_key=api_key_of(request))
        services.delivery_redeliver(delivery=delivery, acting_user=request.user, api_key=api_key_of(request))
        delivery.refresh_from_db()
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(tags=["webhooks"], auth=[])
class EventTypeListView(APIView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(summary="Event types an endpoint can receive", responses=EventTypeSerializer(many=True))
    def get(self, request):
        rows = [{"type": name, "description": text} for name, text in EVENT_TYPES.items()]
        return Response(EventTypeSerializer(rows, many=True).data)
