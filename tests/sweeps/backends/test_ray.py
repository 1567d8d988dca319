"""The Ray backend: the local-backend assertions on a loopback Ray runtime (fast), then
real `ray start` clusters on loopback: two nodes, a worker killed, a node stopped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

import sweeps
from sweeps.backends.ray import RayBackend, capacity, check_fits, ray_request
from sweeps.compat.wandb_config import WandbFormatWarning
from sweeps.config import parse_config
from sweeps.coordinator import Coordinator
from sweeps.errors import SweepError
from tracking import Client

pytestmark = [pytest.mark.ray, pytest.mark.timeout(240)]

HERE = Path(__file__).resolve().parent


def config(objective: str, *, trials: int = 6, workers: int = 2, fixed: dict | None = None,
           **execution: Any) -> dict:
    return {"experiment": "ray-test", "objective": f"ray_objectives:{objective}",
            "metric": {"name": "loss" if objective == "train" else "x", "goal": "minimize"},
            "space": {"x": {"type": "float", "low": -3.0, "high": 3.0}, **(fixed or {})},
            "sampler": {"type": "random", "seed": 1},
            "budget": {"trials": trials},
            "execution": {"backend": "ray", "workers": workers, **execution},
            "report": False}


@pytest.fixture
def in_objectives(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(HERE)  # the coordinator's folder: objectives import from here


def run_sweep(cfg: dict, tmp_path: Path, **kwargs: Any) -> sweeps.SweepResult:
    return sweeps.run(cfg, tracking_uri=tmp_path / "runs", report=False, **kwargs)


def counts(result: sweeps.SweepResult) -> dict[str, int]:
    sweep = Client(result.tracking_uri).get_run(result.sweep_run_id)
    return json.loads(sweep.data.tags["sweep.counts"])


# -- pure helpers ------------------------------------------------------------------------------


def test_request_and_capacity() -> None:
    request = ray_request({"cpu": 2, "gpu": 0.5, "memory": 4e9, "side": 1})
    assert request == {"CPU": 2.0, "GPU": 0.5, "memory": 4e9, "side": 1.0}
    nodes = [{"CPU": 4.0, "GPU": 1.0, "memory": 16e9, "side": 1.0}, {"CPU": 8.0, "GPU": 2.0}]
    assert capacity(nodes, request) == 1
    assert capacity(nodes, ray_request({"gpu": 0.5, "cpu": 0.25})) == 6
    with pytest.raises(SweepError, match=r"execution\.resources\.gpu: each trial asks for 3"):
        check_fits(nodes, ray_request({"gpu": 3}))
    with pytest.raises(SweepError, match="no single node"):
        check_fits(nodes, ray_request({"gpu": 2, "side": 1}))


# -- on the session's loopback runtime ---------------------------------------------------------


@pytest.mark.usefixtures("ray_runtime", "in_objectives")
class TestLocalRuntime:
    def test_structure_pruning_and_artifacts(self, tmp_path: Path) -> None:
        cfg = config("train", trials=8, workers=2)
        cfg["pruner"] = {"type": "median", "n_warmup_steps": 1, "n_startup_trials": 2}
        result = run_sweep(cfg, tmp_path)
        trials = result.trials
        assert result.status == "FINISHED"
        assert len(trials) == 8 and set(trials["status"]) <= {"FINISHED", "PRUNED"}
        assert (trials["status"] == "FINISHED").sum() >= 2
        assert (trials["status"] == "PRUNED").sum() >= 1
        assert set(trials["tags.trial.worker"]) == {"ray-0", "ray-1"}
        assert trials["tags.trial.node_id"].str.len().min() > 20
        assert set(trials["params.extra"]) == {"yes"} and set(trials["tags.where"]) == {"head"}
        client = Client(result.tracking_uri)
        histories: dict[str, list] = {}
        for run_id, metric in client.store.get_metric_histories(list(trials["run_id"])):
            histories.setdefault(run_id, []).append(metric)
        for _, row in trials.iterrows():
            run = client.get_run(row["run_id"])
            assert run.data.note and run.data.note.startswith("x was")
            steps = [m.step for m in histories[row["run_id"]] if m.key == "loss"]
            if row["status"] == "FINISHED":
                assert steps[:5] == [0, 1, 2, 3, 4]
                files = list((client.artifact_dir(row["run_id"]) / "outputs").iterdir())
                assert len(files) == 1 and files[0].read_text().startswith("x=")
            else:  # pruned at some step, possibly the last
                assert steps == list(range(len(steps))) and 1 <= len(steps) <= 5
        assert counts(result)["complete"] == (trials["status"] == "FINISHED").sum()

    def test_killed_worker_fails_the_trial_and_retries(self, tmp_path: Path) -> None:
        result = run_sweep(config("flaky", trials=4, workers=2, retries=1), tmp_path)
        trials = result.trials
        assert result.status == "FINISHED"
        assert counts(result) == {"complete": 3, "pruned": 0, "failed": 1}
        died = trials[(trials["tags.trial.number"] == "1") & (trials["status"] == "FAILED")]
        assert len(died) == 1
        assert died["tags.trial.error"].iloc[0].startswith("worker process died during")
        assert "tags.trial.lost" not in trials or died["tags.trial.lost"].isna().all()
        raised = trials[trials["tags.trial.number"] == "2"]
        assert list(raised["status"]) == ["FAILED", "FAILED"]
        assert set(raised["tags.trial.error"]) == {"ValueError: bad trial"}
        assert len(trials) == 6

    def test_timeout_cancels_the_trial(self, tmp_path: Path) -> None:
        started = time.monotonic()
        result = run_sweep(config("sleepy", trials=2, workers=2, trial_timeout="1s",
                                  fixed={"sleep": 30}), tmp_path)
        assert time.monotonic() - started < 25
        assert list(result.trials["status"]) == ["FAILED", "FAILED"]
        assert set(result.trials["tags.trial.error"]) == {"timed out after 1s"}

    def test_artifact_size_cap(self, tmp_path: Path) -> None:
        cfg = config("big_artifact", trials=1, workers=1)
        cfg["execution"]["max_artifact_bytes"] = 1000
        parsed = parse_config(cfg)
        client = Client(tmp_path / "runs")
        sweep_id = Coordinator(parsed, client=client, backend=RayBackend(parsed.execution)).run()
        (trial,) = client.search_runs([client.get_run(sweep_id).info.experiment_id],
                                      f"attributes.parent_run_id = '{sweep_id}'")
        assert trial.info.status.value == "FAILED"
        assert "larger than execution.max_artifact_bytes (1000 bytes)" in \
            trial.data.tags["trial.error"]

    def test_gpu_shares_run_two_at_a_time(self, tmp_path: Path) -> None:
        cfg = config("sleepy", trials=4, workers=4, resources={"cpu": 0.25, "gpu": 0.5})
        result = run_sweep(cfg, tmp_path)
        trials = result.trials
        assert list(trials["status"]) == ["FINISHED"] * 4
        assert set(trials["tags.trial.gpu_ids"]) == {"0"} and set(trials["tags.cuda"]) == {"0"}
        spans = [tuple(map(float, s.split(","))) for s in trials["tags.span"]]
        overlap = max(sum(1 for a, b in spans if a <= t < b) for t, _ in spans)
        assert overlap == 2

    def test_a_wandb_sweep_file_and_its_program_run_on_ray(self, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
        repo = HERE.parents[2]
        monkeypatch.chdir(repo)  # the file's `program:` is relative to the project folder
        with warnings.catch_warnings():  # without torch: "bayes runs optuna's TPE"
            warnings.simplefilter("ignore", WandbFormatWarning)
            result = sweeps.run("examples/wandb/sweep.yaml", backend="ray", trials=3,
                                workers=2, tracking_uri=tmp_path / "runs", report=False)
        trials = result.trials
        assert result.experiment == "wandb-demo" and len(trials) == 3
        assert set(trials["status"]) <= {"FINISHED", "PRUNED"}, trials["tags.trial.error"]
        assert set(trials["tags.trial.node_id"].str.len()) != {0}  # ran on Ray's workers
        assert trials["metrics.val_loss"].notna().all()

    def test_request_no_node_holds_is_an_error_before_any_trial(self, tmp_path: Path) -> None:
        with pytest.raises(SweepError, match=r"execution\.resources\.gpu: each trial asks "
                                             r"for 2.*most on one node is 1"):
            run_sweep(config("sleepy", resources={"gpu": 2}), tmp_path)
        with pytest.raises(SweepError, match=r"execution\.resources\.tpu_pod"):
            run_sweep(config("sleepy", resources={"tpu_pod": 1}), tmp_path)
        client = Client(tmp_path / "runs")
        experiment = client.get_or_create_experiment("ray-test")
        trials = client.search_runs([experiment], "tags.`sweep.role` = 'trial'")
        assert len(trials) == 0


# -- a sweep that starts its own runtime, and real clusters (subprocesses) ---------------------


SWEEP = textwrap.dedent("""
    import json, sys, sweeps, ray
    cfg, root, address = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3] or None
    result = sweeps.run(cfg, tracking_uri=root, report=False, address=address)
    print("RESULT", json.dumps({"status": result.status, "initialized": ray.is_initialized(),
        "trials": json.loads(result.trials.to_json(orient="records"))}))
