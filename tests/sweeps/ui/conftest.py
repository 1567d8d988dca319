"""Fixtures for the UI tests: a real uvicorn server on a free loopback port, headless Chromium.

The headless browser is the session-wide `browser` fixture of tests/conftest.py.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import ui_data  # noqa: E402
from ui_server import Server, start_server  # noqa: E402


@pytest.fixture(scope="session")
def ui_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A store with a finished sweep, plain runs with artifacts, and hostile strings."""
    base = tmp_path_factory.mktemp("ui")
    root, project = base / "store", base / "project"
    project.mkdir()
    old = os.environ.pop("SWEEPS_TRACKING_URI", None)
    try:
        ids = ui_data.build(root, project)
    finally:
        if old is not None:
            os.environ["SWEEPS_TRACKING_URI"] = old
    ids["secret"] = str(ui_data.plant_outside(root, ids))
    return root, ids


@pytest.fixture(scope="session")
def server(ui_store) -> Iterator[Server]:
    """A read-only UI over ui_store."""
    running = start_server(ui_store[0])
    yield running
    running.stop()


@pytest.fixture(scope="session")
def ids(ui_store) -> dict[str, str]:
    return ui_store[1]



@dataclass
class Watched:
    """A page with everything that went wrong on it recorded."""

    page: Any
    base: str
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)

    def goto(self, path: str) -> None:
        self.page.goto(self.base + path, wait_until="load")

    def assert_clean(self, *, allow_status: tuple[int, ...] = ()) -> None:
        allowed = tuple(f"status of {s}" for s in allow_status)
        errors = [e for e in self.console_errors if not (allowed and any(a in e for a in allowed))]
        assert not errors, f"console errors: {errors}"
        assert not self.page_errors, f"page errors: {self.page_errors}"
        failed = [f for f in self.failed if not any(f.startswith(f"{s} ") for s in allow_status)]
        assert not failed, f"failed requests: {failed}"
        assert not self.dialogs, f"dialogs opened: {self.dialogs}"
        assert not self.foreign, f"requests to other origins: {self.foreign}"
        assert self.page.evaluate("() => window.__xss") is None


@pytest.fixture
def watched(browser, server) -> Iterator[Watched]:
    yield from _watched(browser, server.url)


def _watched(browser: Any, base: str) -> Iterator[Watched]:
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    w = Watched(page, base)
    page.on("console", lambda m: w.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: w.page_errors.append(str(e)))
    page.on("requestfailed", lambda r: None if r.failure == "net::ERR_ABORTED"  # navigated away
            else w.failed.append(f"failed {r.url} {r.failure}"))

    def on_response(response: Any) -> None:
        if response.status >= 400:
            w.failed.append(f"{response.status} {response.url}")

    def on_request(request: Any) -> None:
        if not request.url.startswith((base, "data:", "about:", "blob:")):
            w.foreign.append(request.url)

    page.on("response", on_response)
    page.on("request", on_request)
    page.on("dialog", lambda d: (w.dialogs.append(d.message), d.dismiss()))
    try:
        yield w
    finally:
        context.close()


@pytest.fixture
def make_watched(browser) -> Iterator[Any]:
    """Watched pages for servers other than the shared one."""
    made: list[Iterator[Watched]] = []

    def make(base: str) -> Watched:
        generator = _watched(browser, base)
        made.append(generator)
        return next(generator)

    yield make
    for generator in made:
        for _ in generator:
            pass
