"""Data drift: a reference profile per column, and the comparison of a later batch with it.

Profile (``profile_table``), per column:
- numbers: count, missing, min/max/mean/std, quantiles, a display histogram (equal-width bins) and
  the PSI bins: cut points at the reference deciles, with the reference share of rows in each bin;
- categories: count, missing, distinct values and the frequency of each (the most frequent
  ``MAX_CATEGORIES``; the rest are pooled as ``OTHER``).

Comparison (``compare_column``), per column of the anchor:
- PSI (population stability index) on the anchor's bins: sum over bins of (cur - ref) * ln(cur / ref),
  shares of 0 replaced by ``EPSILON`` (as Evidently does);
- numbers: the two-sample Kolmogorov-Smirnov test against the reference values (``scipy.stats.ks_2samp``);
- categories: the chi-square test of the 2 x k contingency table (``scipy.stats.chi2_contingency``) and
  the Jensen-Shannon distance of the two frequency vectors (``scipy.spatial.distance.jensenshannon``,
  natural log).

A column drifts when its PSI reaches the PSI threshold, or its statistical test says so: for numbers
KS p-value < alpha; for categories the chi-square p-value < alpha when the reference has at most
``LARGE_REFERENCE`` rows, else the Jensen-Shannon distance >= its threshold (p-values of large
samples flag trivial shifts; this is Evidently's default choice of test). The AI Act sets no
numbers: thresholds are the provider's decision (Art. 9), frozen in the trust anchor.
"""

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency, ks_2samp

EPSILON = 1e-4
PSI_BINS = 10
HISTOGRAM_BINS = 20
MAX_CATEGORIES = 50
OTHER = "(other)"
LARGE_REFERENCE = 1000
NUMERIC_MIN_DISTINCT = 6  # a number column with fewer distinct values is profiled as categories
QUANTILES = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)

NUMERIC = "numeric"
CATEGORICAL = "categorical"


@dataclass(frozen=True)
class DriftThresholds:
    psi: float = 0.1
    alpha: float = 0.05
    jensen_shannon: float = 0.1

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping | None) -> "DriftThresholds":
        data = data or {}
        return cls(**{k: float(data[k]) for k in cls.__dataclass_fields__ if data.get(k) is not None})


def psi_reading(value: float) -> str:
    """The conventional reading of a PSI value (convention, not law)."""
    if value < 0.1:
        return "stable"
    if value < 0.25:
        return "moderate shift"
    return "major shift"


def _is_missing(value) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def parse_number(value) -> float | None:
    """A finite float, or None when ``value`` is not a number (missing values are handled before)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    else:
        try:
            number = float(str(value).strip())
        except ValueError:
            return None
    return number if math.isfinite(number) else None


def infer_kind(values: Sequence) -> str:
    present = [v for v in values if not _is_missing(v)]
    if not present:
        return CATEGORICAL
    numbers = [parse_number(v) for v in present]
    if any(n is None for n in numbers):
        return CATEGORICAL
    return NUMERIC if len(set(numbers)) >= NUMERIC_MIN_DISTINCT else CATEGORICAL


def numbers_of(values: Sequence) -> np.ndarray:
    """The present values as floats (callers have checked they parse)."""
    return np.array([parse_number(v) for v in values if not _is_missing(v)], dtype=float)


def categories_of(values: Sequence) -> list[str]:
    return [category_label(v) for v in values if not _is_missing(v)]


def category_label(value) -> str:
    """One spelling per category whatever the source: CSV "1.0", JSON 1 and 1.0 are all "1"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    number = parse_number(value)
    if number is not None:
        return f"{number:g}" if abs(number) < 1e15 else repr(number)
    return str(value).strip()


def psi_edges(reference: np.ndarray, bins: int = PSI_BINS) -> list[float]:
    """Interior cut points at the reference quantiles (duplicates dropped)."""
    cuts = np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1])
    return [float(c) for c in np.unique(cuts)]


