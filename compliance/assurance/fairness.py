"""Group fairness metrics for a binary classifier, computed with numpy.

Given true labels, predicted labels (both 0/1) and one or more sensitive attributes, ``evaluate``
reports for every group of every attribute, and for every intersection of the attributes when
there are several: the number of rows, the selection rate, the true and false positive rates and
the accuracy (and the mean score and ROC AUC when scores are given). Across the groups of one
analysis it computes

- demographic parity difference = max - min selection rate; ratio = min / max;
- equal opportunity difference = max - min true positive rate;
- equalized odds difference = the larger of the TPR and the FPR differences ("worst case");

and compares them with the owner's thresholds (defaults: differences <= 0.1, ratio >= 0.8).

These are the definitions of ``fairlearn.metrics`` (``MetricFrame.difference(method=
"between_groups")`` etc.); the tests check every value against fairlearn to 1e-9. One deliberate
difference: a group without any actual positives has no true positive rate (fairlearn reports 0
there, through scikit-learn's normalised confusion matrix). We report it as undefined, leave it
out of the TPR-based differences and say so in ``warnings``; likewise for the false positive rate
of a group without actual negatives. Intersections that have no rows are listed as empty and take
no part in the differences (as in fairlearn, where they are NaN).
"""

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from itertools import product

import numpy as np
from scipy.stats import rankdata

SMALL_GROUP = 30  # below this many rows a group's rates are too noisy to lean on
MAX_EMPTY_LISTED = 50
INTERSECTION_SEPARATOR = " \u00d7 "  # multiplication sign


@dataclass(frozen=True)
class Thresholds:
    """The owner's limits. Differences pass when <= their maximum, the ratio when >= its minimum."""

    demographic_parity_difference: float = 0.1
    demographic_parity_ratio: float = 0.8
    equalized_odds_difference: float = 0.1
    equal_opportunity_difference: float = 0.1

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping | None) -> "Thresholds":
        data = data or {}
        return cls(**{k: float(data[k]) for k in cls.__dataclass_fields__ if data.get(k) is not None})


# metric -> (label, comparison): "max" means value <= threshold passes, "min" value >= threshold.
DISPARITY_METRICS = {
    "demographic_parity_difference": ("Demographic parity difference", "max"),
    "demographic_parity_ratio": ("Demographic parity ratio", "min"),
    "equalized_odds_difference": ("Equalized odds difference", "max"),
    "equal_opportunity_difference": ("Equal opportunity difference", "max"),
}

