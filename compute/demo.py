"""Demo GPU credits: funding sources, providers and resources, calls of every track, projects,
applications in every state, reviews, allocations with months of usage. Idempotent.

Everything goes through the services (``call_fund``, ``project_create``, the application
transitions, ``review_assign`` / ``review_submit``, ``usage_ingest``) except two states no
service leaves an application in for long: "submitted" (the screening task takes it at once)
and "screening" (the task's own first step, ``screening._claim``, run without its decision).
Approved demo allocations are then moved back in time (start date, submission and decision
times) so that their usage history spans months; nothing else is changed by hand.

Re-running changes nothing: rows are looked up first (``get_or_create``, projects and
applications by title), funding uses a fixed idempotency key, and usage is only added to an
allocation that has none (its job ids are fixed, so even a re-sent batch would be duplicates).

The seed runs in one transaction. The screening tasks that submissions enqueue run after the
commit and find their applications decided already; the demo people's inbox items are marked
as e-mailed (their addresses are not real), so a seed sends no mail.
"""

import logging
import random
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

from gigafactory.audit import audit_record
from hubs.models import Hub, Notification, Organisation, OrganisationKind, User

from . import screening, services
from .models import (
    MILLI,
    Application,
    AppStatus,
    Call,
    ComputeProvider,
    ComputeResource,
    FundingKind,
    FundingSource,
    Project,
    Recommendation,
    Track,
    UsageRecord,
)
from .usage import MAX_RECORDS, usage_ingest

A = AppStatus
DEMO_DOMAIN = "@gigafactory.test"

FUNDING = {
    "eu": ("EuroHPC AI Factories Programme", FundingKind.EU, None, "EUROHPC-AIF-2025-01"),
    "fr": ("France 2030 AI Compute Fund", FundingKind.NATIONAL, "lyon", "FR2030-AIC-07"),
    "fi": ("Business Finland AI Compute Grants", FundingKind.NATIONAL, "helsinki", "BF-AIC-2025"),
    "ar": ("Aragon Rural Digitalisation Fund", FundingKind.REGIONAL, "zaragoza", "AR-RDF-12"),
}

A100 = ("NVIDIA A100 80GB", 600)
H100 = ("NVIDIA H100 80GB", 1000)
H200 = ("NVIDIA H200 141GB", 1300)

# hub: (provider, website, [(key, resource name, (GPU model, millicredits per GPU-hour), GPU-hours a month, partition)])
PROVIDERS = {
    "lyon": (
        "Lyon HPC Centre",
        "https://hpc.lyon.gigafactory.test",
        [("a100", "A100 cluster", A100, 40_000, "gpu_a100"), ("h100", "H100 cluster", H100, 60_000, "gpu_h100")],
    ),
    "helsinki": (
        "Kajaani Green Compute",
        "https://kajaani.gigafactory.test",
        [("h100", "H100 partition", H100, 80_000, "h100"), ("h200", "H200 partition", H200, 30_000, "h200")],
    ),
    "berlin": (
        "Spree Cloud GPU",
        "https://spree-cloud.gigafactory.test",
        [("h100", "H100 nodes", H100, 50_000, "gpu-h100"), ("h200", "H200 nodes", H200, 20_000, "gpu-h200")],
    ),
    "zaragoza": (
        "Aragon Rural Compute",
        "https://compute.aragon.gigafactory.test",
        [("a100", "A100 rack", A100, 8_000, "a100")],
    ),
    "lulea": (
        "Arctic Green Datacentre",
        "https://arctic.gigafactory.test",
        [("h100", "H100 hall", H100, 70_000, "h100"), ("a100", "A100 hall", A100, 30_000, "a100")],
    ),
}

BERLIN_RUBRIC = [
    {"key": "innovation", "label": "Innovation"},
    {"key": "public_value", "label": "Value for the public or the city"},
    {"key": "feasibility", "label": "Feasibility and readiness to use the GPUs"},
]