""")


def sweep_in_subprocess(cfg: dict, root: Path, address: str | None, env: dict[str, str],
                        timeout: float = 180) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", SWEEP, json.dumps(cfg), str(root),
                             address or ""], cwd=HERE, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def result_of(process: subprocess.Popen, timeout: float = 180) -> tuple[dict, str]:
    out, err = process.communicate(timeout=timeout)
    lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
    assert process.returncode == 0 and lines, err[-3000:]
    return json.loads(lines[-1][len("RESULT "):]), err


@pytest.mark.slow
def test_own_local_runtime_is_loopback_and_shut_down(tmp_path: Path) -> None:
    cfg = config("sleepy", trials=4, fixed={"sleep": 0.1})
    data, _ = result_of(sweep_in_subprocess(cfg, tmp_path, None, dict(os.environ)))
    assert data["status"] == "FINISHED" and data["initialized"] is False
    assert [t["status"] for t in data["trials"]] == ["FINISHED"] * 4
    assert {t["tags.node_ip"] for t in data["trials"]} == {"127.0.0.1"}


@pytest.mark.slow
def test_two_node_cluster_custom_resource_and_node_loss(tmp_path: Path, ray_cluster) -> None:
    ray_cluster.start_head(num_cpus=1)
    ray_cluster.add_node("side", num_cpus=1, resources='{"side": 2}')
    env = ray_cluster.env

    # trials asking for the side node's custom resource run there only
    cfg = config("sleepy", trials=4, workers=2, resources={"cpu": 0.5, "side": 1},
                 fixed={"sleep": 0.2})
    data, err = result_of(sweep_in_subprocess(cfg, tmp_path / "a", ray_cluster.address, env))
    assert "no authentication" not in err  # the cluster has token authentication on
    assert [t["status"] for t in data["trials"]] == ["FINISHED"] * 4
    assert {t["tags.node"] for t in data["trials"]} == {"side"}
    assert {t["tags.node_ip"] for t in data["trials"]} == {"127.0.0.1"}

    # a sweep over both nodes; the side node is stopped while its second trial runs
    marks = tmp_path / "marks"
    marks.mkdir()
    cfg = config("sleepy", trials=8, workers=2, fixed={"sleep": 1.5, "marks": str(marks)})
    process = sweep_in_subprocess(cfg, tmp_path / "b", ray_cluster.address, env)
    deadline = time.monotonic() + 120
    while len(list(marks.glob("side-*"))) < 2 and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1][-3000:]
        time.sleep(0.1)
    assert len(list(marks.glob("side-*"))) >= 2, "trials did not run on the side node"
    ray_cluster.stop_node("side")
    data, err = result_of(process, timeout=200)
    trials = data["trials"]
    assert data["status"] == "FINISHED"
    finished = [t for t in trials if t["status"] == "FINISHED"]
    lost = [t for t in trials if t.get("tags.trial.lost") == "true"]
    assert len(finished) == 8 and len({t["tags.trial.number"] for t in finished}) == 8
    assert len(lost) >= 1 and all(t["status"] == "FAILED" for t in lost)
    assert len(trials) == 8 + len(lost)
    assert {t["tags.node"] for t in finished} == {"head", "side"}
    assert len({t["tags.trial.node_id"] for t in trials}) == 2
