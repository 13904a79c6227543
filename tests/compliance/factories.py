"""Compliance factories. Classifications go through the services, as in the browser."""

import factory

from compliance import engine, services
from compliance.models import AISystem, BoardMember
from tests.factories import HubFactory, OrganisationFactory, UserFactory

Q = engine.load(engine.CURRENT_VERSION)

HIGH_RISK = {"annex_iii_5": "5d", "profiling": "no"}  # emergency triage
MINIMAL: dict = {}
PROHIBITED = {"art5_c": "yes"}
CHATBOT = {"t_interacts": "yes", "t_synthetic": "yes"}


class AISystemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AISystem

    hub = factory.SubFactory(HubFactory)
    organisation = factory.SubFactory(OrganisationFactory)
    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"AI system {n}")
    intended_purpose = "Helps clinicians prioritise cases."
    role = "provider"
    sector = "health"
    input_modality = "image"
    output_modality = "decision"


class BoardMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BoardMember

    hub = factory.SubFactory(HubFactory)
    user = factory.SubFactory(UserFactory)
    title = "Member"


def answers(**overrides) -> dict:
    """A full set of harmless answers (in scope, nothing else), with ``overrides``."""
    result = {}
    for q in Q.questions:
        if q.type == "yesno":
            result[q.key] = "no"
        elif q.type == "choice":
            result[q.key] = q.options[0].key
        else:
            result[q.key] = "0"
    result.update(ai_system="yes", eu_nexus="yes")
    result.update(overrides)
    return result


def classify(system, user, **overrides):
    """Run the questionnaire for ``system`` as ``user`` and submit it; returns the assessment."""
    draft = services.assessment_start(system=system, acting_user=user)
    full = answers(**overrides)
    relevant = {k: v for k, v in full.items() if k in engine.classify(full).asked}
    services.assessment_answer(assessment=draft, acting_user=user, answers=relevant)
    return services.assessment_submit(assessment=draft, acting_user=user)