@dataclass
class CallSpec:
    slug: str
    hub: str
    funding: str
    title: str
    track: str
    phase: str  # open, closed, upcoming
    limit: int  # credits per application
    budget: int  # credits funded
    resources: list[str]
    grant: int = 0  # playground fixed grant, credits
    description: str = ""
    min_reviewers: int = 2
    cutoffs: list[int] = field(default_factory=list)  # days from today
    org_kinds: list[str] = field(default_factory=list)
    rubric: list | None = None


CALLS = [
    CallSpec(
        "lyon-playground",
        "lyon",
        "eu",
        "Lyon Playground: try GPUs this week",
        Track.PLAYGROUND,
        "open",
        limit=500,
        grant=500,
        budget=25_000,
        resources=["lyon:a100", "lyon:h100"],
        description="500 credits to try a model on real GPUs. Decided automatically within seconds.",
    ),
    CallSpec(
        "lyon-fast-lane",
        "lyon",
        "fr",
        "Lyon Fast Lane for health and industry",
        Track.FAST_LANE,
        "open",
        limit=50_000,
        budget=600_000,
        resources=["lyon:a100", "lyon:h100"],
        description="Up to 50,000 credits for medical imaging and industrial AI, approved at once when every "
        "check passes.",
    ),
    CallSpec(
        "lyon-research-2026",
        "lyon",
        "eu",
        "Lyon Large-Scale AI Research 2026",
        Track.PEER_REVIEW,
        "open",
        limit=400_000,
        budget=2_000_000,
        resources=["lyon:a100", "lyon:h100"],
        description="Large requests for foundation models in health and manufacturing, peer reviewed in batches.",
        cutoffs=[-45, 21, 84],
    ),
    CallSpec(
        "helsinki-fast-lane",
        "helsinki",
        "fi",
        "Helsinki Energy and Climate Fast Lane",
        Track.FAST_LANE,
        "open",
        limit=40_000,
        budget=400_000,
        resources=["helsinki:h100", "helsinki:h200"],
        description="Smart-grid, climate and energy models on clean Nordic power.",
    ),
    CallSpec(
        "helsinki-climate-2025",
        "helsinki",
        "eu",
        "Helsinki Climate Models 2025",
        Track.PEER_REVIEW,
        "closed",
        limit=300_000,
        budget=1_000_000,
        resources=["helsinki:h100", "helsinki:h200"],
        description="Last year's peer-reviewed call for climate and weather models (closed).",
        cutoffs=[-120, -60],
    ),
    CallSpec(
        "berlin-startups",
        "berlin",
        "eu",
        "Berlin Startup Fast Lane",
        Track.FAST_LANE,
        "open",
        limit=30_000,
        budget=300_000,
        resources=["berlin:h100", "berlin:h200"],
        description="GPU time for startups and SMEs building mobility and public-service AI.",
        org_kinds=[OrganisationKind.STARTUP, OrganisationKind.SME],
    ),
    CallSpec(
        "berlin-public-ai",
        "berlin",
        "eu",
        "Berlin Mobility and Public Services AI",
        Track.PEER_REVIEW,
        "open",
        limit=250_000,
        budget=800_000,
        resources=["berlin:h100", "berlin:h200"],
        description="Peer-reviewed projects with the city: transport, permits, public health.",
        min_reviewers=1,
        cutoffs=[30, 120],
        rubric=BERLIN_RUBRIC,
    ),
    CallSpec(
        "zaragoza-playground",
        "zaragoza",
        "ar",
        "Rural AI Playground",
        Track.PLAYGROUND,
        "open",
        limit=300,
        grant=300,
        budget=10_000,
        resources=["zaragoza:a100"],
        description="A first taste of GPUs for farm co-operatives and rural SMEs.",
    ),
    CallSpec(
        "zaragoza-fast-lane",
        "zaragoza",
        "ar",
        "Farm Data Fast Lane",
        Track.FAST_LANE,
        "open",
        limit=20_000,
        budget=150_000,
        resources=["zaragoza:a100"],
        description="Yield, irrigation and soil models for Aragon's farms.",
    ),
    CallSpec(
        "lulea-fast-lane",
        "lulea",
        "eu",
        "Arctic Green Compute Fast Lane",
        Track.FAST_LANE,
        "open",
        limit=50_000,
        budget=400_000,
        resources=["lulea:h100", "lulea:a100"],
        description="Energy and climate AI on hydro-powered GPUs.",
    ),
    CallSpec(
        "lulea-wind-research",
        "lulea",
        "eu",
        "Arctic Wind and Grid Research (autumn round)",
        Track.PEER_REVIEW,
        "upcoming",
        limit=300_000,
        budget=1_500_000,
        resources=["lulea:h100", "lulea:a100"],
        description="Wind-farm forecasting and grid stability at scale. Opens soon.",
        cutoffs=[140],
    ),
]

