"""The admin: hub-scoped lists, read-only runs, and trust anchors that cannot be changed there either."""

import pytest
from django.urls import reverse

from compliance.assurance import csvio, services
from compliance.assurance.models import DriftBatch, FairnessCheck, ReferenceDataset, ReferenceStatus, TrustAnchor

from .conftest import MAPPING, predictions_csv, reference_csv


@pytest.fixture
def signed(system, member, board):
    reference = services.reference_upload(system=system, acting_user=member, data=reference_csv(), name="Validation")
    services.reference_submit(reference=reference, acting_user=member)
    anchor = services.reference_sign_off(reference=reference, acting_user=board)
    data = reference_csv(seed=8, n=100)
    services.drift_batch_create(
        anchor=anchor, acting_user=member, table=csvio.read_csv(data), data_sha256=services.sha256(data), label="W1"
    )
    services.fairness_check_upload(system=system, acting_user=member, data=predictions_csv(), **MAPPING)
    return anchor


def test_staff_see_their_hubs_rows_and_others_see_none(client, staff, other_staff, signed):
    client.force_login(staff)
    for model in ("fairnesscheck", "referencedataset", "trustanchor", "driftbatch"):
        response = client.get(reverse(f"admin:assurance_{model}_changelist"))
        assert response.status_code == 200
        assert len(response.context["cl"].result_list) == 1, model
    client.force_login(other_staff)
    for model in ("fairnesscheck", "referencedataset", "trustanchor", "driftbatch"):
        response = client.get(reverse(f"admin:assurance_{model}_changelist"))
        assert len(response.context["cl"].result_list) == 0, model
    assert client.get(reverse("admin:assurance_trustanchor_change", args=[signed.pk])).status_code == 302  # not found


def test_a_signed_reference_and_its_anchor_are_read_only_in_the_admin(client, staff, signed):
    client.force_login(staff)
    anchor_url = reverse("admin:assurance_trustanchor_change", args=[signed.pk])
    page = client.get(anchor_url)
    assert page.status_code == 200
    assert b'name="psi_threshold"' not in page.content
    assert client.post(anchor_url, {"psi_threshold": "9", "note": "changed"}).status_code == 403
    assert (
        client.post(reverse("admin:assurance_trustanchor_delete", args=[signed.pk]), {"post": "yes"}).status_code == 403
    )
    reference_url = reverse("admin:assurance_referencedataset_change", args=[signed.reference_id])
    assert b'name="name"' not in client.get(reference_url).content
    assert client.post(reference_url, {"name": "Renamed", "psi_threshold": "9"}).status_code == 403
    assert TrustAnchor.objects.get(pk=signed.pk).psi_threshold == 0.1
    assert ReferenceDataset.objects.get(pk=signed.reference_id).name == "Validation"


def test_a_draft_can_be_edited_through_the_service_and_the_board_signs_off_by_action(
    client, staff, board, system, member, hub
):
    from hubs.models import Role
    from tests.conftest import enable_mfa

    draft = services.reference_upload(system=system, acting_user=member, data=reference_csv(), name="Draft")
    client.force_login(staff)
    url = reverse("admin:assurance_referencedataset_change", args=[draft.pk])
    response = client.post(
        url, {"name": "March data", "description": "", "psi_threshold": "0.2", "alpha": "0.05", "js_threshold": "0.1"}
    )
    assert response.status_code == 302
    draft.refresh_from_db()
    assert (draft.name, draft.psi_threshold) == ("March data", 0.2)
    changelist = reverse("admin:assurance_referencedataset_changelist")
    client.post(changelist, {"action": "submit_selected", "_selected_action": [draft.pk]})
    # staff are not on the board: refused; a board member who runs the hub signs off
    client.post(changelist, {"action": "sign_off_selected", "_selected_action": [draft.pk]})
    draft.refresh_from_db()
    assert draft.status == ReferenceStatus.SUBMITTED
    board.memberships.filter(hub=hub).update(role=Role.STAFF)
    board.is_staff = True
    board.save(update_fields=["is_staff"])
    enable_mfa(board)
    client.force_login(board)
    client.post(changelist, {"action": "sign_off_selected", "_selected_action": [draft.pk]})
    draft.refresh_from_db()
    assert draft.status == ReferenceStatus.SIGNED_OFF
    assert TrustAnchor.objects.filter(reference=draft).exists()


def test_runs_are_records(client, staff, signed):
    client.force_login(staff)
    check = FairnessCheck.objects.get()
    batch = DriftBatch.objects.get()
    assert client.get(reverse("admin:assurance_fairnesscheck_change", args=[check.pk])).status_code == 200
    assert client.post(reverse("admin:assurance_fairnesscheck_change", args=[check.pk]), {}).status_code == 403
    assert client.get(reverse("admin:assurance_driftbatch_change", args=[batch.pk])).status_code == 200
    assert client.get(reverse("admin:assurance_fairnesscheck_add")).status_code == 403
