"""Assurance: fairness checks, reference data signed off as trust anchors, drift batches.

As ``compliance.assurance.access`` puts it: the system's readers in compliance (owner, teams, the
hub's staff and board, the hub's partner key; not every member of the hub) see its checks,
references and batches; its owner (``member_a`` owns hub A's system) and the hub's staff run checks and upload
data; the hub's ethics board (``reviewer_a``) signs reference data off; the hub's partner key
reads and sends drift batches.
"""

import csv
import io

from django.core.files.uploadedfile import SimpleUploadedFile

from compliance.assurance.models import DriftBatch, FairnessCheck, ReferenceDataset, ReferenceStatus
from tests.assurance.conftest import MAPPING, predictions_csv, reference_csv

from .matrix import OWNER_AND_STAFF, STAFF_OF_HUB, api, listing, page

READERS = {
    "default": "nn",
    "member_a": "yn",
    "member_b": "ny",
    "reviewer_a": "yn",
    "staff_a": "yn",
    "staff_b": "ny",
    "superuser": "yy",
}
READERS_API = {**READERS, "personal": "yn", "partner_a": "yn"}
MANAGERS = OWNER_AND_STAFF
MANAGERS_API = {**OWNER_AND_STAFF, "personal": "yn"}
BATCH_SENDERS = {**MANAGERS_API, "partner_a": "yn"}
BOARD = {"default": "nn", "reviewer_a": "yn"}
# Someone else's system at the hub: as compliance has it, not for a plain member of the hub.
OTHERS_READERS = {**STAFF_OF_HUB, "reviewer_a": "yn"}
OTHERS_READERS_API = {**OTHERS_READERS, "partner_a": "yn"}


def pk(name):
    return lambda w, s: {"pk": getattr(s, name).pk}


def system_id(w, s):
    return {"system_id": s.system.pk}