# key: (hub, title, PI e-mail, organisation, summary)
PROJECTS = {
    "radiology": (
        "lyon",
        "Radiology foundation model",
        "researcher@gigafactory.test",
        "Université Claude Bernard Lyon 1",
        "An open foundation model for CT and MRI, trained on anonymised images from three hospitals.",
    ),
    "beds": (
        "lyon",
        "Hospital bed-demand forecasting",
        "researcher@gigafactory.test",
        "Université Claude Bernard Lyon 1",
        "Forecasting bed demand across Lyon's hospitals a week ahead.",
    ),
    "grid": (
        "helsinki",
        "Smart-grid load forecasting",
        "grid@gigafactory.test",
        "Helen Oy",
        "Hour-ahead load forecasts for Helsinki's district heating and power grid.",
    ),
    "robots": (
        "berlin",
        "Warehouse robot perception",
        "founder@gigafactory.test",
        "Spreewald Robotics",
        "Perception models for small warehouse robots, trained in simulation and adapted to real depots.",
    ),
    "irrigation": (
        "zaragoza",
        "Ebro irrigation forecasting",
        "farmer@gigafactory.test",
        "Cooperativa Agraria del Ebro",
        "Predicting water needs of the co-operative's fields from soil sensors and weather.",
    ),
    "wind": (
        "lulea",
        "Wind-farm output forecasting",
        "grid@gigafactory.test",
        "Helen Oy",
        "Day-ahead output forecasts for Arctic wind farms, including icing.",
    ),
}

APPROVE = Recommendation.APPROVE
REJECT = Recommendation.REJECT
REVISE = Recommendation.REVISE
REVIEWER = "reviewer@gigafactory.test"
REVIEWER2 = "reviewer2@gigafactory.test"


@dataclass
class AppSpec:
    project: str
    call: str
    title: str
    rows: list[tuple[str, int]]  # (resource key, GPU-hours)
    state: str
    abstract: str
    justification: str = "Estimated from a pilot run: GPU-hours = epochs x hours per epoch x GPUs, plus 15% for tuning."
    civilian_use: bool = True
    sensitivity: str = "none"
    ai_system: str = ""
    # (reviewer e-mail, recommendation or None for "assigned, not yet submitted", scores 1-5)
    reviews: list[tuple[str, str | None, int]] = field(default_factory=list)
    reason: str = ""  # staff's reason (reject, changes requested) or note (approval)
    grant: int | None = None  # credits; staff grant less than requested
    waiting_days: float = 0  # submitted this long ago
    history_days: int = 0  # approved this long ago, with daily usage since
    used: float = 0.0  # share of the grant used by now


