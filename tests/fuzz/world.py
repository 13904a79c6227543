"""The small network the fuzzer's requests land in.

Two hubs, A (Lyon) and B (Helsinki), built through the services wherever a service exists, so
that every object is in a state the portal itself can produce. Hub A has the full set: a
provider run by a partner system, resources, a funded call of each track, projects with
applications in several states, allocations with usage, pilots and a case study, clinic
slots and bookings, events with registrations and pitch slots, news and subscriptions,
webhook endpoints with deliveries, AI systems with assessments, checklist evidence, fairness
checks and a trust anchor with drift batches. Hub B has one of the main objects of each
kind, so that ids of another hub's objects are drawn too.

The callers (see ``CALLERS``):

- ``partner``: a write key of hub A's HPC centre, the partner system that runs the compute
  provider of hub A's resources (usage, allocations, webhooks, drift batches);
- ``member``: a write personal key of Rhea, a hub-A reviewer: PI of a project (a colleague
  on its team) with applications in every state, reviewer of two colleagues' applications,
  owner of AI systems, pilot lead, clinic booker, pitcher at a demo day, news subscriber;
- ``staff``: a write personal key of Sam, hub-A staff with two-factor authentication: decides
  applications and memberships, publishes case studies, manages slots, events, webhooks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from allauth.account.models import EmailAddress
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from compute import services as compute_services
from compute.models import MILLI, AppStatus, ComputeProvider, ComputeResource, Track, UsageRecord
from compute.screening import screen_and_decide
from compute.usage import usage_ingest
from hubs import services as hub_services
from hubs.models import Hub, Organisation, OrganisationKind, PartnerSystem, Role, Sector
from tests.compute.factories import CallFactory, FundingSourceFactory
from tests.conftest import enable_mfa
from tests.factories import HubFactory, MembershipFactory, UserFactory, make_api_key

CALLER_DESCRIPTIONS = {
    "partner": "Lyon HPC centre, the partner system running hub A's compute provider",
    "member": "Rhea, a hub-A reviewer with projects, reviews, an AI system, bookings",
    "staff": "Sam, hub-A staff with two-factor authentication",
}
CALLERS = tuple(CALLER_DESCRIPTIONS)


def _in(days=0, hours=0) -> dt.datetime:
    return (timezone.now() + dt.timedelta(days=days, hours=hours)).replace(minute=0, second=0, microsecond=0)


@dataclass
class World:
    bearer: dict[str, str] = field(default_factory=dict, repr=False)
    hub_a: Hub | None = None
    hub_b: Hub | None = None

    def headers(self, caller: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.bearer[caller]}"}

    @staticmethod
    def describe(caller: str) -> str:
        return CALLER_DESCRIPTIONS[caller]


def person(name, email, *, hub=None, role=Role.MEMBER, staff=False):
    user = UserFactory(name=name, email=email)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    if hub is not None:
        MembershipFactory(user=user, hub=hub, role=role)
    if staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
        enable_mfa(user)
    return user


def build_world() -> World:
    world = World()
    a = world.hub_a = HubFactory(name="Lyon AI Gigafactory", slug="lyon", city="Lyon", country="FR")
    b = world.hub_b = HubFactory(name="Helsinki AI Gigafactory", slug="helsinki", city="Helsinki", country="FI")
    HubFactory(name="Zagreb AI Gigafactory", slug="zagreb", city="Zagreb", country="HR", public=False)

    staff = person("Sam Staff", "sam@lyon.example.org", hub=a, role=Role.STAFF, staff=True)
    rhea = person("Rhea Reviewer", "rhea@univ-lyon.example.org", hub=a, role=Role.REVIEWER)
    colleague = person("Colin Colleague", "colin@univ-lyon.example.org", hub=a)
    board = person("Bea Board", "bea@lyon.example.org", hub=a, role=Role.REVIEWER)
    expert = person("Erik Expert", "erik@lyon.example.org", hub=a)
    grower = person("Greta Grower", "greta@agri.example.org", hub=a)
    staff_b = person("Olli Other", "olli@helsinki.example.org", hub=b, role=Role.STAFF, staff=True)
    member_b = person("Hanna Helsinki", "hanna@helsinki.example.org", hub=b)
    # Someone waiting to join hub A, someone suspended, and Rhea's own request to join hub B.
    applicant = person("Nina Newcomer", "nina@example.org")
    hub_services.membership_request(user=applicant, hub=a, motivation="Medical imaging")
    suspended = person("Sid Suspended", "sid@example.org", hub=a)
    membership = suspended.memberships.get()
    hub_services.membership_suspend(membership=membership, acting_user=staff, note="Shared a key")
    hub_services.membership_request(user=rhea, hub=b, motivation="Smart grids")

    org = Organisation.objects.create(name="Université Lyon 1", kind=OrganisationKind.UNIVERSITY, country="FR")
    Organisation.objects.create(name="Grid Startup Oy", kind=OrganisationKind.STARTUP, country="FI")

    # --- Keys --------------------------------------------------------------------------------
    partner = hub_services.partner_system_create(
        hub=a, name="Lyon HPC centre", kind=PartnerSystem.Kind.HPC_CENTRE, acting_user=staff
    )
    partner_b = hub_services.partner_system_create(
        hub=b, name="Helsinki HPC centre", kind=PartnerSystem.Kind.HPC_CENTRE, acting_user=staff_b
    )
    world.bearer["partner"] = make_api_key(hub=a, partner=partner, scope="write", name="fuzz partner")[1]
    world.bearer["member"] = make_api_key(hub=a, user=rhea, scope="write", name="fuzz member")[1]
    world.bearer["staff"] = make_api_key(hub=a, user=staff, scope="write", name="fuzz staff")[1]

    _compute(
        a,
        b,
        staff=staff,
        rhea=rhea,
        colleague=colleague,
        grower=grower,
        staff_b=staff_b,
        member_b=member_b,
        org=org,
        partner=partner,
        partner_b=partner_b,
    )
    systems = _compliance(a, b, staff=staff, rhea=rhea, board=board, staff_b=staff_b, org=org)
    _pilots(a, b, staff=staff, rhea=rhea, staff_b=staff_b, systems=systems)
    _clinics(a, b, staff=staff, rhea=rhea, expert=expert, staff_b=staff_b, member_b=member_b)
    _events(a, b, staff=staff, rhea=rhea, colleague=colleague, staff_b=staff_b)
    _network(a, b, staff=staff, rhea=rhea, staff_b=staff_b)
    _webhooks(a, b, staff=staff, partner=partner, staff_b=staff_b)
    return world


# --- Compute ---------------------------------------------------------------------------------


def _compute(a, b, *, staff, rhea, colleague, grower, staff_b, member_b, org, partner, partner_b):
    provider = ComputeProvider.objects.create(name="Lyon HPC", hub=a, partner=partner)
    provider_b = ComputeProvider.objects.create(name="Helsinki HPC", hub=b, partner=partner_b)
    h100 = ComputeResource.objects.create(
        provider=provider,
        hub=a,
        name="Lyon H100",
        gpu_model="NVIDIA H100 80GB",
        rate_millicredits=MILLI,
        slurm_partition="gpu_h100",
    )
    a100 = ComputeResource.objects.create(
        provider=provider,
        hub=a,
        name="Lyon A100",
        gpu_model="NVIDIA A100 40GB",
        rate_millicredits=600,
    )
    h100_b = ComputeResource.objects.create(
        provider=provider_b, hub=b, name="Helsinki H100", gpu_model="NVIDIA H100 80GB", rate_millicredits=MILLI
    )
    source = FundingSourceFactory(name="EuroHPC AI Factories", hub=a)
    calls = {
        track: CallFactory(
            hub=a,
            funding_source=source,
            track=track,
            slug=f"lyon-{track.replace('_', '-')}",
            title=f"Lyon {track}",
            resources=[h100, a100],
            funded=10_000_000 * MILLI,
            playground_grant_millicredits=500 * MILLI if track == Track.PLAYGROUND else 0,
            min_reviewers=1,
        )
        for track in Track.values
    }
    CallFactory(
        hub=a,
        funding_source=source,
        slug="lyon-closed",
        title="Lyon closed call",
        resources=[h100],
        opens_at=_in(-60),
        closes_at=_in(-30),
    )
    call_b = CallFactory(
        hub=b, slug="helsinki-fast-lane", title="Helsinki fast lane", resources=[h100_b], funded=1_000_000 * MILLI
    )

    def draft(project, call, by, title, hours=100, resource=h100):
        application = compute_services.application_create(
            project=project,
            call=call,
            acting_user=by,
            title=title,
            abstract="An open model.",
            justification="Ten epochs.",
            duration_days=90,
            civilian_use=True,
        )
        return compute_services.application_update_draft(
            application=application, acting_user=by, resource_rows=[(resource, hours)]
        )

    def screened(project, call, by, title):
        """Submitted and screened by the worker's own code: peer review ends in review, a passing
        fast-lane application approved."""
        application = compute_services.application_submit(application=draft(project, call, by, title), acting_user=by)
        screen_and_decide(application_id=application.pk, screening_round=application.screening_round)
        application.refresh_from_db()
        return application

    project = compute_services.project_create(
        hub=a, title="Radiology foundation model", organisation=org, acting_user=rhea
    )
    compute_services.project_add_member(project=project, user=colleague, acting_user=rhea)
    colleague_project = compute_services.project_create(hub=a, title="Grid forecasting", acting_user=colleague)
    other_project = compute_services.project_create(hub=a, title="Crop yields", acting_user=grower)

    draft(project, calls[Track.FAST_LANE], rhea, "Radiology draft")
    compute_services.application_submit(
        application=draft(project, calls[Track.PEER_REVIEW], rhea, "Radiology submitted"), acting_user=rhea
    )
    approved = screened(project, calls[Track.FAST_LANE], rhea, "Radiology at scale")
    rejected = screened(project, calls[Track.PEER_REVIEW], rhea, "Radiology, rejected")
    compute_services.application_reject(application=rejected, acting_user=staff, reason="Out of scope")
    screened(project, calls[Track.PLAYGROUND], rhea, "Radiology playground")
    changes = screened(project, calls[Track.PEER_REVIEW], rhea, "Radiology, second try")
    compute_services.application_request_changes(application=changes, acting_user=staff, reason="Fewer hours")
    withdrawn = draft(project, calls[Track.FAST_LANE], rhea, "Radiology withdrawn")
    compute_services.application_withdraw(application=withdrawn, acting_user=rhea)
    # Rhea reviews her colleague's and staff's peer-review applications.
    for owner, proj in ((colleague, colleague_project), (grower, other_project)):
        review_me = screened(proj, calls[Track.PEER_REVIEW], owner, f"{proj.title} at scale")
        compute_services.review_assign(application=review_me, reviewer=rhea, acting_user=staff)
    done = screened(colleague_project, calls[Track.PEER_REVIEW], colleague, "Grid forecasting, winter")
    review = compute_services.review_assign(application=done, reviewer=rhea, acting_user=staff)
    compute_services.review_submit(
        review=review,
        acting_user=rhea,
        scores={c["key"]: 4 for c in done.call.rubric},
        comment_for_applicant="Solid",
        private_comment="",
        recommendation="approve",
        no_conflict_declared=True,
    )
    compute_services.application_approve(application=done, acting_user=staff, reason="Reviewed")

    project_b = compute_services.project_create(hub=b, title="Helsinki grid", acting_user=member_b)
    approved_b = compute_services.application_submit(
        application=draft(project_b, call_b, member_b, "Helsinki grid GPUs", resource=h100_b), acting_user=member_b
    )
    screen_and_decide(application_id=approved_b.pk, screening_round=approved_b.screening_round)
    approved_b.refresh_from_db()

    assert approved.status == approved_b.status == AppStatus.APPROVED, (
        approved.decision_reason,
        approved_b.decision_reason,
    )
    allocation = approved.allocation
    allocation_b = approved_b.allocation
    start = timezone.now() - dt.timedelta(days=2)
    records = [
        {
            "resource": h100.pk,
            "allocation": allocation.pk,
            "external_id": f"job-{n}",
            "user": "rhea",
            "gpu_hours": 4 + n,
            "start": (start + dt.timedelta(hours=n)).isoformat(),
            "end": (start + dt.timedelta(hours=n + 1)).isoformat(),
        }
        for n in range(3)
    ]
    usage_ingest(provider=provider, records=records, acting_label="fuzz world")
    usage_ingest(
        provider=provider_b,
        records=[
            {
                "resource": h100_b.pk,
                "allocation": allocation_b.pk,
                "external_id": "job-b",
                "user": "hanna",
                "gpu_hours": 2,
                "start": start.isoformat(),
                "end": (start + dt.timedelta(hours=1)).isoformat(),
            }
        ],
        acting_label="fuzz world",
    )
    assert UsageRecord.objects.count() == 4
    assert AppStatus.APPROVED in set(project.applications.values_list("status", flat=True))


# --- Compliance ------------------------------------------------------------------------------


def _compliance(a, b, *, staff, rhea, board, staff_b, org):
    from compliance import services
    from compliance.assurance import services as assurance
    from compliance.models import BoardMember
    from tests.assurance.conftest import MAPPING, predictions_csv, reference_csv
    from tests.compliance.factories import HIGH_RISK, classify

    BoardMember.objects.create(hub=a, user=board, title="Chair")
    fields = {
        "intended_purpose": "Prioritises screening mammograms for radiologists.",
        "role": "provider",
        "sector": Sector.HEALTH,
        "input_modality": "image",
        "output_modality": "decision",
        "organisation": org,
    }
    mammo = services.system_create(hub=a, acting_user=rhea, name="Mammography triage", **fields)
    classify(mammo, rhea, **HIGH_RISK)
    item = mammo.checklist_items.order_by("pk").first()
    services.evidence_link_add(item=item, label="Data sheet", url="https://example.org/datasheet", acting_user=rhea)
    services.evidence_file_add(
        item=item, acting_user=rhea, uploaded=SimpleUploadedFile("dpia.pdf", b"%PDF-1.4 fuzz", "application/pdf")
    )
    services.board_review_request(system=mammo, acting_user=rhea, note="Ready for the board")
    chatbot = services.system_create(hub=a, acting_user=rhea, name="Intake chatbot", **fields)
    services.assessment_start(system=chatbot, acting_user=rhea)  # a draft assessment
    system_b = services.system_create(hub=b, acting_user=staff_b, name="Smart grid optimiser", **fields)
    classify(system_b, staff_b)

    check = assurance.fairness_check_upload(
        system=mammo, acting_user=rhea, data=predictions_csv(), name="March", file_name="march.csv", **MAPPING
    )
    assurance.fairness_check_compute(check_id=check.pk)
    reference = assurance.reference_upload(system=mammo, acting_user=rhea, data=reference_csv(), name="Validation")
    assurance.reference_submit(reference=reference, acting_user=rhea)
    anchor = assurance.reference_sign_off(reference=reference, acting_user=board, note="Representative")
    assurance.reference_upload(system=mammo, acting_user=rhea, data=reference_csv(seed=2), name="Draft reference")
    batch, _ = assurance.drift_batch_upload(
        anchor=anchor, acting_user=rhea, data=reference_csv(seed=3, shift=8), file_name="week.csv", label="Week 1"
    )
    assurance.drift_batch_compute(batch_id=batch.pk)
    return {"a": [mammo, chatbot], "b": [system_b]}


# --- Pilots, clinics, events -----------------------------------------------------------------


def _pilots(a, b, *, staff, rhea, staff_b, systems):
    from pilots import services

    common = {"summary": "Radiologists and the hospital label scans together.", "sector": Sector.HEALTH}
    proposed = services.pilot_create(
        hub=a,
        acting_user=staff,
        title="Lyon scans",
        lead=rhea,
        team=[rhea],
        ai_systems=systems["a"][:1],
        partners=[{"name": "Hospices Civils de Lyon", "role": "hospital", "website": "", "contribution": "Data"}],
        milestones=[{"title": "Labelled set", "due_on": timezone.localdate() + dt.timedelta(days=30)}],
        metrics=[{"name": "Reading time", "unit": "min", "baseline": Decimal(12), "target": Decimal(8)}],
        **common,
    )
    active = services.pilot_create(hub=a, acting_user=staff, title="Lyon triage", lead=rhea, **common)
    services.pilot_start(pilot=active, acting_user=staff)
    done = services.pilot_create(hub=a, acting_user=staff, title="Lyon school meals", **common)
    services.pilot_start(pilot=done, acting_user=staff)
    services.pilot_complete(pilot=done, acting_user=staff)
    case_study = services.case_study_publish(
        pilot=done, headline="Lyon schools waste less", story="Twelve schools ...", acting_user=staff
    )
    pilot_b = services.pilot_create(hub=b, acting_user=staff_b, title="Helsinki grid", **common)
    services.pilot_start(pilot=pilot_b, acting_user=staff_b)
    case_study_b = services.case_study_publish(
        pilot=pilot_b, headline="Helsinki balances the grid", story="Winter peaks ...", acting_user=staff_b
    )
    services.pilot_adapt(original=case_study_b.pilot, hub=a, acting_user=staff, note="For Lyon's grid")
    assert proposed.pk
    assert case_study.pk


def _clinics(a, b, *, staff, rhea, expert, staff_b, member_b):
    from pilots.clinics import services
    from tests.clinics.factories import INTAKE

    services.expert_mark(hub=a, user=expert, expertise="Computer vision", acting_user=staff)
    slots = [
        services.slot_create(
            hub=a,
            expert=expert,
            topic=f"Computer vision clinic {n}",
            starts_at=_in(days=3 + n),
            duration_minutes=45,
            place="Room 2.14",
            acting_user=expert,
        )
        for n in range(4)
    ]
    online = services.slot_create(
        hub=a,
        expert=expert,
        topic="Data governance",
        starts_at=_in(days=9),
        duration_minutes=30,
        mode="online",
        link="https://meet.example.org/clinic",
        acting_user=staff,
    )
    services.booking_create(slot=slots[0], acting_user=rhea, **INTAKE)
    cancelled = services.booking_create(slot=slots[1], acting_user=rhea, **INTAKE)
    services.booking_cancel(booking=cancelled, acting_user=rhea, reason="Clash")
    services.booking_create(slot=online, acting_user=rhea, **INTAKE)
    services.slot_withdraw(slot=slots[3], acting_user=expert, reason="Ill")
    services.expert_mark(hub=b, user=staff_b, expertise="Energy", acting_user=staff_b)
    slot_b = services.slot_create(
        hub=b,
        expert=staff_b,
        topic="Energy forecasting",
        starts_at=_in(days=4),
        duration_minutes=60,
        place="Otaniemi",
        acting_user=staff_b,
    )
    services.booking_create(slot=slot_b, acting_user=member_b, **INTAKE)


def _events(a, b, *, staff, rhea, colleague, staff_b):
    from pilots.events import services
    from pilots.events.models import EventKind, RegistrationRole

    def event(hub, by, title, kind, days, **extra):
        values = {
            "description": "Hands-on with open models.",
            "mode": "on_site",
            "place": "Auditorium",
            "capacity": 30,
            **extra,
        }
        created = services.event_create(
            hub=hub,
            acting_user=by,
            title=title,
            kind=kind,
            starts_at=_in(days=days),
            ends_at=_in(days=days, hours=3),
            **values,
        )
        return created

    demo_day = services.event_publish(event=event(a, staff, "Lyon demo day", EventKind.DEMO_DAY, 12), acting_user=staff)
    for n in range(3):
        services.pitch_slot_add(event=demo_day, starts_at=_in(days=12, hours=n), minutes=10, acting_user=staff)
    pitcher = services.registration_create(
        event=demo_day, acting_user=rhea, role=RegistrationRole.STARTUP, organisation_name="Radiology team"
    )
    services.pitch_slot_claim(
        registration=pitcher, pitch_slot=demo_day.pitch_slots.order_by("pk").first(), acting_user=rhea
    )
    services.registration_create(event=demo_day, acting_user=colleague)
    workshop = services.event_publish(
        event=event(a, staff, "Lyon workshop", EventKind.WORKSHOP, 5, capacity=1), acting_user=staff
    )
    services.registration_create(event=workshop, acting_user=colleague)
    services.registration_create(event=workshop, acting_user=rhea)  # on the waiting list
    event(a, staff, "Lyon training draft", EventKind.TRAINING, 20)
    cancelled = services.event_publish(
        event=event(a, staff, "Lyon cancelled", EventKind.TRAINING, 8), acting_user=staff
    )
    services.event_cancel(event=cancelled, acting_user=staff, reason="Speaker ill")
    services.event_publish(event=event(b, staff_b, "Helsinki demo day", EventKind.DEMO_DAY, 15), acting_user=staff_b)


# --- Network and webhooks --------------------------------------------------------------------


def _network(a, b, *, staff, rhea, staff_b):
    from hubs.network import services

    services.news_post(
        hub=a,
        kind="lesson",
        title="Label scans with the radiologists",
        body="Weekly sessions.",
        sector=Sector.HEALTH,
        acting_user=staff,
    )
    services.news_post(
        hub=b, kind="announcement", title="Helsinki opens a new partition", body="More H100s.", acting_user=staff_b
    )
    services.subscription_create(acting_user=rhea, user=rhea, sector=Sector.HEALTH, delivery="digest")
    services.subscription_create(acting_user=rhea, user=rhea, hub=b)
    services.subscription_create(acting_user=staff, subscriber_hub=a, kind="lesson")
    services.subscription_create(acting_user=staff_b, user=staff_b, kind="call")
    services.preference_set(user=rhea, delivery="digest")


def _webhooks(a, b, *, staff, partner, staff_b):
    from hubs.webhooks import services

    endpoint, _ = services.endpoint_create(
        hub=a,
        url="https://hpc.lyon.example.org/hooks",
        event_types=["allocation.usage_threshold"],
        partner=partner,
        acting_user=staff,
    )
    services.send_test_event(endpoint=endpoint, acting_user=staff)
    paused, _ = services.endpoint_create(
        hub=a, url="https://ops.lyon.example.org/hooks", event_types=["*"], acting_user=staff
    )
    services.send_test_event(endpoint=paused, acting_user=staff)
    services.endpoint_pause(endpoint=paused, acting_user=staff)
    endpoint_b, _ = services.endpoint_create(
        hub=b, url="https://hpc.helsinki.example.org/hooks", event_types=["*"], acting_user=staff_b
    )
    services.send_test_event(endpoint=endpoint_b, acting_user=staff_b)
