"""Grouping failed attempts by error pattern."""

from __future__ import annotations

import os

import pytest

from sweeps.failures import NO_ERROR, FailedAttempt, error_pattern, group_failures


@pytest.mark.parametrize(("one", "other"), [
    ("KeyError: 4", "KeyError: 5"),
    ("ValueError: lr=1e-3 is too big", "ValueError: lr=0.5 is too big"),
    ("ModuleNotFoundError: No module named 'sklearn'", 'ModuleNotFoundError: No module named "x"'),
    ("RuntimeError: <Model object at 0x7f3a2b>", "RuntimeError: <Model object at 0xDEAD>"),
    ("FileNotFoundError: [Errno 2] /tmp/a/run-1/x.csv", "FileNotFoundError: [Errno 2] ./b.csv"),
    ("OSError: C:\\Users\\me\\x.py", "OSError: D:\\data\\y.py"),
    ("trial timed out after 3s", "trial timed out after 10s"),
    ("ValueError:  two\n  lines", "ValueError: two lines"),
])
def test_alike_errors_share_a_pattern(one: str, other: str) -> None:
    assert error_pattern(one) == error_pattern(other)


@pytest.mark.parametrize(("one", "other"), [
    ("KeyError: 4", "IndexError: 4"),
    ("ValueError: bad lr", "ValueError: bad momentum"),
    ("x1 failed", "x2 failed"),  # digits inside a name are part of the name
])
def test_different_errors_differ(one: str, other: str) -> None:
    assert error_pattern(one) != error_pattern(other)


def test_groups_count_type_params_and_order() -> None:
    attempts = [
        FailedAttempt(0, 1, {"x": 1}, "ValueError: bad 1"),
        FailedAttempt(1, 1, {"x": 4}, "KeyError: 4"),
        FailedAttempt(2, 1, {"x": 5}, "KeyError: 5"),
        FailedAttempt(2, 2, {"x": 5}, "KeyError: 5"),
        FailedAttempt(3, 1, {"x": 9}, ""),
    ]
    groups = group_failures(attempts)
    assert [(g.error_type, g.pattern, g.count) for g in groups] == [
        ("KeyError", "KeyError: #", 3), ("ValueError", "ValueError: bad #", 1),
        ("", NO_ERROR, 1)]
    keys = groups[0]
    assert keys.title == "KeyError × 3"
    assert keys.example == "KeyError: 4"
    assert [(a.number, a.attempt, dict(a.params)) for a in keys.attempts] == [
        (1, 1, {"x": 4}), (2, 1, {"x": 5}), (2, 2, {"x": 5})]
    assert groups[2].title == f"{NO_ERROR} × 1"
    assert group_failures([]) == []


KEYS_OBJECTIVE = '''
def keys(params):
    if params["n"] < 3:
        raise KeyError(params["n"] + 4)
    return {"loss": float(params["n"])}
'''


def test_sweeps_show_groups_a_sweeps_failures(project, make_config) -> None:
    import subprocess
    import sys

    import sweeps

    (project / "keys_objective.py").write_text(KEYS_OBJECTIVE)
    config = make_config("keys_objective:keys",
                         space={"n": {"type": "int", "low": 0, "high": 4}},
                         sampler={"type": "grid"}, budget={"trials": 5},
                         execution={"workers": 1})
    result = sweeps.run(config, tracking_uri=project / "runs", report=False)
    shown = subprocess.run([sys.executable, "-m", "sweeps.cli", "show", result.sweep_run_id,
                            "--root", str(project / "runs")], capture_output=True, text=True,
                           timeout=120, env={**os.environ, "COLUMNS": "200"})
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout[shown.stdout.index("Failures (3 attempts)"):]
    assert out.count("KeyError × 3") == 1
    for n in (0, 1, 2):
        assert f": n={n}" in out
    assert "n=3" not in out and "n=4" not in out
