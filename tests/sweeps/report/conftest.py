"""Fixtures for the report tests: real sweeps in a throwaway project, and report pages.

Sweeps are session-scoped (each takes a few seconds). The headless browser is the
session-wide `browser` fixture of tests/conftest.py.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import sweeps
from tracking import Client

HERE = Path(__file__).parent
REPO = HERE.parents[2]


def _objectives() -> Any:
    spec = importlib.util.spec_from_file_location("report_objectives",
                                                  HERE / "report_objectives.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PAYLOADS: list[str] = _objectives().PAYLOADS


@dataclass
class Project:
    root: Path
    sweeps: dict[str, str] = field(default_factory=dict)

    @property
    def client(self) -> Client:
        return Client(self.root / "runs")

    def run(self, key: str, config: dict[str, Any]) -> str:
        old = os.getcwd()
        os.chdir(self.root)
        try:
            result = sweeps.run(config, tracking_uri=self.root / "runs", report=False)
        finally:
            os.chdir(old)
        self.sweeps[key] = result.sweep_run_id
        return result.sweep_run_id


def quad_config(experiment: str = "quad", seed: int = 0, trials: int = 30) -> dict[str, Any]:
    return {
        "experiment": experiment, "objective": "report_objectives:quad",
        "metric": {"name": "loss", "goal": "minimize"},
        "space": {
            "x": {"type": "float", "low": -2.0, "high": 5.0},
            "y": {"type": "float", "low": -3.0, "high": 3.0},
            "lr": {"type": "float", "low": 1e-4, "high": 1.0, "log": True},
            "opt": ["adam", "sgd"],
            "momentum": {"type": "float", "low": 0.5, "high": 0.99, "when": {"opt": "sgd"}},
            "const": ["only"],
        },
        "sampler": {"type": "tpe", "seed": seed}, "pruner": {"type": "median",
                                                             "warmup_steps": 2},
        "budget": {"trials": trials}, "execution": {"workers": 2}, "report": False,
    }


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    root = tmp_path_factory.mktemp("report-project")
    shutil.copy(HERE / "report_objectives.py", root / "report_objectives.py")
    return Project(root)


@pytest.fixture(scope="session")
def quad_sweep(project: Project) -> str:
    return project.run("quad", quad_config())


@pytest.fixture(scope="session")
def quad_sweep_b(project: Project) -> str:
    return project.run("quad-b", quad_config("quad-b", seed=1, trials=20))


@pytest.fixture(scope="session")
def edge_sweep(project: Project) -> str:
    """60 completed trials whose best x sits at the high edge of its range."""
    return project.run("edge", {
        "experiment": "edge", "objective": "report_objectives:edge",
        "metric": {"name": "loss", "goal": "minimize"},
        "space": {"x": {"type": "float", "low": 0.0, "high": 1.0},
                  "y": {"type": "float", "low": 0.0, "high": 1.0},
                  "z": {"type": "float", "low": 0.0, "high": 1.0}},
        "sampler": {"type": "tpe", "seed": 0}, "budget": {"trials": 60},
        "execution": {"workers": 1}, "report": False})  # one worker: TPE's draws repeat


@pytest.fixture(scope="session")
def tiny_sweep(project: Project) -> str:
    return project.run("tiny", quad_config("tiny", trials=4))


@pytest.fixture(scope="session")
def keys_sweep(project: Project) -> str:
    return project.run("keys", {
        "experiment": "keys", "objective": "report_objectives:keys",
        "metric": {"name": "loss", "goal": "minimize"},
        "space": {"n": {"type": "int", "low": 0, "high": 5}},
        "sampler": {"type": "grid", "seed": 0}, "budget": {"trials": 6},
        "execution": {"workers": 1}, "report": False})


@pytest.fixture(scope="session")
def mo_sweep(project: Project) -> str:
    return project.run("mo", {
        "experiment": "two-objectives", "objective": "report_objectives:two",
        "metrics": [{"name": "a", "goal": "minimize"}, {"name": "b", "goal": "maximize"}],
        "space": {"x": {"type": "float", "low": -3.0, "high": 3.0}, "kind": ["p", "q"]},
        "sampler": {"type": "nsga2", "seed": 0, "population_size": 8},
        "budget": {"trials": 24}, "execution": {"workers": 2}, "report": False})


@pytest.fixture(scope="session")
def nasty_sweep(project: Project) -> str:
    return project.run("nasty", {
        "experiment": "exp <script>window.__xss=100</script><img src=x onerror=alert(101)>",
        "name": "run \"><svg onload=window.__xss=102>",
        "objective": "report_objectives:nasty",
        "metric": {"name": "loss", "goal": "minimize"},
        "space": {"x": {"type": "float", "low": 0.0, "high": 1.0},
                  "choice": {"type": "categorical", "choices": PAYLOADS}},
        "sampler": {"type": "random", "seed": 0},
        "budget": {"trials": 2 * len(PAYLOADS)}, "execution": {"workers": 2},
        "report": False})


@pytest.fixture(scope="session")
def payloads() -> list[str]:
    return PAYLOADS



WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


@dataclass
class Opened:
    """A report page in the browser, with what it logged and asked for."""

    page: Any
    url: str
    errors: list[str]
    requests: list[str]
    dialogs: list[str]

    def csp_violations(self) -> list[str]:
        return self.page.evaluate("window.__csp")

    def traces(self) -> list[tuple[str, str, list[tuple[str, str]]]]:
        """Each figure's id, its `data-drawn` and its traces' (asked, drawn) types: plotly.js
        draws a type it lacks as a hidden scatter, silently."""
        return [(name, drawn, [tuple(t) for t in traces]) for name, drawn, traces in
                self.page.evaluate("""Array.from(document.querySelectorAll('div.plot'))
                    .map(d => [d.getAttribute('data-figure'), d.getAttribute('data-drawn'),
                               (d._fullData || []).map(t => [t._input.type || 'scatter',
                                                             t.type])])""")]


@pytest.fixture(scope="session")
def open_report() -> Any:
    """`open_report(browser, path)`: load a report and wait until its figures are drawn."""
    return _open_report


def _open_report(browser: Any, path: Path, *, wait_for_figures: bool = True) -> Opened:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    url = path.resolve().as_uri()
    opened = Opened(page, url, [], [], [])
    page.on("console", lambda m: m.type == "error" and opened.errors.append(m.text))
    page.on("pageerror", lambda e: opened.errors.append(f"pageerror: {e}"))
    page.on("request", lambda r: r.url != url and opened.requests.append(r.url))

    def dialog(d: Any) -> None:
        opened.dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", dialog)
    page.add_init_script(WATCH)
    page.goto(url)
    page.wait_for_selector("body[data-ready=yes]", timeout=30_000)
    if wait_for_figures:
        page.wait_for_function(
            "document.querySelectorAll('div.plot').length === "
            "document.querySelectorAll('div.plot[data-drawn=yes], div.plot[data-drawn=error]')"
            ".length", timeout=90_000)
    return opened
