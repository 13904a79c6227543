"""Objects of hubs A and B for the assurance rows, on the hub member's high-risk system: a
computed fairness check, reference data as a draft and as submitted, a signed trust anchor
(the hub's board member signs) with a computed drift batch."""

from compliance.assurance import services as assurance_services
from tests.assurance.conftest import MAPPING, predictions_csv, reference_csv

from .world import builds, unique


@builds
def assurance_objects(world, side):
    system, owner, board = side.system, side.member, side.reviewer
    check = assurance_services.fairness_check_upload(
        system=system, acting_user=owner, data=predictions_csv(), name=unique("fairness check"), **MAPPING
    )
    side.fairness = assurance_services.fairness_check_compute(check_id=check.pk)

    def reference(name):
        return assurance_services.reference_upload(
            system=system, acting_user=owner, data=reference_csv(), file_name="reference.csv", name=unique(name)
        )

    side.anchor_reference = reference("anchored reference")
    assurance_services.reference_submit(reference=side.anchor_reference, acting_user=owner)
    side.anchor = assurance_services.reference_sign_off(reference=side.anchor_reference, acting_user=board)
    batch, _created = assurance_services.drift_batch_upload(
        anchor=side.anchor, acting_user=owner, data=reference_csv(seed=1, shift=5.0), label=unique("batch")
    )
    side.batch = assurance_services.drift_batch_compute(batch_id=batch.pk)
    side.submitted_reference = reference("submitted reference")
    assurance_services.reference_submit(reference=side.submitted_reference, acting_user=owner)
    side.draft_reference = reference("draft reference")
    other = assurance_services.fairness_check_upload(
        system=side.other_system,
        acting_user=side.colleague,
        data=predictions_csv(),
        name=unique("fairness check"),
        **MAPPING,
    )
    side.other_fairness = assurance_services.fairness_check_compute(check_id=other.pk)
