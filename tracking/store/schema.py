"""The SQLite schema, one list of statements per version. Index i upgrades version i to i+1.

Metric values: SQLite stores NaN as NULL and -0.0 as 0, so `is_nan` carries them exactly:
0 = the value as stored, 1 = NaN (value NULL), 2 = -0.0 (value 0).
"""

from __future__ import annotations

MIGRATIONS: list[list[str]] = [
    # 0 -> 1: the first schema.
    [
        """CREATE TABLE experiments (
            experiment_id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL UNIQUE,
            artifact_location TEXT NOT NULL,
            creation_time INTEGER NOT NULL
        )""",
        """CREATE TABLE experiment_tags (
            experiment_id INTEGER NOT NULL REFERENCES experiments(experiment_id),
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (experiment_id, key)
        )""",
        """CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            experiment_id INTEGER NOT NULL REFERENCES experiments(experiment_id),
            run_name TEXT NOT NULL,
            parent_run_id TEXT,
            status TEXT NOT NULL,
            start_time INTEGER NOT NULL,
            end_time INTEGER,
            note TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX runs_by_experiment ON runs (experiment_id, start_time)",
        "CREATE INDEX runs_by_parent ON runs (parent_run_id)",
        """CREATE TABLE params (
            run_id TEXT NOT NULL REFERENCES runs(run_id),
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (run_id, key)
        )""",
        "CREATE INDEX params_by_key ON params (key, value)",
        """CREATE TABLE tags (
            run_id TEXT NOT NULL REFERENCES runs(run_id),
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (run_id, key)
        )""",
        "CREATE INDEX tags_by_key ON tags (key, value)",
        """CREATE TABLE metrics (
            run_id TEXT NOT NULL REFERENCES runs(run_id),
            key TEXT NOT NULL,
            value REAL,
            is_nan INTEGER NOT NULL DEFAULT 0,
            step INTEGER NOT NULL,
            timestamp INTEGER NOT NULL
        )""",
        "CREATE INDEX metrics_by_run_key ON metrics (run_id, key, step)",
        """CREATE TABLE latest_metrics (
            run_id TEXT NOT NULL REFERENCES runs(run_id),
            key TEXT NOT NULL,
            value REAL,
            is_nan INTEGER NOT NULL DEFAULT 0,
            step INTEGER NOT NULL,
            timestamp INTEGER NOT NULL,
            PRIMARY KEY (run_id, key)
        )""",
        "CREATE INDEX latest_metrics_by_key ON latest_metrics (key, value)",
    ],
    # 1 -> 2: typed param values (for plots) and soft deletion of runs.
    [
        "ALTER TABLE params ADD COLUMN value_type TEXT NOT NULL DEFAULT 'str'",
        "ALTER TABLE runs ADD COLUMN lifecycle_stage TEXT NOT NULL DEFAULT 'active'",
    ],
    # 2 -> 3: the model registry. `next_version` is never lowered, so numbers are never reused.
    [
        """CREATE TABLE registered_models (
            name TEXT PRIMARY KEY,
            creation_time INTEGER NOT NULL,
            last_updated_time INTEGER NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            next_version INTEGER NOT NULL DEFAULT 1
        )""",
        """CREATE TABLE registered_model_tags (
            name TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (name, key)
        )""",
        """CREATE TABLE model_versions (
            name TEXT NOT NULL,
            version INTEGER NOT NULL,
            creation_time INTEGER NOT NULL,
            last_updated_time INTEGER NOT NULL,
            source TEXT NOT NULL,
            run_id TEXT,
            user_id TEXT NOT NULL DEFAULT '',
            description TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (name, version)
        )""",
        "CREATE INDEX model_versions_by_run ON model_versions (run_id)",
        """CREATE TABLE model_version_tags (
            name TEXT NOT NULL,
            version INTEGER NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (name, version, key)
        )""",
        """CREATE TABLE model_aliases (
            name TEXT NOT NULL,
            alias TEXT NOT NULL,
            version INTEGER NOT NULL,
            PRIMARY KEY (name, alias)
        )""",
        """CREATE TABLE alias_history (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL,
            alias TEXT NOT NULL,
            from_version INTEGER,
            to_version INTEGER,
            time INTEGER NOT NULL,
            user_name TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX alias_history_by_name ON alias_history (name, time)",
    ],
]

SCHEMA_VERSION = len(MIGRATIONS)
