"""Every write of the assurance app: fairness checks, reference data and its sign-off, drift batches.

Uploads are read and checked completely before anything is written: a rejected file raises a
``ValidationError`` naming the field, column, row or limit, and leaves no row behind. The worker
computes (``tasks.py``); each compute service locks its row and does nothing if the work is already
done, so a task that runs twice changes nothing.

A signed-off reference dataset and its ``TrustAnchor`` are immutable: the services here refuse
(``InvalidTransition``), the admin shows them read-only, the API answers 409, and on the database
triggers refuse UPDATE and DELETE (migration 0002).
"""

import hashlib
import json
import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from gigafactory.audit import audit_record
from gigafactory.errors import InvalidTransition
from gigafactory.events import emit
from hubs.models import STAFF_ROLES, MembershipStatus
from hubs.services import notify

from . import access, csvio, drift, fairness
from .models import (
    BatchSource,
    DriftBatch,
    DriftColumnResult,
    FairnessCheck,
    ReferenceDataset,
    ReferenceStatus,
    RunStatus,
    TrustAnchor,
)

log = logging.getLogger(__name__)

WORKER_LABEL = "assurance worker"
FAIRNESS_THRESHOLD_FIELDS = {
    "max_parity_difference": "demographic_parity_difference",
    "min_parity_ratio": "demographic_parity_ratio",
    "max_equalized_odds_difference": "equalized_odds_difference",
    "max_equal_opportunity_difference": "equal_opportunity_difference",
}
DRIFT_THRESHOLD_FIELDS = ("psi_threshold", "alpha", "js_threshold")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_json(value) -> bytes:
    """The bytes a profile is hashed as: sorted keys, no spaces, so a stored profile re-hashes the same."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def absolute_url(path: str) -> str:
    return settings.SITE_URL + path


def _staff_of(hub):
    from hubs.models import User

    return User.objects.filter(
        memberships__hub=hub, memberships__status=MembershipStatus.ACTIVE, memberships__role__in=STAFF_ROLES
    ).distinct()


def _system_people(system):
    """Who hears about a system's monitoring: its owner and the hub's staff."""
    people = {system.owner_id: system.owner}
    for user in _staff_of(system.hub):
        people.setdefault(user.pk, user)
    return [u for u in people.values() if u.is_active]


# --- Fairness ----------------------------------------------------------------------------------


def _float_field(value, field_name: str, default: float, *, low: float, high: float) -> float:
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        csvio.fail(field_name, f"Enter a number between {low:g} and {high:g}.")
    if not low <= number <= high:
        csvio.fail(field_name, f"Enter a number between {low:g} and {high:g} (got {number:g}).")
    return number


def fairness_thresholds(values: dict | None) -> dict:
    """The four thresholds from user input (defaults where missing), each checked to lie in [0, 1]."""
    values = values or {}
    defaults = fairness.Thresholds()
    return {
        field_name: _float_field(values.get(field_name), field_name, getattr(defaults, metric), low=0, high=1)
        for field_name, metric in FAIRNESS_THRESHOLD_FIELDS.items()
    }


def fairness_inputs(
    table: csvio.Table,
    *,
    label_column: str,
    prediction_column: str,
    score_column: str = "",
    sensitive_columns: list[str],
    positive_label: str = "",
    expected_groups: dict[str, list[str]] | None = None,
) -> dict:
    """The mapped columns of ``table``, checked and normalised; raises naming the column and row."""
    sensitive_columns = [c.strip() for c in sensitive_columns if c and c.strip()]
    if not sensitive_columns:
        csvio.fail("sensitive_columns", "Choose at least one sensitive attribute column (e.g. sex or age band).")
    if len(sensitive_columns) > 4:
        csvio.fail("sensitive_columns", "Choose at most 4 sensitive attribute columns.")
    csvio.check_distinct(
        [
            ("true label", label_column),
            ("predicted label", prediction_column),
            ("score", score_column),
            *(("sensitive attribute", c) for c in sensitive_columns),
        ],
        field_name="sensitive_columns",
    )
    y_true = csvio.binary_column(
        table, label_column, role="true label", field_name="label_column", positive=positive_label
    )
    y_pred = csvio.binary_column(
        table, prediction_column, role="predicted label", field_name="prediction_column", positive=positive_label
    )
    scores = csvio.number_column(table, score_column, role="score", field_name="score_column") if score_column else None
    expected_groups = expected_groups or {}
    groups = {
        name: csvio.group_column(table, name, field_name="sensitive_columns", expected=expected_groups.get(name, ()))
        for name in sensitive_columns
    }
    return {"y_true": y_true, "y_pred": y_pred, "score": scores, "sensitive": groups}


@transaction.atomic
def fairness_check_create(
    *,
    system,
    acting_user,
    table: csvio.Table,
    file_sha256: str,
    file_name: str = "",
    name: str = "",
    label_column: str,
    prediction_column: str,
    score_column: str = "",
    sensitive_columns: list[str],
    positive_label: str = "",
    expected_groups: dict[str, list[str]] | None = None,
    thresholds: dict | None = None,
    api_key=None,
) -> FairnessCheck:
    """Check the mapping and the data, store the run as pending and hand it to the worker."""
    access.require_manage(acting_user, system, api_key)
    limits = fairness_thresholds(thresholds)
    inputs = fairness_inputs(
        table,
        label_column=label_column,
        prediction_column=prediction_column,
        score_column=score_column,
        sensitive_columns=sensitive_columns,
        positive_label=positive_label,
        expected_groups=expected_groups,
    )
    check = FairnessCheck.objects.create(
        system=system,
        hub=system.hub,
        name=name.strip()[:200],
        file_name=file_name[:255],
        file_sha256=file_sha256,
        row_count=table.row_count,
        label_column=label_column,
        prediction_column=prediction_column,
        score_column=score_column,
        sensitive_columns=list(inputs["sensitive"]),
        positive_label=positive_label,
        inputs=inputs,
        created_by=acting_user if acting_user.is_authenticated else None,
        **limits,
    )
    audit_record(
        check,
        "fairness.uploaded",
        actor=acting_user,
        hub=system.hub,
        after={"system": system.pk, "rows": check.row_count, "sha256": file_sha256, **limits},
    )
    _enqueue("compute_fairness_check", check.pk)
    return check


def fairness_check_upload(*, system, acting_user, data: bytes, file_name: str = "", api_key=None, **mapping):
    """A CSV upload: read it (UTF-8, size, shape), then ``fairness_check_create``."""
    table = csvio.read_csv(data, field_name="file")
    return fairness_check_create(
        system=system,
        acting_user=acting_user,
        table=table,
        file_sha256=sha256(data),
        file_name=file_name,
        api_key=api_key,
        **mapping,
    )


def fairness_check_compute(*, check_id: int) -> FairnessCheck | None:
    """Worker: compute a pending run. Already done (or gone): nothing happens."""
    with transaction.atomic():
        check = FairnessCheck.objects.select_for_update().select_related("system", "hub").filter(pk=check_id).first()
        if check is None or check.status != RunStatus.PENDING:
            return check
        inputs = check.inputs
        try:
            report = fairness.evaluate(
                inputs["y_true"],
                inputs["y_pred"],
                inputs["sensitive"],
                scores=inputs.get("score"),
                thresholds=fairness.Thresholds.from_dict(check.thresholds),
            )
        except (ValueError, KeyError, TypeError) as exc:
            check.status, check.error = RunStatus.FAILED, f"The computation failed: {exc}"
            check.save(update_fields=["status", "error"])
            audit_record(check, "fairness.failed", actor_label=WORKER_LABEL, after={"error": check.error})
            return check
        check.results = report
        check.passed = report["passed"]
        check.status = RunStatus.DONE
        check.computed_at = timezone.now()
        check.save(update_fields=["results", "passed", "status", "computed_at"])
        audit_record(
            check,
            "fairness.computed",
            actor_label=WORKER_LABEL,
            after={"passed": check.passed, "failed_checks": report["failed_checks"]},
        )
        if check.created_by_id:
            outcome = {True: "passed its thresholds", False: "failed a threshold", None: "could not be judged"}
            notify(
                users=[check.created_by],
                kind="fairness.computed",
                title=f"Fairness check of {check.system}: {outcome[check.passed]}",
                body="\n".join(report["failed_checks"]) or "Every disparity is within the thresholds you set.",
                url=check.get_absolute_url(),
                dedupe_key=f"fairness-computed-{check.pk}",
            )
    return check


def _art10_item(system):
    from compliance.selectors import checklist_item_for_article

    return checklist_item_for_article(system, "Art. 10")


@transaction.atomic
def fairness_check_attach_evidence(*, check: FairnessCheck, acting_user, api_key=None) -> FairnessCheck:
    """Link a computed run as test evidence to the system's Art. 10 (data governance) checklist item."""
    from compliance.services import evidence_link_add

    system = check.system
    access.require_manage(acting_user, system, api_key)
    if check.status != RunStatus.DONE:
        raise InvalidTransition(check, "attach", "Only a computed fairness check can be attached as evidence.")
    item = _art10_item(system)
    if item is None:
        raise ValidationError(
            "This system's checklist has no Art. 10 (data and data governance) item. "
            "Classify the system first; Art. 10 applies to high-risk systems."
        )
    won = FairnessCheck.objects.filter(pk=check.pk, evidence_attached_at__isnull=True).update(
        evidence_attached_at=timezone.now()
    )
    if won != 1:
        raise InvalidTransition(check, "attach", "This fairness check is already attached as evidence.")
    verdict = {True: "passed", False: "failed", None: "not computable"}[check.passed]
    evidence_link_add(
        item=item,
        label=f"Fairness check '{check}' ({check.computed_at:%Y-%m-%d}, {verdict})"[:200],
        url=check.get_absolute_url(),
        acting_user=acting_user,
        evidence_type="TEST",
    )
    audit_record(check, "fairness.attached", actor=acting_user, hub=system.hub, after={"item": item.pk})
    check.refresh_from_db()
    return check


