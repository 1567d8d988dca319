"""The re-check verdict on known numbers: statistics, the bootstrap, and each sentence."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from sweeps.verdict import best_share, recheck_verdict


def test_statistics_match_numpy_and_scipy_and_the_goal_picks_the_winner():
    a, b = [0.95, 0.951, 0.949, 0.955, 0.952], [0.94, 0.93, 0.945, 0.938, 0.941, 0.944]
    verdict = recheck_verdict({12: 0.946, 27: 0.953}, {27: a, 12: b}, metric="acc",
                              goal="maximize", failed={12: 1})
    first, second = verdict.trials
    assert (first.number, second.number, verdict.winner) == (27, 12, 27)
    assert first.mean == pytest.approx(np.mean(a)) and first.sd == pytest.approx(np.std(a, ddof=1))
    low, high = stats.t.interval(0.95, len(a) - 1, loc=np.mean(a), scale=stats.sem(a))
    assert first.interval == pytest.approx((low, high))
    assert (first.minimum, first.maximum, second.n, second.failed) == (0.949, 0.955, 6, 1)
    assert second.cells() == ("12", "0.946", f"{np.mean(b):.4g} ± {np.std(b, ddof=1):.4g}",
                              second.interval_text(), "6", "1")
    assert verdict.p_best > 0.99
    assert verdict.sentence.startswith("trial 27 holds: best in 100 % of resamples; its mean "
                                       f"{first.mean_text()} is above trial 12's")
    # the same numbers as losses: trial 12 (lower) wins on the original values and holds
    losses = recheck_verdict({12: 0.946, 27: 0.953}, {27: a, 12: b}, metric="loss",
                             goal="minimize")
    assert losses.winner == 12 and losses.p_best > 0.99 and " is below trial 27's " in \
        losses.sentence
    # a winner that the repeats overturn
    overturned = recheck_verdict({12: 0.9, 27: 0.96}, {27: b, 12: a}, metric="acc",
                                 goal="maximize")
    assert overturned.winner == 27 and overturned.p_best < 0.01
    assert overturned.sentence.startswith("trial 27 does not hold: trial 12's mean")
    json = verdict.to_json()
    assert json["head"][:3] == ["trial", "original", "mean ± sd"]
    assert json["rows"][0][0] == "27" and json["trials"][1]["failed"] == 1


def test_the_bootstrap_is_near_one_when_separated_near_chance_when_identical_and_fixed():
    rng = np.random.default_rng(5)
    same = [rng.normal(0, 1, 5), rng.normal(0, 1, 5)]
    shares = best_share([same[0], same[0].copy()], "maximize")
    assert shares == pytest.approx([0.5, 0.5], abs=0.03)  # the same repeats: chance
    near = best_share(same, "minimize")
    assert near.sum() == pytest.approx(1) and 0.15 < near[0] < 0.85
    assert np.array_equal(near, best_share(same, "minimize"))  # seeded: deterministic
    far = best_share([rng.normal(10, 1, 5), rng.normal(0, 1, 5), rng.normal(0, 1, 5)],
                     "maximize")
    assert far[0] == 1.0
    assert best_share([[1.0, 1.0], [2.0, 2.0]], "minimize").tolist() == [1.0, 0.0]
    with pytest.raises(ValueError, match="goal: must be 'maximize' or 'minimize', got 'max'"):
        best_share([[1.0]], "max")


def test_overlapping_trials_are_called_indistinguishable():
    verdict = recheck_verdict({27: 0.96, 12: 0.95},
                              {27: [0.95, 0.96, 0.94, 0.97, 0.95],
                               12: [0.96, 0.95, 0.94, 0.95, 0.96]},
                              metric="acc", goal="maximize")
    assert 0.2 < verdict.p_best < 0.8
    assert verdict.sentence == (
        "trial 27 and trial 12 are indistinguishable at 5 repeats (their 95 % intervals "
        f"overlap; trial 27 is best in {100 * verdict.p_best:.0f} % of resamples).")


@pytest.mark.parametrize(("repeats", "failed", "running", "expected"), [
    ({}, {3: 5}, {}, "trial 3 could not be re-checked: its 5 repeats all failed."),
    ({}, {3: 1}, {}, "trial 3 could not be re-checked: its 1 repeat failed."),
    ({}, {}, {3: 2}, "trial 3 has no finished repeat yet. (2 repeats still running.)"),
    ({3: [0.5], 4: [0.7, 0.8]}, {}, {},
     "trial 3 has 1 repeat: no interval (its value 0.5); re-check with more repeats to "
     "compare."),
    ({3: [0.5, 0.5, 0.5], 4: [0.9]}, {}, {},
     "trial 3: mean 0.5 ± 0, 95 % interval [0.5, 0.5] over 3 repeats; no other trial has 2 "
     "finished repeats to compare with."),
    ({3: [0.5, 0.5], 4: [0.5, 0.5]}, {}, {},
     "trial 3 and trial 4 are indistinguishable at 2 repeats (their 95 % intervals overlap; "
     "trial 3 is best in 50 % of resamples)."),
])
def test_the_sentence_for_failed_single_constant_and_running_repeats(repeats, failed, running,
                                                                     expected):
    verdict = recheck_verdict({3: 0.4, 4: 0.6}, repeats, metric="loss", goal="minimize",
                              failed=failed, running=running)
    assert verdict.sentence == expected
    assert verdict.trials[0].number == 3


def test_no_interval_below_two_repeats_and_multi_objective_says_which_metric():
    verdict = recheck_verdict({1: 2.0, 2: math.nan}, {1: [2.5], 2: [1.0, 3.0]}, metric="a",
                              goal="minimize", first_of=2)
    one, two = verdict.trials
    assert one.cells() == ("1", "2", "2.5", "1 repeat: no interval", "1", "0")
    assert math.isnan(one.sd) and all(math.isnan(v) for v in one.interval)
    assert two.cells()[:3] == ("2", "", "2 ± 1.414")
    assert verdict.sentence.startswith("By a, the first of 2 objectives: trial 1 has 1 repeat")
    assert verdict.to_json()["trials"][0]["sd"] is None
    assert recheck_verdict({}, {}, metric="a", goal="maximize").sentence == \
        "No trial has been re-checked."
