"""Attaching a fairness result to the Art. 10 checklist item; drift announced on the event bus."""

import pytest
from django.urls import reverse

from compliance.assurance import csvio, services
from compliance.assurance.models import FairnessCheck
from compliance.models import ChecklistItem, Evidence
from gigafactory import events
from gigafactory.errors import InvalidTransition

from .conftest import MAPPING, predictions_csv, reference_csv


@pytest.fixture
def art10(system):
    return ChecklistItem.objects.create(
        system=system, key="art10", article="Art. 10", title="Data and data governance", evidence_types=["DOC", "TEST"]
    )


@pytest.fixture
def computed(system, member):
    check = services.fairness_check_upload(
        system=system, acting_user=member, data=predictions_csv(), name="Validation 2026", **MAPPING
    )
    return services.fairness_check_compute(check_id=check.pk)


def test_owner_attaches_a_result_once_from_the_page(client, member, art10, computed):
    client.force_login(member)
    response = client.post(reverse("assurance:fairness_attach", args=[computed.pk]), follow=True)
    assert "Attached as test evidence" in response.content.decode()
    evidence = Evidence.objects.get(item=art10)
    assert evidence.url == computed.get_absolute_url()
    assert evidence.evidence_type == "TEST"
    assert "Validation 2026" in evidence.label
    again = client.post(reverse("assurance:fairness_attach", args=[computed.pk]), follow=True)
    assert "already attached" in again.content.decode()
    assert Evidence.objects.filter(item=art10).count() == 1


def test_without_an_art10_item_the_owner_is_told_to_classify_first(client, member, computed):
    client.force_login(member)
    response = client.post(reverse("assurance:fairness_attach", args=[computed.pk]), follow=True)
    assert "has no Art. 10" in response.content.decode()
    assert FairnessCheck.objects.get(pk=computed.pk).evidence_attached_at is None


def test_a_pending_run_cannot_be_attached(system, member, art10):
    check = services.fairness_check_upload(system=system, acting_user=member, data=predictions_csv(), **MAPPING)
    with pytest.raises(InvalidTransition):
        services.fairness_check_attach_evidence(check=check, acting_user=member)
    assert not Evidence.objects.exists()


def test_attach_through_the_api(member, art10, computed):
    from rest_framework.test import APIClient

    from tests.factories import make_api_key

    _, raw = make_api_key(hub=computed.hub, user=member, scope="write")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    url = f"/api/v1/assurance/fairness-checks/{computed.pk}/attach-evidence/"
    assert client.post(url).status_code == 200
    assert client.post(url).status_code == 409
    assert Evidence.objects.filter(item=art10).count() == 1


def test_drift_is_announced_on_the_event_bus_after_commit(system, member, board, django_capture_on_commit_callbacks):
    received = []
    handler = events.listen(received.append)
    try:
        reference = services.reference_upload(system=system, acting_user=member, data=reference_csv(), name="Ref")
        services.reference_submit(reference=reference, acting_user=member)
        anchor = services.reference_sign_off(reference=reference, acting_user=board)
        data = reference_csv(seed=3, n=300, shift=8)
        with django_capture_on_commit_callbacks(execute=True):
            batch, _ = services.drift_batch_create(
                anchor=anchor, acting_user=member, table=csvio.read_csv(data), data_sha256=services.sha256(data)
            )
    finally:
        events._listeners.remove(handler)
    drift_events = [e for e in received if e.type == "drift.detected"]
    assert len(drift_events) == 1
    assert drift_events[0].hub_id == system.hub_id
    assert drift_events[0].payload["batch"]["id"] == batch.pk
    assert set(drift_events[0].payload["drifted_columns"]) == {"density", "age"}
