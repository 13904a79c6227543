"""API v1 for network news and subscriptions.

News is public to read (items of private hubs only for their members); hub staff post
announcements and lessons learned. People manage their own subscriptions, hub staff those of
their hubs.
"""

import django_filters
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import generics, permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from gigafactory.api import ApiKeyScopePermission, IsSignedInUser, api_key_of
from hubs import access as hub_access
from hubs.models import Sector

from . import access, services
from .models import POSTABLE_KINDS, Audience, Delivery, NewsItem, NewsKind, Subscription

# --- Serializers ----------------------------------------------------------------------------


class NewsItemSerializer(serializers.ModelSerializer):
    hub = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    author = serializers.SerializerMethodField()
    link = serializers.CharField(read_only=True, help_text="The page the item is about (or the item's own page)")

    class Meta:
        model = NewsItem
        fields = ["id", "kind", "hub", "sector", "title", "body", "url", "link", "author", "event_type", "created_at"]

    def get_author(self, obj) -> str | None:
        return obj.author.display_name if obj.author_id else None


class NewsPostSerializer(serializers.Serializer):
    hub = serializers.SlugField(help_text="Slug of a hub you run")
    kind = serializers.ChoiceField(choices=[(k.value, k.label) for k in POSTABLE_KINDS])
    title = serializers.CharField(max_length=200)
    body = serializers.CharField()
    sector = serializers.ChoiceField(choices=Sector.choices, required=False, allow_blank=True, default="")
    url = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class SubscriptionSerializer(serializers.ModelSerializer):
    subscriber_hub = serializers.SlugRelatedField(
        slug_field="slug", read_only=True, allow_null=True, help_text="The hub that follows; null: a person does"
    )
    hub = serializers.SlugRelatedField(
        slug_field="slug", read_only=True, allow_null=True, help_text="News from this hub; null: from every hub"
    )
    topic = serializers.CharField(source="topic_label", read_only=True)

    class Meta:
        model = Subscription
        fields = ["id", "subscriber_hub", "audience", "hub", "sector", "kind", "delivery", "topic", "created_at"]


class SubscriptionInputSerializer(serializers.Serializer):
    subscriber_hub = serializers.SlugField(
        required=False, help_text="Subscribe a hub you run (its staff or members receive the news)"
    )
    audience = serializers.ChoiceField(choices=Audience.choices, default=Audience.STAFF)
    hub = serializers.SlugField(required=False, help_text="News from this hub")
    sector = serializers.ChoiceField(choices=Sector.choices, required=False, allow_blank=True, default="")
    kind = serializers.ChoiceField(choices=NewsKind.choices, required=False, allow_blank=True, default="")
    delivery = serializers.ChoiceField(
        choices=Delivery.choices, required=False, allow_blank=True, default="", help_text="Empty: your default"
    )


class SubscriptionUpdateSerializer(serializers.Serializer):
    delivery = serializers.ChoiceField(choices=Delivery.choices, required=False, allow_blank=True)
    audience = serializers.ChoiceField(choices=Audience.choices, required=False)


class PreferenceSerializer(serializers.Serializer):
    delivery = serializers.ChoiceField(choices=Delivery.choices)


# --- News -----------------------------------------------------------------------------------


class NewsFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=NewsKind.choices)
    hub = django_filters.CharFilter(field_name="hub__slug")
    sector = django_filters.ChoiceFilter(choices=Sector.choices)

    class Meta:
        model = NewsItem
        fields = ["kind", "hub", "sector"]


