"""Demo fairness checks and drift monitoring for the essay's AI systems (seeded by ``compliance.demo``).

Each system is looked up by name; a system that is not there is skipped. The data is synthetic
(numpy, fixed seeds), uploaded through the same services as the pages use, and computed right away
(the tasks that the uploads enqueue find the work done). Fairness runs are dated over the past
months so that the history reads like one; reference data is signed off by a member of the hub's
ethics board (when the hub has one) and then several monitoring batches arrive, the later ones of
some systems drifting. Re-running adds nothing: a system that already has demo runs is left alone.
"""

import io
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
from django.db import transaction
from django.utils import timezone

from compliance.models import AISystem, BoardMember
from hubs.models import Notification

from . import csvio, services
from .models import FairnessCheck, ReferenceDataset

DEMO_DOMAIN = "@gigafactory.test"
SEED = 20260


def _csv(columns: dict) -> bytes:
    names = list(columns)
    out = io.StringIO()
    out.write(",".join(names) + "\n")
    for row in zip(*(columns[n] for n in names), strict=True):
        out.write(",".join(str(v) for v in row) + "\n")
    return out.getvalue().encode()


def _predictions(rng, n, groups: dict[str, tuple[list, list]], bias_on: tuple[str, str] | None, bias: float):
    """Labels, predictions and scores; ``bias`` withholds positive predictions from one group."""
    columns = {name: rng.choice(values, n, p=p) for name, (values, p) in groups.items()}
    y_true = (rng.random(n) < 0.35).astype(int)
    y_pred = np.where(rng.random(n) < 0.08, 1 - y_true, y_true)
    if bias_on and bias:
        column, group = bias_on
        drop = (columns[column] == group) & (y_pred == 1) & (rng.random(n) < bias)
        y_pred = np.where(drop, 0, y_pred)
    score = np.round(np.clip(0.55 * y_pred + rng.normal(0.22, 0.12, n), 0, 1), 3)
    return {"label": y_true, "prediction": y_pred, "score": score, **columns}


@dataclass
class Demo:
    keywords: tuple[str, ...]
    drift: callable
    fairness_groups: dict = field(default_factory=dict)
    bias_on: tuple[str, str] | None = None
    fairness_runs: tuple[tuple[str, float], ...] = ()
    batches: tuple[float, ...] = (0, 0, 0.2, 0.4, 1.0, 1.4)


def mammography(rng, n, shift):
    return {
        "patient_age": np.round(rng.normal(58 + 6 * shift, 8, n)).astype(int),
        "breast_density": rng.choice(
            ["A", "B", "C", "D"], n, p=[0.1, 0.4, 0.4 - 0.1 * min(shift, 1), 0.1 + 0.1 * min(shift, 1)]
        ),
        "scanner": rng.choice(["Hologic", "GE", "Siemens"], n, p=[0.5, 0.3, 0.2]),
        "image_quality": np.round(rng.normal(0.82 - 0.05 * shift, 0.06, n), 3),
    }


def smart_grid(rng, n, shift):
    return {
        "load_mw": np.round(rng.normal(420 + 60 * shift, 55, n), 1),
        "temperature_c": np.round(rng.normal(4 + 12 * shift, 6, n), 1),
        "hour": rng.integers(0, 24, n),
        "feeder": rng.choice(["north", "centre", "south", "harbour"], n),
    }


def crop_water(rng, n, shift):
    return {
        "soil_moisture": np.round(rng.normal(0.28 - 0.06 * shift, 0.05, n), 3),
        "rainfall_mm": np.round(rng.gamma(2.0, 6.0 * max(1 - 0.5 * shift, 0.2), n), 1),
        "crop": rng.choice(["olive", "almond", "vine", "wheat"], n, p=[0.35, 0.25, 0.2, 0.2]),
        "region": rng.choice(["Teruel", "Huesca", "Zaragoza"], n),
    }


def wind_farm(rng, n, shift):
    return {
        "wind_speed_ms": np.round(rng.weibull(2.0, n) * (8.5 + 1.5 * shift), 2),
        "air_density": np.round(rng.normal(1.24 + 0.04 * shift, 0.02, n), 3),
        "turbine": rng.choice([f"T{i:02d}" for i in range(1, 9)], n),
        "icing": rng.choice(["no", "yes"], n, p=[0.95 - 0.25 * min(shift, 1), 0.05 + 0.25 * min(shift, 1)]),
    }


def chatbot(rng, n, shift):
    return {
        "message_length": rng.poisson(60 + 25 * shift, n),
        "language": rng.choice(
            ["fr", "en", "es", "ar"], n, p=[0.55 - 0.15 * min(shift, 1), 0.25, 0.15, 0.05 + 0.15 * min(shift, 1)]
        ),
        "channel": rng.choice(["web", "app", "whatsapp"], n, p=[0.5, 0.3, 0.2]),
    }


