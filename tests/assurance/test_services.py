"""Fairness runs, reference data sign-off and drift batches through the services."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, transaction

from compliance.assurance import csvio, services
from compliance.assurance.models import (
    DriftBatch,
    DriftColumnResult,
    FairnessCheck,
    ReferenceDataset,
    ReferenceStatus,
    RunStatus,
    TrustAnchor,
)
from compliance.models import ChecklistItem
from gigafactory.errors import InvalidTransition
from gigafactory.models import AuditEvent
from hubs.models import Notification

from .conftest import MAPPING, predictions_csv, reference_csv, to_csv


def upload_fairness(system, user, data=None, capture=None, **overrides):
    mapping = {**MAPPING, **overrides}
    return services.fairness_check_upload(
        system=system, acting_user=user, data=data or predictions_csv(), file_name="preds.csv", **mapping
    )


def test_fairness_run_is_computed_by_the_task_after_commit(system, member, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        check = upload_fairness(system, member, data=predictions_csv(bias=0.6), name="Validation 2026")
    check.refresh_from_db()
    assert check.status == RunStatus.DONE
    assert check.passed is False
    names = [a["name"] for a in check.results["analyses"]]
    assert names == ["sex", "age_band", "sex \u00d7 age_band"]
    assert any("sex: Demographic parity difference" in line for line in check.results["failed_checks"])
    assert AuditEvent.objects.filter(action="fairness.computed", object_id=str(check.pk)).exists()
    assert Notification.objects.filter(user=member, kind="fairness.computed").count() == 1


def test_computing_twice_changes_nothing(system, member):
    check = upload_fairness(system, member)
    services.fairness_check_compute(check_id=check.pk)
    check.refresh_from_db()
    first = (check.results, check.computed_at)
    services.fairness_check_compute(check_id=check.pk)
    check.refresh_from_db()
    assert (check.results, check.computed_at) == first
    assert AuditEvent.objects.filter(action="fairness.computed", object_id=str(check.pk)).count() == 1


def test_thresholds_are_the_owners(system, member):
    check = upload_fairness(
        system, member, data=predictions_csv(bias=0.6), thresholds={"max_parity_difference": 0.9, "min_parity_ratio": 0}
    )
    assert check.max_parity_difference == 0.9
    with pytest.raises(ValidationError) as exc:
        upload_fairness(system, member, thresholds={"min_parity_ratio": 1.5})
    assert exc.value.message_dict == {"min_parity_ratio": ["Enter a number between 0 and 1 (got 1.5)."]}


def test_a_hub_member_who_does_not_own_the_system_cannot_run_checks(system, hub):
    from tests.conftest import verified_user
    from tests.factories import MembershipFactory

    other = verified_user()
    MembershipFactory(user=other, hub=hub)
    with pytest.raises(PermissionDenied):
        upload_fairness(system, other)
    assert FairnessCheck.objects.count() == 0


@pytest.mark.parametrize(
    ("data", "overrides", "field", "expected"),
    [
        (None, {"label_column": "lable"}, "label_column", "Column 'lable' (true label) is not in the file"),
        (None, {"sensitive_columns": ["gender"]}, "sensitive_columns", "Column 'gender' (sensitive attribute)"),
        (b"label,prediction,score,sex,age_band\n1,2,0.5,f,<40\n", {}, "prediction_column", "line 2 has '2'"),
        (
            None,
            {"expected_groups": {"sex": ["female", "male", "other"]}},
            "sensitive_columns",
            "Group 'other' of column 'sex' has no rows",
        ),
        ("label,prediction,score,sex,age_band\n1,1,0.5,f\u00e9,<40\n".encode("latin-1"), {}, "file", "not UTF-8"),
        (b"label,prediction,score,sex,age_band\n", {}, "file", "no data rows"),
    ],
)
def test_bad_fairness_input_names_the_problem_and_stores_nothing(system, member, data, overrides, field, expected):
    before = (FairnessCheck.objects.count(), AuditEvent.objects.count())
    with pytest.raises(ValidationError) as exc:
        upload_fairness(system, member, data=data, **overrides)
    assert field in exc.value.message_dict
    assert expected in " ".join(exc.value.message_dict[field])
    assert (FairnessCheck.objects.count(), AuditEvent.objects.count()) == before


def test_over_the_size_limit(system, member, settings):
    settings.ASSURANCE_MAX_UPLOAD_BYTES = 2000
    with pytest.raises(ValidationError) as exc:
        upload_fairness(system, member, data=predictions_csv(n=300))
    assert (
        "the limit is 2000 bytes" in exc.value.message_dict["file"][0]
        or "limit is" in exc.value.message_dict["file"][0]
    )
    assert FairnessCheck.objects.count() == 0


# --- Reference data and the trust anchor -------------------------------------------------------


def signed_anchor(system, owner, board, data=None) -> TrustAnchor:
    reference = services.reference_upload(
        system=system, acting_user=owner, data=data or reference_csv(), file_name="ref.csv", name="Validation data"
    )
    services.reference_submit(reference=reference, acting_user=owner)
    return services.reference_sign_off(reference=reference, acting_user=board, note="Representative of 2025.")


def test_reference_profile_and_sign_off_make_a_trust_anchor(system, member, board):
    data = reference_csv()
    reference = services.reference_upload(system=system, acting_user=member, data=data, name="Validation data")
    assert reference.status == ReferenceStatus.DRAFT
    assert [c["kind"] for c in reference.profile["columns"]] == ["numeric", "numeric", "categorical"]
    assert reference.data_sha256 == services.sha256(data)
    with pytest.raises(PermissionDenied):
        services.reference_submit(reference=reference, acting_user=board)  # not the owner, not staff
    services.reference_submit(reference=reference, acting_user=member)
    assert Notification.objects.filter(user=board, kind="reference.submitted").exists()
    with pytest.raises(PermissionDenied):
        services.reference_sign_off(reference=reference, acting_user=member)  # the owner is not on the board
    anchor = services.reference_sign_off(reference=reference, acting_user=board, note="OK")
    assert anchor.data_sha256 == services.sha256(data)
    assert anchor.profile_sha256 == services.sha256(services.canonical_json(reference.profile))
    reference.refresh_from_db()
    assert reference.status == ReferenceStatus.SIGNED_OFF
    assert services.anchor_verify(anchor) == {"data": True, "profile": True, "intact": True}


def test_a_signed_anchor_cannot_be_changed_by_the_services(system, member, board, staff):
    anchor = signed_anchor(system, member, board)
    reference = anchor.reference
    for call in (
        lambda: services.reference_update(reference=reference, acting_user=staff, name="Other"),
        lambda: services.reference_update(reference=reference, acting_user=member, psi_threshold=0.5),
        lambda: services.reference_delete(reference=reference, acting_user=member),
        lambda: services.reference_submit(reference=reference, acting_user=member),
        lambda: services.reference_sign_off(reference=reference, acting_user=board),
        lambda: services.reference_reject(reference=reference, acting_user=board, note="no"),
    ):
        with pytest.raises(InvalidTransition) as exc:
            call()
        assert "cannot be changed" in exc.value.message or "signed off" in exc.value.message
    reference.refresh_from_db()
    assert (reference.name, reference.psi_threshold) == ("Validation data", 0.1)
    with pytest.raises(ValueError, match="cannot be changed"):
        anchor.save()
    with pytest.raises(ValueError, match="cannot be deleted"):
        anchor.delete()


def test_the_database_refuses_to_change_a_signed_anchor(system, member, board):
    anchor = signed_anchor(system, member, board)
    for attempt in (
        lambda: TrustAnchor.objects.filter(pk=anchor.pk).update(psi_threshold=5),
        lambda: TrustAnchor.objects.filter(pk=anchor.pk).delete(),
        lambda: ReferenceDataset.objects.filter(pk=anchor.reference_id).update(data=b"x,y\n1,2\n"),
        lambda: ReferenceDataset.objects.filter(pk=anchor.reference_id).update(status="draft"),
    ):
        with pytest.raises(DatabaseError, match="cannot be changed"), transaction.atomic():
            attempt()
    assert TrustAnchor.objects.get(pk=anchor.pk).psi_threshold == 0.1
    # a draft stays editable at the database level
    draft = services.reference_upload(system=system, acting_user=member, data=reference_csv(seed=3), name="Draft")
    ReferenceDataset.objects.filter(pk=draft.pk).update(name="Renamed")
    services.reference_delete(reference=draft, acting_user=member)
    assert not ReferenceDataset.objects.filter(pk=draft.pk).exists()


def test_rejection_needs_a_reason_and_can_be_resubmitted(system, member, board):
    reference = services.reference_upload(system=system, acting_user=member, data=reference_csv(), name="R")
    services.reference_submit(reference=reference, acting_user=member)
    with pytest.raises(ValidationError):
        services.reference_reject(reference=reference, acting_user=board, note=" ")
    services.reference_reject(reference=reference, acting_user=board, note="Covers only one site.")
    assert Notification.objects.filter(user=member, kind="reference.rejected").exists()
    services.reference_submit(reference=reference, acting_user=member)
    reference.refresh_from_db()
    assert reference.status == ReferenceStatus.SUBMITTED


# --- Drift batches ----------------------------------------------------------------------------


def send_batch(anchor, user, data, **kwargs):
    table = csvio.read_csv(data)
    return services.drift_batch_create(
        anchor=anchor, acting_user=user, table=table, data_sha256=services.sha256(data), **kwargs
    )


def test_a_shifted_batch_drifts_notifies_announces_and_opens_a_corrective_action(
    system, member, board, staff, django_capture_on_commit_callbacks
):
    anchor = signed_anchor(system, member, board)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        batch, created = send_batch(
            anchor, member, reference_csv(seed=9, n=300, shift=8, p=(0.2, 0.2, 0.6)), label="Week 42"
        )
    assert created
    batch.refresh_from_db()
    assert batch.status == RunStatus.DONE
    assert batch.drifted is True
    assert set(batch.drifted_columns) == {"density", "age", "site"}
    density = batch.column_results.get(column="density")
    assert density.test == "ks"
    assert density.psi > 0.25
    assert Notification.objects.filter(kind="drift.detected", user__in=[member, staff]).count() == 2
    item = ChecklistItem.objects.get(system=system, key=f"corrective:drift-batch-{batch.pk}")
    assert item.section == "corrective"
    assert batch.corrective_action_opened
    assert len(callbacks) >= 1


def test_a_batch_like_the_reference_does_not_drift(system, member, board, django_capture_on_commit_callbacks):
    anchor = signed_anchor(system, member, board)
    with django_capture_on_commit_callbacks(execute=True):
        batch, _ = send_batch(anchor, member, reference_csv(seed=21, n=400))
    batch.refresh_from_db()
    assert batch.drifted is False, list(batch.column_results.values("column", "psi", "p_value"))
    assert not ChecklistItem.objects.filter(system=system, section="corrective").exists()


def test_batch_compute_twice_keeps_one_result_per_column(system, member, board):
    anchor = signed_anchor(system, member, board)
    batch, _ = send_batch(anchor, member, reference_csv(seed=9, n=300, shift=8))
    services.drift_batch_compute(batch_id=batch.pk)
    services.drift_batch_compute(batch_id=batch.pk)
    assert DriftColumnResult.objects.filter(batch=batch).count() == 3
    assert ChecklistItem.objects.filter(system=system, section="corrective").count() == 1


def test_batch_errors_name_the_column_and_row_and_store_nothing(system, member, board):
    anchor = signed_anchor(system, member, board)
    before = DriftBatch.objects.count()
    with pytest.raises(ValidationError) as exc:
        send_batch(anchor, member, to_csv({"density": [1.0, 2.0], "site": ["lyon", "lyon"]}))
    assert "lacks the anchor's column age" in exc.value.message_dict["file"][0]
    with pytest.raises(ValidationError) as exc:
        send_batch(anchor, member, to_csv({"density": [1.0, "high"], "age": [50, 60], "site": ["lyon", "x"]}))
    assert (
        "Column 'density' holds numbers in the trust anchor, but line 3 has 'high'" in exc.value.message_dict["file"][0]
    )
    assert DriftBatch.objects.count() == before


def test_the_same_external_id_is_stored_once(system, member, board):
    anchor = signed_anchor(system, member, board)
    first, created = send_batch(anchor, member, reference_csv(seed=2, n=100), external_id="run-7")
    again, created_again = send_batch(anchor, member, reference_csv(seed=3, n=100), external_id="run-7")
    assert created
    assert not created_again
    assert again.pk == first.pk
    assert DriftBatch.objects.count() == 1


def test_four_eyes_the_uploader_cannot_sign_off_even_on_the_board(system, member, hub):
    from compliance.models import BoardMember

    BoardMember.objects.create(hub=hub, user=member, title="Member")
    reference = services.reference_upload(system=system, acting_user=member, data=reference_csv(), name="Mine")
    services.reference_submit(reference=reference, acting_user=member)
    with pytest.raises(PermissionDenied, match="another member of the ethics board"):
        services.reference_sign_off(reference=reference, acting_user=member)
    assert not TrustAnchor.objects.exists()


def test_categories_are_spelled_the_same_from_csv_and_json(system, member, board):
    data = to_csv({"grade": ["1.0", "2.0", "3.0", "1.0"] * 50, "x": list(range(200))})
    reference = services.reference_upload(system=system, acting_user=member, data=data, name="Grades")
    services.reference_submit(reference=reference, acting_user=member)
    anchor = services.reference_sign_off(reference=reference, acting_user=board)
    table = csvio.read_json_rows([{"grade": g, "x": i} for i, g in enumerate([1, 2, 3, 1.0] * 50)])
    batch, _ = services.drift_batch_create(anchor=anchor, acting_user=member, table=table, data_sha256="0" * 64)
    batch = services.drift_batch_compute(batch_id=batch.pk)
    grade = batch.column_results.get(column="grade")
    assert grade.details["unseen_categories"] == []
    assert grade.drifted is False
