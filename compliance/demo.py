"""Demo AI systems from the essay, each classified under the AI Act, with checklists partly done and
evidence attached, and the ethics boards of their hubs:

- a Lyon hospital mammography triage model: high-risk (medical device software, Annex I), approved
  by the Lyon ethics board after a first rejection, so the credit applications linked to it pass the
  AI Act screening check;
- a Helsinki smart-grid optimiser: high-risk (Annex III point 2, its failure could endanger the grid),
  its review still waiting for the Helsinki board, so staff cannot approve its application yet;
- a rural-Spain crop water-need predictor: minimal risk;
- a northern-Sweden wind-farm output optimiser: minimal risk (used solely to optimise output, Art. 6(1a));
- a retail chatbot: transparency duties (Art. 50).

The systems are linked to the projects, credit applications and pilots that the compute and pilots
demos create (``seed_demo`` runs those first); the fairness and drift history comes next, from
``compliance.assurance.demo``, which finds the systems by these names.

Everything goes through the services, as the people concerned (owners classify, attach evidence and
ask for review; staff name board members; board members decide). Hubs without staff of their own
(Zaragoza, Luleå) have their board named by the network admin, and an ethics expert of another hub
joins them for it (a membership request and its approval, through the hubs services).

Idempotent: a system that already exists is left as it is, and board seats and memberships are looked
up first. Demo inbox items are marked as e-mailed (the demo addresses are not real).
"""

from dataclasses import dataclass, field

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from compute.models import Application, Project
from hubs import services as hub_services
from hubs.models import Hub, Membership, MembershipStatus, Notification, Organisation, User
from pilots import services as pilot_services
from pilots.models import Pilot

from . import engine, selectors, services
from .models import AISystem, BoardMember, ChecklistItem, ItemStatus, ReviewStatus

DEMO_DOMAIN = "@gigafactory.test"
ADMIN = "admin@gigafactory.test"
DOCS = "https://docs.{hub}.gigafactory.test/compliance/{slug}/{key}"


@dataclass(frozen=True)
class Seat:
    email: str
    title: str
    named_by: str  # hub staff; the network admin where the hub has none
    joins: bool = False  # not a member yet: asks to join and is approved first


@dataclass
class SystemSpec:
    hub: str
    name: str
    owner: str
    organisation: str
    purpose: str
    sector: str
    input_modality: str
    output_modality: str
    answers: dict
    role: str = "provider"
    personal: bool = False
    health: bool = False
    deployment: str = "testing"
    builds_on_gpai: bool = False
    base_model: str = ""
    project: str = ""
    applications: tuple[str, ...] = ()
    pilot: str = ""
    done: float = 0.0  # share of the checklist closed with evidence
    in_progress: int = 0  # items after those with evidence attached, not closed yet
    not_applicable: dict[str, str] = field(default_factory=dict)  # item key -> justification
    # Board reviews, in order: (decision or None for "still waiting", board member e-mail, rationale).
    reviews: tuple[tuple[str | None, str, str], ...] = ()


BOARDS = {
    "lyon": [
        Seat("reviewer@gigafactory.test", "Chair", "lyon.staff@gigafactory.test"),
        Seat("lyon.staff@gigafactory.test", "Data protection officer", "lyon.admin@gigafactory.test"),
    ],
    "helsinki": [
        Seat("helsinki.staff@gigafactory.test", "Chair", "helsinki.staff@gigafactory.test"),
        Seat("researcher@gigafactory.test", "Member (health and research ethics)", "helsinki.staff@gigafactory.test"),
    ],
    "zaragoza": [Seat("reviewer@gigafactory.test", "Chair", ADMIN, joins=True)],
    "lulea": [Seat("reviewer2@gigafactory.test", "Chair", ADMIN, joins=True)],
    "berlin": [Seat("reviewer@gigafactory.test", "Chair", ADMIN)],
}

