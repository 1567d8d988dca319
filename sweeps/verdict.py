"""The verdict of a re-check: do the best trials hold up when they are run again?

`sweeps recheck` re-runs the top trials of a sweep with new seeds (child runs with
`ROLE=recheck`, see `sweeps.records`). This module turns those repeats into numbers and one
plain sentence; it only computes, it reads nothing from the store:

    verdict = recheck_verdict({27: 0.95, 12: 0.94}, {27: [0.953, 0.949], 12: [0.94, 0.945]},
                              metric="acc", goal="maximize")
    verdict.sentence  # "trial 27 and trial 12 are indistinguishable at 2 repeats (...)"

Per trial: the mean of its finished repeats, the sample sd (ddof=1), a 95 % Student-t
interval of the mean, min and max. Whether the ranking holds: the share of bootstrap
resamples (each trial's repeats drawn with replacement, means compared; ties shared) in
which the original winner is best. Only trials with 2 or more finished repeats take part;
the resampling is seeded, so the same repeats always give the same verdict.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tracking import RunStatus

if TYPE_CHECKING:
    from sweeps.report.data import SweepData

RESAMPLES = 2000
SEED = 0
LEVEL = 0.95
HOLDS = 0.95
"""The winner holds when it is best in at least this share of resamples."""
TABLE_HEAD = ("trial", "original", "mean ± sd", "95 % interval", "repeats", "failed")


def fmt(value: float) -> str:
    """A number as the verdict writes it (4 significant digits; '' for NaN)."""
    if math.isnan(value):
        return ""
    return f"{value:.4g}"


@dataclass(frozen=True)
class TrialRecheck:
    """One re-checked trial: its original value and what its repeats gave."""

    number: int
    original: float  # NaN when the original attempt had no value
    values: tuple[float, ...]  # the finished repeats' values
    failed: int  # repeats that ended without a value (failed, killed, or no metric)
    running: int  # repeats not ended yet

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return float(np.mean(self.values)) if self.values else math.nan

    @property
    def sd(self) -> float:
        """Sample standard deviation (ddof=1); NaN below 2 repeats."""
        return float(np.std(self.values, ddof=1)) if self.n >= 2 else math.nan

    @property
    def interval(self) -> tuple[float, float]:
        """The 95 % Student-t interval of the mean; NaNs below 2 repeats."""
        if self.n < 2:
            return math.nan, math.nan
        from scipy.stats import t

        half = float(t.ppf(0.5 + LEVEL / 2, self.n - 1)) * self.sd / math.sqrt(self.n)
        return self.mean - half, self.mean + half

    @property
    def minimum(self) -> float:
        return min(self.values) if self.values else math.nan

    @property
    def maximum(self) -> float:
        return max(self.values) if self.values else math.nan

    def mean_text(self) -> str:
        """'0.953 ± 0.004' (a single repeat: its value; none: '')."""
        if self.n >= 2:
            return f"{fmt(self.mean)} ± {fmt(self.sd)}"
        return fmt(self.mean)

    def interval_text(self) -> str:
        if self.n >= 2:
            low, high = self.interval
            return f"[{fmt(low)}, {fmt(high)}]"
        return "1 repeat: no interval" if self.n == 1 else "no repeat finished"

    def cells(self) -> tuple[str, ...]:
        """This trial's row of the re-check table (see TABLE_HEAD)."""
        running = f" ({self.running} running)" if self.running else ""
        return (str(self.number), fmt(self.original), self.mean_text(), self.interval_text(),
                f"{self.n}{running}", str(self.failed))

    def overlaps(self, other: TrialRecheck) -> bool:
        (low, high), (other_low, other_high) = self.interval, other.interval
        return low <= other_high and other_low <= high


