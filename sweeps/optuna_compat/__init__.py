"""Optuna compatibility: optuna studies imported as sweeps, sweeps exported to optuna
storages (`transfer`)."""

from sweeps.optuna_compat.transfer import export_sweep, import_studies, open_storage

__all__ = ["export_sweep", "import_studies", "open_storage"]
