"""Optuna compatibility: define-by-run objectives on sweepbook's workers (`study`,
`worker`, `distributions`), and optuna studies imported and sweeps exported (`transfer`).
Modules are imported on use: the engine imports `distributions` without the rest."""
