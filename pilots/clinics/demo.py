"""Demo AI clinics: hub experts' advice slots in the coming days, some booked by the demo
businesses with their intake; sessions of the past weeks with the expert's notes and
recommendations ("apply to the playground call", with the link to the real call); a booking
cancelled by its booker. Idempotent.

Everything goes through the services (expert, slot, booking, cancellation, follow-up), acting
as the hub's staff and the demo people. The services refuse the past, so a past session is
published and booked as it was at the time (at a placeholder date in the future) and then
dated back, before its follow-up is written. Re-running changes nothing: a slot is looked up by
hub, expert and topic first. The demo addresses are not real: the seed marks its bookings'
e-mails and its inbox items as sent, so it sends no mail.
"""

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from compute.models import Call
from hubs.models import Hub, Notification, User
from pilots.models import CaseStudy

from . import services
from .models import ClinicBooking, ClinicSlot, Mode

DEMO_DOMAIN = "@gigafactory.test"

# hub, staff who marks them, expert, expertise
EXPERTS = [
    ("lyon", "lyon.staff@gigafactory.test", "researcher@gigafactory.test", "Medical imaging and computer vision"),
]

LYON_ROOM = "Room 2.14, Lyon AI Gigafactory, 1 Rue de la République, Lyon"
HELSINKI_ROOM = "Clinic room, Helsinki AI Gigafactory, Otakaari 1, Espoo"
LISBON_ROOM = "Sala 3, Lisbon AI Gigafactory, Avenida da Liberdade 110, Lisbon"

