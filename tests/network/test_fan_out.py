"""Fan-out: every matching subscriber gets each item once (inbox and e-mail), also when the task
runs twice; digests group a day's items per person, by topic, once a day."""

from datetime import timedelta

import pytest
from django.contrib.auth.hashers import make_password
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone

from gigafactory.events import emit
from hubs.models import Notification, Role, User
from hubs.network import services, tasks
from hubs.network.models import (
    Audience,
    Delivery,
    NewsDelivery,
    NewsDigest,
    NewsItem,
    NewsKind,
    Subscription,
)
from tests.compute.factories import CallFactory
from tests.factories import HubFactory, MembershipFactory
from tests.services import require

pytestmark = pytest.mark.django_db


def follow(user, **topic):
    return services.subscription_create(acting_user=user, user=user, **topic)


def post(staff, hub, captured, *, kind=NewsKind.LESSON, title="Label scans with the radiologists", sector="health"):
    with captured(execute=True):
        return services.news_post(
            hub=hub, kind=kind, title=title, body="Involve them from week one.", sector=sector, acting_user=staff
        )


def delivered(item):
    return sorted(NewsDelivery.objects.filter(item=item).values_list("user__name", "mode"))


def test_each_matching_subscriber_gets_the_item_once_in_the_inbox_and_by_email(
    hub, other_hub, staff, people, django_capture_on_commit_callbacks
):
    follow(people["ana"], kind=NewsKind.LESSON)
    follow(people["ben"], sector="health")
    follow(people["cleo"], hub=hub)
    follow(people["dan"], kind=NewsKind.LESSON)  # two matching subscriptions: still one delivery
    follow(people["dan"], sector="health", kind=NewsKind.LESSON)
    follow(people["eva"], kind=NewsKind.CALL)  # does not match
    follow(people["eva"], hub=other_hub)  # does not match
    mail.outbox.clear()

    item = post(staff, hub, django_capture_on_commit_callbacks)

    assert delivered(item) == [("Ana", "immediate"), ("Ben", "immediate"), ("Cleo", "immediate"), ("Dan", "immediate")]
    inbox = Notification.objects.filter(kind="network.lesson")
    assert sorted(inbox.values_list("user__name", flat=True)) == ["Ana", "Ben", "Cleo", "Dan"]
    assert inbox.first().title == f"Lesson learned ({hub.name}): Label scans with the radiologists"
    assert sorted(m.to[0] for m in mail.outbox) == [f"{n}@example.org" for n in ("ana", "ben", "cleo", "dan")]
    assert "Involve them from week one." in mail.outbox[0].body
    item.refresh_from_db()
    assert item.recipient_count == 4
    assert item.fanned_out_at is not None


def test_running_the_fan_out_and_the_email_task_again_delivers_nothing_twice(
    hub, staff, people, django_capture_on_commit_callbacks
):
    for person in people.values():
        follow(person, kind=NewsKind.ANNOUNCEMENT)
    item = post(staff, hub, django_capture_on_commit_callbacks, kind=NewsKind.ANNOUNCEMENT, sector="")
    assert len(mail.outbox) == 5

    # A retried task, a duplicated message, the sweeper: all run the same work again.
    assert tasks.fan_out_news(item.pk) == 5
    assert tasks.fan_out_news(item.pk) == 5
    assert tasks.send_news_emails(item.pk) == 0
    assert NewsDelivery.objects.filter(item=item).count() == 5
    assert Notification.objects.filter(kind="network.announcement").count() == 5
    assert len(mail.outbox) == 5


def test_the_bus_event_of_another_app_becomes_one_news_item_even_if_announced_twice(
    hub, people, django_capture_on_commit_callbacks
):
    follow(people["ana"], kind=NewsKind.PILOT_ADAPTED)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        event = emit(
            "pilot.adapted",
            hub=hub,
            payload={"pilot": 4, "title": "Lisbon school-transport planner adapted in Zagreb", "url": "/pilots/4/"},
            sector="public_services",
        )
    from hubs.network.listeners import on_event

    on_event(event)  # the same event heard twice
    item = NewsItem.objects.get()
    assert (item.kind, item.title, item.url, item.sector) == (
        NewsKind.PILOT_ADAPTED,
        "Lisbon school-transport planner adapted in Zagreb",
        "/pilots/4/",
        "public_services",
    )
    assert delivered(item) == [("Ana", "immediate")]
    assert Notification.objects.get(user=people["ana"]).url == "/pilots/4/"