SYSTEMS = [
    SystemSpec(
        hub="lyon",
        name="Lyon hospital mammography triage",
        owner="researcher@gigafactory.test",
        organisation="Hospices Civils de Lyon",
        purpose=(
            "Reads screening mammograms at the Lyon university hospitals and puts the ones with suspicious "
            "findings first in the radiologists' reading list, with a heat map of the regions it flagged. "
            "Radiologists read every mammogram; the model only orders the list. Fine-tuned from the hub's "
            "radiology foundation model (RadFM)."
        ),
        sector="health",
        input_modality="image",
        output_modality="decision",
        personal=True,
        health=True,
        answers={"annex_i_product": "mdr", "annex_i_role": "product", "annex_i_third_party": "yes"},
        project="Radiology foundation model",
        applications=(
            "Radiology FM: pre-training on three hospitals' scans",
            "Radiology FM: evaluation sweep",
        ),
        done=0.7,
        in_progress=2,
        reviews=(
            (
                ReviewStatus.REJECTED,
                "lyon.staff@gigafactory.test",
                "The data protection impact assessment does not cover the transfer of images to the hub's GPUs. "
                "Complete it and ask again.",
            ),
            (
                ReviewStatus.APPROVED,
                "reviewer@gigafactory.test",
                "The risk-management plan, the validation on 12,000 mammograms from three sites and the completed "
                "DPIA support the classification; human oversight is built in (every image is read).",
            ),
        ),
    ),
    SystemSpec(
        hub="helsinki",
        name="Helsinki smart-grid optimiser",
        owner="grid@gigafactory.test",
        organisation="Helen Oy",
        purpose=(
            "Schedules district batteries and heat pumps an hour ahead to balance Helsinki's electricity grid, "
            "from load forecasts and weather. Operators can override it; if it fails, the grid falls back to "
            "manual dispatch, but a wrong schedule could overload a feeder."
        ),
        sector="energy",
        input_modality="time_series",
        output_modality="decision",
        role="both",
        personal=True,
        answers={
            "annex_iii_2": "2-electricity",
            "annex_iii_2_efficiency_only": "yes",
            "annex_iii_2_failure_endangers": "yes",
        },
        project="Smart-grid load forecasting",
        applications=("Grid load: transformer forecaster", "Grid load: probabilistic ensembles"),
        pilot="Tuning smart-grid algorithms with Helsinki's utilities",
        done=0.4,
        in_progress=2,
        reviews=((None, "", ""),),
    ),
    SystemSpec(
        hub="zaragoza",
        name="Ebro crop water-need predictor",
        owner="farmer@gigafactory.test",
        organisation="Cooperativa Agraria del Ebro",
        purpose=(
            "Tells each farmer of the co-operative, every Monday, how much water each field needs that week, "
            "from soil sensors, weather forecasts and satellite images. Farmers decide whether to irrigate."
        ),
        sector="agriculture",
        input_modality="geospatial",
        output_modality="tabular",
        role="both",
        deployment="deployed",
        answers={},
        project="Ebro irrigation forecasting",
        applications=("Irrigation: soil-moisture nowcasting",),
        pilot="Predicting water needs on Ebro valley farms",
        done=0.5,
        in_progress=1,
    ),
    SystemSpec(
        hub="lulea",
        name="Norrbotten wind-farm output optimiser",
        owner="grid@gigafactory.test",
        organisation="Helen Oy",
        purpose=(
            "Forecasts the output of three Arctic wind farms hours and days ahead, icing included, and suggests "
            "market bids. It only optimises output and bids; grid safety stays with the operator's own systems."
        ),
        sector="energy",
        input_modality="time_series",
        output_modality="tabular",
        answers={
            "annex_iii_2": "2-electricity",
            "annex_iii_2_efficiency_only": "yes",
            "annex_iii_2_failure_endangers": "no",
        },
        project="Wind-farm output forecasting",
        applications=("Wind output: icing-aware forecasts",),
        pilot="Wind-farm output forecasting in Norrbotten",
        done=0.34,
        in_progress=1,
    ),
    SystemSpec(
        hub="berlin",
        name="Retail chatbot for online shoppers",
        owner="founder@gigafactory.test",
        organisation="Spreewald Robotics",
        purpose=(
            "Answers online shoppers' questions about orders, returns and products in French, English, Spanish "
            "and Arabic, and hands the conversation to a person on request. Built on an open-weights language "
            "model; it does not score or profile customers."
        ),
        sector="retail",
        input_modality="text",
        output_modality="text",
        personal=True,
        deployment="deployed",
        builds_on_gpai=True,
        base_model="Mistral Small 3 (open weights)",
        answers={"t_interacts": "yes", "t_synthetic": "yes"},
        done=0.5,
        in_progress=1,
    ),
]


