"""The folder put first on a W&B-format trial's ``PYTHONPATH``: it holds only ``wandb``."""