def rows(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def upload(name, data):
    return SimpleUploadedFile(name, data, content_type="text/csv")


def checked(w, s):
    return FairnessCheck.objects.filter(system=s.system, name="Matrix check").exists()


def attached(w, s):
    return FairnessCheck.objects.get(pk=s.fairness.pk).evidence_attached_at is not None


def reference_made(w, s):
    return ReferenceDataset.objects.filter(system=s.system, name="Matrix reference").exists()


def reference_status(name, status):
    return lambda w, s: ReferenceDataset.objects.get(pk=getattr(s, name).pk).status == status


def reference_gone(w, s):
    return not ReferenceDataset.objects.filter(pk=s.draft_reference.pk).exists()


def reference_renamed(w, s):
    return ReferenceDataset.objects.get(pk=s.draft_reference.pk).name == "Renamed reference"


def batch_made(w, s):
    return DriftBatch.objects.filter(anchor=s.anchor, label="Matrix batch").exists()


def fairness_form(w, s):
    return {
        "name": "Matrix check",
        "file": upload("predictions.csv", predictions_csv()),
        "label_column": "label",
        "prediction_column": "prediction",
        "score_column": "score",
        "sensitive_columns": "sex, age_band",
        "max_parity_difference": 0.1,
        "min_parity_ratio": 0.8,
        "max_equalized_odds_difference": 0.1,
        "max_equal_opportunity_difference": 0.1,
    }


def reference_form(w, s):
    return {
        "name": "Matrix reference",
        "description": "",
        "file": upload("reference.csv", reference_csv()),
        "psi_threshold": 0.1,
        "alpha": 0.05,
        "js_threshold": 0.1,
    }


def batch_form(w, s):
    return {"label": "Matrix batch", "file": upload("batch.csv", reference_csv(seed=2))}


ROWS = [
    # --- Pages ---------------------------------------------------------------------------------------
    page("GET", "assurance:index", **listing(READERS), marker=lambda w, s: s.system.name),
    page("GET", "assurance:fairness_list", **READERS, args=system_id),
    page(
        "GET",
        "assurance:index",
        **listing(OTHERS_READERS),
        variant="someone else's",
        marker=lambda w, s: s.other_system.name,
    ),
    page(
        "GET",
        "assurance:fairness_list",
        **OTHERS_READERS,
        variant="someone else's",
        args=lambda w, s: {"system_id": s.other_system.pk},
    ),
    page("GET", "assurance:fairness_detail", **OTHERS_READERS, variant="someone else's", args=pk("other_fairness")),
    page("GET", "assurance:fairness_new", **MANAGERS, args=system_id),
    page("POST", "assurance:fairness_new", **MANAGERS, args=system_id, data=fairness_form, effect=checked),
    page("GET", "assurance:fairness_detail", **READERS, args=pk("fairness")),
    page("POST", "assurance:fairness_attach", **MANAGERS, args=pk("fairness"), effect=attached),
    page("GET", "assurance:drift_home", **READERS, args=system_id),
    page("GET", "assurance:reference_new", **MANAGERS, args=system_id),
    page("POST", "assurance:reference_new", **MANAGERS, args=system_id, data=reference_form, effect=reference_made),
    page("GET", "assurance:reference_detail", **READERS, args=pk("draft_reference")),
    page(
        "POST",
        "assurance:reference_submit",
        **MANAGERS,
        args=pk("draft_reference"),
        effect=reference_status("draft_reference", ReferenceStatus.SUBMITTED),
    ),
    page(
        "POST",
        "assurance:reference_decide",
        **BOARD,
        args=pk("submitted_reference"),
        data={"decision": "sign_off", "note": "Representative."},
        effect=reference_status("submitted_reference", ReferenceStatus.SIGNED_OFF),
        note="only the hub's ethics board signs reference data off",
    ),
    page("POST", "assurance:reference_delete", **MANAGERS, args=pk("draft_reference"), effect=reference_gone),
    page("GET", "assurance:batch_new", **MANAGERS, args=system_id),
    page("POST", "assurance:batch_new", **MANAGERS, args=system_id, data=batch_form, effect=batch_made),
    page("GET", "assurance:batch_detail", **READERS, args=pk("batch")),
    # --- API: fairness -------------------------------------------------------------------------------
    api("GET", "api-fairness-list", **listing(READERS_API), marker=lambda w, s: s.fairness.name),
    api(
        "POST",
        "api-fairness-list",
        **MANAGERS_API,
        data=lambda w, s: {"system": s.system.pk, "name": "Matrix check", "rows": rows(predictions_csv()), **MAPPING},
        effect=checked,
        note="a partner key only sends drift batches",
    ),
    api("GET", "api-fairness-detail", **READERS_API, args=pk("fairness")),
    api(
        "GET",
        "api-fairness-list",
        **listing(OTHERS_READERS_API),
        variant="someone else's",
        marker=lambda w, s: s.other_fairness.name,
    ),
    api("GET", "api-fairness-detail", **OTHERS_READERS_API, variant="someone else's", args=pk("other_fairness")),
    api("POST", "api-fairness-attach", **MANAGERS_API, args=pk("fairness"), effect=attached),
    # --- API: reference data and trust anchors -------------------------------------------------------
    api("GET", "api-reference-list", **listing(READERS_API), marker=lambda w, s: s.draft_reference.name),
    api(
        "POST",
        "api-reference-list",
        **MANAGERS_API,
        data=lambda w, s: {"system": s.system.pk, **reference_form(w, s)},
        effect=reference_made,
    ),
    api("GET", "api-reference-detail", **READERS_API, args=pk("draft_reference")),
    api(
        "PATCH",
        "api-reference-detail",
        **MANAGERS_API,
        args=pk("draft_reference"),
        data={"name": "Renamed reference"},
        effect=reference_renamed,
    ),
    api("DELETE", "api-reference-detail", **MANAGERS_API, args=pk("draft_reference"), effect=reference_gone),
    api(
        "POST",
        "api-reference-submit",
        **MANAGERS_API,
        args=pk("draft_reference"),
        effect=reference_status("draft_reference", ReferenceStatus.SUBMITTED),
    ),
    api(
        "POST",
        "api-reference-sign-off",
        **BOARD,
        args=pk("submitted_reference"),
        data={"note": "Representative."},
        effect=reference_status("submitted_reference", ReferenceStatus.SIGNED_OFF),
    ),
    api(
        "POST",
        "api-reference-reject",
        **BOARD,
        args=pk("submitted_reference"),
        data={"note": "Too small."},
        effect=reference_status("submitted_reference", ReferenceStatus.REJECTED),
    ),
    api("GET", "api-anchor-list", **listing(READERS_API), marker=lambda w, s: s.anchor_reference.name),
    api("GET", "api-anchor-detail", **READERS_API, args=pk("anchor")),
    api("GET", "api-anchor-batches", **READERS_API, args=pk("anchor")),
    api(
        "POST",
        "api-anchor-batches",
        **BATCH_SENDERS,
        args=pk("anchor"),
        data={"label": "Matrix batch", "external_id": "matrix-1", "rows": rows(reference_csv(seed=2))},
        effect=batch_made,
    ),
    api("GET", "api-batch-detail", **READERS_API, args=pk("batch")),
]