def test_the_author_does_not_receive_their_own_post(hub, staff, people, django_capture_on_commit_callbacks):
    follow(staff, kind=NewsKind.LESSON)
    follow(people["ana"], kind=NewsKind.LESSON)
    item = post(staff, hub, django_capture_on_commit_callbacks)
    assert delivered(item) == [("Ana", "immediate")]


def test_a_hub_subscription_reaches_its_staff_or_all_its_members(
    hub, other_hub, staff, other_staff, people, django_capture_on_commit_callbacks
):
    helsinki_member = MembershipFactory(hub=other_hub, role=Role.MEMBER).user
    services.subscription_create(acting_user=other_staff, subscriber_hub=other_hub, kind=NewsKind.LESSON)
    item = post(staff, hub, django_capture_on_commit_callbacks)
    assert [u for u, _m in delivered(item)] == [other_staff.name]

    subscription = Subscription.objects.get(subscriber_hub=other_hub)
    services.subscription_update(subscription=subscription, acting_user=other_staff, audience=Audience.MEMBERS)
    second = post(staff, hub, django_capture_on_commit_callbacks, title="Second lesson")
    assert sorted(u for u, _m in delivered(second)) == sorted([other_staff.name, helsinki_member.name])


def test_news_of_a_private_hub_reaches_only_its_members(hub, staff, people, django_capture_on_commit_callbacks):
    secret_hub = HubFactory(slug="closed", public=False)
    secret_staff = MembershipFactory(hub=secret_hub, role=Role.STAFF).user
    insider = MembershipFactory(hub=secret_hub, role=Role.MEMBER).user
    for person in (people["ana"], insider):
        follow(person, kind=NewsKind.LESSON)
    item = post(secret_staff, secret_hub, django_capture_on_commit_callbacks)
    assert [u for u, _m in delivered(item)] == [insider.name]


def test_a_digest_groups_the_days_items_per_person_by_topic_and_goes_out_once(
    hub, staff, people, django_capture_on_commit_callbacks
):
    ana, ben = people["ana"], people["ben"]
    services.preference_set(user=ana, delivery=Delivery.DIGEST)
    follow(ana, kind=NewsKind.LESSON)
    follow(ana, kind=NewsKind.ANNOUNCEMENT)
    follow(ben, kind=NewsKind.LESSON, delivery=Delivery.DIGEST)
    follow(ben, kind=NewsKind.ANNOUNCEMENT, delivery=Delivery.IMMEDIATE)
    mail.outbox.clear()

    post(staff, hub, django_capture_on_commit_callbacks, title="Lesson one")
    post(staff, hub, django_capture_on_commit_callbacks, title="Lesson two")
    post(staff, hub, django_capture_on_commit_callbacks, kind=NewsKind.ANNOUNCEMENT, title="Demo day in May")
    assert [m.to[0] for m in mail.outbox] == ["ben@example.org"]  # Ben gets announcements at once
    assert "Demo day in May" in mail.outbox[0].subject
    mail.outbox.clear()

    today = timezone.localdate()
    assert services.digests_send_daily(day=today) == 2
    digests = {m.to[0]: m for m in mail.outbox}
    assert set(digests) == {"ana@example.org", "ben@example.org"}
    ana_mail = digests["ana@example.org"].body
    assert "3 items" in digests["ana@example.org"].subject
    lessons, announcements = ana_mail.index("== Lesson learned (2) =="), ana_mail.index("== Announcement (1) ==")
    assert ana_mail.index("Lesson one") > lessons
    assert ana_mail.index("Lesson two") < announcements < ana_mail.index("Demo day in May")
    assert "== Announcement" not in digests["ben@example.org"].body  # he had it at once
    assert "2 items" in digests["ben@example.org"].subject

    # Once a day: running again sends nothing, and later news waits for tomorrow's digest.
    assert services.digests_send_daily(day=today) == 0
    post(staff, hub, django_capture_on_commit_callbacks, title="Lesson three")
    assert services.digests_send_daily(day=today) == 0
    assert len(mail.outbox) == 2
    assert services.digests_send_daily(day=today + timedelta(days=1)) == 2
    assert "Lesson three" in mail.outbox[-1].body
    assert "Lesson one" not in mail.outbox[-1].body
    assert NewsDigest.objects.filter(user=ana).count() == 2
    assert not NewsDelivery.objects.filter(mode=Delivery.DIGEST, emailed_at__isnull=True).exists()


