"""Optuna's own public examples (pure Python or scikit-learn), run on sweepbook with the one
line changed: `optuna.create_study` -> `sweeps.create_study`."""
