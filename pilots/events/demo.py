"""Demo events: the Lyon demo day with investors and pitching startups in their pitch slots, a
Helsinki GPU training programme that is full and has a waiting list, a Zagreb online workshop,
a Lyon workshop held last week with its attendance, and a draft only Lyon's staff see.
Idempotent.

Everything goes through the services (create, publish, register, pitch slots, attendance),
acting as the hub's staff and the demo people. The services refuse the past, so the past
workshop is created and filled as it was at the time (at a placeholder date in the future) and
then dated back, before its attendance is marked. Re-running changes nothing: an event is
looked up by hub and title first. The demo addresses are not real: the seed marks its
registrations' e-mails and its inbox items as sent, so it sends no mail.

The people are those of the hubs seed; the demo day's investors are joined by two investors
from outside the hubs (attendee accounts, no hub membership).
"""

import datetime as dt

from allauth.account.models import EmailAddress
from django.db import transaction
from django.utils import timezone

from hubs.demo import DEMO_PASSWORD
from hubs.models import Hub, Notification, User

from . import services
from .models import Event, EventKind, EventMode, EventStatus, Registration, RegistrationRole, RegistrationStatus

DEMO_DOMAIN = "@gigafactory.test"
PLACEHOLDER_DAYS = 400

GUEST_INVESTORS = [
    ("sophie.laurent@rhone-health.gigafactory.test", "Sophie Laurent"),
    ("tomasz.zielinski@vistula.gigafactory.test", "Tomasz Zieliński"),
]

ATTENDEE, INVESTOR, STARTUP = RegistrationRole.ATTENDEE, RegistrationRole.INVESTOR, RegistrationRole.STARTUP

# Each event: hub, staff, fields (times as (days from today, hour, minute)), pitch slots
# (first start, count, minutes, gap), registrations in order (email, role, organisation, note,
# pitch slot number or None), attendance {email: came}, published or not.
EVENTS = [
    {
        "hub": "lyon",
        "staff": "lyon.staff@gigafactory.test",
        "title": "Lyon Health & Industry AI Demo Day",
        "kind": EventKind.DEMO_DAY,
        "description": (
            "Startups trained on the Lyon hub's GPUs pitch to investors: medical imaging, industrial vision, "
            "public-service tools. Twelve minutes each, questions included; drinks and meetings afterwards."
        ),
        "starts": (24, 13, 0),
        "ends": (24, 18, 0),
        "mode": EventMode.HYBRID,
        "place": "Hôtel-Dieu, 1 Place de l'Hôpital, 69002 Lyon",
        "link": "https://stream.gigafactory.test/lyon-demo-day",
        "capacity": 120,
        "pitch_slots": ((24, 14, 0), 8, 12, 15),
        "registrations": [
            (
                "investor@gigafactory.test",
                INVESTOR,
                "Nordic Deep Tech Ventures",
                "Deep tech for climate and health; seed to series A.",
                None,
            ),
            (GUEST_INVESTORS[0][0], INVESTOR, "Rhône Health Capital", "Medtech and digital health, seed.", None),
            (GUEST_INVESTORS[1][0], INVESTOR, "Vistula Ventures", "Industrial AI in central Europe.", None),
            (
                "founder@gigafactory.test",
                STARTUP,
                "Spreewald Robotics",
                "Welding robots that check their own seams with a vision model.",
                1,
            ),
            (
                "lisbon.staff@gigafactory.test",
                STARTUP,
                "Tejo Analytics",
                "Citizen-request triage for cities, running in Lisbon and adapted in Zagreb.",
                2,
            ),
            ("researcher@gigafactory.test", ATTENDEE, "Université Claude Bernard Lyon 1", "", None),
            ("reviewer@gigafactory.test", ATTENDEE, "AlgorithmWatch", "", None),
            ("farmer@gigafactory.test", ATTENDEE, "Cooperativa Agraria del Ebro", "", None),
        ],
    },
    {
        "hub": "helsinki",
        "staff": "helsinki.staff@gigafactory.test",
        "title": "From notebook to cluster: a GPU training programme",
        "kind": EventKind.TRAINING,
        "description": (
            "Four afternoons, from a notebook on a laptop to a multi-GPU training job on the hub's cluster: "
            "containers, Slurm, data loading, mixed precision, checkpoints, and reading your usage in the portal."
        ),
        "starts": (12, 13, 0),
        "ends": (15, 17, 0),
        "mode": EventMode.HYBRID,
        "place": "Training room, Helsinki AI Gigafactory, Otakaari 1, Espoo",
        "link": "https://meet.gigafactory.test/helsinki-gpu-training",
        "capacity": 3,
        "registrations": [
            ("researcher@gigafactory.test", ATTENDEE, "", "", None),
            ("grid@gigafactory.test", ATTENDEE, "Helen Oy", "", None),
            ("founder@gigafactory.test", ATTENDEE, "Spreewald Robotics", "", None),
            ("farmer@gigafactory.test", ATTENDEE, "Cooperativa Agraria del Ebro", "", None),  # waiting list, first
            ("teacher@gigafactory.test", ATTENDEE, "Escola Secundária de Camões", "", None),  # waiting list, second
        ],
    },
    {
        "hub": "zagreb",
        "staff": "zagreb.staff@gigafactory.test",
        "title": "Chatbots for city services: lessons from Lisbon",
        "kind": EventKind.WORKSHOP,
        "description": "How Zagreb adapted Lisbon's citizen-requests tool: data, language, and the AI Act duties.",
        "starts": (16, 10, 0),
        "ends": (16, 12, 0),
        "mode": EventMode.ONLINE,
        "link": "https://meet.gigafactory.test/zagreb-chatbots",
        "capacity": 50,
        "registrations": [
            ("teacher@gigafactory.test", ATTENDEE, "Escola Secundária de Camões", "", None),
            ("lisbon.staff@gigafactory.test", ATTENDEE, "Tejo Analytics", "", None),
        ],
    },
    {
        "hub": "lyon",
        "staff": "lyon.staff@gigafactory.test",
        "title": "The AI Act for startups: a hands-on workshop",
        "kind": EventKind.WORKSHOP,
        "description": "Classify your own system, read the obligations that follow, start the evidence checklist.",
        "starts": (-9, 9, 30),
        "ends": (-9, 12, 30),
        "mode": EventMode.ON_SITE,
        "place": "Room 1.02, Lyon AI Gigafactory, 1 Rue de la République, Lyon",
        "capacity": 40,
        "registrations": [
            ("founder@gigafactory.test", ATTENDEE, "Spreewald Robotics", "", None),
            ("researcher@gigafactory.test", ATTENDEE, "", "", None),
            ("farmer@gigafactory.test", ATTENDEE, "Cooperativa Agraria del Ebro", "", None),
        ],
        "attendance": {
            "founder@gigafactory.test": True,
            "researcher@gigafactory.test": True,
            "farmer@gigafactory.test": False,
        },
    },
    {
        "hub": "lyon",
        "staff": "lyon.staff@gigafactory.test",
        "title": "Lyon summer school on trustworthy AI",
        "kind": EventKind.TRAINING,
        "description": "A week on fairness, robustness and documentation, with the ethics board. Programme in draft.",
        "starts": (60, 9, 0),
        "ends": (64, 17, 0),
        "mode": EventMode.ON_SITE,
        "place": "Lyon AI Gigafactory, 1 Rue de la République, Lyon",
        "capacity": 60,
        "draft": True,
    },
]