APPLICATIONS = [
    AppSpec(
        "radiology",
        "lyon-fast-lane",
        "Radiology FM: pre-training on three hospitals' scans",
        [("lyon:a100", 30_000), ("lyon:h100", 12_000)],
        A.APPROVED,
        "Self-supervised pre-training of a 600M-parameter vision transformer on 2.1 million anonymised CT and "
        "MRI series.",
        sensitivity="health",
        ai_system="RadFM (research prototype)",
        history_days=118,
        used=0.72,
    ),
    AppSpec(
        "radiology",
        "lyon-research-2026",
        "Radiology FM: multimodal scale-up with reports",
        [("lyon:h100", 150_000)],
        A.IN_REVIEW,
        "Scaling RadFM to 3B parameters with paired radiology reports, to draft structured findings for "
        "radiologists to check.",
        sensitivity="health",
        ai_system="RadFM (research prototype)",
        reviews=[(REVIEWER, APPROVE, 4), (REVIEWER2, None, 0)],
        waiting_days=9,
    ),
    AppSpec(
        "beds",
        "lyon-research-2026",
        "Bed-demand forecasting with federated learning",
        [("lyon:h100", 60_000), ("lyon:a100", 40_000)],
        A.IN_REVIEW,
        "Federated training across six hospitals so that no patient record leaves its hospital.",
        sensitivity="health",
        reviews=[(REVIEWER, APPROVE, 5), (REVIEWER2, REVISE, 3)],
        waiting_days=16,
    ),
    AppSpec(
        "beds",
        "lyon-research-2026",
        "Bed-demand: synthetic patient flows",
        [("lyon:h100", 90_000)],
        A.APPROVED,
        "Generating synthetic patient flows to stress-test the forecasts on rare events (heat waves, epidemics).",
        sensitivity="health",
        reviews=[(REVIEWER, APPROVE, 4), (REVIEWER2, APPROVE, 4)],
        reason="Granted 60,000 of the 90,000 credits requested: start with the heat-wave scenarios; ask again "
        "for the rest with first results.",
        grant=60_000,
        history_days=26,
        used=0.3,
    ),
    AppSpec(
        "beds",
        "lyon-research-2026",
        "Bed-demand: LLM triage assistant",
        [("lyon:h100", 120_000)],
        A.REJECTED,
        "Fine-tuning a large language model to suggest triage levels from emergency-room notes.",
        sensitivity="health",
        reviews=[(REVIEWER, REJECT, 2), (REVIEWER2, REJECT, 2)],
        reason="Both reviewers found the clinical validation plan too thin for a high-risk system. You are welcome "
        "to apply again with an ethics sign-off and a validation protocol.",
    ),
    AppSpec(
        "radiology",
        "lyon-fast-lane",
        "Radiology FM: evaluation sweep",
        [("lyon:a100", 8_000)],
        A.CHANGES_REQUESTED,
        "Evaluating the pre-trained model on 14 public benchmarks.",
        civilian_use=False,
        reason="Please confirm the civilian-use declaration (it is missing) and say which benchmarks contain "
        "personal data.",
    ),
    AppSpec(
        "radiology",
        "lyon-playground",
        "Segmentation benchmark on A100",
        [("lyon:a100", 400)],
        A.DRAFT,
        "Trying nnU-Net on a public segmentation benchmark before a larger request.",
    ),
    AppSpec(
        "beds",
        "lyon-playground",
        "Quick test of MONAI pipelines",
        [("lyon:a100", 500)],
        A.APPROVED,
        "Checking our MONAI data pipelines scale to 8 GPUs.",
        history_days=40,
        used=0.55,
    ),
    AppSpec(
        "radiology",
        "lyon-fast-lane",
        "Radiology FM: distillation to a small model",
        [("lyon:h100", 10_000)],
        A.WITHDRAWN,
        "Distilling RadFM into a model that runs on a hospital workstation.",
    ),
    AppSpec(
        "beds",
        "lyon-fast-lane",
        "Bed-demand: uncertainty calibration",
        [("lyon:a100", 6_000)],
        A.SUBMITTED,
        "Calibrating the forecasts' uncertainty with conformal prediction.",
        waiting_days=0.05,
    ),
    AppSpec(
        "radiology",
        "lyon-research-2026",
        "Radiology FM: structured report generation",
        [("lyon:h100", 100_000)],
        A.SCREENING,
        "Generating structured report drafts from images, for radiologists to correct.",
        sensitivity="health",
        waiting_days=0.1,
    ),
    AppSpec(
        "grid",
        "helsinki-fast-lane",
        "Grid load: transformer forecaster",
        [("helsinki:h100", 14_000), ("helsinki:h200", 9_000)],
        A.APPROVED,
        "A temporal-fusion transformer for hour-ahead load, trained on five years of smart-meter aggregates.",
        sensitivity="personal",
        history_days=104,
        used=0.86,
    ),
    AppSpec(
        "grid",
        "helsinki-fast-lane",
        "Grid load: probabilistic ensembles",
        [("helsinki:h200", 40_000)],
        A.IN_REVIEW,
        "Deep ensembles for probabilistic load forecasts during cold snaps.",
        waiting_days=3,
    ),
    AppSpec(
        "robots",
        "berlin-startups",
        "Robot perception: sim-to-real transfer",
        [("berlin:h100", 16_000), ("berlin:h200", 4_000)],
        A.APPROVED,
        "Domain randomisation in simulation, then adaptation on 40 hours of real depot video.",
        history_days=88,
        used=0.58,
    ),
    AppSpec(
        "robots",
        "berlin-public-ai",
        "Robot perception: shared sidewalk delivery robots",
        [("berlin:h100", 120_000)],
        A.IN_REVIEW,
        "Perception for delivery robots that share sidewalks with pedestrians, tested with the city.",
        reviews=[(REVIEWER, None, 0)],
        waiting_days=1,
    ),
    AppSpec(
        "irrigation",
        "zaragoza-playground",
        "Irrigation: soil-moisture nowcasting",
        [("zaragoza:a100", 500)],
        A.APPROVED,
        "A small model that nowcasts soil moisture from 200 field sensors.",
        history_days=60,
        used=0.6,
    ),
    AppSpec(
        "irrigation",
        "zaragoza-playground",
        "Irrigation: full-season yield model",
        [("zaragoza:a100", 2_000)],
        A.REJECTED,
        "Yield prediction for a whole season from satellite images.",
    ),
    AppSpec(
        "wind",
        "lulea-fast-lane",
        "Wind output: icing-aware forecasts",
        [("lulea:h100", 20_000), ("lulea:a100", 15_000)],
        A.APPROVED,
        "Day-ahead wind-farm output with an icing model trained on ten winters of turbine data.",
        history_days=75,
        used=0.47,
    ),
]