def test_immediate_wins_when_a_person_chose_both_for_matching_topics(
    hub, staff, people, django_capture_on_commit_callbacks
):
    follow(people["ana"], kind=NewsKind.LESSON, delivery=Delivery.DIGEST)
    follow(people["ana"], sector="health", delivery=Delivery.IMMEDIATE)
    item = post(staff, hub, django_capture_on_commit_callbacks)
    assert delivered(item) == [("Ana", "immediate")]


def test_people_who_turned_emails_off_still_get_the_inbox_item(hub, staff, people, django_capture_on_commit_callbacks):
    from hubs.services import profile_update

    profile_update(user=people["ana"], email_notifications=False)
    follow(people["ana"], kind=NewsKind.LESSON)
    mail.outbox.clear()
    post(staff, hub, django_capture_on_commit_callbacks)
    assert Notification.objects.filter(user=people["ana"], kind="network.lesson").exists()
    assert mail.outbox == []


def test_thousands_of_subscribers_are_delivered_in_batches_with_a_bounded_number_of_queries(
    hub, staff, django_assert_max_num_queries
):
    # SQLite binds at most 999 values a statement, so its inserts come in smaller batches.
    require(connection.vendor == "postgresql", "PostgreSQL (the query count pinned is its)")
    password = make_password("x")
    users = User.objects.bulk_create(
        [User(email=f"fan{n}@example.org", name=f"Fan {n}", password=password) for n in range(2500)]
    )
    Subscription.objects.bulk_create([Subscription(user=u, kind=NewsKind.CALL) for u in users])
    item = NewsItem.objects.create(
        kind=NewsKind.CALL, hub=hub, title="Playground call", event_id=_uuid(), event_type="call.opened"
    )
    # 3 batches of 1000: per batch a transaction with two INSERTs; plus reads and the final count.
    with django_assert_max_num_queries(25):
        assert services.news_fan_out(item_id=item.pk) == 2500
    with django_assert_max_num_queries(25):
        assert services.news_fan_out(item_id=item.pk) == 2500
    assert Notification.objects.filter(dedupe_key=f"network.news:{item.pk}").count() == 2500


def test_an_opened_call_is_announced_once(hub, people, django_capture_on_commit_callbacks):
    follow(people["ana"], kind=NewsKind.CALL)
    call = CallFactory(hub=hub, title="Health imaging fast lane")
    CallFactory(hub=hub, opens_at=timezone.now() + timedelta(days=3))  # not open yet
    with django_capture_on_commit_callbacks(execute=True):
        assert services.calls_announce_opened() == 1
        assert services.calls_announce_opened() == 0
    item = NewsItem.objects.get(kind=NewsKind.CALL)
    assert item.title == "Health imaging fast lane"
    assert item.url == call.get_absolute_url()
    assert delivered(item) == [("Ana", "immediate")]


def test_a_stalled_fan_out_is_found_by_the_sweeper(hub, people):
    follow(people["ana"], kind=NewsKind.LESSON)
    item = NewsItem.objects.create(
        kind=NewsKind.LESSON, hub=hub, title="Lost message", event_id=_uuid(), event_type="lesson.learned"
    )
    NewsItem.objects.filter(pk=item.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    assert tasks.sweep()["fan_outs_resent"] == 1
    assert delivered(item) == [("Ana", "immediate")]
    assert tasks.sweep()["fan_outs_resent"] == 0


def _uuid():
    import uuid

    return uuid.uuid4()
