"""Other tools' sweep formats, translated at the edge into one sweepbook config.

`wandb_config` reads a W&B sweep file; `wandb_space` holds the W&B distributions optuna
lacks; `macros` expands W&B's ``program``/``command``; `hyperband` is W&B's early
termination as an optuna pruner; ``shim/wandb`` is the ``wandb`` module W&B programs import.
"""
