"""MLflow's exception names: `MlflowException` is the base of every error tracking raises.

    from tracking.exceptions import MlflowException
    try:
        client.get_run("nope")
    except MlflowException as e:
        print(e.error_code)  # RESOURCE_DOES_NOT_EXIST
"""

from __future__ import annotations

INTERNAL_ERROR = "INTERNAL_ERROR"
INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"
RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"


class MlflowException(Exception):
    """An error with MLflow's `.message` and `.error_code` (a class default, or given)."""

    error_code: str = INTERNAL_ERROR

    def __init__(self, message: object = "", error_code: str | None = None) -> None:
        super().__init__(message)
        self.message = str(message)
        if error_code is not None:
            self.error_code = error_code


__all__ = ["INTERNAL_ERROR", "INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST",
           "MlflowException"]