def seed(log) -> None:
    # Eager mode runs the queued tasks when the transaction commits; their trace lines
    # ("... succeeded in 0.002s: 'skipped'") would bury the seed's own output.
    trace = logging.getLogger("celery.app.trace")
    level = trace.level
    trace.setLevel(logging.WARNING)
    try:
        # The seed screens each application itself; a kick would also screen the ones it
        # leaves "submitted" on purpose.
        with screening.kicks_paused(), transaction.atomic():
            _seed(log)
    finally:
        trace.setLevel(level)


def _seed(log) -> None:
    now = timezone.now()
    hubs = {h.slug: h for h in Hub.objects.filter(slug__in=list(PROVIDERS))}
    if len(hubs) < len(PROVIDERS):
        log("compute: the demo hubs are missing (seed hubs first); nothing done")
        return
    emails = (
        {p[2] for p in PROJECTS.values()}
        | {REVIEWER, REVIEWER2}
        | {
            "admin@gigafactory.test",
            "lyon.staff@gigafactory.test",
            "helsinki.staff@gigafactory.test",
        }
    )
    people = {u.email: u for u in User.objects.filter(email__in=emails)}
    admin = people["admin@gigafactory.test"]
    staff = {
        "lyon": people["lyon.staff@gigafactory.test"],
        "helsinki": people["helsinki.staff@gigafactory.test"],
    }

    funding = _funding(hubs)
    log(f"funding sources: {len(funding)}")
    resources = _resources(hubs)
    log(f"providers: {len(PROVIDERS)}; resources: {len(resources)} (A100 0.6, H100 1.0, H200 1.3 credits/GPU-hour)")
    calls = _calls(hubs, funding, resources, staff, admin, now)
    tracks = sorted({c.get_track_display().lower() for c in calls.values()})
    log(f"calls: {len(calls)} ({', '.join(tracks)}), funded through the ledger")
    projects = _projects(hubs, people)
    log(f"projects: {len(projects)}")

    created = 0
    states = {}
    approved = []
    for spec in APPLICATIONS:
        app, new = _application(spec, projects, calls, resources, people, staff, admin, now)
        created += new
        states[app.status] = states.get(app.status, 0) + 1
        if spec.history_days and app.status == A.APPROVED:
            approved.append((spec, app))
    summary = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in sorted(states.items()))
    log(f"applications: {len(APPLICATIONS)} ({created} new): {summary}")

    records = 0
    for spec, app in approved:
        records += _usage_history(spec, app, now)
    log(f"usage records: {records} new, {UsageRecord.objects.count()} in all")

    # The demo addresses are not real: do not e-mail the inbox items this seed created.
    Notification.objects.filter(emailed_at__isnull=True, user__email__endswith=DEMO_DOMAIN).update(emailed_at=now)


