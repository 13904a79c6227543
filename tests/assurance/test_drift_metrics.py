"""PSI, KS, chi-square and Jensen-Shannon: hand-computed values and scipy agree with ours."""

import math

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency, ks_2samp

from compliance.assurance import drift
from compliance.assurance.drift import DriftThresholds


def test_psi_equals_the_hand_computed_sum():
    ref = [0.25, 0.25, 0.5]
    cur = [0.5, 0.25, 0.25]
    by_hand = (0.5 - 0.25) * math.log(0.5 / 0.25) + 0 + (0.25 - 0.5) * math.log(0.25 / 0.5)
    assert drift.psi(ref, cur) == pytest.approx(by_hand, abs=1e-12)
    assert by_hand == pytest.approx(0.5 * math.log(2), abs=1e-12)


def test_psi_replaces_empty_bins_with_epsilon():
    value = drift.psi([0.5, 0.5, 0.0], [0.5, 0.25, 0.25])
    by_hand = (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.25 - 1e-4) * math.log(0.25 / 1e-4)
    assert value == pytest.approx(by_hand, abs=1e-12)


def test_psi_bins_come_from_reference_deciles():
    reference = np.arange(1, 101, dtype=float)  # 1..100
    edges = drift.psi_edges(reference)
    assert edges == pytest.approx(list(np.quantile(reference, np.linspace(0.1, 0.9, 9))))
    shares = drift.bin_shares(reference, edges)
    assert shares == pytest.approx([0.1] * 10)
    # everything above the top decile falls into the last, open bin
    assert drift.bin_shares(np.array([500.0, 1000.0]), edges)[-1] == 1.0
    assert drift.bin_shares(np.array([-5.0]), edges)[0] == 1.0


def test_ks_statistic_by_hand_and_scipy():
    ref = np.array([1.0, 2.0, 3.0, 4.0])
    cur = np.array([3.0, 4.0, 5.0, 6.0])
    # ECDFs differ most at x in [2, 3): ref 2/4 = 0.5 vs cur 0 -> 0.5
    assert drift.ks_statistic(ref, cur) == pytest.approx(0.5)
    statistic, p_value = drift.ks_test(ref, cur)
    assert statistic == pytest.approx(0.5)
    expected = ks_2samp(ref, cur)
    assert (statistic, p_value) == pytest.approx((expected.statistic, expected.pvalue))


@pytest.mark.parametrize("seed", [0, 5])
def test_ks_statistic_matches_scipy_on_random_samples(seed):
    rng = np.random.default_rng(seed)
    ref, cur = rng.normal(0, 1, 700), rng.normal(0.3, 1.2, 300)
    assert drift.ks_statistic(ref, cur) == pytest.approx(ks_2samp(ref, cur).statistic, abs=1e-12)


def test_chi_square_and_js_match_scipy():
    ref, cur = [50, 30, 20, 0], [30, 30, 30, 10]
    statistic, p_value = drift.chi_square_test(ref, cur)
    expected = chi2_contingency(np.array([ref, cur]), correction=False)
    assert statistic == pytest.approx(expected[0])
    assert p_value == pytest.approx(expected[1])
    assert drift.js_distance(ref, cur) == pytest.approx(
        jensenshannon(np.array(ref) / 100, np.array(cur) / 100), abs=1e-12
    )


def test_profile_of_numbers_and_categories():
    rng = np.random.default_rng(1)
    values = [f"{v:.3f}" for v in rng.normal(10, 2, 500)]
    colours = ["red"] * 300 + ["blue"] * 150 + ["green"] * 50
    profile = drift.profile_table(["x", "colour"], {"x": [*values, ""], "colour": [*colours, "red"]})
    x, colour = profile["columns"]
    assert x["kind"] == "numeric"
    assert x["missing"] == 1
    assert x["count"] == 500
    numbers = np.array([float(v) for v in values])
    assert x["quantiles"]["0.5"] == pytest.approx(np.median(numbers))
    assert sum(x["histogram"]["counts"]) == 500
    assert sum(x["psi_reference_shares"]) == pytest.approx(1.0)
    assert colour["kind"] == "categorical"
    assert [(f["value"], f["count"]) for f in colour["frequencies"]] == [("red", 301), ("blue", 150), ("green", 50)]


def test_few_distinct_numbers_are_categories():
    assert drift.infer_kind(["0", "1", "1", "0"]) == "categorical"
    assert drift.infer_kind([str(i) for i in range(10)]) == "numeric"
    assert drift.infer_kind(["1", "x"]) == "categorical"


def test_compare_flags_shifted_numbers_and_categories_but_not_a_same_distribution_sample():
    rng = np.random.default_rng(42)
    ref = {"x": list(rng.normal(0, 1, 800)), "c": list(rng.choice(["a", "b", "c"], 800, p=[0.5, 0.3, 0.2]))}
    profile = drift.profile_table(["x", "c"], ref)
    same = {"x": list(rng.normal(0, 1, 400)), "c": list(rng.choice(["a", "b", "c"], 400, p=[0.5, 0.3, 0.2]))}
    moved = {"x": list(rng.normal(1, 1, 400)), "c": list(rng.choice(["a", "b", "c", "d"], 400, p=[0.2, 0.2, 0.2, 0.4]))}
    thresholds = DriftThresholds()
    calm = drift.compare_table(profile, ref, same, thresholds)
    assert calm["drifted"] is False, calm["columns"]
    shifted = drift.compare_table(profile, ref, moved, thresholds)
    assert shifted["drifted_columns"] == ["x", "c"]
    x, c = shifted["columns"]
    assert x["test"] == "ks"
    assert x["p_value"] < 0.05
    assert x["psi"] > 0.25
    assert x["psi_reading"] == "major shift"
    assert c["test"] == "chi_square"
    assert c["unseen_categories"] == ["d"]
    # the PSI reported is the formula on the anchor's bins
    shares = drift.bin_shares(np.array(moved["x"]), profile["columns"][0]["psi_edges"])
    assert x["psi"] == pytest.approx(drift.psi(profile["columns"][0]["psi_reference_shares"], shares))


def test_large_reference_uses_jensen_shannon_for_categories():
    rng = np.random.default_rng(3)
    ref = {"c": list(rng.choice(["a", "b"], 2000, p=[0.5, 0.5]))}
    profile = drift.profile_table(["c"], ref)
    result = drift.compare_column(
        profile["columns"][0], ref["c"], list(rng.choice(["a", "b"], 500, p=[0.9, 0.1])), DriftThresholds()
    )
    assert result["test"] == "jensen_shannon"
    assert result["drifted"] is True
    assert any("Jensen-Shannon" in r for r in result["reasons"])