GROUP_METRICS = {
    "selection_rate": "Selection rate",
    "true_positive_rate": "True positive rate",
    "false_positive_rate": "False positive rate",
    "accuracy": "Accuracy",
}


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def roc_auc(y_true: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the ROC curve (Mann-Whitney U with average ranks for ties); None with one class."""
    positives = int(y_true.sum())
    negatives = len(y_true) - positives
    if positives == 0 or negatives == 0:
        return None
    ranks = rankdata(scores)
    return float((ranks[y_true == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def group_stats(y_true: np.ndarray, y_pred: np.ndarray, scores: np.ndarray | None = None) -> dict:
    """Counts and rates of one group (or of everyone)."""
    n = len(y_true)
    tp = int(np.sum((y_true == 1) & (y_pred == 1)))
    fp = int(np.sum((y_true == 0) & (y_pred == 1)))
    tn = int(np.sum((y_true == 0) & (y_pred == 0)))
    fn = n - tp - fp - tn
    stats = {
        "count": n,
        "actual_positives": tp + fn,
        "predicted_positives": tp + fp,
        "true_positives": tp,
        "false_positives": fp,
        "true_negatives": tn,
        "false_negatives": fn,
        "selection_rate": _rate(tp + fp, n),
        "true_positive_rate": _rate(tp, tp + fn),
        "false_positive_rate": _rate(fp, fp + tn),
        "accuracy": _rate(tp + tn, n),
    }
    if scores is not None:
        stats["mean_score"] = float(np.mean(scores)) if n else None
        stats["roc_auc"] = roc_auc(y_true, scores) if n else None
    return stats


def _spread(values: list[float | None]) -> tuple[float | None, float | None, float | None]:
    """(max - min, min / max, number of defined values) over the defined values."""
    defined = [v for v in values if v is not None]
    if len(defined) < 2:
        return None, None, len(defined)
    high, low = max(defined), min(defined)
    return high - low, (low / high if high > 0 else None), len(defined)


def disparities(groups: list[dict]) -> dict:
    """The four disparity metrics (plus the TPR and FPR differences) across ``groups``."""
    sr_diff, sr_ratio, _ = _spread([g["selection_rate"] for g in groups])
    tpr_diff, _, _ = _spread([g["true_positive_rate"] for g in groups])
    fpr_diff, _, _ = _spread([g["false_positive_rate"] for g in groups])
    eod = None if tpr_diff is None and fpr_diff is None else max(v for v in (tpr_diff, fpr_diff) if v is not None)
    return {
        "demographic_parity_difference": sr_diff,
        "demographic_parity_ratio": sr_ratio,
        "equalized_odds_difference": eod,
        "equal_opportunity_difference": tpr_diff,
        "true_positive_rate_difference": tpr_diff,
        "false_positive_rate_difference": fpr_diff,
    }


def judge(values: dict, thresholds: Thresholds) -> list[dict]:
    """One check per disparity metric: value, threshold, comparison and pass/fail (None if undefined)."""
    checks = []
    for metric, (label, kind) in DISPARITY_METRICS.items():
        value = values[metric]
        limit = getattr(thresholds, metric)
        if value is None:
            passed = None
        elif kind == "max":
            passed = value <= limit + 1e-12
        else:
            passed = value >= limit - 1e-12
        checks.append(
            {
                "metric": metric,
                "label": label,
                "value": value,
                "threshold": limit,
                "comparison": "<=" if kind == "max" else ">=",
                "passed": passed,
            }
        )
    return checks


def _analysis(name, attributes, keys, y_true, y_pred, scores, thresholds, all_keys=None) -> tuple[dict, list[str]]:
    warnings = []
    groups = []
    order = sorted(set(keys))
    code_of = {key: i for i, key in enumerate(order)}
    codes = np.fromiter((code_of[k] for k in keys), dtype=np.int64, count=len(keys))
    for code, key in enumerate(order):
        mask = codes == code
        stats = group_stats(y_true[mask], y_pred[mask], None if scores is None else scores[mask])
        label = INTERSECTION_SEPARATOR.join(key) if isinstance(key, tuple) else key
        groups.append({"key": list(key) if isinstance(key, tuple) else [key], "label": label, **stats})
        if stats["true_positive_rate"] is None:
            warnings.append(
                f"{name}: group '{label}' has no actual positives, so its true positive rate is undefined "
                "and left out of the equal opportunity and equalized odds differences."
            )
        if stats["false_positive_rate"] is None:
            warnings.append(
                f"{name}: group '{label}' has no actual negatives, so its false positive rate is undefined "
                "and left out of the equalized odds difference."
            )
        if stats["count"] < SMALL_GROUP:
            warnings.append(f"{name}: group '{label}' has only {stats['count']} rows; its rates are noisy.")
    empty = []
    if all_keys is not None:
        present = set(order)
        empty = [INTERSECTION_SEPARATOR.join(k) for k in all_keys if k not in present]
    values = disparities(groups)
    checks = judge(values, thresholds)
    verdicts = [c["passed"] for c in checks if c["passed"] is not None]
    analysis = {
        "name": name,
        "attributes": list(attributes),
        "intersection": len(attributes) > 1,
        "groups": groups,
        "empty_groups": empty[:MAX_EMPTY_LISTED],
        "empty_group_count": len(empty),
        "disparities": values,
        "checks": checks,
        "passed": all(verdicts) if verdicts else None,
    }
    return analysis, warnings


def evaluate(
    y_true: Sequence[int],
    y_pred: Sequence[int],
    sensitive: Mapping[str, Sequence[str]],
    *,
    scores: Sequence[float] | None = None,
    thresholds: Thresholds | None = None,
) -> dict:
    """The whole fairness report (JSON-ready): overall figures, one analysis per attribute and,
    with two or more attributes, one for their intersection."""
    thresholds = thresholds or Thresholds()
    yt = np.asarray(y_true, dtype=np.int8)
    yp = np.asarray(y_pred, dtype=np.int8)
    sc = None if scores is None else np.asarray(scores, dtype=float)
    if len(yt) != len(yp) or any(len(v) != len(yt) for v in sensitive.values()):
        raise ValueError("Labels, predictions and sensitive attributes must have the same length.")
    if not sensitive:
        raise ValueError("At least one sensitive attribute is needed.")
    analyses, warnings = [], []
    for name, values in sensitive.items():
        analysis, notes = _analysis(name, [name], [str(v) for v in values], yt, yp, sc, thresholds)
        analyses.append(analysis)
        warnings.extend(notes)
    if len(sensitive) > 1:
        names = list(sensitive)
        keys = list(zip(*(map(str, sensitive[n]) for n in names), strict=True))
        every = list(product(*(sorted({str(v) for v in sensitive[n]}) for n in names)))
        analysis, notes = _analysis(
            INTERSECTION_SEPARATOR.join(names), names, keys, yt, yp, sc, thresholds, all_keys=every
        )
        analyses.append(analysis)
        warnings.extend(notes)
    verdicts = [a["passed"] for a in analyses if a["passed"] is not None]
    return {
        "rows": len(yt),
        "overall": group_stats(yt, yp, sc),
        "analyses": analyses,
        "thresholds": thresholds.as_dict(),
        "passed": all(verdicts) if verdicts else None,
        "failed_checks": [
            f"{a['name']}: {c['label']} {c['value']:.3f} (limit {c['comparison']} {c['threshold']:g})"
            for a in analyses
            for c in a["checks"]
            if c["passed"] is False
        ],
        "warnings": warnings,
    }
