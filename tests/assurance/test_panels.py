"""The panel and the dossier section other pages include, and the live status of a pending run."""

from django.template.loader import render_to_string

from compliance.assurance import csvio, selectors, services
from compliance.assurance.models import RunStatus

from .conftest import MAPPING, predictions_csv, reference_csv


def ready(system, member, board):
    check = services.fairness_check_upload(
        system=system, acting_user=member, data=predictions_csv(bias=0.6), name="Q3 validation", **MAPPING
    )
    services.fairness_check_compute(check_id=check.pk)
    reference = services.reference_upload(system=system, acting_user=member, data=reference_csv(), name="Ref 2025")
    services.reference_submit(reference=reference, acting_user=member)
    anchor = services.reference_sign_off(reference=reference, acting_user=board)
    data = reference_csv(seed=7, n=300, shift=8)
    batch, _ = services.drift_batch_create(
        anchor=anchor, acting_user=member, table=csvio.read_csv(data), data_sha256=services.sha256(data), label="W9"
    )
    services.drift_batch_compute(batch_id=batch.pk)
    return check, anchor, batch


def test_empty_panel_and_dossier_say_so(system):
    panel = render_to_string("assurance/_system_panel.html", {"system": system})
    assert "None yet." in panel
    assert "No signed-off reference data yet." in panel
    dossier = render_to_string("assurance/_dossier_section.html", {"system": system})
    assert "No fairness check has been computed" in dossier
    assert "No reference data has been signed off" in dossier


def test_panel_and_dossier_show_the_latest_results(system, member, board, django_assert_max_num_queries):
    check, anchor, batch = ready(system, member, board)
    with django_assert_max_num_queries(10):
        summary = selectors.dossier_summary(system)
    assert summary["fairness"] == check
    assert summary["anchor"] == anchor
    assert summary["drift"] == batch
    assert summary["drift_alerts"] == 1
    panel = render_to_string("assurance/_system_panel.html", {"system": system})
    assert "Q3 validation" in panel
    assert "Failed thresholds" in panel
    assert "Drift detected" in panel
    assert "Ref 2025" in panel
    dossier = render_to_string("assurance/_dossier_section.html", {"system": system})
    assert anchor.data_sha256 in dossier
    assert "Demographic parity difference" in dossier
    assert ">fail<" in dossier
    assert "density" in dossier


def test_a_pending_run_polls_and_a_finished_one_refreshes_the_page(client, member, system):
    check = services.fairness_check_upload(system=system, acting_user=member, data=predictions_csv(), **MAPPING)
    client.force_login(member)
    url = check.get_absolute_url() + "?part=status"
    pending = client.get(url, headers={"HX-Request": "true"})
    assert 'hx-trigger="every 2s"' in pending.content.decode()
    assert "<html" not in pending.content.decode()
    services.fairness_check_compute(check_id=check.pk)
    done = client.get(url, headers={"HX-Request": "true"})
    assert done["HX-Refresh"] == "true"
    check.refresh_from_db()
    assert check.status == RunStatus.DONE
