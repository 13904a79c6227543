"""Objects of hubs A and B for the network and webhooks rows: news posted by the hub's staff,
a person's subscription and the hub's own, a webhook endpoint of the hub's HPC centre with a
failed delivery."""

import uuid

from django.utils import timezone

from hubs.network import services as network_services
from hubs.network.models import NewsKind
from hubs.webhooks import services as webhook_services
from hubs.webhooks.models import Delivery, DeliveryStatus

from .world import builds, unique


@builds
def network_objects(world, side):
    hub = side.hub
    side.news = network_services.news_post(
        hub=hub, kind=NewsKind.ANNOUNCEMENT, title=unique("news"), body="Matrix news.", acting_user=side.staff
    )
    side.subscription = network_services.subscription_create(acting_user=side.member, user=side.member, hub=hub)
    side.hub_subscription = network_services.subscription_create(
        acting_user=side.staff, subscriber_hub=hub, kind=NewsKind.LESSON
    )


@builds
def webhook_objects(world, side):
    hub = side.hub
    side.endpoint, _secret = webhook_services.endpoint_create(
        hub=hub,
        url=f"http://127.0.0.1:9/{unique('hooks')}",
        event_types=["*"],
        description=unique("endpoint"),
        partner=side.partner,
        acting_user=side.staff,
    )
    side.paused_endpoint, _secret = webhook_services.endpoint_create(
        hub=hub, url="http://127.0.0.1:9/paused", event_types=["*"], partner=side.partner, acting_user=side.staff
    )
    webhook_services.endpoint_pause(endpoint=side.paused_endpoint, acting_user=side.staff)
    now = timezone.now()
    side.delivery = Delivery.objects.create(
        endpoint=side.endpoint,
        event_id=uuid.uuid4(),
        event_type="ping",
        body="{}",
        status=DeliveryStatus.FAILED,
        attempt_count=3,
        retry_until=now,
    )
