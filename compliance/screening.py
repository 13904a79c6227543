"""The AI Act gate in the compute pipeline.

Two screening checks (registered from ``ComplianceConfig.ready``) and one approval guard:

- ``ai_act_prohibited`` rejects, on any track, an application linked to a system classified as a
  prohibited practice (Art. 5);
- ``ai_act_signoff`` fails when a linked system is not classified yet, or is high-risk without an
  ethics-board approval of its current classification: the application goes to staff, and
- the approval guard refuses staff approval for the same reasons until the board signs off.

An application linked to no AI system passes: the applicant declares none.
"""

from compute.screening import approval_guard, screening_check

from . import selectors
from .models import AISystem, RiskClass


def _linked(application) -> list[AISystem]:
    return list(AISystem.objects.filter(applications=application).select_related("hub").order_by("name"))


def _linked_many(applications) -> list[list[AISystem]]:
    """The systems linked to each application, in order (one query for all of them)."""
    links = AISystem.applications.through.objects.filter(application_id__in=[a.pk for a in applications])
    linked: dict[int, list[AISystem]] = {}
    for link in links.select_related("aisystem__hub").order_by("aisystem__name", "aisystem_id"):
        linked.setdefault(link.application_id, []).append(link.aisystem)
    return [linked.get(a.pk, []) for a in applications]


@screening_check("ai_act_prohibited", "No prohibited AI practice (AI Act Art. 5)", rejects=True, many=True)
def _no_prohibited_systems(applications):
    return [_no_prohibited(systems) for systems in _linked_many(applications)]


def _no_prohibited(systems):
    prohibited = [s for s in systems if s.risk_class == RiskClass.PROHIBITED]
    if prohibited:
        names = ", ".join(f"'{s}'" for s in prohibited)
        return False, (
            f"The linked AI system {names} is classified as a prohibited practice under Art. 5 of the AI Act; "
            "no credits can be granted for it."
        )
    if not systems:
        return True, "No AI system is linked to this application."
    return True, "No linked AI system is classified as a prohibited practice."


@screening_check("ai_act_signoff", "AI systems classified; high-risk ones approved by the ethics board", many=True)
def _classified_and_signed_off_many(applications):
    return [_classified_and_signed_off(systems) for systems in _linked_many(applications)]


def classified_and_signed_off(application):
    """The ``ai_act_signoff`` check for one application."""
    return _classified_and_signed_off(_linked(application))


def _classified_and_signed_off(systems):
    if not systems:
        return True, "No AI system is linked to this application."
    problems = [p for p in (selectors.gate_problem(s) for s in systems if not s.is_prohibited) if p]
    if problems:
        return False, " ".join(problems)
    described = "; ".join(f"'{s}': {s.get_risk_class_display()}" for s in systems)
    return (
        True,
        f"Every linked AI system is classified, and high-risk ones are approved by the ethics board ({described}).",
    )


@approval_guard
def ai_act_gate(application):
    """The reason staff may not approve ``application`` now, or ``None``."""
    problems = [p for p in (selectors.gate_problem(s) for s in _linked(application)) if p]
    return " ".join(problems) or None
