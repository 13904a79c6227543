"""A real Celery worker (Redis broker, PostgreSQL) delivers a webhook and fans network news out."""

import pytest
from django.db import transaction

from hubs.network import services as network_services
from hubs.network.models import NewsDelivery, NewsKind
from hubs.webhooks.models import Delivery, DeliveryStatus
from tests.worker import celery_worker, wait_for

from .conftest import make_endpoint


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_delivers_a_signed_webhook_and_the_news(hub, staff, member, receiver, verify_signature, tmp_path):
    endpoint, secret = make_endpoint(hub=hub, acting_user=staff, url=receiver.url, event_types=["lesson.learned"])
    network_services.subscription_create(acting_user=member, user=member, kind=NewsKind.LESSON)
    with celery_worker(tmp_path) as (_process, log):
        with transaction.atomic():
            item = network_services.news_post(
                hub=hub,
                kind=NewsKind.LESSON,
                title="Keep a trust anchor",
                body="Sign off the reference set.",
                acting_user=staff,
            )
        wait_for(lambda: Delivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.SUCCEEDED).exists(), log=log)
        wait_for(
            lambda: NewsDelivery.objects.filter(item=item, user=member, emailed_at__isnull=False).exists(), log=log
        )
    (request,) = receiver.requests
    assert request.json["type"] == "lesson.learned"
    assert request.json["data"]["title"] == "Keep a trust anchor"
    assert verify_signature(secret, request.headers, request.body)
    text = log.read_text()
    assert "hubs.webhooks.tasks.attempt_delivery" in text
    assert "hubs.network.tasks.fan_out_news" in text
