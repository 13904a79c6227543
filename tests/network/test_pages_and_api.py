"""Network pages and API: the feed, posting (staff only, own hubs), subscriptions; query counts."""

import uuid

import pytest
from django.urls import reverse

from hubs.models import Notification
from hubs.network import services
from hubs.network.models import Delivery, NewsItem, NewsKind, Subscription
from tests.conftest import enable_mfa
from tests.factories import HubFactory, make_api_key

pytestmark = pytest.mark.django_db


def make_items(hub, n, **kw):
    return [
        NewsItem.objects.create(
            kind=kw.get("kind", NewsKind.LESSON),
            hub=hub,
            title=f"{kw.get('prefix', 'Item')} {i}",
            body="What we learned.",
            sector=kw.get("sector", ""),
            event_id=uuid.uuid4(),
            event_type="lesson.learned",
        )
        for i in range(n)
    ]


# --- The feed -----------------------------------------------------------------------------


def test_the_feed_is_public_paginated_and_filterable(client, hub, other_hub, django_assert_max_num_queries):
    make_items(hub, 25, sector="health", prefix="Lyon lesson")
    make_items(other_hub, 3, kind=NewsKind.ANNOUNCEMENT, prefix="Helsinki news")
    with django_assert_max_num_queries(4):  # hubs for the filter, count, page (with hub and author)
        response = client.get(reverse("network:news"))
    assert response.status_code == 200
    page = response.context["page"]
    assert page.paginator.count == 28
    assert len(page.object_list) == 20
    response = client.get(reverse("network:news"), {"hub": other_hub.slug})
    assert [i.title for i in response.context["page"]] == ["Helsinki news 2", "Helsinki news 1", "Helsinki news 0"]
    response = client.get(reverse("network:news"), {"kind": "announcement", "q": "news 1"})
    assert [i.title for i in response.context["page"]] == ["Helsinki news 1"]
    response = client.get(reverse("network:news"), {"sector": "energy"})
    assert "No news matches these filters" in response.content.decode()


def test_news_of_a_private_hub_is_hidden_from_outsiders(client, member):
    closed = HubFactory(slug="closed", public=False)
    (item,) = make_items(closed, 1, prefix="Internal")
    assert client.get(reverse("network:news")).context["page"].paginator.count == 0
    assert client.get(reverse("network:news_detail", args=[item.pk])).status_code == 404
    assert client.get(f"/api/v1/network/news/{item.pk}/").status_code == 404


def test_staff_post_a_lesson_learned_and_followers_get_it(
    staff_client, hub, member, django_capture_on_commit_callbacks
):
    services.subscription_create(acting_user=member, user=member, kind=NewsKind.LESSON)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            reverse("network:post"),
            {
                "hub": hub.pk,
                "kind": "lesson",
                "title": "Start with the data you have",
                "body": "Not the ideal set.",
                "sector": "health",
            },
        )
    item = NewsItem.objects.get()
    assert response["Location"] == item.get_absolute_url()
    assert item.author.name == "Sam Staff"
    assert (item.kind, item.sector, item.hub) == (NewsKind.LESSON, "health", hub)
    assert Notification.objects.get(user=member, kind="network.lesson").url == item.get_absolute_url()
    page = staff_client.get(item.get_absolute_url()).content.decode()
    assert "Start with the data you have" in page
    assert "Not the ideal set." in page


def test_posting_needs_a_title_and_a_text_and_writes_nothing_otherwise(staff_client, hub):
    response = staff_client.post(reverse("network:post"), {"hub": hub.pk, "kind": "lesson", "title": "", "body": ""})
    assert response.status_code == 200
    assert {"title", "body"} <= set(response.context["form"].errors)
    assert not NewsItem.objects.exists()