# --- Reference data and trust anchors ---------------------------------------------------------


def drift_thresholds(values: dict | None) -> dict:
    values = values or {}
    defaults = drift.DriftThresholds()
    return {
        "psi_threshold": _float_field(values.get("psi_threshold"), "psi_threshold", defaults.psi, low=0.001, high=10),
        "alpha": _float_field(values.get("alpha"), "alpha", defaults.alpha, low=0.0001, high=0.5),
        "js_threshold": _float_field(
            values.get("js_threshold"), "js_threshold", defaults.jensen_shannon, low=0.001, high=1
        ),
    }


def profile_of(table: csvio.Table) -> dict:
    return drift.profile_table(table.columns, table.values)


@transaction.atomic
def reference_upload(
    *,
    system,
    acting_user,
    data: bytes,
    file_name: str = "",
    name: str,
    description: str = "",
    thresholds: dict | None = None,
    api_key=None,
) -> ReferenceDataset:
    """Store reference data (a CSV) with its profile as a draft."""
    access.require_manage(acting_user, system, api_key)
    if not name.strip():
        csvio.fail("name", "Give the reference data a name, e.g. 'Validation set, March 2026'.")
    limits = drift_thresholds(thresholds)
    table = csvio.read_csv(data, field_name="file")
    profile = profile_of(table)
    reference = ReferenceDataset.objects.create(
        system=system,
        hub=system.hub,
        name=name.strip()[:200],
        description=description,
        file_name=file_name[:255],
        data=data,
        data_sha256=sha256(data),
        row_count=table.row_count,
        profile=profile,
        profile_sha256=sha256(canonical_json(profile)),
        created_by=acting_user,
        **limits,
    )
    audit_record(
        reference,
        "reference.uploaded",
        actor=acting_user,
        hub=system.hub,
        after={"rows": reference.row_count, "data_sha256": reference.data_sha256, **limits},
    )
    return reference