@extend_schema(tags=["network"])
class NewsListView(generics.ListAPIView):
    serializer_class = NewsItemSerializer
    filterset_class = NewsFilter
    search_fields = ["title", "body"]
    ordering_fields = ["created_at"]
    queryset = NewsItem.objects.none()

    def get_permissions(self):
        if self.request.method == "POST":
            return [ApiKeyScopePermission(), IsSignedInUser()]
        return [permissions.AllowAny()]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return NewsItem.objects.none()
        return access.news_visible_to(self.request.user, api_key_of(self.request)).order_by("-created_at", "-id")

    @extend_schema(summary="Network news, newest first", auth=[])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Post an announcement or a lesson learned (hub staff)",
        request=NewsPostSerializer,
        responses={201: NewsItemSerializer, 400: OpenApiResponse(description="A message per invalid field")},
        examples=[
            OpenApiExample(
                "A lesson learned",
                value={
                    "hub": "lyon",
                    "kind": "lesson",
                    "title": "Label scans with the radiologists, not for them",
                    "body": "Our first model failed on rare findings until radiologists joined the labelling.",
                    "sector": "health",
                },
                request_only=True,
            )
        ],
    )
    def post(self, request):
        serializer = NewsPostSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        hub = access.hubs_to_post_for(request.user, api_key_of(request)).filter(slug=data.pop("hub")).first()
        if hub is None:
            raise serializers.ValidationError({"hub": ["You can only post for a hub you run."]})
        item = services.news_post(hub=hub, acting_user=request.user, **data)
        return Response(NewsItemSerializer(item).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["network"], auth=[])
class NewsDetailView(generics.RetrieveAPIView):
    permission_classes = [permissions.AllowAny]
    serializer_class = NewsItemSerializer
    queryset = NewsItem.objects.none()

    def get_object(self):
        return access.news_item_for(self.request.user, self.kwargs["pk"], api_key_of(self.request))

    @extend_schema(summary="One news item")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


# --- Subscriptions --------------------------------------------------------------------------


def _hub_or_error(queryset, slug, field):
    hub = queryset.filter(slug=slug).first()
    if hub is None:
        raise serializers.ValidationError({field: [f"No hub '{slug}' you may use here."]})
    return hub


@extend_schema(tags=["network"])
class SubscriptionListView(generics.ListAPIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUser]
    serializer_class = SubscriptionSerializer
    filterset_fields = ["kind", "sector"]
    queryset = Subscription.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Subscription.objects.none()
        return access.subscriptions_of(self.request.user, api_key_of(self.request)).order_by("-created_at", "-id")

    @extend_schema(summary="Your subscriptions and those of the hubs you run")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Follow a topic (a hub, a sector, a kind of news, or a combination)",
        request=SubscriptionInputSerializer,
        responses={201: SubscriptionSerializer, 400: OpenApiResponse(description="A message per invalid field")},
        examples=[OpenApiExample("New calls in health", value={"kind": "call", "sector": "health"}, request_only=True)],
    )
    def post(self, request):
        serializer = SubscriptionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        key = api_key_of(request)
        if data.get("hub"):
            data["hub"] = _hub_or_error(hub_access.visible_hubs(request.user), data["hub"], "hub")
        if data.get("subscriber_hub"):
            data["subscriber_hub"] = _hub_or_error(
                access.hubs_to_post_for(request.user, key), data["subscriber_hub"], "subscriber_hub"
            )
        else:
            data.pop("subscriber_hub", None)
            data["user"] = request.user
        subscription = services.subscription_create(acting_user=request.user, **data)
        return Response(SubscriptionSerializer(subscription).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["network"])
class SubscriptionDetailView(APIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUser]

    @extend_schema(
        summary="Change how a subscription is delivered",
        request=SubscriptionUpdateSerializer,
        responses={200: SubscriptionSerializer},
    )
    def patch(self, request, pk):
        subscription = access.subscription_for(request.user, pk, api_key_of(request))
        serializer = SubscriptionUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        services.subscription_update(subscription=subscription, acting_user=request.user, **serializer.validated_data)
        return Response(SubscriptionSerializer(subscription).data)

    @extend_schema(summary="Unfollow", responses={204: None})
    def delete(self, request, pk):
        subscription = access.subscription_for(request.user, pk, api_key_of(request))
        services.subscription_delete(subscription=subscription, acting_user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["network"])
class PreferenceView(APIView):
    permission_classes = [ApiKeyScopePermission, IsSignedInUser]

    @extend_schema(summary="Your default e-mail delivery for news", responses=PreferenceSerializer)
    def get(self, request):
        return Response({"delivery": services.preference_of(request.user)})

    @extend_schema(
        summary="Set your default e-mail delivery", request=PreferenceSerializer, responses=PreferenceSerializer
    )
    def put(self, request):
        serializer = PreferenceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        preference = services.preference_set(user=request.user, delivery=serializer.validated_data["delivery"])
        return Response({"delivery": preference.delivery})