# --- Catalogue ------------------------------------------------------------------------------


def _funding(hubs):
    out = {}
    for key, (name, kind, hub, reference) in FUNDING.items():
        out[key], _ = FundingSource.objects.get_or_create(
            name=name, defaults={"kind": kind, "hub": hubs.get(hub) if hub else None, "reference": reference}
        )
    return out


def _resources(hubs):
    out = {}
    for slug, (name, website, rows) in PROVIDERS.items():
        provider, _ = ComputeProvider.objects.get_or_create(hub=hubs[slug], name=name, defaults={"website": website})
        for key, resource_name, (gpu, rate), capacity, partition in rows:
            out[f"{slug}:{key}"], _ = ComputeResource.objects.get_or_create(
                provider=provider,
                name=resource_name,
                defaults={
                    "hub": hubs[slug],
                    "gpu_model": gpu,
                    "rate_millicredits": rate,
                    "monthly_capacity_gpu_hours": capacity,
                    "slurm_partition": partition,
                },
            )
    return out


def _window(phase, now):
    if phase == "closed":
        return now - timedelta(days=200), now - timedelta(days=20)
    if phase == "upcoming":
        return now + timedelta(days=20), now + timedelta(days=110)
    return now - timedelta(days=200), now + timedelta(days=75)


def _calls(hubs, funding, resources, staff, admin, now):
    today = timezone.localdate(now)
    out = {}
    for spec in CALLS:
        opens_at, closes_at = _window(spec.phase, now)
        defaults = {
            "hub": hubs[spec.hub],
            "funding_source": funding[spec.funding],
            "title": spec.title,
            "description": spec.description,
            "track": spec.track,
            "opens_at": opens_at,
            "closes_at": closes_at,
            "review_cutoffs": [(today + timedelta(days=d)).isoformat() for d in spec.cutoffs],
            "max_request_millicredits": spec.limit * MILLI,
            "playground_grant_millicredits": spec.grant * MILLI,
            "allowed_org_kinds": list(spec.org_kinds),
            "min_reviewers": spec.min_reviewers,
        }
        if spec.rubric is not None:
            defaults["rubric"] = spec.rubric
        call, created = Call.objects.get_or_create(slug=spec.slug, defaults=defaults)
        if created:
            call.eligible_resources.set([resources[key] for key in spec.resources])
        # The fixed key makes this a no-op when the call was funded by an earlier run.
        services.call_fund(
            call=call,
            amount_millicredits=spec.budget * MILLI,
            acting_user=staff.get(spec.hub, admin),
            idempotency_key="demo-seed",
        )
        out[spec.slug] = call
    return out


def _projects(hubs, people):
    out = {}
    organisations = {o.name: o for o in Organisation.objects.filter(name__in={p[3] for p in PROJECTS.values()})}
    for key, (hub, title, pi, organisation, summary) in PROJECTS.items():
        project = Project.objects.filter(hub=hubs[hub], title=title).first()
        if project is None:
            project = services.project_create(
                hub=hubs[hub],
                title=title,
                summary=summary,
                organisation=organisations.get(organisation),
                acting_user=people[pi],
            )
        out[key] = project
    return out