@dataclass(frozen=True)
class Verdict:
    """What a re-check says: per-trial numbers (best original first) and one sentence."""

    metric: str
    goal: str  # "maximize" | "minimize"
    trials: tuple[TrialRecheck, ...]
    winner: int | None  # the re-checked trial with the best original value
    p_best: float | None  # share of resamples in which the winner is best; None: not computed
    sentence: str

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values (NaN as None), with the table as the report shows it."""
        def plain(value: float) -> float | None:
            return value if math.isfinite(value) else None

        return {
            "metric": self.metric, "goal": self.goal, "winner": self.winner,
            "p_best": self.p_best, "sentence": self.sentence,
            "head": list(TABLE_HEAD), "rows": [list(t.cells()) for t in self.trials],
            "trials": [{
                "number": t.number, "original": plain(t.original), "repeats": t.n,
                "failed": t.failed, "running": t.running, "mean": plain(t.mean),
                "sd": plain(t.sd), "interval": [plain(v) for v in t.interval],
                "min": plain(t.minimum), "max": plain(t.maximum), "values": list(t.values),
            } for t in self.trials]}


def best_share(samples: Sequence[Sequence[float]], goal: str, *, resamples: int = RESAMPLES,
               seed: int = SEED) -> np.ndarray:
    """For each trial, the share of bootstrap resamples in which its mean is best.

    Each resample draws every trial's values with replacement and compares the means;
    trials tied for best share that resample. The shares sum to 1.

    >>> best_share([[1.0, 1.1, 0.9], [5.0, 5.2, 4.9]], "maximize")  # array([0., 1.])
    """
    if goal not in ("maximize", "minimize"):
        raise ValueError(f"goal: must be 'maximize' or 'minimize', got {goal!r}")
    if not samples or any(len(s) == 0 for s in samples):
        raise ValueError("best_share: every trial needs at least one value")
    rng = np.random.default_rng(seed)
    means = np.empty((resamples, len(samples)))
    for i, values in enumerate(samples):
        values = np.asarray(values, dtype=float)
        means[:, i] = values[rng.integers(0, len(values), size=(resamples, len(values)))].mean(
            axis=1)
    best = means.max(axis=1) if goal == "maximize" else means.min(axis=1)
    tied = means == best[:, None]
    return (tied / tied.sum(axis=1, keepdims=True)).mean(axis=0)


def recheck_verdict(originals: Mapping[int, float], repeats: Mapping[int, Sequence[float]], *,
                    metric: str, goal: str, failed: Mapping[int, int] | None = None,
                    running: Mapping[int, int] | None = None,
                    first_of: int = 1) -> Verdict:
    """The verdict of re-checked trials: `originals` {number: original value}, `repeats`
    {number: finished repeats' values}, `failed` / `running` {number: count}; `first_of` is
    how many objectives the sweep has (more than 1: the verdict is about `metric`, the first,
    and says so).

    >>> recheck_verdict({3: 1.0}, {3: [1.0, 1.1]}, metric="loss", goal="minimize").sentence
    """
    if goal not in ("maximize", "minimize"):
        raise ValueError(f"goal: must be 'maximize' or 'minimize', got {goal!r}")
    failed, running = failed or {}, running or {}
    numbers = sorted(set(originals) | set(repeats) | set(failed) | set(running))
    trials = [TrialRecheck(n, float(originals.get(n, math.nan)),
                           tuple(float(v) for v in repeats.get(n, ()) if math.isfinite(v)),
                           failed.get(n, 0), running.get(n, 0)) for n in numbers]
    sign = -1.0 if goal == "maximize" else 1.0
    trials.sort(key=lambda t: (math.isnan(t.original), sign * t.original
                               if not math.isnan(t.original) else 0.0, t.number))
    winner = trials[0] if trials else None
    if winner is not None and math.isnan(winner.original):  # no original values: by mean
        with_mean = [t for t in trials if t.n]
        winner = min(with_mean, key=lambda t: sign * t.mean) if with_mean else winner
    compared = [t for t in trials if t.n >= 2]
    p_best = None
    if winner is not None and winner.n >= 2 and len(compared) >= 2:
        shares = best_share([t.values for t in compared], goal)
        p_best = float(shares[compared.index(winner)])
    sentence = _sentence(winner, compared, p_best, goal)
    if first_of > 1:
        sentence = f"By {metric}, the first of {first_of} objectives: {sentence}"
    pending = sum(t.running for t in trials)
    if pending:
        sentence += f" ({pending} repeat{'s' if pending > 1 else ''} still running.)"
    return Verdict(metric, goal, tuple(trials), None if winner is None else winner.number,
                   p_best, sentence)


def _percent(share: float) -> str:
    return f"{100 * share:.0f} %"


def _sentence(winner: TrialRecheck | None, compared: Sequence[TrialRecheck],
              p_best: float | None, goal: str) -> str:
    if winner is None:
        return "No trial has been re-checked."
    name = f"trial {winner.number}"
    if winner.n == 0:
        if winner.running:
            return f"{name} has no finished repeat yet."
        return (f"{name} could not be re-checked: its {winner.failed} repeat"
                f"{'s all' if winner.failed != 1 else ''} failed.")
    if winner.n == 1:
        return (f"{name} has 1 repeat: no interval (its value {fmt(winner.mean)}); "
                "re-check with more repeats to compare.")
    rivals = [t for t in compared if t is not winner]
    own = f"mean {winner.mean_text()}, 95 % interval {winner.interval_text()}"
    if not rivals or p_best is None:
        return (f"{name}: {own} over {winner.n} repeats; no other trial has 2 finished "
                "repeats to compare with.")
    sign = -1.0 if goal == "maximize" else 1.0
    rival = min(rivals, key=lambda t: sign * t.mean)
    side = "above" if goal == "maximize" else "below"
    other = f"trial {rival.number}"
    counts = str(winner.n) if winner.n == rival.n else f"{winner.n} and {rival.n}"
    if p_best >= HOLDS:
        return (f"{name} holds: best in {_percent(p_best)} of resamples; its mean "
                f"{winner.mean_text()} is {side} {other}'s {rival.mean_text()}.")
    if not winner.overlaps(rival):
        return (f"{name} does not hold: {other}'s mean {rival.mean_text()} is {side} its "
                f"{winner.mean_text()} at {counts} repeats ({name} is best in "
                f"{_percent(p_best)} of resamples).")
    return (f"{name} and {other} are indistinguishable at {counts} repeats (their 95 % "
            f"intervals overlap; {name} is best in {_percent(p_best)} of resamples).")


def sweep_verdict(data: SweepData) -> Verdict | None:
    """The verdict of a loaded sweep's re-checks (`data.reruns`), or None without any: the
    original value of each re-checked trial is that of the attempt it re-ran (else of the
    trial's final attempt)."""
    if not data.reruns or not data.goals:
        return None
    metric, goal = data.goals[0]
    column = f"metrics.{metric}"
    by_run = dict(zip(data.trials["run_id"], data.trials[column].astype(float), strict=True))
    by_number = dict(zip(data.final["number"], data.final[column].astype(float), strict=True))
    originals: dict[int, float] = {}
    repeats: dict[int, list[float]] = {}
    failed: dict[int, int] = {}
    running: dict[int, int] = {}
    for rerun in data.reruns:
        originals.setdefault(rerun.number, by_run.get(rerun.rerun_of,
                                                      by_number.get(rerun.number, math.nan)))
        value = rerun.value(metric)
        if math.isfinite(value):
            repeats.setdefault(rerun.number, []).append(value)
        elif rerun.status in (RunStatus.RUNNING, RunStatus.QUEUED):
            running[rerun.number] = running.get(rerun.number, 0) + 1
        else:
            failed[rerun.number] = failed.get(rerun.number, 0) + 1
    return recheck_verdict(originals, repeats, metric=metric, goal=goal, failed=failed,
                           running=running, first_of=len(data.goals))


__all__ = ["RESAMPLES", "TABLE_HEAD", "TrialRecheck", "Verdict", "best_share", "recheck_verdict",
           "sweep_verdict"]
