"""Datasets a run reads, as MLflow's `mlflow.data`: name, digest, source, schema, profile.

    import tracking
    from tracking.data import from_pandas
    dataset = from_pandas(frame, source="s3://bucket/churn.csv", name="churn", targets="y")
    with tracking.start_run():
        tracking.log_input(dataset, context="training")

`log_input` records the dataset as tags of the run, under ``dataset.<name>.``: ``digest``,
``source``, ``source_type``, ``context``, ``schema`` and ``profile`` (JSON), so they are
searchable (``tags.`dataset.churn.digest` = '1a2b3c4d'``) and shown beside the run's other
tags. pandas and numpy are imported only when a dataset is made.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from tracking.errors import InvalidInputError

TAG_PREFIX = "dataset."
DEFAULT_NAME = "dataset"


@dataclass(frozen=True)
class Dataset:
    """A dataset's identity: `digest` changes when its content does."""

    name: str
    digest: str
    source: str
    source_type: str
    schema: dict[str, str] = field(default_factory=dict)
    profile: dict[str, int] = field(default_factory=dict)
    targets: str | None = None

    def tags(self, context: str | None = None) -> dict[str, str]:
        """The run tags `log_input` writes for this dataset."""
        prefix = f"{TAG_PREFIX}{self.name}."
        tags = {"digest": self.digest, "source": self.source, "source_type": self.source_type,
                "schema": json.dumps(self.schema), "profile": json.dumps(self.profile)}
        if self.targets is not None:
            tags["targets"] = self.targets
        if context is not None:
            tags["context"] = context
        return {prefix + key: value for key, value in tags.items()}


def _source(source: Any) -> tuple[str, str]:
    """(text, type) of a dataset source: a path or URI string, or nothing."""
    if source is None:
        return "", "code"
    text = str(source)
    scheme = text.split("://", 1)[0] if "://" in text else "local"
    return text, scheme


def _name(name: str | None) -> str:
    if name is None:
        return DEFAULT_NAME
    if not isinstance(name, str) or not name or "." in name or len(name) > 100:
        raise InvalidInputError(f"dataset name: 1 to 100 characters without '.' (got {name!r})")
    return name


def from_pandas(df: Any, source: Any = None, targets: str | None = None,
                name: str | None = None, digest: str | None = None,
                predictions: str | None = None) -> Dataset:
    """A Dataset of a pandas DataFrame: schema from its dtypes, digest from its content.

    >>> from_pandas(pd.DataFrame({"x": [1, 2]}), name="toy").profile
    {'num_rows': 2, 'num_elements': 2}
    """
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise InvalidInputError(f"from_pandas: expected a pandas DataFrame, got "
                                f"{type(df).__name__}")
    for column in (targets, predictions):
        if column is not None and column not in df.columns:
            raise InvalidInputError(f"from_pandas: no column {column!r} in the DataFrame")
    if digest is None:
        hashed = pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes()
        columns = json.dumps([str(c) for c in df.columns]).encode()
        digest = hashlib.sha256(columns + hashed).hexdigest()[:8]
    text, kind = _source(source)
    return Dataset(_name(name), digest, text, kind,
                   schema={str(c): str(t) for c, t in df.dtypes.items()},
                   profile={"num_rows": len(df), "num_elements": int(df.size)}, targets=targets)


def from_numpy(features: Any, source: Any = None, targets: Any = None,
               digest: str | None = None, name: str | None = None) -> Dataset:
    """A Dataset of a numpy array (and optional target array): dtype and shape as schema.

    >>> from_numpy(np.zeros((3, 2)), name="zeros").schema
    {'features': 'float64 (-1, 2)'}
    """
    import numpy as np

    arrays = {"features": features} if targets is None else {"features": features,
                                                             "targets": targets}
    if not all(isinstance(a, np.ndarray) for a in arrays.values()):
        raise InvalidInputError("from_numpy: features and targets must be numpy arrays")
    if digest is None:
        hasher = hashlib.sha256()
        for array in arrays.values():
            hasher.update(f"{array.dtype}{array.shape}".encode())
            hasher.update(np.ascontiguousarray(array).tobytes())
        digest = hasher.hexdigest()[:8]
    text, kind = _source(source)
    return Dataset(_name(name), digest, text, kind,
                   schema={k: f"{a.dtype} {(-1, *a.shape[1:])}" for k, a in arrays.items()},
                   profile={"num_rows": int(features.shape[0]) if features.ndim else 1,
                            "num_elements": int(sum(a.size for a in arrays.values()))},
                   targets=None if targets is None else "targets")


_UNSUPPORTED = {
    "from_spark": "from_pandas (convert with DataFrame.toPandas())",
    "from_huggingface": "from_pandas (convert with Dataset.to_pandas())",
    "from_polars": "from_pandas (convert with DataFrame.to_pandas())",
    "load_delta": "from_pandas",
    "from_tensorflow": "from_numpy",
}


def __getattr__(name: str) -> object:
    """MLflow's other dataset constructors: a one-line NotImplementedError with the nearest
    supported one."""
    if name in _UNSUPPORTED:
        raise NotImplementedError(f"tracking.data.{name} is not supported; use "
                                  f"{_UNSUPPORTED[name]}")
    raise AttributeError(f"module 'tracking.data' has no attribute {name!r}")


__all__ = ["Dataset", "from_numpy", "from_pandas"]
