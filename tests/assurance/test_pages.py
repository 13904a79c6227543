"""The fairness and drift pages as users see them."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from compliance.assurance import services
from compliance.assurance.models import DriftBatch, FairnessCheck, ReferenceDataset, ReferenceStatus, RunStatus
from hubs.models import Role
from tests.conftest import verified_user
from tests.factories import MembershipFactory

from .conftest import MAPPING, make_system, predictions_csv, reference_csv


def fairness_post(data, **overrides):
    form = {
        "name": "Validation 2026",
        "label_column": MAPPING["label_column"],
        "prediction_column": MAPPING["prediction_column"],
        "score_column": MAPPING["score_column"],
        "sensitive_columns": "sex, age_band",
        "max_parity_difference": "0.1",
        "min_parity_ratio": "0.8",
        "max_equalized_odds_difference": "0.1",
        "max_equal_opportunity_difference": "0.1",
        "file": SimpleUploadedFile("preds.csv", data, content_type="text/csv"),
    }
    form.update(overrides)
    return form


@pytest.fixture
def owner_client(client, member):
    client.force_login(member)
    return client


def test_owner_uploads_predictions_and_sees_charts_and_verdict(
    owner_client, system, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            reverse("assurance:fairness_new", args=[system.pk]), fairness_post(predictions_csv(bias=0.6))
        )
    check = FairnessCheck.objects.get()
    assert response.status_code == 302
    assert response["Location"] == check.get_absolute_url()
    page = owner_client.get(check.get_absolute_url())
    html = page.content.decode()
    assert page.status_code == 200
    assert "Failed thresholds" in html
    assert html.count("<svg") == 3 * 4  # sex, age band and their intersection; four metrics each
    assert "Selection rate by group: sex" in html
    assert "✗ fail" in html
    history = owner_client.get(reverse("assurance:fairness_list", args=[system.pk])).content.decode()
    assert "Validation 2026" in history


@pytest.mark.parametrize(
    ("data", "overrides", "message"),
    [
        (None, {"label_column": "truth"}, "Column &#x27;truth&#x27; (true label) is not in the file"),
        (
            b"label,prediction,score,sex,age_band\n1,yes,0.5,f,a\n0,maybe,0.5,m,b\n",
            {},
            "must be binary (0/1, true/false or yes/no), but line 3 has &#x27;maybe&#x27;",
        ),
        (
            None,
            {"expected_groups": "sex: female, male, diverse"},
            "Group &#x27;diverse&#x27; of column &#x27;sex&#x27; has no rows",
        ),
        ("label,prediction,score,sex,age_band\n1,1,0.5,\u00e9,a\n".encode("cp1252"), {}, "not UTF-8"),
    ],
)
def test_bad_uploads_say_what_is_wrong_and_store_nothing(owner_client, system, data, overrides, message):
    response = owner_client.post(
        reverse("assurance:fairness_new", args=[system.pk]), fairness_post(data or predictions_csv(), **overrides)
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert FairnessCheck.objects.count() == 0


def test_a_file_over_the_limit_is_refused_before_reading(owner_client, system, settings):
    settings.ASSURANCE_MAX_UPLOAD_BYTES = 1024
    response = owner_client.post(
        reverse("assurance:fairness_new", args=[system.pk]), fairness_post(predictions_csv(n=200))
    )
    assert "the limit is 1 KB" in response.content.decode()
    assert FairnessCheck.objects.count() == 0


def test_pages_of_another_hubs_system_are_not_found(client, other_staff, system, member):
    client.force_login(other_staff)
    check = services.fairness_check_upload(system=system, acting_user=member, data=predictions_csv(), **MAPPING)
    for url in (
        reverse("assurance:fairness_list", args=[system.pk]),
        reverse("assurance:fairness_new", args=[system.pk]),
        reverse("assurance:drift_home", args=[system.pk]),
        reverse("assurance:reference_new", args=[system.pk]),
        check.get_absolute_url(),
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("assurance:fairness_attach", args=[check.pk])).status_code == 404


def test_a_plain_member_of_the_hub_does_not_see_someone_elses_results(client, hub, system, member):
    # Regression: any active member of the hub read every system's fairness checks, reference
    # data and batches, while compliance shows a system only to its owner, teams, the hub's staff
    # and its ethics board. The results are the system's evidence: the same people see them.
    neighbour = verified_user(name="Nico Neighbour")
    MembershipFactory(user=neighbour, hub=hub, role=Role.MEMBER)
    check = services.fairness_check_upload(system=system, acting_user=member, data=predictions_csv(), **MAPPING)
    client.force_login(neighbour)
    for url in (
        reverse("assurance:fairness_list", args=[system.pk]),
        reverse("assurance:drift_home", args=[system.pk]),
        check.get_absolute_url(),
        f"/api/v1/assurance/fairness-checks/{check.pk}/",
    ):
        assert client.get(url).status_code == 404, url
    assert system.name not in client.get(reverse("assurance:index")).content.decode()
    assert client.get("/api/v1/assurance/fairness-checks/").json()["count"] == 0


def test_reference_upload_profile_submit_and_board_sign_off(client, member, board, system):
    client.force_login(member)
    response = client.post(
        reverse("assurance:reference_new", args=[system.pk]),
        {
            "name": "Validation data",
            "description": "2025 screening",
            "psi_threshold": "0.1",
            "alpha": "0.05",
            "js_threshold": "0.1",
            "file": SimpleUploadedFile("ref.csv", reference_csv()),
        },
    )
    reference = ReferenceDataset.objects.get()
    assert response["Location"] == reference.get_absolute_url()
    html = client.get(reference.get_absolute_url()).content.decode()
    assert "Distribution of density" in html
    assert "Frequencies of site" in html
    assert reference.data_sha256 in html
    client.post(reverse("assurance:reference_submit", args=[reference.pk]))
    client.force_login(board)
    page = client.get(reference.get_absolute_url()).content.decode()
    assert 'data-testid="decision-form"' in page
    client.post(reverse("assurance:reference_decide", args=[reference.pk]), {"decision": "sign_off", "note": "Fine"})
    reference.refresh_from_db()
    assert reference.status == ReferenceStatus.SIGNED_OFF
    html = client.get(reference.get_absolute_url()).content.decode()
    assert 'data-testid="integrity">verified' in html
    assert "cannot be edited or deleted" in html
    # deleting through the page is refused
    client.force_login(member)
    response = client.post(reverse("assurance:reference_delete", args=[reference.pk]), follow=True)
    assert "cannot be changed" in response.content.decode()
    assert ReferenceDataset.objects.filter(pk=reference.pk).exists()


def test_drift_page_shows_the_trend_over_batches(client, member, board, system, django_capture_on_commit_callbacks):
    reference = services.reference_upload(system=system, acting_user=member, data=reference_csv(), name="Ref")
    services.reference_submit(reference=reference, acting_user=member)
    services.reference_sign_off(reference=reference, acting_user=board)
    client.force_login(member)
    for week, shift in ((1, 0), (2, 3), (3, 9)):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                reverse("assurance:batch_new", args=[system.pk]),
                {
                    "label": f"Week {week}",
                    "file": SimpleUploadedFile("b.csv", reference_csv(seed=week, n=300, shift=shift)),
                },
            )
        assert response.status_code == 302
    assert DriftBatch.objects.filter(status=RunStatus.DONE).count() == 3
    html = client.get(reverse("assurance:drift_home", args=[system.pk])).content.decode()
    assert "PSI per column over the batches" in html
    assert "Drift detected" in html
    batch = DriftBatch.objects.get(label="Week 3")
    detail = client.get(batch.get_absolute_url()).content.decode()
    assert "share of rows per bin" in detail
    assert "Kolmogorov" in detail


def test_batch_list_queries_do_not_grow(client, member, board, system, django_assert_max_num_queries):
    reference = services.reference_upload(system=system, acting_user=member, data=reference_csv(), name="Ref")
    services.reference_submit(reference=reference, acting_user=member)
    anchor = services.reference_sign_off(reference=reference, acting_user=board)
    from compliance.assurance import csvio

    for i in range(6):
        data = reference_csv(seed=i, n=50)
        services.drift_batch_create(
            anchor=anchor,
            acting_user=member,
            table=csvio.read_csv(data),
            data_sha256=services.sha256(data),
            label=f"B{i}",
        )
        services.fairness_check_upload(system=system, acting_user=member, data=predictions_csv(seed=i, n=60), **MAPPING)
    client.force_login(member)
    # 13 at most: the viewer's ethics-board seats are one of them (compliance's system scope).
    with django_assert_max_num_queries(13):
        assert client.get(reverse("assurance:drift_home", args=[system.pk])).status_code == 200
    with django_assert_max_num_queries(9):
        assert client.get(reverse("assurance:fairness_list", args=[system.pk])).status_code == 200
    for i in range(5):
        make_system(system.hub, member, name=f"System {i}")
    with django_assert_max_num_queries(8):
        assert client.get(reverse("assurance:index")).status_code == 200
