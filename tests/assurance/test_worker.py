"""Fairness runs and drift batches computed by a real Celery worker on Redis."""

import pytest

from compliance.assurance import services
from compliance.assurance.models import DriftBatch, FairnessCheck, RunStatus
from tests.worker import celery_worker, wait_for

from .conftest import MAPPING, predictions_csv, reference_csv


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_computes_a_fairness_run_and_a_drift_batch(system, member, board, tmp_path):
    with celery_worker(tmp_path) as (_process, log):
        check = services.fairness_check_upload(
            system=system, acting_user=member, data=predictions_csv(bias=0.6), name="Worker run", **MAPPING
        )
        assert FairnessCheck.objects.get(pk=check.pk).status == RunStatus.PENDING
        wait_for(lambda: FairnessCheck.objects.filter(pk=check.pk, status=RunStatus.DONE).exists(), log=log)
        reference = services.reference_upload(system=system, acting_user=member, data=reference_csv(), name="Ref")
        services.reference_submit(reference=reference, acting_user=member)
        anchor = services.reference_sign_off(reference=reference, acting_user=board)
        batch, _ = services.drift_batch_upload(
            anchor=anchor, acting_user=member, data=reference_csv(seed=4, n=300, shift=8), label="Week 1"
        )
        wait_for(lambda: DriftBatch.objects.filter(pk=batch.pk, status=RunStatus.DONE).exists(), log=log)
    check.refresh_from_db()
    assert check.passed is False
    assert check.results["rows"] == 400
    batch.refresh_from_db()
    assert batch.drifted is True
    assert batch.column_results.count() == 3
    assert "compliance.assurance.tasks.compute_fairness_check" in log.read_text()
