"""The network and webhook demo data: present after the seed, and a second run adds nothing."""

from io import StringIO

import pytest
from django.core.management import call_command

from hubs.models import Notification
from hubs.network.models import NewsDelivery, NewsItem, Subscription
from hubs.webhooks.models import Delivery, DeliveryAttempt, Endpoint


def counts():
    return [
        m.objects.count()
        for m in (NewsItem, NewsDelivery, Subscription, Notification, Endpoint, Delivery, DeliveryAttempt)
    ]


@pytest.mark.django_db
def test_the_seed_has_news_subscriptions_a_delivered_history_and_a_webhook_log(django_capture_on_commit_callbacks):
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=out)
    assert "news subscriptions:" in out.getvalue()
    first = counts()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=StringIO())
    assert counts() == first

    assert NewsItem.objects.filter(kind="lesson").count() >= 3
    assert NewsItem.objects.filter(kind="call").exists()
    assert Subscription.objects.filter(subscriber_hub__slug="zagreb").exists()
    farmer_news = NewsDelivery.objects.filter(user__email="farmer@gigafactory.test")
    assert farmer_news.exists()
    assert Notification.objects.filter(kind__startswith="network.").count() >= 5
    endpoint = Endpoint.objects.get(hub__slug="lyon")
    # (Events of the other seeders, run here on commit after the endpoint exists, add a few more.)
    assert endpoint.deliveries.filter(status="succeeded").count() == 3
    retried = endpoint.deliveries.get(attempt_count=3)
    assert list(retried.attempts.order_by("number").values_list("succeeded", flat=True)) == [False, False, True]
