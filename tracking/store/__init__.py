"""Tracking stores, and the one door to them: `open_store(uri)`.

| uri                                           | store                                    |
|-----------------------------------------------|------------------------------------------|
| ``runs``, ``/abs/runs``, ``file:runs``        | SQLite: ``<folder>/tracking.db`` and     |
| ``file:///abs/runs``                          | ``<folder>/artifacts/``                  |
| ``sqlite:///runs/tracking.db`` (relative),    | SQLite, as MLflow spells it; the file    |
| ``sqlite:////abs/runs/tracking.db``           | must be named ``tracking.db``            |
| ``postgresql://user:pass@host:port/db``,      | PostgreSQL (``pip install                |
| ``postgresql+psycopg://...``                  | sweepbook[postgres]``)                   |

A PostgreSQL store keeps artifacts under an artifact root: the `artifact_root` argument,
else ``$SWEEPS_ARTIFACT_ROOT``, else ``./artifacts`` (give every machine of a team the same
shared folder).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from tracking.errors import InvalidInputError
from tracking.store.base import Store

__all__ = ["ARTIFACT_ROOT_ENV", "Store", "open_store", "resolve_uri"]

ARTIFACT_ROOT_ENV = "SWEEPS_ARTIFACT_ROOT"
DEFAULT_ARTIFACT_ROOT = "artifacts"
_VALID = ("a folder path, file:<folder>, sqlite:///<folder>/tracking.db, "
          "postgresql://user:pass@host:port/db, postgresql+psycopg://...")
_POSTGRES = re.compile(r"^postgres(?:ql)?(?:\+psycopg)?://", re.IGNORECASE)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def _folder(text: str, uri: str) -> str:
    if not text or "\x00" in text:
        raise InvalidInputError(f"tracking uri: not a folder path (got {uri!r})")
    return str(Path(text).expanduser().resolve())


def resolve_uri(uri: str | os.PathLike) -> str:
    """The canonical form of a tracking URI: the tracking root folder (absolute) for every
    SQLite spelling, the URI itself for PostgreSQL. Raises InvalidInputError in one line.

    >>> resolve_uri("postgresql://me@db:5432/runs")
    'postgresql://me@db:5432/runs'
    """
    text = os.fspath(uri)
    if not isinstance(text, str):
        raise InvalidInputError(f"tracking uri: expected a string, got {type(text).__name__}")
    if _POSTGRES.match(text):
        return text
    if text.startswith("sqlite:///"):
        path = Path(text[len("sqlite:///"):])
        if path.name != "tracking.db":
            raise InvalidInputError(
                f"tracking uri: the SQLite file must be named tracking.db (got {text!r}); "
                "give its folder or sqlite:///<folder>/tracking.db")
        return _folder(str(path.parent), text)
    if text.startswith("file://"):
        return _folder(text[len("file://"):], text)
    if text.startswith("file:"):
        return _folder(text[len("file:"):], text)
    scheme = _SCHEME.match(text)
    if scheme and scheme.group(1).lower() in ("http", "https") or text.split(":")[0] in (
            "databricks", "databricks-uc"):
        raise InvalidInputError(
            f"tracking uri: {text!r} is a tracking server, not a store; give a store "
            f"({_VALID}); to send runs to an MLflow server use `sweeps export --to`")
    if scheme:
        raise InvalidInputError(
            f"tracking uri: unknown scheme {scheme.group(1)!r} in {text!r}; valid: {_VALID}")
    return _folder(text, text)


def open_store(uri: str | os.PathLike, *, artifact_root: str | os.PathLike | None = None,
               read_only: bool = False) -> Store:
    """The store for `uri` (see the module docstring for the forms), shared per process.

    `artifact_root` matters for PostgreSQL only (a SQLite store keeps artifacts beside its
    database); `read_only` opens a store that refuses writes, as the UI does.

    >>> open_store("runs").artifact_root  # doctest: +SKIP
    '/home/me/project/runs/artifacts'
    """
    target = resolve_uri(uri)
    if _POSTGRES.match(target):
        from tracking.store.postgres import PostgresStore

        root = artifact_root or os.environ.get(ARTIFACT_ROOT_ENV) or DEFAULT_ARTIFACT_ROOT
        return PostgresStore.open(target, artifact_root=_folder(os.fspath(root), str(root)),
                                  read_only=read_only)
    from tracking.store.sqlite import SqliteStore

    return SqliteStore(target, read_only=True) if read_only else SqliteStore.open(target)