def bin_shares(values: np.ndarray, edges: Sequence[float]) -> list[float]:
    """Share of ``values`` in each bin (-inf, e1], (e1, e2], ..., (ek, inf)."""
    index = np.searchsorted(np.asarray(edges, dtype=float), values, side="left")
    counts = np.bincount(index, minlength=len(edges) + 1)
    return [float(c) for c in counts / max(len(values), 1)]


def psi(reference_shares: Sequence[float], current_shares: Sequence[float], epsilon: float = EPSILON) -> float:
    ref = np.asarray(reference_shares, dtype=float).copy()
    cur = np.asarray(current_shares, dtype=float).copy()
    ref[ref == 0] = epsilon
    cur[cur == 0] = epsilon
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def _histogram(values: np.ndarray) -> dict:
    low, high = float(values.min()), float(values.max())
    if low == high:
        high = low + 1.0
    counts, edges = np.histogram(values, bins=HISTOGRAM_BINS, range=(low, high))
    return {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}


def profile_column(name: str, values: Sequence) -> dict:
    kind = infer_kind(values)
    missing = sum(1 for v in values if _is_missing(v))
    column = {"name": name, "kind": kind, "count": len(values) - missing, "missing": missing}
    if kind == NUMERIC:
        numbers = numbers_of(values)
        edges = psi_edges(numbers)
        column.update(
            {
                "min": float(numbers.min()),
                "max": float(numbers.max()),
                "mean": float(numbers.mean()),
                "std": float(numbers.std(ddof=1)) if len(numbers) > 1 else 0.0,
                "quantiles": {f"{q:g}": float(np.quantile(numbers, q)) for q in QUANTILES},
                "histogram": _histogram(numbers),
                "psi_edges": edges,
                "psi_reference_shares": bin_shares(numbers, edges),
            }
        )
    else:
        counts = Counter(categories_of(values))
        total = sum(counts.values())
        top = counts.most_common(MAX_CATEGORIES)
        kept = {k: c for k, c in top}
        rest = total - sum(kept.values())
        frequencies = [{"value": k, "count": c, "share": c / total} for k, c in top]
        if rest:
            frequencies.append({"value": OTHER, "count": rest, "share": rest / total})
        column.update({"distinct": len(counts), "frequencies": frequencies})
    return column


def profile_table(columns: Sequence[str], rows_by_column: Mapping[str, Sequence]) -> dict:
    """The reference profile of a table given column-wise (JSON-ready, deterministic)."""
    n = len(next(iter(rows_by_column.values()))) if rows_by_column else 0
    return {"rows": n, "columns": [profile_column(c, rows_by_column[c]) for c in columns]}


def category_counts(values: Sequence[str], known: Sequence[str]) -> list[int]:
    """Counts per known category, with everything else pooled in the last slot."""
    position = {k: i for i, k in enumerate(known)}
    counts = [0] * (len(known) + 1)
    for v in values:
        counts[position.get(v, len(known))] += 1
    return counts