def test_only_staff_post_and_only_for_their_own_hubs(client, hub, member, other_staff):
    client.force_login(member)
    assert client.get(reverse("network:post")).status_code == 403
    client.force_login(other_staff)
    response = client.post(reverse("network:post"), {"hub": hub.pk, "kind": "lesson", "title": "X", "body": "Y"})
    assert "hub" in response.context["form"].errors
    response = client.post(
        "/api/v1/network/news/",
        {"hub": hub.slug, "kind": "lesson", "title": "X", "body": "Y"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "hub" in response.json()
    assert not NewsItem.objects.exists()


# --- Subscriptions ------------------------------------------------------------------------


def test_a_member_follows_topics_on_the_page_and_chooses_the_digest(client, hub, member):
    client.force_login(member)
    response = client.post(reverse("network:subscriptions"), {"sector": "health", "kind": "call", "delivery": "digest"})
    assert response.status_code == 302
    subscription = Subscription.objects.get(user=member)
    assert subscription.topic_label == "New call in health"
    assert subscription.delivery == Delivery.DIGEST
    again = client.post(reverse("network:subscriptions"), {"sector": "health", "kind": "call"})
    assert again.status_code == 400
    assert "already followed" in again.content.decode()
    empty = client.post(reverse("network:subscriptions"), {})
    assert "Choose at least one" in empty.content.decode()
    client.post(reverse("network:preference"), {"delivery": "digest"})
    assert services.preference_of(member) == Delivery.DIGEST
    client.post(reverse("network:subscription_delivery", args=[subscription.pk]), {"delivery": "immediate"})
    subscription.refresh_from_db()
    assert subscription.delivery == Delivery.IMMEDIATE
    page = client.get(reverse("network:subscriptions")).content.decode()
    assert "New call in health" in page
    assert 'data-confirm="Stop following' in page
    client.post(reverse("network:subscription_delete", args=[subscription.pk]))
    assert not Subscription.objects.exists()


def test_nobody_else_can_change_or_delete_a_subscription(client, hub, member, other_staff):
    subscription = services.subscription_create(acting_user=member, user=member, hub=hub)
    client.force_login(other_staff)
    assert client.post(reverse("network:subscription_delete", args=[subscription.pk])).status_code == 404
    assert client.delete(f"/api/v1/network/subscriptions/{subscription.pk}/").status_code == 404
    assert Subscription.objects.filter(pk=subscription.pk).exists()


def test_hub_staff_subscribe_their_hub_but_not_another(client, hub, other_hub, staff, other_staff):
    client.force_login(other_staff)
    response = client.post(
        reverse("network:hub_subscription_add"),
        {"subscriber_hub": other_hub.pk, "audience": "members", "kind": "lesson"},
    )
    assert response.status_code == 302
    assert Subscription.objects.get().subscriber_hub == other_hub
    response = client.post(
        reverse("network:hub_subscription_add"), {"subscriber_hub": hub.pk, "audience": "staff", "kind": "call"}
    )
    assert response.status_code == 400
    assert Subscription.objects.count() == 1


def test_the_subscriptions_api(client, hub, member, django_assert_max_num_queries):
    client.force_login(member)
    response = client.post(
        "/api/v1/network/subscriptions/", {"hub": hub.slug, "kind": "event"}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["topic"] == f"Event announced from {hub.name}"
    pk = response.json()["id"]
    bad = client.post("/api/v1/network/subscriptions/", {"kind": "gossip"}, content_type="application/json")
    assert bad.status_code == 400
    assert "kind" in bad.json()
    none = client.post("/api/v1/network/subscriptions/", {}, content_type="application/json")
    assert none.status_code == 400
    for kind in ("call", "lesson", "announcement", "case_study"):
        services.subscription_create(acting_user=member, user=member, kind=kind)
    with django_assert_max_num_queries(6):
        listing = client.get("/api/v1/network/subscriptions/")
    assert listing.json()["count"] == 5
    patched = client.patch(
        f"/api/v1/network/subscriptions/{pk}/", {"delivery": "digest"}, content_type="application/json"
    )
    assert patched.json()["delivery"] == "digest"
    assert client.put(
        "/api/v1/network/preference/", {"delivery": "digest"}, content_type="application/json"
    ).json() == {"delivery": "digest"}
    assert client.delete(f"/api/v1/network/subscriptions/{pk}/").status_code == 204


def test_the_news_api_lists_filters_and_lets_staff_post(client, hub, staff, django_assert_max_num_queries):
    make_items(hub, 12, sector="health")
    with django_assert_max_num_queries(3):
        response = client.get("/api/v1/network/news/?page_size=5&sector=health")
    assert response.json()["count"] == 12
    assert len(response.json()["results"]) == 5
    key = make_api_key(hub=hub, user=staff, scope="write")[1]
    response = client.post(
        "/api/v1/network/news/",
        {"hub": hub.slug, "kind": "announcement", "title": "Demo day on 12 May", "body": "Startups, sign up."},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 201, response.content
    assert response.json()["author"] == staff.display_name
    assert response.json()["link"] == f"/network/news/{response.json()['id']}/"


def test_partner_keys_cannot_post_news(client, hub, staff):
    from hubs.services import partner_system_create

    partner = partner_system_create(hub=hub, name="Funder dashboard", acting_user=staff)
    key = make_api_key(hub=hub, partner=partner, scope="write")[1]
    response = client.post(
        "/api/v1/network/news/",
        {"hub": hub.slug, "kind": "announcement", "title": "X", "body": "Y"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 403


def test_staff_without_mfa_are_sent_to_set_it_up_before_posting(client, hub):
    from hubs.models import Role
    from tests.conftest import verified_user
    from tests.factories import MembershipFactory

    user = verified_user()
    MembershipFactory(user=user, hub=hub, role=Role.STAFF)
    client.force_login(user)
    response = client.get(reverse("network:post"))
    assert response.status_code == 302
    enable_mfa(user)
    assert client.get(reverse("network:post")).status_code == 200
