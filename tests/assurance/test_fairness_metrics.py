"""Every fairness figure equals fairlearn's (fairlearn is used only here, in the tests)."""

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score, roc_auc_score

from compliance.assurance.fairness import INTERSECTION_SEPARATOR, Thresholds, evaluate

TOL = 1e-9


def generated(seed, n=3000):
    """Labels and predictions that depend on two attributes, so groups differ."""
    rng = np.random.default_rng(seed)
    sex = rng.choice(["female", "male", "other"], size=n, p=[0.48, 0.48, 0.04])
    age = rng.choice(["<30", "30-60", ">60"], size=n, p=[0.3, 0.5, 0.2])
    base = 0.35 + 0.1 * (sex == "male") - 0.08 * (age == ">60")
    y_true = (rng.random(n) < base).astype(int)
    flip = rng.random(n) < (0.15 + 0.1 * (age == "<30"))
    y_pred = np.where(flip, 1 - y_true, y_true)
    score = np.clip(y_pred * 0.6 + rng.normal(0.2, 0.15, n), 0, 1)
    return y_true, y_pred, score, sex, age


def by_name(report, name):
    return next(a for a in report["analyses"] if a["name"] == name)


def ours_by_group(analysis, metric):
    return {tuple(g["key"]) if len(g["key"]) > 1 else g["key"][0]: g[metric] for g in analysis["groups"]}


