"""The model registry: registered models, their versions, aliases and the alias history.

A registered model has a name (validated as MLflow does), a description and tags. Each
`register_model` gives it a new version: the next integer for that name, assigned by the
store in one transaction, never reused (not after a delete, not when two processes register
at once). A version records its source (`runs:/<run_id>/<path>`), its run, tags and a
description. An alias (`champion`) points to one version; setting it again moves it, and
every move is kept (`get_alias_history`: alias, from, to, when, who, why), which MLflow
does not keep.

Lineage: a version's tags include every `lineage.*` tag its source run has in the store
when it is registered, and `lineage.parent_run_id` when that run has a parent (a sweep
trial's sweep). `sweeps promote` adds the sweep's trial number, config hash, code version
and objective value as tags the same way.

    >>> version = tracking.register_model("runs:/0a1b.../model", "iris-rf")
    >>> client = tracking.MlflowClient()
    >>> client.set_registered_model_alias("iris-rf", "champion", version.version)
    >>> tracking.sklearn.load_model("models:/iris-rf@champion")
"""

from __future__ import annotations

import getpass
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tracking import validation
from tracking.errors import FilterSyntaxError, InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from tracking.store.base import Store

__all__ = ["LINEAGE_PREFIX", "AliasMove", "ModelVersion", "RegisteredModel", "RegistryMethods",
           "alias_name", "model_name", "parse_models_uri", "register_model", "version_number"]

LINEAGE_PREFIX = "lineage."
"""Run tags under this prefix are copied into the tags of every version made from the run."""
MAX_NAME_LENGTH = 255
_ALIAS = re.compile(r"^[\w\-]*$")
_VERSION_ALIAS = re.compile(r"^[vV]\d+$")


@dataclass(frozen=True)
class RegisteredModel:
    """A registered model (MLflow's fields; `aliases` maps alias -> version)."""

    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    latest_version: int | None = None


@dataclass(frozen=True)
class ModelVersion:
    """One version of a registered model; `status` is always READY (registration is one
    transaction)."""

    name: str
    version: int
    creation_timestamp: int
    last_updated_timestamp: int
    source: str
    run_id: str | None
    user_id: str = ""
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    status: str = "READY"


@dataclass(frozen=True)
class AliasMove:
    """One change of an alias: set (from None), moved, or removed (to None)."""

    name: str
    alias: str
    from_version: int | None
    to_version: int | None
    timestamp: int
    user: str
    reason: str = ""


# -- validation, as MLflow's (mlflow/utils/validation.py) -----------------------------------