def _user(email):
    return User.objects.filter(email=email).first()


def _local(days, hour, minute) -> dt.datetime:
    day = timezone.localdate() + dt.timedelta(days=days)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def _guest_investors() -> None:
    for email, name in GUEST_INVESTORS:
        user = _user(email) or User.objects.create_user(email=email, password=DEMO_PASSWORD, name=name)
        EmailAddress.objects.get_or_create(user=user, email=email, defaults={"verified": True, "primary": True})


def _seed_event(spec) -> tuple[Event, bool]:
    hub, staff = Hub.objects.get(slug=spec["hub"]), _user(spec["staff"])
    existing = Event.objects.filter(hub=hub, title=spec["title"]).first()
    if existing is not None:
        return existing, False
    starts_at, ends_at = _local(*spec["starts"]), _local(*spec["ends"])
    past = starts_at <= timezone.now()
    # a past event is created, published and filled as it was then: at a placeholder date ahead
    shift = dt.timedelta(days=PLACEHOLDER_DAYS) if past else dt.timedelta(0)
    event = services.event_create(
        hub=hub,
        acting_user=staff,
        title=spec["title"],
        kind=spec["kind"],
        description=spec["description"],
        starts_at=starts_at + shift,
        ends_at=ends_at + shift,
        mode=spec["mode"],
        place=spec.get("place", ""),
        link=spec.get("link", ""),
        capacity=spec["capacity"],
    )
    if spec.get("draft"):
        return event, True
    event = services.event_publish(event=event, acting_user=staff)
    slots = []
    if spec.get("pitch_slots"):
        first, count, minutes, gap = spec["pitch_slots"]
        slots = [
            services.pitch_slot_add(
                event=event,
                starts_at=_local(*first) + dt.timedelta(minutes=gap * n),
                minutes=minutes,
                acting_user=staff,
            )
            for n in range(count)
        ]
    for email, role, organisation, note, pitch in spec.get("registrations", []):
        registration = services.registration_create(
            event=event, acting_user=_user(email), role=role, organisation_name=organisation, note=note
        )
        # the demo addresses are not real: the confirmation counts as sent
        Registration.objects.filter(pk=registration.pk).update(confirmation_sent_at=timezone.now())
        if pitch is not None:
            services.pitch_slot_claim(registration=registration, pitch_slot=slots[pitch - 1], acting_user=_user(email))
    if past:  # the workshop took place: move it to when it was held
        Event.objects.filter(pk=event.pk).update(
            starts_at=starts_at, ends_at=ends_at, published_at=starts_at - dt.timedelta(days=30)
        )
        event.refresh_from_db()
        for registration in event.registrations.filter(status=RegistrationStatus.CONFIRMED).select_related("user"):
            came = spec.get("attendance", {}).get(registration.user.email)
            if came is not None:
                services.attendance_mark(registration=registration, attended=came, acting_user=staff)
    return event, True


@transaction.atomic
def seed(log) -> None:
    if _user("lyon.staff@gigafactory.test") is None or not Hub.objects.filter(slug="zagreb").exists():
        log("events: the demo hubs and people are missing; run the hubs seed first")
        return
    _guest_investors()
    made = sum(_seed_event(spec)[1] for spec in EVENTS)
    Notification.objects.filter(emailed_at__isnull=True, user__email__endswith=DEMO_DOMAIN).update(
        emailed_at=timezone.now()
    )
    registrations = Registration.objects.all()
    log(
        f"events: {Event.objects.count()} ({made} new; "
        f"{Event.objects.filter(status=EventStatus.DRAFT).count()} draft), registrations: {registrations.count()} "
        f"({registrations.filter(role=RegistrationRole.INVESTOR).count()} investors, "
        f"{registrations.filter(status=RegistrationStatus.WAITLISTED).count()} waiting), pitch slots taken: "
        f"{registrations.filter(pitch_slot__isnull=False).count()}"
    )


def logins() -> list[tuple[str, str]]:
    return [("investor@gigafactory.test", "investor: registered for the Lyon demo day")]