# Each slot: hub, expert, topic, description, (days from today, hour, minute), minutes, mode,
# place or link, booking (booker, sector, organisation, problem, data) or None, what happened
# after: None, "cancelled" (by the booker) or a follow-up (notes, [(text, call slug or url)]).
SLOTS = [
    # --- coming up --------------------------------------------------------------------------
    {
        "hub": "lyon",
        "expert": "lyon.staff@gigafactory.test",
        "topic": "Computer vision for quality control",
        "description": "Cameras on a production line, defect detection, how many labelled images you need.",
        "at": (3, 10, 0),
        "minutes": 45,
        "mode": Mode.ON_SITE,
        "where": LYON_ROOM,
        "booking": (
            "founder@gigafactory.test",
            "manufacturing",
            "Spreewald Robotics",
            "Our welding robots should reject bad seams on their own instead of a person checking every part.",
            "About 8,000 photos of seams from two cameras, 300 of them labelled good or bad by our welders.",
        ),
    },
    {
        "hub": "lyon",
        "expert": "lyon.staff@gigafactory.test",
        "topic": "From a spreadsheet to a first model",
        "description": "For businesses with data in spreadsheets and no data scientist yet.",
        "at": (3, 11, 0),
        "minutes": 45,
        "mode": Mode.ON_SITE,
        "where": LYON_ROOM,
    },
    {
        "hub": "lyon",
        "expert": "lyon.staff@gigafactory.test",
        "topic": "Is my AI system high-risk? The AI Act in 45 minutes",
        "description": "Bring a one-paragraph description of your system; we go through the classification together.",
        "at": (6, 14, 0),
        "minutes": 45,
        "mode": Mode.ONLINE,
        "where": "https://meet.gigafactory.test/lyon-ai-act-clinic",
        "booking": (
            "farmer@gigafactory.test",
            "agriculture",
            "Cooperativa Agraria del Ebro",
            "We want to advise our members when to irrigate; does that make our tool a high-risk system?",
            "Soil-moisture readings every 15 minutes from 40 sensors over two seasons, and the weather data.",
        ),
    },
    {
        "hub": "lyon",
        "expert": "researcher@gigafactory.test",
        "topic": "Medical images: from the PACS to a training set",
        "description": "Anonymisation, labelling and the data-sharing agreement with a hospital.",
        "at": (8, 9, 30),
        "minutes": 60,
        "mode": Mode.ONLINE,
        "where": "https://meet.gigafactory.test/lyon-imaging-clinic",
    },
    {
        "hub": "helsinki",
        "expert": "helsinki.staff@gigafactory.test",
        "topic": "Forecasting demand and load for utilities",
        "description": "Time-series models for heat and electricity demand; what the hub's GPUs add.",
        "at": (4, 13, 0),
        "minutes": 45,
        "mode": Mode.ONLINE,
        "where": "https://meet.gigafactory.test/helsinki-forecasting-clinic",
        "booking": (
            "grid@gigafactory.test",
            "energy",
            "Helen Oy",
            "District-heating demand forecasts one day ahead, to plan the heat pumps and the storage tank.",
            "Hourly heat demand per network area since 2019, outdoor temperatures, public holidays.",
        ),
    },
    {
        "hub": "helsinki",
        "expert": "helsinki.staff@gigafactory.test",
        "topic": "GPU sizing: how many credits do I need?",
        "description": "Estimate the GPU-hours of your training run before you apply for credits.",
        "at": (10, 10, 0),
        "minutes": 30,
        "mode": Mode.ON_SITE,
        "where": HELSINKI_ROOM,
    },
    {
        "hub": "lisbon",
        "expert": "lisbon.staff@gigafactory.test",
        "topic": "Open data and the GDPR for public services",
        "description": "Which public data you may use to train a model, and how to document it.",
        "at": (5, 15, 0),
        "minutes": 45,
        "mode": Mode.ON_SITE,
        "where": LISBON_ROOM,
        "booking": (
            "teacher@gigafactory.test",
            "education",
            "Escola Secundária de Camões",
            "Our students want to build a model on the city's open data about school meals.",
            "The city's open-data portal: menus, food waste per school, pupil numbers.",
        ),
        "after": "cancelled",
    },
    {
        "hub": "zagreb",
        "expert": "zagreb.staff@gigafactory.test",
        "topic": "Chatbots for city services",
        "description": "What we learnt adapting Lisbon's citizen-requests tool for Zagreb.",
        "at": (7, 10, 0),
        "minutes": 45,
        "mode": Mode.ONLINE,
        "where": "https://meet.gigafactory.test/zagreb-chatbot-clinic",
    },
    # --- held in the past weeks, with the follow-up -------------------------------------------
    {
        "hub": "lyon",
        "expert": "lyon.staff@gigafactory.test",
        "topic": "Forecasting from sensor data",
        "description": "Sensor time series, gaps and drift; what a first forecast needs.",
        "at": (-12, 10, 0),
        "minutes": 45,
        "mode": Mode.ONLINE,
        "where": "https://meet.gigafactory.test/lyon-sensor-clinic",
        "booking": (
            "farmer@gigafactory.test",
            "agriculture",
            "Cooperativa Agraria del Ebro",
            "We would like to predict the water needs of each plot a week ahead.",
            "Two seasons of soil-moisture readings from 40 sensors (CSV), plot sizes and crops.",
        ),
        "after": (
            "Your two seasons of readings are enough for a first model per crop. Fill the sensor gaps first "
            "(we showed you how), then train on the playground: 500 credits are plenty for this size.",
            [
                ("Apply to the playground call for 500 credits", "lyon-playground"),
                ("Read how the Ebro farmers' pilot predicts water needs", "case-study:zaragoza"),
            ],
        ),
    },
    {
        "hub": "lyon",
        "expert": "lyon.staff@gigafactory.test",
        "topic": "Spot defects on welded seams",
        "description": "A first look at your images and labels.",
        "at": (-5, 14, 0),
        "minutes": 45,
        "mode": Mode.ON_SITE,
        "where": LYON_ROOM,
        "booking": (
            "founder@gigafactory.test",
            "manufacturing",
            "Spreewald Robotics",
            "Can a vision model tell a good weld from a bad one reliably enough to stop the line?",
            "About 8,000 photos of seams, 300 labelled.",
        ),
        "after": (
            "Label 1,000 more images with your welders (the tool we showed takes an afternoon), then fine-tune an "
            "open detection model. Size the run on the playground first, then apply to the Fast Lane.",
            [
                ("Apply to the playground call to size the training run", "lyon-playground"),
                ("Then apply to the Lyon Fast Lane for health and industry", "lyon-fast-lane"),
            ],
        ),
    },
    {
        "hub": "helsinki",
        "expert": "helsinki.staff@gigafactory.test",
        "topic": "Energy-demand forecasting with open weather data",
        "description": "Using the Finnish Meteorological Institute's open data in your forecasts.",
        "at": (-20, 13, 0),
        "minutes": 45,
        "mode": Mode.ONLINE,
        "where": "https://meet.gigafactory.test/helsinki-weather-clinic",
        "booking": (
            "grid@gigafactory.test",
            "energy",
            "Helen Oy",
            "Our electricity-demand forecast misses the cold snaps.",
            "Hourly consumption per substation for five years.",
        ),
        "after": (
            "Add the open temperature forecasts as features and train one model per substation group. "
            "The Fast Lane fits the size of this work.",
            [("Apply to the Helsinki Energy and Climate Fast Lane", "helsinki-fast-lane")],
        ),
    },
]

# Past sessions are published and booked at placeholder times this far ahead, then dated back.
PLACEHOLDER_DAYS = 400


