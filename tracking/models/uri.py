"""Model and artifact URIs: `runs:/<run_id>/<path>`, `models:/...`, and plain local paths.

Every URI is checked before anything is read: an unknown run, a run without that path, and
any path that would leave the run folder (`..`, links, absolute paths) are one-line tracking
errors. `models:/` URIs are resolved by the model registry (`SCHEMES["models"]`), which maps
them to the `runs:/` URI of the registered version.

    >>> download_artifacts("runs:/0a1b.../model", dst_path="/tmp/model")
    '/tmp/model/model'
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from tracking import artifacts
from tracking.client import Client
from tracking.errors import InvalidInputError, NotFoundError

__all__ = ["SCHEMES", "download_artifacts", "local_model_dir", "parse_runs_uri", "run_folder"]


def parse_runs_uri(uri: str) -> tuple[str, str]:
    """(run_id, clean artifact path) of `runs:/<run_id>/<path>`; the path may be empty."""
    rest = uri[len("runs:/"):]
    run_id, _, path = rest.partition("/")
    if not run_id:
        raise InvalidInputError(f"{uri!r}: a runs URI reads runs:/<run_id>/<path>")
    try:
        return run_id, artifacts.clean_artifact_path(path)
    except InvalidInputError as e:
        raise type(e)(f"{uri!r}: {e}") from None


def _models_uri(uri: str, client: Client) -> str:
    """The `runs:/` URI a `models:/name/version` or `models:/name@alias` URI stands for:
    the source of that registered version (an unknown model, version or alias is one line)."""
    return client.resolve_model_uri(uri)


SCHEMES: dict[str, Callable[[str, Client], str]] = {"models": _models_uri}
"""URI schemes that stand for a `runs:/` URI, by scheme name."""


def run_folder(uri: str, client: Client) -> tuple[Path, str]:
    """The artifact folder of the URI's run and the artifact path inside it, both checked."""
    run_id, path = parse_runs_uri(uri)
    client.get_run(run_id)  # NotFoundError names an unknown run
    run_dir = client.artifact_dir(run_id)
    try:
        target = artifacts.resolve_in_run(run_dir, path)
    except InvalidInputError as e:
        raise type(e)(f"{uri!r}: {e}") from None
    if not os.path.lexists(target):
        raise NotFoundError(f"{uri!r}: run {run_id} has no artifact {path!r}")
    return run_dir, path


def _scheme(uri: str) -> str | None:
    """'runs' or a name in SCHEMES for a URI, None for a local path; others are refused."""
    scheme, sep, _ = uri.partition(":/")
    if sep and (scheme == "runs" or scheme in SCHEMES):
        return scheme
    if "://" in uri and not uri.startswith("file://"):
        raise InvalidInputError(f"{uri!r}: unsupported URI scheme {uri.split(':', 1)[0]!r}; "
                                f"use runs:/, {', '.join(f'{s}:/' for s in SCHEMES)} or a path")
    return None


def _runs_uri(uri: str, scheme: str, client: Client) -> str:
    return uri if scheme == "runs" else SCHEMES[scheme](uri, client)


def _local_path(uri: str) -> Path:
    for prefix in ("file://", "file:"):
        if uri.startswith(prefix):
            uri = uri[len(prefix):]
            break
    if not uri or "\x00" in uri:
        raise InvalidInputError(f"{uri!r}: not a path")
    path = Path(uri).expanduser()
    if not os.path.lexists(path):
        raise NotFoundError(f"{uri!r} does not exist")
    return path


def download_artifacts(artifact_uri: str | None = None, run_id: str | None = None,
                       artifact_path: str | None = None,
                       dst_path: str | os.PathLike[str] | None = None,
                       tracking_uri: str | os.PathLike[str] | None = None) -> str:
    """Copy an artifact file or folder to `dst_path` (a new temporary folder if None) and
    return its local path. MLflow's signature: give `artifact_uri`, or `run_id` with an
    optional `artifact_path`.

        >>> download_artifacts(artifact_uri="runs:/0a1b.../model")
        '/tmp/tracking-.../model'
    """
    if (artifact_uri is None) == (run_id is None):
        raise InvalidInputError("download_artifacts: give exactly one of artifact_uri, run_id")
    if artifact_path is not None and artifact_uri is not None:
        raise InvalidInputError("download_artifacts: artifact_path goes with run_id, "
                                "not with artifact_uri")
    if not isinstance(artifact_uri if run_id is None else run_id, str):
        raise InvalidInputError("download_artifacts: artifact_uri and run_id are strings")
    uri = f"runs:/{run_id}/{artifact_path or ''}" if run_id is not None else str(artifact_uri)
    scheme = _scheme(uri)
    if scheme is None:
        local = _local_path(uri).resolve()
        if local == local.parent:
            raise InvalidInputError(f"{uri!r}: will not copy a whole file system")
        source, path = local.parent, local.name
    else:
        client = Client(tracking_uri)
        source, path = run_folder(_runs_uri(uri, scheme, client), client)
    destination = (os.fspath(dst_path) if dst_path is not None
                   else tempfile.mkdtemp(prefix="tracking-"))
    return artifacts.copy_artifacts(source, path or None, destination)


@contextlib.contextmanager
def local_model_dir(model_uri: str) -> Iterator[Path]:
    """A local folder holding the model at `model_uri`, for the block.

    A local path is used as it is; a run's model is copied (links skipped, never followed)
    to a temporary folder removed afterwards."""
    if not isinstance(model_uri, (str, os.PathLike)):
        raise InvalidInputError(f"model_uri must be a str or path (got "
                                f"{type(model_uri).__name__})")
    uri = os.fspath(model_uri)
    scheme = _scheme(uri)
    if scheme is None:
        folder = _local_path(uri)
        if not folder.is_dir():
            raise InvalidInputError(f"{uri!r} is not a model folder")
        yield folder
        return
    client = Client()
    run_dir, path = run_folder(_runs_uri(uri, scheme, client), client)
    with tempfile.TemporaryDirectory(prefix="tracking-model-") as tmp:
        yield Path(artifacts.copy_artifacts(run_dir, path or None, tmp))
