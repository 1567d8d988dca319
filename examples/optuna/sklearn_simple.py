"""optuna's examples/sklearn/sklearn_simple.py: an SVC or a random forest on iris, each with
its own params (a conditional space); the one change is `sweeps.create_study`.

    python examples/optuna/sklearn_simple.py
"""

import optuna
import sklearn.datasets
import sklearn.ensemble
import sklearn.model_selection
import sklearn.svm

import sweeps


def objective(trial: optuna.Trial) -> float:
    iris = sklearn.datasets.load_iris()
    x, y = iris.data, iris.target

    classifier_name = trial.suggest_categorical("classifier", ["SVC", "RandomForest"])
    if classifier_name == "SVC":
        svc_c = trial.suggest_float("svc_c", 1e-10, 1e10, log=True)
        classifier_obj = sklearn.svm.SVC(C=svc_c, gamma="auto")
    else:
        rf_max_depth = trial.suggest_int("rf_max_depth", 2, 32, log=True)
        classifier_obj = sklearn.ensemble.RandomForestClassifier(
            max_depth=rf_max_depth, n_estimators=10)

    score = sklearn.model_selection.cross_val_score(classifier_obj, x, y, n_jobs=1, cv=3)
    return score.mean()


if __name__ == "__main__":
    study = sweeps.create_study(direction="maximize")  # was: optuna.create_study(...)
    study.optimize(objective, n_trials=20, n_jobs=2)
    print(study.best_trial)