# --- Applications ---------------------------------------------------------------------------


def _force_submitted(app, applicant, when):
    """The state right after ``application_submit``, without enqueueing the screening task."""
    Application.objects.filter(pk=app.pk, status=A.DRAFT).update(
        status=A.SUBMITTED, submitted_at=when, screening_round=1, updated_at=when
    )
    audit_record(app, "application.submit", actor=applicant, before={"status": A.DRAFT}, after={"status": A.SUBMITTED})
    app.refresh_from_db()


def _application(spec, projects, calls, resources, people, staff, admin, now):
    project = projects[spec.project]
    existing = Application.objects.filter(project=project, title=spec.title).first()
    if existing is not None:
        return existing, False
    call = calls[spec.call]
    applicant = project.pi
    decider = staff.get(call.hub.slug, admin)
    app = services.application_create(
        project=project,
        call=call,
        acting_user=applicant,
        title=spec.title,
        abstract=spec.abstract,
        justification=spec.justification,
        duration_days=min(call.allocation_days, 180),
        data_sensitivity=spec.sensitivity,
        civilian_use=spec.civilian_use,
        ai_system_name=spec.ai_system,
    )
    services.application_update_draft(
        application=app, acting_user=applicant, resource_rows=[(resources[key], hours) for key, hours in spec.rows]
    )
    submitted_at = now - timedelta(days=spec.waiting_days)
    if spec.state == A.DRAFT:
        return app, True
    if spec.state in (A.SUBMITTED, A.SCREENING):
        _force_submitted(app, applicant, submitted_at)
        if spec.state == A.SCREENING:
            # The screening task's first step: claim the round and record every check's result.
            screening._claim(app.pk, app.screening_round, batch_size=1)
            app.refresh_from_db()
        return app, True

    services.application_submit(application=app, acting_user=applicant)
    if spec.state == A.WITHDRAWN:
        services.application_withdraw(application=app, acting_user=applicant)
        return app, True
    # What the worker does; the task queued by the submission finds it done and skips. Alone, so
    # that the demo's applications left "submitted" on purpose stay so.
    screening.screen_and_decide(application_id=app.pk, screening_round=app.screening_round, batch_size=1)
    app.refresh_from_db()

    rubric = call.rubric or []
    for email, recommendation, score in spec.reviews:
        review = services.review_assign(application=app, reviewer=people[email], acting_user=decider)
        if recommendation is not None:
            services.review_submit(
                review=review,
                acting_user=people[email],
                scores={c["key"]: max(1, min(5, score - (i % 2))) for i, c in enumerate(rubric)},
                comment_for_applicant=_comment(recommendation),
                private_comment=_private(recommendation),
                recommendation=recommendation,
                no_conflict_declared=True,
            )
    if app.status == A.IN_REVIEW:
        if spec.state == A.CHANGES_REQUESTED:
            services.application_request_changes(application=app, acting_user=decider, reason=spec.reason)
        elif spec.state == A.APPROVED:
            services.application_approve(
                application=app,
                acting_user=decider,
                amount_millicredits=spec.grant * MILLI if spec.grant else None,
                reason=spec.reason,
            )
        elif spec.state == A.REJECTED:
            services.application_reject(application=app, acting_user=decider, reason=spec.reason)
    app.refresh_from_db()
    if app.status != spec.state:
        raise RuntimeError(f"Demo application '{spec.title}' ended {app.status}, expected {spec.state}.")
    _backdate(spec, app, submitted_at, now)
    return app, True


def _comment(recommendation):
    return {
        APPROVE: "A clear plan with realistic GPU estimates. Please publish the evaluation protocol.",
        REVISE: "Promising, but the request should be split into a pilot and a main phase.",
        REJECT: "The validation plan does not match the risk of the intended use.",
    }[recommendation]


