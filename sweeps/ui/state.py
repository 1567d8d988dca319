"""What one UI process holds: the tracking store's clients, the caches, the report cache.

The store is opened read-only (`open_store(root, read_only=True)`) and lazily: a UI started
before the first sweep shows an empty page and opens the store on a later request. Edits
(`--allow-edits` only) go through a separate writable `Client`, opened on the first edit.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from tracking import Client, StoreError
from tracking.store import open_store


class NoStore(StoreError):
    """The tracking database does not exist (yet)."""


class UIState:
    def __init__(self, root: str | os.PathLike, *, allow_edits: bool = False) -> None:
        self.root = str(root) if "://" in str(root) else str(Path(root).resolve())
        self.allow_edits = allow_edits
        self._lock = threading.Lock()
        self._client: Client | None = None
        self._writer: Client | None = None
        self._cache_dir: str | None = None
        self.report_locks: dict[str, threading.Lock] = {}
        self.reports_built: dict[str, tuple[float, Path]] = {}
        """sweep run id -> (when, file) of its last generated report"""
        self.columns_cache: dict[tuple[str, str], tuple[Any, float, dict[str, Any]]] = {}
        """(experiment id, filter) -> (experiment stats, when, column list)"""
        self.experiments_cache: tuple[float, list[dict[str, Any]]] | None = None
        """(when, experiments with their counts), for a second"""

    def client(self) -> Client:
        """A read-only Client over the store (NoStore until the database exists)."""
        with self._lock:
            if self._client is None:
                try:
                    store = open_store(self.root, read_only=True)
                except StoreError as e:
                    raise NoStore(str(e)) from None
                self._client = Client(store=store)
            return self._client

    def shown_root(self) -> str:
        """The store for pages and messages: the opened store's root, which has no password;
        before the store exists, the root as given unless it is a server's URI."""
        try:
            return self.client().store.root
        except NoStore:
            return self.root if "://" not in self.root else "a database not reachable yet"

    def writer(self) -> Client:
        """A writable Client, for edits of notes and tags only."""
        assert self.allow_edits, "writer() without --allow-edits"
        with self._lock:
            if self._writer is None:
                self._writer = Client(self.root)
            return self._writer

    def cache_dir(self) -> Path:
        """A private temporary folder for generated reports (outside the store)."""
        with self._lock:
            if self._cache_dir is None:
                self._cache_dir = tempfile.mkdtemp(prefix="sweepbook-ui-")
            return Path(self._cache_dir)

    def report_lock(self, sweep_id: str) -> threading.Lock:
        with self._lock:
            return self.report_locks.setdefault(sweep_id, threading.Lock())

    def close(self) -> None:
        with self._lock:
            if self._writer is not None:
                self._writer.flush()
            if self._cache_dir is not None:
                shutil.rmtree(self._cache_dir, ignore_errors=True)
                self._cache_dir = None
