"""`autolog()`: every scikit-learn `fit` logs its params, training metrics and model.

As MLflow, the `fit` of each estimator class is wrapped; only the outermost `fit` logs (a
Pipeline's steps and a search's candidates are fitted inside it). With no active run, one
is started for the `fit` and ended after it. Training metrics carry MLflow's names
(`training_score`, `training_accuracy_score`, `training_r2_score`, ...). A parameter search
(GridSearchCV, RandomizedSearchCV) also logs `best_<param>` params, `best_cv_score`, the best
estimator under `best_estimator`, `cv_results.csv`, and its best candidates as child runs.
A failure to log never fails the `fit`: it is a one-line warning on stderr.

    >>> autolog()
    >>> RandomForestClassifier().fit(X, y)     # a run with params, metrics and `model`
"""

from __future__ import annotations

import contextvars
import functools
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from numbers import Number
from typing import Any

from tracking import fluent
from tracking.errors import InvalidInputError, TrackingError
from tracking.validation import MAX_PARAM_LENGTH

__all__ = ["autolog"]


@dataclass
class _Settings:
    log_models: bool = True
    log_input_examples: bool = False
    log_model_signatures: bool = True
    serialization_format: str = "skops"
    silent: bool = False
    max_tuning_runs: int | None = 5


_settings = _Settings()
_originals: dict[type, Callable[..., Any]] = {}
"""Classes whose own `fit` is wrapped -> their original `fit`."""
_inside_fit: contextvars.ContextVar[bool] = contextvars.ContextVar("autolog_inside_fit",
                                                                   default=False)
_EXAMPLE_ROWS = 5


def _warn(message: str) -> None:
    if not _settings.silent:
        print(f"tracking.sklearn.autolog: {message}", file=sys.stderr)


def _fit_owners() -> set[type]:
    """The classes that define the `fit` of every scikit-learn estimator, searches included."""
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
    from sklearn.pipeline import Pipeline
    from sklearn.utils import all_estimators
    classes = {cls for _, cls in all_estimators()} | {Pipeline, GridSearchCV, RandomizedSearchCV}
    owners = set()
    for cls in classes:
        owner = next((c for c in cls.__mro__ if "fit" in c.__dict__), None)
        if owner is not None:
            owners.add(owner)
    return owners


