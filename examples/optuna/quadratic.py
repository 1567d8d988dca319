"""optuna's quickstart: minimize (x - 2)^2; the one change is `sweeps.create_study`.

    python examples/optuna/quadratic.py
"""

import optuna

import sweeps


def objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -10, 10)
    return (x - 2) ** 2


if __name__ == "__main__":
    study = sweeps.create_study()  # was: optuna.create_study()
    study.optimize(objective, n_trials=20, n_jobs=2)
    print(f"Best value: {study.best_value} (params: {study.best_params})")