def ks_test(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    result = ks_2samp(reference, current)
    return float(result.statistic), float(result.pvalue)


def ks_statistic(reference: np.ndarray, current: np.ndarray) -> float:
    """The largest distance between the two empirical distribution functions (by hand)."""
    grid = np.concatenate([reference, current])
    ref_cdf = np.searchsorted(np.sort(reference), grid, side="right") / len(reference)
    cur_cdf = np.searchsorted(np.sort(current), grid, side="right") / len(current)
    return float(np.max(np.abs(ref_cdf - cur_cdf)))


def chi_square_test(reference_counts: Sequence[int], current_counts: Sequence[int]) -> tuple[float, float]:
    """Chi-square test of homogeneity over the categories seen in either sample."""
    table = np.array([reference_counts, current_counts], dtype=float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 0.0, 1.0
    statistic, p_value, _, _ = chi2_contingency(table, correction=False)
    return float(statistic), float(p_value)


def js_distance(reference_counts: Sequence[int], current_counts: Sequence[int]) -> float:
    ref = np.asarray(reference_counts, dtype=float)
    cur = np.asarray(current_counts, dtype=float)
    if ref.sum() == 0 or cur.sum() == 0:
        return 0.0
    return float(jensenshannon(ref / ref.sum(), cur / cur.sum()))


def compare_column(
    profile: Mapping, reference_values: Sequence, current_values: Sequence, thresholds: DriftThresholds
) -> dict:
    """The drift figures of one column of a batch against the anchor's profile and data."""
    name, kind = profile["name"], profile["kind"]
    missing = sum(1 for v in current_values if _is_missing(v))
    result = {
        "column": name,
        "kind": kind,
        "count": len(current_values) - missing,
        "missing": missing,
        "reference_count": profile["count"],
    }
    if kind == NUMERIC:
        current = numbers_of(current_values)
        if len(current) == 0:
            return result | {"psi": None, "test": "ks", "statistic": None, "p_value": None, "drifted": False}
        reference = numbers_of(reference_values)
        shares = bin_shares(current, profile["psi_edges"])
        value = psi(profile["psi_reference_shares"], shares)
        statistic, p_value = ks_test(reference, current)
        test_drift = p_value < thresholds.alpha
        result |= {
            "psi": value,
            "psi_current_shares": shares,
            "test": "ks",
            "statistic": statistic,
            "p_value": p_value,
            "mean": float(current.mean()),
            "reference_mean": profile["mean"],
        }
    else:
        known = [f["value"] for f in profile["frequencies"] if f["value"] != OTHER]
        current = categories_of(current_values)
        if not current:
            return result | {"psi": None, "test": "chi_square", "statistic": None, "p_value": None, "drifted": False}
        reference_counts = category_counts(categories_of(reference_values), known)
        current_counts = category_counts(current, known)
        ref_total, cur_total = sum(reference_counts), sum(current_counts)
        if ref_total == 0:  # the anchor has no value in this column: nothing to compare with
            return result | {"psi": None, "test": "chi_square", "statistic": None, "p_value": None, "drifted": False}
        value = psi([c / ref_total for c in reference_counts], [c / cur_total for c in current_counts])
        chi2, p_value = chi_square_test(reference_counts, current_counts)
        js = js_distance(reference_counts, current_counts)
        large = profile["count"] > LARGE_REFERENCE
        test_drift = js >= thresholds.jensen_shannon if large else p_value < thresholds.alpha
        unseen = sorted(set(current) - set(known))
        result |= {
            "psi": value,
            "test": "jensen_shannon" if large else "chi_square",
            "statistic": js if large else chi2,
            "chi_square": chi2,
            "p_value": p_value,
            "jensen_shannon": js,
            "categories": [*known, OTHER],
            "reference_counts": reference_counts,
            "current_counts": current_counts,
            "unseen_categories": unseen[:20],
        }
    psi_drift = value >= thresholds.psi
    reasons = []
    if psi_drift:
        reasons.append(f"PSI {value:.3f} >= {thresholds.psi:g}")
    if test_drift:
        if result["test"] == "jensen_shannon":
            reasons.append(f"Jensen-Shannon distance {result['statistic']:.3f} >= {thresholds.jensen_shannon:g}")
        else:
            test_name = "KS" if result["test"] == "ks" else "chi-square"
            reasons.append(f"{test_name} p-value {result['p_value']:.3g} < {thresholds.alpha:g}")
    result |= {"psi_reading": psi_reading(value), "drifted": bool(psi_drift or test_drift), "reasons": reasons}
    return result


def compare_table(
    profile: Mapping,
    reference_columns: Mapping[str, Sequence],
    current_columns: Mapping[str, Sequence],
    thresholds: DriftThresholds,
) -> dict:
    """Every anchor column compared; the batch drifts when any column does."""
    results = [
        compare_column(column, reference_columns[column["name"]], current_columns[column["name"]], thresholds)
        for column in profile["columns"]
    ]
    drifted = [r["column"] for r in results if r["drifted"]]
    return {"columns": results, "drifted_columns": drifted, "drifted": bool(drifted)}
