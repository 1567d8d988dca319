"""optuna's multi-objective tutorial function (Binh and Korn): two objectives, a Pareto
front in `study.best_trials`; the one change is `sweeps.create_study`.

    python examples/optuna/multi_objective.py
"""

import optuna

import sweeps


def objective(trial: optuna.Trial) -> tuple[float, float]:
    x = trial.suggest_float("x", 0, 5)
    y = trial.suggest_float("y", 0, 3)
    v0 = 4 * x**2 + 4 * y**2
    v1 = (x - 5) ** 2 + (y - 5) ** 2
    return v0, v1


if __name__ == "__main__":
    sampler = optuna.samplers.NSGAIISampler(seed=0)
    study = sweeps.create_study(directions=["minimize", "minimize"], sampler=sampler)
    study.optimize(objective, n_trials=24, n_jobs=2)
    print(f"Pareto front: {len(study.best_trials)} trials")