def _refuse_if_frozen(reference, action):
    if reference.status == ReferenceStatus.SIGNED_OFF:
        raise InvalidTransition(
            reference,
            action,
            f"'{reference}' is signed off: it is a trust anchor and cannot be changed. Upload new reference data "
            "and have it signed off to replace it.",
        )


def _locked(reference) -> ReferenceDataset:
    return ReferenceDataset.objects.select_for_update().select_related("system", "hub").get(pk=reference.pk)


@transaction.atomic
def reference_update(*, reference, acting_user, api_key=None, **changes) -> ReferenceDataset:
    """Change the name, description or thresholds of reference data that is not signed off."""
    reference = _locked(reference)
    _refuse_if_frozen(reference, "change")
    access.require_manage(acting_user, reference.system, api_key)
    if reference.status == ReferenceStatus.SUBMITTED:
        raise InvalidTransition(reference, "change", "The board is reviewing this reference data; withdraw it first.")
    before = {"name": reference.name, **{f: getattr(reference, f) for f in DRIFT_THRESHOLD_FIELDS}}
    if "name" in changes:
        if not str(changes["name"]).strip():
            csvio.fail("name", "The name cannot be empty.")
        reference.name = str(changes["name"]).strip()[:200]
    if "description" in changes:
        reference.description = changes["description"]
    limits = drift_thresholds({f: changes.get(f, getattr(reference, f)) for f in DRIFT_THRESHOLD_FIELDS})
    for field_name, value in limits.items():
        setattr(reference, field_name, value)
    reference.save()
    audit_record(reference, "reference.changed", actor=acting_user, before=before, after=limits)
    return reference