def _wrap(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _inside_fit.get():
            return original(self, *args, **kwargs)
        token = _inside_fit.set(True)
        try:
            return _fit_and_log(original, self, args, kwargs)
        finally:
            _inside_fit.reset(token)
    return fit


def autolog(log_models: bool = True, log_input_examples: bool = False, disable: bool = False,
            silent: bool = False, max_tuning_runs: int | None = 5,
            log_model_signatures: bool = True, serialization_format: str = "skops") -> None:
    """Log every scikit-learn `fit` from now on (`disable=True` undoes it). Models are saved
    with skops unless `serialization_format` says otherwise (MLflow's default is cloudpickle).

        >>> autolog(log_input_examples=True)
        >>> GridSearchCV(SVC(), {"C": [0.1, 1]}).fit(X, y)
    """
    if disable:
        for owner, original in _originals.items():
            owner.fit = original
        _originals.clear()
        return
    from tracking.sklearn.flavor import SERIALIZATION_FORMATS
    if serialization_format not in SERIALIZATION_FORMATS:
        raise InvalidInputError(f"autolog: serialization_format {serialization_format!r} is not "
                                f"one of {', '.join(SERIALIZATION_FORMATS)}")
    _settings.log_models = log_models
    _settings.log_model_signatures = log_model_signatures
    _settings.serialization_format = serialization_format
    _settings.log_input_examples = log_input_examples
    _settings.silent = silent
    _settings.max_tuning_runs = max_tuning_runs
    for owner in _fit_owners() - set(_originals):
        _originals[owner] = owner.__dict__["fit"]
        owner.fit = _wrap(owner.__dict__["fit"])


def _fit_and_log(original: Callable[..., Any], estimator: Any, args: tuple[Any, ...],
                 kwargs: dict[str, Any]) -> Any:
    started = None if fluent.active_run() else fluent.start_run()
    try:
        result = original(estimator, *args, **kwargs)
    except BaseException:
        if started is not None:
            fluent.end_run("FAILED")
        raise
    try:
        X = args[0] if args else kwargs.get("X")
        y = args[1] if len(args) > 1 else kwargs.get("y")
        _log_fit(estimator, X, y, kwargs.get("sample_weight"))
    except (TrackingError, OSError, ValueError, TypeError, AttributeError) as e:
        _warn(f"could not log the fit of {type(estimator).__name__}: {e}")
    finally:
        if started is not None:
            fluent.end_run()
    return result


def _param_values(params: Mapping[str, Any]) -> dict[str, Any]:
    """Params as MLflow logs them: plain values kept, others as text cut to the length limit."""
    return {k: v if isinstance(v, (bool, int, float, str, type(None))) and
            len(str(v)) <= MAX_PARAM_LENGTH else str(v)[:MAX_PARAM_LENGTH]
            for k, v in params.items()}


def _metric(name: str, compute: Callable[[], Any], into: dict[str, float]) -> None:
    try:
        into[name] = float(compute())
    except (ValueError, TypeError, AttributeError) as e:
        _warn(f"metric {name} not recorded: {e}")


def training_metrics(estimator: Any, X: Any, y: Any, sample_weight: Any = None,
                     prefix: str = "training_") -> dict[str, float]:
    """MLflow's training metrics of a fitted estimator: by type, classifier or regressor."""
    import numpy as np
    from sklearn import metrics
    from sklearn.base import is_classifier, is_regressor
    out: dict[str, float] = {}
    if y is None:
        return out
    weight = {"sample_weight": sample_weight}
    if hasattr(estimator, "score"):
        _metric(prefix + "score",
                lambda: estimator.score(X, y, **({} if sample_weight is None else weight)), out)
    if is_classifier(estimator):
        predicted = estimator.predict(X)
        for name, fn in (("precision_score", metrics.precision_score),
                         ("recall_score", metrics.recall_score), ("f1_score", metrics.f1_score)):
            _metric(prefix + name, functools.partial(fn, y, predicted, average="weighted",
                                                     **weight), out)
        _metric(prefix + "accuracy_score",
                lambda: metrics.accuracy_score(y, predicted, **weight), out)
        if hasattr(estimator, "predict_proba"):
            proba = estimator.predict_proba(X)
            _metric(prefix + "log_loss", lambda: metrics.log_loss(y, proba, **weight), out)
            scores = proba[:, 1] if proba.shape[1] == 2 else proba
            _metric(prefix + "roc_auc", lambda: metrics.roc_auc_score(
                y, scores, average="weighted", multi_class="ovo", **weight), out)
    elif is_regressor(estimator):
        predicted = estimator.predict(X)
        for name, fn in (("mean_squared_error", metrics.mean_squared_error),
                         ("mean_absolute_error", metrics.mean_absolute_error),
                         ("r2_score", metrics.r2_score)):
            _metric(prefix + name, functools.partial(fn, y, predicted, **weight), out)
        if prefix + "mean_squared_error" in out:
            out[prefix + "root_mean_squared_error"] = float(
                np.sqrt(out[prefix + "mean_squared_error"]))
    return out


def _log_model(estimator: Any, name: str, X: Any) -> None:
    import numpy as np
    import pandas as pd

    from tracking.models.signature import infer_signature
    from tracking.sklearn.flavor import log_model
    # as MLflow: the first rows of a table or array (sparse and other inputs get neither)
    example = X[:_EXAMPLE_ROWS] if isinstance(X, (pd.DataFrame, np.ndarray)) else None
    signature = None
    if example is not None and _settings.log_model_signatures:
        signature = infer_signature(example, estimator.predict(example))
    log_model(estimator, name=name, signature=signature,
              serialization_format=_settings.serialization_format,
              input_example=example if _settings.log_input_examples else None)


def _is_search(estimator: Any) -> bool:
    from sklearn.model_selection._search import BaseSearchCV
    return isinstance(estimator, BaseSearchCV)


def _log_fit(estimator: Any, X: Any, y: Any, sample_weight: Any) -> None:
    search = _is_search(estimator)
    cls = type(estimator)
    fluent.set_tags({"estimator_name": cls.__name__,
                     "estimator_class": f"{cls.__module__}.{cls.__qualname__}"})
    fluent.log_params(_param_values(estimator.get_params(deep=not search)))
    fluent.log_metrics(training_metrics(estimator, X, y, sample_weight))
    if _settings.log_models and hasattr(estimator, "predict"):
        _log_model(estimator, "model", X)
    if search:
        _log_search(estimator, X)


def _log_search(search: Any, X: Any) -> None:
    """Best params, score and estimator of a fitted search; its best candidates as children."""
    import pandas as pd
    if hasattr(search, "best_params_"):
        fluent.log_params(_param_values({f"best_{k}": v for k, v in search.best_params_.items()}))
    if hasattr(search, "best_score_"):
        fluent.log_metric("best_cv_score", float(search.best_score_))
    if _settings.log_models and hasattr(search, "best_estimator_"):
        _log_model(search.best_estimator_, "best_estimator", X)
    if not hasattr(search, "cv_results_"):
        return
    results = pd.DataFrame(search.cv_results_)
    fluent.log_text(results.to_csv(index=False), "cv_results.csv")
    parent = fluent.active_run()
    if parent is None or not parent.owned:
        # a host's run (a sweep trial): its child runs are the host's to create
        return
    rank = "rank_test_score" if "rank_test_score" in results else next(
        (c for c in results.columns if c.startswith("rank_test_")), None)
    if rank is not None and _settings.max_tuning_runs is not None:
        results = results.nsmallest(_settings.max_tuning_runs, rank)
    base = search.estimator.get_params(deep=True)
    for _, row in results.iterrows():
        with fluent.start_run(nested=True, capture_environment=False):
            fluent.log_params(_param_values({**base, **row["params"]}))
            fluent.log_metrics({k: float(v) for k, v in row.items()
                                if not str(k).startswith(("param", "split"))
                                and isinstance(v, Number)})