def _answers(overrides: dict) -> dict:
    """Every question that applies answered: the given answers, and the harmless one elsewhere (in scope)."""
    q = engine.load(engine.CURRENT_VERSION)
    full = {}
    for question in q.questions:
        if question.type == "yesno":
            full[question.key] = "no"
        elif question.type == "choice":
            full[question.key] = question.options[0].key
        else:
            full[question.key] = "0"
    full |= {"ai_system": "yes", "eu_nexus": "yes"} | overrides
    outcome = engine.classify(full)
    if not outcome.complete:  # a bug in the spec above, not a state to seed
        raise RuntimeError(f"Demo answers leave questions open: {outcome.unanswered}")
    return {k: v for k, v in full.items() if k in set(outcome.asked)}


def _user(email) -> User | None:
    return User.objects.filter(email=email).first()


# --- Ethics boards -------------------------------------------------------------------------------


def _boards(hubs, log) -> None:
    added = 0
    for slug, seats in BOARDS.items():
        hub = hubs[slug]
        for seat in seats:
            user, named_by = _user(seat.email), _user(seat.named_by)
            if user is None or named_by is None:
                continue
            if BoardMember.objects.filter(hub=hub, user=user).exists():
                continue
            if (
                seat.joins
                and not Membership.objects.filter(user=user, hub=hub, status=MembershipStatus.ACTIVE).exists()
            ):
                membership = hub_services.membership_request(
                    user=user, hub=hub, motivation=f"To sit on the {hub} ethics board."
                )
                hub_services.membership_approve(
                    membership=membership, acting_user=named_by, note="Welcome to the ethics board."
                )
            services.board_member_add(hub=hub, user=user, acting_user=named_by, title=seat.title)
            added += 1
    log(f"ethics boards: {BoardMember.objects.filter(active=True).count()} seats ({added} new) in {len(BOARDS)} hubs")


# --- Systems -------------------------------------------------------------------------------------


def _system(spec: SystemSpec, hub, log) -> bool:
    if AISystem.objects.filter(hub=hub, name=spec.name).exists():
        return False
    owner = _user(spec.owner)
    organisation = Organisation.objects.filter(name=spec.organisation).first()
    if owner is None or organisation is None:
        log(f"{spec.name}: its owner or organisation is missing; skipped")
        return False
    system = services.system_create(
        hub=hub,
        acting_user=owner,
        name=spec.name,
        organisation=organisation,
        intended_purpose=spec.purpose,
        role=spec.role,
        sector=spec.sector,
        input_modality=spec.input_modality,
        output_modality=spec.output_modality,
        uses_personal_data=spec.personal,
        uses_health_data=spec.health,
        builds_on_gpai=spec.builds_on_gpai,
        gpai_base_model=spec.base_model,
        deployment_status=spec.deployment,
    )
    _link(system, spec, owner)
    draft = services.assessment_start(system=system, acting_user=owner)
    services.assessment_answer(assessment=draft, acting_user=owner, answers=_answers(spec.answers))
    services.assessment_submit(assessment=draft, acting_user=owner)
    system.refresh_from_db()
    _work_the_checklist(system, spec, owner)
    _reviews(system, spec, owner)
    progress = selectors.progress(system)
    log(
        f"{system}: {system.get_risk_class_display()}, checklist {progress.closed} of {progress.total} closed"
        + (f", {system.board_reviews.count()} board review(s)" if spec.reviews else "")
    )
    return True


