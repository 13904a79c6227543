"""The demo network: hubs, organisations, people in every role. Idempotent."""

from allauth.account.models import EmailAddress
from django.db import transaction
from django.utils import timezone

from .models import Hub, Membership, MembershipStatus, Organisation, OrganisationKind, Profile, Role, User

DEMO_PASSWORD = "gigafactory-demo"  # noqa: S105 - printed demo credential, embedded mode only

HUBS = [
    (
        "lyon",
        "Lyon AI Gigafactory",
        "Lyon",
        "FR",
        ["health", "manufacturing"],
        "Hospitals, universities and manufacturers share GPUs for medical imaging and industrial AI.",
    ),
    (
        "helsinki",
        "Helsinki AI Gigafactory",
        "Helsinki",
        "FI",
        ["energy", "climate"],
        "Nordic utilities and researchers tune smart-grid and climate models on clean power.",
    ),
    (
        "berlin",
        "Berlin AI Gigafactory",
        "Berlin",
        "DE",
        ["mobility", "manufacturing", "public_services"],
        "Startups and the city build mobility and public-service AI.",
    ),
    (
        "lisbon",
        "Lisbon AI Gigafactory",
        "Lisbon",
        "PT",
        ["public_services", "education"],
        "Open tools for municipalities and schools, built to be reused across the network.",
    ),
    (
        "zagreb",
        "Zagreb AI Gigafactory",
        "Zagreb",
        "HR",
        ["public_services", "health"],
        "Adapts what works elsewhere to Croatian public services and clinics.",
    ),
    (
        "warsaw",
        "Warsaw AI Gigafactory",
        "Warsaw",
        "PL",
        ["finance", "manufacturing"],
        "Industrial and financial AI with Poland's research institutes.",
    ),
    (
        "zaragoza",
        "Zaragoza Rural AI Hub",
        "Zaragoza",
        "ES",
        ["agriculture", "climate"],
        "Farm co-operatives in rural Aragon predict water needs and crop yields.",
    ),
    (
        "lulea",
        "Luleå Arctic AI Hub",
        "Luleå",
        "SE",
        ["energy", "climate"],
        "Wind-farm output forecasting and green data centres in northern Sweden.",
    ),
]

ORGANISATIONS = [
    ("Université Claude Bernard Lyon 1", OrganisationKind.UNIVERSITY, "FR", "https://www.univ-lyon1.fr"),
    ("VTT Technical Research Centre", OrganisationKind.RESEARCH_INSTITUTE, "FI", "https://www.vttresearch.com"),
    ("Spreewald Robotics", OrganisationKind.STARTUP, "DE", ""),
    ("Tejo Analytics", OrganisationKind.SME, "PT", ""),
    ("Siemens Energy", OrganisationKind.ENTERPRISE, "DE", "https://www.siemens-energy.com"),
    ("City of Zagreb", OrganisationKind.PUBLIC_BODY, "HR", "https://www.zagreb.hr"),
    ("Hospices Civils de Lyon", OrganisationKind.HOSPITAL, "FR", "https://www.chu-lyon.fr"),
    ("Escola Secundária de Camões", OrganisationKind.SCHOOL, "PT", ""),
    ("Helen Oy", OrganisationKind.UTILITY, "FI", "https://www.helen.fi"),
    ("AlgorithmWatch", OrganisationKind.NGO, "DE", "https://algorithmwatch.org"),
    ("Nordic Deep Tech Ventures", OrganisationKind.INVESTOR, "SE", ""),
    ("Cooperativa Agraria del Ebro", OrganisationKind.SME, "ES", ""),
]

