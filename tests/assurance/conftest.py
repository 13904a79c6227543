"""Assurance fixtures: a system in the ``hub`` owned by ``member``, an ethics board member, CSV makers."""

import io

import numpy as np
import pytest

from compliance.models import AISystem, BoardMember
from hubs.models import Role
from tests.conftest import verified_user
from tests.factories import MembershipFactory, OrganisationFactory


def make_system(hub, owner, name="Mammography triage", **extra):
    return AISystem.objects.create(
        hub=hub,
        organisation=OrganisationFactory(),
        owner=owner,
        name=name,
        intended_purpose="Prioritises screening mammograms for radiologists.",
        sector="health",
        input_modality="image",
        output_modality="decision",
        **extra,
    )


@pytest.fixture
def system(hub, member):
    return make_system(hub, member)


@pytest.fixture
def other_system(other_hub, other_staff):
    return make_system(other_hub, other_staff, name="Smart grid optimiser")


@pytest.fixture
def board(hub):
    """A member of the hub's ethics board (not the system's owner)."""
    user = verified_user(name="Bea Board")
    MembershipFactory(user=user, hub=hub, role=Role.REVIEWER)
    BoardMember.objects.create(hub=hub, user=user, title="Chair")
    return user


def to_csv(columns: dict) -> bytes:
    names = list(columns)
    out = io.StringIO()
    out.write(",".join(names) + "\n")
    for row in zip(*(columns[n] for n in names), strict=True):
        out.write(",".join(str(v) for v in row) + "\n")
    return out.getvalue().encode()


def predictions_csv(seed=0, n=400, bias=0.0) -> bytes:
    """Predictions with a sex and an age band; ``bias`` lowers women's selection rate."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["female", "male"], n)
    age = rng.choice(["<40", "40-60", ">60"], n)
    y_true = (rng.random(n) < 0.4).astype(int)
    flip = rng.random(n) < 0.15
    y_pred = np.where(flip, 1 - y_true, y_true)
    if bias:
        drop = (sex == "female") & (y_pred == 1) & (rng.random(n) < bias)
        y_pred = np.where(drop, 0, y_pred)
    score = np.round(np.clip(y_pred * 0.5 + rng.normal(0.25, 0.15, n), 0, 1), 3)
    return to_csv({"label": y_true, "prediction": y_pred, "score": score, "sex": sex, "age_band": age})


def reference_columns(seed=0, n=600, shift=0.0, p=(0.5, 0.3, 0.2)):
    rng = np.random.default_rng(seed)
    return {
        "density": np.round(rng.normal(50 + shift, 10, n), 3),
        "age": rng.integers(40, 75, n) + int(shift),
        "site": rng.choice(["lyon", "grenoble", "annecy"], n, p=list(p)),
    }


def reference_csv(**kwargs) -> bytes:
    return to_csv(reference_columns(**kwargs))


MAPPING = {
    "label_column": "label",
    "prediction_column": "prediction",
    "score_column": "score",
    "sensitive_columns": ["sex", "age_band"],
}
