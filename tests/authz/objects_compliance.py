"""Objects of hubs A and B for the compliance rows: the hub member's AI systems (one high-risk,
classified, with a complete draft reclassification, checklist evidence and a pending board
review; one minimal, with nothing pending), and the hub's ethics board, on which its reviewer
sits (``reviewer_a`` reads hub A's systems as a board member and decides their reviews)."""

from compliance import engine
from compliance import services as compliance_services
from tests.compliance.factories import HIGH_RISK, AISystemFactory, BoardMemberFactory, answers, classify
from tests.factories import OrganisationFactory

from .world import builds, unique


@builds
def compliance_objects(world, side):
    hub, owner = side.hub, side.member
    side.board_seat = BoardMemberFactory(hub=hub, user=side.reviewer, title="Chair")
    organisation = OrganisationFactory(name=unique("hospital"), kind="hospital")
    side.system = AISystemFactory(hub=hub, owner=owner, organisation=organisation, name=unique("AI system"))
    side.assessment = classify(side.system, owner, **HIGH_RISK)
    side.item = side.system.checklist_items.order_by("pk").first()
    side.evidence = compliance_services.evidence_link_add(
        item=side.item, label=unique("evidence"), url="https://docs.example.org/dpia", acting_user=owner
    )
    side.board_review = compliance_services.board_review_request(
        system=side.system, acting_user=owner, note=unique("review note")
    )
    # A reclassification in progress, every question answered: ready to submit.
    side.draft_assessment = compliance_services.assessment_start(system=side.system, acting_user=owner)
    full = answers(**HIGH_RISK)
    asked = engine.classify(full).asked
    compliance_services.assessment_answer(
        assessment=side.draft_assessment, acting_user=owner, answers={k: v for k, v in full.items() if k in asked}
    )
    side.system2 = AISystemFactory(hub=hub, owner=owner, organisation=organisation, name=unique("AI system"))
    classify(side.system2, owner)
    # Someone else's system at the hub, on no project: member_a is just another member there.
    side.other_system = AISystemFactory(
        hub=hub, owner=side.colleague, organisation=organisation, name=unique("colleague AI system")
    )