DEMOS = [
    Demo(
        keywords=("mammograph",),
        drift=mammography,
        fairness_groups={
            "age_band": (["40-49", "50-59", "60-69", "70+"], [0.2, 0.35, 0.3, 0.15]),
            "breast_density": (["A-B", "C-D"], [0.55, 0.45]),
        },
        bias_on=("breast_density", "C-D"),
        fairness_runs=(
            ("Validation set 2025-Q4", 0.45),
            ("Validation set 2026-Q1", 0.2),
            ("Validation set 2026-Q2", 0.0),
        ),
        batches=(0, 0, 0.1, 0.3, 0.9, 1.2),
    ),
    Demo(keywords=("smart grid", "smart-grid", "grid"), drift=smart_grid, batches=(0, 0.1, 0, 0.6, 1.2, 1.5)),
    Demo(
        keywords=("crop", "water"),
        drift=crop_water,
        fairness_groups={
            "farm_size": (["small", "medium", "large"], [0.5, 0.3, 0.2]),
            "region": (["Teruel", "Huesca", "Zaragoza"], [0.3, 0.3, 0.4]),
        },
        bias_on=("farm_size", "small"),
        fairness_runs=(("Advice audit, spring 2026", 0.3), ("Advice audit, summer 2026", 0.05)),
        batches=(0, 0, 0.1, 0.2, 0.1, 0),
    ),
    Demo(keywords=("wind",), drift=wind_farm, batches=(0, 0.1, 0.3, 0.8, 1.2, 0.5)),
    Demo(
        keywords=("chatbot", "retail"),
        drift=chatbot,
        fairness_groups={
            "language": (["fr", "en", "es", "ar"], [0.45, 0.25, 0.2, 0.1]),
            "age_band": (["<30", "30-60", "60+"], [0.3, 0.5, 0.2]),
        },
        bias_on=("language", "ar"),
        fairness_runs=(("Escalation to a human, May 2026", 0.5), ("Escalation to a human, August 2026", 0.1)),
        batches=(0, 0.2, 0.5, 0.8, 1.0, 1.1),
    ),
]


def _find(keywords) -> AISystem | None:
    for keyword in keywords:
        system = AISystem.objects.select_related("hub", "owner").filter(name__icontains=keyword).order_by("id").first()
        if system is not None:
            return system
    return None


def _fairness(system, demo: Demo, rng, log) -> None:
    if not demo.fairness_runs or FairnessCheck.objects.filter(system=system).exists():
        return
    months = len(demo.fairness_runs)
    for index, (name, bias) in enumerate(demo.fairness_runs):
        data = _csv(_predictions(rng, 8000, demo.fairness_groups, demo.bias_on, bias))
        check = services.fairness_check_upload(
            system=system,
            acting_user=system.owner,
            data=data,
            file_name=f"{name.lower().replace(' ', '-').replace(',', '')}.csv",
            name=name,
            label_column="label",
            prediction_column="prediction",
            score_column="score",
            sensitive_columns=list(demo.fairness_groups),
        )
        services.fairness_check_compute(check_id=check.pk)
        when = timezone.now() - timedelta(days=45 * (months - 1 - index))
        FairnessCheck.objects.filter(pk=check.pk).update(created_at=when, computed_at=when + timedelta(minutes=2))
    log(f"{system}: {months} fairness run(s)")


def _drift(system, demo: Demo, rng, log) -> None:
    if ReferenceDataset.objects.filter(system=system).exists():
        return
    reference = services.reference_upload(
        system=system,
        acting_user=system.owner,
        data=_csv(demo.drift(rng, 800, 0.0)),
        file_name="reference.csv",
        name=f"{system.name}: reference data 2025",
        description="Synthetic demo data representing normal operation during 2025.",
    )
    services.reference_submit(reference=reference, acting_user=system.owner)
    member = (
        BoardMember.objects.filter(hub=system.hub, active=True, user__is_active=True)
        .exclude(user=system.owner)
        .select_related("user")
        .first()
    )
    if member is None:
        log(f"{system}: reference data waits for an ethics board member of {system.hub}")
        return
    anchor = services.reference_sign_off(
        reference=reference, acting_user=member.user, note="Representative of the 2025 operating conditions."
    )
    drifted = 0
    for week, shift in enumerate(demo.batches, start=1):
        data = _csv(demo.drift(rng, 300, shift))
        batch, _ = services.drift_batch_create(
            anchor=anchor,
            acting_user=system.owner,
            table=csvio.read_csv(data),
            data_sha256=services.sha256(data),
            label=f"Week {week}",
            file_name=f"week-{week}.csv",
        )
        batch = services.drift_batch_compute(batch_id=batch.pk)
        drifted += bool(batch.drifted)
    log(f"{system}: trust anchor signed, {len(demo.batches)} batches ({drifted} with drift)")


def seed(log) -> None:
    with transaction.atomic():
        rng = np.random.default_rng(SEED)
        found = 0
        for demo in DEMOS:
            system = _find(demo.keywords)
            if system is None:
                log(f"no system named like {demo.keywords[0]!r}; skipped")
                continue
            found += 1
            _fairness(system, demo, rng, log)
            _drift(system, demo, rng, log)
        # Demo people have no real mailboxes: nothing to e-mail.
        Notification.objects.filter(user__email__endswith=DEMO_DOMAIN, emailed_at__isnull=True).update(
            emailed_at=timezone.now()
        )
        if not found:
            log("no demo AI systems yet (compliance demo not seeded); nothing to add")
