"""W&B's ``metric.impute``: the value a failed trial gives a bayes sweep's model.

W&B's bayes search (wandb/sweeps ``bayes_search.impute``) fits its model on failed,
crashed and killed runs too, with a value: ``latest``, the run's last logged value;
``best``, the run's best; ``worst`` (W&B's default), the worst value any ended run logged;
0.0 when there is none. optuna's samplers leave a FAIL trial out instead. So when a W&B
bayes file sets ``impute``, the sweep tells optuna each failed trial as COMPLETE with that
value (the user attr `IMPUTED` marks it); the run stays FAILED in the store and is never the
sweep's best. Without ``impute``, a failed trial stays FAIL to optuna.

    value = imputed_value(study.get_trials(deepcopy=False), {0: 1.5, 1: 0.9}, "worst",
                          maximize=False)   # the worst any trial logged: 1.5 or more
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from optuna.trial import FrozenTrial, TrialState

IMPUTED = "wandb_imputed"  # optuna user attr: the strategy that gave the trial its value
_ENDED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


def imputed_value(trials: Sequence[FrozenTrial], logged: Mapping[int, float], strategy: str,
                  *, maximize: bool) -> float:
    """W&B's imputed objective for a failed trial that logged `logged` (step → value),
    among the study's other `trials`; `strategy` is latest, best or worst (checked with the
    config). A trial's logged values are its intermediate values (and its value, when it
    completed on its own).
    """
    if strategy == "latest":
        return logged[max(logged)] if logged else 0.0
    pick, other = (max, min) if maximize else (min, max)
    if strategy == "best":
        return pick(logged.values(), default=0.0)
    ended = [_logged(t) for t in trials if t.state in _ENDED]
    return other([other(v) for v in [*ended, list(logged.values())] if v], default=0.0)


def _logged(trial: FrozenTrial) -> list[float]:
    values = list(trial.intermediate_values.values())
    if trial.state is TrialState.COMPLETE and IMPUTED not in trial.user_attrs:
        values += list(trial.values)
    return values
