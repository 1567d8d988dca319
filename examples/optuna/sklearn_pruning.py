"""optuna's pruning example (examples/basic_and_faq_usages/simple_pruning.py): an
SGDClassifier trained step by step, reporting its validation accuracy and stopping when
the median pruner says so; the one change is `sweeps.create_study`.

    python examples/optuna/sklearn_pruning.py
"""

import optuna
import sklearn.datasets
import sklearn.linear_model
import sklearn.model_selection

import sweeps


def objective(trial: optuna.Trial) -> float:
    iris = sklearn.datasets.load_iris()
    classes = list(set(iris.target))
    train_x, valid_x, train_y, valid_y = sklearn.model_selection.train_test_split(
        iris.data, iris.target, test_size=0.25, random_state=0)

    alpha = trial.suggest_float("alpha", 1e-5, 1e-1, log=True)
    clf = sklearn.linear_model.SGDClassifier(alpha=alpha)

    for step in range(20):
        clf.partial_fit(train_x, train_y, classes=classes)
        intermediate_value = clf.score(valid_x, valid_y)
        trial.report(intermediate_value, step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return clf.score(valid_x, valid_y)


if __name__ == "__main__":
    study = sweeps.create_study(  # was: optuna.create_study(...)
        direction="maximize", pruner=optuna.pruners.MedianPruner(n_startup_trials=4))
    study.optimize(objective, n_trials=20, n_jobs=2)
    pruned = study.get_trials(deepcopy=False, states=[optuna.trial.TrialState.PRUNED])
    print(f"Pruned trials: {len(pruned)}; best value: {study.best_value}")