def _user(email):
    return User.objects.filter(email=email).first()


def _local(days, hour, minute) -> dt.datetime:
    day = timezone.localdate() + dt.timedelta(days=days)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def _link(target: str) -> str:
    """``case-study:<hub>`` is that hub's public case study, anything else a call's slug; the page's
    full address, or no link when the other seeds have not made it."""
    if target.startswith("case-study:"):
        case_study = CaseStudy.objects.filter(
            pilot__hub__slug=target.removeprefix("case-study:"), withdrawn_at__isnull=True
        ).first()
        path = case_study.get_absolute_url() if case_study else ""
    else:
        path = reverse("compute:call_detail", args=[target]) if Call.objects.filter(slug=target).exists() else ""
    return settings.SITE_URL.rstrip("/") + path if path else ""


def _quiet(booking_ids) -> None:
    """The demo addresses are not real: count this seed's booking e-mails as sent."""
    now = timezone.now()
    ClinicBooking.objects.filter(pk__in=booking_ids).update(
        confirmation_sent_at=now, reminder_sent_at=now, cancellation_sent_at=now
    )


def _seed_slot(spec, index) -> tuple[ClinicSlot, bool]:
    hub = Hub.objects.get(slug=spec["hub"])
    expert = _user(spec["expert"])
    existing = ClinicSlot.objects.filter(hub=hub, expert=expert, topic=spec["topic"]).first()
    if existing is not None:
        return existing, False
    days, hour, minute = spec["at"]
    starts_at = _local(days, hour, minute)
    past = starts_at <= timezone.now()
    place_or_link = {"place": spec["where"]} if spec["mode"] == Mode.ON_SITE else {"link": spec["where"]}
    slot = services.slot_create(
        hub=hub,
        expert=expert,
        topic=spec["topic"],
        description=spec["description"],
        starts_at=_local(PLACEHOLDER_DAYS + index, hour, minute) if past else starts_at,
        duration_minutes=spec["minutes"],
        mode=spec["mode"],
        acting_user=expert,
        **place_or_link,
    )
    booking = None
    if spec.get("booking"):
        email, sector, organisation, problem, data = spec["booking"]
        booking = services.booking_create(
            slot=slot,
            acting_user=_user(email),
            sector=sector,
            organisation_name=organisation,
            problem=problem,
            data_description=data,
        )
        _quiet([booking.pk])
    if past:  # the session took place: move it to when it was held
        ClinicSlot.objects.filter(pk=slot.pk).update(
            starts_at=starts_at, ends_at=starts_at + dt.timedelta(minutes=spec["minutes"])
        )
        ClinicBooking.objects.filter(slot=slot).update(created_at=starts_at - dt.timedelta(days=6))
        slot.refresh_from_db()
    after = spec.get("after")
    if booking is not None and after == "cancelled":
        services.booking_cancel(
            booking=booking, acting_user=booking.user, reason="Our school trip moved to that afternoon, sorry."
        )
        _quiet([booking.pk])
    elif booking is not None and after:
        notes, recommendations = after
        services.booking_follow_up(
            booking=booking,
            acting_user=expert,
            notes=notes,
            recommendations=[(text, _link(target)) for text, target in recommendations],
        )
    return slot, True


@transaction.atomic
def seed(log) -> None:
    if _user("lyon.staff@gigafactory.test") is None or not Hub.objects.filter(slug="zagreb").exists():
        log("clinics: the demo hubs and people are missing; run the hubs seed first")
        return
    for slug, staff_email, email, expertise in EXPERTS:
        hub, staff, user = Hub.objects.get(slug=slug), _user(staff_email), _user(email)
        if not hub.clinic_experts.filter(user=user).exists():
            services.expert_mark(hub=hub, user=user, expertise=expertise, acting_user=staff)
    made = 0
    for index, spec in enumerate(SLOTS):
        _slot, created = _seed_slot(spec, index)
        made += created
    Notification.objects.filter(emailed_at__isnull=True, user__email__endswith=DEMO_DOMAIN).update(
        emailed_at=timezone.now()
    )
    now = timezone.now()
    upcoming = ClinicSlot.objects.filter(starts_at__gt=now)
    log(
        f"clinic slots: {ClinicSlot.objects.count()} ({made} new; {upcoming.count()} upcoming, "
        f"{upcoming.filter(bookings__status='booked').count()} of them booked), bookings: "
        f"{ClinicBooking.objects.count()}, followed up: {ClinicBooking.objects.exclude(followed_up_at=None).count()}"
    )


def logins() -> list[tuple[str, str]]:
    return [("farmer@gigafactory.test", "a local business: books AI-clinic slots, reads the expert's follow-up")]
