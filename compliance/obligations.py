"""Which obligations of the questionnaire's list apply to a system, and when. Pure, no database."""

import datetime
from dataclasses import dataclass

from .engine import Outcome, load

FULL_HIGH_RISK = "high_risk_full"
# Organisation kinds that are public bodies or private entities providing public services (Art. 27(1)).
PUBLIC_SERVICE_KINDS = frozenset({"public_body", "hospital", "school", "utility"})
ROLE_MATCH = {"provider": {"provider"}, "deployer": {"deployer"}, "both": {"provider", "deployer"}}


@dataclass(frozen=True)
class SystemFacts:
    """What the checklist needs to know about the system beyond the questionnaire's outcome."""

    role: str
    uses_personal_data: bool = False
    uses_health_data: bool = False
    uses_biometric_data: bool = False
    organisation_kind: str = ""


@dataclass(frozen=True)
class Obligation:
    key: str
    section: str
    article: str
    title: str
    description: str
    evidence: tuple[str, ...]
    due_on: datetime.date | None
    position: int


def _flags(outcome: Outcome, facts: SystemFacts) -> set[str]:
    flags = set()
    special = facts.uses_health_data or facts.uses_biometric_data
    if facts.uses_personal_data or special:
        flags.add("personal_data")
    if special:
        flags.add("special_data")
    if outcome.gpai_model:
        flags.add("gpai_model")
        if not outcome.gpai_open_weights or outcome.gpai_systemic_risk:
            flags.add("gpai_full_docs")
    if outcome.gpai_systemic_risk:
        flags.add("gpai_systemic")
    if outcome.derogation:
        flags.add("derogation")
    if outcome.profiling or outcome.risk_class == "high_risk_annex_iii":
        flags.add("profiling_or_annex_iii")
    if special or outcome.profiling:
        flags.add("dpia")
    if outcome.annex_i_section == "B":
        flags.add("annex_i_section_b")
    point = outcome.annex_iii_point
    if (
        outcome.risk_class == "high_risk_annex_iii"
        and not point.startswith("2")
        and (point in ("5b", "5c") or facts.organisation_kind in PUBLIC_SERVICE_KINDS)
    ):
        flags.add("fria")
    return flags


def _classes(outcome: Outcome) -> set[str]:
    classes = {outcome.risk_class}
    if outcome.risk_class == "high_risk_annex_iii" or (
        outcome.risk_class == "high_risk_annex_i" and outcome.annex_i_section == "A"
    ):
        classes.add(FULL_HIGH_RISK)
    return classes


def _due(name: str, outcome: Outcome, dates: dict) -> datetime.date | None:
    if name == "high_risk":
        name = "annex_i" if outcome.risk_class == "high_risk_annex_i" else "annex_iii"
    elif name == "marking":
        name = "marking_pre_existing" if outcome.synthetic_pre_existing else "general"
    elif name == "gpai_due":
        name = "gpai_pre_existing" if outcome.gpai_pre_existing else "gpai"
    elif name == "prohibition_due":
        name = "new_prohibitions" if outcome.new_prohibition else "prohibitions"
    entry = dates.get(name)
    return entry["date"] if entry else None


def obligations_for(outcome: Outcome, facts: SystemFacts) -> list[Obligation]:
    """The checklist for a classified system, in the questionnaire's order."""
    # Outside the AI Act no AI Act item applies; the GDPR part still does when personal data is used.
    applicable_classes = set() if outcome.risk_class in ("", "out_of_scope") else _classes(outcome)
    q = load(outcome.version)
    flags = _flags(outcome, facts)
    roles = ROLE_MATCH.get(facts.role, {"provider"})
    duties = set(outcome.duty_codes())
    result = []
    for position, raw in enumerate(q.obligations):
        when = raw.get("when", {})
        section = raw.get("section", "ai_act")
        if section == "ai_act" and not applicable_classes:
            continue
        if "classes" in when and not applicable_classes & set(when["classes"]):
            continue
        if "roles" in when and not roles & set(when["roles"]):
            continue
        if "duties" in when and not duties & set(when["duties"]):
            continue
        if not set(when.get("flags", ())) <= flags:
            continue
        result.append(
            Obligation(
                key=raw["key"],
                section=section,
                article=raw["article"],
                title=raw["title"],
                description=raw.get("description", ""),
                evidence=tuple(raw["evidence"]),
                due_on=_due(raw["due"], outcome, q.dates),
                position=(position + 1) * 10,
            )
        )
    return result