@transaction.atomic
def reference_submit(*, reference, acting_user, api_key=None) -> ReferenceDataset:
    """Ask the hub's ethics board to sign the reference data off."""
    from compliance.models import BoardMember

    reference = _locked(reference)
    _refuse_if_frozen(reference, "submit")
    access.require_manage(acting_user, reference.system, api_key)
    if reference.status == ReferenceStatus.SUBMITTED:
        raise InvalidTransition(reference, "submit", "This reference data is already waiting for the board.")
    reference.status = ReferenceStatus.SUBMITTED
    reference.submitted_at = timezone.now()
    reference.save(update_fields=["status", "submitted_at"])
    audit_record(reference, "reference.submitted", actor=acting_user)
    board = [m.user for m in BoardMember.objects.filter(hub=reference.hub, active=True).select_related("user")]
    notify(
        users=[u for u in board if u.is_active],
        kind="reference.submitted",
        title=f"Reference data of {reference.system} waits for the ethics board",
        body=f"'{reference}' ({reference.row_count} rows) is submitted as the trust anchor for drift monitoring.",
        url=reference.get_absolute_url(),
        dedupe_key=f"reference-submitted-{reference.pk}-{reference.submitted_at:%Y%m%d%H%M%S}",
    )
    return reference


@transaction.atomic
def reference_sign_off(*, reference, acting_user, note: str = "") -> TrustAnchor:
    """The ethics board signs the reference data off: it becomes the system's trust anchor."""
    reference = _locked(reference)
    _refuse_if_frozen(reference, "sign off")
    access.require_board_member(acting_user, reference.hub)
    if acting_user.pk in (reference.created_by_id, reference.system.owner_id):
        # Four eyes: the board member who signs is not the one who uploaded or owns the system.
        raise PermissionDenied(
            "You uploaded this reference data or own the system: another member of the ethics board must sign it off."
        )
    if reference.status != ReferenceStatus.SUBMITTED:
        raise InvalidTransition(reference, "sign off", "Only reference data submitted to the board can be signed off.")
    # Re-hash what is stored: the anchor records what the board actually saw.
    data = bytes(reference.data)
    if sha256(data) != reference.data_sha256 or sha256(canonical_json(reference.profile)) != reference.profile_sha256:
        raise InvalidTransition(reference, "sign off", "The stored data no longer matches its hashes.")
    now = timezone.now()
    reference.status = ReferenceStatus.SIGNED_OFF
    reference.decided_by = acting_user
    reference.decided_at = now
    reference.decision_note = note
    reference.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    anchor = TrustAnchor.objects.create(
        reference=reference,
        system=reference.system,
        hub=reference.hub,
        data_sha256=reference.data_sha256,
        profile_sha256=reference.profile_sha256,
        psi_threshold=reference.psi_threshold,
        alpha=reference.alpha,
        js_threshold=reference.js_threshold,
        signed_by=acting_user,
        signed_at=now,
        note=note,
    )
    audit_record(
        anchor,
        "anchor.signed_off",
        actor=acting_user,
        after={"reference": reference.pk, "data_sha256": anchor.data_sha256, "profile_sha256": anchor.profile_sha256},
    )
    notify(
        users=_system_people(reference.system),
        kind="anchor.signed_off",
        title=f"Trust anchor of {reference.system} signed off",
        body=f"The ethics board signed '{reference}' off. Drift batches are now compared with it.",
        url=reference.get_absolute_url(),
        dedupe_key=f"anchor-signed-{anchor.pk}",
    )
    return anchor


@transaction.atomic
def reference_reject(*, reference, acting_user, note: str) -> ReferenceDataset:
    reference = _locked(reference)
    _refuse_if_frozen(reference, "reject")
    access.require_board_member(acting_user, reference.hub)
    if reference.status != ReferenceStatus.SUBMITTED:
        raise InvalidTransition(reference, "reject", "Only reference data submitted to the board can be rejected.")
    if not note.strip():
        csvio.fail("note", "Say why the board rejects the reference data.")
    reference.status = ReferenceStatus.REJECTED
    reference.decided_by = acting_user
    reference.decided_at = timezone.now()
    reference.decision_note = note.strip()
    reference.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    audit_record(reference, "reference.rejected", actor=acting_user, after={"note": reference.decision_note})
    notify(
        users=_system_people(reference.system),
        kind="reference.rejected",
        title=f"Reference data of {reference.system} rejected by the ethics board",
        body=reference.decision_note,
        url=reference.get_absolute_url(),
        dedupe_key=f"reference-rejected-{reference.pk}-{reference.decided_at:%Y%m%d%H%M%S}",
    )
    return reference


