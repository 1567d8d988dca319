"""sweeps: hyperparameter sweeps from a YAML config, tracked run by run.

    import sweeps
    result = sweeps.run("configs/quickstart.yaml", trials=20)
    print(result.best_params, result.best_value)

`import sweeps` stays cheap (an objective imports it for `TrialPruned`): the engine,
optuna and pandas load on first use of `run` and the config functions.
"""

from __future__ import annotations

import importlib
from typing import Any

from sweeps.errors import ConfigError, SweepError, SweepsError, TrialPruned
from sweeps.trial import Trial

_LAZY = {"run": "sweeps.api", "SweepResult": "sweeps.api", "SweepConfig": "sweeps.config",
         "load_config": "sweeps.config", "parse_config": "sweeps.config",
         "create_study": "sweeps.optuna_compat.study", "extend": "sweeps.again",
         "rerun_failed": "sweeps.again", "recheck": "sweeps.again", "reproduce": "sweeps.again"}

__all__ = ["ConfigError", "SweepConfig", "SweepError", "SweepResult", "SweepsError", "Trial",
           "TrialPruned", "create_study", "extend", "load_config", "parse_config", "recheck",
           "reproduce", "rerun_failed", "run"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sweeps' has no attribute {name!r}")