def _private(recommendation):
    return {
        APPROVE: "Strong team; I know their earlier work and have no conflict.",
        REVISE: "The budget looks inflated by about a third.",
        REJECT: "I would not fund this without an ethics sign-off.",
    }[recommendation]


def _backdate(spec, app, submitted_at, now):
    """Move the application (and its allocation) back in time, for waiting ages and usage history."""
    if spec.history_days:
        start = timezone.localdate(now) - timedelta(days=spec.history_days)
        decided = timezone.make_aware(datetime.combine(start, time(9, 30)))
        Application.objects.filter(pk=app.pk).update(
            submitted_at=decided - timedelta(hours=20), decided_at=decided, updated_at=decided
        )
        allocation = app.allocation
        allocation.starts_on = start
        allocation.ends_on = start + timedelta(days=app.call.allocation_days)
        allocation.save(update_fields=["starts_on", "ends_on"])
    elif spec.waiting_days:
        Application.objects.filter(pk=app.pk).update(submitted_at=submitted_at)


# --- Usage ------------------------------------------------------------------------------------


def _usage_history(spec, app, now) -> int:
    """Daily GPU jobs from the allocation's start until yesterday, using about ``spec.used`` of
    the grant, reported through ``usage_ingest`` as the provider would."""
    allocation = app.allocation
    if UsageRecord.objects.filter(allocation=allocation).exists():
        return 0
    rng = random.Random(f"demo-usage:{app.title}")  # noqa: S311 - demo data, not security
    resources = list(app.call.eligible_resources.filter(pk__in=app.resource_requests.values("resource_id")))
    user_label = app.applicant.email.split("@")[0]
    start = allocation.starts_on
    days = (timezone.localdate(now) - start).days
    jobs = []  # (day, resource, GPUs, relative GPU-hours)
    for offset in range(days):
        day = start + timedelta(days=offset)
        ramp = min(1.0, 0.3 + offset / 30)  # teams start slowly
        weekday = 0.35 if day.weekday() >= 5 else 1.0
        for resource in resources:
            if rng.random() < 0.8 * weekday:
                gpus = rng.choice([1, 2, 4, 8])
                jobs.append((day, resource, gpus, gpus * rng.uniform(2, 14) * ramp))
    if not jobs:
        return 0
    cost = sum(hours * resource.rate_millicredits for _, resource, _, hours in jobs)
    scale = allocation.granted_millicredits * spec.used / cost
    by_provider = {}
    for n, (day, resource, gpus, hours) in enumerate(jobs, start=1):
        gpu_seconds = max(60, round(hours * scale * 3600))
        begin = timezone.make_aware(datetime.combine(day, time(rng.randint(6, 20), rng.randint(0, 59))))
        end = begin + timedelta(seconds=max(60, gpu_seconds // gpus))
        end = min(end, now - timedelta(minutes=5))
        begin = min(begin, end)
        by_provider.setdefault(resource.provider_id, (resource.provider, []))[1].append(
            {
                "resource": resource.pk,
                "allocation": allocation.pk,
                "external_id": f"demo-{allocation.slurm_account}-{n:05d}",
                "user": user_label,
                "gpu_seconds": gpu_seconds,
                "start": begin,
                "end": end,
            }
        )
    created = 0
    for provider, records in by_provider.values():
        for i in range(0, len(records), MAX_RECORDS):
            created += usage_ingest(
                provider=provider, records=records[i : i + MAX_RECORDS], acting_label="demo seed"
            ).created
    return created


def logins() -> list[tuple[str, str]]:
    return [
        ("lyon.staff@gigafactory.test", "review queue at /staff/queue/ (applications waiting in Lyon)"),
        ("reviewer2@gigafactory.test", "reviewer in Lyon and Warsaw, one review to do at /reviews/"),
        ("grid@gigafactory.test", "energy researcher: allocations with months of usage (Helsinki, Luleå)"),
        ("farmer@gigafactory.test", "farm co-operative: a playground allocation in Zaragoza"),
    ]