@transaction.atomic
def reference_delete(*, reference, acting_user, api_key=None) -> None:
    reference = _locked(reference)
    _refuse_if_frozen(reference, "delete")
    access.require_manage(acting_user, reference.system, api_key)
    audit_record(reference, "reference.deleted", actor=acting_user, before={"name": reference.name})
    reference.delete()


def anchor_verify(anchor: TrustAnchor) -> dict:
    """Re-hash the stored data and profile and compare them with what the board signed."""
    reference = ReferenceDataset.objects.get(pk=anchor.reference_id)
    data_ok = sha256(bytes(reference.data)) == anchor.data_sha256
    profile_ok = sha256(canonical_json(reference.profile)) == anchor.profile_sha256
    return {"data": data_ok, "profile": profile_ok, "intact": data_ok and profile_ok}


# --- Drift batches ----------------------------------------------------------------------------


def batch_columns(anchor: TrustAnchor, table: csvio.Table) -> dict[str, list]:
    """The anchor's columns from ``table``, checked (present; numbers parse), column-wise."""
    profile = ReferenceDataset.objects.only("profile").get(pk=anchor.reference_id).profile
    columns = {c["name"]: c for c in profile["columns"]}
    missing = [name for name in columns if name not in table.values]
    if missing:
        csvio.fail(
            table.field_name,
            f"The batch lacks the anchor's column{'s' if len(missing) > 1 else ''} {', '.join(missing)}. "
            f"Its columns are: {', '.join(table.columns[:30])}.",
        )
    data = {}
    for name, column in columns.items():
        values = table.values[name]
        if column["kind"] == drift.NUMERIC:
            parsed = []
            for index, value in enumerate(values):
                if drift._is_missing(value):
                    parsed.append(None)
                    continue
                number = drift.parse_number(value)
                if number is None:
                    csvio.fail(
                        table.field_name,
                        f"Column '{name}' holds numbers in the trust anchor, but {table.row_label(index)} "
                        f"has '{value}'.",
                    )
                parsed.append(number)
            data[name] = parsed
        else:
            data[name] = [None if drift._is_missing(v) else drift.category_label(v) for v in values]
    return data


def drift_batch_create(
    *,
    anchor: TrustAnchor,
    acting_user,
    table: csvio.Table,
    data_sha256: str,
    source: str = BatchSource.BROWSER,
    label: str = "",
    file_name: str = "",
    external_id: str = "",
    api_key=None,
) -> tuple[DriftBatch, bool]:
    """Store a batch for the worker to compare with ``anchor``. Returns (batch, created): a partner
    sending the same ``external_id`` again gets the first batch back and nothing is added."""
    system = anchor.system
    if not access.can_send_batches(acting_user, system, api_key):
        raise PermissionDenied("Only the system's owner, the hub's staff or a partner key of the hub may send batches.")
    partner = api_key.partner if api_key is not None and api_key.is_partner else None
    external_id = (external_id or "").strip()[:120]
    if external_id:
        existing = DriftBatch.objects.filter(anchor=anchor, external_id=external_id).first()
        if existing is not None:
            return existing, False
    data = batch_columns(anchor, table)
    try:
        with transaction.atomic():
            batch = DriftBatch.objects.create(
                anchor=anchor,
                system=system,
                hub=system.hub,
                label=label.strip()[:200],
                source=source,
                partner=partner,
                external_id=external_id,
                file_name=file_name[:255],
                data_sha256=data_sha256,
                row_count=table.row_count,
                data=data,
                created_by=acting_user if acting_user.is_authenticated else None,
            )
            audit_record(
                batch,
                "drift.batch_received",
                actor=acting_user,
                actor_label=str(partner or ""),
                hub=system.hub,
                after={"anchor": anchor.pk, "rows": batch.row_count, "source": source, "external_id": external_id},
            )
            _enqueue("compute_drift_batch", batch.pk)
    except IntegrityError:
        # The same external id arrived twice at once: the other request stored it.
        existing = DriftBatch.objects.filter(anchor=anchor, external_id=external_id).first()
        if external_id and existing is not None:
            return existing, False
        raise
    return batch, True


