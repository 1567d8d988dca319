"""Short MLflow scripts in the style of MLflow's examples and docs (mlflow_scripts/) run with
their imports changed to `tracking`, and (slow) unchanged under MLflow itself, which shows
they are MLflow scripts and not scripts written for tracking."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SCRIPTS = sorted((Path(__file__).parent / "mlflow_scripts").glob("*.py"))


def with_tracking(source: str) -> str:
    """The script with its mlflow imports renamed to tracking, nothing else changed."""
    source = re.sub(r"^import mlflow$", "import tracking as mlflow", source, flags=re.M)
    source = re.sub(r"^import mlflow\.(\w+)$", r"import tracking.\1", source, flags=re.M)
    return re.sub(r"^from mlflow((?:\.\w+)*) import", r"from tracking\1 import", source,
                  flags=re.M)


def test_the_rewrite_changes_imports_only():
    assert with_tracking("import mlflow\nimport mlflow.data\nfrom mlflow.entities import "
                         "Metric\nmlflow.log_metric('mlflow', 1)\n") == (
        "import tracking as mlflow\nimport tracking.data\nfrom tracking.entities import "
        "Metric\nmlflow.log_metric('mlflow', 1)\n")


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_an_mlflow_script_runs_with_the_import_changed(script, python, root):
    source = with_tracking(script.read_text())
    assert "import mlflow" not in source
    done = python(source, env={"MLFLOW_TRACKING_URI": str(root)}, timeout=120)
    assert done.stdout.split()[-2] == "ok", done.stdout
    assert (root / "tracking.db").is_file()  # it logged to $MLFLOW_TRACKING_URI


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_the_script_is_a_real_mlflow_script(script, python, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    done = python(script.read_text(), env={"MLFLOW_TRACKING_URI": uri}, timeout=240)
    assert done.stdout.split()[-2] == "ok", done.stdout