@pytest.mark.parametrize("seed", [1, 7, 2026])
def test_single_attribute_matches_fairlearn(seed):
    y_true, y_pred, score, sex, _age = generated(seed)
    report = evaluate(y_true, y_pred, {"sex": sex}, scores=score)
    analysis = by_name(report, "sex")
    frame = MetricFrame(
        metrics={
            "selection_rate": selection_rate,
            "true_positive_rate": true_positive_rate,
            "false_positive_rate": false_positive_rate,
            "accuracy": accuracy_score,
            "count": lambda t, p: len(t),
        },
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=sex,
    )
    for metric in ("selection_rate", "true_positive_rate", "false_positive_rate", "accuracy", "count"):
        ours = ours_by_group(analysis, metric)
        theirs = frame.by_group[metric].to_dict()
        assert ours.keys() == theirs.keys()
        for group, value in theirs.items():
            assert ours[group] == pytest.approx(value, abs=TOL), (metric, group)
    auc = MetricFrame(metrics=roc_auc_score, y_true=y_true, y_pred=score, sensitive_features=sex).by_group
    for group, value in auc.to_dict().items():
        assert ours_by_group(analysis, "roc_auc")[group] == pytest.approx(value, abs=TOL)
    d = analysis["disparities"]
    kw = {"sensitive_features": sex}
    assert d["demographic_parity_difference"] == pytest.approx(
        demographic_parity_difference(y_true, y_pred, **kw), abs=TOL
    )
    assert d["demographic_parity_ratio"] == pytest.approx(demographic_parity_ratio(y_true, y_pred, **kw), abs=TOL)
    assert d["equalized_odds_difference"] == pytest.approx(equalized_odds_difference(y_true, y_pred, **kw), abs=TOL)
    assert d["equal_opportunity_difference"] == pytest.approx(
        equal_opportunity_difference(y_true, y_pred, **kw), abs=TOL
    )
    assert report["overall"]["selection_rate"] == pytest.approx(selection_rate(y_true, y_pred), abs=TOL)
    assert report["overall"]["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred), abs=TOL)


@pytest.mark.parametrize("seed", [3, 11])
def test_intersection_matches_fairlearn_with_several_sensitive_features(seed):
    y_true, y_pred, _, sex, age = generated(seed)
    report = evaluate(y_true, y_pred, {"sex": sex, "age": age})
    names = [a["name"] for a in report["analyses"]]
    assert names == ["sex", "age", f"sex{INTERSECTION_SEPARATOR}age"]
    both = by_name(report, f"sex{INTERSECTION_SEPARATOR}age")
    assert both["intersection"] is True
    features = pd.DataFrame({"sex": sex, "age": age})
    frame = MetricFrame(
        metrics={
            "selection_rate": selection_rate,
            "true_positive_rate": true_positive_rate,
            "false_positive_rate": false_positive_rate,
            "accuracy": accuracy_score,
        },
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=features,
    )
    for metric in ("selection_rate", "true_positive_rate", "false_positive_rate", "accuracy"):
        ours = ours_by_group(both, metric)
        theirs = {k: v for k, v in frame.by_group[metric].to_dict().items() if not np.isnan(v)}
        assert ours.keys() == theirs.keys()
        for group, value in theirs.items():
            assert ours[group] == pytest.approx(value, abs=TOL), (metric, group)
    d = both["disparities"]
    kw = {"sensitive_features": features}
    assert d["demographic_parity_difference"] == pytest.approx(
        demographic_parity_difference(y_true, y_pred, **kw), abs=TOL
    )
    assert d["demographic_parity_ratio"] == pytest.approx(demographic_parity_ratio(y_true, y_pred, **kw), abs=TOL)
    assert d["equalized_odds_difference"] == pytest.approx(equalized_odds_difference(y_true, y_pred, **kw), abs=TOL)
    assert d["equal_opportunity_difference"] == pytest.approx(
        equal_opportunity_difference(y_true, y_pred, **kw), abs=TOL
    )
    # and each attribute on its own matches too
    for name, values in (("sex", sex), ("age", age)):
        single = by_name(report, name)["disparities"]
        assert single["equalized_odds_difference"] == pytest.approx(
            equalized_odds_difference(y_true, y_pred, sensitive_features=values), abs=TOL
        )


def test_empty_intersection_is_listed_and_ignored_like_fairlearn():
    y_true = np.array([1, 0, 1, 0, 1, 0, 1, 0])
    y_pred = np.array([1, 0, 0, 0, 1, 1, 1, 0])
    a = np.array(["x", "x", "x", "x", "y", "y", "y", "y"])
    b = np.array(["p", "p", "q", "q", "p", "p", "p", "p"])  # (y, q) never occurs
    report = evaluate(y_true, y_pred, {"a": a, "b": b})
    both = report["analyses"][-1]
    assert both["empty_groups"] == [f"y{INTERSECTION_SEPARATOR}q"]
    features = pd.DataFrame({"a": a, "b": b})
    assert both["disparities"]["demographic_parity_difference"] == pytest.approx(
        demographic_parity_difference(y_true, y_pred, sensitive_features=features), abs=TOL
    )


def test_thresholds_decide_pass_and_fail():
    # group a selects 50 %, group b 30 %: DPD 0.2, ratio 0.6
    y_pred = [1] * 5 + [0] * 5 + [1] * 3 + [0] * 7
    y_true = [1, 1, 1, 1, 0, 1, 0, 0, 0, 0, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0]
    groups = ["a"] * 10 + ["b"] * 10
    strict = evaluate(y_true, y_pred, {"g": groups})
    checks = {c["metric"]: c for c in strict["analyses"][0]["checks"]}
    assert checks["demographic_parity_difference"]["value"] == pytest.approx(0.2)
    assert checks["demographic_parity_difference"]["passed"] is False
    assert checks["demographic_parity_ratio"]["value"] == pytest.approx(0.6)
    assert checks["demographic_parity_ratio"]["passed"] is False
    assert strict["passed"] is False
    assert any("Demographic parity difference 0.200" in line for line in strict["failed_checks"])
    lenient = evaluate(
        y_true,
        y_pred,
        {"g": groups},
        thresholds=Thresholds(
            demographic_parity_difference=0.25,
            demographic_parity_ratio=0.5,
            equalized_odds_difference=0.5,
            equal_opportunity_difference=0.5,
        ),
    )
    assert lenient["passed"] is True


def test_group_without_actual_positives_has_no_tpr_and_a_warning():
    y_true = [0, 0, 0, 1, 1, 0]
    y_pred = [1, 0, 0, 1, 0, 0]
    report = evaluate(y_true, y_pred, {"g": ["a", "a", "a", "b", "b", "b"]})
    group_a = report["analyses"][0]["groups"][0]
    assert group_a["label"] == "a"
    assert group_a["true_positive_rate"] is None
    assert report["analyses"][0]["disparities"]["equal_opportunity_difference"] is None
    assert any("no actual positives" in w for w in report["warnings"])
