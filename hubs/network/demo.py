"""Demo network news: subscriptions of people and hubs, announcements and lessons learned posted
by hub staff (fanned out through the real services, so inboxes fill), the open calls announced,
and a sent digest. Idempotent: a second run adds nothing."""

from datetime import timedelta

from django.utils import timezone

from hubs.models import Hub, Notification, User

from . import services
from .models import Audience, Delivery, NetworkPreference, NewsItem, NewsKind, Subscription

# email: [(topic, delivery)] where topic is {"hub": slug, "sector": ..., "kind": ...}
PERSONAL = {
    "researcher@gigafactory.test": [({"kind": NewsKind.CALL}, ""), ({"sector": "health"}, Delivery.DIGEST)],
    "founder@gigafactory.test": [({"hub": "berlin"}, ""), ({"kind": NewsKind.EVENT}, Delivery.IMMEDIATE)],
    "farmer@gigafactory.test": [({"sector": "agriculture"}, ""), ({"kind": NewsKind.LESSON}, "")],
    "grid@gigafactory.test": [({"hub": "helsinki"}, ""), ({"sector": "energy", "kind": NewsKind.CASE_STUDY}, "")],
    "teacher@gigafactory.test": [({"sector": "education"}, ""), ({"kind": NewsKind.PILOT_ADAPTED}, "")],
    "investor@gigafactory.test": [({"kind": NewsKind.EVENT}, ""), ({"kind": NewsKind.CASE_STUDY}, "")],
}
DIGEST_PEOPLE = ["farmer@gigafactory.test", "investor@gigafactory.test"]

# subscriber hub: [(topic, audience)]
HUBS = {
    "zagreb": [({"sector": "public_services"}, Audience.STAFF), ({"kind": NewsKind.PILOT_ADAPTED}, Audience.STAFF)],
    "lisbon": [({"kind": NewsKind.LESSON}, Audience.MEMBERS)],
    "lyon": [({"sector": "health", "kind": NewsKind.LESSON}, Audience.STAFF)],
}

# (staff e-mail, hub, kind, sector, days ago, title, body)
POSTS = [
    (
        "lyon.staff@gigafactory.test",
        "lyon",
        NewsKind.LESSON,
        "health",
        19,
        "Label medical scans with the radiologists, not for them",
        "Our first lesion model looked good on paper and failed on rare findings. It improved once two "
        "radiologists from Hospices Civils de Lyon joined the labelling sessions every week: they caught "
        "ambiguous cases early and the labels stayed consistent. Budget their time from the start.",
    ),
    (
        "helsinki.staff@gigafactory.test",
        "helsinki",
        NewsKind.LESSON,
        "energy",
        15,
        "Tune smart-grid models on last winter, test them on this one",
        "Random train/test splits over-estimated our load-forecast accuracy by a third. Splitting by season "
        "(and keeping the coldest week out of training) gave numbers the utility could plan with.",
    ),
    (
        "lisbon.staff@gigafactory.test",
        "lisbon",
        NewsKind.ANNOUNCEMENT,
        "public_services",
        12,
        "Our school-transport planner is open source: adapt it at your hub",
        "The Lisbon route planner for school buses is now documented for reuse, with a data checklist for "
        "municipalities. Zagreb is already adapting it; write to us if your city wants to try.",
    ),
    (
        "zagreb.staff@gigafactory.test",
        "zagreb",
        NewsKind.LESSON,
        "public_services",
        6,
        "Adapting a pilot from another hub: start with the data agreement",
        "Adapting Lisbon's planner took two weeks of code and two months of data-sharing paperwork. Next "
        "time we sign the data agreement with the city before touching the model.",
    ),
    (
        "lyon.staff@gigafactory.test",
        "lyon",
        NewsKind.ANNOUNCEMENT,
        "",
        2,
        "Maintenance window on the Lyon H100 partition, Saturday 06:00-12:00",
        "Jobs still running at 06:00 are requeued automatically. Allocations are not charged for the requeued time.",
    ),
]


def _hub(slug):
    return Hub.objects.filter(slug=slug).first()


def seed(log) -> None:
    people = {u.email: u for u in User.objects.filter(email__in=[*PERSONAL, *(p[0] for p in POSTS)])}
    if not people:
        log("no demo people: run the hubs seed first")
        return
    followed = 0
    for email, rows in PERSONAL.items():
        user = people.get(email)
        if user is None:
            continue
        for topic, delivery in rows:
            hub = _hub(topic["hub"]) if "hub" in topic else None
            if Subscription.objects.filter(
                user=user, hub=hub, sector=topic.get("sector", ""), kind=topic.get("kind", "")
            ).exists():
                continue
            services.subscription_create(
                acting_user=user,
                user=user,
                hub=hub,
                sector=topic.get("sector", ""),
                kind=topic.get("kind", ""),
                delivery=delivery,
            )
            followed += 1
    for email in DIGEST_PEOPLE:
        if email in people:
            NetworkPreference.objects.get_or_create(user=people[email], defaults={"delivery": Delivery.DIGEST})
    for slug, rows in HUBS.items():
        subscriber = _hub(slug)
        staff = (
            subscriber
            and User.objects.filter(
                memberships__hub=subscriber, memberships__role__in=["staff", "admin"], memberships__status="active"
            ).first()
        )
        if staff is None:
            continue
        for topic, audience in rows:
            if Subscription.objects.filter(
                subscriber_hub=subscriber, hub=None, sector=topic.get("sector", ""), kind=topic.get("kind", "")
            ).exists():
                continue
            services.subscription_create(acting_user=staff, subscriber_hub=subscriber, audience=audience, **topic)
            followed += 1

    posted = 0
    now = timezone.now()
    for email, slug, kind, sector, days_ago, title, body in POSTS:
        author, hub = people.get(email), _hub(slug)
        if author is None or hub is None or NewsItem.objects.filter(title=title).exists():
            continue
        item = services.news_post(hub=hub, kind=kind, title=title, body=body, sector=sector, acting_user=author)
        # The fan-out ran on commit; date the story (and its inbox items) in the past.
        when = now - timedelta(days=days_ago, hours=3)
        NewsItem.objects.filter(pk=item.pk).update(created_at=when)
        notes = Notification.objects.filter(dedupe_key=f"network.news:{item.pk}")
        notes.update(created_at=when, read_at=when + timedelta(hours=5) if days_ago > 7 else None)
        posted += 1
    announced = services.calls_announce_opened()
    digests = services.digests_send_daily(day=timezone.localdate() - timedelta(days=1))
    log(
        f"news subscriptions: {followed} new; posts: {posted} new; calls announced: {announced}; "
        f"digests sent: {digests}; news items in all: {NewsItem.objects.count()}"
    )


def logins() -> list[tuple[str, str]]:
    return [("farmer@gigafactory.test", "follows agriculture news as a daily digest (Network news, Subscriptions)")]
