"""The model registry's SQL, shared by the SQLite and PostgreSQL stores.

Each store provides one primitive, `_registry(work, write=...)`: it runs `work(query)` in a
transaction (when writing), where `query(sql, args)` executes one statement written with
`?` marks and returns its rows. The SQL here is the subset both databases read alike
(`ON CONFLICT ... DO NOTHING`, `RETURNING`).

Versions come from the `next_version` counter of the model's row, bumped in the same
transaction that inserts the version: the row lock (PostgreSQL) or the write lock (SQLite)
makes two registrations take two numbers, and a deleted version's number stays taken.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from tracking.errors import InvalidInputError, NotFoundError
from tracking.registry import AliasMove, ModelVersion, RegisteredModel

Query = Callable[[str, Sequence[Any]], list[tuple]]
_T = TypeVar("_T")
_VERSION_COLUMNS = ("name, version, creation_time, last_updated_time, source, run_id, user_id, "
                    "description")


def _now() -> int:
    return int(time.time() * 1000)


def _model_row(q: Query, name: str) -> tuple:
    rows = q("SELECT name, creation_time, last_updated_time, description, next_version "
             "FROM registered_models WHERE name = ?", (name,))
    if not rows:
        raise NotFoundError(f"registered model {name!r} not found")
    return rows[0]


def _touch(q: Query, name: str) -> None:
    q("UPDATE registered_models SET last_updated_time = ? WHERE name = ?", (_now(), name))


def _models(q: Query, rows: list[tuple]) -> list[RegisteredModel]:
    out = []
    for name, created, updated, description, _ in rows:
        tags = dict(q("SELECT key, value FROM registered_model_tags WHERE name = ?", (name,)))
        aliases = dict(q("SELECT alias, version FROM model_aliases WHERE name = ? "
                         "ORDER BY alias", (name,)))
        latest = q("SELECT MAX(version) FROM model_versions WHERE name = ?", (name,))[0][0]
        out.append(RegisteredModel(name, created, updated, description, tags, aliases, latest))
    return out


def _versions(q: Query, rows: list[tuple]) -> list[ModelVersion]:
    out = []
    for name, version, created, updated, source, run_id, user, description in rows:
        tags = dict(q("SELECT key, value FROM model_version_tags WHERE name = ? AND version = ?",
                      (name, version)))
        aliases = tuple(a for (a,) in q("SELECT alias FROM model_aliases WHERE name = ? AND "
                                        "version = ? ORDER BY alias", (name, version)))
        out.append(ModelVersion(name, version, created, updated, source, run_id, user,
                                description, tags, aliases))
    return out


def _version(q: Query, name: str, version: int) -> ModelVersion:
    _model_row(q, name)
    rows = q(f"SELECT {_VERSION_COLUMNS} FROM model_versions WHERE name = ? AND version = ?",
             (name, version))
    if not rows:
        raise NotFoundError(f"registered model {name!r} has no version {version}")
    return _versions(q, rows)[0]


def _move(q: Query, name: str, alias: str, old: int | None, new: int | None, user: str,
          reason: str) -> None:
    q("INSERT INTO alias_history (name, alias, from_version, to_version, time, user_name, "
      "reason) VALUES (?, ?, ?, ?, ?, ?, ?)", (name, alias, old, new, _now(), user, reason))


def _alias_target(q: Query, name: str, alias: str) -> int | None:
    rows = q("SELECT version FROM model_aliases WHERE name = ? AND alias = ?", (name, alias))
    return rows[0][0] if rows else None


def _upsert(q: Query, table: str, keys: Mapping[str, Any], tag: tuple[str, str]) -> None:
    """Set one (key, value) tag of the row named by `keys` in a tag table."""
    where = " AND ".join(f"{k} = ?" for k in keys)
    q(f"DELETE FROM {table} WHERE {where} AND key = ?", (*keys.values(), tag[0]))
    q(f"INSERT INTO {table} ({', '.join(keys)}, key, value) VALUES "
      f"({', '.join('?' * (len(keys) + 2))})", (*keys.values(), *tag))


class RegistrySql(abc.ABC):
    """The Store's registry methods (see `tracking.store.base.Store`), in portable SQL."""

    @abc.abstractmethod
    def _registry(self, work: Callable[[Query], _T], *, write: bool) -> _T:
        """Run `work(query)` on the store's connection, in one transaction when writing."""

    def create_registered_model(self, name: str, description: str = "",
                                tags: Mapping[str, str] | None = None) -> RegisteredModel:
        def work(q: Query) -> RegisteredModel:
            now = _now()
            if not q("INSERT INTO registered_models (name, creation_time, last_updated_time, "
                     "description, next_version) VALUES (?, ?, ?, ?, 1) "
                     "ON CONFLICT (name) DO NOTHING RETURNING name",
                     (name, now, now, description)):
                raise InvalidInputError(f"registered model {name!r} already exists")
            for key, value in (tags or {}).items():
                _upsert(q, "registered_model_tags", {"name": name}, (key, value))
            return _models(q, [_model_row(q, name)])[0]
        return self._registry(work, write=True)

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self._registry(lambda q: _models(q, [_model_row(q, name)])[0], write=False)

    def search_registered_models(self) -> list[RegisteredModel]:
        return self._registry(lambda q: _models(q, q(
            "SELECT name, creation_time, last_updated_time, description, next_version "
            "FROM registered_models ORDER BY name", ())), write=False)

    def update_registered_model(self, name: str, description: str) -> RegisteredModel:
        def work(q: Query) -> RegisteredModel:
            _model_row(q, name)
            q("UPDATE registered_models SET description = ?, last_updated_time = ? "
              "WHERE name = ?", (description, _now(), name))
            return _models(q, [_model_row(q, name)])[0]
        return self._registry(work, write=True)

    def delete_registered_model(self, name: str) -> None:
        def work(q: Query) -> None:
            _model_row(q, name)
            for table in ("model_version_tags", "model_aliases", "alias_history",
                          "model_versions", "registered_model_tags", "registered_models"):
                q(f"DELETE FROM {table} WHERE name = ?", (name,))
        self._registry(work, write=True)

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        def work(q: Query) -> None:
            _model_row(q, name)
            _upsert(q, "registered_model_tags", {"name": name}, (key, value))
            _touch(q, name)
        self._registry(work, write=True)

    def create_model_version(self, name: str, source: str, run_id: str | None,
                             tags: Mapping[str, str], description: str,
                             user: str) -> ModelVersion:
        def work(q: Query) -> ModelVersion:
            now = _now()
            q("INSERT INTO registered_models (name, creation_time, last_updated_time, "
              "description, next_version) VALUES (?, ?, ?, '', 1) "
              "ON CONFLICT (name) DO NOTHING", (name, now, now))
            version = q("UPDATE registered_models SET next_version = next_version + 1, "
                        "last_updated_time = ? WHERE name = ? RETURNING next_version - 1",
                        (now, name))[0][0]
            q(f"INSERT INTO model_versions ({_VERSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
              (name, version, now, now, source, run_id, user, description))
            for key, value in tags.items():
                _upsert(q, "model_version_tags", {"name": name, "version": version},
                        (key, value))
            return _version(q, name, version)
        return self._registry(work, write=True)

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        return self._registry(lambda q: _version(q, name, version), write=False)

    def search_model_versions(self, name: str | None = None,
                              run_id: str | None = None) -> list[ModelVersion]:
        def work(q: Query) -> list[ModelVersion]:
            where = [(c, v) for c, v in (("name", name), ("run_id", run_id)) if v is not None]
            clause = " AND ".join(f"{c} = ?" for c, _ in where) or "1 = 1"
            return _versions(q, q(f"SELECT {_VERSION_COLUMNS} FROM model_versions WHERE "
                                  f"{clause} ORDER BY name, version",
                                  [v for _, v in where]))
        return self._registry(work, write=False)

    def update_model_version(self, name: str, version: int, description: str) -> ModelVersion:
        def work(q: Query) -> ModelVersion:
            _version(q, name, version)
            q("UPDATE model_versions SET description = ?, last_updated_time = ? "
              "WHERE name = ? AND version = ?", (description, _now(), name, version))
            return _version(q, name, version)
        return self._registry(work, write=True)

    def delete_model_version(self, name: str, version: int, user: str) -> None:
        def work(q: Query) -> None:
            found = _version(q, name, version)
            for alias in found.aliases:
                _move(q, name, alias, version, None, user, f"version {version} deleted")
            for table in ("model_version_tags", "model_aliases", "model_versions"):
                q(f"DELETE FROM {table} WHERE name = ? AND version = ?", (name, version))
            _touch(q, name)
        self._registry(work, write=True)

    def set_model_version_tag(self, name: str, version: int, key: str, value: str) -> None:
        def work(q: Query) -> None:
            _version(q, name, version)
            _upsert(q, "model_version_tags", {"name": name, "version": version}, (key, value))
        self._registry(work, write=True)

    def set_registered_model_alias(self, name: str, alias: str, version: int, user: str,
                                   reason: str = "") -> None:
        def work(q: Query) -> None:
            _version(q, name, version)
            old = _alias_target(q, name, alias)
            if old == version:
                return
            q("DELETE FROM model_aliases WHERE name = ? AND alias = ?", (name, alias))
            q("INSERT INTO model_aliases (name, alias, version) VALUES (?, ?, ?)",
              (name, alias, version))
            _move(q, name, alias, old, version, user, reason)
            _touch(q, name)
        self._registry(work, write=True)

    def delete_registered_model_alias(self, name: str, alias: str, user: str,
                                      reason: str = "") -> None:
        def work(q: Query) -> None:
            _model_row(q, name)
            old = _alias_target(q, name, alias)
            if old is None:
                raise NotFoundError(f"registered model {name!r} has no alias {alias!r}")
            q("DELETE FROM model_aliases WHERE name = ? AND alias = ?", (name, alias))
            _move(q, name, alias, old, None, user, reason)
            _touch(q, name)
        self._registry(work, write=True)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        def work(q: Query) -> ModelVersion:
            _model_row(q, name)
            version = _alias_target(q, name, alias)
            if version is None:
                raise NotFoundError(f"registered model {name!r} has no alias {alias!r}")
            return _version(q, name, version)
        return self._registry(work, write=False)

    def get_alias_history(self, name: str, alias: str | None = None) -> list[AliasMove]:
        def work(q: Query) -> list[AliasMove]:
            clause, args = ("name = ?", [name]) if alias is None else \
                ("name = ? AND alias = ?", [name, alias])
            rows = q("SELECT name, alias, from_version, to_version, time, user_name, reason "
                     f"FROM alias_history WHERE {clause} ORDER BY time, seq", args)
            return [AliasMove(*row) for row in rows]
        return self._registry(work, write=False)
