"""Test data for the UI tests: a store with a real sweep, plain runs, and hostile strings."""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import tracking
from tracking import Client

OBJECTIVE = '''
import time, os
import tracking

def objective(params, trial):
    loss = 10.0
    for step in range(4):
        loss = (params["x"] - 1.0) ** 2 + 1.0 / (step + 1)
        trial.report({"loss": loss, "acc": 1.0 / (1.0 + loss)}, step=step)
    time.sleep(float(os.environ.get("UI_TRIAL_SLEEP", "0")))
    return {"loss": loss, "acc": 1.0 / (1.0 + loss)}
'''

XSS = [
    "<script>window.__xss=1</script>",
    "<img src=x onerror=\"window.__xss=1\">",
    "\"><svg onload=window.__xss=1>",
    "</script><script>window.__xss=1</script>",
    "javascript:window.__xss=1",
    "'-alert(1)-'",
    "{{7*7}} ${7*7}",
    "<!--<script>",
    "\u202eevil\u2028line",
]
NOTE = ("**bold** <script>window.__xss=1</script> <img src=x onerror=window.__xss=1> "
        "[click](javascript:window.__xss=1) [ok](https://example.org) "
        "<iframe srcdoc='<script>parent.__xss=1</script>'></iframe>")
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478"
    "9c6360f8cfc0f01f0005000201e2213bc40000000049454e44ae426082")


def sweep_config(experiment: str, trials: int, workers: int = 2) -> dict:
    return {
        "experiment": experiment,
        "objective": "ui_objective:objective",
        "metric": {"name": "loss", "goal": "minimize"},
        "space": {"x": {"type": "float", "low": 0.0, "high": 2.0},
                  "model": {"type": "categorical", "choices": ["rf", "gb"]}},
        "sampler": {"type": "random", "seed": 0},
        "budget": {"trials": trials},
        "execution": {"workers": workers},
        "report": False,
    }


def write_objective(folder: Path) -> None:
    (folder / "ui_objective.py").write_text(OBJECTIVE)


def build(root: Path, project: Path) -> dict[str, str]:
    """Fill `root`; returns ids the tests look for."""
    import sweeps

    write_objective(project)
    cwd = os.getcwd()
    os.chdir(project)
    try:
        result = sweeps.run(sweep_config("demo", trials=5), tracking_uri=root, report=False)
    finally:
        os.chdir(cwd)
    client = Client(root)
    demo = client.get_experiment_by_name("demo").experiment_id
    ids = {"demo": demo, "sweep": result.sweep_run_id}
    for i in range(3):  # plain top-level runs next to the sweep
        run = client.create_run(demo, run_name=f"baseline-{i}", tags={"team": "a" if i else "b"})
        rid = run.info.run_id
        client.log_param(rid, "model", "rf" if i < 2 else "gb")
        client.log_param(rid, "x", i * 0.5)
        for step in range(5):
            client.log_metric(rid, "loss", 2.0 / (step + 1) + i, step=step)
        client.log_metric(rid, "acc", 0.5 + 0.1 * i)
        client.set_terminated(rid)
        ids[f"baseline{i}"] = rid
    rid = ids["baseline0"]
    client.log_text(rid, "hello artifact\n", "notes/hello.txt")
    client.log_dict(rid, {"a": 1, "b": [1, 2]}, "config/params.json")
    client.log_text(rid, "a,b\n1,2\n3,4\n", "tables/data.csv")
    client.log_text(rid, "<script>window.__xss=1</script><h1>html</h1>", "page.html")
    client.log_text(rid, "<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "pic.svg")
    artifacts = client.artifact_dir(rid)
    (artifacts / "plots").mkdir(exist_ok=True)
    (artifacts / "plots" / "dot.png").write_bytes(PNG)
    ids["artifacts_dir"] = str(artifacts)

    hostile = client.create_experiment(XSS[1])
    ids["hostile"] = hostile
    run = client.create_run(hostile, run_name=XSS[0], tags={XSS[2]: XSS[3], "t": XSS[1]})
    rid = run.info.run_id
    for i, payload in enumerate(XSS):
        client.log_param(rid, f"p{i}<b>", payload)
        client.log_metric(rid, f"m{i}<img src=x onerror=window.__xss=1>", float(i), step=0)
        client.log_metric(rid, f"m{i}<img src=x onerror=window.__xss=1>", float(i) + 1, step=1)
    client.log_metric(rid, "nan_metric", math.nan)
    client.log_metric(rid, "inf_metric", math.inf)
    client.set_note(rid, NOTE)
    client.log_text(rid, "x", "<img src=x onerror=window.__xss=1>.txt")
    client.set_terminated(rid)
    ids["hostile_run"] = rid
    second = client.create_run(hostile, run_name="plain")
    client.log_param(second.info.run_id, "p0<b>", "other")
    client.set_terminated(second.info.run_id)
    ids["hostile_run2"] = second.info.run_id
    client.flush()
    return ids


def plant_outside(root: Path, ids: dict[str, str]) -> Path:
    """A secret next to the store and symlinks to it inside a run's artifact folder."""
    secret = root.parent / "SECRET.txt"
    secret.write_text("TOP-SECRET-CANARY")
    folder = Path(ids["artifacts_dir"])
    os.symlink(secret, folder / "link.txt")
    os.symlink(root.parent, folder / "linkdir")
    shutil.copy(secret, root / "inside-root-canary.txt")
    return secret


if __name__ == "__main__":  # python tests/sweeps/ui/ui_data.py ROOT PROJECT
    import sys
    print(build(Path(sys.argv[1]), Path(sys.argv[2])))
    tracking.end_run()
