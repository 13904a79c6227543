"""API v1: fairness checks, reference data, trust anchors and partner drift batches."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from compliance.assurance import services
from compliance.assurance.models import DriftBatch, FairnessCheck, ReferenceDataset, RunStatus, TrustAnchor
from hubs.services import partner_system_create
from tests.factories import make_api_key

from .conftest import reference_columns, reference_csv


def bearer(raw):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def anchor(system, member, board):
    reference = services.reference_upload(system=system, acting_user=member, data=reference_csv(), name="Validation")
    services.reference_submit(reference=reference, acting_user=member)
    return services.reference_sign_off(reference=reference, acting_user=board, note="OK")


@pytest.fixture
def partner_key(hub, staff):
    partner = partner_system_create(hub=hub, name="Lyon model monitor", kind="monitoring", acting_user=staff)
    _, raw = make_api_key(hub=hub, partner=partner, scope="write", name="monitor")
    return raw


def rows(**kwargs):
    columns = reference_columns(**kwargs)
    names = list(columns)
    return [
        {n: (v.item() if hasattr(v, "item") else v) for n, v in zip(names, values, strict=True)}
        for values in zip(*(columns[n] for n in names), strict=True)
    ]


def test_partner_posts_a_batch_as_json_rows_and_reads_the_result(
    anchor, partner_key, django_capture_on_commit_callbacks
):
    client = bearer(partner_key)
    url = f"/api/v1/assurance/anchors/{anchor.pk}/batches/"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url, {"label": "Week 42", "external_id": "run-42", "rows": rows(seed=5, n=300, shift=8)}, format="json"
        )
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["partner"] == "Lyon model monitor"
    assert body["source"] == "api"
    detail = client.get(f"/api/v1/assurance/batches/{body['id']}/").json()
    assert detail["status"] == RunStatus.DONE
    assert detail["drifted"] is True
    assert {c["column"] for c in detail["columns"]} == {"density", "age", "site"}
    assert any("PSI" in r for c in detail["columns"] for r in c["reasons"])
    again = client.post(url, {"label": "Week 42", "external_id": "run-42", "rows": rows(seed=6, n=10)}, format="json")
    assert again.status_code == 200
    assert again.json()["id"] == body["id"]
    assert DriftBatch.objects.count() == 1


def test_partner_posts_a_csv_file(anchor, partner_key, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = bearer(partner_key).post(
            f"/api/v1/assurance/anchors/{anchor.pk}/batches/",
            {"label": "Week 43", "file": SimpleUploadedFile("w43.csv", reference_csv(seed=4, n=200))},
            format="multipart",
        )
    assert response.status_code == 202, response.json()
    assert DriftBatch.objects.get().status == RunStatus.DONE


def test_bad_batches_get_a_message_per_field_and_store_nothing(anchor, partner_key):
    client = bearer(partner_key)
    url = f"/api/v1/assurance/anchors/{anchor.pk}/batches/"
    missing = client.post(url, {"rows": [{"density": 1.0, "site": "lyon"}]}, format="json")
    assert missing.status_code == 400
    assert "lacks the anchor's column age" in missing.json()["rows"][0]
    ragged = client.post(
        url, {"rows": [{"density": 1, "age": 50, "site": "a"}, {"density": 2, "age": 51}]}, format="json"
    )
    assert ragged.json()["rows"] == ["Row 2 does not have the same fields as row 1 (missing site)."]
    bad_number = client.post(url, {"rows": [{"density": "dense", "age": 50, "site": "a"}]}, format="json")
    assert "row 1 has 'dense'" in bad_number.json()["rows"][0]
    latin = client.post(
        url,
        {"file": SimpleUploadedFile("b.csv", "density,age,site\n1,2,\u00e9\n".encode("latin-1"))},
        format="multipart",
    )
    assert "not UTF-8" in latin.json()["file"][0]
    nothing = client.post(url, {"label": "x"}, format="json")
    assert "rows" in nothing.json()
    assert DriftBatch.objects.count() == 0


def test_read_only_or_foreign_partner_keys_cannot_post(anchor, hub, other_hub, staff, other_staff):
    partner = partner_system_create(hub=hub, name="Read-only dashboard", kind="funder", acting_user=staff)
    _, read_only = make_api_key(hub=hub, partner=partner, scope="read")
    url = f"/api/v1/assurance/anchors/{anchor.pk}/batches/"
    assert bearer(read_only).post(url, {"rows": rows(n=5)}, format="json").status_code == 403
    assert bearer(read_only).get(url).status_code == 200
    foreign = partner_system_create(hub=other_hub, name="Helsinki monitor", kind="monitoring", acting_user=other_staff)
    _, foreign_key = make_api_key(hub=other_hub, partner=foreign, scope="write")
    assert bearer(foreign_key).post(url, {"rows": rows(n=5)}, format="json").status_code == 404
    assert bearer(foreign_key).get("/api/v1/assurance/anchors/").json()["count"] == 0
    assert DriftBatch.objects.count() == 0


def test_a_signed_reference_and_its_anchor_refuse_changes_through_the_api(anchor, member):
    _, raw = make_api_key(hub=anchor.hub, user=member, scope="write")
    client = bearer(raw)
    reference_url = f"/api/v1/assurance/references/{anchor.reference_id}/"
    response = client.patch(reference_url, {"name": "Renamed", "psi_threshold": 0.9}, format="json")
    assert response.status_code == 409
    assert "cannot be changed" in response.json()["detail"]
    assert client.delete(reference_url).status_code == 409
    anchor_url = f"/api/v1/assurance/anchors/{anchor.pk}/"
    for method in ("put", "patch", "delete"):
        assert getattr(client, method)(anchor_url, {"psi_threshold": 5}, format="json").status_code == 405
    reference = ReferenceDataset.objects.get(pk=anchor.reference_id)
    assert (reference.name, reference.psi_threshold) == ("Validation", 0.1)
    assert TrustAnchor.objects.get(pk=anchor.pk).psi_threshold == 0.1
    shown = client.get(anchor_url).json()
    assert shown["data_sha256"] == reference.data_sha256
    assert [c["name"] for c in shown["columns"]] == ["density", "age", "site"]


def test_reference_upload_submit_and_board_sign_off_through_the_api(system, member, board):
    _, owner_raw = make_api_key(hub=system.hub, user=member, scope="write")
    _, board_raw = make_api_key(hub=system.hub, user=board, scope="write")
    owner = bearer(owner_raw)
    created = owner.post(
        "/api/v1/assurance/references/",
        {"system": system.pk, "name": "March data", "file": SimpleUploadedFile("r.csv", reference_csv())},
        format="multipart",
    )
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]
    assert created.json()["profile"]["columns"][0]["kind"] == "numeric"
    assert (
        owner.patch(f"/api/v1/assurance/references/{pk}/", {"psi_threshold": 0.2}, format="json").json()[
            "psi_threshold"
        ]
        == 0.2
    )
    assert owner.post(f"/api/v1/assurance/references/{pk}/sign-off/", {}, format="json").status_code == 403
    assert owner.post(f"/api/v1/assurance/references/{pk}/submit/").status_code == 200
    signed = bearer(board_raw).post(f"/api/v1/assurance/references/{pk}/sign-off/", {"note": "ok"}, format="json")
    assert signed.status_code == 201
    assert signed.json()["psi_threshold"] == 0.2
    assert owner.post(f"/api/v1/assurance/references/{pk}/submit/").status_code == 409


def test_fairness_check_through_the_api(system, member, django_capture_on_commit_callbacks):
    _, raw = make_api_key(hub=system.hub, user=member, scope="write")
    client = bearer(raw)
    data = [{"y": i % 2, "p": (i // 2) % 2, "sex": "f" if i % 3 else "m"} for i in range(60)]
    payload = {
        "system": system.pk,
        "label_column": "y",
        "prediction_column": "p",
        "sensitive_columns": ["sex"],
        "rows": data,
        "min_parity_ratio": 0.5,
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/assurance/fairness-checks/", payload, format="json")
    assert response.status_code == 202, response.json()
    detail = client.get(f"/api/v1/assurance/fairness-checks/{response.json()['id']}/").json()
    assert detail["status"] == "done"
    assert detail["thresholds"]["min_parity_ratio"] == 0.5
    assert detail["results"]["analyses"][0]["name"] == "sex"
    bad = client.post("/api/v1/assurance/fairness-checks/", {**payload, "label_column": "truth"}, format="json")
    assert bad.status_code == 400
    assert "Column 'truth' (true label) is not in the rows" in bad.json()["label_column"][0]
    non_binary = [{**row, "y": 3} for row in data]
    bad = client.post("/api/v1/assurance/fairness-checks/", {**payload, "rows": non_binary}, format="json")
    assert "must be binary" in bad.json()["label_column"][0]
    assert FairnessCheck.objects.count() == 1


def test_other_hubs_staff_see_nothing(system, member, other_staff):
    services.fairness_check_upload(
        system=system,
        acting_user=member,
        data=b"y,p,s\n1,1,a\n0,1,b\n",
        label_column="y",
        prediction_column="p",
        sensitive_columns=["s"],
    )
    _, raw = make_api_key(hub=other_staff.memberships.get().hub, user=other_staff, scope="write")
    client = bearer(raw)
    assert client.get("/api/v1/assurance/fairness-checks/").json()["count"] == 0
    check = FairnessCheck.objects.get()
    assert client.get(f"/api/v1/assurance/fairness-checks/{check.pk}/").status_code == 404
    response = client.post(
        "/api/v1/assurance/fairness-checks/",
        {
            "system": system.pk,
            "label_column": "y",
            "prediction_column": "p",
            "sensitive_columns": ["s"],
            "rows": [{"y": 1, "p": 1, "s": "a"}],
        },
        format="json",
    )
    assert response.status_code == 404


def test_lists_do_not_grow_in_queries(anchor, member, partner_key, django_assert_max_num_queries):
    from compliance.assurance import csvio

    for i in range(6):
        data = reference_csv(seed=i, n=40)
        services.drift_batch_create(
            anchor=anchor,
            acting_user=member,
            table=csvio.read_csv(data),
            data_sha256=services.sha256(data),
            label=f"B{i}",
        )
        services.fairness_check_upload(
            system=anchor.system,
            acting_user=member,
            data=b"y,p,s\n1,1,a\n0,1,b\n",
            label_column="y",
            prediction_column="p",
            sensitive_columns=["s"],
        )
    client = bearer(partner_key)
    with django_assert_max_num_queries(6):
        assert client.get(f"/api/v1/assurance/anchors/{anchor.pk}/batches/").json()["count"] == 6
    with django_assert_max_num_queries(6):
        assert client.get("/api/v1/assurance/fairness-checks/").json()["count"] == 6
    with django_assert_max_num_queries(6):
        assert client.get("/api/v1/assurance/anchors/").json()["count"] == 1
    with django_assert_max_num_queries(6):
        assert client.get("/api/v1/assurance/references/").json()["count"] == 1
