"""Other tools' sweep formats, translated at the edge into one sweepbook config.

`wandb_config` reads a W&B sweep file; `wandb_space` holds the W&B distributions optuna
lacks; `wandb_grid` is W&B's grid order as an optuna sampler; `impute` is the value a failed
trial gives a bayes sweep (``metric.impute``); `macros` expands W&B's ``program``/``command``;
`hyperband` is W&B's early termination as an optuna pruner; ``shim/wandb`` is the ``wandb``
module W&B programs import.
"""
