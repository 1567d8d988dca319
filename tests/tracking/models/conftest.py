"""Small real data sets and a fresh store for the model tests."""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_iris


@pytest.fixture(scope="session")
def iris() -> tuple[pd.DataFrame, pd.Series]:
    return load_iris(return_X_y=True, as_frame=True)


@pytest.fixture(scope="session")
def diabetes() -> tuple[pd.DataFrame, pd.Series]:
    return load_diabetes(return_X_y=True, as_frame=True)
