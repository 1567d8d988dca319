"""W&B's hyperband early termination as an optuna pruner, on known sequences
(the cases of wandb/sweeps tests/test_hyperband_stopping.py and its docstring)."""

from __future__ import annotations

import optuna
import pytest

from sweeps.compat.hyperband import WandbHyperbandPruner, hyperband_bands


@pytest.mark.parametrize(("options", "bands"), [
    ({"min_iter": 3, "eta": 3}, [3, 9, 27]),
    ({"max_iter": 81, "s": 3, "eta": 3}, [3, 9, 27]),
    ({"max_iter": 18, "s": 2, "eta": 3}, [2, 6]),
    ({"max_iter": 27, "s": 2, "eta": 3}, [3, 9]),  # max_iter itself is never a band
    ({"max_iter": 5, "s": 2, "eta": 2}, [1, 2]),
    ({"max_iter": 5, "s": 9, "eta": 2}, [1, 2]),  # stops once a band would be < 1
])
def test_bands_as_wandb_computes_them(options, bands):
    assert hyperband_bands(**options)[:3] == bands
    if "min_iter" in options:
        assert len(hyperband_bands(**options)) == 100


@pytest.mark.parametrize("options", [{"min_iter": 0}, {"max_iter": 1, "s": 2}, {"s": 2},
                                     {"min_iter": 3, "eta": 1}, {"min_iter": 3, "s": 1}])
def test_bad_options_raise(options):
    with pytest.raises(ValueError):
        hyperband_bands(**options)


def study_with(histories: dict[str, tuple[list[float], bool]], direction: str = "minimize",
               **options) -> tuple[optuna.Study, dict[str, optuna.Trial]]:
    """A study whose trials reported `histories` (name -> (values, still running))."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction=direction, pruner=WandbHyperbandPruner(**options))
    running = {}
    for name, (values, is_running) in histories.items():
        trial = study.ask()
        for step, value in enumerate(values):
            trial.report(value, step * 10)  # the step does not count: the values do
        if is_running:
            running[name] = trial
        else:
            study.tell(trial, values[-1])
    return study, running


def stopped(running: dict[str, optuna.Trial]) -> set[str]:
    return {name for name, trial in running.items() if trial.should_prune()}


def test_min_iter_stops_the_run_behind_at_band_3():
    _, running = study_with({"run": ([10] * 4, True),
                             "run2": ([10 - i for i in range(10)], True)}, min_iter=3, eta=3)
    assert stopped(running) == {"run"}


def test_maximize_negates_the_values():
    _, running = study_with({"run": ([10] * 4, True),
                             "run2": ([10 + i for i in range(10)], True)},
                            direction="maximize", min_iter=3, eta=3)
    assert stopped(running) == {"run"}


def test_max_iter_form_counts_finished_and_running_runs():
    # wandb/sweeps hyperband_stop_runs docstring: bands [1, 2]; at band 2 the values are
    # 9, 10, 8, 7, 6 -> sorted [6, 7, 8, 9, 10], threshold index int(5 / 2) = 2 -> 8
    _, running = study_with({"a": ([10, 9], False), "b": ([10, 10], True),
                             "c": ([10, 8, 8], True), "d": ([10, 7, 7], True),
                             "e": ([10, 6, 6], False)}, max_iter=5, eta=2, s=2)
    assert stopped(running) == {"b"}


def test_strict_looks_at_the_band_value_and_non_strict_at_the_best_so_far():
    histories = {"good": ([5, 5, 5], False), "late": ([1, 9, 9], True),
                 "other": ([6, 6, 6], False)}
    _, running = study_with(histories, min_iter=3, eta=3, strict=True)
    assert stopped(running) == {"late"}  # at band 3: 9, above the threshold (sorted [5, 6, 9])[1]
    _, running = study_with(histories, min_iter=3, eta=3, strict=False)
    assert stopped(running) == set()  # its best value, 1, is below it


def test_no_band_reached_means_no_stop():
    _, running = study_with({"short": ([100, 100], True), "x": ([1, 1, 1], False)},
                            min_iter=3)
    assert stopped(running) == set()