def model_name(value: Any) -> str:
    """A registered model name: not blank, no '/' or ':', not '.' or '..', at most 255."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"registered model name must be a non-empty string (got "
                                f"{value!r})")
    if "/" in value or ":" in value or value in (".", "..") or "\x00" in value:
        raise InvalidInputError(f"invalid model name {value!r}: names cannot contain '/' or "
                                "':' and cannot be '.' or '..'")
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidInputError(f"model name is longer than {MAX_NAME_LENGTH} characters")
    return value


def alias_name(value: Any) -> str:
    """An alias: letters, digits, '_' and '-', at most 255; 'latest' and 'v<N>' are reserved."""
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"alias must be a non-empty string (got {value!r})")
    if not _ALIAS.match(value) or len(value) > MAX_NAME_LENGTH:
        raise InvalidInputError(f"invalid alias {value!r}: use letters, digits, '_' and '-' "
                                f"(at most {MAX_NAME_LENGTH})")
    if value.lower() == "latest" or _VERSION_ALIAS.match(value):
        raise InvalidInputError(f"alias {value!r} is reserved ('latest' and 'v<N>' name "
                                "versions)")
    return value


def version_number(value: Any) -> int:
    """A model version as a positive integer (MLflow passes versions as strings too)."""
    text = str(value).strip() if isinstance(value, (str, int)) else ""
    if isinstance(value, bool) or not text.isdigit() or int(text) < 1:
        raise InvalidInputError(f"model version must be a positive integer (got {value!r})")
    return int(text)


def _tags(tags: Mapping[str, Any] | None) -> dict[str, str]:
    return {validation.key(k, "tag"): validation.tag_value(k, v) for k, v in (tags or {}).items()}


def parse_models_uri(uri: str) -> tuple[str, int | None, str | None]:
    """(name, version, alias) of `models:/<name>/<version>` or `models:/<name>@<alias>`."""
    rest = uri[len("models:/"):] if uri.startswith("models:/") else ""
    if "@" in rest:
        name, _, alias = rest.partition("@")
        return model_name(name), None, alias_name(alias)
    name, sep, version = rest.partition("/")
    if not sep or not name:
        raise InvalidInputError(f"{uri!r}: a models URI reads models:/<name>/<version> or "
                                "models:/<name>@<alias>")
    return model_name(name), version_number(version), None


# -- search filters: `name = 'x'`, `run_id = '...'`, joined by AND --------------------------

_CLAUSE = re.compile(r"\s*(\w+)\s*(=|!=|LIKE|ILIKE)\s*'((?:[^']|'')*)'\s*", re.IGNORECASE)


def _parse_filter(text: str | None, keys: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """[(key, operator, value)] of a filter like `name = 'm' AND run_id = 'abc'`."""
    clauses: list[tuple[str, str, str]] = []
    for part in re.split(r"\s+and\s+", (text or "").strip(), flags=re.IGNORECASE):
        if not part:
            continue
        match = _CLAUSE.fullmatch(part)
        if match is None or match.group(1).lower() not in keys:
            raise FilterSyntaxError(f"filter {text!r}: expected {' or '.join(keys)} compared "
                                    "with =, !=, LIKE or ILIKE to a 'quoted' value")
        clauses.append((match.group(1).lower(), match.group(2).upper(),
                        match.group(3).replace("''", "'")))
    return clauses


def _like(pattern: str, text: str, *, ignore_case: bool) -> bool:
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL) \
        is not None


def _matches(values: Mapping[str, str | None], clauses: list[tuple[str, str, str]]) -> bool:
    for key, op, wanted in clauses:
        value = values[key] or ""
        if op == "=" and value != wanted or op == "!=" and value == wanted:
            return False
        if op in ("LIKE", "ILIKE") and not _like(wanted, value, ignore_case=op == "ILIKE"):
            return False
    return True


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


# -- the Client's registry methods (MlflowClient's names) -----------------------------------


class RegistryMethods:
    """The registry half of `tracking.Client`; every name is MlflowClient's."""

    store: Store

    def create_registered_model(self, name: str, tags: Mapping[str, Any] | None = None,
                                description: str | None = None) -> RegisteredModel:
        """Create registered model `name`; an existing name is an InvalidInputError."""
        return self.store.create_registered_model(model_name(name), description or "",
                                                  _tags(tags))

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self.store.get_registered_model(model_name(name))

    def search_registered_models(self, filter_string: str | None = None,
                                 max_results: int | None = None) -> list[RegisteredModel]:
        """Registered models by name; `filter_string` like `name LIKE 'iris%'`."""
        clauses = _parse_filter(filter_string, ("name",))
        found = [m for m in self.store.search_registered_models()
                 if _matches({"name": m.name}, clauses)]
        return found if max_results is None else found[:max_results]

    def update_registered_model(self, name: str, description: str | None = None
                                ) -> RegisteredModel:
        return self.store.update_registered_model(model_name(name), description or "")

    def delete_registered_model(self, name: str) -> None:
        """Delete a registered model with its versions, tags, aliases and alias history."""
        self.store.delete_registered_model(model_name(name))

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        self.store.set_registered_model_tag(model_name(name), validation.key(key, "tag"),
                                            validation.tag_value(key, value))

    def create_model_version(self, name: str, source: str, run_id: str | None = None,
                             tags: Mapping[str, Any] | None = None,
                             description: str | None = None) -> ModelVersion:
        """A new version of the existing model `name` (`register_model` also creates it)."""
        self.get_registered_model(name)
        return self._new_version(name, source, run_id, tags, description)

    def _new_version(self, name: str, source: str, run_id: str | None,
                     tags: Mapping[str, Any] | None, description: str | None) -> ModelVersion:
        all_tags = _tags(tags)
        if run_id is not None:
            run = self.get_run(run_id)  # type: ignore[attr-defined]
            if run.info.parent_run_id:
                all_tags.setdefault(f"{LINEAGE_PREFIX}parent_run_id", run.info.parent_run_id)
            for key, value in run.data.tags.items():
                if key.startswith(LINEAGE_PREFIX):
                    all_tags.setdefault(key, value)
        return self.store.create_model_version(model_name(name), source, run_id, all_tags,
                                               description or "", _user())

    def get_model_version(self, name: str, version: str | int) -> ModelVersion:
        return self.store.get_model_version(model_name(name), version_number(version))

    def search_model_versions(self, filter_string: str | None = None,
                              max_results: int | None = None) -> list[ModelVersion]:
        """Versions by name then version; `filter_string` like `name='m'` or
        `run_id='0a1b...'` (=, !=, LIKE, ILIKE, joined by AND)."""
        clauses = _parse_filter(filter_string, ("name", "run_id"))
        exact = {key: value for key, op, value in clauses if op == "="}
        found = [v for v in self.store.search_model_versions(exact.get("name"),
                                                             exact.get("run_id"))
                 if _matches({"name": v.name, "run_id": v.run_id}, clauses)]
        return found if max_results is None else found[:max_results]

    def update_model_version(self, name: str, version: str | int,
                             description: str | None = None) -> ModelVersion:
        return self.store.update_model_version(model_name(name), version_number(version),
                                               description or "")

    def delete_model_version(self, name: str, version: str | int) -> None:
        """Delete a version (its number is never given again); aliases on it are removed,
        and the removals are recorded in the alias history."""
        self.store.delete_model_version(model_name(name), version_number(version), _user())

    def set_model_version_tag(self, name: str, version: str | int, key: str,
                              value: Any) -> None:
        self.store.set_model_version_tag(model_name(name), version_number(version),
                                         validation.key(key, "tag"),
                                         validation.tag_value(key, value))

    def set_registered_model_alias(self, name: str, alias: str, version: str | int, *,
                                   reason: str | None = None) -> None:
        """Point `alias` at `version` (moving it if set); the move goes into the history."""
        self.store.set_registered_model_alias(model_name(name), alias_name(alias),
                                              version_number(version), _user(), reason or "")

    def delete_registered_model_alias(self, name: str, alias: str, *,
                                      reason: str | None = None) -> None:
        self.store.delete_registered_model_alias(model_name(name), alias_name(alias), _user(),
                                                 reason or "")

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return self.store.get_model_version_by_alias(model_name(name), alias_name(alias))

    def get_alias_history(self, name: str, alias: str | None = None) -> list[AliasMove]:
        """Every move of the model's aliases (or of one alias), oldest first."""
        self.get_registered_model(name)
        return self.store.get_alias_history(model_name(name),
                                            None if alias is None else alias_name(alias))

    def resolve_model_uri(self, uri: str) -> str:
        """The source (`runs:/...`) of the version a `models:/` URI names."""
        name, version, alias = parse_models_uri(uri)
        try:
            found = (self.get_model_version(name, version) if version is not None
                     else self.get_model_version_by_alias(name, alias or ""))
        except NotFoundError as e:
            raise NotFoundError(f"{uri!r}: {e}") from None
        return found.source


def register_model(model_uri: str, name: str, tags: Mapping[str, Any] | None = None, *,
                   tracking_uri: str | None = None) -> ModelVersion:
    """Register the model at `model_uri` (`runs:/...` or `models:/...`) as a new version of
    `name`, creating the registered model when missing (MLflow's `register_model`).

        >>> tracking.register_model("runs:/0a1b.../model", "iris-rf").version
        1
    """
    from tracking.client import Client
    from tracking.models.uri import SCHEMES, parse_runs_uri, run_folder
    client = Client(tracking_uri)
    model_name(name)
    if not isinstance(model_uri, str):
        raise InvalidInputError(f"model_uri must be a str (got {type(model_uri).__name__})")
    source = SCHEMES["models"](model_uri, client) if model_uri.startswith("models:/") \
        else model_uri
    if not source.startswith("runs:/"):
        raise InvalidInputError(f"{model_uri!r}: register a runs:/<run_id>/<path> or models:/ "
                                "URI")
    run_folder(source, client)  # the run and the path exist
    run_id, _ = parse_runs_uri(source)
    return client._new_version(name, source, run_id, tags, None)