def _link(system, spec: SystemSpec, owner) -> None:
    project = Project.objects.filter(hub=system.hub, title=spec.project).first() if spec.project else None
    applications = list(Application.objects.filter(project=project, title__in=spec.applications)) if project else []
    if project is not None:
        services.system_link(system=system, acting_user=owner, projects=[project], applications=applications)
    if spec.pilot:
        pilot = Pilot.objects.filter(hub=system.hub, title=spec.pilot).first()
        if pilot is not None and pilot.lead_id == owner.pk:
            pilot_services.pilot_update(pilot=pilot, acting_user=owner, ai_systems=[*pilot.ai_systems.all(), system])


def _evidence_file(item, spec, owner):
    body = (
        f"# {item.article}: {item.title}\n\n"
        f"System: {spec.name}\nOwner: {owner.display_name}\nDate: {timezone.localdate():%Y-%m-%d}\n\n"
        "Demo evidence: in a real dossier this is the signed document.\n"
    ).encode()
    name = f"{item.key.replace('_', '-')}.md"
    services.evidence_file_add(
        item=item,
        acting_user=owner,
        uploaded=SimpleUploadedFile(name, body, content_type="text/markdown"),
        label=f"{item.title} (signed copy)",
    )


def _evidence_link(item, system, owner):
    services.evidence_link_add(
        item=item,
        acting_user=owner,
        label=f"{item.article}: {item.title}"[:200],
        url=DOCS.format(hub=system.hub.slug, slug=f"system-{system.pk}", key=item.key.replace("_", "-")),
    )


def _work_the_checklist(system, spec: SystemSpec, owner) -> None:
    """Close the first share of the items with evidence, attach evidence to the next few (in
    progress), justify the ones that do not apply, and leave the rest to do."""
    items = list(ChecklistItem.objects.filter(system=system, obsolete_at__isnull=True).order_by("position", "id"))
    closing = round(len(items) * spec.done)
    for index, item in enumerate(items):
        if item.key in spec.not_applicable:
            services.item_update(
                item=item,
                acting_user=owner,
                status=ItemStatus.NOT_APPLICABLE,
                justification=spec.not_applicable[item.key],
            )
        elif index < closing:
            _evidence_link(item, system, owner)
            if index == 0:
                _evidence_file(item, spec, owner)
            services.item_update(item=item, acting_user=owner, status=ItemStatus.DONE)
        elif index < closing + spec.in_progress:
            _evidence_link(item, system, owner)


def _reviews(system, spec: SystemSpec, owner) -> None:
    for decision, email, rationale in spec.reviews:
        review = services.board_review_request(
            system=system,
            acting_user=owner,
            note="Please review the classification and the checklist; the evidence is attached to each item.",
        )
        if decision is None:
            continue
        member = _user(email)
        services.board_review_decide(review=review, acting_user=member, decision=decision, rationale=rationale)


# --- Entry point ---------------------------------------------------------------------------------------


def seed(log) -> None:
    with transaction.atomic():
        hubs = {h.slug: h for h in Hub.objects.filter(slug__in=list(BOARDS))}
        if len(hubs) < len(BOARDS) or _user(ADMIN) is None:
            log("compliance: the demo hubs and people are missing (seed hubs first); nothing done")
            return
        _boards(hubs, log)
        created = sum(_system(spec, hubs[spec.hub], log) for spec in SYSTEMS)
        log(f"AI systems: {len(SYSTEMS)} ({created} new)")
        # The demo addresses are not real: do not e-mail the inbox items this seed created.
        Notification.objects.filter(emailed_at__isnull=True, user__email__endswith=DEMO_DOMAIN).update(
            emailed_at=timezone.now()
        )


def logins() -> list[tuple[str, str]]:
    return [
        ("researcher@gigafactory.test", "owner of the Lyon mammography model (high-risk, signed off): /compliance/"),
        ("reviewer@gigafactory.test", "chairs the Lyon, Berlin and Zaragoza ethics boards: /compliance/board/"),
        ("helsinki.staff@gigafactory.test", "chairs the Helsinki board: the smart-grid optimiser waits for it"),
    ]