# email, name, organisation, [(hub, role, status)], superuser
PEOPLE = [
    ("admin@gigafactory.test", "Network Admin", None, [], True),
    (
        "lyon.admin@gigafactory.test",
        "Claire Dubois",
        "Université Claude Bernard Lyon 1",
        [("lyon", Role.ADMIN, MembershipStatus.ACTIVE)],
        False,
    ),
    (
        "lyon.staff@gigafactory.test",
        "Julien Martin",
        "Hospices Civils de Lyon",
        [("lyon", Role.STAFF, MembershipStatus.ACTIVE)],
        False,
    ),
    (
        "helsinki.staff@gigafactory.test",
        "Aino Virtanen",
        "VTT Technical Research Centre",
        [("helsinki", Role.STAFF, MembershipStatus.ACTIVE)],
        False,
    ),
    (
        "zagreb.staff@gigafactory.test",
        "Ivana Horvat",
        "City of Zagreb",
        [("zagreb", Role.STAFF, MembershipStatus.ACTIVE)],
        False,
    ),
    (
        "lisbon.staff@gigafactory.test",
        "Rui Almeida",
        "Tejo Analytics",
        [("lisbon", Role.STAFF, MembershipStatus.ACTIVE)],
        False,
    ),
    (
        "reviewer@gigafactory.test",
        "Dr. Lena Fischer",
        "AlgorithmWatch",
        [("lyon", Role.REVIEWER, MembershipStatus.ACTIVE), ("berlin", Role.REVIEWER, MembershipStatus.ACTIVE)],
        False,
    ),
    (
        "reviewer2@gigafactory.test",
        "Prof. Marek Nowak",
        "VTT Technical Research Centre",
        [("lyon", Role.REVIEWER, MembershipStatus.ACTIVE), ("warsaw", Role.REVIEWER, MembershipStatus.ACTIVE)],
        False,
    ),
    (
        "researcher@gigafactory.test",
        "Dr. Sofia Moreau",
        "Université Claude Bernard Lyon 1",
        [
            ("lyon", Role.MEMBER, MembershipStatus.ACTIVE),
            ("helsinki", Role.MEMBER, MembershipStatus.ACTIVE),
            ("berlin", Role.MEMBER, MembershipStatus.REQUESTED),
        ],
        False,
    ),
    (
        "founder@gigafactory.test",
        "Jonas Weber",
        "Spreewald Robotics",
        [("berlin", Role.MEMBER, MembershipStatus.ACTIVE), ("lyon", Role.MEMBER, MembershipStatus.REQUESTED)],
        False,
    ),
    (
        "farmer@gigafactory.test",
        "Carmen López",
        "Cooperativa Agraria del Ebro",
        [("zaragoza", Role.MEMBER, MembershipStatus.ACTIVE)],
        False,
    ),
    (
        "grid@gigafactory.test",
        "Mikko Laine",
        "Helen Oy",
        [("helsinki", Role.MEMBER, MembershipStatus.ACTIVE), ("lulea", Role.MEMBER, MembershipStatus.ACTIVE)],
        False,
    ),
    (
        "teacher@gigafactory.test",
        "Ana Sousa",
        "Escola Secundária de Camões",
        [("lisbon", Role.MEMBER, MembershipStatus.REQUESTED)],
        False,
    ),
    (
        "investor@gigafactory.test",
        "Erik Lindqvist",
        "Nordic Deep Tech Ventures",
        [("lulea", Role.MEMBER, MembershipStatus.ACTIVE), ("warsaw", Role.MEMBER, MembershipStatus.REJECTED)],
        False,
    ),
    (
        "suspended@gigafactory.test",
        "Tom Suspended",
        "Siemens Energy",
        [("berlin", Role.MEMBER, MembershipStatus.SUSPENDED)],
        False,
    ),
]


@transaction.atomic
def seed(log) -> None:
    hubs = {}
    for slug, name, city, country, sectors, description in HUBS:
        hubs[slug], _ = Hub.objects.get_or_create(
            slug=slug,
            defaults={
                "name": name,
                "city": city,
                "country": country,
                "focus_sectors": sectors,
                "description": description,
                "contact_email": f"hello@{slug}.gigafactory.test",
            },
        )
    log(f"hubs: {len(hubs)}")
    orgs = {}
    for name, kind, country, website in ORGANISATIONS:
        orgs[name], _ = Organisation.objects.get_or_create(
            name=name, country=country, defaults={"kind": kind, "website": website}
        )
    log(f"organisations: {len(orgs)} ({len({o.kind for o in orgs.values()})} kinds)")
    for email, name, org, memberships, superuser in PEOPLE:
        user = User.objects.filter(email=email).first()
        if user is None:
            factory = User.objects.create_superuser if superuser else User.objects.create_user
            user = factory(email=email, password=DEMO_PASSWORD, name=name)
        EmailAddress.objects.get_or_create(user=user, email=email, defaults={"verified": True, "primary": True})
        Profile.objects.get_or_create(
            user=user, defaults={"organisation": orgs.get(org), "country": orgs[org].country if org else ""}
        )
        for slug, role, status in memberships:
            Membership.objects.get_or_create(
                user=user,
                hub=hubs[slug],
                defaults={
                    "role": role,
                    "status": status,
                    "motivation": f"{name} would like to work with {hubs[slug].name}.",
                    "decided_at": None if status == MembershipStatus.REQUESTED else timezone.now(),
                },
            )
        if any(role in (Role.STAFF, Role.ADMIN) and st == MembershipStatus.ACTIVE for _, role, st in memberships):
            User.objects.filter(pk=user.pk).update(is_staff=True)
    log(f"people: {len(PEOPLE)}; memberships: {Membership.objects.count()}")


def logins() -> list[tuple[str, str]]:
    return [
        ("admin@gigafactory.test", "superuser (MFA set-up asked on first staff page)"),
        ("lyon.staff@gigafactory.test", "staff of Lyon (MFA set-up asked on first staff page)"),
        ("reviewer@gigafactory.test", "reviewer in Lyon and Berlin"),
        ("researcher@gigafactory.test", "researcher, member of Lyon and Helsinki"),
        ("founder@gigafactory.test", "startup founder, member of Berlin"),
    ]
