"""Promote a sweep's champion: register the best trial's logged model and set an alias.

`promote(client, sweep_run_id)` picks the best finished trial (or `trial=N`; a
multi-objective sweep needs `trial`, and the error lists the Pareto set), registers the
model the trial logged at `model_path` (`tracking.sklearn.log_model(..., name="model")`) as
a new version, and points `alias` at it, with a reason in the alias history.

The version's tags carry the lineage (`tracking.registry.LINEAGE_PREFIX`):
`lineage.sweep_run_id`, `lineage.trial`, `lineage.experiment`, `lineage.config_hash`
(sha256 of the sweep's stored config), `lineage.code_version` (the sweep's git commit,
`-dirty` when it had uncommitted changes) and `lineage.objective` (`accuracy=0.967`).

Explanation: when the trial kept an evaluation set (`trial.set_eval_data(X, y)`), the
permutation importance of the promoted model on it
(`sklearn.inspection.permutation_importance`, 5 repeats, the model's own score) is logged
to the trial's run, beside the model: `importance/permutation.csv` (feature, mean, std)
and the bar chart `importance/permutation.json` (plotly).

    >>> promote(Client("runs"), sweep_run_id, name="iris-rf").version
    3
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import tracking
from sweeps import records
from sweeps.errors import SweepError
from tracking import Client, NotFoundError

LINEAGE = "lineage."
GIT_COMMIT, GIT_DIRTY = "sys.git.commit", "sys.git.dirty"


@dataclass(frozen=True)
class Promotion:
    """What `promote` registered: the version, its alias, and the trial it came from."""

    name: str
    version: int
    alias: str
    trial: int
    run_id: str
    sweep_run_id: str
    model_uri: str
    importance: str | None = None  # the permutation-importance table logged, if any


def _values_text(values: dict[str, float]) -> str:
    """`accuracy=0.967, fit_seconds=0.41`"""
    return ", ".join(f"{name}={value:.6g}" for name, value in values.items())


def lineage_tags(client: Client, sweep: tracking.Run, trial: int,
                 values: dict[str, float]) -> dict[str, str]:
    """The `lineage.*` tags of a version made from `trial` of `sweep`."""
    config = records.read_config(client, sweep)
    digest = "" if config is None else hashlib.sha256(
        json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]
    tags = sweep.data.tags
    commit = tags.get(GIT_COMMIT, "")
    if commit and tags.get(GIT_DIRTY) == "True":
        commit += "-dirty"
    return {f"{LINEAGE}sweep_run_id": sweep.info.run_id, f"{LINEAGE}trial": str(trial),
            f"{LINEAGE}experiment": client.get_experiment(sweep.info.experiment_id).name,
            f"{LINEAGE}config_hash": digest, f"{LINEAGE}code_version": commit,
            f"{LINEAGE}objective": _values_text(values)}


def promote(client: Client, sweep_run_id: str, *, name: str | None = None,
            alias: str = "champion", model_path: str = "model", trial: int | None = None,
            reason: str | None = None) -> Promotion:
    """Register the best (or `trial`'s) model of a sweep and point `alias` at it.

    `name` defaults to the sweep's experiment name. A trial that logged no model at
    `model_path`, an unknown or unfinished trial, and a multi-objective sweep without
    `trial` are one-line SweepErrors.
    """
    from sweeps.report.data import best_numbers, load_sweep
    data = load_sweep(client, sweep_run_id)
    name = name or data.experiment
    try:  # checks the name and the alias (one-line errors) before anything is written
        current = client.get_model_version_by_alias(name, alias)
    except NotFoundError:
        current = None
    done = data.final[data.final["status"] == "FINISHED"].set_index("number")
    goals = [m for m, _ in data.goals]

    def values(number: int) -> dict[str, float]:
        return {m: float(done.loc[number, f"metrics.{m}"]) for m in goals}

    best = best_numbers(data)
    if trial is None:
        if data.multi_objective:
            listed = "; ".join(f"{n} ({_values_text(values(n))})" for n in best) \
                or "none finished"
            raise SweepError(f"sweep {sweep_run_id} has {len(goals)} objectives: choose a "
                             f"trial with --trial; the Pareto set: {listed}")
        if not best:
            raise SweepError(f"sweep {sweep_run_id} has no finished trial to promote")
        trial = best[0]
    elif trial not in done.index:
        raise SweepError(f"sweep {sweep_run_id} has no finished trial {trial}")
    run_id = str(done.loc[trial, "run_id"])
    if not any(f.path.endswith("/MLmodel") or f.path == "MLmodel"
               for f in client.list_artifacts(run_id, model_path)):
        raise SweepError(f"trial {trial} (run {run_id}) logged no model at {model_path!r} "
                         "(log one with tracking.sklearn.log_model(model, name=...), or pass "
                         "--model-path)")
    sweep = client.get_run(sweep_run_id)
    uri = f"runs:/{run_id}/{model_path}"
    if current is not None and current.run_id == run_id and current.source == uri:
        return Promotion(name, current.version, alias, trial, run_id, sweep_run_id, uri,
                         None)  # already there (an extended sweep kept its winner)
    importance = explain(client, run_id, model_path, trial)
    version = tracking.register_model(uri, name, lineage_tags(client, sweep, trial,
                                                              values(trial)),
                                      tracking_uri=client.tracking_uri)
    why = reason or (f"sweeps promote: {'best ' if trial in best else ''}trial {trial} of "
                     f"sweep {sweep_run_id}")
    client.set_registered_model_alias(name, alias, version.version, reason=why)
    return Promotion(name, version.version, alias, trial, run_id, sweep_run_id, uri,
                     importance)


IMPORTANCE_TABLE, IMPORTANCE_FIGURE = "importance/permutation.csv", "importance/permutation.json"


def explain(client: Client, run_id: str, model_path: str, trial: int) -> str | None:
    """Log the permutation importance of the run's model at `model_path` on the evaluation
    set the trial kept (see the module docstring); the table's artifact path, or None when
    the trial kept none. A set that does not fit the model is a one-line SweepError."""
    import tempfile

    import pandas as pd
    import plotly.graph_objects as go
    from sklearn.inspection import permutation_importance

    folder = records.EVAL_DATA_ARTIFACT.rpartition("/")[0]
    if not any(f.path == records.EVAL_DATA_ARTIFACT
               for f in client.list_artifacts(run_id, folder)):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = client.download_artifacts(run_id, records.EVAL_DATA_ARTIFACT, tmp)
        with open(path, encoding="utf-8") as handle:
            kept = json.load(handle)
        model = tracking.sklearn.load_model(client.download_artifacts(run_id, model_path, tmp))
    X = pd.DataFrame(kept["X"]["data"], columns=[str(c) for c in kept["X"]["columns"]])
    named = hasattr(model, "feature_names_in_")  # else sklearn warns about the column names
    try:
        result = permutation_importance(model, X if named else X.to_numpy(), kept["y"],
                                        n_repeats=5, random_state=0)
    except (ValueError, TypeError) as e:
        raise SweepError(f"trial {trial}: permutation importance on its eval set "
                         f"({records.EVAL_DATA_ARTIFACT}) failed: {e}") from None
    table = pd.DataFrame({"feature": X.columns, "importance_mean": result.importances_mean,
                          "importance_std": result.importances_std}
                         ).sort_values("importance_mean", ascending=False)
    client.log_text(run_id, table.to_csv(index=False), IMPORTANCE_TABLE)
    figure = go.Figure(go.Bar(x=table["importance_mean"], y=table["feature"], orientation="h",
                              error_x={"type": "data", "array": table["importance_std"]}))
    figure.update_layout(title=f"Permutation importance of trial {trial}'s {model_path}",
                         xaxis_title="mean drop in score", yaxis={"autorange": "reversed"})
    client.log_text(run_id, figure.to_json(), IMPORTANCE_FIGURE)
    return IMPORTANCE_TABLE
