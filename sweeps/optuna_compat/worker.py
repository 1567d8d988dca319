"""The worker side of a define-by-run trial: `DefineByRunTrial` answers optuna's `Trial`
API inside a sweepbook worker.

Each `suggest_*` is a question to the coordinator (a `SuggestQuery`, as prune questions
are), answered by the coordinator's real optuna trial, so the sampler sees every finished
trial and conditional spaces work; a name suggested again returns its value, and one
suggested again with another kind of distribution fails with optuna's message.
`report(value, step)` (optuna's order) and sweepbook's `report(metrics, step)` both log the
objective metric, which drives pruning.

A question names its distribution in optuna's abbreviated JSON (`{"type": "float", "low": ...}`,
which `optuna.distributions.json_to_distribution` reads), built here without importing optuna:
a worker whose objective does not import optuna itself saves its ~0.2 s import. The
coordinator's optuna trial checks the distribution, with optuna's messages.

An objective from a script's `__main__` (a closure, a lambda) reaches the workers as
cloudpickle bytes in the `TrialSpec`, loaded once per worker process; a module-level
function of an importable module travels by its `module:function` name.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sweeps.objectives import load_objective
from sweeps.trial import Trial, TrialSpec

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution
    from optuna.study import StudyDirection

_functions: dict[str, Callable[..., Any]] = {}  # cloudpickled objectives, by their digest


def _plain(value: Any) -> Any:
    """A numpy scalar as its Python value, for JSON (optuna takes either)."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{value!r} ({type(value).__name__}) is not a number, string, bool or None")


def distribution_text(kind: str, **attributes: Any) -> str:
    """A distribution in optuna's abbreviated JSON.

    >>> distribution_text("float", low=0, high=1, step=None, log=False)
    '{"type": "float", "low": 0, "high": 1, "step": null, "log": false}'
    """
    try:
        return json.dumps({"type": kind, **attributes}, default=_plain)
    except (TypeError, ValueError) as e:
        raise ValueError(f"suggest_{kind}: {e}") from None


class StudyView:
    """What a define-by-run trial sees of its study, as of the trial's start: read only,
    but for `stop()`."""

    def __init__(self, view: Mapping[str, Any], trial: Trial) -> None:
        self._trial = trial
        self.study_name: str = view["study_name"]
        self._directions: list[str] = view["directions"]
        self.user_attrs: dict[str, Any] = dict(view["user_attrs"])
        self._best_value: float | None = view["best_value"]

    @property
    def directions(self) -> list[StudyDirection]:
        from optuna.study import StudyDirection
        return [StudyDirection[d.upper()] for d in self._directions]

    @property
    def direction(self) -> StudyDirection:
        if len(self._directions) != 1:
            raise RuntimeError("A single best value is not defined for a multi-objective "
                               "study; use directions.")
        return self.directions[0]

    def stop(self) -> None:
        """optuna's `study.stop()` from inside the objective: no new trials are asked for
        (this one, and the others running, finish)."""
        self._trial.stop_sweep()

    @property
    def best_value(self) -> float:
        if self._best_value is None:
            raise ValueError("No trials are completed yet.")
        return self._best_value


class DefineByRunTrial:
    """optuna's `Trial`, answered by the coordinator's study (see the module docstring).

    >>> def objective(trial):
    ...     kind = trial.suggest_categorical("kind", ["rf", "svm"])
    ...     c = trial.suggest_float("c", 1e-3, 1e3, log=True) if kind == "svm" else None
    """

    def __init__(self, trial: Trial, view: Mapping[str, Any]) -> None:
        self._trial = trial
        self._params: dict[str, Any] = {}
        self._distributions: dict[str, str] = {}  # as asked (see distribution_text)
        self._user_attrs: dict[str, Any] = {}
        self.datetime_start = dt.datetime.now()
        self.study = StudyView(view, trial)

    @property
    def number(self) -> int:
        return self._trial.number

    @property
    def params(self) -> dict[str, Any]:
        return dict(self._params)

    @property
    def distributions(self) -> dict[str, BaseDistribution]:
        from optuna.distributions import json_to_distribution
        return {name: json_to_distribution(text) for name, text in self._distributions.items()}

    @property
    def user_attrs(self) -> dict[str, Any]:
        return dict(self._user_attrs)

    def _suggest(self, name: str, distribution: str) -> Any:
        """The value for `name`; one asked for again the same way is answered here, one
        asked for another way by the coordinator's optuna trial (which checks the two)."""
        if self._distributions.get(name) == distribution:
            return self._params[name]
        value = self._trial.suggest(name, distribution)
        self._params[name] = value
        self._distributions.setdefault(name, distribution)
        return value

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None,
                      log: bool = False) -> float:
        return self._suggest(name, distribution_text("float", low=low, high=high, step=step,
                                                     log=log))

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1,
                    log: bool = False) -> int:
        return self._suggest(name, distribution_text("int", low=low, high=high, step=step,
                                                     log=log))

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        return self._suggest(name, distribution_text("categorical", choices=list(choices)))

    def suggest_uniform(self, name: str, low: float, high: float) -> float:
        return self.suggest_float(name, low, high)

    def suggest_loguniform(self, name: str, low: float, high: float) -> float:
        return self.suggest_float(name, low, high, log=True)

    def suggest_discrete_uniform(self, name: str, low: float, high: float, q: float) -> float:
        return self.suggest_float(name, low, high, step=q)

    def report(self, value: float | Mapping[str, float], step: int) -> None:
        """optuna's `report(value, step)`, or sweepbook's `report(metrics, step)`."""
        self._trial.report(value, step=step)

    def should_prune(self) -> bool:
        return self._trial.should_prune()

    def set_user_attr(self, key: str, value: Any) -> None:
        """Kept here and on the coordinator's optuna trial, and stored as a tag."""
        self._user_attrs[key] = value
        self._trial.set_user_attr(key, value)

    def __getattr__(self, name: str) -> Any:
        """sweepbook's own trial methods (log_metric, log_artifact, set_tag, set_note)."""
        return getattr(self._trial, name)


def load_define_by_run(spec: TrialSpec) -> tuple[Callable[[Any, Trial], Any], bool]:
    """The spec's objective `f(trial)`, as the `f(params, trial)` a worker calls; its
    returned sequence (multi-objective) becomes a `{metric: value}` mapping."""
    assert spec.study_view is not None
    if spec.function is not None:
        if spec.cwd not in sys.path:  # what the objective imports by name, as load_objective
            sys.path.insert(0, spec.cwd)
        digest = spec.function_id or hashlib.sha256(spec.function).hexdigest()
        if digest not in _functions:
            import cloudpickle
            _functions[digest] = cloudpickle.loads(spec.function)
        objective = _functions[digest]
    else:
        objective = load_objective(spec.objective or "", spec.cwd)[0]
    names, view = spec.objective_metrics, spec.study_view

    def run(params: Any, trial: Trial) -> Any:
        returned = objective(DefineByRunTrial(trial, view))
        if isinstance(returned, Sequence) and not isinstance(returned, str):
            if len(returned) != len(names):
                raise ValueError(f"The number of the values {len(returned)} did not match "
                                 f"the number of the objectives {len(names)}.")
            return dict(zip(names, returned, strict=True))
        return returned

    return run, True