def drift_batch_upload(*, anchor, acting_user, data: bytes, file_name: str = "", label: str = "", api_key=None):
    table = csvio.read_csv(data, field_name="file")
    return drift_batch_create(
        anchor=anchor,
        acting_user=acting_user,
        table=table,
        data_sha256=sha256(data),
        label=label,
        file_name=file_name,
        source=BatchSource.BROWSER if api_key is None else BatchSource.API,
        api_key=api_key,
    )


def _reference_columns(anchor: TrustAnchor) -> dict[str, list]:
    reference = ReferenceDataset.objects.only("data").get(pk=anchor.reference_id)
    return csvio.read_csv(bytes(reference.data)).values


def _corrective_action(batch, summary):
    from compliance.services import corrective_action_open

    return corrective_action_open(
        system=batch.system,
        title=f"Data drift in '{batch}' ({', '.join(batch.drifted_columns[:5])})"[:250],
        detail=summary + f"\n\nSee {absolute_url(batch.get_absolute_url())}",
        source=f"drift-batch-{batch.pk}",
        acting_user=None,
    )


def drift_batch_compute(*, batch_id: int) -> DriftBatch | None:
    """Worker: compare a pending batch with its anchor; on drift notify, announce and open a
    corrective action. Already done (or gone): nothing happens."""
    with transaction.atomic():
        batch = (
            DriftBatch.objects.select_for_update(of=("self",))
            .select_related("anchor", "system", "system__owner", "hub")
            .filter(pk=batch_id)
            .first()
        )
        if batch is None or batch.status != RunStatus.PENDING:
            return batch
        anchor = batch.anchor
        profile = ReferenceDataset.objects.only("profile").get(pk=anchor.reference_id).profile
        report = drift.compare_table(
            profile, _reference_columns(anchor), batch.data, drift.DriftThresholds.from_dict(anchor_thresholds(anchor))
        )
        DriftColumnResult.objects.bulk_create(
            [
                DriftColumnResult(
                    batch=batch,
                    column=r["column"],
                    kind=r["kind"],
                    psi=r["psi"],
                    test=r["test"],
                    statistic=r["statistic"],
                    p_value=None if r["p_value"] is None else min(max(r["p_value"], 0.0), 1.0),
                    drifted=r["drifted"],
                    details=r,
                )
                for r in report["columns"]
            ]
        )
        batch.status = RunStatus.DONE
        batch.drifted = report["drifted"]
        batch.drifted_columns = report["drifted_columns"]
        batch.computed_at = timezone.now()
        batch.save(update_fields=["status", "drifted", "drifted_columns", "computed_at"])
        audit_record(
            batch,
            "drift.computed",
            actor_label=WORKER_LABEL,
            after={"drifted": batch.drifted, "columns": batch.drifted_columns},
        )
        if batch.drifted:
            _on_drift(batch, report)
    return batch


def anchor_thresholds(anchor: TrustAnchor) -> dict:
    return {"psi": anchor.psi_threshold, "alpha": anchor.alpha, "jensen_shannon": anchor.js_threshold}


def _on_drift(batch: DriftBatch, report: dict) -> None:
    lines = [
        f"- {r['column']}: {'; '.join(r['reasons'])}" for r in report["columns"] if r["drifted"] and r.get("reasons")
    ]
    summary = (
        f"Batch '{batch}' of {batch.system} ({batch.row_count} rows) drifted from the trust anchor "
        f"'{batch.anchor.reference.name}' in {len(batch.drifted_columns)} column(s):\n" + "\n".join(lines)
    )
    notify(
        users=_system_people(batch.system),
        kind="drift.detected",
        title=f"Drift detected in {batch.system}",
        body=summary,
        url=batch.get_absolute_url(),
        dedupe_key=f"drift-detected-{batch.pk}",
    )
    emit(
        "drift.detected",
        hub=batch.hub,
        sector=batch.system.sector,
        payload={
            "system": {"id": batch.system_id, "name": batch.system.name},
            "batch": {"id": batch.pk, "label": batch.label, "rows": batch.row_count},
            "anchor": batch.anchor_id,
            "drifted_columns": batch.drifted_columns,
            "url": absolute_url(batch.get_absolute_url()),
        },
    )
    _corrective_action(batch, summary)
    DriftBatch.objects.filter(pk=batch.pk).update(corrective_action_opened=True)
    batch.corrective_action_opened = True


# --- Queueing ---------------------------------------------------------------------------------


def _enqueue(task_name: str, pk: int) -> None:
    from . import tasks

    getattr(tasks, task_name).delay_on_commit(pk)
